//! PKCE (RFC 7636) and keyedge's own signing key.

use futures::executor::block_on;
use keyedge::core::jose::{Alg, KeyError, Keyring, SigningKey};
use keyedge::core::op::token::check_pkce;

/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[test]
fn rfc7636_appendix_b_vector_verifies() {
    assert!(check_pkce(Some(CHALLENGE), Some(VERIFIER)).is_ok());
}

#[test]
fn rfc7636_4_6_mismatch_or_missing_verifier_is_invalid_grant() {
    assert_eq!(
        check_pkce(Some(CHALLENGE), Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX")).unwrap_err().code,
        "invalid_grant"
    );
    assert_eq!(check_pkce(Some(CHALLENGE), None).unwrap_err().code, "invalid_grant");
    // 42 characters is below the minimum even if it hashed right.
    assert_eq!(check_pkce(Some(CHALLENGE), Some(&VERIFIER[..42])).unwrap_err().code, "invalid_grant");
}

#[test]
fn rfc9700_2_1_1_verifier_without_challenge_is_refused() {
    assert_eq!(check_pkce(None, Some(VERIFIER)).unwrap_err().code, "invalid_grant");
    assert!(check_pkce(None, None).is_ok());
}

fn key(pem: &str) -> SigningKey {
    SigningKey::from_pem(pem).unwrap()
}

const RSA: &str = include_str!("../fixtures/keyedge-test-key.pem");
const RSA_NEXT: &str = include_str!("../fixtures/keyedge-next-test-key.pem");
const ES256: &str = include_str!("../fixtures/es256-test-key.pem");
const EDDSA: &str = include_str!("../fixtures/eddsa-test-key.pem");

#[test]
fn jwks_publishes_only_public_parts_with_thumbprint_kids() {
    let ring = Keyring::new(vec![key(RSA), key(ES256), key(EDDSA)], vec![key(RSA_NEXT)]);
    let jwks: serde_json::Value = serde_json::from_str(&ring.jwks_json()).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4);
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["RS256", "ES256", "EdDSA", "RS256"]);
    for k in keys {
        assert!(k["kid"].as_str().is_some_and(|kid| kid.len() == 43), "RFC 7638 SHA-256 thumbprint");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "private member {private} published");
        }
    }
    assert_eq!(keys[0]["kid"], key(RSA).kid(), "kid is stable across restarts");
}

/// An Ed25519 key's `kid` is the RFC 7638 thumbprint of its public key (RFC 8037 §2: the
/// members `crv`, `kty`, `x` in that order), though that public half is now computed only when
/// first needed (issue 20: not on an isolate's first request).
#[test]
fn rfc8037_eddsa_kid_is_the_thumbprint_of_its_public_key() {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    use sha2::Digest;
    let public = ed25519_dalek::SigningKey::from_pkcs8_pem(EDDSA).unwrap().verifying_key();
    let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, keyedge::core::b64url(public.as_bytes()));
    let expected = keyedge::core::b64url(&sha2::Sha256::digest(members.as_bytes()));
    let ring = Keyring::new(vec![key(EDDSA)], vec![]);
    assert_eq!(ring.active(Alg::EdDSA).unwrap().kid(), expected);
    let jwks: serde_json::Value = serde_json::from_str(&ring.jwks_json()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], expected.as_str());
    assert_eq!(jwks["keys"][0]["x"], keyedge::core::b64url(public.as_bytes()));
}

