// Peer: an OpenAuth issuer as a Worker (KV storage), for `make bench` only. Its code
// provider's UI is replaced by one that answers with the pending state as JSON (including
// the one-time code), so a script can log in without a browser.
import { issuer } from '@openauthjs/openauth';
import { CloudflareStorage } from '@openauthjs/openauth/storage/cloudflare';
import { CodeProvider } from '@openauthjs/openauth/provider/code';
import { createSubjects } from '@openauthjs/openauth/subject';
import { object, string } from 'valibot';

const subjects = createSubjects({ user: object({ id: string() }) });

// OpenAuth 0.4.3 writes some items with a TTL that rounds to 59 s, which KV refuses (its
// minimum is 60 s); raise such expiries so the peer's logins do not fail at random.
const atLeastOneMinute = (storage) => ({
  ...storage,
  set: (key, value, expiry) =>
    storage.set(key, value, expiry && new Date(Math.max(expiry.getTime(), Date.now() + 61_000))),
});

let app;
export default {
  fetch(request, env, ctx) {
    app ??= issuer({
      storage: atLeastOneMinute(CloudflareStorage({ namespace: env.AUTH_STORAGE })),
      subjects,
      providers: {
        code: CodeProvider({
          length: 6,
          sendCode: async () => {},
          request: async (_req, state) => Response.json(state),
        }),
      },
      success: async (ctx, value) => ctx.subject('user', { id: value.claims.email }),
    });
    return app.fetch(request, env, ctx);
  },
};
