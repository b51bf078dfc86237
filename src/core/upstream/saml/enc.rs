//! Decryption of a SAML `EncryptedAssertion` (XML Encryption 1.0/1.1, SAML core §6):
//! an `xenc:EncryptedData` (AES-128/256-GCM, or AES-128/256-CBC if allowed) whose key is
//! carried by one `xenc:EncryptedKey` under RSA-OAEP (`rsa-oaep-mgf1p`, `xmlenc11#rsa-oaep`).
//! RSA PKCS#1 v1.5 key transport (`rsa-1_5`) is refused (Bleichenbacher).
//!
//! The RSA private-key step is behind [`KeyUnwrapper`] so that the platform can do it in
//! constant time (Workers WebCrypto): rsa 0.9's private-key operations are not constant
//! time (RUSTSEC-2023-0071). [`RsaOaepKey`] is the pure-Rust implementation (native tests).
//!
//! Anyone holding the SP's public key can encrypt: a decrypted Assertion proves nothing until
//! its own signature verifies ([`super::dsig::verify_enveloped`] on the node from
//! [`decrypted_assertion`]). All failures after the key-transport parameters were read are
//! one error, [`EncError::DecryptFailed`], so that no padding or format oracle is exposed.

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use aes_gcm::aead::{Aead, KeyInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use roxmltree::{Document, Node};
use rsa::Oaep;
use std::fmt;

use super::dsig::{TrustedKey, MIN_RSA_BITS};
use super::xml::{self, XmlError, NS_DS, NS_SAML, NS_XENC, NS_XENC11};
use crate::core::jose::private::{Private, RsaKey};

pub const ALG_AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const ALG_AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const ALG_AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub const ALG_AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const ALG_RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const ALG_RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
pub const ALG_RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";

/// Why an EncryptedAssertion was not decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncError {
    Xml(XmlError),
    /// The EncryptedAssertion does not have the expected shape; the text says what.
    Malformed(&'static str),
    /// None or several EncryptedKeys (one is accepted).
    KeyCount(usize),
    UnsupportedKeyTransport(String),
    UnsupportedContentEncryption(String),
    UnsupportedDigest(String),
    /// AES-CBC content while the IdP's policy allows only AES-GCM.
    CbcNotAllowed,
    /// The key could not be unwrapped, the content did not decrypt or authenticate, or the
    /// plaintext is not UTF-8 XML: deliberately one error.
    DecryptFailed,
    /// The SP key could not be read.
    Key(String),
}

impl fmt::Display for EncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncError::Xml(e) => write!(f, "{e}"),
            EncError::Malformed(what) => write!(f, "the encrypted assertion is malformed: {what}"),
            EncError::KeyCount(n) => {
                write!(f, "the encrypted assertion carries {n} encrypted keys; exactly one is accepted")
            }
            EncError::UnsupportedKeyTransport(a) => write!(f, "unsupported key transport {a:?}"),
            EncError::UnsupportedContentEncryption(a) => write!(f, "unsupported content encryption {a:?}"),
            EncError::UnsupportedDigest(a) => write!(f, "unsupported OAEP digest or MGF {a:?}"),
            EncError::CbcNotAllowed => f.write_str("AES-CBC encrypted assertions are not accepted from this IdP"),
            EncError::DecryptFailed => f.write_str("the encrypted assertion could not be decrypted"),
            EncError::Key(why) => write!(f, "the SP decryption key cannot be read: {why}"),
        }
    }
}

impl std::error::Error for EncError {}

impl From<XmlError> for EncError {
    fn from(e: XmlError) -> Self {
        EncError::Xml(e)
    }
}

/// A hash for RSA-OAEP (the OAEP digest or MGF1's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl OaepHash {
    fn from_digest_uri(uri: &str) -> Result<Self, EncError> {
        match uri {
            "http://www.w3.org/2000/09/xmldsig#sha1" => Ok(Self::Sha1),
            "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(Self::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Ok(Self::Sha384),
            "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(Self::Sha512),
            other => Err(EncError::UnsupportedDigest(other.to_string())),
        }
    }

    fn from_mgf_uri(uri: &str) -> Result<Self, EncError> {
        match uri {
            "http://www.w3.org/2009/xmlenc11#mgf1sha1" => Ok(Self::Sha1),
            "http://www.w3.org/2009/xmlenc11#mgf1sha256" => Ok(Self::Sha256),
            "http://www.w3.org/2009/xmlenc11#mgf1sha384" => Ok(Self::Sha384),
            "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Ok(Self::Sha512),
            other => Err(EncError::UnsupportedDigest(other.to_string())),
        }
    }
}

