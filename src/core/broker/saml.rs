//! SAML at `/broker/{alias}/endpoint`: the IdP's `Response` (HTTP-POST, or HTTP-Redirect with
//! a signed query), and keyedge's SP descriptor at `/broker/{alias}/endpoint/descriptor`.
//!
//! A response arrives as another site's POST, which does not carry the `SameSite=Lax` flow
//! cookie that binds the login to its browser. So the post completes nothing: every check
//! that needs no flow is made here (signature, issuer, destination, audience, times, status),
//! and only the assertion that passed them is sealed (XChaCha20-Poly1305, bound to the IdP,
//! valid [`SEALED_TTL`]) into a `303 See Other` to `GET /broker/{alias}/endpoint?saml=…` — a
//! top-level navigation with which the browser sends the flow cookie. That GET is the ordinary
//! callback: the flow must open for the `RelayState`, the assertion's `InResponseTo` must be
//! the ID of the request that flow sent, and the state's single-use marker is recorded once.

use http::StatusCode;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

use crate::core::app::Keyedge;
use crate::core::config::IdentityProvider;
use crate::core::error::{Failure, Outcome, PageError};
use crate::core::ports::Ports;
use crate::core::upstream::saml::config::SamlProvider;
use crate::core::upstream::saml::flow::{self, sp_entity_id};
use crate::core::upstream::saml::protocol::{self, Sp};
use crate::core::upstream::saml::response::{decode_post, VerifiedAssertion};
use crate::core::upstream::saml::{dsig, xml};
use crate::core::upstream::UpstreamError;
use crate::core::web::{self, Params, Request};

/// How long the sealed assertion may take from the post to the GET (one redirect).
pub const SEALED_TTL: i64 = 300;

/// A checked assertion between the post and the GET.
#[derive(Serialize, Deserialize)]
struct Sealed {
    assertion: VerifiedAssertion,
    relay_state: String,
    expires_at: i64,
}

fn context(alias: &str) -> Vec<u8> {
    format!("keyedge saml {alias}").into_bytes()
}

/// keyedge's side of `idp`.
fn sp<'a>(app: &'a Keyedge, cfg: &'a SamlProvider, endpoint: &'a str) -> Sp<'a> {
    Sp { entity_id: sp_entity_id(cfg, &app.config.issuer), endpoint }
}

/// `GET /broker/{alias}/endpoint/descriptor`: keyedge's SP metadata for this IdP.
pub fn descriptor(app: &Keyedge, idp: &IdentityProvider, cfg: &SamlProvider) -> Outcome {
    let endpoint = app.broker_endpoint(&idp.alias);
    let requested: Vec<&str> = idp.mappers.iter().filter_map(|m| m.claim()).collect();
    Ok(web::saml_metadata(protocol::descriptor(cfg, &sp(app, cfg, &endpoint), &requested)))
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
    let http = idp.http(ports.http);
    let upstream = ports.with_http(&http);
    let descriptor = app.saml_metadata.descriptor(idp, cfg, &upstream).await.map_err(|e| refused(&idp.alias, e))?;
    let endpoint = app.broker_endpoint(&idp.alias);
    let now = ports.clock.now();
    let assertion = flow::check_response(cfg, &descriptor, &sp(app, cfg, &endpoint), xml_text, query_signed, now)
        .map_err(|e| {
            if matches!(e, UpstreamError::Saml(_)) {
                // A key the cached metadata lacks may be the IdP's new one.
                app.saml_metadata.forget(&idp.alias);
            }
            refused(&idp.alias, e)
        })?;
    let Some(relay_state) = relay_state.filter(|r| !r.is_empty()) else {
        return Err(bad("The response carries no RelayState: keyedge did not ask for it (an IdP-initiated sign-in is not accepted)."));
    };
    if assertion.in_response_to.is_none() {
        return Err(bad("The response answers no request of keyedge's (an IdP-initiated sign-in is not accepted)."));
    }
    let sealed = Sealed { assertion, relay_state: relay_state.to_owned(), expires_at: now + SEALED_TTL };
    let json = serde_json::to_vec(&sealed).map_err(|e| Failure::internal(format!("a SAML assertion: {e}")))?;
    let sealed = app.sealer.seal(ports.rng, &context(&idp.alias), &json);
    let callback = app.config.path(&format!("/broker/{}/endpoint", idp.alias));
    let mut res = web::redirect(&web::path_with_query(&callback, &[("saml", &sealed)]));
    *res.status_mut() = StatusCode::SEE_OTHER;
    Ok(res)
}

