//! Keys, signing, JWKS and token verification, all through `jwt-compact`.

use chrono::{DateTime, Utc};
#[cfg(not(target_arch = "wasm32"))]
use jwt_compact::alg::Ed25519;
#[cfg(not(target_arch = "wasm32"))]
use jwt_compact::alg::Es256;
#[cfg(keyedge_rsa)]
use jwt_compact::alg::Rsa;
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header, Token, UntrustedToken};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::OnceLock;

use super::b64url;
use super::ports::{PlatformCrypto, PortError, SignatureAlg};

mod jwks;
pub mod private;
pub mod rsa_public;

use jwks::verify_signature_externally;
pub use jwks::{issued_at, token_kid, unverified_claims, verify_signed, verify_signed_with, Jwks, VerifyingKey};

/// RSA keys shorter than this are refused, for signing and for verification (RFC 7518 §3.3),
/// in JOSE and in SAML alike.
pub const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Unreadable(String),
    TooShort(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Unreadable(m) => write!(f, "not a PEM private key (RSA, P-256 or Ed25519): {m}"),
            KeyError::TooShort(bits) => write!(f, "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"),
        }
    }
}

/// JWS algorithms keyedge signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, Serialize)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }
}

enum PrivateKey {
    /// The key (its public half read at once with its SPKI DER for an external verifier,
    /// WebCrypto; its private arithmetic on first use, see [`private`]). Its PKCS#8 DER is what
    /// an external signer imports.
    Rsa(private::RsaKey),
    /// Its PKCS#8 DER; its public point when first needed (see [`private::P256Key`]:
    /// WebCrypto's work in the Worker).
    Es256(private::P256Key),
    /// Its seed and PKCS#8 DER; its public half when first needed (see
    /// [`private::Ed25519Key`]: WebCrypto's work in the Worker).
    Ed25519(private::Ed25519Key),
}

/// One signing key with its `kid` (its RFC 7638 thumbprint), computed on first use: an
/// Ed25519 key's public half is a curve multiplication, which a cold isolate's first request
/// need not pay unless it signs or publishes keys.
pub struct SigningKey {
    key: PrivateKey,
    kid: OnceLock<String>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({} kid={})", self.alg().name(), self.kid())
    }
}

