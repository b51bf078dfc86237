//! Other parties' keys and tokens: an upstream IdP's JWKS (or pinned key), and the checks of
//! the tokens it signs (ID tokens, logout tokens), in-process or by the platform's crypto.

#[cfg(keyedge_rsa)]
use jwt_compact::alg::Rsa;
#[cfg(not(target_arch = "wasm32"))]
use jwt_compact::alg::{Ed25519, Es256};
#[cfg(any(keyedge_rsa, not(target_arch = "wasm32")))]
use jwt_compact::{AlgorithmExt, Token};
use jwt_compact::{Claims, UntrustedToken};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::private::{EC_PUBLIC_KEY, ED25519, PRIME256V1};
use super::rsa_public::RsaPublic;
use super::{check_times, TokenError, MIN_RSA_BITS};
use crate::core::ports::{PlatformCrypto, SignatureAlg};

/// The JWS algorithms an upstream IdP may sign its tokens with (RFC 7518 §3.1, RFC 8037 §3.1).
/// Never `none`, never HMAC (which would let a public key be used as a shared secret).
pub const ACCEPTED_ALGORITHMS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"];

/// A verification key from an upstream JWKS.
#[derive(Debug, Clone)]
pub enum VerifyingKey {
    /// The key, with its SPKI DER (for an external verifier, which caches it by that DER's hash).
    Rsa(RsaPublic),
    Es256(Es256Key),
    Es384(Es384Key),
    Ed25519(Ed25519Public),
}

/// An Ed25519 public key (RFC 8032, 32 bytes) as SPKI DER, which the platform's crypto checks
/// EdDSA with (WebCrypto in the Worker, which holds no curve code); natively also the
/// `ed25519-dalek` key, for in-process checks.
#[derive(Debug, Clone)]
pub struct Ed25519Public {
    spki: Vec<u8>,
    #[cfg(not(target_arch = "wasm32"))]
    key: ed25519_dalek::VerifyingKey,
}

impl Ed25519Public {
    /// From the 32-byte encoding; natively the point is checked here, in the Worker by
    /// WebCrypto's import before any signature is checked with it.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Some(Self {
            spki: ed25519_spki_der(&bytes),
            #[cfg(not(target_arch = "wasm32"))]
            key: ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()?,
        })
    }

    /// From SPKI DER whose algorithm is id-Ed25519 (RFC 8410 §3).
    fn from_spki_der(der: &[u8]) -> Option<Self> {
        use p256::pkcs8::der::Decode;
        use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
        let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
        if spki.algorithm.oid != ED25519 || spki.algorithm.parameters.is_some() {
            return None;
        }
        Self::from_bytes(spki.subject_public_key.as_bytes()?)
    }
}

/// The SPKI DER of an Ed25519 public key (RFC 8410 §4: no parameters).
pub(super) fn ed25519_spki_der(public: &[u8; 32]) -> Vec<u8> {
    super::spki_der(ED25519, None, public).unwrap_or_default()
}

/// The uncompressed point (`04 ‖ x ‖ y`, `size` bytes each) of SPKI DER whose algorithm is
/// id-ecPublicKey on `curve` (RFC 5480 §2.1.1).
fn ec_point(der: &[u8], curve: p256::pkcs8::ObjectIdentifier, size: usize) -> Option<&[u8]> {
    use p256::pkcs8::der::Decode;
    use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
    let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
    if spki.algorithm.oid != EC_PUBLIC_KEY || spki.algorithm.parameters_oid().ok()? != curve {
        return None;
    }
    let point = spki.subject_public_key.as_bytes()?;
    (point.len() == 1 + 2 * size && point[0] == 4).then_some(point)
}

/// The SPKI DER of the point (x, y) on `curve`, each coordinate `size` bytes (a JWK's).
fn ec_spki_of(x: &[u8], y: &[u8], curve: &p256::pkcs8::ObjectIdentifier, size: usize) -> Option<Vec<u8>> {
    if x.len() != size || y.len() != size {
        return None;
    }
    super::spki_der(EC_PUBLIC_KEY, Some(curve.into()), &[&[4u8][..], x, y].concat()).ok()
}