/// The Worker has no Ed25519 code: the platform's crypto (WebCrypto; the harness's outside
/// signer here) computes the key's public half once, signs keyedge's EdDSA tokens and checks
/// them. The tokens are the ones Rust makes (Ed25519 is deterministic), and a changed one fails.
#[test]
fn eddsa_goes_to_the_platforms_crypto_with_the_same_tokens() {
    let ext = crate::common::ExternalRsa::default();
    let ring = Keyring::new(vec![key(EDDSA)], vec![]);
    let claims = serde_json::json!({"sub": "u"});
    let sign = |ring: &Keyring, crypto: Option<&dyn keyedge::core::ports::PlatformCrypto>| {
        block_on(ring.sign(crypto, Alg::EdDSA, Some("at+jwt"), claims.clone(), 1000, 300)).unwrap()
    };
    let outside = sign(&ring, Some(&ext));
    assert_eq!((ext.ed25519_publics.get(), ext.ed25519_calls.get()), (1, 1));
    assert_eq!(outside, sign(&Keyring::new(vec![key(EDDSA)], vec![]), None), "the same token as in Rust");
    let checked: serde_json::Value = block_on(ring.verify_own_with(Some(&ext), &outside, "at+jwt", 1100)).unwrap();
    assert_eq!(checked["sub"], "u");
    assert_eq!(ext.ed25519_verifications.get(), 1);
    let parts: Vec<&str> = outside.split('.').collect();
    let other = keyedge::core::b64url(br#"{"sub":"admin","iat":1000,"exp":1300}"#);
    let forged = format!("{}.{other}.{}", parts[0], parts[2]);
    let refused = block_on(ring.verify_own_with::<serde_json::Value>(Some(&ext), &forged, "at+jwt", 1100));
    assert_eq!(refused.unwrap_err(), keyedge::core::jose::TokenError::BadSignature);
    sign(&ring, Some(&ext));
    assert_eq!(ext.ed25519_publics.get(), 1, "the public half is computed once");
}

#[test]
fn oidcc_idtoken_signature_each_algorithm_signs_and_verifies() {
    let ring = Keyring::new(vec![key(RSA), key(ES256), key(EDDSA)], vec![]);
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        let token = block_on(ring.sign(None, alg, Some("at+jwt"), serde_json::json!({"sub": "u"}), 1000, 300)).unwrap();
        let header = jwt_compact::UntrustedToken::new(&token).unwrap();
        assert_eq!(header.algorithm(), alg.name());
        let claims: serde_json::Value = ring.verify_own(&token, "at+jwt", 1100).unwrap();
        assert_eq!(claims["sub"], "u");
    }
}

#[test]
fn own_tokens_expire_and_typ_is_checked() {
    let ring = Keyring::new(vec![key(RSA)], vec![]);
    let token =
        block_on(ring.sign(None, Alg::RS256, Some("at+jwt"), serde_json::json!({"sub": "u"}), 1000, 300)).unwrap();
    assert!(ring.verify_own::<serde_json::Value>(&token, "at+jwt", 1301).is_err());
    assert!(ring.verify_own::<serde_json::Value>(&token, "JWT", 1100).is_err(), "typ is checked");
}

#[test]
fn rotation_keeps_tokens_of_the_previous_key_valid() {
    // Before: RSA active, RSA_NEXT published as next.
    let before = Keyring::new(vec![key(RSA)], vec![key(RSA_NEXT)]);
    let old_token =
        block_on(before.sign(None, Alg::RS256, Some("at+jwt"), serde_json::json!({"sub": "u"}), 1000, 300)).unwrap();
    // After: RSA_NEXT active, RSA retired but published.
    let after = Keyring::new(vec![key(RSA_NEXT)], vec![key(RSA)]);
    assert!(after.verify_own::<serde_json::Value>(&old_token, "at+jwt", 1100).is_ok());
    let new_token =
        block_on(after.sign(None, Alg::RS256, Some("at+jwt"), serde_json::json!({"sub": "u"}), 1000, 300)).unwrap();
    assert_ne!(
        jwt_compact::UntrustedToken::new(&new_token).unwrap().header().key_id,
        jwt_compact::UntrustedToken::new(&old_token).unwrap().header().key_id
    );
    // Once the old key is dropped entirely, its tokens no longer verify.
    let later = Keyring::new(vec![key(RSA_NEXT)], vec![]);
    assert!(later.verify_own::<serde_json::Value>(&old_token, "at+jwt", 1100).is_err());
}