impl SigningKey {
    /// Reads a PEM private key: RSA (PKCS#8 or PKCS#1, ≥ 2048 bits), P-256 or Ed25519 (PKCS#8).
    /// RSA and P-256 keys are read for their shape and public half; the rest of their
    /// arithmetic waits for a signature made in Rust ([`SigningKey::check`] does it now).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        // `.dev.vars` and some secret stores carry newlines as the two characters `\n`.
        let pem = pem.replace("\\n", "\n");
        let key = match private::Private::from_pem(&pem).map_err(KeyError::Unreadable)? {
            Some(private::Private::Rsa(k)) => {
                if k.bits() < MIN_RSA_BITS {
                    return Err(KeyError::TooShort(k.bits()));
                }
                PrivateKey::Rsa(k)
            }
            Some(private::Private::P256(k)) => PrivateKey::Es256(k),
            Some(private::Private::Ed25519(k)) => PrivateKey::Ed25519(k),
            None => return Err(KeyError::Unreadable("a PKCS#8 key of another algorithm".into())),
        };
        Ok(SigningKey { key, kid: OnceLock::new() })
    }

    /// Reads the whole key now, as a signature in Rust would: an RSA key's primes and CRT
    /// values, a P-256 key's scalar, an Ed25519 key's public half, each agreeing with the
    /// public half published (`keyedge check`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn check(&self) -> Result<(), KeyError> {
        match &self.key {
            PrivateKey::Rsa(k) => k.check(),
            PrivateKey::Es256(k) => k.check(),
            PrivateKey::Ed25519(k) => k.check(),
        }
        .map_err(KeyError::Unreadable)
    }

    pub fn alg(&self) -> Alg {
        match self.key {
            PrivateKey::Rsa(_) => Alg::RS256,
            PrivateKey::Es256(..) => Alg::ES256,
            PrivateKey::Ed25519(..) => Alg::EdDSA,
        }
    }

    /// The key's `kid`. An Ed25519 key's is known once its public half is ([`Keyring::ready`]
    /// in the Worker; natively at once): until then it is empty, which names no key.
    pub fn kid(&self) -> &str {
        if let Some(kid) = self.kid.get() {
            return kid;
        }
        match self.public_jwk() {
            Some(jwk) => self.kid.get_or_init(|| b64url(&jwk.thumbprint::<Sha256>())),
            None => "",
        }
    }

    fn public_jwk(&self) -> Option<JsonWebKey<'_>> {
        Some(match &self.key {
            PrivateKey::Rsa(k) => k.public().jwk(),
            PrivateKey::Es256(k) => {
                let (x, y) = k.coordinates()?;
                JsonWebKey::EllipticCurve { curve: "P-256".into(), x: x.into(), y: y.into(), secret: None }
            }
            PrivateKey::Ed25519(k) => {
                JsonWebKey::KeyPair { curve: "Ed25519".into(), x: k.public()?.to_vec().into(), secret: None }
            }
        })
    }

    /// The public JWK with `kid`, `use` and `alg`, once the public half is known.
    fn jwk_entry(&self) -> Option<Value> {
        let mut entry = serde_json::to_value(self.public_jwk()?).ok()?;
        if let Value::Object(map) = &mut entry {
            map.insert("kid".into(), json!(self.kid()));
            map.insert("use".into(), json!("sig"));
            map.insert("alg".into(), json!(self.alg().name()));
        }
        Some(entry)
    }

    /// Makes the key's public half (and so its `kid`) known: see [`Keyring::ready`].
    async fn ready(&self, crypto: Option<&dyn PlatformCrypto>) -> Result<(), PortError> {
        match &self.key {
            PrivateKey::Ed25519(k) => k.ready(crypto).await,
            PrivateKey::Es256(k) => k.ready(crypto).await,
            PrivateKey::Rsa(_) => Ok(()),
        }
    }

    /// Whether [`SigningKey::ready`] has made the public half known.
    fn is_ready(&self) -> bool {
        match &self.key {
            PrivateKey::Ed25519(k) => k.is_ready(),
            PrivateKey::Es256(k) => k.is_ready(),
            PrivateKey::Rsa(_) => true,
        }
    }

    /// The SPKI DER an external verifier checks this key's signatures with.
    fn spki(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        use std::borrow::Cow;
        match &self.key {
            PrivateKey::Rsa(k) => Some(Cow::Borrowed(k.public().spki_der())),
            PrivateKey::Es256(k) => k.spki().map(Cow::Borrowed),
            PrivateKey::Ed25519(k) => k.spki().map(Cow::Borrowed),
        }
    }

    // In the Worker without SAML no key signs here: every signature is WebCrypto's.
    #[cfg_attr(all(target_arch = "wasm32", not(keyedge_rsa)), allow(unused_variables))]
    fn sign<T: Serialize>(&self, header: &Header, claims: &Claims<T>) -> String {
        // Serialising plain structs and signing with a valid key cannot fail; an error here
        // would be a bug, reported as an empty token that no verifier accepts.
        // A key whose halves disagree (refused by `keyedge check`) signs nothing either.
        match &self.key {
            #[cfg(keyedge_rsa)]
            PrivateKey::Rsa(k) => k.private().ok().and_then(|k| Rsa::rs256().token(header, claims, k).ok()),
            // The Worker without SAML signs RSA with WebCrypto only ([`SigningKey::sign_by`]).
            #[cfg(not(keyedge_rsa))]
            PrivateKey::Rsa(_) => None,
            #[cfg(not(target_arch = "wasm32"))]
            PrivateKey::Es256(k) => k.private().ok().and_then(|k| Es256.token(header, claims, k).ok()),
            #[cfg(not(target_arch = "wasm32"))]
            PrivateKey::Ed25519(k) => k.private().ok().and_then(|k| Ed25519.token(header, claims, k).ok()),
            // The Worker signs ES256 and Ed25519 with WebCrypto only ([`SigningKey::sign_by`]).
            #[cfg(target_arch = "wasm32")]
            PrivateKey::Es256(..) | PrivateKey::Ed25519(_) => None,
        }
        .unwrap_or_default()
    }

    /// Signs `custom` claims with `iat = now`, `exp = now + lifetime` under `header`; with a
    /// `crypto` port, RS256, ES256 and EdDSA signatures come from it (WebCrypto in the Worker,
    /// which carries no RSA or Ed25519 code of its own) and jwt-compact still assembles the
    /// token.
    async fn sign_by<T: Serialize>(
        &self,
        crypto: Option<&dyn PlatformCrypto>,
        header: &Header,
        custom: T,
        now: i64,
        lifetime: u64,
    ) -> Result<String, PortError> {
        // The key's `kid` names it to the platform's key cache, and in the header.
        self.ready(crypto).await?;
        let mut claims = Claims::new(custom);
        claims.issued_at = timestamp(now);
        claims.expiration = timestamp(now + lifetime as i64);
        match (&self.key, crypto) {
            (PrivateKey::Rsa(k), Some(signer)) => {
                let capture = Captured::new(Alg::RS256);
                let unsigned = capture.token(header, &claims, &()).unwrap_or_default();
                let signature = signer.sign_rs256(self.kid(), k.der(), &capture.input.take()).await?;
                Ok(format!("{unsigned}{}", b64url(&signature)))
            }
            (PrivateKey::Es256(k), Some(signer)) => {
                let capture = Captured::new(Alg::ES256);
                let unsigned = capture.token(header, &claims, &()).unwrap_or_default();
                let signature = signer.sign_es256(self.kid(), k.der(), &capture.input.take()).await?;
                Ok(format!("{unsigned}{}", b64url(&signature)))
            }
            (PrivateKey::Ed25519(k), Some(signer)) => {
                let capture = Captured::new(Alg::EdDSA);
                let unsigned = capture.token(header, &claims, &()).unwrap_or_default();
                let signature = signer.sign_ed25519(self.kid(), k.der(), &capture.input.take()).await?;
                Ok(format!("{unsigned}{}", b64url(&signature)))
            }
            _ => Ok(self.sign(header, &claims)),
        }
    }

    /// A JWT signed with this key under another party's key id `kid`: the key is the
    /// operator's, registered at a provider that names it so (Apple's client secret, whose
    /// `kid` is the Key ID Apple gave the key).
    pub async fn sign_for<T: Serialize>(
        &self,
        crypto: Option<&dyn PlatformCrypto>,
        kid: &str,
        custom: T,
        now: i64,
        lifetime: u64,
    ) -> Result<String, PortError> {
        self.sign_by(crypto, &Header::empty().with_key_id(kid), custom, now, lifetime).await
    }

    #[cfg_attr(all(target_arch = "wasm32", not(keyedge_rsa)), allow(unused_variables, unreachable_code))]
    fn validate<T: DeserializeOwned + Clone>(&self, untrusted: &UntrustedToken<'_>) -> Result<Token<T>, TokenError> {
        // In the Worker without SAML no key is checked here: every check is WebCrypto's.
        let checked: Result<Token<T>, jwt_compact::ValidationError> = match &self.key {
            #[cfg(keyedge_rsa)]
            PrivateKey::Rsa(k) => Rsa::rs256().validator(k.public().key()).validate(untrusted),
            #[cfg(not(keyedge_rsa))]
            PrivateKey::Rsa(_) => return Err(rsa_elsewhere()),
            #[cfg(not(target_arch = "wasm32"))]
            PrivateKey::Es256(k) => match k.private() {
                Ok(k) => Es256.validator(k.verifying_key()).validate(untrusted),
                Err(_) => return Err(TokenError::BadSignature),
            },
            #[cfg(target_arch = "wasm32")]
            PrivateKey::Es256(..) => {
                return Err(TokenError::Unverifiable("ES256 is checked by the platform's crypto".into()))
            }
            #[cfg(not(target_arch = "wasm32"))]
            PrivateKey::Ed25519(k) => match k.private() {
                Ok(k) => Ed25519.validator(&k.verifying_key()).validate(untrusted),
                Err(_) => return Err(TokenError::BadSignature),
            },
            #[cfg(target_arch = "wasm32")]
            PrivateKey::Ed25519(_) => {
                return Err(TokenError::Unverifiable("Ed25519 is checked by the platform's crypto".into()))
            }
        };
        checked.map_err(|_| TokenError::BadSignature)
    }
}