/// A P-256 public key as SPKI DER, which the platform's crypto checks ES256 with (WebCrypto
/// in the Worker, which holds no P-256 arithmetic for it). Natively (tests, `keyedge check`)
/// also the `p256` key, for in-process checks without a platform.
#[derive(Debug, Clone)]
pub struct Es256Key {
    spki: Vec<u8>,
    #[cfg(not(target_arch = "wasm32"))]
    key: p256::ecdsa::VerifyingKey,
}

impl Es256Key {
    /// From SPKI DER whose algorithm is id-ecPublicKey on prime256v1 (RFC 5480 §2.1.1.1),
    /// its point uncompressed; natively the point is checked to be on the curve here, in the
    /// Worker by WebCrypto's import, before any signature is checked with it.
    fn from_spki_der(der: &[u8]) -> Option<Self> {
        let _point = ec_point(der, PRIME256V1, 32)?;
        Some(Self {
            spki: der.to_vec(),
            #[cfg(not(target_arch = "wasm32"))]
            key: p256::ecdsa::VerifyingKey::from_sec1_bytes(_point).ok()?,
        })
    }

    /// From a JWK's coordinates.
    fn from_coordinates(x: &[u8], y: &[u8]) -> Option<Self> {
        Self::from_spki_der(&ec_spki_of(x, y, &PRIME256V1, 32)?)
    }
}

/// A P-384 public key as SPKI DER, which the platform's crypto checks ES384 with (WebCrypto
/// in the Worker, which holds no P-384 arithmetic of its own: ~42 KiB gzip of wasm). Natively
/// (tests, `keyedge check`) also the `p384` key, for in-process checks without a platform.
#[derive(Debug, Clone)]
pub struct Es384Key {
    spki: Vec<u8>,
    #[cfg(not(target_arch = "wasm32"))]
    key: p384::ecdsa::VerifyingKey,
}

impl Es384Key {
    /// From SPKI DER whose algorithm is id-ecPublicKey on secp384r1 (RFC 5480 §2.1.1);
    /// natively the point is checked to be on the curve here, in the Worker by WebCrypto's
    /// import, before any signature is checked with it.
    fn from_spki_der(der: &[u8]) -> Option<Self> {
        let _point = ec_point(der, SECP384R1, 48)?;
        Some(Self {
            spki: der.to_vec(),
            #[cfg(not(target_arch = "wasm32"))]
            key: p384::ecdsa::VerifyingKey::from_sec1_bytes(_point).ok()?,
        })
    }

    /// From a JWK's coordinates.
    fn from_coordinates(x: &[u8], y: &[u8]) -> Option<Self> {
        Self::from_spki_der(&ec_spki_of(x, y, &SECP384R1, 48)?)
    }
}

/// The curve secp384r1 (RFC 5480 §2.1.1.1); id-ecPublicKey and prime256v1 are [`super::private`]'s.
const SECP384R1: p256::pkcs8::ObjectIdentifier = p256::pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34");

impl VerifyingKey {
    /// Whether a token signed with `alg` may be checked with this key: the key's type must be
    /// the algorithm's (RFC 7518 §6.1) and, when the JWK names an `alg`, that one.
    fn fits(&self, alg: &str) -> bool {
        match self {
            VerifyingKey::Rsa(..) => SignatureAlg::rsa(alg).is_some(),
            VerifyingKey::Es256(..) => alg == "ES256",
            VerifyingKey::Es384(..) => alg == "ES384",
            VerifyingKey::Ed25519(..) => alg == "EdDSA",
        }
    }
}

