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
