//! RSA, P-256 and Ed25519 private keys read from PEM. Reading checks the key's shape (PEM,
//! PKCS#8 or PKCS#1, the algorithm, the size) and takes an RSA key's public half from the DER
//! as written; the arithmetic a private-key operation in Rust needs (RSA's CRT values, the
//! check that the written public key is the private key's) is done on first use. A P-256 or
//! Ed25519 key's public half is derived from its private half when first needed, by the
//! platform's crypto in the Worker ([`P256Key::ready`], [`Ed25519Key::ready`]), and published
//! only if it agrees with what the key writes.
//!
//! Why: in the Worker, WebCrypto signs with the PKCS#8 DER, so this arithmetic is never
//! needed there, and it was most of an isolate's cold first request (issue 20: ~20 ms for one
//! RSA key's modular inverse in not-yet-optimised wasm). `keyedge check` still does all of it
//! ([`RsaKey::check`], [`P256Key::check`]): a key whose halves disagree is refused before it
//! is deployed.

use p256::pkcs8::der::{Decode, Encode};
#[cfg(any(not(target_arch = "wasm32"), keyedge_saml, keyedge_rsa))]
use p256::pkcs8::DecodePrivateKey;
use p256::pkcs8::{ObjectIdentifier, PrivateKeyInfo};
use std::sync::OnceLock;
use zeroize::Zeroizing;

use super::rsa_public::{RsaPublic, RSA_ENCRYPTION};
use crate::core::ports::{PlatformCrypto, PortError};
/// id-ecPublicKey and the curve prime256v1 (RFC 5480 §2.1.1, §2.1.1.1).
pub(super) const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(super) const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// id-Ed25519 (RFC 8410 §3).
pub(super) const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A private key of one of the kinds read here; `None` for a PKCS#8 key of another algorithm.
pub enum Private {
    Rsa(RsaKey),
    P256(P256Key),
    Ed25519(Ed25519Key),
}

impl Private {
    /// Reads a PEM `PRIVATE KEY` (PKCS#8: RSA, EC P-256 or Ed25519) or `RSA PRIVATE KEY`
    /// (PKCS#1).
    /// `Ok(None)`: PKCS#8 of another algorithm.
    pub fn from_pem(pem: &str) -> Result<Option<Self>, String> {
        let (label, doc) = p256::pkcs8::SecretDocument::from_pem(pem).map_err(|e| e.to_string())?;
        match label {
            "PRIVATE KEY" => Self::from_pkcs8_der(doc.as_bytes()),
            "RSA PRIVATE KEY" => RsaKey::from_pkcs1_der(doc.as_bytes()).map(|k| Some(Private::Rsa(k))),
            other => Err(format!("a PEM \"{other}\" is not a private key")),
        }
    }

    /// Reads a PKCS#8 DER private key; `Ok(None)` if it is neither RSA, EC P-256 nor Ed25519.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Option<Self>, String> {
        let info = PrivateKeyInfo::from_der(der).map_err(|e| e.to_string())?;
        if info.algorithm.oid == RSA_ENCRYPTION {
            let public = rsa_public(info.private_key)?;
            return Ok(Some(Private::Rsa(RsaKey::new(public, der.to_vec()))));
        }
        if info.algorithm.oid == EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|e| e.to_string())?;
            if curve != PRIME256V1 {
                return Err(format!("the EC curve {curve} is not P-256"));
            }
            return P256Key::from_pkcs8_der(der, info.private_key).map(|k| Some(Private::P256(k)));
        }
        if info.algorithm.oid == ED25519 {
            return Ed25519Key::from_pkcs8_der(der).map(|k| Some(Private::Ed25519(k)));
        }
        Ok(None)
    }
}

