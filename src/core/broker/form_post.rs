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
//!
//! A SAML IdP's `Response` comes the same way (HTTP-POST binding); [`hand_back`] and
//! [`taken_back`] are the one mechanism for both, each kind under its own seal context.

use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::callback::Answer;
use crate::core::app::Keyedge;
use crate::core::config::{IdentityProvider, ProviderKind};
use crate::core::error::{Failure, Outcome, PageError};
use crate::core::ports::Ports;
use crate::core::web::{self, Params, Request};

/// How long a sealed answer may take from the post to the GET (one redirect).
pub const HAND_BACK_TTL: i64 = 300;

/// The fields of a posted answer that are kept (RFC 6749 §4.1.2, RFC 9207 `iss`, Apple's `user`).
const FIELDS: &[&str] = &["state", "code", "error", "error_description", "iss", "user"];

/// What a sealed answer holds: an OAuth form post's fields, or a checked SAML assertion. Each
/// is sealed under its own context and query parameter, so one is never read as the other.
#[derive(Clone, Copy)]
pub enum Posted {
    FormPost,
    #[cfg(keyedge_saml)]
    Saml,
}

impl Posted {
    fn param(self) -> &'static str {
        match self {
            Posted::FormPost => "form_post",
            #[cfg(keyedge_saml)]
            Posted::Saml => "saml",
        }
    }

    fn context(self, alias: &str) -> Vec<u8> {
        format!("keyedge {} {alias}", self.param()).into_bytes()
    }

    /// A SAML assertion's attributes repeat themselves (group DNs, URNs): deflated, 300
    /// `memberOf` values fit in a URL many times over.
    fn pack(self, json: Vec<u8>) -> Vec<u8> {
        match self {
            Posted::FormPost => json,
            #[cfg(keyedge_saml)]
            Posted::Saml => miniz_oxide::deflate::compress_to_vec(&json, 6),
        }
    }

    fn unpack(self, bytes: Vec<u8>) -> Option<Vec<u8>> {
        match self {
            Posted::FormPost => Some(bytes),
            #[cfg(keyedge_saml)]
            Posted::Saml => miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes, MAX_ANSWER_BYTES).ok(),
        }
    }
}

/// The longest sealed answer's URL keyedge sends: Cloudflare refuses a request whose URL is
/// longer than 16 KiB, so a longer one is refused here, readably, instead of at the edge.
pub const MAX_HAND_BACK_URL: usize = 16 * 1024 - 512;

/// The most a packed answer may unpack to.
#[cfg(keyedge_saml)]
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A posted answer between the post and the GET.
#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    answer: T,
    expires_at: i64,
}

/// Seals `answer` for `alias` and sends the browser `303 See Other` to the same-origin GET of
/// the callback carrying it.
pub fn hand_back<T: Serialize>(app: &Keyedge, ports: &Ports<'_>, alias: &str, posted: Posted, answer: T) -> Outcome {
    let sealed = Sealed { answer, expires_at: ports.clock.now() + HAND_BACK_TTL };
    let json = serde_json::to_vec(&sealed).map_err(|e| Failure::internal(format!("a posted answer: {e}")))?;
    let sealed = app.sealer.seal(ports.rng, &posted.context(alias), &posted.pack(json));
    let callback = app.config.path(&format!("/broker/{alias}/endpoint"));
    let url = web::path_with_query(&callback, &[(posted.param(), &sealed)]);
    if url.len() > MAX_HAND_BACK_URL {
        let page = PageError::new(
            StatusCode::BAD_GATEWAY,
            "Sign-in failed",
            "The identity provider's answer is too large for keyedge to carry on. Ask its administrator to release fewer attributes to keyedge.",
        );
        return Err(Failure::logged(page, format!("the checked answer of `{alias}` is {} bytes as a URL", url.len())));
    }
    let mut res = web::redirect(&url);
    *res.status_mut() = StatusCode::SEE_OTHER;
    Ok(res)
}

/// The answer [`hand_back`] sealed for `alias` into `query`, while it has not expired.
pub fn taken_back<T: DeserializeOwned>(
    app: &Keyedge,
    ports: &Ports<'_>,
    query: &Params,
    alias: &str,
    posted: Posted,
) -> Option<T> {
    let json = posted.unpack(app.sealer.open(&posted.context(alias), query.get(posted.param())?)?)?;
    let sealed: Sealed<T> = serde_json::from_slice(&json).ok()?;
    (sealed.expires_at > ports.clock.now()).then_some(sealed.answer)
}

/// Whether `idp` answers with a form post.
pub fn takes_form_post(idp: &IdentityProvider) -> bool {
    matches!(&idp.kind, ProviderKind::Oidc(cfg) if cfg.form_post)
}

/// `POST /broker/{alias}/endpoint`: the posted answer, sealed, handed back to the browser as
/// a same-origin GET of the callback.
pub async fn receive(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let idp = super::callback::provider(app, alias)?;
    #[cfg(keyedge_saml)]
    if let ProviderKind::Saml(cfg) = &idp.kind {
        return super::saml::post(app, ports, req, idp, cfg).await;
    }
    if !takes_form_post(idp) {
        return Ok(PageError::method_not_allowed(
            app.ui(req),
            "Invalid sign-in response",
            format!("{} answers with a redirect, not a form post.", idp.display_name),
            "GET, HEAD",
        ));
    }
    let posted = Params::from_form(req);
    let fields: Vec<(&str, &str)> = FIELDS.iter().filter_map(|k| posted.get(k).map(|v| (*k, v))).collect();
    hand_back(app, ports, alias, Posted::FormPost, fields)
}

/// The answer of `idp` to this callback: a redirect's query; for a provider that answers with
/// a form post, what [`receive`] sealed (nothing else: a query it did not seal is refused); for
/// a SAML IdP, the assertion checked when it was posted.
pub(super) fn callback_answer<'a>(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &'a IdentityProvider,
) -> Result<Answer<'a>, Failure> {
    let query = Params::from_query(req);
    let cfg = match &idp.kind {
        #[cfg(keyedge_oauth2)]
        ProviderKind::OAuth2(cfg) => return Ok(Answer::OAuth2(cfg, query)),
        #[cfg(keyedge_saml)]
        ProviderKind::Saml(cfg) => return super::saml::checked(app, ports, &query, idp).map(|c| Answer::Saml(cfg, c)),
        ProviderKind::Oidc(cfg) if !cfg.form_post => return Ok(Answer::Oidc(cfg, query)),
        ProviderKind::Oidc(cfg) => cfg,
    };
    let fields: Vec<(String, String)> =
        taken_back(app, ports, &query, &idp.alias, Posted::FormPost).ok_or_else(|| {
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
    let params = Params::parse(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish());
    Ok(Answer::Oidc(cfg, params))
}