/// An algorithm (`RS256`, `ES256`) whose signature is made elsewhere: jwt-compact serialises
/// header and claims and hands over the JWS signing input, which is captured here; the token
/// gets an empty signature that the caller replaces.
struct Captured {
    name: &'static str,
    input: std::cell::RefCell<Vec<u8>>,
}

impl Captured {
    fn new(alg: Alg) -> Self {
        Captured { name: alg.name(), input: Default::default() }
    }
}

struct NoSignature;

impl jwt_compact::AlgorithmSignature for NoSignature {
    fn try_from_slice(_: &[u8]) -> anyhow::Result<Self> {
        Ok(NoSignature)
    }
    fn as_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&[])
    }
}

impl jwt_compact::Algorithm for Captured {
    type SigningKey = ();
    type VerifyingKey = ();
    type Signature = NoSignature;

    fn name(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(self.name)
    }
    fn sign(&self, _: &(), message: &[u8]) -> NoSignature {
        *self.input.borrow_mut() = message.to_vec();
        NoSignature
    }
    fn verify_signature(&self, _: &NoSignature, _: &(), _: &[u8]) -> bool {
        false
    }
}

/// keyedge's keys: one active key per algorithm, plus retired (`previous`) and upcoming
/// (`next`) keys that are published in the JWKS so that rotation needs no downtime: tokens
/// signed before a rotation verify until they expire, and relying parties already cache the
/// next key when it becomes active.
pub struct Keyring {
    active: Vec<SigningKey>,
    published: Vec<SigningKey>,
    /// Written on first use (`/jwks`), like the keys' `kid`s.
    jwks: OnceLock<String>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("active", &self.active).field("published", &self.published).finish()
    }
}

