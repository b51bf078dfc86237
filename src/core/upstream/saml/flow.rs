//! A login at a SAML IdP: the `AuthnRequest` out, the checked `Response` back, and what it
//! says as a [`BrokeredIdentity`].

use std::cell::RefCell;
use std::collections::HashMap;

use super::config::{IdpSource, Principal, SamlProvider, METADATA_TTL};
use super::metadata::IdpDescriptor;
use super::protocol::{self, Sp};
use super::response::{self, Decryption, Expected, ResponseError, VerifiedAssertion, NAMEID_EMAIL};
use crate::core::claims::StandardClaims;
use crate::core::config::IdentityProvider;
use crate::core::ports::Ports;
use crate::core::upstream::{BrokeredIdentity, FlowSecrets, Outgoing, SamlSession, UpstreamError};

/// Per-isolate cache of IdP metadata read from a URL, by alias.
#[derive(Default)]
pub struct SamlMetadataCache {
    descriptors: RefCell<HashMap<String, (IdpDescriptor, i64)>>,
}

impl SamlMetadataCache {
    /// The IdP's facts: configured, or its metadata (fetched once per [`METADATA_TTL`]) with
    /// the configured values in their place.
    pub async fn descriptor(
        &self,
        idp: &IdentityProvider,
        cfg: &SamlProvider,
        ports: &Ports<'_>,
    ) -> Result<IdpDescriptor, UpstreamError> {
        let (url, overrides) = match &cfg.idp {
            IdpSource::Fixed(d) => return Ok(d.clone()),
            IdpSource::Url { url, overrides } => (url, overrides),
        };
        let now = ports.clock.now();
        if let Some((d, at)) = self.descriptors.borrow().get(&idp.alias) {
            if now - at < METADATA_TTL {
                return Ok(d.clone());
            }
        }
        let unavailable = |m: String| UpstreamError::Unavailable(format!("SAML metadata: {m}"));
        let req = http::Request::get(url.as_str())
            .header("accept", "application/samlmetadata+xml, application/xml, text/xml")
            .body(Vec::new())
            .map_err(|e| unavailable(e.to_string()))?;
        let res = ports.http.send(req).await.map_err(|e| unavailable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(unavailable(format!("HTTP {}", res.status().as_u16())));
        }
        let text = String::from_utf8(res.into_body()).map_err(|_| unavailable("not UTF-8".into()))?;
        let descriptor = overrides.apply(IdpDescriptor::parse(&text).map_err(unavailable)?);
        self.descriptors.borrow_mut().insert(idp.alias.clone(), (descriptor.clone(), now));
        Ok(descriptor)
    }

    /// Forgets `alias`'s metadata, so that the next login reads it again: after a response
    /// signed by a key it does not list (the IdP may have rolled its key over) — unless it
    /// was read less than [`METADATA_REFRESH_AFTER`] ago, so that forged posts cannot make
    /// keyedge fetch it again and again.
    pub fn forget(&self, alias: &str, now: i64) {
        let mut descriptors = self.descriptors.borrow_mut();
        if descriptors.get(alias).is_some_and(|(_, at)| now - at >= METADATA_REFRESH_AFTER) {
            descriptors.remove(alias);
        }
    }
}

/// The least time between two reads of an IdP's metadata that a refused signature causes.
pub const METADATA_REFRESH_AFTER: i64 = 300;

/// keyedge's entity id towards an IdP: its own setting, else keyedge's issuer.
pub fn sp_entity_id<'a>(cfg: &'a SamlProvider, issuer: &'a str) -> &'a str {
    cfg.entity_id.as_deref().unwrap_or(issuer)
}

/// The `AuthnRequest` for a new login, on its way; the flow keeps its ID (as the nonce), which
/// the response must answer. `force`: the client asked for a fresh login (`ForceAuthn`).
pub fn begin(
    cfg: &SamlProvider,
    descriptor: &IdpDescriptor,
    sp: &Sp,
    state: &str,
    force: bool,
    ports: &Ports<'_>,
) -> Result<(Outgoing, FlowSecrets), UpstreamError> {
    let endpoint = IdpDescriptor::endpoint(&descriptor.sso, cfg.authn_request_binding)
        .ok_or_else(|| UpstreamError::Unavailable("the IdP has no SingleSignOnService".into()))?;
    if descriptor.want_authn_requests_signed && cfg.signing.is_none() {
        return Err(UpstreamError::Unavailable(
            "the IdP's metadata asks for signed requests (WantAuthnRequestsSigned): set want_authn_requests_signed"
                .into(),
        ));
    }
    // An NCName: a letter or `_` first.
    let id = format!("_{}", ports.random_token(20));
    let xml = protocol::authn_request(cfg, sp, &id, endpoint.url.as_str(), force, ports.clock.now())
        .and_then(|xml| protocol::outgoing(cfg, endpoint, "SAMLRequest", &xml, &id, Some(state)));
    let out = xml.map_err(|e| UpstreamError::Unavailable(format!("signing the AuthnRequest: {e}")))?;
    Ok((out, FlowSecrets { nonce: id, pkce_verifier: None }))
}

