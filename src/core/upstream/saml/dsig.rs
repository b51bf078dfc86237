//! XML-Signature for SAML, narrowed to the SAML profile (SAML core §5.4) and nothing more:
//! an enveloped signature, a direct child of the signed element, with exactly one Reference
//! to that element's own ID, exactly the transforms enveloped-signature + exclusive c14n,
//! SHA-2 digests, RSA PKCS#1 v1.5 or ECDSA P-256 signatures, and only configured keys.
//!
//! XML Signature Wrapping is closed by construction: [`verify_enveloped`] is handed the very
//! node the caller reads its claims from, and succeeds only if that node, found by an ID that
//! occurs once in the whole document, is what the signature covers. `KeyInfo` is ignored.
//!
//! Also the HTTP-Redirect binding's query-string signatures (SAML bindings §3.4.4.1), and the
//! SP's own signatures (AuthnRequest / LogoutRequest / LogoutResponse).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use roxmltree::Node;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;
use subtle::ConstantTimeEq;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use crate::core::jose::private::{P256Key, Private, RsaKey};

use super::c14n::{self, C14nError, ALG_EXC_C14N, ALG_EXC_C14N_WITH_COMMENTS};
use super::xml::{self, XmlError, NS_DS, NS_EXC_C14N, NS_SAML};

pub const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const ALG_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
pub const ALG_SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
pub const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const ALG_RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
pub const ALG_RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub const ALG_ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// The smallest RSA modulus trusted or used, in bits: JOSE's.
pub use crate::core::jose::MIN_RSA_BITS;

/// Why a signature was not accepted, or could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsigError {
    Xml(XmlError),
    C14n(C14nError),
    /// The signed element has no `ID` attribute.
    MissingId,
    /// An ID value is carried by more than one element (any attribute named ID, Id or id).
    DuplicateId(String),
    /// The element has no direct-child `ds:Signature`.
    Unsigned,
    /// The element has more than one direct-child `ds:Signature`.
    MultipleSignatures,
    /// The `ds:Signature` does not have the SAML shape (an unexpected, missing or repeated
    /// element, a `ds:Object`, ...); the text names what.
    Malformed(&'static str),
    /// `SignedInfo` has zero or several `Reference`s; exactly one is accepted.
    ReferenceCount(usize),
    /// The Reference's URI is not `#` + the signed element's own ID.
    ReferenceNotToElement {
        uri: String,
    },
    /// The transforms are not exactly enveloped-signature then exclusive c14n.
    Transforms,
    UnsupportedCanonicalization(String),
    UnsupportedDigest(String),
    UnsupportedSignatureMethod(String),
    /// A DigestValue, SignatureValue or query parameter is not valid base64 / encoding.
    Encoding(&'static str),
    /// The signed element's content does not match the DigestValue: it was changed.
    DigestMismatch,
    /// No configured key of the signature's type validates it.
    BadSignature,
    /// None of the configured keys is of the signature algorithm's type.
    NoKeyForAlgorithm,
    /// A certificate or key could not be read.
    Key(String),
    /// An RSA key smaller than [`MIN_RSA_BITS`].
    WeakKey {
        bits: usize,
    },
    /// A Redirect-binding query string without the parameters it needs, or with one twice.
    Redirect(&'static str),
    /// `sign_enveloped` could not find where to put the signature.
    SignTarget(&'static str),
    /// The private-key operation failed.
    Signing(String),
}

impl fmt::Display for DsigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DsigError::Xml(e) => write!(f, "{e}"),
            DsigError::C14n(e) => write!(f, "canonicalisation failed: {e}"),
            DsigError::MissingId => f.write_str("the signed element has no ID attribute"),
            DsigError::DuplicateId(id) => write!(f, "the ID {id:?} occurs on more than one element"),
            DsigError::Unsigned => f.write_str("the element is not signed"),
            DsigError::MultipleSignatures => f.write_str("the element carries more than one signature"),
            DsigError::Malformed(what) => write!(f, "the signature is malformed: {what}"),
            DsigError::ReferenceCount(n) => write!(f, "the signature has {n} references; exactly one is accepted"),
            DsigError::ReferenceNotToElement { uri } => {
                write!(f, "the signature references {uri:?}, not the element that carries it")
            }
            DsigError::Transforms => {
                f.write_str("the signature's transforms are not enveloped-signature then exclusive c14n")
            }
            DsigError::UnsupportedCanonicalization(a) => write!(f, "unsupported canonicalisation {a:?}"),
            DsigError::UnsupportedDigest(a) => write!(f, "unsupported digest {a:?}"),
            DsigError::UnsupportedSignatureMethod(a) => write!(f, "unsupported signature method {a:?}"),
            DsigError::Encoding(what) => write!(f, "{what} is not correctly encoded"),
            DsigError::DigestMismatch => f.write_str("the signed content was changed (digest mismatch)"),
            DsigError::BadSignature => f.write_str("no configured certificate validates the signature"),
            DsigError::NoKeyForAlgorithm => {
                f.write_str("no configured certificate has the signature algorithm's key type")
            }
            DsigError::Key(why) => write!(f, "the key or certificate cannot be read: {why}"),
            DsigError::WeakKey { bits } => {
                write!(f, "an RSA key of {bits} bits is too small (at least {MIN_RSA_BITS})")
            }
            DsigError::Redirect(what) => write!(f, "the signed query string is not acceptable: {what}"),
            DsigError::SignTarget(what) => write!(f, "cannot sign: {what}"),
            DsigError::Signing(why) => write!(f, "signing failed: {why}"),
        }
    }
}

