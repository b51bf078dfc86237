//! The IdP's `samlp:Response` to keyedge's `AuthnRequest` (SAML Core §3.3.3, Web Browser SSO
//! Profile §4.1.4.3), checked as a careful service provider does. Every claim is read from
//! the very element whose signature was verified — the Response, or its one Assertion — never
//! looked up again by ID, so a signature-wrapping document cannot make keyedge read an element
//! other than the signed one.

use roxmltree::Node;
use serde::{Deserialize, Serialize};
use std::fmt;

use super::dsig::{self, TrustedKey};
use super::enc::{self, KeyUnwrapper};
use super::xml::{self, NS_SAML, NS_SAMLP};

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// What the response must match: what keyedge asked for and who it trusts.
pub struct Expected<'a> {
    /// The IdP's entity id: the `Issuer` of the response and the assertion.
    pub idp_entity_id: &'a str,
    /// keyedge's entity id: an `Audience` of the assertion.
    pub sp_entity_id: &'a str,
    /// The ACS URL: `Destination` and the bearer confirmation's `Recipient`.
    pub acs_url: &'a str,
    /// The keys of the IdP's signing certificates.
    pub keys: &'a [TrustedKey],
    /// The assertion itself must be signed (`want_assertions_signed`), not only the response.
    pub want_assertions_signed: bool,
    /// The Redirect binding's signature over the query string was verified already.
    pub query_signed: bool,
    /// Whether the assertion may, or must, come encrypted to keyedge's key.
    pub decryption: Decryption<'a>,
    pub now: i64,
    pub skew: i64,
}

/// What keyedge does with an `EncryptedAssertion` (`want_assertions_encrypted`, SAML Core §6).
#[derive(Clone, Copy)]
pub enum Decryption<'a> {
    /// keyedge has no decryption key: an encrypted assertion is refused.
    Off,
    /// An encrypted assertion is decrypted with this key; a plain one is taken too.
    Optional(&'a dyn KeyUnwrapper),
    /// Only an encrypted assertion is taken (`want_assertions_encrypted`).
    Required(&'a dyn KeyUnwrapper),
}

/// One attribute of the assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    pub values: Vec<String>,
}

/// What a response that passed every check says. `in_response_to` is still to be matched with
/// the browser's own request (the flow only that browser holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedAssertion {
    /// The `AuthnRequest` ID the response answers (`None`: unsolicited, IdP-initiated).
    pub in_response_to: Option<String>,
    pub assertion_id: String,
    pub name_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_index: Option<String>,
    /// `AuthnStatement/@AuthnInstant`, Unix seconds.
    pub authn_instant: i64,
    pub attributes: Vec<Attribute>,
    /// Until when the assertion may be used (its bearer confirmation's `NotOnOrAfter`).
    pub not_on_or_after: i64,
}

