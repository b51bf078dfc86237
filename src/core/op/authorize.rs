//! Validation of authorization requests (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636).

use crate::core::vocab::{scope, Prompt, PromptValue, Scopes, DISPLAY_VALUES};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::core::config::{Client, Config};
use crate::core::error::{ErrorCode, OAuthError, PageError};
use crate::core::web::{self, Params};

/// How the authorization response reaches the client (OAuth 2.0 Multiple Response Types,
/// OAuth 2.0 Form Post Response Mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
}

impl ResponseMode {
    pub const ALL: [ResponseMode; 2] = [ResponseMode::Query, ResponseMode::FormPost];

    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// Where and how to send an authorization response: known once client and redirect URI are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseTarget {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// Claims asked for one by one with the `claims` request parameter (OIDC Core §5.5). Only
/// the names matter to keyedge: it returns each requested claim it has, essential or not,
/// if the claim's scope is one the client may have (`User::claims_for`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedClaims {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<String>,
}

impl RequestedClaims {
    fn parse(text: &str) -> Result<Self, OAuthError> {
        let invalid = || OAuthError::invalid_request("claims must be a JSON object (OIDC Core §5.5)");
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|_| invalid())?;
        let obj = doc.as_object().ok_or_else(invalid)?;
        let names = |member: &str| -> Result<Vec<String>, OAuthError> {
            match obj.get(member) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::Object(m)) => Ok(m.keys().cloned().collect()),
                Some(_) => Err(invalid()),
            }
        };
        Ok(Self { userinfo: names("userinfo")?, id_token: names("id_token")? })
    }

    fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty()
    }

    fn to_json(&self) -> String {
        let obj = |names: &[String]| -> serde_json::Map<String, serde_json::Value> {
            names.iter().map(|n| (n.clone(), serde_json::Value::Null)).collect()
        };
        serde_json::json!({ "userinfo": obj(&self.userinfo), "id_token": obj(&self.id_token) }).to_string()
    }
}

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
    pub prompt: Option<Prompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kc_idp_hint: Option<String>,
    #[serde(default)]
    pub response_mode: ResponseMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_hint: Option<String>,
    #[serde(default, skip_serializing_if = "RequestedClaims::is_empty")]
    pub claims: RequestedClaims,
    /// Parameters an IdP passes on as they are (its `forward_parameters`), name and value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarded: Vec<(String, String)>,
}

/// Why a request was refused. Until client and redirect URI are known to be good the user
/// sees a page; after that the error goes back to the client (RFC 6749 §4.1.2.1).
#[derive(Debug)]
pub enum AuthorizeError {
    Page(PageError),
    Redirect { target: ResponseTarget, error: OAuthError },
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
    "claims",
    "id_token_hint",
    "login_hint",
    "ui_locales",
    "display",
];