/// The public half of a PKCS#1 `RSAPrivateKey`, as written in it.
fn rsa_public(pkcs1_der: &[u8]) -> Result<RsaPublic, String> {
    let key = pkcs1::RsaPrivateKey::from_der(pkcs1_der).map_err(|e| e.to_string())?;
    if key.other_prime_infos.is_some() {
        return Err("multi-prime RSA keys are not supported".into());
    }
    RsaPublic::new(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

/// An RSA private key: its public half and PKCS#8 DER at once; where RSA is done in Rust
/// (`cfg(keyedge_rsa)`: natively and with SAML), the `rsa` crate's key (CRT values computed,
/// consistency checked) on first use. The Worker without SAML signs with WebCrypto only.
#[derive(Clone)]
pub struct RsaKey {
    public: RsaPublic,
    der: Zeroizing<Vec<u8>>,
    #[cfg(keyedge_rsa)]
    private: OnceLock<Result<Box<rsa::RsaPrivateKey>, String>>,
}

impl RsaKey {
    fn new(public: RsaPublic, der: Vec<u8>) -> Self {
        RsaKey {
            public,
            der: Zeroizing::new(der),
            #[cfg(keyedge_rsa)]
            private: OnceLock::new(),
        }
    }

    /// From a PKCS#1 DER `RSAPrivateKey`, kept as PKCS#8 (what WebCrypto imports).
    pub fn from_pkcs1_der(pkcs1: &[u8]) -> Result<Self, String> {
        let public = rsa_public(pkcs1)?;
        let info = PrivateKeyInfo::new(
            p256::pkcs8::AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(p256::pkcs8::der::asn1::AnyRef::NULL),
            },
            pkcs1,
        );
        let der = info.to_der().map_err(|e| e.to_string())?;
        Ok(RsaKey::new(public, der))
    }

    pub fn public(&self) -> &RsaPublic {
        &self.public
    }

    pub fn bits(&self) -> usize {
        self.public.bits()
    }

    /// The PKCS#8 DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The key for a private-key operation in Rust, read fully the first time.
    #[cfg(keyedge_rsa)]
    pub fn private(&self) -> Result<&rsa::RsaPrivateKey, String> {
        self.private
            .get_or_init(|| {
                let key = rsa::RsaPrivateKey::from_pkcs8_der(&self.der)
                    .map_err(|e| format!("the key's parts do not hold together ({e})"))?;
                if &key.to_public_key() != self.public.key() {
                    return Err("the key's public half does not match its private half".into());
                }
                Ok(Box::new(key))
            })
            .as_deref()
            .map_err(Clone::clone)
    }

    /// Reads the key fully now (`keyedge check`): the primes, the CRT values and the public half
    /// agree.
    #[cfg(keyedge_rsa)]
    pub fn check(&self) -> Result<(), String> {
        self.private().map(|_| ())
    }
}

/// A P-256 private key: its PKCS#8 DER and, if the key carries it, its public point as
/// written (SEC1); the public point itself when first needed. In the Worker that is WebCrypto's
/// work ([`P256Key::ready`]: import, export as JWK), which also signs: the wasm carries no
/// P-256 arithmetic for keyedge's own key. Natively, `p256` computes it from the scalar
/// (tests, `keyedge check`, SAML's signatures). Either way the point is published only once it
/// is found to be the scalar's, so a key whose written point is another key's never publishes
/// it (natively, a written point off the curve is refused on reading).
#[derive(Clone)]
pub struct P256Key {
    /// The public point as the key writes it, if it does.
    written: Option<WrittenPoint>,
    der: Zeroizing<Vec<u8>>,
    /// The public point (SEC1 uncompressed: `04 ‖ x ‖ y`), once derived from the scalar.
    public: OnceLock<[u8; 65]>,
    /// The public point's SPKI DER, encoded on first use.
    spki: OnceLock<Vec<u8>>,
    #[cfg(any(not(target_arch = "wasm32"), keyedge_saml))]
    private: OnceLock<Result<p256::ecdsa::SigningKey, String>>,
}

impl P256Key {
    fn from_pkcs8_der(der: &[u8], sec1_der: &[u8]) -> Result<Self, String> {
        let ec = sec1::EcPrivateKey::from_der(sec1_der).map_err(|e| e.to_string())?;
        if let Some(curve) = ec.parameters.and_then(|p| p.named_curve()) {
            if curve != PRIME256V1 {
                return Err(format!("the EC curve {curve} is not P-256"));
            }
        }
        let written = match ec.public_key {
            Some(point) => {
                #[cfg(not(target_arch = "wasm32"))]
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|e| e.to_string())?;
                Some(WrittenPoint::read(point).ok_or("the key's public point is not a SEC1 point of P-256")?)
            }
            None => None,
        };
        Ok(P256Key {
            written,
            der: Zeroizing::new(der.to_vec()),
            public: OnceLock::new(),
            spki: OnceLock::new(),
            #[cfg(any(not(target_arch = "wasm32"), keyedge_saml))]
            private: OnceLock::new(),
        })
    }

    /// Whether `derived` (uncompressed) is the point the key wrote, if it wrote one.
    fn agrees(&self, derived: &[u8; 65]) -> bool {
        match &self.written {
            None => true,
            Some(WrittenPoint::Uncompressed(point)) => point == derived,
            Some(WrittenPoint::Compressed { y_odd, x }) => x[..] == derived[1..33] && *y_odd == (derived[64] & 1 == 1),
        }
    }

    /// The public point (SEC1 uncompressed), if known: in the Worker after
    /// [`P256Key::ready`]; natively computed on demand.
    pub fn public(&self) -> Option<&[u8; 65]> {
        if let Some(public) = self.public.get() {
            return Some(public);
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Ok(key) = self.private() {
            return Some(self.public.get_or_init(|| uncompressed(key)));
        }
        None
    }

    /// The public point's coordinates (x, y), once known.
    pub fn coordinates(&self) -> Option<(&[u8], &[u8])> {
        self.public().map(|p| (&p[1..33], &p[33..]))
    }

    /// The public point as SPKI DER (what the platform checks keyedge's own ES256 tokens
    /// with), once the point is known; encoded once, not per token.
    pub fn spki(&self) -> Option<&[u8]> {
        let public = self.public()?;
        if let Some(spki) = self.spki.get() {
            return Some(spki);
        }
        let spki = super::spki_der(EC_PUBLIC_KEY, Some((&PRIME256V1).into()), public).ok()?;
        Some(self.spki.get_or_init(|| spki))
    }

    /// Whether [`Self::ready`] has made the public half known (so it returns at once).
    pub fn is_ready(&self) -> bool {
        self.public.get().is_some()
    }

    /// Makes the public point known: by `crypto` (WebCrypto in the Worker) when given, else in
    /// Rust (natively). A written point that is not the derived one is refused. This compares
    /// the platform's derivation, so it holds as far as the platform derives from the scalar
    /// (a platform that exported the written point unchecked would defeat it); `keyedge
    /// check`, which `make deploy` runs, computes the point from the scalar in Rust and
    /// refuses such a key before it is deployed.
    pub async fn ready(&self, crypto: Option<&dyn PlatformCrypto>) -> Result<(), PortError> {
        if self.public.get().is_some() {
            return Ok(());
        }
        let derived = match crypto {
            Some(crypto) => crypto.p256_public(&self.der).await?,
            #[cfg(not(target_arch = "wasm32"))]
            None => uncompressed(self.private().map_err(PortError)?),
            #[cfg(target_arch = "wasm32")]
            None => return Err(PortError("P-256 keys need the platform's crypto".into())),
        };
        if !self.agrees(&derived) {
            return Err(PortError("the P-256 key's public point does not match its private scalar".into()));
        }
        let _ = self.public.set(derived);
        Ok(())
    }

    /// The PKCS#8 DER (what WebCrypto imports).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The signing key, read fully the first time (and checked against the written point).
    #[cfg(any(not(target_arch = "wasm32"), keyedge_saml))]
    pub fn private(&self) -> Result<&p256::ecdsa::SigningKey, String> {
        self.private
            .get_or_init(|| {
                let secret = p256::SecretKey::from_pkcs8_der(&self.der)
                    .map_err(|e| format!("the key's parts do not hold together ({e})"))?;
                let key = p256::ecdsa::SigningKey::from(secret);
                if !self.agrees(&uncompressed(&key)) {
                    return Err("the key's public point does not match its private scalar".into());
                }
                Ok(key)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Reads the key fully now (`keyedge check`, SAML's keys).
    #[cfg(any(not(target_arch = "wasm32"), keyedge_saml))]
    pub fn check(&self) -> Result<(), String> {
        self.private().map(|_| ())
    }
}

/// A P-256 public point as a key writes it (SEC1 §2.3.3).
#[derive(Clone)]
enum WrittenPoint {
    /// `04 ‖ x ‖ y`.
    Uncompressed([u8; 65]),
    /// `02` (y even) or `03` (y odd) ‖ x.
    Compressed { y_odd: bool, x: [u8; 32] },
}

impl WrittenPoint {
    fn read(sec1: &[u8]) -> Option<Self> {
        match sec1 {
            [4, ..] => Some(WrittenPoint::Uncompressed(sec1.try_into().ok()?)),
            [prefix @ (2 | 3), x @ ..] => Some(WrittenPoint::Compressed { y_odd: *prefix == 3, x: x.try_into().ok()? }),
            _ => None,
        }
    }
}

/// A P-256 key's public point, SEC1 uncompressed.
#[cfg(any(not(target_arch = "wasm32"), keyedge_saml))]
fn uncompressed(key: &p256::ecdsa::SigningKey) -> [u8; 65] {
    let point = key.verifying_key().to_encoded_point(false);
    let mut out = [0u8; 65];
    out.copy_from_slice(point.as_bytes());
    out
}

/// An Ed25519 private key: its seed and PKCS#8 DER at once; its public half (a curve
/// multiplication of the seed) when first needed. In the Worker that is WebCrypto's work
/// ([`Ed25519Key::ready`]: import, export as JWK), which also signs and checks: the wasm
/// carries no curve code. Natively, `ed25519-dalek` computes it (tests, `keyedge check`).
/// A PKCS#8 v2 key that carries its public half (rare: OpenSSL writes v1) is published only
/// once that half is found to be its seed's, so a key that would publish another key's public
/// half never does (natively: refused on reading, as ed25519-dalek always did).
pub struct Ed25519Key {
    /// The seed, for the in-process arithmetic (natively; the Worker hands WebCrypto the DER).
    #[cfg(not(target_arch = "wasm32"))]
    seed: Zeroizing<[u8; 32]>,
    written: Option<[u8; 32]>,
    der: Zeroizing<Vec<u8>>,
    /// The public half, once computed (and, for a v2 key, found equal to the written one).
    public: OnceLock<[u8; 32]>,
    /// The public half's SPKI DER, encoded on first use.
    spki: OnceLock<Vec<u8>>,
    #[cfg(not(target_arch = "wasm32"))]
    private: OnceLock<Result<Box<ed25519_dalek::SigningKey>, String>>,
}

impl Ed25519Key {
    /// Reads a PKCS#8 DER private key (RFC 8410) of the Ed25519 algorithm.
    fn from_pkcs8_der(der: &[u8]) -> Result<Self, String> {
        use ed25519::pkcs8::{DecodePrivateKey as _, KeypairBytes};
        let bytes = KeypairBytes::from_pkcs8_der(der).map_err(|e| e.to_string())?;
        let key = Ed25519Key {
            #[cfg(not(target_arch = "wasm32"))]
            seed: Zeroizing::new(bytes.secret_key),
            written: bytes.public_key.map(|p| p.to_bytes()),
            der: Zeroizing::new(der.to_vec()),
            public: OnceLock::new(),
            spki: OnceLock::new(),
            #[cfg(not(target_arch = "wasm32"))]
            private: OnceLock::new(),
        };
        #[cfg(not(target_arch = "wasm32"))]
        if key.written.is_some() {
            key.check()?;
        }
        Ok(key)
    }

    /// The PKCS#8 DER (what WebCrypto imports).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The public key (RFC 8032 encoding), if known: in the Worker after [`Ed25519Key::ready`];
    /// natively computed on demand.
    pub fn public(&self) -> Option<[u8; 32]> {
        if let Some(public) = self.public.get() {
            return Some(*public);
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Ok(key) = self.private() {
            return Some(*self.public.get_or_init(|| key.verifying_key().to_bytes()));
        }
        None
    }

    /// The public half as SPKI DER (what the platform checks keyedge's own EdDSA tokens with),
    /// once the half is known; encoded once, not per token.
    pub fn spki(&self) -> Option<&[u8]> {
        let public = self.public()?;
        Some(self.spki.get_or_init(|| super::jwks::ed25519_spki_der(&public)))
    }

    /// Whether [`Self::ready`] has made the public half known (so it returns at once).
    pub fn is_ready(&self) -> bool {
        self.public.get().is_some()
    }

    /// Makes the public half known: by `crypto` (WebCrypto in the Worker) when given, else in
    /// Rust (natively). A written public half that is not the seed's is refused.
    pub async fn ready(&self, crypto: Option<&dyn PlatformCrypto>) -> Result<(), PortError> {
        if self.public.get().is_some() {
            return Ok(());
        }
        let derived = match crypto {
            Some(crypto) => crypto.ed25519_public(&self.der).await?,
            #[cfg(not(target_arch = "wasm32"))]
            None => self.private().map_err(PortError)?.verifying_key().to_bytes(),
            #[cfg(target_arch = "wasm32")]
            None => return Err(PortError("Ed25519 keys need the platform's crypto".into())),
        };
        if self.written.is_some_and(|written| written != derived) {
            return Err(PortError("the Ed25519 key's public half does not match its seed".into()));
        }
        let _ = self.public.set(derived);
        Ok(())
    }

    /// The signing key, computed the first time (and checked against the written public half).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn private(&self) -> Result<&ed25519_dalek::SigningKey, String> {
        self.private
            .get_or_init(|| {
                let key = ed25519_dalek::SigningKey::from_bytes(&self.seed);
                if self.written.is_some_and(|w| w != key.verifying_key().to_bytes()) {
                    return Err("the key's public half does not match its seed".into());
                }
                Ok(Box::new(key))
            })
            .as_deref()
            .map_err(Clone::clone)
    }

    /// Reads the key fully now (`keyedge check`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn check(&self) -> Result<(), String> {
        self.private().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::der::pem::LineEnding;
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    use rsa::RsaPrivateKey;

    const RSA: &str = include_str!("../../../tests/fixtures/keyedge-test-key.pem");
    const OTHER_RSA: &str = include_str!("../../../tests/fixtures/upstream-test-key.pem");
    const P256: &str = include_str!("../../../tests/fixtures/es256-test-key.pem");

    fn rsa(pem: &str) -> RsaKey {
        match Private::from_pem(pem) {
            Ok(Some(Private::Rsa(k))) => k,
            _ => panic!("an RSA key"),
        }
    }

    fn p256_key(der: &[u8]) -> P256Key {
        match Private::from_pkcs8_der(der) {
            Ok(Some(Private::P256(k))) => k,
            Ok(_) => panic!("a P-256 key"),
            Err(e) => panic!("a P-256 key: {e}"),
        }
    }

    /// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 PEM.
    fn pkcs1_of(pem: &str) -> Vec<u8> {
        let (_, doc) = rsa::pkcs8::SecretDocument::from_pem(pem).expect("pem");
        PrivateKeyInfo::from_der(doc.as_bytes()).expect("pkcs8").private_key.to_vec()
    }

    #[test]
    fn rsa_public_half_is_read_without_the_private_arithmetic() {
        let key = rsa(RSA);
        let whole = RsaPrivateKey::from_pkcs8_pem(RSA).expect("rsa");
        assert_eq!(key.public().key(), &whole.to_public_key());
        assert_eq!(key.bits(), 2048);
        assert!(key.private.get().is_none(), "nothing but the public half is computed on reading");
        assert_eq!(key.private().expect("whole key"), &whole);
        assert!(key.check().is_ok());
    }

    #[test]
    fn rsa_pkcs1_pem_is_kept_as_pkcs8() {
        let whole = RsaPrivateKey::from_pkcs8_pem(RSA).expect("rsa");
        let pkcs1 = pkcs1_of(RSA);
        let pem = rsa::pkcs8::der::pem::encode_string("RSA PRIVATE KEY", LineEnding::LF, &pkcs1).expect("pem");
        let key = rsa(&pem);
        assert_eq!(key.public().key(), &whole.to_public_key());
        assert_eq!(key.der(), whole.to_pkcs8_der().expect("der").as_bytes(), "WebCrypto imports PKCS#8");
        assert!(key.check().is_ok());
    }

    /// A key whose written modulus is another key's: readable, but refused whole (by `keyedge
    /// check` and by any private-key operation in Rust).
    #[test]
    fn rsa_key_whose_halves_disagree_is_refused_on_use_and_by_check() {
        let other = rsa(OTHER_RSA);
        let modulus = other.public().key().n().to_bytes_be();
        let (_, doc) = rsa::pkcs8::SecretDocument::from_pem(RSA).expect("pem");
        let info = PrivateKeyInfo::from_der(doc.as_bytes()).expect("pkcs8");
        let mut written = rsa::pkcs1::RsaPrivateKey::from_der(info.private_key).expect("pkcs1");
        written.modulus = rsa::pkcs1::UintRef::new(&modulus).expect("uint");
        let pkcs1 = written.to_der().expect("der");
        let key = RsaKey::from_pkcs1_der(&pkcs1).expect("its shape is fine");
        assert_eq!(key.public(), other.public());
        assert!(key.check().is_err());
        assert!(key.private().is_err());
    }

    #[test]
    fn what_is_not_a_private_key_is_refused() {
        assert!(Private::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
        assert!(Private::from_pem("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n").is_err());
    }

    fn p256_der() -> Vec<u8> {
        let (_, doc) = rsa::pkcs8::SecretDocument::from_pem(P256).expect("pem");
        doc.as_bytes().to_vec()
    }

    /// The PKCS#8 of the P-256 fixture with its SEC1 public point replaced (or dropped).
    fn p256_with_point(point: Option<&[u8]>) -> Vec<u8> {
        let der = p256_der();
        let info = PrivateKeyInfo::from_der(&der).expect("pkcs8");
        let mut ec = sec1::EcPrivateKey::from_der(info.private_key).expect("sec1");
        ec.public_key = point;
        let sec1_der = ec.to_der().expect("der");
        PrivateKeyInfo::new(info.algorithm, &sec1_der).to_der().expect("der")
    }

    #[test]
    fn p256_public_point_waits_for_first_use() {
        let whole = p256::ecdsa::SigningKey::from_pkcs8_pem(P256).expect("p256");
        let key = p256_key(&p256_der());
        assert!(key.public.get().is_none() && key.private.get().is_none(), "no arithmetic on reading");
        assert_eq!(key.public(), Some(&uncompressed(&whole)));
        assert_eq!(key.private().expect("whole key").verifying_key(), whole.verifying_key());
        assert!(key.check().is_ok());
    }

    /// In the Worker the point comes from the platform (WebCrypto's import and JWK export),
    /// with no P-256 arithmetic in Rust; it is the scalar's, whatever the key writes.
    #[test]
    fn p256_public_point_comes_from_the_platform_in_the_worker() {
        let whole = p256::ecdsa::SigningKey::from_pkcs8_pem(P256).expect("p256");
        for der in [p256_der(), p256_with_point(None)] {
            let key = p256_key(&der);
            assert!(futures::executor::block_on(key.ready(Some(&Derives))).is_ok());
            assert_eq!(key.public.get(), Some(&uncompressed(&whole)));
            assert!(key.private.get().is_none(), "the platform derived it");
        }
    }

    #[test]
    fn p256_key_without_its_point_gets_it_computed() {
        let whole = p256::ecdsa::SigningKey::from_pkcs8_pem(P256).expect("p256");
        let key = p256_key(&p256_with_point(None));
        assert_eq!(key.public(), Some(&uncompressed(&whole)));
        assert!(key.check().is_ok());
    }

    /// A key whose written point is another key's would publish that key in the JWKS under
    /// keyedge's `kid`: it publishes nothing (natively, in the Worker after the platform's
    /// derivation) and is refused by `keyedge check` and by any signature in Rust.
    #[test]
    fn p256_key_with_another_keys_point_is_never_published() {
        let other = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("scalar");
        let point = uncompressed(&other);
        let compressed = other.verifying_key().to_encoded_point(true);
        for written in [&point[..], compressed.as_bytes()] {
            let key = p256_key(&p256_with_point(Some(written)));
            assert_eq!(key.public(), None, "nothing to publish");
            assert!(key.check().is_err());
            assert!(key.private().is_err());
            let in_the_worker = p256_key(&p256_with_point(Some(written)));
            assert!(futures::executor::block_on(in_the_worker.ready(Some(&Derives))).is_err());
            assert!(in_the_worker.public.get().is_none());
        }
    }

    /// A key may write its point compressed (`02`/`03` ‖ x): it agrees with the scalar's
    /// point only with y's parity too.
    #[test]
    fn p256_compressed_point_agrees_only_with_its_parity() {
        let whole = p256::ecdsa::SigningKey::from_pkcs8_pem(P256).expect("p256");
        let compressed = whole.verifying_key().to_encoded_point(true).as_bytes().to_vec();
        let key = p256_key(&p256_with_point(Some(&compressed)));
        assert!(futures::executor::block_on(key.ready(Some(&Derives))).is_ok());
        assert_eq!(key.public(), Some(&uncompressed(&whole)));
        let mut flipped = compressed.clone();
        flipped[0] ^= 1;
        let key = p256_key(&p256_with_point(Some(&flipped)));
        assert!(futures::executor::block_on(key.ready(Some(&Derives))).is_err());
        // Another key's x with this key's parity.
        let other = (1u8..)
            .map(|b| p256::ecdsa::SigningKey::from_slice(&[b; 32]).expect("scalar"))
            .map(|k| k.verifying_key().to_encoded_point(true).as_bytes().to_vec())
            .find(|p| p[0] == compressed[0])
            .expect("half of all points");
        let key = p256_key(&p256_with_point(Some(&other)));
        assert!(futures::executor::block_on(key.ready(Some(&Derives))).is_err());
    }

    /// A written point of the wrong length for its form is refused on reading, in the Worker
    /// too (where no curve arithmetic would notice).
    #[test]
    fn p256_written_point_of_the_wrong_form_is_refused_on_reading() {
        let whole = p256::ecdsa::SigningKey::from_pkcs8_pem(P256).expect("p256");
        let point = uncompressed(&whole);
        let compressed = whole.verifying_key().to_encoded_point(true).as_bytes().to_vec();
        let short_uncompressed = &point[..33];
        let long_compressed = [&compressed[..], &point[33..]].concat();
        for bad in [short_uncompressed, &long_compressed[..], &[5u8; 65][..], &[][..]] {
            assert!(Private::from_pkcs8_der(&p256_with_point(Some(bad))).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn p256_point_off_the_curve_is_refused_on_reading() {
        let mut point = p256::ecdsa::SigningKey::from_slice(&[7u8; 32])
            .expect("scalar")
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        point[64] ^= 1;
        assert!(Private::from_pkcs8_der(&p256_with_point(Some(&point))).is_err());
    }

    const EDDSA: &str = include_str!("../../../tests/fixtures/eddsa-test-key.pem");

    fn ed25519_key(pem: &str) -> Result<Ed25519Key, String> {
        match Private::from_pem(pem)? {
            Some(Private::Ed25519(k)) => Ok(k),
            _ => Err("not an Ed25519 key".into()),
        }
    }

    /// The Ed25519 PEM as PKCS#8 v2 (RFC 8410 §7: `OneAsymmetricKey` with its public key).
    fn eddsa_with_public(public: [u8; 32]) -> String {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey, KeypairBytes, PublicKeyBytes};
        let seed = ed25519_key(EDDSA).expect("ed25519").seed;
        let bytes = KeypairBytes { secret_key: *seed, public_key: Some(PublicKeyBytes(public)) };
        bytes.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string()
    }

    #[test]
    fn ed25519_public_half_waits_for_first_use() {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let whole = ed25519_dalek::SigningKey::from_pkcs8_pem(EDDSA).expect("ed25519");
        let key = ed25519_key(EDDSA).expect("ed25519");
        assert!(key.private.get().is_none(), "no curve multiplication on reading");
        assert_eq!(key.public(), Some(whole.verifying_key().to_bytes()));
        assert_eq!(key.private().expect("key").to_bytes(), whole.to_bytes());
        assert!(key.check().is_ok());
    }

    #[test]
    fn ed25519_key_carrying_its_public_half_publishes_it_and_signs() {
        let public = ed25519_key(EDDSA).expect("ed25519").public().expect("public");
        let key = ed25519_key(&eddsa_with_public(public)).expect("v2");
        assert_eq!(key.public(), Some(public));
        assert!(key.check().is_ok());
    }

    /// A v2 key whose written public half is another key's would publish that key in the JWKS
    /// under keyedge's `kid`: refused on reading, as before the public half became lazy.
    #[test]
    fn ed25519_key_with_another_keys_public_half_is_refused_on_reading() {
        let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key().to_bytes();
        assert!(ed25519_key(&eddsa_with_public(other)).is_err());
    }

    /// The platform's derivation of the public half, as WebCrypto's import and JWK export
    /// give it in the Worker.
    struct Derives;

    #[async_trait::async_trait(?Send)]
    impl PlatformCrypto for Derives {
        async fn sign_rs256(&self, _: &str, _: &[u8], _: &[u8]) -> Result<Vec<u8>, PortError> {
            Err(PortError("not in this test".into()))
        }
        async fn sign_es256(&self, _: &str, _: &[u8], _: &[u8]) -> Result<Vec<u8>, PortError> {
            Err(PortError("not in this test".into()))
        }
        async fn sign_ed25519(&self, _: &str, _: &[u8], _: &[u8]) -> Result<Vec<u8>, PortError> {
            Err(PortError("not in this test".into()))
        }
        async fn ed25519_public(&self, der: &[u8]) -> Result<[u8; 32], PortError> {
            use ed25519_dalek::pkcs8::DecodePrivateKey;
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| PortError(e.to_string()))?;
            Ok(key.verifying_key().to_bytes())
        }
        /// From the scalar alone, whatever point the key writes (p256's own PKCS#8 reader
        /// would refuse a key whose written point is not its scalar's, and so hide what
        /// [`P256Key::agrees`] checks).
        async fn p256_public(&self, der: &[u8]) -> Result<[u8; 65], PortError> {
            let info = PrivateKeyInfo::from_der(der).map_err(|e| PortError(e.to_string()))?;
            let ec = sec1::EcPrivateKey::from_der(info.private_key).map_err(|e| PortError(e.to_string()))?;
            let key = p256::ecdsa::SigningKey::from_slice(ec.private_key).map_err(|e| PortError(e.to_string()))?;
            Ok(uncompressed(&key))
        }
        async fn verify(
            &self,
            _: crate::core::ports::SignatureAlg,
            _: &[u8],
            _: &[u8],
            _: &[u8],
        ) -> Result<bool, PortError> {
            Err(PortError("not in this test".into()))
        }
    }

    /// In the Worker a v2 key is read without arithmetic; [`Ed25519Key::ready`] compares the
    /// platform's derivation with the written half and publishes nothing on a mismatch.
    #[test]
    fn ed25519_written_half_is_checked_against_the_platforms_derivation() {
        let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key().to_bytes();
        let read = ed25519_key(EDDSA).expect("ed25519");
        let own = read.public().expect("public");
        let as_in_the_worker = |written: [u8; 32]| Ed25519Key {
            seed: read.seed.clone(),
            written: Some(written),
            der: read.der.clone(),
            public: OnceLock::new(),
            spki: OnceLock::new(),
            private: OnceLock::new(),
        };
        let tampered = as_in_the_worker(other);
        assert!(futures::executor::block_on(tampered.ready(Some(&Derives))).is_err());
        assert!(tampered.public.get().is_none(), "nothing to publish");
        let fine = as_in_the_worker(own);
        assert!(futures::executor::block_on(fine.ready(Some(&Derives))).is_ok());
        assert_eq!(fine.public.get(), Some(&own));
    }
}