#[test]
fn short_or_garbage_signing_keys_are_refused() {
    assert!(matches!(
        SigningKey::from_pem(include_str!("../fixtures/short-test-key.pem")),
        Err(KeyError::TooShort(1024))
    ));
    assert!(matches!(SigningKey::from_pem("nope"), Err(KeyError::Unreadable(_))));
}

/// The WebCrypto path: jwt-compact assembles the token, an outside signer makes the RS256
/// signature over the captured signing input. The result must be an ordinary, verifiable JWT,
/// byte-identical to in-process signing (PKCS#1 v1.5 is deterministic).
#[test]
fn external_rs256_signer_produces_the_same_verifiable_token() {
    let ring = Keyring::new(vec![key(RSA)], vec![]);
    let signer = crate::common::ExternalRsa::default();
    let claims = serde_json::json!({"sub": "u", "scope": "openid"});
    let external = block_on(ring.sign(Some(&signer), Alg::RS256, Some("at+jwt"), claims.clone(), 1000, 300)).unwrap();
    let local = block_on(ring.sign(None, Alg::RS256, Some("at+jwt"), claims, 1000, 300)).unwrap();
    assert_eq!(signer.calls.get(), 1);
    assert_eq!(external, local);
    assert!(ring.verify_own::<serde_json::Value>(&external, "at+jwt", 1100).is_ok());
}

/// ES256 through the outside signer (WebCrypto's ECDSA in the Worker): the signing input is
/// captured the same way; the 64-byte `r ‖ s` signature makes a token the JWKS verifies.
#[test]
fn external_es256_signer_produces_a_verifiable_token() {
    let ring = Keyring::new(vec![key(RSA), key(ES256)], vec![]);
    let signer = crate::common::ExternalRsa::default();
    let claims = serde_json::json!({"sub": "u"});
    let token = block_on(ring.sign(Some(&signer), Alg::ES256, None, claims, 1000, 300)).unwrap();
    assert_eq!((signer.es256_calls.get(), signer.calls.get()), (1, 0));
    let header = jwt_compact::UntrustedToken::new(&token).unwrap();
    assert_eq!(header.algorithm(), "ES256");
    assert_eq!(header.signature_bytes().len(), 64);
    // Verified as a relying party would: against the published JWKS.
    let jwks = keyedge::core::jose::Jwks::parse(&ring.jwks_json()).unwrap();
    assert!(keyedge::core::jose::verify_signed::<serde_json::Value>(&token, &jwks, 1100, 0).is_ok());
    // A flipped signature byte is refused (the signature really covers the token).
    let mut bad = token.clone().into_bytes();
    let last = bad.len() - 2;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(keyedge::core::jose::verify_signed::<serde_json::Value>(&bad, &jwks, 1100, 0).is_err());
}

/// ES256 verification through the outside verifier (WebCrypto's ECDSA in the Worker), for
/// keyedge's own ES256 access tokens at /userinfo and upstream ES256 ID tokens: the same
/// verdicts as in-process verification, and the verifier was really used.
#[test]
fn external_es256_verifier_gives_the_same_verdicts() {
    let ring = Keyring::new(vec![key(RSA), key(ES256)], vec![]);
    let ext = crate::common::ExternalRsa::default();
    let token = block_on(ring.sign(Some(&ext), Alg::ES256, Some("at+jwt"), serde_json::json!({"sub": "u"}), 1000, 300))
        .unwrap();
    let own = |t: &str, now| block_on(ring.verify_own_with::<serde_json::Value>(Some(&ext), t, "at+jwt", now));
    assert_eq!(own(&token, 1100).unwrap()["sub"], "u");
    assert_eq!(ext.es256_verifications.get(), 1);
    let mut bad = token.clone().into_bytes();
    let last = bad.len() - 2;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(own(&bad, 1100).is_err());
    assert!(own(&token, 1400).is_err(), "expired");
    // Against a JWKS, as an upstream ES256 ID token is checked.
    let jwks = keyedge::core::jose::Jwks::parse(&ring.jwks_json()).unwrap();
    let upstream =
        |t: &str| block_on(keyedge::core::jose::verify_signed_with::<serde_json::Value>(Some(&ext), t, &jwks, 1100, 0));
    assert!(upstream(&token).is_ok());
    assert!(upstream(&bad).is_err());
    // good, flipped, expired (the signature is checked first), and the two against the JWKS
    assert_eq!(ext.es256_verifications.get(), 5, "every check went to the outside verifier");
}

