//! Other parties' keys and tokens: an upstream IdP's JWKS (or pinned key), and the checks of
//! the tokens it signs (ID tokens, logout tokens), in-process or by the platform's crypto.

use jwt_compact::alg::{Es256, Rsa, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Token, UntrustedToken};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{check_times, TokenError, MIN_RSA_BITS};
use crate::core::ports::{PlatformCrypto, SignatureAlg};

/// A verification key from an upstream JWKS.
#[derive(Debug, Clone)]
pub enum VerifyingKey {
    /// The key and its SPKI DER (for an external verifier, which caches it by that DER's hash).
    Rs256(RsaPublicKey, Vec<u8>),
    Es256(p256_key::VerifyingKey, Vec<u8>),
}

pub(super) fn spki_der(key: &RsaPublicKey) -> Vec<u8> {
    use rsa::pkcs8::EncodePublicKey;
    key.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
}

pub(super) fn ec_spki_der(key: &p256::ecdsa::VerifyingKey) -> Vec<u8> {
    use p256::pkcs8::EncodePublicKey;
    key.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
}

mod p256_key {
    pub use p256::ecdsa::VerifyingKey;
}

/// A parsed JWK Set: the keys usable for signature verification, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<(Option<String>, VerifyingKey)>,
    /// A single configured key without `kid` verifies tokens whatever `kid` they name.
    pinned: bool,
}

impl Jwks {
    /// Parses a JWK Set document, keeping the RSA (≥ 2048 bits) and P-256 signing keys and
    /// skipping the rest (encryption keys, unknown curves), as RFC 7517 §5 allows.
    pub fn parse(body: &str) -> Result<Self, String> {
        use rsa::traits::PublicKeyParts;
        let doc: Value = serde_json::from_str(body).map_err(|e| format!("JWKS is not JSON: {e}"))?;
        let entries = doc.get("keys").and_then(Value::as_array).ok_or("JWKS has no `keys` array")?;
        let mut keys = Vec::new();
        for entry in entries {
            if entry.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
                continue;
            }
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            let Ok(jwk) = serde_json::from_value::<JsonWebKey<'static>>(entry.clone()) else {
                continue;
            };
            let key = match &jwk {
                JsonWebKey::Rsa { .. } => match RsaPublicKey::try_from(&jwk) {
                    Ok(k) if k.size() * 8 >= MIN_RSA_BITS => {
                        let der = spki_der(&k);
                        VerifyingKey::Rs256(k, der)
                    }
                    _ => continue,
                },
                JsonWebKey::EllipticCurve { curve, .. } if curve == "P-256" => {
                    match p256::ecdsa::VerifyingKey::try_from(&jwk) {
                        Ok(k) => VerifyingKey::Es256(k, ec_spki_der(&k)),
                        Err(_) => continue,
                    }
                }
                _ => continue,
            };
            keys.push((kid, key));
        }
        Ok(Self { keys, pinned: false })
    }

    fn find(&self, kid: Option<&str>, alg: &str) -> Option<&VerifyingKey> {
        let fits = |k: &VerifyingKey| {
            matches!((alg, k), ("RS256", VerifyingKey::Rs256(..)) | ("ES256", VerifyingKey::Es256(..)))
        };
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, key)| (k.as_deref() == Some(kid) || self.pinned) && fits(key))
                .map(|(_, k)| k),
            // Without `kid` the key must be unambiguous (OIDC Core §10.1).
            None => {
                let mut candidates = self.keys.iter().filter(|(_, k)| fits(k));
                match (candidates.next(), candidates.next()) {
                    (Some((_, k)), None) => Some(k),
                    _ => None,
                }
            }
        }
    }

    /// A key set of one pinned public key (PEM SPKI: RSA ≥ 2048 bits or P-256), with an
    /// optional `kid` that tokens must then name.
    pub fn from_public_pem(pem: &str, kid: Option<&str>) -> Result<Self, String> {
        use rsa::pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        let pem = pem.replace("\\n", "\n");
        let key = if let Ok(k) = RsaPublicKey::from_public_key_pem(&pem) {
            if k.size() * 8 < MIN_RSA_BITS {
                return Err(format!("RSA keys must have at least {MIN_RSA_BITS} bits"));
            }
            let der = spki_der(&k);
            VerifyingKey::Rs256(k, der)
        } else {
            let k = p256::PublicKey::from_public_key_pem(&pem)
                .map_err(|_| "not a PEM public key (RSA or P-256 SubjectPublicKeyInfo)".to_owned())?;
            let k = p256::ecdsa::VerifyingKey::from(k);
            VerifyingKey::Es256(k, ec_spki_der(&k))
        };
        Ok(Self { pinned: kid.is_none(), keys: vec![(kid.map(str::to_owned), key)] })
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k.as_deref() == Some(kid))
    }
}

