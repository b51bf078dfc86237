//! The messages keyedge writes as a SAML service provider: the `AuthnRequest`, the
//! `LogoutRequest`, and its SP descriptor (metadata) — and how they travel (Redirect or POST
//! binding).

use base64::Engine;

use askama::Template;

use super::config::SamlProvider;
use super::dsig;
use super::metadata::{Binding, Endpoint};
use crate::core::upstream::Outgoing;

/// An `xs:dateTime` in UTC for Unix seconds `t`.
pub fn timestamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// keyedge's side of one IdP: who it is and where its endpoints are.
pub struct Sp<'a> {
    pub entity_id: &'a str,
    /// `/broker/{alias}/endpoint`: the assertion consumer service and the SLO endpoint.
    pub endpoint: &'a str,
}

/// Renders a message template; the templates are keyedge's own and render infallibly, but a
/// failure is still an error, never a half-written message.
fn render(t: &impl Template) -> Result<String, dsig::DsigError> {
    t.render().map_err(|e| dsig::DsigError::Signing(format!("a SAML message template: {e}")))
}

#[derive(Template)]
#[template(path = "saml/authn_request.xml")]
struct AuthnRequest<'a> {
    id: &'a str,
    issue_instant: String,
    destination: &'a str,
    acs: &'a str,
    protocol_binding: &'static str,
    force_authn: bool,
    attribute_consuming_service: Option<u16>,
    issuer: &'a str,
    name_id_format: &'static str,
}

/// `samlp:AuthnRequest` (Core §3.4.1) with ID `id`, for `destination`; `ForceAuthn` with
/// `force_authn`, or when the client asked for a fresh login (`force`).
pub fn authn_request(
    cfg: &SamlProvider,
    sp: &Sp,
    id: &str,
    destination: &str,
    force: bool,
    now: i64,
) -> Result<String, dsig::DsigError> {
    render(&AuthnRequest {
        id,
        issue_instant: timestamp(now),
        destination,
        acs: sp.endpoint,
        protocol_binding: cfg.response_binding.urn(),
        force_authn: cfg.force_authn || force,
        attribute_consuming_service: cfg.attribute_consuming_service.as_ref().map(|(index, _)| *index),
        issuer: sp.entity_id,
        name_id_format: cfg.name_id_policy_format.urn(),
    })
}

/// `samlp:LogoutRequest` (Core §3.7.1) for the user `name_id` of session `session_index`.
#[derive(Template)]
#[template(path = "saml/logout_request.xml")]
pub struct LogoutRequest<'a> {
    pub id: &'a str,
    pub issue_instant: String,
    pub destination: &'a str,
    pub issuer: &'a str,
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

impl LogoutRequest<'_> {
    pub fn xml(&self) -> Result<String, dsig::DsigError> {
        render(self)
    }
}

/// `samlp:LogoutResponse` (Core §3.7.2) answering the IdP's request `in_response_to`, with
/// the top-level status `status` (`Success`, `Requester`, `Responder`).
#[derive(Template)]
#[template(path = "saml/logout_response.xml")]
pub struct LogoutResponse<'a> {
    pub id: &'a str,
    pub issue_instant: String,
    pub destination: &'a str,
    pub in_response_to: &'a str,
    pub issuer: &'a str,
    pub status: &'static str,
}

impl LogoutResponse<'_> {
    pub fn xml(&self) -> Result<String, dsig::DsigError> {
        render(self)
    }
}

/// Sends `xml` (a request, `param` `SAMLRequest`, or a response, `SAMLResponse`) to
/// `endpoint` by its binding, signed when `cfg` signs: the query string for Redirect
/// (Bindings §3.4.4.1), an enveloped signature for POST.
pub fn outgoing(
    cfg: &SamlProvider,
    endpoint: &Endpoint,
    param: &'static str,
    xml: &str,
    id: &str,
    relay_state: Option<&str>,
) -> Result<Outgoing, dsig::DsigError> {
    match endpoint.binding {
        Binding::Redirect => {
            let deflated = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6);
            let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
            let value: String = url::form_urlencoded::byte_serialize(encoded.as_bytes()).collect();
            let query = match &cfg.signing {
                Some((credentials, _)) => dsig::sign_redirect(param, &value, relay_state, &credentials.key)?,
                None => match relay_state {
                    Some(r) => {
                        let r: String = url::form_urlencoded::byte_serialize(r.as_bytes()).collect();
                        format!("{param}={value}&RelayState={r}")
                    }
                    None => format!("{param}={value}"),
                },
            };
            let mut url = endpoint.url.clone();
            let joined = match url.query() {
                Some(q) if !q.is_empty() => format!("{q}&{query}"),
                _ => query,
            };
            url.set_query(Some(&joined));
            Ok(Outgoing::Redirect(url))
        }
        Binding::Post => {
            let signed = match &cfg.signing {
                Some((credentials, _)) => dsig::sign_enveloped(xml, id, &credentials.key)?,
                None => xml.to_owned(),
            };
            let mut fields = vec![(param, base64::engine::general_purpose::STANDARD.encode(signed))];
            if let Some(r) = relay_state {
                fields.push(("RelayState", r.to_owned()));
            }
            Ok(Outgoing::Post { url: endpoint.url.clone(), fields })
        }
    }
}

#[derive(Template)]
#[template(path = "saml/descriptor.xml")]
struct Descriptor<'a> {
    entity_id: &'a str,
    endpoint: &'a str,
    authn_requests_signed: bool,
    want_assertions_signed: bool,
    certificate: Option<&'a str>,
    encryption_certificate: Option<&'a str>,
    slo_bindings: [&'static str; 2],
    name_id_format: &'static str,
    /// Each binding of the assertion consumer service, and whether it is the default.
    acs: [(&'static str, bool); 2],
    attribute_consuming_service: Option<(u16, &'a str)>,
    requested_attributes: &'a [&'a str],
}

/// keyedge's SP descriptor for this IdP (`/broker/{alias}/endpoint/descriptor`, Metadata
/// §2.4.4): its entity id, the ACS for both bindings, the SLO endpoint, its certificate and
/// the NameID format it asks for; what an IdP administrator imports.
pub fn descriptor(cfg: &SamlProvider, sp: &Sp, requested_attributes: &[&str]) -> Result<String, dsig::DsigError> {
    render(&Descriptor {
        entity_id: sp.entity_id,
        endpoint: sp.endpoint,
        authn_requests_signed: cfg.signing.is_some(),
        want_assertions_signed: cfg.want_assertions_signed,
        certificate: cfg.sp_certificate.as_deref(),
        encryption_certificate: cfg.decryption.as_ref().map(|d| d.certificate.as_str()),
        slo_bindings: [Binding::Redirect.urn(), Binding::Post.urn()],
        name_id_format: cfg.name_id_policy_format.urn(),
        acs: [Binding::Post, Binding::Redirect].map(|b| (b.urn(), b == cfg.response_binding)),
        attribute_consuming_service: cfg.attribute_consuming_service.as_ref().map(|(i, n)| (*i, n.as_str())),
        requested_attributes,
    })
}