/// The Worker has no P-256 arithmetic: the platform's crypto (WebCrypto; the harness's outside
/// signer here) derives keyedge's ES256 key's public point, once per isolate, and signs. The
/// JWKS and the `kid` are the ones Rust computes, and the `kid` is the RFC 7638 thumbprint of
/// the point, as it was when Rust read the point itself (a deploy does not rename the key).
#[test]
fn es256_public_point_comes_from_the_platform_once_with_the_same_jwks() {
    use p256::pkcs8::DecodePrivateKey;
    let ext = crate::common::ExternalRsa::default();
    let ring = Keyring::new(vec![key(ES256)], vec![]);
    block_on(ring.ready(Some(&ext))).unwrap();
    let native = Keyring::new(vec![key(ES256)], vec![]);
    assert_eq!(ring.jwks_json(), native.jwks_json(), "the same JWKS as in Rust");
    let whole = p256::ecdsa::SigningKey::from_pkcs8_pem(ES256).unwrap();
    let thumbprint = jwt_compact::jwk::JsonWebKey::from(whole.verifying_key()).thumbprint::<sha2::Sha256>();
    assert_eq!(ring.active(Alg::ES256).unwrap().kid(), keyedge::core::b64url(&thumbprint));
    for _ in 0..2 {
        block_on(ring.sign(Some(&ext), Alg::ES256, Some("at+jwt"), serde_json::json!({"sub": "u"}), 1000, 300))
            .unwrap();
    }
    assert_eq!((ext.p256_publics.get(), ext.es256_calls.get()), (1, 2), "the point is derived once");
}

/// The test world with an ES256 signing key besides its RSA one: its public point comes
/// from the platform on first use, so its JWKS is not ready until a request has made it.
fn world_with_es256_key() -> crate::common::World {
    use crate::common::{config_text, secrets, World};
    let mut world = World::new();
    let text = config_text().replacen('\n', "\nes256_signing_key_env = \"SIGNING_KEY_ES256\"\n", 1);
    let secrets = |name: &str| match name {
        "SIGNING_KEY_ES256" => Some(ES256.to_owned()),
        _ => secrets(name),
    };
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).expect("valid config");
    world
}

