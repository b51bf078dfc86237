//! SAML at `/broker/{alias}/endpoint`: the IdP's login `Response` (HTTP-POST, or HTTP-Redirect
//! with a signed query), its Single Logout messages, and keyedge's SP descriptor at
//! `/broker/{alias}/endpoint/descriptor`.
//!
//! A response arrives as another site's POST, which does not carry the `SameSite=Lax` flow
//! cookie that binds the login to its browser. So the post completes nothing: every check
//! that needs no flow is made here (signature, issuer, destination, audience, times, status),
//! and only the assertion that passed them is sealed (XChaCha20-Poly1305, bound to the IdP,
//! valid [`HAND_BACK_TTL`](super::form_post::HAND_BACK_TTL)) into a `303 See Other` to
//! `GET /broker/{alias}/endpoint?saml=…` — a top-level navigation with which the browser sends
//! the flow cookie. That GET is the ordinary callback: the flow must open for the `RelayState`,
//! the assertion's `InResponseTo` must be the ID of the request that flow sent, and the state's
//! single-use marker is recorded once.
//!
//! Single Logout (Profiles §4.4): keyedge's logout sends the IdP a `LogoutRequest` for the
//! session's NameID and session index, its RelayState sealed with where to go next and the
//! request's ID, which the IdP's `LogoutResponse` must answer. The IdP's own `LogoutRequest`
//! (signed, once per ID) ends every keyedge session listed under its NameID and session
//! indexes, and is answered with a `LogoutResponse`.

use http::StatusCode;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

use super::form_post::{hand_back, taken_back, Posted};
use super::login::{Continuation, Purpose, UpstreamFlow, FLOW_TTL};
use super::session::{self, Session};
use super::upstream_session;
use crate::core::app::Keyedge;
use crate::core::config::{IdentityProvider, Landing, ProviderKind};
use crate::core::error::{Failure, Outcome, PageError};
use crate::core::keys;
use crate::core::ports::Marker;
use crate::core::ports::Ports;
use crate::core::upstream::saml::config::SamlProvider;
use crate::core::upstream::saml::flow::{self, sp_entity_id};
use crate::core::upstream::saml::metadata::Binding;
use crate::core::upstream::saml::metadata::IdpDescriptor;
use crate::core::upstream::saml::protocol::{self, Sp};
use crate::core::upstream::saml::response::{decode_post, VerifiedAssertion};
use crate::core::upstream::saml::{dsig, logout as slo, xml};
use crate::core::upstream::{FlowSecrets, Outgoing, UpstreamError};
use crate::core::web::{self, Params, Request};

/// A checked assertion and its RelayState, between the post and the GET.
#[derive(Serialize, Deserialize)]
pub struct Checked {
    pub assertion: VerifiedAssertion,
    pub relay_state: String,
}

/// keyedge's side of `idp`.
fn sp<'a>(app: &'a Keyedge, cfg: &'a SamlProvider, endpoint: &'a str) -> Sp<'a> {
    Sp { entity_id: sp_entity_id(cfg, &app.config.issuer), endpoint }
}

/// `GET /broker/{alias}/endpoint/descriptor`: keyedge's SP metadata for this IdP.
pub fn descriptor(app: &Keyedge, idp: &IdentityProvider, cfg: &SamlProvider) -> Outcome {
    let endpoint = app.broker_endpoint(&idp.alias);
    let requested: Vec<&str> = idp.mappers.iter().filter_map(|m| m.claim()).collect();
    let xml = protocol::descriptor(cfg, &sp(app, cfg, &endpoint), &requested)
        .map_err(|e| Failure::internal(format!("the SP descriptor: {e}")))?;
    Ok(web::saml_metadata(xml))
}

fn refused(alias: &str, e: UpstreamError) -> Failure {
    let page = PageError::new(StatusCode::BAD_GATEWAY, "Sign-in failed", e.public_message()).with_retry("/login");
    Failure::logged(page, format!("sign-in with `{alias}` failed: {e}"))
}

fn bad(message: &str) -> Failure {
    PageError::bad_request("Invalid sign-in response", message).with_retry("/login").into()
}

