//! Calls to a provider's API with the user's access token (the userinfo endpoint, GitHub's
//! and Bitbucket's address lists, Facebook's Graph API, Stack Exchange's `/me`), and how each
//! provider wants the token sent.

use oauth2::basic::BasicTokenType;
use oauth2::{AccessToken, RefreshToken, Scope, TokenResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use url::Url;

use super::UpstreamError;
use crate::core::ports::Ports;
use crate::core::secret::Secret;

pub(crate) async fn fetch_userinfo(url: &Url, access_token: &str, ports: &Ports<'_>) -> Result<Value, UpstreamError> {
    fetch_json(url, access_token, "userinfo", ports).await
}

/// A JSON document from a provider's API, with the access token (`what` names it in errors).
pub(crate) async fn fetch_json(
    url: &Url,
    access_token: &str,
    what: &str,
    ports: &Ports<'_>,
) -> Result<Value, UpstreamError> {
    fetch_json_with(url, Some(access_token), what, ports).await
}

/// A JSON document from a provider's API, with `bearer` as a Bearer token if given (without
/// it, the URL carries the token: Stack Exchange's `access_token` query parameter).
pub(crate) async fn fetch_json_with(
    url: &Url,
    bearer: Option<&str>,
    what: &str,
    ports: &Ports<'_>,
) -> Result<Value, UpstreamError> {
    Ok(fetch_page(url, bearer, what, ports).await?.0)
}

/// A JSON document as [`fetch_json_with`] reads it, and the target of its `Link` header's
/// `rel="next"` (RFC 8288; GitHub's pagination), if any.
pub(crate) async fn fetch_page(
    url: &Url,
    bearer: Option<&str>,
    what: &str,
    ports: &Ports<'_>,
) -> Result<(Value, Option<String>), UpstreamError> {
    let mut req = http::Request::get(url.as_str());
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let req = req
        .header("accept", "application/json")
        // Some APIs (GitHub's) refuse requests without a User-Agent.
        .header("user-agent", "keyedge")
        .body(Vec::new())
        .map_err(|e| UpstreamError::Unavailable(format!("{what}: {e}")))?;
    let res = ports.http.send(req).await.map_err(|e| UpstreamError::Unavailable(format!("{what}: {e}")))?;
    if !res.status().is_success() {
        let status = res.status().as_u16();
        return Err(UpstreamError::Unavailable(match api_error_message(res.body()) {
            Some(m) => format!("{what} answered HTTP {status}: {m}"),
            None => format!("{what} answered HTTP {status}"),
        }));
    }
    let is_json = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        // A signed (JWT) userinfo response is not requested by keyedge, so none is accepted.
        return Err(UpstreamError::Unavailable(format!("{what} is not JSON")));
    }
    let next = res.headers().get("link").and_then(|v| v.to_str().ok()).and_then(link_next).map(str::to_owned);
    let doc = serde_json::from_slice(res.body()).map_err(|e| UpstreamError::Unavailable(format!("{what}: {e}")))?;
    Ok((doc, next))
}

/// The target of the `rel="next"` link of a `Link` header value (RFC 8288 §3), e.g.
/// `<https://api.github.com/user/emails?page=2>; rel="next", <…>; rel="last"`.
fn link_next(header: &str) -> Option<&str> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().strip_prefix('<')?.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|r| r.trim_matches('"'))
                .is_some_and(|r| r.split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next")))
        });
        is_next.then_some(target)
    })
}

/// The message of an API's error answer, for the log: Facebook's `error.message`, Stack
/// Exchange's `error_message`, X's `detail`, GitHub's and Discord's `message`; at most 200
/// characters.
fn api_error_message(body: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let paths = ["error.message", "error_message", "detail", "message", "error_description"];
    let message = paths.iter().find_map(|p| crate::core::claims::at_path(&doc, p)?.as_str())?;
    Some(message.chars().take(200).collect())
}

/// How the access token goes with a call to a provider's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiToken {
    /// `Authorization: Bearer {token}` (RFC 6750 §2.1).
    Bearer,
    /// Bearer, plus `appsecret_proof`, the hex HMAC-SHA256 of the token keyed with the app
    /// secret, in the query: Facebook's Graph API refuses calls without it when the app
    /// requires it, and so a token stolen from elsewhere is useless without the secret
    /// (https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof).
    AppSecretProof(Secret),
    /// `access_token={token}` in the query, no header (RFC 6750 §2.3): Stack Exchange
    /// (https://api.stackexchange.com/docs/authentication).
    Query,
}

/// How a token endpoint answers the code exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// RFC 6749 §5.1 (`access_token`, `token_type`, `expires_in`, …).
    Standard,
    /// Stack Exchange's `/oauth/access_token/json`: `{"access_token", "expires"}`, no
    /// `token_type` (the token is a bearer token), `expires` in seconds, absent with the
    /// `no_expiry` scope (https://api.stackexchange.com/docs/authentication).
    StackExchange,
}