/// Why a response was refused. Each is a distinct line in the log; the visitor reads
/// [`ResponseError::public`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    Encoding(String),
    Xml(String),
    NotAResponse,
    Version,
    /// The IdP answered with an error status (top-level and second-level codes, message).
    Status {
        code: String,
        detail: Option<String>,
        message: Option<String>,
    },
    Destination(String),
    Issuer(String),
    Unsigned,
    AssertionUnsigned,
    Signature(dsig::DsigError),
    AssertionCount(usize),
    Encrypted,
    /// `want_assertions_encrypted`, and the assertion came in the clear.
    NotEncrypted,
    /// The encrypted assertion could not be decrypted (the reason, without any oracle detail).
    Decryption(String),
    Subject(String),
    Conditions(String),
    Audience,
    Expired,
    NotYetValid,
    NoAuthnStatement,
    /// `InResponseTo` names another request than the one this browser made.
    InResponseTo,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Encoding(e) => write!(f, "SAMLResponse is not base64 UTF-8 XML: {e}"),
            ResponseError::Xml(e) => write!(f, "SAMLResponse refused: {e}"),
            ResponseError::NotAResponse => f.write_str("the message is not a samlp:Response"),
            ResponseError::Version => f.write_str("the response is not SAML 2.0"),
            ResponseError::Status { code, detail, message } => {
                write!(f, "the IdP answered status {code}")?;
                if let Some(d) = detail {
                    write!(f, " / {d}")?;
                }
                if let Some(m) = message {
                    write!(f, " ({m})")?;
                }
                Ok(())
            }
            ResponseError::Destination(d) => write!(f, "the response is for another destination: {d}"),
            ResponseError::Issuer(i) => write!(f, "the response comes from another issuer: {i}"),
            ResponseError::Unsigned => f.write_str("neither the response nor its assertion is signed"),
            ResponseError::AssertionUnsigned => f.write_str("the assertion is not signed (want_assertions_signed)"),
            ResponseError::Signature(e) => write!(f, "signature refused: {e}"),
            ResponseError::AssertionCount(n) => write!(f, "the response holds {n} assertions, not exactly one"),
            ResponseError::Encrypted => {
                f.write_str("the assertion is encrypted, and this IdP is not configured for encrypted assertions")
            }
            ResponseError::NotEncrypted => {
                f.write_str("the assertion is not encrypted, and this IdP is configured to encrypt them (want_assertions_encrypted)")
            }
            ResponseError::Decryption(e) => write!(f, "{e}"),
            ResponseError::Subject(e) => write!(f, "subject refused: {e}"),
            ResponseError::Conditions(e) => write!(f, "conditions refused: {e}"),
            ResponseError::Audience => f.write_str("keyedge is not an audience of the assertion"),
            ResponseError::Expired => f.write_str("the assertion has expired"),
            ResponseError::NotYetValid => f.write_str("the assertion is not valid yet"),
            ResponseError::NoAuthnStatement => f.write_str("the assertion has no AuthnStatement"),
            ResponseError::InResponseTo => f.write_str("the response answers another request (InResponseTo)"),
        }
    }
}

impl ResponseError {
    /// Whether the IdP refused the sign-in (its status), rather than keyedge its answer.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ResponseError::Status { .. })
    }

    /// Whether a signature was refused because no trusted key validates it: the one failure
    /// an IdP key rollover explains (anything else is no reason to read its metadata again).
    pub fn is_unknown_key(&self) -> bool {
        matches!(self, ResponseError::Signature(dsig::DsigError::BadSignature | dsig::DsigError::NoKeyForAlgorithm))
    }
}