/// A PKCE code challenge for S256 is the base64url SHA-256 of the verifier: 43 characters
/// (RFC 7636 §4.2).
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AuthorizationRequest {
    /// Checks an authorization request in the order OIDC Core §3.1.2.2 and RFC 6749 §4.1.2.1
    /// prescribe: client and redirect URI first (an error page, never a redirect), then the rest
    /// (an error sent to the client). Long on purpose: one check per clause, in order.
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
        // normalisation, so an attacker cannot register a look-alike (loopback IPs: any port).
        if !client.accepts_redirect_uri(redirect_uri) {
            return Err(page(
                "Invalid redirect URI",
                format!("The redirect URI given by `{client_id}` is not registered for it, so keyedge will not send you there."),
            ));
        }
        let state = params.get("state").map(str::to_owned);
        // The response mode is needed to deliver even the errors below.
        let response_mode = params.get("response_mode").and_then(ResponseMode::parse).unwrap_or_default();
        let target =
            ResponseTarget { redirect_uri: redirect_uri.to_owned(), mode: response_mode, state: state.clone() };
        let fail = |error: OAuthError| AuthorizeError::Redirect { target: target.clone(), error };
        if let Some(name) = params.first_repeated(SINGLE_VALUED) {
            return Err(fail(OAuthError::invalid_request(format!("parameter `{name}` is repeated"))));
        }
        if params.get("request").is_some() {
            return Err(fail(OAuthError::new(ErrorCode::RequestNotSupported, "request objects are not supported")));
        }
        if params.get("request_uri").is_some() {
            return Err(fail(OAuthError::new(ErrorCode::RequestUriNotSupported, "request_uri is not supported")));
        }
        match params.get("response_type") {
            None => return Err(fail(OAuthError::invalid_request("response_type is required"))),
            Some("code") => {}
            Some(_) => {
                return Err(fail(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                )))
            }
        }
        if params.get("response_mode").is_some_and(|m| ResponseMode::parse(m).is_none()) {
            return Err(fail(OAuthError::invalid_request("response_mode must be query or form_post")));
        }
        if let Some(display) = params.get("display") {
            if !DISPLAY_VALUES.contains(&display) {
                return Err(fail(OAuthError::invalid_request("unknown display value")));
            }
        }
        let scope = params.get("scope").unwrap_or("");
        if !Scopes::parse(scope).contains(scope::OPENID) {
            return Err(fail(OAuthError::new(ErrorCode::InvalidScope, "the openid scope is required")));
        }
        // RFC 6749 §3.3: scopes the client may not have are left out of the grant; the token
        // response then states the scope actually granted.
        let scope = client.grantable_scope(scope);
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
        let prompt = match params.get("prompt") {
            Some(text) => Some(Prompt::parse(text).map_err(|e| fail(OAuthError::invalid_request(e.to_string())))?),
            None => None,
        };
        let claims = match params.get("claims") {
            Some(text) => RequestedClaims::parse(text).map_err(&fail)?,
            None => RequestedClaims::default(),
        };
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
                response_mode,
                login_hint: params.get("login_hint").map(str::to_owned),
                ui_locales: params.get("ui_locales").map(str::to_owned),
                id_token_hint: params.get("id_token_hint").map(str::to_owned),
                claims,
                forwarded: config
                    .forwarded_parameter_names()
                    .filter_map(|n| params.get(n).map(|v| (n.to_owned(), v.to_owned())))
                    .collect(),
            },
            client,
        ))
    }

    /// The request as query parameters, so the login page can hand it to
    /// `/broker/{alias}/login`, which validates it again.
    pub fn to_query(&self) -> Vec<(Cow<'static, str>, String)> {
        let mut q: Vec<(&'static str, String)> = vec![
            ("client_id", self.client_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("response_type", "code".to_owned()),
            ("scope", self.scope.clone()),
        ];
        // `prompt` travels on so that a forced login is forced upstream too; `none` never
        // reaches the login page.
        let optional = [
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.code_challenge),
            ("prompt", &self.prompt.map(|p| p.to_string())),
        ];
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
        if self.response_mode == ResponseMode::FormPost {
            q.push(("response_mode", self.response_mode.as_str().to_owned()));
        }
        for (k, v) in [("login_hint", &self.login_hint), ("ui_locales", &self.ui_locales)] {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        if !self.claims.is_empty() {
            q.push(("claims", self.claims.to_json()));
        }
        let forwarded = self.forwarded.iter().map(|(k, v)| (Cow::Owned(k.clone()), v.clone()));
        q.into_iter().map(|(k, v)| (Cow::Borrowed(k), v)).chain(forwarded).collect()
    }

    pub fn target(&self) -> ResponseTarget {
        ResponseTarget { redirect_uri: self.redirect_uri.clone(), mode: self.response_mode, state: self.state.clone() }
    }

    pub fn has_prompt(&self, value: PromptValue) -> bool {
        self.prompt.is_some_and(|p| p.contains(value))
    }

    pub fn has_scope(&self, value: &str) -> bool {
        Scopes::parse(&self.scope).contains(value)
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        Scopes::parse(&self.scope).iter()
    }
}

impl ResponseTarget {
    /// Sends `params` plus `state` and RFC 9207's `iss` to the client: a redirect with the
    /// query, or for `form_post` a page that posts them (works without JavaScript too).
    pub fn respond(&self, issuer: &str, css: &str, params: &[(&str, &str)]) -> web::Response {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(s) = &self.state {
            all.push(("state", s));
        }
        all.push(("iss", issuer));
        match self.mode {
            ResponseMode::Query => web::redirect(&web::with_query(&self.redirect_uri, &all)),
            ResponseMode::FormPost => crate::core::pages::form_post(css, &self.redirect_uri, &all),
        }
    }

    pub fn error(&self, issuer: &str, css: &str, error: &OAuthError) -> web::Response {
        self.respond(issuer, css, &[("error", error.code.as_str()), ("error_description", &error.description)])
    }
}