/// The members of a JWK that keyedge reads to verify with it (RFC 7517 §4, RFC 7518 §6.2.1
/// and §6.3.1, RFC 8037 §2), each base64url without padding; any private member is ignored.
/// (Read as a plain record rather than as jwt-compact's `JsonWebKey`, an internally tagged
/// enum that serde compiles twice; an RSA key is checked by [`RsaPublic::new`], an EC or
/// Ed25519 point natively here and in the Worker by WebCrypto's import.)
#[derive(serde::Deserialize)]
struct JwkMembers {
    kty: String,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl JwkMembers {
    /// The verification key these members make, if keyedge can check signatures with it.
    fn key(&self) -> Option<VerifyingKey> {
        let member = |m: &Option<String>| m.as_deref().and_then(crate::core::b64url_decode);
        let point = || Some((member(&self.x)?, member(&self.y)?));
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => RsaPublic::new(&member(&self.n)?, &member(&self.e)?)
                .ok()
                .filter(|k| k.bits() >= MIN_RSA_BITS)
                .map(VerifyingKey::Rsa),
            ("EC", Some("P-256")) => {
                point().and_then(|(x, y)| Es256Key::from_coordinates(&x, &y)).map(VerifyingKey::Es256)
            }
            ("EC", Some("P-384")) => {
                point().and_then(|(x, y)| Es384Key::from_coordinates(&x, &y)).map(VerifyingKey::Es384)
            }
            ("OKP", Some("Ed25519")) => Ed25519Public::from_bytes(&member(&self.x)?).map(VerifyingKey::Ed25519),
            _ => None,
        }
    }
}

/// One key of a set: its `kid`, the `alg` its JWK names (if any), the key.
type Entry = (Option<String>, Option<String>, VerifyingKey);

/// A parsed JWK Set: the keys usable for signature verification, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<Entry>,
    /// A single configured key without `kid` verifies tokens whatever `kid` they name.
    pinned: bool,
}

impl Jwks {
    /// Parses a JWK Set document, keeping the signing keys keyedge can check — RSA (≥ 2048
    /// bits), P-256, P-384 and Ed25519 — and skipping the rest (encryption keys, unknown
    /// curves), as RFC 7517 §5 allows.
    pub fn parse(body: &str) -> Result<Self, String> {
        let doc: Value = serde_json::from_str(body).map_err(|e| format!("JWKS is not JSON: {e}"))?;
        let entries = doc.get("keys").and_then(Value::as_array).ok_or("JWKS has no `keys` array")?;
        let mut keys = Vec::new();
        for entry in entries {
            if entry.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
                continue;
            }
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            let alg = entry.get("alg").and_then(Value::as_str).map(str::to_owned);
            let Some(key) = serde_json::from_value::<JwkMembers>(entry.clone()).ok().and_then(|jwk| jwk.key()) else {
                continue;
            };
            keys.push((kid, alg, key));
        }
        Ok(Self { keys, pinned: false })
    }

    fn find(&self, kid: Option<&str>, alg: &str) -> Option<&VerifyingKey> {
        let fits = |named: &Option<String>, k: &VerifyingKey| k.fits(alg) && named.as_deref().is_none_or(|a| a == alg);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, named, key)| (k.as_deref() == Some(kid) || self.pinned) && fits(named, key))
                .map(|(_, _, k)| k),
            // Without `kid` the key must be unambiguous (OIDC Core §10.1).
            None => {
                let mut candidates = self.keys.iter().filter(|(_, named, k)| fits(named, k));
                match (candidates.next(), candidates.next()) {
                    (Some((_, _, k)), None) => Some(k),
                    _ => None,
                }
            }
        }
    }

    /// A key set of one pinned public key (PEM SPKI: RSA ≥ 2048 bits, P-256, P-384 or
    /// Ed25519), with an optional `kid` that tokens must then name.
    pub fn from_public_pem(pem: &str, kid: Option<&str>) -> Result<Self, String> {
        let pem = pem.replace("\\n", "\n");
        let der = pem_der(&pem);
        let key = if let Some(k) = der.as_deref().and_then(RsaPublic::from_spki_der) {
            let k = k?;
            if k.bits() < MIN_RSA_BITS {
                return Err(format!("RSA keys must have at least {MIN_RSA_BITS} bits"));
            }
            VerifyingKey::Rsa(k)
        } else if let Some(k) = der.as_deref().and_then(Es256Key::from_spki_der) {
            VerifyingKey::Es256(k)
        } else if let Some(k) = der.as_deref().and_then(Es384Key::from_spki_der) {
            VerifyingKey::Es384(k)
        } else {
            let k = der
                .as_deref()
                .and_then(Ed25519Public::from_spki_der)
                .ok_or("not a PEM public key (RSA, P-256, P-384 or Ed25519 SubjectPublicKeyInfo)")?;
            VerifyingKey::Ed25519(k)
        };
        Ok(Self { pinned: kid.is_none(), keys: vec![(kid.map(str::to_owned), None, key)] })
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _, _)| k.as_deref() == Some(kid))
    }
}