impl std::error::Error for DsigError {}

impl From<XmlError> for DsigError {
    fn from(e: XmlError) -> Self {
        DsigError::Xml(e)
    }
}

impl From<C14nError> for DsigError {
    fn from(e: C14nError) -> Self {
        DsigError::C14n(e)
    }
}

/// A signature algorithm accepted in SAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
}

impl SignatureAlgorithm {
    pub fn from_uri(uri: &str) -> Result<Self, DsigError> {
        match uri {
            ALG_RSA_SHA256 => Ok(Self::RsaSha256),
            ALG_RSA_SHA384 => Ok(Self::RsaSha384),
            ALG_RSA_SHA512 => Ok(Self::RsaSha512),
            ALG_ECDSA_SHA256 => Ok(Self::EcdsaSha256),
            other => Err(DsigError::UnsupportedSignatureMethod(other.to_string())),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => ALG_RSA_SHA256,
            Self::RsaSha384 => ALG_RSA_SHA384,
            Self::RsaSha512 => ALG_RSA_SHA512,
            Self::EcdsaSha256 => ALG_ECDSA_SHA256,
        }
    }
}

/// An IdP public key from configuration (a signing certificate of its metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey(KeyKind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyKind {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl TrustedKey {
    /// From an X.509 certificate: PEM, or the base64 DER of a metadata `<ds:X509Certificate>`
    /// (whitespace allowed). Only its public key is used: no chain, no validity dates (SAML
    /// metadata certificates are key carriers; trust comes from configuration).
    pub fn from_certificate(pem_or_base64_der: &str) -> Result<Self, DsigError> {
        let text = pem_or_base64_der.trim();
        let cert = if text.starts_with("-----BEGIN") {
            Certificate::from_pem(text.as_bytes()).map_err(|e| DsigError::Key(e.to_string()))?
        } else {
            let der = decode_base64_ws(text).map_err(|_| DsigError::Key("the certificate is not base64".into()))?;
            Certificate::from_der(&der).map_err(|e| DsigError::Key(e.to_string()))?
        };
        let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| DsigError::Key(e.to_string()))?;
        Self::from_spki_der(&spki)
    }

    /// From a DER SubjectPublicKeyInfo (RSA or P-256).
    pub fn from_spki_der(spki: &[u8]) -> Result<Self, DsigError> {
        if let Ok(key) = RsaPublicKey::from_public_key_der(spki) {
            let bits = key.size() * 8;
            if bits < MIN_RSA_BITS {
                return Err(DsigError::WeakKey { bits });
            }
            return Ok(TrustedKey(KeyKind::Rsa(key)));
        }
        if let Ok(key) = p256::PublicKey::from_public_key_der(spki) {
            return Ok(TrustedKey(KeyKind::P256(key.into())));
        }
        Err(DsigError::Key("the public key is neither RSA nor EC P-256".into()))
    }

    /// The RSA public key, if this is one.
    pub fn rsa(&self) -> Option<&RsaPublicKey> {
        match &self.0 {
            KeyKind::Rsa(k) => Some(k),
            KeyKind::P256(_) => None,
        }
    }

    /// Checks `signature` over `data` with this key, if it has the algorithm's type.
    /// `None`: wrong key type. ECDSA signatures are raw r||s (RFC 4051), or DER if `der_ok`.
    fn verify(&self, alg: SignatureAlgorithm, data: &[u8], signature: &[u8], der_ok: bool) -> Option<bool> {
        match (&self.0, alg) {
            (KeyKind::Rsa(key), SignatureAlgorithm::RsaSha256) => {
                Some(key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data), signature).is_ok())
            }
            (KeyKind::Rsa(key), SignatureAlgorithm::RsaSha384) => {
                Some(key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(data), signature).is_ok())
            }
            (KeyKind::Rsa(key), SignatureAlgorithm::RsaSha512) => {
                Some(key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(data), signature).is_ok())
            }
            (KeyKind::P256(key), SignatureAlgorithm::EcdsaSha256) => {
                use p256::ecdsa::signature::Verifier;
                let sig = if signature.len() == 64 {
                    p256::ecdsa::Signature::from_slice(signature).ok()
                } else if der_ok {
                    p256::ecdsa::Signature::from_der(signature).ok()
                } else {
                    None
                };
                Some(sig.is_some_and(|sig| key.verify(data, &sig).is_ok()))
            }
            _ => None,
        }
    }
}