/// `POST /broker/{alias}/endpoint` for a SAML IdP (HTTP-POST binding).
pub async fn post(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
) -> Outcome {
    let form = Params::from_form(req);
    let Some(encoded) = form.get("SAMLResponse") else {
        return Err(bad("The post carries no SAMLResponse."));
    };
    let text = decode_post(encoded).map_err(|e| refused(&idp.alias, UpstreamError::Saml(e.to_string())))?;
    receive(app, ports, idp, cfg, &text, form.get("RelayState"), false).await
}

/// `GET /broker/{alias}/endpoint?SAMLResponse=…&SigAlg=…&Signature=…` (HTTP-Redirect binding):
/// `None` when the query carries no SAML message (the ordinary callback, `?saml=…`).
pub async fn redirected(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    cfg: &SamlProvider,
) -> Option<Outcome> {
    let query = Params::from_query(req);
    query.get("SAMLResponse")?;
    Some(
        async {
            let http = idp.http(ports.http);
            let upstream = ports.with_http(&http);
            let descriptor =
                app.saml_metadata.descriptor(idp, cfg, &upstream).await.map_err(|e| refused(&idp.alias, e))?;
            // The query's signature, when there is one, must hold, and the message and RelayState
            // are then the very values it covered; without one the XML must be signed.
            let (encoded, relay_state, query_signed) = match query.get("Signature") {
                Some(_) => {
                    let raw = req.uri().query().unwrap_or_default();
                    let verified = dsig::verify_redirect_params(raw, &descriptor.signing_keys)
                        .map_err(|e| refused(&idp.alias, UpstreamError::Saml(format!("query signature: {e}"))))?;
                    if verified.param != "SAMLResponse" {
                        return Err(refused(&idp.alias, UpstreamError::Saml("the query carries a request".into())));
                    }
                    let decode = |v: &str| percent_decode_str(v).decode_utf8_lossy().into_owned();
                    (decode(verified.value), verified.relay_state.map(decode), true)
                }
                None => (
                    query.get("SAMLResponse").unwrap_or_default().to_owned(),
                    query.get("RelayState").map(str::to_owned),
                    false,
                ),
            };
            let text = inflate(&encoded).map_err(|e| refused(&idp.alias, UpstreamError::Saml(e)))?;
            receive(app, ports, idp, cfg, &text, relay_state.as_deref(), query_signed).await
        }
        .await,
    )
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

/// The callback's parameters for a SAML IdP: `state` (the sealed assertion's `RelayState`) and
/// `saml`, the sealed assertion — nothing else is taken.
pub fn callback_params(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
) -> Result<Params, Failure> {
    let query = Params::from_query(req);
    let sealed = query.get("saml").ok_or_else(|| bad("This is not a SAML response. Please start again."))?;
    let opened = open(app, ports, &idp.alias, sealed)
        .ok_or_else(|| bad("The SAML response has expired or is not keyedge's. Please start again."))?;
    let pairs = [("state", opened.relay_state.as_str()), ("saml", sealed)];
    Ok(Params::parse(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()))
}

fn open(app: &Keyedge, ports: &Ports<'_>, alias: &str, sealed: &str) -> Option<Sealed> {
    app.sealer
        .open(&context(alias), sealed)
        .and_then(|json| serde_json::from_slice::<Sealed>(&json).ok())
        .filter(|s| s.expires_at > ports.clock.now())
}

/// The checked assertion the callback's `saml` parameter carries.
pub fn assertion(
    app: &Keyedge,
    ports: &Ports<'_>,
    alias: &str,
    params: &Params,
) -> Result<VerifiedAssertion, UpstreamError> {
    params
        .get("saml")
        .and_then(|sealed| open(app, ports, alias, sealed))
        .map(|s| s.assertion)
        .ok_or_else(|| UpstreamError::Saml("the sealed assertion is missing or expired".into()))
}