/// A `SAMLResponse` that came by POST, or by Redirect (`query_signed`: its query signature
/// verified): checked, sealed, and handed to the browser as a same-origin GET.
async fn receive(
    app: &Keyedge,
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
    xml_text: &str,
    relay_state: Option<&str>,
    query_signed: bool,
) -> Outcome {
    let descriptor = idp_descriptor(app, ports, idp, cfg).await?;
    let endpoint = app.broker_endpoint(&idp.alias);
    let now = ports.clock.now();
    let assertion = flow::check_response(cfg, &descriptor, &sp(app, cfg, &endpoint), xml_text, query_signed, now)
        .map_err(|e| {
            if e.is_unknown_key() {
                // A key the cached metadata lacks may be the IdP's new one.
                app.saml_metadata.forget(&idp.alias, now);
            }
            refused(&idp.alias, flow::upstream_error(e))
        })?;
    if assertion.in_response_to.is_none() {
        return match &cfg.idp_initiated_login {
            Some(landing) => unsolicited(app, ports, idp, cfg, assertion, landing.clone()).await,
            None => {
                Err(bad("The response answers no request of keyedge's (an IdP-initiated sign-in is not accepted)."))
            }
        };
    }
    let Some(relay_state) = relay_state.filter(|r| !r.is_empty()) else {
        return Err(bad("The response carries no RelayState: keyedge did not ask for it (an IdP-initiated sign-in is not accepted)."));
    };
    hand_back(app, ports, &idp.alias, Posted::Saml, Checked { assertion, relay_state: relay_state.to_owned() })
}

/// An unsolicited assertion, for an IdP with `idp_initiated_login`: taken once (its ID), then
/// completed like a login keyedge started — by a flow made for this assertion alone, sealed
/// into a cookie of this browser, and the same hand-back to the callback. Its RelayState (the
/// IdP's) is not followed: the login lands where the configuration says.
async fn unsolicited(
    app: &Keyedge,
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
    assertion: VerifiedAssertion,
    landing: Landing,
) -> Outcome {
    let now = ports.clock.now();
    let ttl = (assertion.not_on_or_after + cfg.allowed_clock_skew as i64 - now).max(60) as u64;
    let marker = keys::saml_assertion(&idp.alias, &assertion.assertion_id);
    if !ports.once.once_then_store(Some(Marker { key: &marker, ttl_seconds: ttl }), None, None).await? {
        let page = PageError::bad_request(
            "Invalid sign-in response",
            "This sign-in from your identity provider was already used. Please start again there.",
        )
        .with_retry("/login");
        let why = format!("`{}` posted an unsolicited assertion again: {}", idp.alias, assertion.assertion_id);
        return Err(Failure::logged(page, why));
    }
    let state = ports.random_token(32);
    let flow = UpstreamFlow {
        alias: idp.alias.clone(),
        secrets: FlowSecrets { nonce: flow::unsolicited_nonce(&assertion.assertion_id), pkce_verifier: None },
        continuation: Continuation::Unsolicited { landing },
        expires_at: now + FLOW_TTL as i64,
        grant_id: ports.random_token(16),
        purpose: Purpose::SignIn,
    };
    let cookie = super::login::flow_cookie_for(app, ports, &state, &flow)?;
    let res = hand_back(app, ports, &idp.alias, Posted::Saml, Checked { assertion, relay_state: state })?;
    Ok(web::with_cookie(res, cookie))
}

/// `POST /broker/{alias}/endpoint` for a SAML IdP (HTTP-POST binding): a `SAMLResponse` (a
/// login's, or a logout's) or a `SAMLRequest` (the IdP's logout).
pub async fn post(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
) -> Outcome {
    let form = Params::from_form(req);
    let (param, encoded) = match (form.get("SAMLResponse"), form.get("SAMLRequest")) {
        (Some(v), None) => ("SAMLResponse", v),
        (None, Some(v)) => ("SAMLRequest", v),
        _ => return Err(bad("The post carries no SAMLResponse or SAMLRequest, or both.")),
    };
    let text = decode_post(encoded).map_err(|e| refused(&idp.alias, UpstreamError::Saml(e.to_string())))?;
    let message = Message { param, text, relay_state: form.get("RelayState").map(str::to_owned), query_signed: false };
    incoming(app, ports, req, idp, cfg, message).await
}