fn verify_any(
    keys: &[TrustedKey],
    alg: SignatureAlgorithm,
    data: &[u8],
    sig: &[u8],
    der_ok: bool,
) -> Result<(), DsigError> {
    let mut any_type = false;
    for key in keys {
        match key.verify(alg, data, sig, der_ok) {
            Some(true) => return Ok(()),
            Some(false) => any_type = true,
            None => {}
        }
    }
    Err(if any_type { DsigError::BadSignature } else { DsigError::NoKeyForAlgorithm })
}

fn decode_base64_ws(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact)
}

/// The direct-child `ds:Signature` of `node`, if any; two are an error.
pub fn signature_of<'a, 'i>(node: Node<'a, 'i>) -> Result<Option<Node<'a, 'i>>, DsigError> {
    xml::child(node, NS_DS, "Signature").map_err(|e| match e {
        XmlError::DuplicateChild { .. } => DsigError::MultipleSignatures,
        other => DsigError::Xml(other),
    })
}

/// Refuses a document in which an ID value is carried by two elements, counting every
/// attribute whose local name is `ID`, `Id` or `id` (SAML, WS-Security, xml:id, ...), so no
/// other XML stack can resolve `#id` to a different element than the one checked here.
pub fn check_unique_ids(doc: &roxmltree::Document) -> Result<(), DsigError> {
    let mut ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.is_element())
        .flat_map(|n| n.attributes())
        .filter(|a| matches!(a.name(), "ID" | "Id" | "id"))
        .map(|a| a.value())
        .collect();
    ids.sort_unstable();
    for pair in ids.windows(2) {
        if pair[0] == pair[1] {
            return Err(DsigError::DuplicateId(pair[0].to_string()));
        }
    }
    Ok(())
}

/// The element children of `node`, in order; any non-whitespace text is refused.
fn element_children<'a, 'i>(node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, DsigError> {
    let mut out = Vec::new();
    for c in node.children() {
        if c.is_element() {
            out.push(c);
        } else if c.is_text() && !c.text().unwrap_or_default().trim().is_empty() {
            return Err(DsigError::Malformed("text inside the signature structure"));
        }
    }
    Ok(out)
}

fn expect<'a, 'i>(node: Option<&Node<'a, 'i>>, local: &str, what: &'static str) -> Result<Node<'a, 'i>, DsigError> {
    match node {
        Some(n) if xml::is(*n, NS_DS, local) => Ok(*n),
        _ => Err(DsigError::Malformed(what)),
    }
}

fn algorithm<'a>(node: Node<'a, '_>) -> Result<&'a str, DsigError> {
    node.attribute("Algorithm").ok_or(DsigError::Malformed("an Algorithm attribute is missing"))
}

/// The c14n algorithm of a CanonicalizationMethod or Transform and its PrefixList.
fn exc_c14n_params<'a>(node: Node<'a, '_>) -> Result<(bool, Vec<&'a str>), DsigError> {
    let with_comments = match algorithm(node)? {
        ALG_EXC_C14N => false,
        ALG_EXC_C14N_WITH_COMMENTS => true,
        other => return Err(DsigError::UnsupportedCanonicalization(other.to_string())),
    };
    let kids = element_children(node)?;
    let prefixes = match kids.as_slice() {
        [] => Vec::new(),
        [inc] if xml::is(*inc, NS_EXC_C14N, "InclusiveNamespaces") && element_children(*inc)?.is_empty() => {
            inc.attribute("PrefixList").unwrap_or_default().split_ascii_whitespace().collect()
        }
        _ => return Err(DsigError::Malformed("unexpected content in a canonicalisation method")),
    };
    Ok((with_comments, prefixes))
}

