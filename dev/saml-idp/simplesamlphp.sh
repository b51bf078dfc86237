#!/usr/bin/env bash
# SimpleSAMLphp (Debian's package) as a SAML 2.0 IdP on loopback, for keyedge's end-to-end tests.
#
#   dev/saml-idp/simplesamlphp.sh start|stop|status|restart
#
# Environment:
#   SAML_IDP_DIR     state directory (default build/saml-idp, relative to the repository root)
#   SAML_IDP_PORT    port on 127.0.0.1 (default 8082)
#   SP_METADATA_URL  if set at `start`, SP metadata is fetched from this URL on every request
#                    (e.g. http://localhost:8787/broker/corp/endpoint/descriptor) instead of
#                    being read from $SAML_IDP_DIR/sp.xml (also read on every request).
#
# Installs nothing: run dev/saml-idp/install.sh first. Idempotent: `start` on a running IdP
# (same port and SP metadata source) does nothing; a changed source restarts it.
# Users: alice/alicepass, bob/bobpass. Both Response and Assertion are signed (RSA-SHA256,
# exclusive c14n) with a 2048-bit key made once in $SAML_IDP_DIR/cert/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${SAML_IDP_DIR:-build/saml-idp}"
case "$DIR" in /*) ;; *) DIR="$ROOT/$DIR" ;; esac
PORT="${SAML_IDP_PORT:-8082}"
SSP=/usr/share/simplesamlphp
BASE="http://127.0.0.1:$PORT"
METADATA_URL="$BASE/saml2/idp/metadata.php"
PIDFILE="$DIR/php.pid"
LOG="$DIR/php-server.log"
CERT="$DIR/cert/idp.pem"

die() { echo "simplesamlphp: $*" >&2; exit 1; }

running() {
  [ -f "$PIDFILE" ] || return 1
  local pid; pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Only our own server: the pid must still be a php process.
  grep -q php "/proc/$pid/cmdline" 2>/dev/null
}

describe() {
  echo "SAML_IDP_METADATA_URL=$METADATA_URL"
  echo "SAML_IDP_ENTITY_ID=$METADATA_URL"
  echo "SAML_IDP_SSO_URL=$BASE/saml2/idp/SSOService.php"
  echo "SAML_IDP_SLO_URL=$BASE/saml2/idp/SingleLogoutService.php"
  echo "SAML_IDP_CERT=$CERT"
  echo "SAML_IDP_SP_METADATA=$(cat "$DIR/sp-source" 2>/dev/null || echo "$DIR/sp.xml")"
  echo "SAML_IDP_LOG=$LOG"
}

php_str() { # a PHP single-quoted string literal
  local s="${1//\\/\\\\}"; s="${s//\'/\\\'}"; printf "'%s'" "$s"
}

write_config() {
  command -v php >/dev/null && [ -d "$SSP/www" ] && command -v openssl >/dev/null \
    || die "SimpleSAMLphp, php or openssl missing: run dev/saml-idp/install.sh"
  mkdir -p "$DIR"/{config,cert,metadata,log,data,tmp}

  if [ ! -s "$DIR/cert/idp.key" ] || [ ! -s "$CERT" ]; then
    openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 \
      -subj "/CN=keyedge-test-simplesamlphp" \
      -keyout "$DIR/cert/idp.key" -out "$CERT" 2>/dev/null
    chmod 600 "$DIR/cert/idp.key"
  fi
  # Made once too, so sessions and persistent NameIDs survive restarts.
  [ -s "$DIR/secretsalt" ] || openssl rand -hex 24 >"$DIR/secretsalt"
  local salt; salt="$(cat "$DIR/secretsalt")"

  local source
  if [ -n "${SP_METADATA_URL:-}" ]; then
    source="['type' => 'xml', 'url' => $(php_str "$SP_METADATA_URL")]"
    printf '%s\n' "$SP_METADATA_URL" >"$DIR/sp-source"
  else
    source="['type' => 'xml', 'file' => $(php_str "$DIR/sp.xml")]"
    printf '%s\n' "$DIR/sp.xml" >"$DIR/sp-source"
    # An empty descriptor set until a test writes the SP's metadata.
    [ -f "$DIR/sp.xml" ] || printf '%s\n' \
      '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>' >"$DIR/sp.xml"
  fi

  cat >"$DIR/config/config.php" <<PHP
<?php
// Written by dev/saml-idp/simplesamlphp.sh; rewritten on every start.
\$config = [
    'baseurlpath' => $(php_str "$BASE/"),
    'certdir' => $(php_str "$DIR/cert/"),
    'metadatadir' => $(php_str "$DIR/metadata/"),
    'loggingdir' => $(php_str "$DIR/log/"),
    'datadir' => $(php_str "$DIR/data/"),
    'tempdir' => $(php_str "$DIR/tmp"),
    'technicalcontact_name' => 'keyedge tests',
    'technicalcontact_email' => 'test@example.org',
    'timezone' => 'UTC',
    'secretsalt' => $(php_str "$salt"),
    'auth.adminpassword' => $(php_str "admin-$salt"),
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'debug' => ['saml' => true, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true],
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.savepath' => $(php_str "$DIR/tmp"),
    'store.type' => 'phpsession',
    'metadata.sources' => [
        ['type' => 'flatfile'],
        $source,
    ],
    // Where initSLO.php/SSO may send the browser afterwards (a RelayState that is a URL):
    // keyedge under wrangler dev. Other RelayStates are opaque and not checked.
    'trusted.url.domains' => ['localhost', 'localhost:8787', '127.0.0.1', '127.0.0.1:8787'],
    'language.default' => 'en',
    'language.available' => ['en'],
];
PHP

  cat >"$DIR/config/authsources.php" <<'PHP'
<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'alice:alicepass' => [
            'uid' => ['alice'],
            'mail' => ['alice@example.org'],
            'givenName' => ['Alice'],
            'sn' => ['Anderson'],
            'eduPersonAffiliation' => ['member', 'staff'],
        ],
        'bob:bobpass' => [
            'uid' => ['bob'],
            'mail' => ['bob@example.org'],
            'givenName' => ['Bob'],
            'sn' => ['Brown'],
            'eduPersonAffiliation' => ['member', 'student'],
        ],
    ],
];
PHP

  cat >"$DIR/metadata/saml20-idp-hosted.php" <<'PHP'
<?php
$metadata['__DYNAMIC:1__'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.pem',
    'auth' => 'example-userpass',
    // Both bindings are accepted anyway; this makes the metadata say so.
    'SingleSignOnServiceBinding' => [
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
    ],
    'SingleLogoutServiceBinding' => [
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
    ],
    // Both the Response and the Assertion are signed, RSA-SHA256 (these are also the defaults).
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    // LogoutRequest/LogoutResponse are signed too (SimpleSAMLphp's default is unsigned), as
    // most production IdPs do; by Redirect that is the query-string signature (SigAlg, Signature).
    'sign.logout' => true,
    // Advertised formats; the first is used for an SP whose metadata names none.
    'NameIDFormat' => [
        'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
        'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
    ],
    'simplesaml.nameidattribute' => 'mail',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    // A NameID of every format is prepared, so the format asked in the AuthnRequest's
    // NameIDPolicy is honoured; without one, the SP metadata's first NameIDFormat is used.
    'authproc' => [
        10 => ['class' => 'saml:TransientNameID'],
        11 => ['class' => 'saml:PersistentNameID', 'attribute' => 'uid'],
        12 => ['class' => 'saml:AttributeNameID', 'attribute' => 'mail',
               'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
        13 => ['class' => 'saml:AttributeNameID', 'attribute' => 'uid',
               'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
        // The assertion is encrypted (EncryptedAssertion, RSA-OAEP key transport, AES-128-CBC:
        // SimpleSAMLphp 1.19 offers no GCM with a certificate) for an SP whose metadata publishes
        // an encryption key (a KeyDescriptor use="encryption", or one without use), as
        // Shibboleth's IdP does by default; an SP with a signing key only gets it in the clear.
        // (XML metadata cannot say 'assertion.encryption'; the Response stays signed.)
        20 => ['class' => 'core:PHP', 'code' => '
            foreach ($state["SPMetadata"]["keys"] ?? [] as $key) {
                if (!empty($key["encryption"])) {
                    $state["SPMetadata"]["assertion.encryption"] = true;
                }
            }
        '],
    ],
];
PHP
}

start() {
  local want; want="${SP_METADATA_URL:-$DIR/sp.xml}"
  if running; then
    if [ "$(cat "$DIR/sp-source" 2>/dev/null)" = "$want" ]; then
      describe; return 0
    fi
    stop >/dev/null
  fi
  write_config
  # Something else on the port (a stale server of another directory) is an error, not ours to kill.
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT is already in use by another process"
  fi
  SIMPLESAMLPHP_CONFIG_DIR="$DIR/config" setsid php -S "127.0.0.1:$PORT" -t "$SSP/www" \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$METADATA_URL" 2>/dev/null; then
      describe; return 0
    fi
    running || break
    sleep 0.1
  done
  tail -n 20 "$LOG" >&2 || true
  stop >/dev/null || true
  die "did not come up on $BASE (log: $LOG)"
}

stop() {
  if running; then
    local pid; pid="$(cat "$PIDFILE")"
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    echo "simplesamlphp: stopped (pid $pid)"
  else
    echo "simplesamlphp: not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  if running && curl -fsS -o /dev/null "$METADATA_URL" 2>/dev/null; then
    echo "simplesamlphp: running (pid $(cat "$PIDFILE")) on $BASE"
    describe
  else
    echo "simplesamlphp: not running"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop >/dev/null; start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