/// `GET /broker/{alias}/endpoint?SAMLResponse=…|SAMLRequest=…[&RelayState=…]&SigAlg=…&Signature=…`
/// (HTTP-Redirect binding). `None` when the query carries no SAML message (the ordinary
/// callback, `?saml=…`).
pub async fn redirected(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
) -> Option<Outcome> {
    let query = Params::from_query(req);
    let param = match (query.get("SAMLResponse"), query.get("SAMLRequest")) {
        (Some(_), None) => "SAMLResponse",
        (None, Some(_)) => "SAMLRequest",
        (None, None) => return None,
        _ => return Some(Err(bad("The query carries both a SAMLResponse and a SAMLRequest."))),
    };
    Some(
        async {
            let descriptor = idp_descriptor(app, ports, idp, cfg).await?;
            // The query's signature, when there is one, must hold, and the message and RelayState
            // are then the very values it covered; without one the XML must be signed.
            let (encoded, relay_state, query_signed) = match query.get("Signature") {
                Some(_) => {
                    let raw = req.uri().query().unwrap_or_default();
                    let verified = dsig::verify_redirect_params(raw, &descriptor.signing_keys)
                        .map_err(|e| refused(&idp.alias, UpstreamError::Saml(format!("query signature: {e}"))))?;
                    let decode = |v: &str| percent_decode_str(v).decode_utf8_lossy().into_owned();
                    (decode(verified.value), verified.relay_state.map(decode), true)
                }
                None => {
                    (query.get(param).unwrap_or_default().to_owned(), query.get("RelayState").map(str::to_owned), false)
                }
            };
            let text = inflate(&encoded).map_err(|e| refused(&idp.alias, UpstreamError::Saml(e)))?;
            incoming(app, ports, req, idp, cfg, Message { param, text, relay_state, query_signed }).await
        }
        .await,
    )
}

/// A SAML message as its binding delivered it.
struct Message {
    /// `SAMLResponse` or `SAMLRequest`: the parameter it came in.
    param: &'static str,
    /// The decoded XML.
    text: String,
    relay_state: Option<String>,
    /// Delivered by Redirect with a query signature that verified.
    query_signed: bool,
}

async fn idp_descriptor(
    app: &Keyedge,
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
) -> Result<IdpDescriptor, Failure> {
    let http = idp.http(ports.http);
    let upstream = ports.with_http(&http);
    app.saml_metadata.descriptor(idp, cfg, &upstream).await.map_err(|e| refused(&idp.alias, e))
}

/// Hands a message to what its root element says it is, once it came in the parameter that
/// kind of message travels in.
async fn incoming(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
    message: Message,
) -> Outcome {
    let relay = message.relay_state.as_deref();
    match (message.param, slo::message_kind(&message.text).as_deref()) {
        ("SAMLResponse", Some("Response")) => {
            receive(app, ports, idp, cfg, &message.text, relay, message.query_signed).await
        }
        ("SAMLResponse", Some("LogoutResponse")) => logout_answered(app, ports, idp, cfg, &message).await,
        ("SAMLRequest", Some("LogoutRequest")) => idp_logout(app, ports, req, idp, cfg, &message).await,
        (param, Some(kind)) => Err(bad(&format!("keyedge does not take a samlp:{kind} in {param}."))),
        (param, None) => {
            // Why it cannot be read (a DTD, an entity, a node or depth bomb) goes to the log.
            let why = xml::parse(&message.text).err().map(|e| e.to_string()).unwrap_or_else(|| "no SAML root".into());
            let page = PageError::bad_request(
                "Invalid sign-in response",
                format!("The {param} is not a message keyedge can read."),
            )
            .with_retry("/login");
            Err(Failure::logged(page, format!("`{}` sent a {param} keyedge cannot read: {why}", idp.alias)))
        }
    }
}

/// A Redirect-binding message: base64 of raw DEFLATE (Bindings §3.4.4.1), inflated to at most
/// [`xml::MAX_XML_BYTES`].
pub fn inflate(encoded: &str) -> Result<String, String> {
    use base64::Engine;
    let deflated = base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()).map_err(|e| e.to_string())?;
    let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, xml::MAX_XML_BYTES)
        .map_err(|e| format!("not DEFLATE, or larger than {} bytes: {e:?}", xml::MAX_XML_BYTES))?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The callback's answer from a SAML IdP: the assertion [`receive`] checked and sealed into