/// Decodes a `SAMLResponse` form field (base64; line breaks allowed) into its XML text.
pub fn decode_post(value: &str) -> Result<String, ResponseError> {
    use base64::Engine;
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() > xml::MAX_XML_BYTES * 4 / 3 + 4 {
        return Err(ResponseError::Encoding("too large".into()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| ResponseError::Encoding(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ResponseError::Encoding(e.to_string()))
}

fn saml<'a, 'i>(node: Node<'a, 'i>, local: &'static str) -> Result<Option<Node<'a, 'i>>, ResponseError> {
    xml::child(node, NS_SAML, local).map_err(|e| ResponseError::Xml(e.to_string()))
}

fn text(node: Node) -> Result<String, ResponseError> {
    xml::simple_text(node).map_err(|e| ResponseError::Xml(e.to_string()))
}

/// An `xs:dateTime` in UTC (`2026-01-01T00:00:00Z`, fractions allowed) as Unix seconds.
pub fn instant(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(value).ok().map(|t| t.timestamp())
}

fn time_attr(node: Node, name: &str, what: fn(String) -> ResponseError) -> Result<Option<i64>, ResponseError> {
    node.attribute(name)
        .map(|v| instant(v).ok_or_else(|| what(format!("{name} `{v}` is not an xs:dateTime"))))
        .transpose()
}

/// Checks a decoded response against `expected`; on success, what its signed assertion says.
pub fn verify(text_xml: &str, expected: &Expected) -> Result<VerifiedAssertion, ResponseError> {
    let doc = xml::parse(text_xml).map_err(|e| ResponseError::Xml(e.to_string()))?;
    let response = doc.root_element();
    if response.tag_name().namespace() != Some(NS_SAMLP) || response.tag_name().name() != "Response" {
        return Err(ResponseError::NotAResponse);
    }
    if response.attribute("Version") != Some("2.0") {
        return Err(ResponseError::Version);
    }
    // The response's own signature, when it has one, must hold (an invalid one is never
    // ignored in favour of another).
    let response_signed = match dsig::signature_of(response).map_err(ResponseError::Signature)? {
        Some(_) => {
            dsig::verify_enveloped(response, expected.keys).map_err(ResponseError::Signature)?;
            true
        }
        None => false,
    };
    if let Some(issuer) = saml(response, "Issuer")? {
        let issuer = text(issuer)?;
        if issuer != expected.idp_entity_id {
            return Err(ResponseError::Issuer(issuer));
        }
    }
    if let Some(destination) = response.attribute("Destination") {
        if destination != expected.acs_url {
            return Err(ResponseError::Destination(destination.to_owned()));
        }
    } else if response_signed || expected.query_signed {
        // Bindings §3.5.5.2 and §3.4.5.2: a signed message names its destination.
        return Err(ResponseError::Destination("missing on a signed response".into()));
    }
    let status = xml::child(response, NS_SAMLP, "Status")
        .map_err(|e| ResponseError::Xml(e.to_string()))?
        .ok_or_else(|| ResponseError::Xml("no Status".into()))?;
    let code = xml::child(status, NS_SAMLP, "StatusCode")
        .map_err(|e| ResponseError::Xml(e.to_string()))?
        .ok_or_else(|| ResponseError::Xml("no StatusCode".into()))?;
    let value = code.attribute("Value").unwrap_or_default();
    if value != STATUS_SUCCESS {
        let detail = xml::child(code, NS_SAMLP, "StatusCode")
            .ok()
            .flatten()
            .and_then(|c| c.attribute("Value"))
            .map(str::to_owned);
        let message = xml::child(status, NS_SAMLP, "StatusMessage").ok().flatten().and_then(|m| text(m).ok());
        return Err(ResponseError::Status { code: value.to_owned(), detail, message });
    }
    let response_in_response_to = response.attribute("InResponseTo");
    // Exactly one assertion, a direct child of the response (Profile §4.1.4.2 allows more;
    // keyedge takes one, so that there is no choosing between them).
    let is = |n: &Node, ns: &str, local: &str| {
        n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == local
    };
    let encrypted: Vec<Node> = response.children().filter(|n| is(n, NS_SAML, "EncryptedAssertion")).collect();
    let assertions: Vec<Node> = response.children().filter(|n| is(n, NS_SAML, "Assertion")).collect();
    // No assertion, plain or encrypted, anywhere else in the document either (inside
    // Extensions, an Advice, a signature's Object): nothing for a confused reader to find.
    let anywhere = |local: &str| doc.descendants().filter(|n| is(n, NS_SAML, local)).count();
    let (plain_anywhere, encrypted_anywhere) = (anywhere("Assertion"), anywhere("EncryptedAssertion"));
    // The decrypted assertion lives in its own document, which must outlive `assertion`.
    let decrypted_text: String;
    let decrypted_doc: roxmltree::Document;
    let assertion = match (expected.decryption, encrypted.as_slice()) {
        (_, []) if plain_anywhere + encrypted_anywhere == 0 => return Err(ResponseError::AssertionCount(0)),
        (Decryption::Off, [_, ..]) => return Err(ResponseError::Encrypted),
        (Decryption::Required(_), []) => return Err(ResponseError::NotEncrypted),
        (Decryption::Optional(key) | Decryption::Required(key), [one]) => {
            if plain_anywhere + encrypted_anywhere != 1 {
                return Err(ResponseError::AssertionCount(plain_anywhere + encrypted_anywhere));
            }
            // AES-CBC has no integrity of its own: it is taken only where a signature over the
            // whole message already covers the ciphertext (no padding oracle to play with).
            let allow_cbc = response_signed || expected.query_signed;
            decrypted_text =
                enc::decrypt_assertion(*one, key, allow_cbc).map_err(|e| ResponseError::Decryption(e.to_string()))?;
            decrypted_doc = xml::parse(&decrypted_text).map_err(|e| ResponseError::Xml(e.to_string()))?;
            let assertion =
                enc::decrypted_assertion(&decrypted_doc).map_err(|e| ResponseError::Decryption(e.to_string()))?;
            // Inside the plaintext too: exactly the one assertion.
            let inner = decrypted_doc
                .descendants()
                .filter(|n| is(n, NS_SAML, "Assertion") || is(n, NS_SAML, "EncryptedAssertion"))
                .count();
            if inner != 1 {
                return Err(ResponseError::AssertionCount(inner));
            }
            assertion
        }
        (_, [_, _, ..]) => return Err(ResponseError::AssertionCount(encrypted.len())),
        (_, []) => {
            let [assertion] = assertions.as_slice() else {
                return Err(ResponseError::AssertionCount(assertions.len()));
            };
            if plain_anywhere + encrypted_anywhere != 1 {
                return Err(ResponseError::AssertionCount(plain_anywhere + encrypted_anywhere));
            }
            *assertion
        }
    };
    let assertion_signed = match dsig::signature_of(assertion).map_err(ResponseError::Signature)? {
        Some(_) => {
            dsig::verify_enveloped(assertion, expected.keys).map_err(ResponseError::Signature)?;
            true
        }
        None => false,
    };
    if expected.want_assertions_signed && !assertion_signed {
        return Err(ResponseError::AssertionUnsigned);
    }
    if !(response_signed || assertion_signed || expected.query_signed) {
        return Err(ResponseError::Unsigned);
    }
    if assertion.attribute("Version") != Some("2.0") {
        return Err(ResponseError::Version);
    }
    let assertion_id = assertion.attribute("ID").ok_or_else(|| ResponseError::Xml("assertion without ID".into()))?;
    let issuer = saml(assertion, "Issuer")?.ok_or_else(|| ResponseError::Issuer("none".into()))?;
    let issuer = text(issuer)?;
    if issuer != expected.idp_entity_id {
        return Err(ResponseError::Issuer(issuer));
    }
    let (now, skew) = (expected.now, expected.skew);
    // Subject: the NameID and a bearer confirmation for keyedge's ACS, in time (§4.1.4.2).
    let subject = saml(assertion, "Subject")?.ok_or_else(|| ResponseError::Subject("no Subject".into()))?;
    let name_id = saml(subject, "NameID")?.ok_or_else(|| ResponseError::Subject("no NameID".into()))?;
    let name_id_format = name_id.attribute("Format").map(str::to_owned);
    let name_id = text(name_id)?;
    if name_id.trim().is_empty() {
        return Err(ResponseError::Subject("empty NameID".into()));
    }
    let mut confirmed = None;
    for confirmation in subject.children().filter(|n| is(n, NS_SAML, "SubjectConfirmation")) {
        if confirmation.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = saml(confirmation, "SubjectConfirmationData")? else { continue };
        let subject_error = |m: String| ResponseError::Subject(m);
        if data.attribute("Recipient") != Some(expected.acs_url) {
            continue;
        }
        let Some(until) = time_attr(data, "NotOnOrAfter", subject_error)? else { continue };
        if until + skew <= now {
            return Err(ResponseError::Expired);
        }
        if time_attr(data, "NotBefore", subject_error)?.is_some() {
            // §4.1.4.2: a bearer confirmation has no NotBefore.
            continue;
        }
        let in_response_to = data.attribute("InResponseTo");
        if let (Some(a), Some(b)) = (in_response_to, response_in_response_to) {
            if a != b {
                return Err(ResponseError::InResponseTo);
            }
        }
        confirmed = Some((until, in_response_to.map(str::to_owned)));
        break;
    }
    let (not_on_or_after, in_response_to) = confirmed.ok_or_else(|| {
        ResponseError::Subject(format!("no bearer SubjectConfirmation for {} with NotOnOrAfter", expected.acs_url))
    })?;
    if in_response_to.is_none() && response_in_response_to.is_some() {
        // The response answers a request, the signed confirmation does not say which.
        return Err(ResponseError::InResponseTo);
    }
    // Conditions: in time, and keyedge an audience of every AudienceRestriction (Core §2.5.1).
    let conditions = saml(assertion, "Conditions")?.ok_or_else(|| ResponseError::Conditions("none".into()))?;
    let conditions_error = |m: String| ResponseError::Conditions(m);
    if let Some(not_before) = time_attr(conditions, "NotBefore", conditions_error)? {
        if not_before > now + skew {
            return Err(ResponseError::NotYetValid);
        }
    }
    if let Some(until) = time_attr(conditions, "NotOnOrAfter", conditions_error)? {
        if until + skew <= now {
            return Err(ResponseError::Expired);
        }
    }
    let restrictions: Vec<Node> = conditions.children().filter(|n| is(n, NS_SAML, "AudienceRestriction")).collect();
    if restrictions.is_empty() {
        return Err(ResponseError::Audience);
    }
    for restriction in restrictions {
        let mut audiences = restriction.children().filter(|n| is(n, NS_SAML, "Audience"));
        if !audiences.any(|a| text(a).is_ok_and(|t| t == expected.sp_entity_id)) {
            return Err(ResponseError::Audience);
        }
    }
    if conditions.children().any(|n| n.is_element() && !is(&n, NS_SAML, "AudienceRestriction")) {
        // OneTimeUse (Core §2.5.1.5) holds: every assertion is taken once, bound to the one
        // request it answers and its flow's single-use marker. ProxyRestriction, and a Condition
        // element of another schema, must be understood or refused (Core §2.5.1.1).
        let unknown = conditions
            .children()
            .find(|n| n.is_element() && !is(n, NS_SAML, "AudienceRestriction") && !is(n, NS_SAML, "OneTimeUse"));
        if let Some(u) = unknown {
            return Err(ResponseError::Conditions(format!("unsupported condition {}", u.tag_name().name())));
        }
    }
    let statement = saml(assertion, "AuthnStatement")?.ok_or(ResponseError::NoAuthnStatement)?;
    let authn_instant = statement
        .attribute("AuthnInstant")
        .and_then(instant)
        .ok_or_else(|| ResponseError::Xml("AuthnStatement without a valid AuthnInstant".into()))?;
    if let Some(session_end) = time_attr(statement, "SessionNotOnOrAfter", conditions_error)? {
        if session_end + skew <= now {
            return Err(ResponseError::Expired);
        }
    }
    let session_index = statement.attribute("SessionIndex").map(str::to_owned);
    let mut attributes = Vec::new();
    for statement in assertion.children().filter(|n| is(n, NS_SAML, "AttributeStatement")) {
        for a in statement.children().filter(|n| is(n, NS_SAML, "Attribute")) {
            let Some(name) = a.attribute("Name") else { continue };
            let mut values = Vec::new();
            for v in a.children().filter(|n| is(n, NS_SAML, "AttributeValue")) {
                // A structured value (an element inside) is not a string: skipped, not cut short.
                if v.children().any(|c| c.is_element()) {
                    continue;
                }
                values.push(text(v)?);
            }
            attributes.push(Attribute {
                name: name.to_owned(),
                friendly_name: a.attribute("FriendlyName").map(str::to_owned),
                values,
            });
        }
    }
    Ok(VerifiedAssertion {
        in_response_to,
        assertion_id: assertion_id.to_owned(),
        name_id,
        name_id_format,
        session_index,
        authn_instant,
        attributes,
        not_on_or_after,
    })
}

impl VerifiedAssertion {
    /// The values of the attribute with `Name` (or, with `friendly`, `FriendlyName`) `name`.
    pub fn values(&self, name: &str, friendly: bool) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|a| if friendly { a.friendly_name.as_deref() == Some(name) } else { a.name == name })
            .map(|a| a.values.as_slice())
    }

    /// The attributes as claims for mappers: each under its `Name`, and under its
    /// `FriendlyName` where no attribute has that name; one value as a string, more as an
    /// array. Plus `saml_name_id` and `saml_name_id_format`.
    pub fn claims(&self) -> serde_json::Value {
        use serde_json::{Map, Value};
        let value = |values: &[String]| match values {
            [one] => Value::String(one.clone()),
            many => Value::Array(many.iter().cloned().map(Value::String).collect()),
        };
        let mut claims = Map::new();
        for a in &self.attributes {
            claims.insert(a.name.clone(), value(&a.values));
        }
        for a in &self.attributes {
            if let Some(f) = &a.friendly_name {
                if !claims.contains_key(f) {
                    claims.insert(f.clone(), value(&a.values));
                }
            }
        }
        claims.insert("saml_name_id".into(), Value::String(self.name_id.clone()));
        if let Some(f) = &self.name_id_format {
            claims.insert("saml_name_id_format".into(), Value::String(f.clone()));
        }
        Value::Object(claims)
    }
}