/// Verifies the enveloped signature of `node` (a Response or an Assertion) with `keys` only.
///
/// `node` must carry exactly one direct-child `ds:Signature` whose single Reference is
/// `#` + `node`'s own `ID`, that ID occurring on no other element of the document. On
/// success, everything the caller reads inside `node` (outside the `ds:Signature`) is what
/// the IdP signed, except comments (which the canonical form leaves out: read text with
/// [`xml::simple_text`], which refuses them).
pub fn verify_enveloped(node: Node, keys: &[TrustedKey]) -> Result<(), DsigError> {
    let id = node.attribute("ID").ok_or(DsigError::MissingId)?;
    check_unique_ids(node.document())?;
    let signature = signature_of(node)?.ok_or(DsigError::Unsigned)?;

    // ds:Signature = SignedInfo, SignatureValue, KeyInfo? — no Object, nothing else.
    let parts = element_children(signature)?;
    let signed_info = expect(parts.first(), "SignedInfo", "the signature does not start with SignedInfo")?;
    let signature_value = expect(parts.get(1), "SignatureValue", "SignatureValue does not follow SignedInfo")?;
    match parts.get(2..) {
        Some([]) => {}
        Some([key_info]) if xml::is(*key_info, NS_DS, "KeyInfo") => {}
        _ => return Err(DsigError::Malformed("the signature holds more than SignedInfo, SignatureValue and KeyInfo")),
    }

    // SignedInfo = CanonicalizationMethod, SignatureMethod, Reference.
    let si = element_children(signed_info)?;
    let c14n_method =
        expect(si.first(), "CanonicalizationMethod", "SignedInfo does not start with CanonicalizationMethod")?;
    let sig_method = expect(si.get(1), "SignatureMethod", "SignatureMethod does not follow CanonicalizationMethod")?;
    let references = si.get(2..).unwrap_or_default();
    if references.len() != 1 {
        return Err(DsigError::ReferenceCount(references.len()));
    }
    let reference = expect(references.first(), "Reference", "SignedInfo holds something other than a Reference")?;

    let alg = SignatureAlgorithm::from_uri(algorithm(sig_method)?)?;
    if !element_children(sig_method)?.is_empty() {
        return Err(DsigError::Malformed("SignatureMethod has parameters (HMACOutputLength?)"));
    }
    let (si_comments, si_prefixes) = exc_c14n_params(c14n_method)?;

    // Reference = Transforms, DigestMethod, DigestValue, to this very element.
    let uri = reference.attribute("URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(id) {
        return Err(DsigError::ReferenceNotToElement { uri: uri.to_string() });
    }
    let rp = element_children(reference)?;
    let transforms = expect(rp.first(), "Transforms", "the Reference has no Transforms")?;
    let digest_method = expect(rp.get(1), "DigestMethod", "DigestMethod does not follow Transforms")?;
    let digest_value = expect(rp.get(2), "DigestValue", "DigestValue does not follow DigestMethod")?;
    if rp.len() != 3 {
        return Err(DsigError::Malformed("the Reference holds more than Transforms, DigestMethod and DigestValue"));
    }
    let tf = element_children(transforms)?;
    let [enveloped, exc] = tf.as_slice() else {
        return Err(DsigError::Transforms);
    };
    if !xml::is(*enveloped, NS_DS, "Transform")
        || !xml::is(*exc, NS_DS, "Transform")
        || algorithm(*enveloped)? != ALG_ENVELOPED
        || !element_children(*enveloped)?.is_empty()
    {
        return Err(DsigError::Transforms);
    }
    // A bare-name reference's node-set has no comments even under #WithComments (XMLDSig
    // §4.4.3.3), so the flag is read only to refuse anything that is not exclusive c14n.
    let (_, ref_prefixes) = exc_c14n_params(*exc).map_err(|e| match e {
        DsigError::UnsupportedCanonicalization(_) => DsigError::Transforms,
        other => other,
    })?;
    if !element_children(digest_method)?.is_empty() {
        return Err(DsigError::Malformed("DigestMethod has parameters"));
    }
    let expected_digest = xml::simple_text(digest_value)
        .ok()
        .and_then(|t| decode_base64_ws(&t).ok())
        .ok_or(DsigError::Encoding("the DigestValue"))?;
    let sig_bytes = xml::simple_text(signature_value)
        .ok()
        .and_then(|t| decode_base64_ws(&t).ok())
        .ok_or(DsigError::Encoding("the SignatureValue"))?;

    // 1. SignedInfo, canonicalised as it says, is signed by a configured key.
    let si_options = c14n::Options { with_comments: si_comments, inclusive_prefixes: &si_prefixes };
    let si_bytes = c14n::canonicalize(signed_info, None, si_options)?;
    verify_any(keys, alg, &si_bytes, &sig_bytes, false)?;

    // 2. The element, minus this signature, hashes to the signed DigestValue.
    let options = c14n::Options { with_comments: false, inclusive_prefixes: &ref_prefixes };
    let content = c14n::canonicalize(node, Some(signature), options)?;
    let actual = match algorithm(digest_method)? {
        ALG_SHA256 => Sha256::digest(&content).to_vec(),
        ALG_SHA384 => Sha384::digest(&content).to_vec(),
        ALG_SHA512 => Sha512::digest(&content).to_vec(),
        other => return Err(DsigError::UnsupportedDigest(other.to_string())),
    };
    if !bool::from(actual.ct_eq(&expected_digest)) {
        return Err(DsigError::DigestMismatch);
    }
    Ok(())
}