/// Checks the IdP's `Response` (decoded XML): everything but which browser's request it
/// answers, which needs the flow ([`identity`] checks it).
pub fn check_response(
    cfg: &SamlProvider,
    descriptor: &IdpDescriptor,
    sp: &Sp,
    xml: &str,
    query_signed: bool,
    now: i64,
) -> Result<VerifiedAssertion, ResponseError> {
    let expected = Expected {
        idp_entity_id: &descriptor.entity_id,
        sp_entity_id: sp.entity_id,
        acs_url: sp.endpoint,
        keys: &descriptor.signing_keys,
        want_assertions_signed: cfg.want_assertions_signed,
        query_signed,
        decryption: match &cfg.decryption {
            None => Decryption::Off,
            Some(d) if cfg.want_assertions_encrypted => Decryption::Required(d.key.as_ref()),
            Some(d) => Decryption::Optional(d.key.as_ref()),
        },
        now,
        skew: cfg.allowed_clock_skew as i64,
    };
    response::verify(xml, &expected)
}

/// A refused response as the broker reports it: the IdP's own refusal, or keyedge's.
pub fn upstream_error(e: ResponseError) -> UpstreamError {
    if e.is_refusal() {
        UpstreamError::Denied { error: "saml_status".into(), description: Some(e.to_string()) }
    } else {
        UpstreamError::Saml(e.to_string())
    }
}

const UNSOLICITED: &str = "unsolicited ";

/// The "request ID" of the flow keyedge makes for an unsolicited assertion (IdP-initiated
/// login): only that assertion completes it, and no answer to a request of keyedge's does.
pub fn unsolicited_nonce(assertion_id: &str) -> String {
    format!("{UNSOLICITED}{assertion_id}")
}

/// The identity a checked assertion vouches for, once it is known to answer `secrets`'s
/// request (the flow of this browser) and is still valid at `now`.
pub fn identity(
    idp: &IdentityProvider,
    cfg: &SamlProvider,
    assertion: VerifiedAssertion,
    secrets: &FlowSecrets,
    now: i64,
) -> Result<BrokeredIdentity, UpstreamError> {
    let answers = match assertion.in_response_to.as_deref() {
        Some(request) => {
            request == secrets.nonce && !secrets.nonce.is_empty() && !secrets.nonce.starts_with(UNSOLICITED)
        }
        // A flow made for this very unsolicited assertion (the IdP's `idp_initiated_login`).
        None => secrets.nonce == unsolicited_nonce(&assertion.assertion_id),
    };
    if !answers {
        return Err(UpstreamError::Saml("the response answers another request (InResponseTo)".into()));
    }
    if assertion.not_on_or_after + cfg.allowed_clock_skew as i64 <= now {
        return Err(UpstreamError::Saml("the assertion has expired".into()));
    }
    let sub = match &cfg.principal {
        Principal::NameId => Some(assertion.name_id.clone()),
        Principal::Attribute(name) => assertion.values(name, false).and_then(|v| v.first().cloned()),
        Principal::FriendlyName(name) => assertion.values(name, true).and_then(|v| v.first().cloned()),
    }
    .filter(|s| !s.is_empty())
    .ok_or_else(|| UpstreamError::Saml("the assertion lacks the principal attribute".into()))?;
    let claims = assertion.claims();
    let first = |names: &[&str]| {
        names.iter().find_map(|n| {
            assertion.values(n, false).or_else(|| assertion.values(n, true)).and_then(|v| v.first().cloned())
        })
    };
    let email = first(&["mail", "email", "emailAddress", "urn:oid:0.9.2342.19200300.100.1.3"])
        .or_else(|| (assertion.name_id_format.as_deref() == Some(NAMEID_EMAIL)).then(|| assertion.name_id.clone()));
    let profile = StandardClaims {
        name: first(&["displayName", "cn", "urn:oid:2.16.840.1.113730.3.1.241"]),
        given_name: first(&["givenName", "firstName", "urn:oid:2.5.4.42"]),
        family_name: first(&["sn", "surname", "lastName", "urn:oid:2.5.4.4"]),
        // SAML has no "verified" flag: an address counts only where the IdP is trusted for it.
        email_verified: email.is_some() && idp.trust_email,
        email,
        ..StandardClaims::default()
    };
    let username = first(&["uid", "urn:oid:0.9.2342.19200300.100.1.1"]).unwrap_or_else(|| sub.clone());
    Ok(BrokeredIdentity {
        alias: idp.alias.clone(),
        sub,
        username,
        profile,
        upstream_sid: assertion.session_index.clone(),
        auth_time: Some(assertion.authn_instant),
        tokens: None,
        claims,
        saml_session: Some(SamlSession {
            name_id: assertion.name_id,
            name_id_format: assertion.name_id_format,
            session_index: assertion.session_index,
        }),
    })
}
