//! The IdP's SAML metadata (SAML 2.0 Metadata, `md:EntityDescriptor` with an
//! `md:IDPSSODescriptor`): its entity id, endpoints and signing certificates.

use url::Url;

use super::dsig::TrustedKey;
use super::xml::{self, NS_MD};
use crate::core::config::parse_url;

pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// How a SAML message travels through the browser (SAML Bindings §3.4, §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// HTTP-Redirect: deflated, base64, in the query string.
    Redirect,
    /// HTTP-POST: base64 in an auto-submitted form.
    Post,
}

impl Binding {
    pub fn urn(self) -> &'static str {
        match self {
            Binding::Redirect => BINDING_REDIRECT,
            Binding::Post => BINDING_POST,
        }
    }

    fn from_urn(urn: &str) -> Option<Self> {
        match urn {
            BINDING_REDIRECT => Some(Binding::Redirect),
            BINDING_POST => Some(Binding::Post),
            _ => None,
        }
    }
}

/// One endpoint of the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: Url,
    pub binding: Binding,
}

/// What keyedge knows of a SAML IdP.
#[derive(Debug, Clone, Default)]
pub struct IdpDescriptor {
    pub entity_id: String,
    /// `SingleSignOnService`s with a binding keyedge speaks, in the metadata's order.
    pub sso: Vec<Endpoint>,
    /// `SingleLogoutService`s likewise.
    pub slo: Vec<Endpoint>,
    /// The keys of its signing certificates (more than one during a key rollover).
    pub signing_keys: Vec<TrustedKey>,
    /// The IdP asks for signed requests (`WantAuthnRequestsSigned`).
    pub want_authn_requests_signed: bool,
}

impl IdpDescriptor {
    /// The endpoint for `binding`, else the first one.
    pub fn endpoint(endpoints: &[Endpoint], binding: Binding) -> Option<&Endpoint> {
        endpoints.iter().find(|e| e.binding == binding).or(endpoints.first())
    }

    /// Reads an `EntityDescriptor` (or an `EntitiesDescriptor` holding exactly one IdP).
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc = xml::parse(text).map_err(|e| e.to_string())?;
        let root = doc.root_element();
        let entity = match (root.tag_name().namespace(), root.tag_name().name()) {
            (Some(NS_MD), "EntityDescriptor") => root,
            (Some(NS_MD), "EntitiesDescriptor") => {
                let mut idps = root.descendants().filter(|n| is_md(*n, "EntityDescriptor") && idp_role(*n).is_some());
                match (idps.next(), idps.next()) {
                    (Some(one), None) => one,
                    (None, _) => return Err("no EntityDescriptor with an IDPSSODescriptor".into()),
                    (Some(_), Some(_)) => {
                        return Err("several identity providers: give the metadata of one (its EntityDescriptor)".into())
                    }
                }
            }
            _ => return Err("the document is not SAML metadata (an md:EntityDescriptor)".into()),
        };
        let entity_id = entity.attribute("entityID").filter(|e| !e.is_empty()).ok_or("no entityID")?.to_owned();
        let role = idp_role(entity).ok_or("no IDPSSODescriptor for the SAML 2.0 protocol")?;
        let endpoints = |name: &str| -> Result<Vec<Endpoint>, String> {
            let mut found = Vec::new();
            for n in role.children().filter(|n| is_md(*n, name)) {
                let Some(binding) = n.attribute("Binding").and_then(Binding::from_urn) else { continue };
                let location = n.attribute("Location").ok_or_else(|| format!("{name} without Location"))?;
                let url = parse_url(location).map_err(|m| format!("{name}: {m}"))?;
                found.push(Endpoint { url, binding });
            }
            Ok(found)
        };
        let sso = endpoints("SingleSignOnService")?;
        if sso.is_empty() {
            return Err("no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding".into());
        }
        let slo = endpoints("SingleLogoutService")?;
        let mut signing_keys = Vec::new();
        for kd in role.children().filter(|n| is_md(*n, "KeyDescriptor")) {
            if kd.attribute("use").is_some_and(|u| u != "signing") {
                continue;
            }
            let certs = kd
                .descendants()
                .filter(|n| n.tag_name().namespace() == Some(xml::NS_DS) && n.tag_name().name() == "X509Certificate");
            for cert in certs {
                let text = xml::simple_text(cert).map_err(|e| e.to_string())?;
                signing_keys
                    .push(TrustedKey::from_certificate(&text).map_err(|e| format!("signing certificate: {e}"))?);
            }
        }
        if signing_keys.is_empty() {
            return Err("no signing certificate (KeyDescriptor use=\"signing\")".into());
        }
        let want_authn_requests_signed = role.attribute("WantAuthnRequestsSigned") == Some("true");
        Ok(IdpDescriptor { entity_id, sso, slo, signing_keys, want_authn_requests_signed })
    }
}

fn is_md(n: roxmltree::Node, name: &str) -> bool {
    n.is_element() && n.tag_name().namespace() == Some(NS_MD) && n.tag_name().name() == name
}

fn idp_role<'a, 'i>(entity: roxmltree::Node<'a, 'i>) -> Option<roxmltree::Node<'a, 'i>> {
    entity.children().find(|n| {
        is_md(*n, "IDPSSODescriptor")
            && n.attribute("protocolSupportEnumeration").is_some_and(|p| p.split_whitespace().any(|p| p == PROTOCOL))
    })
}
