//! The messages keyedge writes as a SAML service provider: the `AuthnRequest`, the
//! `LogoutRequest`, and its SP descriptor (metadata) — and how they travel (Redirect or POST
//! binding).

use base64::Engine;

use super::config::{SamlProvider, SignatureAlgorithm};
use super::dsig;
use super::metadata::{Binding, Endpoint, NS_MD};
use super::xml::{NS_DS, NS_SAML, NS_SAMLP};
use crate::core::upstream::Outgoing;

/// Escapes text for an XML attribute value or element content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

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

/// `samlp:AuthnRequest` (Core §3.4.1) with ID `id`, for `destination`; `ForceAuthn` with
/// `force_authn`, or when the client asked for a fresh login (`force`).
pub fn authn_request(cfg: &SamlProvider, sp: &Sp, id: &str, destination: &str, force: bool, now: i64) -> String {
    let mut xml = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}" AssertionConsumerServiceURL="{}" ProtocolBinding="{}""#,
        escape(id),
        timestamp(now),
        escape(destination),
        escape(sp.endpoint),
        cfg.response_binding.urn(),
    );
    if cfg.force_authn || force {
        xml.push_str(r#" ForceAuthn="true""#);
    }
    if let Some((index, _)) = &cfg.attribute_consuming_service {
        xml.push_str(&format!(r#" AttributeConsumingServiceIndex="{index}""#));
    }
    xml.push_str(&format!(
        r#"><saml:Issuer>{}</saml:Issuer><samlp:NameIDPolicy Format="{}" AllowCreate="true"/></samlp:AuthnRequest>"#,
        escape(sp.entity_id),
        cfg.name_id_policy_format.urn(),
    ));
    xml
}

/// `samlp:LogoutRequest` (Core §3.7.1) for the user `name_id` of session `session_index`.
pub fn logout_request(
    sp: &Sp,
    id: &str,
    destination: &str,
    name_id: &str,
    name_id_format: Option<&str>,
    session_index: Option<&str>,
    now: i64,
) -> String {
    let format = name_id_format.map(|f| format!(r#" Format="{}""#, escape(f))).unwrap_or_default();
    let index =
        session_index.map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s))).unwrap_or_default();
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}"><saml:Issuer>{}</saml:Issuer><saml:NameID{format}>{}</saml:NameID>{index}</samlp:LogoutRequest>"#,
        escape(id),
        timestamp(now),
        escape(destination),
        escape(sp.entity_id),
        escape(name_id),
    )
}

/// `samlp:LogoutResponse` (Core §3.7.2) answering the IdP's request `in_response_to`.
pub fn logout_response(sp: &Sp, id: &str, destination: &str, in_response_to: &str, now: i64) -> String {
    format!(
        r#"<samlp:LogoutResponse xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}" InResponseTo="{}"><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
        escape(id),
        timestamp(now),
        escape(destination),
        escape(in_response_to),
        escape(sp.entity_id),
    )
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

/// keyedge's SP descriptor for this IdP (`/broker/{alias}/endpoint/descriptor`, Metadata
/// §2.4.4): its entity id, the ACS for both bindings, the SLO endpoint, its certificate and
/// the NameID format it asks for; what an IdP administrator imports.
pub fn descriptor(cfg: &SamlProvider, sp: &Sp, requested_attributes: &[&str]) -> String {
    let endpoint = escape(sp.endpoint);
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{NS_MD}" xmlns:ds="{NS_DS}" entityID="{}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="{}" WantAssertionsSigned="{}">
"#,
        escape(sp.entity_id),
        cfg.signing.is_some(),
        cfg.want_assertions_signed,
    );
    if let Some(cert) = &cfg.sp_certificate {
        xml.push_str(&format!(
            "    <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n"
        ));
    }
    for binding in [Binding::Redirect, Binding::Post] {
        xml.push_str(&format!("    <md:SingleLogoutService Binding=\"{}\" Location=\"{endpoint}\"/>\n", binding.urn()));
    }
    xml.push_str(&format!("    <md:NameIDFormat>{}</md:NameIDFormat>\n", cfg.name_id_policy_format.urn()));
    for (index, binding) in [Binding::Post, Binding::Redirect].iter().enumerate() {
        let default = if *binding == cfg.response_binding { r#" isDefault="true""# } else { "" };
        xml.push_str(&format!(
            "    <md:AssertionConsumerService Binding=\"{}\" Location=\"{endpoint}\" index=\"{}\"{default}/>\n",
            binding.urn(),
            index + 1,
        ));
    }
    if let Some((index, name)) = &cfg.attribute_consuming_service {
        xml.push_str(&format!(
            "    <md:AttributeConsumingService index=\"{index}\"><md:ServiceName xml:lang=\"en\">{}</md:ServiceName>",
            escape(name)
        ));
        for a in requested_attributes {
            xml.push_str(&format!(r#"<md:RequestedAttribute Name="{}"/>"#, escape(a)));
        }
        xml.push_str("</md:AttributeConsumingService>\n");
    }
    xml.push_str("  </md:SPSSODescriptor>\n</md:EntityDescriptor>\n");
    xml
}

/// What a signing SP states in `SigAlg` for `alg`.
pub fn sig_alg(alg: SignatureAlgorithm) -> &'static str {
    match alg {
        SignatureAlgorithm::RSA_SHA256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        SignatureAlgorithm::ECDSA_SHA256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    }
}