/// The SAML parameters of a Redirect-binding query whose signature was verified, still
/// URL-encoded exactly as received: read the message and RelayState from here, not from a
/// second parse of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedRedirect<'q> {
    /// `SAMLRequest` or `SAMLResponse`.
    pub param: &'q str,
    /// Its value: URL-encoded base64 of the raw-DEFLATEd message.
    pub value: &'q str,
    /// The URL-encoded RelayState, if present.
    pub relay_state: Option<&'q str>,
}

/// Verifies an HTTP-Redirect binding signature (SAML bindings §3.4.4.1) over the query
/// string exactly as received: `SAMLRequest` or `SAMLResponse`, `RelayState` if present and
/// `SigAlg`, still URL-encoded, joined in that order. Every one of these parameters, and
/// `Signature`, must occur exactly once (RelayState at most once), under its literal name.
pub fn verify_redirect(raw_query: &str, keys: &[TrustedKey]) -> Result<(), DsigError> {
    verify_redirect_params(raw_query, keys).map(|_| ())
}

/// [`verify_redirect`], returning the parameters it verified.
pub fn verify_redirect_params<'q>(raw_query: &'q str, keys: &[TrustedKey]) -> Result<VerifiedRedirect<'q>, DsigError> {
    let query = raw_query.strip_prefix('?').unwrap_or(raw_query);
    let (mut message, mut relay, mut sig_alg, mut signature) = (None, None, None, None);
    for part in query.split('&') {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        // A name that decodes to a SAML parameter but is written differently
        // ("SAML%52equest") would be a second message for a decoding query parser.
        let decoded = percent_decode_str(&name.replace('+', " ")).decode_utf8_lossy().into_owned();
        let slot = match decoded.as_str() {
            "SAMLRequest" | "SAMLResponse" => &mut message,
            "RelayState" => &mut relay,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if decoded != name {
            return Err(DsigError::Redirect("a SAML parameter name is percent-encoded"));
        }
        if slot.is_some() {
            return Err(DsigError::Redirect("a SAML parameter occurs twice"));
        }
        *slot = Some((name, value));
    }
    let (param, value) = message.ok_or(DsigError::Redirect("no SAMLRequest or SAMLResponse"))?;
    let (_, alg_raw) = sig_alg.ok_or(DsigError::Redirect("no SigAlg"))?;
    let (_, sig_raw) = signature.ok_or(DsigError::Redirect("no Signature"))?;

    let mut signed = format!("{param}={value}");
    if let Some((_, relay)) = relay {
        signed.push_str("&RelayState=");
        signed.push_str(relay);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(alg_raw);

    let alg_uri = percent_decode_str(alg_raw).decode_utf8().map_err(|_| DsigError::Encoding("SigAlg"))?;
    let alg = SignatureAlgorithm::from_uri(&alg_uri)?;
    // Percent-decoding only: a '+' left unencoded in base64 stays a '+'.
    let sig_b64 = percent_decode_str(sig_raw).decode_utf8().map_err(|_| DsigError::Encoding("the Signature"))?;
    let sig = decode_base64_ws(&sig_b64).map_err(|_| DsigError::Encoding("the Signature"))?;
    verify_any(keys, alg, signed.as_bytes(), &sig, true)?;
    Ok(VerifiedRedirect { param, value, relay_state: relay.map(|(_, v)| v) })
}

/// Characters left as they are in a query-string component: RFC 3986 unreserved.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// keyedge's own SAML signing key (SP key), from a PKCS#8 PEM.
#[derive(Clone)]
pub enum SpKey {
    /// RSA PKCS#1 v1.5 with SHA-256. rsa 0.9's private-key operation is not constant time
    /// (RUSTSEC-2023-0071): prefer P-256 where the IdP accepts it.
    Rsa(RsaKey),
    /// ECDSA P-256 with SHA-256 (deterministic nonces, RFC 6979).
    P256(P256Key),
}

impl fmt::Debug for SpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpKey::Rsa(_) => "SpKey::Rsa(..)",
            SpKey::P256(_) => "SpKey::P256(..)",
        })
    }
}