/// The `kid` in a token's header, if it parses at all.
pub fn token_kid(token: &str) -> Option<String> {
    UntrustedToken::new(token).ok()?.header().key_id.clone()
}

/// Verifies a JWT's signature against `jwks` and its `exp`/`nbf`/`iat` against `now` with
/// `skew` seconds of tolerance. Only RS256 and ES256 are accepted: never `none`, never HMAC
/// (which would let a public key be used as a shared secret).
pub fn verify_signed<T: DeserializeOwned + Clone>(
    token: &str,
    jwks: &Jwks,
    now: i64,
    skew: i64,
) -> Result<T, TokenError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    let alg = untrusted.algorithm().to_owned();
    if alg != "RS256" && alg != "ES256" {
        return Err(TokenError::UnsupportedAlgorithm(alg));
    }
    let key = jwks.find(untrusted.header().key_id.as_deref(), &alg).ok_or(TokenError::UnknownKey)?;
    let token: Token<T> = match key {
        VerifyingKey::Rs256(k, _) => Rsa::rs256().validator(k).validate(&untrusted),
        VerifyingKey::Es256(k, _) => Es256.validator(k).validate(&untrusted),
    }
    .map_err(|_| TokenError::BadSignature)?;
    check_times(token.claims(), now, skew)?;
    Ok(token.claims().custom.clone())
}

/// The claims of a JWT whose signature is deliberately not checked (an upstream with
/// `validate_signature = false`), after its times. `alg: none` is refused all the same.
pub fn unverified_claims<T: DeserializeOwned + Clone>(token: &str, now: i64, skew: i64) -> Result<T, TokenError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    if untrusted.algorithm().eq_ignore_ascii_case("none") {
        return Err(TokenError::UnsupportedAlgorithm(untrusted.algorithm().to_owned()));
    }
    let claims: Claims<T> = untrusted.deserialize_claims_unchecked().map_err(|_| TokenError::Malformed)?;
    check_times(&claims, now, skew)?;
    Ok(claims.custom)
}

/// Like [`verify_signed`], but signatures are checked by `rsa` (WebCrypto in the Worker) when
/// given: the pure-Rust RSA and P-256 in wasm cost milliseconds per verification.
pub async fn verify_signed_with<T: DeserializeOwned + Clone>(
    crypto: Option<&dyn PlatformCrypto>,
    token: &str,
    jwks: &Jwks,
    now: i64,
    skew: i64,
) -> Result<T, TokenError> {
    let Some(crypto) = crypto else {
        return verify_signed(token, jwks, now, skew);
    };
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    let alg = untrusted.algorithm();
    if alg != "RS256" && alg != "ES256" {
        return Err(TokenError::UnsupportedAlgorithm(alg.to_owned()));
    }
    match jwks.find(untrusted.header().key_id.as_deref(), alg).ok_or(TokenError::UnknownKey)? {
        VerifyingKey::Rs256(_, der) => {
            verify_externally(crypto, SignatureAlg::Rs256, der, token, &untrusted, now, skew).await
        }
        VerifyingKey::Es256(_, der) => {
            verify_externally(crypto, SignatureAlg::Es256, der, token, &untrusted, now, skew).await
        }
    }
}

/// Checks an RS256 or ES256 signature with the external verifier, then the claims' times. The
/// JWS signing input is the token up to its last `.` (RFC 7515 §5.2, step 8).
pub(super) async fn verify_externally<T: DeserializeOwned + Clone>(
    crypto: &dyn PlatformCrypto,
    alg: SignatureAlg,
    spki: &[u8],
    token: &str,
    untrusted: &UntrustedToken<'_>,
    now: i64,
    skew: i64,
) -> Result<T, TokenError> {
    let signing_input = token.rsplit_once('.').map(|(input, _)| input).ok_or(TokenError::Malformed)?;
    let valid = crypto
        .verify(alg, spki, signing_input.as_bytes(), untrusted.signature_bytes())
        .await
        .map_err(|e| TokenError::Unverifiable(e.to_string()))?;
    if !valid {
        return Err(TokenError::BadSignature);
    }
    let claims: Claims<T> = untrusted.deserialize_claims_unchecked().map_err(|_| TokenError::Malformed)?;
    check_times(&claims, now, skew)?;
    Ok(claims.custom)
}