impl Keyring {
    /// `active` keys sign (at most one per algorithm); `others` are only published.
    pub fn new(active: Vec<SigningKey>, others: Vec<SigningKey>) -> Self {
        Keyring { active, published: others, jwks: OnceLock::new() }
    }

    /// Every key: the active ones in the order given, then the published-only ones.
    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        self.active.iter().chain(self.published.iter())
    }

    /// Makes every key's public half known (an Ed25519 key's is computed by `crypto`,
    /// WebCrypto in the Worker, else in Rust): awaited before anything that names or publishes
    /// keys by `kid` — signing, `/jwks`, checking keyedge's own tokens. Once per isolate.
    pub async fn ready(&self, crypto: Option<&dyn PlatformCrypto>) -> Result<(), PortError> {
        for key in self.all() {
            key.ready(crypto).await?;
        }
        Ok(())
    }

    /// The JWK Set document (public keys only), after [`Keyring::ready`] (natively at once).
    /// A key whose public half is not known yet is left out, and the document is not kept.
    pub fn jwks_json(&self) -> std::borrow::Cow<'_, str> {
        if let Some(jwks) = self.jwks.get() {
            return jwks.as_str().into();
        }
        let keys: Vec<Option<Value>> = self.all().map(SigningKey::jwk_entry).collect();
        let complete = keys.iter().all(Option::is_some);
        let jwks = json!({ "keys": keys.into_iter().flatten().collect::<Vec<_>>() }).to_string();
        if complete {
            self.jwks.get_or_init(|| jwks).as_str().into()
        } else {
            jwks.into()
        }
    }

    /// The JWK Set document once [`Keyring::ready`] has made every key's public half known,
    /// else `None`.
    pub fn jwks_if_ready(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.all().all(SigningKey::is_ready).then(|| self.jwks_json())
    }

    pub fn algorithms(&self) -> Vec<Alg> {
        self.active.iter().map(SigningKey::alg).collect()
    }

    pub fn active(&self, alg: Alg) -> Option<&SigningKey> {
        self.active.iter().find(|k| k.alg() == alg)
    }

    fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.all().find(|k| k.kid() == kid)
    }

    /// Signs `custom` claims with the active key for `alg`, `iat = now`, `exp = now + lifetime`.
    /// Falls back to the RS256 key, which every keyring has.
    ///
    /// With a `crypto` port, RS256, ES256 and EdDSA signatures come from it (WebCrypto in the
    /// Worker); jwt-compact still assembles the token.
    pub async fn sign<T: Serialize>(
        &self,
        crypto: Option<&dyn PlatformCrypto>,
        alg: Alg,
        typ: Option<&str>,
        custom: T,
        now: i64,
        lifetime: u64,
    ) -> Result<String, PortError> {
        let Some(key) = self.active(alg).or_else(|| self.active.first()) else {
            return Ok(String::new());
        };
        key.ready(crypto).await?; // the `kid` below
        let mut header = Header::empty().with_key_id(key.kid());
        if let Some(typ) = typ {
            header = header.with_token_type(typ);
        }
        key.sign_by(crypto, &header, custom, now, lifetime).await
    }

    fn verify_signature<T: DeserializeOwned + Clone>(
        &self,
        token: &str,
        typ: Option<&str>,
    ) -> Result<Token<T>, TokenError> {
        let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
        self.own_key(&untrusted, typ)?.validate(&untrusted)
    }

    /// The key a token of keyedge's own names by `kid`, if the token's `alg` is that key's and
    /// its `typ` the one asked for; `None` asks for an ID token, which keyedge signs without a
    /// `typ` (`JWT` is taken too): not an access token (`at+jwt`), a logout token or the gate's
    /// identity assertion, which carry `sub` and `sid` as well.
    fn own_key(&self, untrusted: &UntrustedToken<'_>, typ: Option<&str>) -> Result<&SigningKey, TokenError> {
        let key =
            untrusted.header().key_id.as_deref().and_then(|kid| self.by_kid(kid)).ok_or(TokenError::UnknownKey)?;
        if untrusted.algorithm() != key.alg().name() {
            return Err(TokenError::UnsupportedAlgorithm(untrusted.algorithm().to_owned()));
        }
        let written = untrusted.header().token_type.as_deref();
        let fits = match typ {
            Some(typ) => written == Some(typ),
            None => written.is_none_or(|t| t.eq_ignore_ascii_case("JWT")),
        };
        if !fits {
            return Err(TokenError::WrongType);
        }
        Ok(key)
    }

    /// Like [`Keyring::verify_own`], with RS256 and ES256 checked by `crypto` (WebCrypto) when
    /// given.
    pub async fn verify_own_with<T: DeserializeOwned + Clone>(
        &self,
        crypto: Option<&dyn PlatformCrypto>,
        token: &str,
        typ: &str,
        now: i64,
    ) -> Result<T, TokenError> {
        self.verify_own_by(crypto, token, Some(typ), Some(now)).await
    }

    /// Like [`Keyring::verify_id_token_hint`], with RS256 and ES256 checked by `crypto`
    /// (WebCrypto) when given: the `id_token_hint` of an authorization or logout request.
    pub async fn verify_id_token_hint_with<T: DeserializeOwned + Clone>(
        &self,
        crypto: Option<&dyn PlatformCrypto>,
        token: &str,
    ) -> Result<T, TokenError> {
        self.verify_own_by(crypto, token, None, None).await
    }

    /// A token of keyedge's own: its key by `kid`, its `alg` that key's, its `typ` the one asked
    /// for (`None`: an ID token), its signature (by `crypto` for RS256 and ES256 when given), its times when `now`
    /// is given.
    async fn verify_own_by<T: DeserializeOwned + Clone>(
        &self,
        crypto: Option<&dyn PlatformCrypto>,
        token: &str,
        typ: Option<&str>,
        now: Option<i64>,
    ) -> Result<T, TokenError> {
        let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
        // Every key's `kid` must be known before one is picked by it.
        self.ready(crypto).await.map_err(|e| TokenError::Unverifiable(e.to_string()))?;
        let key = self.own_key(&untrusted, typ)?;
        let alg = match key.alg() {
            Alg::RS256 => SignatureAlg::Rs256,
            Alg::ES256 => SignatureAlg::Es256,
            Alg::EdDSA => SignatureAlg::EdDsa,
        };
        let claims: Claims<T> = match (crypto, key.spki()) {
            (Some(crypto), Some(spki)) => {
                verify_signature_externally(crypto, alg, &spki, token, &untrusted).await?;
                untrusted.deserialize_claims_unchecked().map_err(|_| TokenError::Malformed)?
            }
            _ => key.validate::<T>(&untrusted)?.claims().clone(),
        };
        if let Some(now) = now {
            check_times(&claims, now, 0)?;
        }
        Ok(claims.custom)
    }

    /// Verifies a token keyedge signed itself (access tokens at /userinfo), with any of its
    /// published keys.
    pub fn verify_own<T: DeserializeOwned + Clone>(&self, token: &str, typ: &str, now: i64) -> Result<T, TokenError> {
        let token: Token<T> = self.verify_signature(token, Some(typ))?;
        check_times(token.claims(), now, 0)?;
        Ok(token.claims().custom.clone())
    }

    /// An ID token of keyedge's own (no `typ`, or `JWT`), its signature but not its lifetime:
    /// for `id_token_hint`, which may name an expired ID token (OIDC Core §3.1.2.1).
    pub fn verify_id_token_hint<T: DeserializeOwned + Clone>(&self, token: &str) -> Result<T, TokenError> {
        let token: Token<T> = self.verify_signature(token, None)?;
        Ok(token.claims().custom.clone())
    }

    /// `exp` of a token keyedge signed (already verified by the caller).
    pub fn expiry_of(&self, token: &str) -> Option<i64> {
        let untrusted = UntrustedToken::new(token).ok()?;
        let claims = untrusted.deserialize_claims_unchecked::<jwt_compact::Empty>().ok()?;
        claims.expiration.map(|e| e.timestamp())
    }
}