/// `url` with the access token as `api` sends it, and the Bearer token if any.
pub(crate) fn authorize_call<'t>(url: &Url, access_token: &'t str, api: &ApiToken) -> (Url, Option<&'t str>) {
    let mut url = url.clone();
    match api {
        ApiToken::Bearer => (url, Some(access_token)),
        ApiToken::AppSecretProof(secret) => {
            url.query_pairs_mut().append_pair("appsecret_proof", &appsecret_proof(secret, access_token));
            (url, Some(access_token))
        }
        ApiToken::Query => {
            url.query_pairs_mut().append_pair("access_token", access_token);
            (url, None)
        }
    }
}

/// A JSON document from a provider's API, the token sent the way `api` says.
pub(crate) async fn fetch_api(
    url: &Url,
    access_token: &str,
    api: &ApiToken,
    what: &str,
    ports: &Ports<'_>,
) -> Result<Value, UpstreamError> {
    let (url, bearer) = authorize_call(url, access_token, api);
    fetch_json_with(&url, bearer, what, ports).await
}

/// A page of a provider's API as [`fetch_api`] reads it, and its `Link` header's next page.
pub(crate) async fn fetch_api_page(
    url: &Url,
    access_token: &str,
    api: &ApiToken,
    what: &str,
    ports: &Ports<'_>,
) -> Result<(Value, Option<String>), UpstreamError> {
    let (url, bearer) = authorize_call(url, access_token, api);
    fetch_page(&url, bearer, what, ports).await
}

/// Facebook's `appsecret_proof`: the HMAC-SHA256 of the access token keyed with the app
/// secret, in lower-case hex.
pub fn appsecret_proof(app_secret: &Secret, access_token: &str) -> String {
    use hmac::Mac;
    let mut mac = crate::core::secret::hmac_sha256(app_secret.expose().as_bytes());
    mac.update(access_token.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Stack Exchange's answer to the code exchange (see [`TokenFormat::StackExchange`]), read as
/// a token response: a bearer token, `expires` as its lifetime, no refresh token.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StackExchangeToken {
    access_token: AccessToken,
    #[serde(default)]
    expires: Option<u64>,
    #[serde(skip, default = "bearer")]
    token_type: BasicTokenType,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl TokenResponse for StackExchangeToken {
    type TokenType = BasicTokenType;
    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        None
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appsecret_proof_is_the_hex_hmac_sha256_of_the_token() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let proof = appsecret_proof(&Secret::new("Jefe"), "what do ya want for nothing?");
        assert_eq!(proof, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn each_way_of_sending_the_token() {
        let url = Url::parse("https://api.example/me?site=stackoverflow&key=k").unwrap();
        let (u, b) = authorize_call(&url, "t0k", &ApiToken::Bearer);
        assert_eq!((u.as_str(), b), ("https://api.example/me?site=stackoverflow&key=k", Some("t0k")));
        let (u, b) = authorize_call(&url, "t0k", &ApiToken::Query);
        assert_eq!((u.as_str(), b), ("https://api.example/me?site=stackoverflow&key=k&access_token=t0k", None));
        let (u, b) = authorize_call(&url, "t0k", &ApiToken::AppSecretProof(Secret::new("s")));
        assert!(u.as_str().contains("&appsecret_proof=") && b == Some("t0k"), "{u}");
    }

    #[test]
    fn the_next_link_of_a_link_header() {
        let gh = r#"<https://api.github.com/user/emails?page=2>; rel="next", <https://api.github.com/user/emails?page=3>; rel="last""#;
        assert_eq!(link_next(gh), Some("https://api.github.com/user/emails?page=2"));
        let last = r#"<https://api.github.com/user/emails?page=1>; rel="prev", <https://api.github.com/user/emails?page=1>; rel="first""#;
        assert_eq!(link_next(last), None);
        assert_eq!(link_next(r#"<https://a.example/2>;rel=next"#), Some("https://a.example/2"));
        assert_eq!(link_next("garbage"), None);
    }

    #[test]
    fn a_stack_exchange_token_answer_has_no_token_type() {
        let t: StackExchangeToken = serde_json::from_str(r#"{"access_token":"a(b)c","expires":86399}"#).unwrap();
        assert_eq!((t.access_token().secret().as_str(), t.expires_in()), ("a(b)c", Some(Duration::from_secs(86399))));
        assert_eq!(t.token_type(), &BasicTokenType::Bearer);
        let t: StackExchangeToken = serde_json::from_str(r#"{"access_token":"x"}"#).unwrap();
        assert_eq!(t.expires_in(), None);
    }
}
