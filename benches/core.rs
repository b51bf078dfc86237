//! Native micro-benchmarks of the hot core paths (`make bench` runs them briefly): signing an
//! ID token per algorithm, verifying an upstream ID token, validating an authorization
//! request. These time the Rust code on the host; the Worker's own costs come from
//! `bench/bench.mjs` under workerd (where RS256 goes through WebCrypto instead).

use criterion::{criterion_group, criterion_main, Criterion};
use futures::executor::block_on;
use jwt_compact::{AlgorithmExt, Claims, Header};
use keyedge::core::config::{Config, ProviderKind};
use keyedge::core::jose::{Alg, Jwks, Keyring, SigningKey};
use keyedge::core::op::authorize::AuthorizationRequest;
use keyedge::core::upstream::oidc::verify_id_token;
use keyedge::core::web::Params;
use serde_json::json;

const CONFIG: &str = r#"
issuer = "https://keyedge.test"
[[clients]]
client_id = "app"
client_secret_env = "APP_SECRET"
redirect_uris = ["https://app.test/cb"]
[[identity_providers]]
alias = "up"
kind = "oidc"
issuer = "https://idp.test"
client_id = "keyedge-at-idp"
client_secret_env = "IDP_SECRET"
"#;

fn secrets(name: &str) -> Option<String> {
    match name {
        "SIGNING_KEY" => Some(include_str!("../tests/fixtures/keyedge-test-key.pem").to_owned()),
        "ENCRYPTION_KEY" => Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        _ => Some("secret".to_owned()),
    }
}

fn key(pem: &str) -> SigningKey {
    SigningKey::from_pem(pem).expect("fixture key")
}

fn signing(c: &mut Criterion) {
    let ring = Keyring::new(
        vec![
            key(include_str!("../tests/fixtures/keyedge-test-key.pem")),
            key(include_str!("../tests/fixtures/es256-test-key.pem")),
            key(include_str!("../tests/fixtures/eddsa-test-key.pem")),
        ],
        vec![],
    );
    let claims = json!({"iss": "https://keyedge.test", "sub": "user-1", "aud": "app", "azp": "app", "auth_time": 1, "sid": "s", "nonce": "n"});
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        c.bench_function(&format!("sign ID token {}", alg.name()), |b| {
            b.iter(|| block_on(ring.sign(None, alg, None, &claims, 1_800_000_000, 300)))
        });
    }
}

/// What an isolate does once per signing key before its first request (the Worker's cold
/// start): reading the PEM key from its secret.
fn key_reading(c: &mut Criterion) {
    for (alg, pem) in [
        ("RS256", include_str!("../tests/fixtures/keyedge-test-key.pem")),
        ("ES256", include_str!("../tests/fixtures/es256-test-key.pem")),
        ("EdDSA", include_str!("../tests/fixtures/eddsa-test-key.pem")),
    ] {
        c.bench_function(&format!("start-up: read signing key {alg}"), |b| b.iter(|| key(pem)));
    }
    // What a Worker's first request does before its route: the configuration read and checked,
    // keys and certificates read, the app built (natively from TOML; the Worker reads the same
    // configuration as JSON). The demo configuration: every IdP kind, SAML, three signing keys.
    let dev = |name: &str| match name {
        "SIGNING_KEY" => Some(include_str!("../tests/fixtures/keyedge-test-key.pem").to_owned()),
        "SIGNING_KEY_ES256" | "SOCIAL_APPLE_KEY" => {
            Some(include_str!("../tests/fixtures/es256-test-key.pem").to_owned())
        }
        "SIGNING_KEY_EDDSA" => Some(include_str!("../tests/fixtures/eddsa-test-key.pem").to_owned()),
        "ENCRYPTION_KEY" => Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        "SAML_SP_KEY" => Some(include_str!("../tests/fixtures/saml-harness/idp-key.pem").to_owned()),
        "SAML_SP_CERT" => Some(include_str!("../tests/fixtures/saml-harness/idp-cert.pem").to_owned()),
        _ => Some("secret".to_owned()),
    };
    let text = include_str!("../dev/keyedge.dev.toml");
    keyedge::core::Keyedge::from_config_text(text, &dev).expect("the demo configuration");
    c.bench_function("start-up: build the app from the demo configuration", |b| {
        b.iter(|| keyedge::core::Keyedge::from_config_text(text, &dev))
    });
}

fn upstream_verification(c: &mut Criterion) {
    let config = Config::load(CONFIG, &secrets).expect("config");
    let ProviderKind::Oidc(provider) = &config.identity_providers[0].kind else {
        panic!("the bench config's provider is OIDC");
    };
    let upstream = jwt_compact::alg::RsaPrivateKey::from_pkcs8_pem_for_bench();
    let jwk = serde_json::to_value(jwt_compact::jwk::JsonWebKey::from(&upstream.to_public_key())).expect("jwk");
    let mut entry = jwk;
    entry["kid"] = json!("k1");
    let jwks = Jwks::parse(&json!({ "keys": [entry] }).to_string()).expect("jwks");
    let claims = json!({"iss": "https://idp.test", "sub": "u1", "aud": "keyedge-at-idp", "iat": 1_800_000_000, "exp": 1_800_000_300, "nonce": "n"});
    let token = jwt_compact::alg::Rsa::rs256()
        .token(&Header::empty().with_key_id("k1"), &Claims::new(claims), &upstream)
        .expect("token");
    c.bench_function("verify upstream ID token RS256", |b| {
        b.iter(|| verify_id_token(provider, &jwks, &token, "n", 1_800_000_000).expect("valid"))
    });
}

fn authorize_validation(c: &mut Criterion) {
    let config = Config::load(CONFIG, &secrets).expect("config");
    let query = "client_id=app&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid+email+profile&state=abc&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    c.bench_function("validate authorization request", |b| {
        b.iter(|| {
            let params = Params::parse(query);
            AuthorizationRequest::validate(&config, &params).is_ok()
        })
    });
}

trait FromFixture {
    fn from_pkcs8_pem_for_bench() -> Self;
}

impl FromFixture for jwt_compact::alg::RsaPrivateKey {
    fn from_pkcs8_pem_for_bench() -> Self {
        use rsa::pkcs8::DecodePrivateKey;
        Self::from_pkcs8_pem(include_str!("../tests/fixtures/upstream-test-key.pem")).expect("fixture key")
    }
}

criterion_group!(benches, signing, key_reading, upstream_verification, authorize_validation);
criterion_main!(benches);
