//! `POST /broker/{alias}/endpoint`: a provider's answer as a form post (OAuth 2.0 Form Post
//! Response Mode, https://openid.net/specs/oauth-v2-form-post-response-mode-1_0.html), which
//! Sign in with Apple sends whenever a name or email is asked for.
//!
//! An upstream login is bound to the browser that started it by its flow cookie, sealed for
//! the login's `state` and `SameSite=Lax` — which a browser does not send with another site's
//! POST: Apple's post arrives without it. So the post completes nothing. Its parameters are
//! sealed (XChaCha20-Poly1305, bound to the provider, valid [`FORM_POST_TTL`]) and the browser
//! is sent `303 See Other` to `GET /broker/{alias}/endpoint?form_post={sealed}` — a top-level
//! navigation with a safe method, with which the browser does send `SameSite=Lax` cookies. That
//! GET is the ordinary callback: the flow cookie must open for the `state`, exactly as after a
//! redirect, so a post carrying another browser's `state` ends in "started elsewhere". No
//! cookie is loosened for it. The sealed parameters are as single-use as their `state` (its
//! marker is recorded once) and their code (the provider redeems it once).
//!
//! Only a provider that asks for the form post takes one; for the others a POST is refused,
//! and a form-post provider's callback takes its parameters only from such a sealed form.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::core::app::Keyedge;
use crate::core::config::{IdentityProvider, ProviderKind};
use crate::core::error::{Failure, Outcome, PageError};
use crate::core::ports::Ports;
use crate::core::web::{self, Params, Request};

/// How long the sealed parameters may take from the post to the GET (one redirect).
pub const FORM_POST_TTL: i64 = 300;

/// The fields of a posted answer that are kept (RFC 6749 §4.1.2, RFC 9207 `iss`, Apple's `user`).
const FIELDS: &[&str] = &["state", "code", "error", "error_description", "iss", "user"];

/// The posted answer, sealed between the post and the GET.
#[derive(Serialize, Deserialize)]
struct PostedAnswer {
    params: Vec<(String, String)>,
    expires_at: i64,
}

/// Whether `idp` answers with a form post.
pub fn takes_form_post(idp: &IdentityProvider) -> bool {
    matches!(&idp.kind, ProviderKind::Oidc(cfg) if cfg.form_post)
}

fn context(alias: &str) -> Vec<u8> {
    format!("keyedge form_post {alias}").into_bytes()
}

/// `POST /broker/{alias}/endpoint`: the posted answer, sealed, handed back to the browser as
/// a same-origin GET of the callback.
pub async fn receive(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let idp = super::callback::provider(app, alias)?;
    #[cfg(feature = "saml")]
    if let ProviderKind::Saml(cfg) = &idp.kind {
        return super::saml::post(app, ports, req, idp, cfg).await;
    }
    if !takes_form_post(idp) {
        let page = PageError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Invalid sign-in response",
            format!("{} answers with a redirect, not a form post.", idp.display_name),
        );
        let mut res = Failure::from(page).into_response(app.ui(req));
        res.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
        return Ok(res);
    }
    let posted = Params::from_form(req);
    let params = FIELDS.iter().filter_map(|k| posted.get(k).map(|v| ((*k).to_owned(), v.to_owned()))).collect();
    let answer = PostedAnswer { params, expires_at: ports.clock.now() + FORM_POST_TTL };
    let json = serde_json::to_vec(&answer).map_err(|e| Failure::internal(format!("a posted answer: {e}")))?;
    let sealed = app.sealer.seal(ports.rng, &context(alias), &json);
    let callback = app.config.path(&format!("/broker/{alias}/endpoint"));
    let mut res = web::redirect(&web::path_with_query(&callback, &[("form_post", &sealed)]));
    *res.status_mut() = StatusCode::SEE_OTHER;
    Ok(res)
}

/// The parameters of a callback to `idp`: a redirect's query, or for a provider that answers
/// with a form post, what [`receive`] sealed (nothing else: a query it did not seal is refused).
pub fn callback_params(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
) -> Result<Params, Failure> {
    #[cfg(feature = "saml")]
    if let ProviderKind::Saml(_) = &idp.kind {
        return super::saml::callback_params(app, ports, req, idp);
    }
    let query = Params::from_query(req);
    if !takes_form_post(idp) {
        return Ok(query);
    }
    let answer = query
        .get("form_post")
        .and_then(|sealed| app.sealer.open(&context(&idp.alias), sealed))
        .and_then(|json| serde_json::from_slice::<PostedAnswer>(&json).ok())
        .filter(|a| a.expires_at > ports.clock.now())
        .ok_or_else(|| {
            PageError::bad_request(
                "Invalid sign-in response",
                format!(
                    "{} answers with a form post; this response is not one, or it has expired. Please start again.",
                    idp.display_name
                ),
            )
            // `/login` without a place to return to goes to the account page (under the issuer).
            .with_retry("/login")
        })?;
    Ok(Params::parse(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&answer.params).finish()))
}