/// The SubjectPublicKeyInfo DER (RFC 5280 §4.1) of the public key `key` under the algorithm
/// `oid` with its `parameters`: how a public key is handed to the platform's crypto.
pub(super) fn spki_der(
    oid: p256::pkcs8::ObjectIdentifier,
    parameters: Option<p256::pkcs8::der::asn1::AnyRef<'_>>,
    key: &[u8],
) -> Result<Vec<u8>, p256::pkcs8::der::Error> {
    use p256::pkcs8::der::Encode;
    use p256::pkcs8::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
    let subject_public_key = p256::pkcs8::der::asn1::BitStringRef::from_bytes(key)?;
    SubjectPublicKeyInfoRef { algorithm: AlgorithmIdentifierRef { oid, parameters }, subject_public_key }.to_der()
}

fn timestamp(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// An RSA check asked of Rust in a Worker that does RSA with WebCrypto only (without SAML):
/// the core always hands it the platform's crypto there, so this is not reached.
#[cfg(not(keyedge_rsa))]
fn rsa_elsewhere() -> TokenError {
    TokenError::Unverifiable("RSA is checked by the platform's crypto (WebCrypto)".into())
}

/// Why a token was refused. Each case has its own message, shown on the error page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    UnsupportedAlgorithm(String),
    UnknownKey,
    BadSignature,
    WrongType,
    Expired,
    NotYetValid,
    MissingExpiry,
    WrongIssuer,
    WrongAudience,
    WrongAuthorizedParty,
    WrongNonce,
    /// The signature could not be checked (the verifier failed), which is not a verdict.
    Unverifiable(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed => f.write_str("the token is not a well-formed JWT"),
            TokenError::UnsupportedAlgorithm(a) => {
                write!(f, "the token's algorithm `{a}` is not accepted")
            }
            TokenError::UnknownKey => f.write_str("the token was signed with a key the provider does not publish"),
            TokenError::BadSignature => f.write_str("the token's signature is invalid"),
            TokenError::WrongType => f.write_str("the token has the wrong type"),
            TokenError::Expired => f.write_str("the token has expired"),
            TokenError::NotYetValid => f.write_str("the token is not valid yet"),
            TokenError::MissingExpiry => f.write_str("the token has no expiry"),
            TokenError::WrongIssuer => f.write_str("the token was issued by someone else"),
            TokenError::WrongAudience => f.write_str("the token was issued for another client"),
            TokenError::WrongAuthorizedParty => f.write_str("the token's authorized party is another client"),
            TokenError::WrongNonce => f.write_str("the token's nonce does not match this login"),
            TokenError::Unverifiable(e) => write!(f, "the token's signature could not be checked ({e})"),
        }
    }
}

pub(crate) fn check_times<T>(claims: &Claims<T>, now: i64, skew: i64) -> Result<(), TokenError> {
    let exp = claims.expiration.ok_or(TokenError::MissingExpiry)?.timestamp();
    if now > exp + skew {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = claims.not_before {
        if now + skew < nbf.timestamp() {
            return Err(TokenError::NotYetValid);
        }
    }
    if let Some(iat) = claims.issued_at {
        if now + skew < iat.timestamp() {
            return Err(TokenError::NotYetValid);
        }
    }
    Ok(())
}

/// `at_hash` / `c_hash` for RS256/ES256: the left half of SHA-256, base64url (OIDC Core §3.1.3.6).
pub fn half_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    b64url(&digest[..16])
}

/// `at_hash` for a token signed with `alg`: Ed25519 uses SHA-512 (OpenID Connect Core
/// errata, as implemented by certified OPs), the others SHA-256.
pub fn half_hash_for(alg: Alg, value: &str) -> String {
    match alg {
        Alg::EdDSA => b64url(&sha2::Sha512::digest(value.as_bytes())[..32]),
        Alg::RS256 | Alg::ES256 => half_hash(value),
    }
}