/// the query's `saml` parameter — nothing else is taken.
pub fn checked(app: &Keyedge, ports: &Ports<'_>, query: &Params, idp: &IdentityProvider) -> Result<Checked, Failure> {
    if query.get("saml").is_none() {
        return Err(bad("This is not a SAML response. Please start again."));
    }
    taken_back(app, ports, query, &idp.alias, Posted::Saml)
        .ok_or_else(|| bad("The SAML response has expired or is not keyedge's. Please start again."))
}

// ---------------------------------------------------------------- Single Logout

/// How long keyedge waits for the IdP's answer to its `LogoutRequest`.
const LOGOUT_TTL: i64 = 600;

/// Where keyedge's logout goes after the IdP's, and the request the IdP must answer: sealed
/// into the RelayState, so it can be neither swapped (no open redirect) nor reused elsewhere.
#[derive(Serialize, Deserialize)]
struct LogoutRelay {
    then: String,
    request_id: String,
    expires_at: i64,
}

fn logout_context(alias: &str) -> Vec<u8> {
    format!("keyedge saml logout {alias}").into_bytes()
}

fn logout_expected<'a>(
    cfg: &SamlProvider,
    descriptor: &'a IdpDescriptor,
    endpoint: &'a str,
    message: &Message,
    now: i64,
) -> slo::Expected<'a> {
    slo::Expected {
        idp_entity_id: &descriptor.entity_id,
        endpoint,
        keys: &descriptor.signing_keys,
        query_signed: message.query_signed,
        now,
        skew: cfg.allowed_clock_skew as i64,
    }
}

/// How keyedge reaches the IdP's Single Logout service.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Through the browser, by the configured binding (`post_binding_logout`).
    Front,
    /// Server to server (`backchannel_logout`): the Redirect binding's URL, fetched.
    Back,
}

/// keyedge's `LogoutRequest` for `session`, ended here, to its SAML IdP: `None` when the
/// session did not come from a SAML IdP with a Single Logout service (or the request cannot be
/// made; logged). `then` is where the browser goes once the IdP has answered.
pub async fn logout_at_idp(
    app: &Keyedge,
    ports: &Ports<'_>,
    session: &Session,
    then: &str,
    channel: Channel,
) -> Option<Outgoing> {
    let idp = app.config.provider(&session.idp)?;
    let ProviderKind::Saml(cfg) = &idp.kind else { return None };
    if (channel == Channel::Back) != cfg.backchannel_logout {
        return None;
    }
    let subject = session.upstream_saml.as_ref()?;
    let log = |e: String| (ports.log)(&format!("SAML logout at `{}`: {e}", idp.alias));
    let descriptor = idp_descriptor(app, ports, idp, cfg).await.map_err(|_| log("no IdP metadata".into())).ok()?;
    let binding = if channel == Channel::Back { Binding::Redirect } else { cfg.logout_binding };
    let endpoint = IdpDescriptor::endpoint(&descriptor.slo, binding)
        .filter(|e| e.binding == binding || channel == Channel::Front)?;
    let id = format!("_{}", ports.random_token(20));
    let now = ports.clock.now();
    let request = protocol::LogoutRequest {
        id: &id,
        issue_instant: protocol::timestamp(now),
        destination: endpoint.url.as_str(),
        issuer: sp_entity_id(cfg, &app.config.issuer),
        name_id: &subject.name_id,
        name_id_format: subject.name_id_format.as_deref(),
        session_index: subject.session_index.as_deref(),
    };
    let relay = LogoutRelay { then: then.to_owned(), request_id: id.clone(), expires_at: now + LOGOUT_TTL };
    let relay = serde_json::to_vec(&relay).ok()?;
    let relay = app.sealer.seal(ports.rng, &logout_context(&idp.alias), &relay);
    request
        .xml()
        .and_then(|xml| protocol::outgoing(cfg, endpoint, "SAMLRequest", &xml, &id, Some(&relay)))
        .map_err(|e| log(e.to_string()))
        .ok()
}