/// The `kid` in a token's header, if it parses at all.
pub fn token_kid(token: &str) -> Option<String> {
    UntrustedToken::new(token).ok()?.header().key_id.clone()
}

/// The token's `alg`, if it is one of [`ACCEPTED_ALGORITHMS`].
fn accepted_alg<'t>(untrusted: &'t UntrustedToken<'_>) -> Result<&'t str, TokenError> {
    let alg = untrusted.algorithm();
    if !ACCEPTED_ALGORITHMS.contains(&alg) {
        return Err(TokenError::UnsupportedAlgorithm(alg.to_owned()));
    }
    Ok(alg)
}

/// Verifies a JWT's signature against `jwks` and its `exp`/`nbf`/`iat` against `now` with
/// `skew` seconds of tolerance. Only the [`ACCEPTED_ALGORITHMS`], each with a key of its type.
#[cfg_attr(all(target_arch = "wasm32", not(keyedge_rsa)), allow(unused_variables, unreachable_code))]
pub fn verify_signed<T: DeserializeOwned + Clone>(
    token: &str,
    jwks: &Jwks,
    now: i64,
    skew: i64,
) -> Result<T, TokenError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    let alg = accepted_alg(&untrusted)?;
    let key = jwks.find(untrusted.header().key_id.as_deref(), alg).ok_or(TokenError::UnknownKey)?;
    // In the Worker without SAML every arm but ES384's hands the check to WebCrypto.
    let checked: Result<Claims<T>, jwt_compact::ValidationError> = match key {
        #[cfg(keyedge_rsa)]
        VerifyingKey::Rsa(k) => {
            let rsa = alg.parse::<Rsa>().map_err(|_| TokenError::UnsupportedAlgorithm(alg.to_owned()))?;
            rsa.validator(k.key()).validate(&untrusted).map(|t: Token<T>| t.claims().clone())
        }
        // The Worker without SAML checks RSA with WebCrypto only ([`verify_signed_with`]).
        #[cfg(not(keyedge_rsa))]
        VerifyingKey::Rsa(_) => return Err(super::rsa_elsewhere()),
        #[cfg(not(target_arch = "wasm32"))]
        VerifyingKey::Es256(k) => Es256.validator(&k.key).validate(&untrusted).map(|t: Token<T>| t.claims().clone()),
        // The Worker checks ES256 with WebCrypto only ([`verify_signed_with`]).
        #[cfg(target_arch = "wasm32")]
        VerifyingKey::Es256(..) => {
            return Err(TokenError::Unverifiable("ES256 is checked by the platform's crypto".into()))
        }
        #[cfg(not(target_arch = "wasm32"))]
        VerifyingKey::Ed25519(k) => {
            Ed25519.validator(&k.key).validate(&untrusted).map(|t: Token<T>| t.claims().clone())
        }
        #[cfg(target_arch = "wasm32")]
        VerifyingKey::Ed25519(_) => {
            return Err(TokenError::Unverifiable("Ed25519 is checked by the platform's crypto".into()))
        }
        VerifyingKey::Es384(k) => return verify_es384(k, token, &untrusted, now, skew),
    };
    let claims = checked.map_err(|_| TokenError::BadSignature)?;
    check_times(&claims, now, skew)?;
    Ok(claims.custom)
}

