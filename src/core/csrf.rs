//! Cross-site request forgery defence for the forms of keyedge's own pages (link, unlink, end
//! a session, sign out, the first-login forms). `SameSite=Lax` cookies are not enough: a
//! sibling host of the same site, Chrome's two-minute "Lax+POST" window and browsers without
//! SameSite all send them with another site's form post. So every such post must
//!
//! - come from keyedge's origin: `Origin`, when present, is the issuer's origin (or `null`,
//!   which keyedge's no-referrer pages make browsers send), and
//!   `Sec-Fetch-Site`, when present, is `same-origin` (or `none`);
//! - be a top-level navigation, not a `fetch()` from a page that shares keyedge's origin (a
//!   gated site's page): `Sec-Fetch-Mode`, when present, is `navigate` and `Sec-Fetch-Dest`,
//!   when present, is `document`;
//! - carry, in its `csrf` field, the token of the browser's session or pending first login:
//!   HMAC-SHA256, under a key derived from `ENCRYPTION_KEY`, of the secret in that cookie.
//!   Another browser's token, or one of another session or pending login, does not verify.
//!
//! The check gives back a [`Checked`] form that carries the cookie it proved; the handlers
//! act on that cookie's session or pending login and take nothing else from the request.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::marker::PhantomData;

use super::secret::DerivedKey;
use super::web::{Params, Request};

type HmacSha256 = Hmac<Sha256>;

/// The name of the hidden field that carries the token.
pub const FIELD: &str = "csrf";

/// The key of the tokens, derived from `ENCRYPTION_KEY` for them alone.
#[derive(Debug)]
pub struct CsrfKey(DerivedKey);

impl CsrfKey {
    pub fn derive(encryption_key: &[u8; 32]) -> Self {
        Self(DerivedKey::derive(encryption_key, "keyedge csrf token key v1"))
    }

    fn mac_of<B: Binding>(&self, secret: &str) -> HmacSha256 {
        let mut m = self.0.mac();
        m.update(B::LABEL.as_bytes());
        m.update(&[0]);
        m.update(secret.as_bytes());
        m
    }

    /// The token of the forms bound to `secret` (see [`Binding::secret`]).
    pub fn token<B: Binding>(&self, secret: &str) -> CsrfToken {
        CsrfToken(super::b64url(&self.mac_of::<B>(secret).finalize().into_bytes()))
    }

    fn verifies<B: Binding>(&self, secret: &str, presented: &str) -> bool {
        let Some(tag) = super::b64url_decode(presented) else {
            return false;
        };
        // Constant time.
        self.mac_of::<B>(secret).verify_slice(&tag).is_ok()
    }
}

/// A form's token, for its hidden `csrf` field.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(****)")
    }
}

/// What a form's token is bound to: a cookie of the browser.
pub trait Binding {
    /// Keeps the tokens of the bindings apart.
    const LABEL: &'static str;
    /// The part of the cookie the token is bound to.
    fn secret(cookie: &str) -> Option<&str>;
}

/// Forms of a signed-in user (account page, linking, sign-out): bound to the session cookie.
#[derive(Debug, Clone, Copy)]
pub enum SessionCookie {}

impl Binding for SessionCookie {
    const LABEL: &'static str = "session";
    fn secret(cookie: &str) -> Option<&str> {
        Some(cookie)
    }
}

/// Forms of a first login (profile review, confirm linking): bound to the pending login. Its
/// cookie is `{login}.{step}`: the step part changes with every page, `{login}` (the grant
/// and a secret of the pending login) stays, so a page of an earlier step still posts.
#[derive(Debug, Clone, Copy)]
pub enum PendingLoginCookie {}

impl Binding for PendingLoginCookie {
    const LABEL: &'static str = "pending login";
    fn secret(cookie: &str) -> Option<&str> {
        cookie.rsplit_once('.').map(|(login, _)| login).filter(|login| !login.is_empty())
    }
}

/// A form post that passed [`check`]: from keyedge's origin, a top-level navigation, with the
/// token of `cookie`, the cookie it carried.
#[derive(Debug, Clone, Copy)]
pub struct Checked<'r, B> {
    cookie: &'r str,
    binding: PhantomData<B>,
}

impl<'r, B> Checked<'r, B> {
    /// The cookie (session or pending login) the token proved.
    pub fn cookie(&self) -> &'r str {
        self.cookie
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Sent from another origin (`Origin`, `Sec-Fetch-Site`).
    CrossOrigin,
    /// Not a top-level navigation (`Sec-Fetch-Mode`, `Sec-Fetch-Dest`): a script's request.
    NotNavigation,
    /// The browser has no such cookie: there is nothing the form could act on.
    NoCookie,
    /// The token is missing, or it is not the one of this cookie.
    BadToken,
}

fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).map(|v| v.to_str().unwrap_or("\u{0}"))
}

/// Pages of the account and of the linking flows answer only top-level navigations (and form
/// posts): a page that shares keyedge's origin must not read them, or post them, by script.
pub fn navigation_only(req: &Request) -> Result<(), Refusal> {
    // Browsers send the fetch metadata headers together, and a page's script cannot leave
    // out `Sec-Fetch-Site`. Without it the request is not a browser's (curl, a server's HTTP
    // client — Node's fetch sends `Sec-Fetch-Mode: cors` alone), so it carries no one's
    // cookies but its own.
    if header(req, "sec-fetch-site").is_none() {
        return Ok(());
    }
    let mode_ok = header(req, "sec-fetch-mode").is_none_or(|m| m == "navigate");
    let dest_ok = header(req, "sec-fetch-dest").is_none_or(|d| d == "document");
    if mode_ok && dest_ok {
        Ok(())
    } else {
        Err(Refusal::NotNavigation)
    }
}

/// The request comes from a page of `origin` (the issuer's), as far as the browser says.
fn same_origin(req: &Request, origin: &str) -> Result<(), Refusal> {
    // `null`: what browsers send from a page served with `Referrer-Policy: no-referrer` (all
    // of keyedge's): it says nothing, so `Sec-Fetch-Site` and the token decide.
    let origin_ok = header(req, "origin").is_none_or(|o| o == origin || o == "null");
    // `none`: the user's own navigation (address bar, bookmark), never another page's.
    let site_ok = header(req, "sec-fetch-site").is_none_or(|s| s == "same-origin" || s == "none");
    if origin_ok && site_ok {
        Ok(())
    } else {
        Err(Refusal::CrossOrigin)
    }
}

/// The guard of every state-changing form of keyedge's pages: `cookie` is the browser's
/// cookie the form is bound to (its value), `origin` the issuer's origin.
pub fn check<'r, B: Binding>(
    key: &CsrfKey,
    origin: &str,
    req: &Request,
    cookie: Option<&'r str>,
) -> Result<Checked<'r, B>, Refusal> {
    same_origin(req, origin)?;
    navigation_only(req)?;
    let cookie = cookie.ok_or(Refusal::NoCookie)?;
    let secret = B::secret(cookie).ok_or(Refusal::BadToken)?;
    let params = Params::from_form(req);
    let presented = params.get(FIELD).ok_or(Refusal::BadToken)?;
    if !key.verifies::<B>(secret, presented) {
        return Err(Refusal::BadToken);
    }
    Ok(Checked { cookie, binding: PhantomData })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(headers: &[(&str, &str)], body: &str) -> Request {
        let mut req =
            http::Request::post("https://keyedge.test/x").header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(body.as_bytes().to_vec()).unwrap_or_default()
    }

    #[test]
    fn tokens_are_bound_to_their_cookie_and_kind() {
        let key = CsrfKey::derive(&[7; 32]);
        let token = key.token::<SessionCookie>("cookie-a").to_string();
        let body = format!("csrf={token}");
        let origin = "https://keyedge.test";
        let ok = check::<SessionCookie>(&key, origin, &post(&[], &body), Some("cookie-a"));
        assert_eq!(ok.map(|c| c.cookie()), Ok("cookie-a"));
        let other = check::<SessionCookie>(&key, origin, &post(&[], &body), Some("cookie-b"));
        assert_eq!(other.map(|c| c.cookie()), Err(Refusal::BadToken));
        // The same secret as a pending login's is another token.
        let pending = check::<PendingLoginCookie>(&key, origin, &post(&[], &body), Some("cookie-a.step"));
        assert_eq!(pending.map(|c| c.cookie()), Err(Refusal::BadToken));
        // Another key (another deployment) does not verify it either.
        let elsewhere = check::<SessionCookie>(&CsrfKey::derive(&[8; 32]), origin, &post(&[], &body), Some("cookie-a"));
        assert_eq!(elsewhere.map(|c| c.cookie()), Err(Refusal::BadToken));
    }

    #[test]
    fn a_pending_login_token_survives_its_steps() {
        let key = CsrfKey::derive(&[7; 32]);
        let body = format!("csrf={}", key.token::<PendingLoginCookie>("grant.secret"));
        for cookie in ["grant.secret.step1", "grant.secret.step2"] {
            let checked = check::<PendingLoginCookie>(&key, "https://k.test", &post(&[], &body), Some(cookie));
            assert!(checked.is_ok(), "{cookie}");
        }
        let other = check::<PendingLoginCookie>(&key, "https://k.test", &post(&[], &body), Some("grant.other.step1"));
        assert!(other.is_err());
    }
}