/// The RSA-OAEP parameters of an EncryptedKey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OaepParams {
    pub digest: OaepHash,
    pub mgf: OaepHash,
    /// `OAEPparams` (the OAEP label), if any.
    pub label: Option<Vec<u8>>,
}

/// A key unwrap failed (deliberately without detail: it becomes [`EncError::DecryptFailed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnwrapFailed;

/// The RSA-OAEP decryption of a wrapped content key with the SP's private key. Implemented
/// by the platform (constant-time WebCrypto) in the Worker and by [`RsaOaepKey`] natively.
pub trait KeyUnwrapper {
    /// The content key, or any error (mapped to [`EncError::DecryptFailed`]).
    fn unwrap_key(&self, params: &OaepParams, wrapped: &[u8]) -> Result<Vec<u8>, UnwrapFailed>;
}

impl<F: Fn(&OaepParams, &[u8]) -> Result<Vec<u8>, UnwrapFailed>> KeyUnwrapper for F {
    fn unwrap_key(&self, params: &OaepParams, wrapped: &[u8]) -> Result<Vec<u8>, UnwrapFailed> {
        self(params, wrapped)
    }
}

/// RSA-OAEP key unwrap with the pure-Rust `rsa` crate. **Not constant time**
/// (RUSTSEC-2023-0071, Marvin): for native tests and platforms without a constant-time RSA.
pub struct RsaOaepKey(RsaKey);

impl RsaOaepKey {
    /// From an unencrypted PKCS#8 PEM RSA private key of at least [`MIN_RSA_BITS`] bits. Its
    /// shape and public half are read now, its arithmetic on the first decryption
    /// ([`RsaOaepKey::check`] does it now).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, EncError> {
        let key = match Private::from_pem(pem).map_err(EncError::Key)? {
            Some(Private::Rsa(key)) => key,
            _ => return Err(EncError::Key("not an RSA private key".into())),
        };
        if key.bits() < MIN_RSA_BITS {
            return Err(EncError::Key(format!("an RSA key of {} bits is too small", key.bits())));
        }
        Ok(RsaOaepKey(key))
    }

    /// Whether `public` (a certificate's key) is this key's public half.
    pub fn is_key_of(&self, public: &TrustedKey) -> bool {
        public.rsa().is_some_and(|p| p == self.0.public().key())
    }

    /// Reads the whole key now, as its first decryption would (`keyedge check`).
    pub fn check(&self) -> Result<(), EncError> {
        self.0.check().map_err(EncError::Key)
    }
}

fn oaep<D>(mgf: OaepHash, label: Option<String>) -> Oaep
where
    D: 'static + sha2::digest::Digest + sha2::digest::DynDigest + sha2::digest::FixedOutputReset + Send + Sync,
{
    let mut o = match mgf {
        OaepHash::Sha1 => Oaep::new_with_mgf_hash::<D, sha1::Sha1>(),
        OaepHash::Sha256 => Oaep::new_with_mgf_hash::<D, sha2::Sha256>(),
        OaepHash::Sha384 => Oaep::new_with_mgf_hash::<D, sha2::Sha384>(),
        OaepHash::Sha512 => Oaep::new_with_mgf_hash::<D, sha2::Sha512>(),
    };
    o.label = label;
    o
}