/// An ES384 signature (`r ‖ s`, 96 bytes, RFC 7518 §3.4) over the JWS signing input, then
/// the claims' times. Natively only: the Worker checks ES384 with WebCrypto alone
/// ([`verify_signed_with`]; it always has it) and carries no P-384 code.
fn verify_es384<T: DeserializeOwned + Clone>(
    key: &Es384Key,
    token: &str,
    untrusted: &UntrustedToken<'_>,
    now: i64,
    skew: i64,
) -> Result<T, TokenError> {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (key, token, untrusted, now, skew);
        Err(TokenError::Unverifiable("ES384 is checked by the platform's crypto (WebCrypto)".into()))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use p384::ecdsa::signature::Verifier;
        let signing_input = token.rsplit_once('.').map(|(input, _)| input).ok_or(TokenError::Malformed)?;
        let signature =
            p384::ecdsa::Signature::from_slice(untrusted.signature_bytes()).map_err(|_| TokenError::BadSignature)?;
        key.key.verify(signing_input.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
        let claims: Claims<T> = untrusted.deserialize_claims_unchecked().map_err(|_| TokenError::Malformed)?;
        check_times(&claims, now, skew)?;
        Ok(claims.custom)
    }
}

/// The DER of a PEM document (any label).
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    p256::pkcs8::der::Document::from_pem(pem).ok().map(|(_, doc)| doc.into_vec())
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

/// The `iat` of `token`, read without checking anything: for a token whose signature and
/// times were checked already (its other claims deserialized apart from the registered ones).
pub fn issued_at(token: &str) -> Option<i64> {
    let claims: Claims<jwt_compact::Empty> = UntrustedToken::new(token).ok()?.deserialize_claims_unchecked().ok()?;
    claims.issued_at.map(|t| t.timestamp())
}

/// Like [`verify_signed`], but RSA (RS256, RS384, RS512, PS256), ES256 and ES384 signatures
/// are checked by `crypto` (WebCrypto in the Worker) when given: P-256 in wasm costs
/// milliseconds per verification, and the Worker carries no P-384 code, nor RSA code without
/// SAML. EdDSA is checked in-process.
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
    let alg = accepted_alg(&untrusted)?;
    match jwks.find(untrusted.header().key_id.as_deref(), alg).ok_or(TokenError::UnknownKey)? {
        VerifyingKey::Rsa(k) => {
            let alg = SignatureAlg::rsa(alg).ok_or_else(|| TokenError::UnsupportedAlgorithm(alg.to_owned()))?;
            verify_externally(crypto, alg, k.spki_der(), token, &untrusted, now, skew).await
        }
        VerifyingKey::Es256(k) => {
            verify_externally(crypto, SignatureAlg::Es256, &k.spki, token, &untrusted, now, skew).await
        }
        VerifyingKey::Es384(k) => {
            verify_externally(crypto, SignatureAlg::Es384, &k.spki, token, &untrusted, now, skew).await
        }
        VerifyingKey::Ed25519(k) => {
            verify_externally(crypto, SignatureAlg::EdDsa, &k.spki, token, &untrusted, now, skew).await
        }
    }
}

/// Checks an RSA, ES256 or ES384 signature with the external verifier, then the claims' times. The
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
    verify_signature_externally(crypto, alg, spki, token, untrusted).await?;
    let claims: Claims<T> = untrusted.deserialize_claims_unchecked().map_err(|_| TokenError::Malformed)?;
    check_times(&claims, now, skew)?;
    Ok(claims.custom)
}

