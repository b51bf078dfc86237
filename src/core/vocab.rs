//! Protocol vocabulary, typed once: the space-delimited lists of OAuth 2.0 and OpenID Connect
//! (`scope`, RFC 6749 §3.3; `prompt`, OIDC Core §3.1.2.1) and the values keyedge acts on.

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

/// The `prompt` values of OIDC Core §3.1.2.1.
pub mod prompt {
    pub const NONE: &str = "none";
    pub const LOGIN: &str = "login";
    pub const CONSENT: &str = "consent";
    pub const SELECT_ACCOUNT: &str = "select_account";
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
}
