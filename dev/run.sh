#!/usr/bin/env bash
# Runs the demo upstream IdPs, the social login stand-ins and keyedge (wrangler dev, local KV
# and Durable Objects) until Ctrl-C. State persists in .wrangler/state between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
IDP_PORT=${IDP_PORT:-9090}
PARTNER_PORT=${PARTNER_PORT:-9091}
STANDINS_PORT=${STANDINS_PORT:-9092}
PORT=${PORT:-8787}
for p in "$IDP_PORT" "$PARTNER_PORT" "$STANDINS_PORT" "$PORT"; do
  if (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "port $p is in use: stop what runs there (another make dev?) and try again" >&2
    exit 1
  fi
done
node dev/demo-idp.mjs &
IDP=$!
IDP_ALIAS=partner IDP_NAME="Partner IdP" IDP_PORT=$PARTNER_PORT IDP_CLIENT_AUTH=private_key_jwt node dev/demo-idp.mjs &
PARTNER=$!
# The social login presets (GitHub, Google, …) each log in through a local stand-in.
STANDINS_PORT=$STANDINS_PORT node dev/social-standins.mjs &
STANDINS=$!
# The SAML IdP (SimpleSAMLphp on port 8082) imports keyedge's SP descriptor
# (/broker/corp/endpoint/descriptor) into its sp.xml once keyedge answers.
dev/saml-idp/simplesamlphp.sh start >/dev/null
node -e '
  const url = process.argv[1];
  const tryOnce = async (n) => {
    try {
      const r = await fetch(url);
      if (r.ok) return require("fs").writeFileSync("build/saml-idp/sp.xml", await r.text());
    } catch {}
    if (n > 0) setTimeout(() => tryOnce(n - 1), 1000);
  };
  tryOnce(180);' "http://localhost:$PORT/broker/corp/endpoint/descriptor" &
trap 'kill $IDP $PARTNER $STANDINS 2>/dev/null || true; dev/saml-idp/simplesamlphp.sh stop >/dev/null 2>&1 || true' EXIT
cat <<MSG

  keyedge is starting at http://localhost:$PORT/
  Open it, click "Sign in", choose "Demo IdP" (or "Partner IdP") and sign in as
      alice / wonderland     (or bob / builder)
  On the account page, "Link Partner IdP" links the second upstream account.
  "Corp SSO (SAML)" signs in at SimpleSAMLphp (port 8082) as alice / alicepass (or bob / bobpass).
  The GitHub, Google, … buttons go to local stand-ins of those providers
  (dev/social-standins.mjs on port $STANDINS_PORT): pick a test user or "Deny" there.
  The example site (examples/static-site) is behind keyedge's gate: / is public,
  /docs/ needs a sign-in, /staff/ the staff role (alice has it, bob does not).
  The demo app client is "demo-app"; its secret is DEMO_APP_SECRET in .dev.vars.
  Stop with Ctrl-C.

MSG
wrangler dev --config dev/wrangler.toml --port "$PORT" --persist-to .wrangler/state --show-interactive-dev-session=false
