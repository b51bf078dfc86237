//! SAML Single Logout (Profiles §4.4): the checks of the IdP's `LogoutRequest` (it ends the
//! sessions of one NameID) and of its `LogoutResponse` (the answer to keyedge's request).
//! Both must be signed by a configured key — over the Redirect binding's query, or enveloped
//! in the XML — since anyone can send a browser here with either.

use roxmltree::Node;
use std::fmt;

use super::dsig::{self, TrustedKey};
use super::response::instant;
use super::xml::{self, NS_SAML, NS_SAMLP};

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// What a logout message is checked against.
#[derive(Clone, Copy)]
pub struct Expected<'a> {
    pub idp_entity_id: &'a str,
    /// keyedge's SLO endpoint for this IdP: the message's `Destination`, when it names one.
    pub endpoint: &'a str,
    pub keys: &'a [TrustedKey],
    /// The Redirect binding's signature over the query string was verified already.
    pub query_signed: bool,
    pub now: i64,
    pub skew: i64,
}

/// A `LogoutRequest` that passed every check: end the sessions of `name_id` (those of
/// `session_indexes` only, when it lists any) and answer request `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogoutRequest {
    pub id: String,
    pub name_id: String,
    pub session_indexes: Vec<String>,
    /// Until when the request counts (its `NotOnOrAfter`, else its issue instant and 300 s).
    pub not_on_or_after: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutError {
    Xml(String),
    /// Not the message expected here (a `LogoutRequest`, or a `LogoutResponse`).
    NotA(&'static str),
    Unsigned,
    Signature(String),
    Issuer(String),
    Destination(String),
    Expired,
    /// The response answers another request than keyedge's.
    InResponseTo,
    /// The IdP could not end its session (its status code).
    Status(String),
}

impl fmt::Display for LogoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogoutError::Xml(e) => write!(f, "unreadable logout message: {e}"),
            LogoutError::NotA(what) => write!(f, "the message is not a samlp:{what}"),
            LogoutError::Unsigned => f.write_str("the logout message is not signed"),
            LogoutError::Signature(e) => write!(f, "signature refused: {e}"),
            LogoutError::Issuer(i) => write!(f, "the logout message comes from another issuer: {i}"),
            LogoutError::Destination(d) => write!(f, "the logout message is for another destination: {d}"),
            LogoutError::Expired => f.write_str("the logout request has expired"),
            LogoutError::InResponseTo => f.write_str("the logout response answers another request"),
            LogoutError::Status(s) => write!(f, "the IdP answered status {s}"),
        }
    }
}

fn xml_error(e: impl fmt::Display) -> LogoutError {
    LogoutError::Xml(e.to_string())
}

/// The checks both messages share: the root element, signature, issuer, destination.
fn common<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    local: &'static str,
    expected: &Expected,
) -> Result<Node<'a, 'i>, LogoutError> {
    let root = doc.root_element();
    if !xml::is(root, NS_SAMLP, local) || root.attribute("Version") != Some("2.0") {
        return Err(LogoutError::NotA(local));
    }
    let signed = match dsig::signature_of(root).map_err(|e| LogoutError::Signature(e.to_string()))? {
        Some(_) => {
            dsig::verify_enveloped(root, expected.keys).map_err(|e| LogoutError::Signature(e.to_string()))?;
            true
        }
        None => false,
    };
    if !(signed || expected.query_signed) {
        return Err(LogoutError::Unsigned);
    }
    let issuer = xml::child(root, NS_SAML, "Issuer").map_err(xml_error)?.ok_or(LogoutError::Issuer("none".into()))?;
    let issuer = xml::simple_text(issuer).map_err(xml_error)?;
    if issuer != expected.idp_entity_id {
        return Err(LogoutError::Issuer(issuer));
    }
    match root.attribute("Destination") {
        Some(d) if d != expected.endpoint => return Err(LogoutError::Destination(d.to_owned())),
        None => return Err(LogoutError::Destination("missing on a signed message".into())),
        Some(_) => {}
    }
    Ok(root)
}

/// Checks an IdP's `samlp:LogoutRequest` (Core §3.7.1).
pub fn verify_request(text: &str, expected: &Expected) -> Result<VerifiedLogoutRequest, LogoutError> {
    let doc = xml::parse(text).map_err(xml_error)?;
    let root = common(&doc, "LogoutRequest", expected)?;
    let id = root.attribute("ID").ok_or_else(|| LogoutError::Xml("no ID".into()))?.to_owned();
    let time = |name: &str| {
        root.attribute(name)
            .map(|v| instant(v).ok_or_else(|| LogoutError::Xml(format!("{name} is not an xs:dateTime"))))
            .transpose()
    };
    let issued = time("IssueInstant")?.ok_or_else(|| LogoutError::Xml("no IssueInstant".into()))?;
    // Without a NotOnOrAfter, a request is taken for as long as a login response would be.
    let not_on_or_after = time("NotOnOrAfter")?.unwrap_or(issued + 300);
    if not_on_or_after + expected.skew <= expected.now || issued > expected.now + expected.skew {
        return Err(LogoutError::Expired);
    }
    if root.children().any(|n| xml::is(n, NS_SAML, "EncryptedID") || xml::is(n, NS_SAML, "BaseID")) {
        return Err(LogoutError::Xml("only a plain NameID is understood".into()));
    }
    let name_id =
        xml::child(root, NS_SAML, "NameID").map_err(xml_error)?.ok_or(LogoutError::Xml("no NameID".into()))?;
    let name_id = xml::simple_text(name_id).map_err(xml_error)?;
    if name_id.trim().is_empty() {
        return Err(LogoutError::Xml("empty NameID".into()));
    }
    let session_indexes = root
        .children()
        .filter(|n| xml::is(*n, NS_SAMLP, "SessionIndex"))
        .map(|n| xml::simple_text(n).map_err(xml_error))
        .collect::<Result<_, _>>()?;
    Ok(VerifiedLogoutRequest { id, name_id, session_indexes, not_on_or_after })
}

/// Checks an IdP's `samlp:LogoutResponse` (Core §3.7.2) to keyedge's request `request_id`.
pub fn verify_response(text: &str, expected: &Expected, request_id: &str) -> Result<(), LogoutError> {
    let doc = xml::parse(text).map_err(xml_error)?;
    let root = common(&doc, "LogoutResponse", expected)?;
    if root.attribute("InResponseTo") != Some(request_id) {
        return Err(LogoutError::InResponseTo);
    }
    let code = xml::child(root, NS_SAMLP, "Status")
        .map_err(xml_error)?
        .and_then(|s| xml::child(s, NS_SAMLP, "StatusCode").ok().flatten())
        .and_then(|c| c.attribute("Value"))
        .ok_or_else(|| LogoutError::Xml("no StatusCode".into()))?;
    match code {
        STATUS_SUCCESS => Ok(()),
        other => Err(LogoutError::Status(other.to_owned())),
    }
}

/// Which message a decoded SAML text is: its root element's local name in the protocol
/// namespace, read without trusting anything in it.
pub fn message_kind(text: &str) -> Option<String> {
    let doc = xml::parse(text).ok()?;
    let root = doc.root_element();
    (root.tag_name().namespace() == Some(NS_SAMLP)).then(|| root.tag_name().name().to_owned())
}
