//! Validation of authorization requests (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636).

use serde::{Deserialize, Serialize};

use crate::core::config::{Client, Config};
use crate::core::error::{OAuthError, PageError};
use crate::core::web::{self, Params};

/// A validated authorization request: everything needed to finish it after the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kc_idp_hint: Option<String>,
}

/// Why a request was refused. Until client and redirect URI are known to be good the user
/// sees a page; after that the error goes back to the client (RFC 6749 §4.1.2.1).
#[derive(Debug)]
pub enum AuthorizeError {
    Page(PageError),
    Redirect { redirect_uri: String, state: Option<String>, error: OAuthError },
}

const SINGLE_VALUED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "response_mode",
];

/// A PKCE code challenge for S256 is the base64url SHA-256 of the verifier: 43 characters
/// (RFC 7636 §4.2).
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AuthorizationRequest {
    pub fn validate<'c>(config: &'c Config, params: &Params) -> Result<(Self, &'c Client), AuthorizeError> {
        let page = |title: &str, msg: String| AuthorizeError::Page(PageError::bad_request(title, msg));
        let client_id = params
            .get("client_id")
            .ok_or_else(|| page("Missing client", "The application did not say who it is (no client_id).".into()))?;
        if params.first_repeated(&["client_id", "redirect_uri"]).is_some() {
            return Err(page("Invalid request", "The request repeats client_id or redirect_uri.".into()));
        }
        let client = config.client(client_id).ok_or_else(|| {
            page("Unknown application", format!("No application with client_id `{client_id}` is registered."))
        })?;
        let redirect_uri = params.get("redirect_uri").ok_or_else(|| {
            page("Missing redirect URI", "The application did not say where to return to (no redirect_uri).".into())
        })?;
        // Exact string comparison (RFC 9700 §2.1, OIDC Core §3.1.2.1): no prefix, no
        // normalisation, so an attacker cannot register a look-alike.
        if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return Err(page(
                "Invalid redirect URI",
                format!("The redirect URI given by `{client_id}` is not registered for it, so keyedge will not send you there."),
            ));
        }
        let state = params.get("state").map(str::to_owned);
        let fail = |error: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
        };
        if let Some(name) = params.first_repeated(SINGLE_VALUED) {
            return Err(fail(OAuthError::invalid_request(format!("parameter `{name}` is repeated"))));
        }
        if params.get("request").is_some() {
            return Err(fail(OAuthError::new("request_not_supported", "request objects are not supported")));
        }
        if params.get("request_uri").is_some() {
            return Err(fail(OAuthError::new("request_uri_not_supported", "request_uri is not supported")));
        }
        match params.get("response_type") {
            None => return Err(fail(OAuthError::invalid_request("response_type is required"))),
            Some("code") => {}
            Some(_) => {
                return Err(fail(OAuthError::new("unsupported_response_type", "only response_type=code is supported")))
            }
        }
        match params.get("response_mode") {
            None | Some("query") => {}
            Some(_) => return Err(fail(OAuthError::invalid_request("only response_mode=query is supported"))),
        }
        let scope = params.get("scope").unwrap_or("");
        if !scope.split(' ').any(|s| s == "openid") {
            return Err(fail(OAuthError::new("invalid_scope", "the openid scope is required")));
        }
        let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
            (None, None) => None,
            (Some(c), Some("S256")) if is_s256_challenge(c) => Some(c.to_owned()),
            (Some(_), Some("S256")) => {
                return Err(fail(OAuthError::invalid_request("code_challenge is not a valid S256 challenge")))
            }
            (Some(_), None | Some("plain")) | (None, Some("plain")) => {
                return Err(fail(OAuthError::invalid_request("only code_challenge_method=S256 is supported")))
            }
            (_, Some(_)) => return Err(fail(OAuthError::invalid_request("code_challenge_method must be S256"))),
        };
        if code_challenge.is_none() && client.is_public() {
            return Err(fail(OAuthError::invalid_request("public clients must use PKCE (code_challenge with S256)")));
        }
        let prompt = params.get("prompt").map(str::to_owned);
        if let Some(p) = &prompt {
            let values: Vec<&str> = p.split(' ').collect();
            if values.iter().any(|v| !["none", "login", "consent", "select_account"].contains(v)) {
                return Err(fail(OAuthError::invalid_request("unknown prompt value")));
            }
            if values.contains(&"none") && values.len() > 1 {
                return Err(fail(OAuthError::invalid_request("prompt=none cannot be combined with other values")));
            }
        }
        let max_age = match params.get("max_age") {
            None => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| fail(OAuthError::invalid_request("max_age must be a number of seconds")))?,
            ),
        };
        Ok((
            AuthorizationRequest {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                scope: scope.to_owned(),
                state,
                nonce: params.get("nonce").map(str::to_owned),
                code_challenge,
                prompt,
                max_age,
                kc_idp_hint: params.get("kc_idp_hint").map(str::to_owned),
            },
            client,
        ))
    }

    /// The request as query parameters, so the login page can hand it to
    /// `/broker/{alias}/login`, which validates it again.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("client_id", self.client_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("response_type", "code".to_owned()),
            ("scope", self.scope.clone()),
        ];
        let optional = [("state", &self.state), ("nonce", &self.nonce), ("code_challenge", &self.code_challenge)];
        for (k, v) in optional {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        if self.code_challenge.is_some() {
            q.push(("code_challenge_method", "S256".to_owned()));
        }
        if let Some(max_age) = self.max_age {
            q.push(("max_age", max_age.to_string()));
        }
        q
    }

    pub fn has_prompt(&self, value: &str) -> bool {
        self.prompt.as_deref().is_some_and(|p| p.split(' ').any(|v| v == value))
    }

    pub fn has_scope(&self, value: &str) -> bool {
        self.scope.split(' ').any(|s| s == value)
    }

    /// The error redirect back to the client, with `state` and RFC 9207's `iss`.
    pub fn error_redirect(issuer: &str, redirect_uri: &str, state: Option<&str>, error: &OAuthError) -> String {
        let mut params = vec![("error", error.code), ("error_description", error.description.as_str())];
        if let Some(s) = state {
            params.push(("state", s));
        }
        params.push(("iss", issuer));
        web::with_query(redirect_uri, &params)
    }
}