/// The Worker answers the discovery document and the JWKS at once (no future: src/edge,
/// `AtOnce`) with the same code and the same answer as the full path; a JWKS whose keys still
/// need their public halves from the platform, and every request that waits on storage or
/// needs its body, take the full path.
#[test]
fn discovery_and_the_jwks_are_answered_at_once_as_the_full_path_answers_them() {
    use crate::common::ISSUER;
    let world = world_with_es256_key();
    let request = |method: &str, path: &str| {
        http::Request::builder().method(method).uri(format!("{ISSUER}{path}")).body(Vec::new()).unwrap()
    };
    let at_once = |req: &http::Request<Vec<u8>>| world.app.answer_at_once(req, &world.clock, &world.rng, &|_| {});
    let discovery = request("GET", "/.well-known/openid-configuration");
    let quick = at_once(&discovery).expect("the discovery document at once");
    assert_eq!(format!("{quick:?}"), format!("{:?}", world.respond(discovery)));
    // The ES256 key's public point comes from the platform once: until then, not at once.
    assert!(at_once(&request("GET", "/jwks")).is_none());
    let full = world.respond(request("GET", "/jwks"));
    let quick = at_once(&request("GET", "/jwks")).expect("the JWKS at once, its keys ready");
    assert_eq!(format!("{quick:?}"), format!("{full:?}"));
    assert!(at_once(&request("HEAD", "/jwks")).is_some());
    // The same answers for HEAD, Keycloak's path of the JWKS, and a request whose announced body
    // is over its route's limit (a 413, whichever path makes it).
    for (method, path, length) in [
        ("HEAD", "/.well-known/openid-configuration", None),
        ("GET", "/protocol/openid-connect/certs", None),
        ("HEAD", "/protocol/openid-connect/certs", None),
        ("GET", "/.well-known/openid-configuration", Some("100000000")),
    ] {
        let req = || {
            let mut req = request(method, path);
            if let Some(length) = length {
                req.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from_static(length));
            }
            req
        };
        let quick = at_once(&req()).map(|reply| format!("{reply:?}"));
        let full = format!("{:?}", world.respond(req()));
        assert_eq!(quick.as_deref(), Some(full.as_str()), "{method} {path} {length:?}");
    }
    for (method, path) in [
        ("POST", "/jwks"),
        ("GET", "/userinfo"),
        ("POST", "/authorize"),
        ("POST", "/token"),
        ("GET", "/account"),
        ("GET", "/broker/demo/login"),
        ("GET", "/broker/demo/endpoint"),
    ] {
        assert!(at_once(&request(method, path)).is_none(), "{method} {path}");
    }
}

/// The promise the Worker's shell relies on when it gives a kept answer again without calling
/// into wasm (src/edge/reuse.mjs): an answer marked reusable (`Keyedge::reusable`) is what the
/// full path answers to every request of the same method and path that has no body and
/// declares no length, whatever its query, host, cookies or other headers; and nothing else is
/// marked so (the login page, a 413, a request declaring a length, one with a body).
#[test]
fn a_reusable_answer_is_the_answer_to_every_bodiless_request_of_its_method_and_path() {
    use crate::common::{World, ISSUER};
    let world = World::new();
    let request = |method: &str, uri: &str, headers: &[(&str, &str)]| {
        let mut req = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.body(Vec::new()).unwrap()
    };
    let at_once = |req: &http::Request<Vec<u8>>| world.app.answer_at_once(req, &world.clock, &world.rng, &|_| {});
    // The JWKS's keys made ready by a first request, as an isolate's first requests do.
    let _ = world.respond(request("GET", &format!("{ISSUER}/jwks"), &[]));
    let variants: [(&str, &[(&str, &str)]); 6] = [
        ("?client_id=x&ui_locales=fr", &[]),
        ("", &[("origin", "https://elsewhere.test"), ("cookie", "__Host-keyedge_session=forged")]),
        ("", &[("authorization", "Bearer abc"), ("if-none-match", "\"x\""), ("accept", "text/html")]),
        ("", &[("cf-ray", "8f00-LHR"), ("user-agent", "curl/8"), ("accept-language", "de")]),
        ("?", &[("host", "other.test"), ("x-forwarded-proto", "http")]),
        ("#frag", &[]),
    ];
    for method in ["GET", "HEAD"] {
        for path in ["/.well-known/openid-configuration", "/jwks", "/protocol/openid-connect/certs"] {
            let first = request(method, &format!("{ISSUER}{path}"), &[]);
            let reply = at_once(&first).unwrap_or_else(|| panic!("{method} {path} at once"));
            assert!(world.app.reusable(&first, &reply), "{method} {path}");
            let kept = format!("{reply:?}");
            for (tail, headers) in variants {
                for base in [ISSUER, "http://other-host.test:8080"] {
                    let uri = format!("{base}{path}{tail}");
                    let full = format!("{:?}", world.respond(request(method, &uri, headers)));
                    assert_eq!(full, kept, "{method} {uri} {headers:?}");
                    let again = at_once(&request(method, &uri, headers)).expect("at once");
                    assert!(world.app.reusable(&request(method, &uri, headers), &again), "{method} {uri} {headers:?}");
                }
            }
            // Not reusable: a declared length (even a small one), whose answer can be a 413.
            for length in ["0", "5", "100000000"] {
                let req = request(method, &format!("{ISSUER}{path}"), &[("content-length", length)]);
                let reply = at_once(&req).expect("at once");
                assert!(!world.app.reusable(&req, &reply), "{method} {path} content-length {length}");
            }
        }
    }
    // Answered at once, never reusable: the login page.
    let rp = crate::common::rp_request("app", crate::common::APP_REDIRECT);
    let login = request("GET", &format!("{ISSUER}/authorize?{}", rp.query), &[]);
    let reply = at_once(&login).expect("the login page at once");
    assert!(matches!(&reply, keyedge::core::gate::Reply::Page(res) if res.status() == http::StatusCode::OK));
    assert!(!world.app.reusable(&login, &reply), "the login page");
    let mut with_body = request("GET", &format!("{ISSUER}/jwks"), &[]);
    *with_body.body_mut() = b"x".to_vec();
    let reply = world.respond(request("GET", &format!("{ISSUER}/jwks"), &[]));
    assert!(!world.app.reusable(&with_body, &reply), "a request with a body");
}