impl KeyUnwrapper for RsaOaepKey {
    fn unwrap_key(&self, params: &OaepParams, wrapped: &[u8]) -> Result<Vec<u8>, UnwrapFailed> {
        // rsa 0.9 takes the label as a String: a non-UTF-8 label cannot be used with it.
        let label = match &params.label {
            None => None,
            Some(l) => Some(String::from_utf8(l.clone()).map_err(|_| UnwrapFailed)?),
        };
        let padding = match params.digest {
            OaepHash::Sha1 => oaep::<sha1::Sha1>(params.mgf, label),
            OaepHash::Sha256 => oaep::<sha2::Sha256>(params.mgf, label),
            OaepHash::Sha384 => oaep::<sha2::Sha384>(params.mgf, label),
            OaepHash::Sha512 => oaep::<sha2::Sha512>(params.mgf, label),
        };
        self.0.private().map_err(|_| UnwrapFailed)?.decrypt(padding, wrapped).map_err(|_| UnwrapFailed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Gcm { key_len: usize },
    Cbc { key_len: usize },
}

fn base64_text(node: Node, what: &'static str) -> Result<Vec<u8>, EncError> {
    let text = xml::simple_text(node)?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| EncError::Malformed(what))
}

fn cipher_value(parent: Node) -> Result<Vec<u8>, EncError> {
    let data = xml::child(parent, NS_XENC, "CipherData")?.ok_or(EncError::Malformed("no CipherData"))?;
    if xml::child(data, NS_XENC, "CipherReference")?.is_some() {
        return Err(EncError::Malformed("CipherReference is not supported"));
    }
    let value = xml::child(data, NS_XENC, "CipherValue")?.ok_or(EncError::Malformed("no CipherValue"))?;
    base64_text(value, "a CipherValue is not base64")
}

fn algorithm<'a>(method: Node<'a, '_>) -> Result<&'a str, EncError> {
    method.attribute("Algorithm").ok_or(EncError::Malformed("an EncryptionMethod has no Algorithm"))
}

fn oaep_params(key: Node) -> Result<OaepParams, EncError> {
    let method = xml::child(key, NS_XENC, "EncryptionMethod")?
        .ok_or(EncError::Malformed("EncryptedKey has no EncryptionMethod"))?;
    let alg = algorithm(method)?;
    let digest = match xml::child(method, NS_DS, "DigestMethod")? {
        Some(d) => OaepHash::from_digest_uri(algorithm(d)?)?,
        None => OaepHash::Sha1,
    };
    let label = match xml::child(method, NS_XENC, "OAEPparams")? {
        Some(p) => Some(base64_text(p, "OAEPparams is not base64")?),
        None => None,
    };
    let mgf = match alg {
        ALG_RSA_OAEP_MGF1P => OaepHash::Sha1,
        ALG_RSA_OAEP => match xml::child(method, NS_XENC11, "MGF")? {
            Some(m) => OaepHash::from_mgf_uri(algorithm(m)?)?,
            None => OaepHash::Sha1,
        },
        other => return Err(EncError::UnsupportedKeyTransport(other.to_string())),
    };
    Ok(OaepParams { digest, mgf, label })
}

/// Decrypts `encrypted_assertion` (a `saml:EncryptedAssertion`) and returns a standalone
/// XML document: the plaintext inside a `<Decrypted>` root element that re-declares every
/// namespace in scope at the EncryptedAssertion (the plaintext may use prefixes declared on
/// the Response). Parse it with [`xml::parse`] and take [`decrypted_assertion`].
pub fn decrypt_assertion(
    encrypted_assertion: Node,
    unwrapper: &dyn KeyUnwrapper,
    allow_cbc: bool,
) -> Result<String, EncError> {
    if !xml::is(encrypted_assertion, NS_SAML, "EncryptedAssertion") {
        return Err(EncError::Malformed("not a saml:EncryptedAssertion"));
    }
    let data =
        xml::child(encrypted_assertion, NS_XENC, "EncryptedData")?.ok_or(EncError::Malformed("no EncryptedData"))?;
    if data.attribute("Type").is_some_and(|t| t != TYPE_ELEMENT) {
        return Err(EncError::Malformed("EncryptedData is not of Type Element"));
    }
    let method = xml::child(data, NS_XENC, "EncryptionMethod")?
        .ok_or(EncError::Malformed("EncryptedData has no EncryptionMethod"))?;
    let content = match algorithm(method)? {
        ALG_AES128_GCM => Content::Gcm { key_len: 16 },
        ALG_AES256_GCM => Content::Gcm { key_len: 32 },
        ALG_AES128_CBC => Content::Cbc { key_len: 16 },
        ALG_AES256_CBC => Content::Cbc { key_len: 32 },
        other => return Err(EncError::UnsupportedContentEncryption(other.to_string())),
    };
    if matches!(content, Content::Cbc { .. }) && !allow_cbc {
        return Err(EncError::CbcNotAllowed);
    }
    // The EncryptedKey: inside EncryptedData's KeyInfo, or a sibling of EncryptedData.
    let mut keys: Vec<Node> = xml::children(encrypted_assertion, NS_XENC, "EncryptedKey").collect();
    if let Some(key_info) = xml::child(data, NS_DS, "KeyInfo")? {
        keys.extend(xml::children(key_info, NS_XENC, "EncryptedKey"));
    }
    let [key] = keys.as_slice() else {
        return Err(EncError::KeyCount(keys.len()));
    };
    let params = oaep_params(*key)?;
    let wrapped = cipher_value(*key)?;
    let ciphertext = cipher_value(data)?;

    let content_key = unwrapper.unwrap_key(&params, &wrapped).map_err(|_| EncError::DecryptFailed)?;
    let plaintext = match content {
        Content::Gcm { key_len } => decrypt_gcm(key_len, &content_key, &ciphertext),
        Content::Cbc { key_len } => decrypt_cbc(key_len, &content_key, &ciphertext),
    }
    .ok_or(EncError::DecryptFailed)?;
    let plaintext = String::from_utf8(plaintext).map_err(|_| EncError::DecryptFailed)?;

    let mut out = String::from("<Decrypted");
    for ns in encrypted_assertion.namespaces() {
        match ns.name() {
            Some(p) => {
                out.push_str(" xmlns:");
                out.push_str(p);
            }
            None => out.push_str(" xmlns"),
        }
        out.push_str("=\"");
        out.push_str(&ns.uri().replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;"));
        out.push('"');
    }
    out.push('>');
    out.push_str(&plaintext);
    out.push_str("</Decrypted>");
    Ok(out)
}

/// The one `saml:Assertion` of a document returned by [`decrypt_assertion`]; anything else
/// beside it (another element, text other than whitespace) is refused.
pub fn decrypted_assertion<'a, 'i>(doc: &'a Document<'i>) -> Result<Node<'a, 'i>, EncError> {
    let root = doc.root_element();
    let mut found = None;
    for c in root.children() {
        if c.is_element() {
            if found.is_some() || !xml::is(c, NS_SAML, "Assertion") {
                return Err(EncError::Malformed("the plaintext is not exactly one saml:Assertion"));
            }
            found = Some(c);
        } else if !(c.is_text() && c.text().unwrap_or_default().trim().is_empty()) {
            return Err(EncError::Malformed("the plaintext holds more than the Assertion"));
        }
    }
    found.ok_or(EncError::Malformed("the plaintext is not exactly one saml:Assertion"))
}

/// XML Encryption 1.1 AES-GCM: a 96-bit IV, the ciphertext, a 128-bit tag.
fn decrypt_gcm(key_len: usize, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if key.len() != key_len || data.len() < 12 + 16 {
        return None;
    }
    let (iv, ct) = data.split_at(12);
    let nonce = aes_gcm::Nonce::from(<[u8; 12]>::try_from(iv).ok()?);
    match key_len {
        16 => aes_gcm::Aes128Gcm::new_from_slice(key).ok()?.decrypt(&nonce, ct).ok(),
        32 => aes_gcm::Aes256Gcm::new_from_slice(key).ok()?.decrypt(&nonce, ct).ok(),
        _ => None,
    }
}

/// XML Encryption AES-CBC: a 128-bit IV, then blocks; the last plaintext byte is the padding
/// length (1..=16), the other padding bytes are arbitrary (not PKCS#7).
fn decrypt_cbc(key_len: usize, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if key.len() != key_len || data.len() < 32 || data.len() % 16 != 0 {
        return None;
    }
    let (iv, ct) = data.split_at(16);
    let mut buf = ct.to_vec();
    let ok = match key_len {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
            .is_ok(),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
            .is_ok(),
        _ => false,
    };
    let pad = usize::from(*buf.last()?);
    if !ok || pad == 0 || pad > 16 {
        return None;
    }
    buf.truncate(buf.len() - pad);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbc_padding_is_xmlenc_not_pkcs7() {
        use aes::cipher::BlockEncryptMut;
        let key = [7u8; 16];
        let iv = [9u8; 16];
        // 13 bytes of plaintext, 3 bytes of padding whose first two are arbitrary.
        let mut block = *b"<a>hello</a>\n\xAA\xBB\x03";
        let enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv).unwrap();
        let ct = enc.encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut block, 16).unwrap().to_vec();
        let data = [iv.as_slice(), &ct].concat();
        assert_eq!(decrypt_cbc(16, &key, &data).unwrap(), b"<a>hello</a>\n");
        assert_eq!(decrypt_cbc(32, &key, &data), None);
        assert_eq!(decrypt_cbc(16, &key, &data[..20]), None);
    }
}
