//! Upstream ID token checks (OIDC Core §3.1.3.7): every failure is rejected with its reason.

use crate::common::fake_idp::{jwks_for, rsa_key, sign};
use keyedge::core::config::{Config, ProviderKind};
use keyedge::core::jose::{Jwks, TokenError};
use keyedge::core::upstream::oidc::verify_id_token;
use serde_json::{json, Value};

const NOW: i64 = crate::common::START;

fn provider() -> keyedge::core::config::OidcProvider {
    let config = Config::load(&crate::common::config_text(), &crate::common::secrets).unwrap();
    match &config.identity_providers[0].kind {
        ProviderKind::Oidc(p) => p.clone(),
        _ => unreachable!("the test config's first provider is OIDC"),
    }
}

fn upstream_key() -> jwt_compact::alg::RsaPrivateKey {
    rsa_key(include_str!("../fixtures/upstream-test-key.pem"))
}

fn jwks() -> Jwks {
    Jwks::parse(&jwks_for(&upstream_key(), "k1")).unwrap()
}

fn claims() -> Value {
    json!({ "iss": "https://idp.test", "sub": "u1", "aud": "keyedge-at-idp", "iat": NOW, "exp": NOW + 300, "nonce": "n-1" })
}

fn check(token: &str) -> Result<(), TokenError> {
    verify_id_token(&provider(), &jwks(), token, "n-1", NOW).map(|_| ())
}

fn signed(mutate: impl Fn(&mut Value)) -> String {
    let mut c = claims();
    mutate(&mut c);
    sign(&upstream_key(), "k1", c)
}

fn b64(v: &Value) -> String {
    keyedge::core::b64url(v.to_string().as_bytes())
}

#[test]
fn valid_token_is_accepted() {
    assert_eq!(check(&signed(|_| {})), Ok(()));
}

#[test]
fn audience_array_needs_azp() {
    assert_eq!(
        check(&signed(|c| c["aud"] = json!(["keyedge-at-idp", "other"]))),
        Err(TokenError::WrongAuthorizedParty)
    );
    assert_eq!(
        check(&signed(|c| {
            c["aud"] = json!(["keyedge-at-idp", "other"]);
            c["azp"] = json!("keyedge-at-idp");
        })),
        Ok(())
    );
}

#[test]
fn bad_signature_is_rejected() {
    let token = sign(&rsa_key(include_str!("../fixtures/attacker-test-key.pem")), "k1", claims());
    assert_eq!(check(&token), Err(TokenError::BadSignature));
    // A valid signature over other claims: the payload swapped after signing.
    let good = signed(|_| {});
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(
            &json!({"iss": "https://idp.test", "sub": "admin", "aud": "keyedge-at-idp", "exp": NOW + 300, "nonce": "n-1"})
        ),
        parts[2]
    );
    assert_eq!(check(&forged), Err(TokenError::BadSignature));
}

#[test]
fn unknown_kid_is_rejected() {
    let token = sign(&upstream_key(), "k-unknown", claims());
    assert_eq!(check(&token), Err(TokenError::UnknownKey));
}

#[test]
fn wrong_issuer_is_rejected() {
    assert_eq!(check(&signed(|c| c["iss"] = json!("https://evil.test"))), Err(TokenError::WrongIssuer));
}

#[test]
fn wrong_audience_is_rejected() {
    assert_eq!(check(&signed(|c| c["aud"] = json!("other-client"))), Err(TokenError::WrongAudience));
}

#[test]
fn expired_token_is_rejected_beyond_skew() {
    assert_eq!(check(&signed(|c| c["exp"] = json!(NOW - 31))), Err(TokenError::Expired));
    assert_eq!(check(&signed(|c| c["exp"] = json!(NOW - 29))), Ok(()), "within the 30 s allowed clock skew");
    assert_eq!(
        check(&signed(|c| c.as_object_mut().unwrap().remove("exp").map(|_| ()).unwrap())),
        Err(TokenError::MissingExpiry)
    );
}

#[test]
fn token_from_the_future_is_rejected() {
    assert_eq!(check(&signed(|c| c["iat"] = json!(NOW + 600))), Err(TokenError::NotYetValid));
    assert_eq!(check(&signed(|c| c["nbf"] = json!(NOW + 600))), Err(TokenError::NotYetValid));
}

#[test]
fn wrong_or_missing_nonce_is_rejected() {
    assert_eq!(check(&signed(|c| c["nonce"] = json!("n-2"))), Err(TokenError::WrongNonce));
    assert_eq!(
        check(&signed(|c| c.as_object_mut().unwrap().remove("nonce").map(|_| ()).unwrap())),
        Err(TokenError::WrongNonce)
    );
}

#[test]
fn alg_none_is_rejected() {
    let token = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims()));
    assert_eq!(check(&token), Err(TokenError::UnsupportedAlgorithm("none".into())));
}

#[test]
fn hs256_with_the_public_key_as_secret_is_rejected() {
    use jwt_compact::{alg::Hs256, alg::Hs256Key, AlgorithmExt, Claims, Header};
    let jwk = jwks_for(&upstream_key(), "k1");
    let token = Hs256
        .token(&Header::empty().with_key_id("k1"), &Claims::new(claims()), &Hs256Key::new(jwk.as_bytes()))
        .unwrap();
    assert_eq!(check(&token), Err(TokenError::UnsupportedAlgorithm("HS256".into())));
}

#[test]
fn garbage_is_malformed() {
    assert_eq!(check("not-a-jwt"), Err(TokenError::Malformed));
}

#[test]
fn short_rsa_keys_are_not_trusted() {
    let short = rsa_key(include_str!("../fixtures/short-test-key.pem"));
    let jwks = Jwks::parse(&jwks_for(&short, "k1")).unwrap();
    let token = sign(&short, "k1", claims());
    assert_eq!(verify_id_token(&provider(), &jwks, &token, "n-1", NOW).map(|_| ()), Err(TokenError::UnknownKey));
}

/// The same checks through an external RS256 verifier (WebCrypto's stand-in): a good token
/// passes, a forged signature and a tampered payload fail, and the verifier was really used.
#[test]
fn external_rs256_verifier_gives_the_same_verdicts() {
    use futures::executor::block_on;
    use keyedge::core::upstream::oidc::verify_id_token_with;
    let ext = crate::common::ExternalRsa::default();
    let check_ext =
        |token: &str| block_on(verify_id_token_with(Some(&ext), &provider(), &jwks(), token, "n-1", NOW)).map(|_| ());
    assert_eq!(check_ext(&signed(|_| {})), Ok(()));
    let forged = sign(&rsa_key(include_str!("../fixtures/attacker-test-key.pem")), "k1", claims());
    assert_eq!(check_ext(&forged), Err(TokenError::BadSignature));
    assert_eq!(check_ext(&signed(|c| c["nonce"] = json!("n-2"))), Err(TokenError::WrongNonce));
    assert_eq!(check_ext(&signed(|c| c["exp"] = json!(NOW - 31))), Err(TokenError::Expired));
    let good = signed(|_| {});
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(
            &json!({"iss": "https://idp.test", "sub": "admin", "aud": "keyedge-at-idp", "exp": NOW + 300, "nonce": "n-1"})
        ),
        parts[2]
    );
    assert_eq!(check_ext(&tampered), Err(TokenError::BadSignature));
    assert_eq!(ext.verifications.get(), 5);
}