/// The IdP's `LogoutResponse` to keyedge's request: on to where keyedge's logout was going.
/// keyedge's session has ended already; a refused answer says that the IdP's may not have.
async fn logout_answered(
    app: &Keyedge,
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
    message: &Message,
) -> Outcome {
    let relay: LogoutRelay = message
        .relay_state
        .as_deref()
        .and_then(|r| app.sealer.open(&logout_context(&idp.alias), r))
        .and_then(|json| serde_json::from_slice(&json).ok())
        .filter(|r: &LogoutRelay| r.expires_at > ports.clock.now())
        .ok_or_else(|| {
            Failure::from(PageError::bad_request(
                "Signed out",
                "You are signed out here. This answer to a sign-out is not keyedge's, or it has expired.",
            ))
        })?;
    let descriptor = idp_descriptor(app, ports, idp, cfg).await?;
    let endpoint = app.broker_endpoint(&idp.alias);
    let expected = logout_expected(cfg, &descriptor, &endpoint, message, ports.clock.now());
    match slo::verify_response(&message.text, &expected, &relay.request_id) {
        Ok(()) => Ok(web::redirect(&relay.then)),
        Err(e) => {
            let page = PageError::new(
                StatusCode::BAD_GATEWAY,
                "Signed out here only",
                format!(
                    "You are signed out of this site, but {} did not confirm that it signed you out too. Close the browser to end that session.",
                    idp.display_name
                ),
            );
            Err(Failure::logged(page, format!("SAML logout response from `{}` refused: {e}", idp.alias)))
        }
    }
}

/// The IdP's `LogoutRequest`: checked, acted on once
/// ([`upstream_session::once_per_message`]): every keyedge session listed under its NameID
/// (and session indexes) ends, and the IdP gets its `LogoutResponse`.
async fn idp_logout(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
    message: &Message,
) -> Outcome {
    let descriptor = idp_descriptor(app, ports, idp, cfg).await?;
    let endpoint = app.broker_endpoint(&idp.alias);
    let now = ports.clock.now();
    let expected = logout_expected(cfg, &descriptor, &endpoint, message, now);
    let refused = |e: String| {
        let page =
            PageError::bad_request("Sign-out request refused", "The identity provider's sign-out request was refused.");
        Failure::logged(page, format!("SAML logout request from `{}` refused: {e}", idp.alias))
    };
    let request = slo::verify_request(&message.text, &expected).map_err(|e| refused(e.to_string()))?;
    let indexes = &request.session_indexes;
    let ends = |index: Option<&str>| indexes.is_empty() || index.is_some_and(|i| indexes.iter().any(|x| x == i));
    // The browser that carried the request is anyone's (another site can post the IdP's
    // signed request through it): its cookies are cleared only if its own session ended.
    let this_browser = session::current(ports, app.cookies(), req).await.ok().flatten().map(|s| s.sid);
    let used = keys::logout_jti(&idp.alias, &request.id);
    let ttl = (request.not_on_or_after + expected.skew - now).max(60) as u64;
    let ending = upstream_session::end_listed(app, ports, &idp.alias, &request.name_id, ends);
    let Some(ended) = upstream_session::once_per_message(ports, &used, ttl, ending).await? else {
        return Err(refused("this LogoutRequest ID was already used".into()));
    };
    let ours = this_browser.is_some_and(|sid| ended.contains(&sid));
    let answer = match IdpDescriptor::endpoint(&descriptor.slo, cfg.logout_binding) {
        Some(slo_endpoint) => {
            let id = format!("_{}", ports.random_token(20));
            let response = protocol::LogoutResponse {
                id: &id,
                issue_instant: protocol::timestamp(now),
                destination: slo_endpoint.url.as_str(),
                in_response_to: &request.id,
                issuer: sp_entity_id(cfg, &app.config.issuer),
                status: "Success",
            };
            let relay = message.relay_state.as_deref();
            let out = response
                .xml()
                .and_then(|xml| protocol::outgoing(cfg, slo_endpoint, "SAMLResponse", &xml, &id, relay))
                .map_err(|e| Failure::internal(format!("the LogoutResponse: {e}")))?;
            super::login::send(app, &out)
        }
        // An IdP without a Single Logout service to answer: the browser stays here.
        None => super::logout::done(app, req),
    };
    if !ours {
        return Ok(answer);
    }
    let answer = web::with_cookie(answer, app.cookies().clear(session::PASS_COOKIE));
    Ok(web::with_cookie(answer, app.cookies().clear(session::COOKIE)))
}
