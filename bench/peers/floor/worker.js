// The floor: a Worker that answers every request with a constant JSON document, served by the
// same wrangler dev/workerd. Its CPU per request is what any Worker pays here before doing
// anything (runtime, local-mode plumbing); `make bench` reports it beside the others.
const body = JSON.stringify({ issuer: 'http://127.0.0.1:8791', keys: [] });
export default {
  fetch() {
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  },
};