impl SpKey {
    /// From an unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), RSA or P-256 (or a
    /// PKCS#1 `RSA PRIVATE KEY`). Its shape and public half are read now, its arithmetic on
    /// the first signature ([`SpKey::check`] does it now).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, DsigError> {
        let not_a_key = || DsigError::Key("not a PKCS#8 RSA or P-256 private key".into());
        match Private::from_pem(pem).map_err(|_| not_a_key())? {
            Some(Private::Rsa(key)) if key.bits() < MIN_RSA_BITS => Err(DsigError::WeakKey { bits: key.bits() }),
            Some(Private::Rsa(key)) => Ok(SpKey::Rsa(key)),
            Some(Private::P256(key)) => Ok(SpKey::P256(key)),
            Some(Private::Ed25519(_)) | None => Err(not_a_key()),
        }
    }

    /// Reads the whole key now, as its first signature would (`keyedge check`).
    pub fn check(&self) -> Result<(), DsigError> {
        match self {
            SpKey::Rsa(key) => key.check(),
            SpKey::P256(key) => key.check(),
        }
        .map_err(DsigError::Key)
    }

    /// The signature algorithm this key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            SpKey::Rsa(_) => SignatureAlgorithm::RsaSha256,
            SpKey::P256(_) => SignatureAlgorithm::EcdsaSha256,
        }
    }

    /// The public half, as a verifier would hold it (a P-256 key's computed from its scalar,
    /// and refused if the key's written point is not that).
    pub fn public_key(&self) -> Result<TrustedKey, DsigError> {
        Ok(match self {
            SpKey::Rsa(key) => TrustedKey(KeyKind::Rsa(key.public().key().clone())),
            SpKey::P256(key) => TrustedKey(KeyKind::P256(*key.private().map_err(DsigError::Signing)?.verifying_key())),
        })
    }

    /// The XMLDSig SignatureValue bytes over `data` (ECDSA: raw r||s).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DsigError> {
        match self {
            SpKey::Rsa(key) => key
                .private()
                .map_err(DsigError::Signing)?
                .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data))
                .map_err(|e| DsigError::Signing(e.to_string())),
            SpKey::P256(key) => {
                use p256::ecdsa::signature::Signer;
                let key = key.private().map_err(DsigError::Signing)?;
                let sig: p256::ecdsa::Signature = key.try_sign(data).map_err(|e| DsigError::Signing(e.to_string()))?;
                Ok(sig.to_bytes().to_vec())
            }
        }
    }
}