/// The answers the Worker's shell keeps when the isolate starts, before any request
/// (`Keyedge::documents_at_start`, src/edge/worker.mjs): each is the answer a request of its
/// method and path gets, at once and by the full path, and marked reusable; the discovery
/// document under the mount (GET and HEAD); the JWKS only once its keys' public halves are
/// known, at both of its paths.
#[test]
fn documents_at_start_are_the_answers_every_request_of_their_method_and_path_gets() {
    use crate::common::ISSUER;
    // With an ES256 key, whose public point the platform derives on first use.
    let world = world_with_es256_key();
    let request = |method: &str, uri: &str| http::Request::builder().method(method).uri(uri).body(Vec::new()).unwrap();
    let check = |made: &[(&str, String, http::Response<Vec<u8>>)]| {
        for (method, path, res) in made {
            for base in ["", ISSUER, "http://other-host.test:8080"] {
                let req = request(method, &format!("{base}{path}"));
                let at_once = world.app.answer_at_once(&req, &world.clock, &world.rng, &|_| {}).expect("at once");
                assert!(world.app.reusable(&req, &at_once), "{method} {base}{path}");
                let kept = format!("{:?}", keyedge::core::gate::Reply::Page(res.clone()));
                assert_eq!(format!("{at_once:?}"), kept, "{method} {base}{path} at once");
                assert_eq!(
                    format!("{:?}", world.respond(request(method, &format!("{base}{path}")))),
                    kept,
                    "{method} {path}"
                );
            }
        }
    };
    let kinds = |made: &[(&str, String, http::Response<Vec<u8>>)]| {
        made.iter().map(|(method, path, _)| format!("{method} {path}")).collect::<Vec<_>>()
    };
    // Before any request: the discovery document only (the JWKS's public halves are derived
    // on first use).
    let made = world.app.documents_at_start();
    assert_eq!(kinds(&made), ["GET /.well-known/openid-configuration", "HEAD /.well-known/openid-configuration"]);
    assert!(made.iter().all(|(_, _, res)| res.status() == http::StatusCode::OK && !res.body().is_empty()));
    check(&made);
    // Once a request has made the JWKS's keys ready, it is among them at both of its paths.
    let _ = world.respond(request("GET", &format!("{ISSUER}/jwks")));
    let made = world.app.documents_at_start();
    assert_eq!(kinds(&made).len(), 6, "{:?}", kinds(&made));
    assert!(kinds(&made).contains(&"HEAD /protocol/openid-connect/certs".to_owned()));
    check(&made);
}
