//! Protocol vocabulary, typed once: the space-delimited lists of OAuth 2.0 and OpenID Connect
//! (`scope`, RFC 6749 §3.3; `prompt`, OIDC Core §3.1.2.1) and the values keyedge acts on.

use serde::{Deserialize, Serialize};

/// A space-delimited list as a request or the configuration gives it: its values in order,
/// empty ones (double spaces) dropped. It borrows the text, so reading one costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceList<'a>(&'a str);

impl<'a> SpaceList<'a> {
    pub fn parse(text: &'a str) -> Self {
        SpaceList(text)
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> {
        self.0.split(' ').filter(|v| !v.is_empty())
    }

    pub fn contains(&self, value: &str) -> bool {
        self.iter().any(|v| v == value)
    }
}

/// `scope` values (RFC 6749 §3.3).
pub type Scopes<'a> = SpaceList<'a>;

/// The scopes keyedge gives a meaning to (OIDC Core §3.1.2.1, §5.4, §11).
pub mod scope {
    pub const OPENID: &str = "openid";
    pub const OFFLINE_ACCESS: &str = "offline_access";
}

/// The `display` values of OIDC Core §3.1.2.1 (keyedge's pages suit them all).
pub const DISPLAY_VALUES: &[&str] = &["page", "popup", "touch", "wap"];

/// One `prompt` value (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptValue {
    None,
    Login,
    Consent,
    SelectAccount,
}

impl PromptValue {
    /// Every value, in the order a [`Prompt`] is written.
    pub const ALL: [PromptValue; 4] =
        [PromptValue::None, PromptValue::Login, PromptValue::Consent, PromptValue::SelectAccount];

    pub fn as_str(self) -> &'static str {
        match self {
            PromptValue::None => "none",
            PromptValue::Login => "login",
            PromptValue::Consent => "consent",
            PromptValue::SelectAccount => "select_account",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Why a `prompt` parameter is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptError {
    /// A value OIDC Core does not define (or an empty one).
    Unknown,
    /// `none` with another value (OIDC Core §3.1.2.1: "MUST NOT be used with any other value").
    NoneCombined,
}

impl std::fmt::Display for PromptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PromptError::Unknown => "unknown prompt value",
            PromptError::NoneCombined => "prompt=none cannot be combined with other values",
        })
    }
}

/// A `prompt` parameter: a set of [`PromptValue`]s in which `none` stands alone. Kept and
/// sent as its space-delimited text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prompt(u8);

impl Prompt {
    pub fn parse(text: &str) -> Result<Self, PromptError> {
        let mut set = Prompt::default();
        for value in text.split(' ') {
            set.0 |= PromptValue::parse(value).ok_or(PromptError::Unknown)?.bit();
        }
        if set.contains(PromptValue::None) && set.0 != PromptValue::None.bit() {
            return Err(PromptError::NoneCombined);
        }
        Ok(set)
    }

    pub fn contains(self, value: PromptValue) -> bool {
        self.0 & value.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = PromptValue> {
        PromptValue::ALL.into_iter().filter(move |v| self.contains(*v))
    }

    /// The set with `value` added; `none` stands alone, so nothing is added to it.
    pub fn with(self, value: PromptValue) -> Self {
        if self.contains(PromptValue::None) {
            return self;
        }
        Prompt(self.0 | value.bit())
    }

    /// The values `keep` accepts.
    pub fn filter(self, keep: impl Fn(PromptValue) -> bool) -> Self {
        Prompt(self.iter().filter(|v| keep(*v)).fold(0, |bits, v| bits | v.bit()))
    }
}

impl std::fmt::Display for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let values: Vec<&str> = self.iter().map(PromptValue::as_str).collect();
        f.write_str(&values.join(" "))
    }
}

impl From<Prompt> for String {
    fn from(p: Prompt) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for Prompt {
    type Error = PromptError;
    fn try_from(text: String) -> Result<Self, PromptError> {
        Prompt::parse(&text)
    }
}

/// The error codes keyedge answers with: RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, OIDC Core
/// §3.1.2.6, and two of keyedge's own APIs (`token_refresh_failed` at
/// `/broker/{alias}/token`, `not_found` at the admin API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    TemporarilyUnavailable,
    /// RFC 6749 §4.1.2.1: the server met a condition it did not expect.
    ServerError,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    AccountSelectionRequired,
    InvalidToken,
    InsufficientScope,
    RequestNotSupported,
    RequestUriNotSupported,
    TokenRefreshFailed,
    NotFound,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::ServerError => "server_error",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AccountSelectionRequired => "account_selection_required",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::TokenRefreshFailed => "token_refresh_failed",
            ErrorCode::NotFound => "not_found",
        }
    }
}

/// Compared with the code as it is written on the wire.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_3_3_scope_values_are_space_delimited() {
        let scopes = Scopes::parse("openid  profile email ");
        assert_eq!(scopes.iter().collect::<Vec<_>>(), ["openid", "profile", "email"]);
        assert!(scopes.contains(scope::OPENID) && !scopes.contains("") && !scopes.contains("open"));
    }

    #[test]
    fn oidc_core_3_1_2_1_prompt_is_a_set_in_which_none_stands_alone() {
        let p = Prompt::parse("consent login").unwrap();
        assert!(p.contains(PromptValue::Login) && p.contains(PromptValue::Consent));
        assert!(!p.contains(PromptValue::None) && !p.contains(PromptValue::SelectAccount));
        assert_eq!(p.to_string(), "login consent");
        assert_eq!(Prompt::parse("none"), Ok(Prompt(PromptValue::None.bit())));
        assert_eq!(Prompt::parse("none login"), Err(PromptError::NoneCombined));
        assert_eq!(Prompt::parse("login bogus"), Err(PromptError::Unknown));
        assert_eq!(Prompt::parse(""), Err(PromptError::Unknown));
        assert_eq!(Prompt::parse("login  consent"), Err(PromptError::Unknown));
        let forwarded = p.filter(|v| v != PromptValue::Consent);
        assert_eq!(forwarded.to_string(), "login");
        assert!(p.filter(|_| false).is_empty());
    }

    #[test]
    fn prompt_is_kept_as_its_text() {
        let p = Prompt::parse("select_account login").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""login select_account""#);
        assert_eq!(serde_json::from_str::<Prompt>(r#""select_account login""#).unwrap(), p);
        assert!(serde_json::from_str::<Prompt>(r#""none consent""#).is_err());
    }
}