/// Signs a Redirect-binding message: returns the whole query string
/// `{saml_param}={encoded_value}[&RelayState=…]&SigAlg=…&Signature=…`.
/// `encoded_value` is the already deflated, base64'd and URL-encoded message; `relay_state`
/// is the plain value, URL-encoded here.
pub fn sign_redirect(
    saml_param: &str,
    encoded_value: &str,
    relay_state: Option<&str>,
    key: &SpKey,
) -> Result<String, DsigError> {
    if saml_param != "SAMLRequest" && saml_param != "SAMLResponse" {
        return Err(DsigError::Redirect("the message parameter must be SAMLRequest or SAMLResponse"));
    }
    let mut query = format!("{saml_param}={encoded_value}");
    if let Some(relay) = relay_state {
        query.push_str("&RelayState=");
        query.extend(utf8_percent_encode(relay, COMPONENT));
    }
    query.push_str("&SigAlg=");
    query.extend(utf8_percent_encode(key.algorithm().uri(), COMPONENT));
    let signature = STANDARD.encode(key.sign(query.as_bytes())?);
    query.push_str("&Signature=");
    query.extend(utf8_percent_encode(&signature, COMPONENT));
    Ok(query)
}

fn is_ncname(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Signs the element of `xml` whose `ID` is `id` with an enveloped, exclusive-c14n, SHA-256
/// signature, inserted as its child right after its `saml:Issuer` (SAML core §5.4.2 and the
/// schemas of AuthnRequest, LogoutRequest and LogoutResponse put it there).
pub fn sign_enveloped(xml_text: &str, id: &str, key: &SpKey) -> Result<String, DsigError> {
    if !is_ncname(id) {
        return Err(DsigError::SignTarget("the ID is not a plain NCName"));
    }
    let doc = xml::parse(xml_text)?;
    check_unique_ids(&doc)?;
    let target = doc
        .descendants()
        .find(|n| n.is_element() && n.attribute("ID") == Some(id))
        .ok_or(DsigError::SignTarget("no element has this ID"))?;
    if signature_of(target)?.is_some() {
        return Err(DsigError::SignTarget("the element is already signed"));
    }
    let issuer =
        xml::child(target, NS_SAML, "Issuer")?.ok_or(DsigError::SignTarget("the element has no saml:Issuer"))?;
    let insert_at = issuer.range().end;
    let (before, after) = (
        xml_text.get(..insert_at).ok_or(DsigError::SignTarget("bad position"))?,
        xml_text.get(insert_at..).ok_or(DsigError::SignTarget("bad position"))?,
    );

    let content = c14n::canonicalize(target, None, c14n::Options::default())?;
    let digest = STANDARD.encode(Sha256::digest(&content));
    let head = format!(
        concat!(
            "<ds:Signature xmlns:ds=\"{ds}\"><ds:SignedInfo>",
            "<ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>",
            "<ds:SignatureMethod Algorithm=\"{alg}\"/>",
            "<ds:Reference URI=\"#{id}\"><ds:Transforms>",
            "<ds:Transform Algorithm=\"{env}\"/><ds:Transform Algorithm=\"{c14n}\"/>",
            "</ds:Transforms><ds:DigestMethod Algorithm=\"{sha}\"/>",
            "<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
            "<ds:SignatureValue>"
        ),
        ds = NS_DS,
        c14n = ALG_EXC_C14N,
        alg = key.algorithm().uri(),
        id = id,
        env = ALG_ENVELOPED,
        sha = ALG_SHA256,
        digest = digest,
    );
    let tail = "</ds:SignatureValue></ds:Signature>";
    let with_template = format!("{before}{head}{tail}{after}");

    // SignedInfo is canonicalised in place, with the namespaces in scope where it now sits.
    let signed_info_c14n = {
        let doc = xml::parse(&with_template)?;
        let target = doc
            .descendants()
            .find(|n| n.is_element() && n.attribute("ID") == Some(id))
            .ok_or(DsigError::SignTarget("no element has this ID"))?;
        let signature = signature_of(target)?.ok_or(DsigError::SignTarget("the template was not inserted"))?;
        let signed_info = xml::child(signature, NS_DS, "SignedInfo")?
            .ok_or(DsigError::SignTarget("the template has no SignedInfo"))?;
        c14n::canonicalize(signed_info, None, c14n::Options::default())?
    };
    let value = STANDARD.encode(key.sign(&signed_info_c14n)?);
    Ok(format!("{before}{head}{value}{tail}{after}"))
}