/// The token's signature, checked by the external verifier.
pub(super) async fn verify_signature_externally(
    crypto: &dyn PlatformCrypto,
    alg: SignatureAlg,
    spki: &[u8],
    token: &str,
    untrusted: &UntrustedToken<'_>,
) -> Result<(), TokenError> {
    let signing_input = token.rsplit_once('.').map(|(input, _)| input).ok_or(TokenError::Malformed)?;
    let valid = crypto
        .verify(alg, spki, signing_input.as_bytes(), untrusted.signature_bytes())
        .await
        .map_err(|e| TokenError::Unverifiable(e.to_string()))?;
    if valid {
        Ok(())
    } else {
        Err(TokenError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_compact::jwk::JsonWebKey;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        crate::core::b64url(bytes)
    }

    fn rsa_jwk(pem: &str, kid: &str) -> Value {
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        let mut jwk = serde_json::to_value(JsonWebKey::from(&key.to_public_key())).unwrap();
        jwk["kid"] = json!(kid);
        jwk
    }

    fn p256_point(kid: &str) -> (Value, p256::EncodedPoint) {
        let key = p256::ecdsa::SigningKey::from_slice(&[0x33; 32]).unwrap();
        let point = key.verifying_key().to_encoded_point(false);
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())});
        (jwk, point)
    }

    /// RFC 7517 §5: a set's signing keys keyedge can check are kept, with what a key carries
    /// beyond its public members ignored; a key of another use or kind, one whose members are
    /// not base64url without padding, a point off its curve, a short RSA modulus or an
    /// Ed25519 key of the wrong length is skipped, and the rest of the set still counts.
    #[test]
    fn a_jwks_keeps_the_signing_keys_it_can_check_and_skips_the_rest() {
        let (p256, point) = p256_point("p256");
        let mut with_private = p256.clone();
        with_private["kid"] = json!("p256-with-d");
        with_private["d"] = json!(b64(&[0x33; 32]));
        let p384 = p384::ecdsa::SigningKey::from_slice(&[0x5a; 48]).unwrap();
        let p384 = p384.verifying_key().to_encoded_point(false);
        let ed = ed25519_dalek::SigningKey::from_bytes(&[0x17; 32]);
        let mut off_curve = p256.clone();
        off_curve["kid"] = json!("off-curve");
        let mut y = point.y().unwrap().to_vec();
        y[31] ^= 1;
        off_curve["y"] = json!(b64(&y));
        let mut padded = p256.clone();
        padded["kid"] = json!("padded");
        padded["x"] = json!(format!("{}=", b64(point.x().unwrap())));
        let mut encryption = rsa_jwk(include_str!("../../../tests/fixtures/upstream-test-key.pem"), "enc");
        encryption["use"] = json!("enc");
        let set = json!({"keys": [
            rsa_jwk(include_str!("../../../tests/fixtures/upstream-test-key.pem"), "rsa"),
            p256,
            with_private,
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": b64(p384.x().unwrap()), "y": b64(p384.y().unwrap())},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.verifying_key().as_bytes())},
            off_curve,
            padded,
            encryption,
            rsa_jwk(include_str!("../../../tests/fixtures/short-test-key.pem"), "short"),
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed-short", "x": b64(&[7; 31])},
            {"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": b64(&[7; 32])},
            {"kty": "oct", "kid": "hmac", "k": b64(b"a shared secret")},
            {"kty": "RSA", "kid": "no-e", "n": b64(&[0xc5; 256])},
            {"kid": "no-kty"},
        ]});
        let jwks = Jwks::parse(&set.to_string()).unwrap();
        for kept in ["rsa", "p256", "p256-with-d", "p384", "ed"] {
            assert!(jwks.has_kid(kept), "{kept} was skipped");
        }
        for skipped in ["off-curve", "padded", "enc", "short", "ed-short", "x25519", "hmac", "no-e", "no-kty"] {
            assert!(!jwks.has_kid(skipped), "{skipped} was kept");
        }
    }
}
