//! PKCE (RFC 7636) and keyedge's own signing key.

use keyedge::core::jose::{KeyError, SigningKey};
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

#[test]
fn signing_key_publishes_only_public_parts_with_thumbprint_kid() {
    let key = SigningKey::from_pem(include_str!("fixtures/keyedge-test-key.pem")).unwrap();
    let jwks: serde_json::Value = serde_json::from_str(key.jwks_json()).unwrap();
    let k = &jwks["keys"][0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["kid"], key.kid());
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(k.get(private).is_none(), "private member {private} published");
    }
}

#[test]
fn signed_access_token_verifies_and_expires() {
    let key = SigningKey::from_pem(include_str!("fixtures/keyedge-test-key.pem")).unwrap();
    let token = key.sign(Some("at+jwt"), serde_json::json!({"sub": "u"}), 1000, 300);
    let claims: serde_json::Value = key.verify_own(&token, "at+jwt", 1100).unwrap();
    assert_eq!(claims["sub"], "u");
    assert!(key.verify_own::<serde_json::Value>(&token, "at+jwt", 1301).is_err());
    assert!(key.verify_own::<serde_json::Value>(&token, "JWT", 1100).is_err(), "typ is checked");
}

#[test]
fn short_or_garbage_signing_keys_are_refused() {
    assert!(matches!(SigningKey::from_pem(include_str!("fixtures/short-test-key.pem")), Err(KeyError::TooShort(1024))));
    assert!(matches!(SigningKey::from_pem("nope"), Err(KeyError::Unreadable(_))));
}
