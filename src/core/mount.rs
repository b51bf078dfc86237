//! Where keyedge's endpoints live: under the issuer's path — `""` for
//! `https://login.example.com`, `/realms/acme` for `https://login.example.com/realms/acme`, as
//! a Keycloak realm's issuer — with Keycloak's endpoint paths as aliases, so an application or
//! an upstream IdP configured for a Keycloak realm works after changing only the host.
//!
//! Inside, keyedge knows its pages by their own paths (`/login`, `/broker/{alias}/endpoint`);
//! [`Mount::internal`] turns a request's path into one, [`Mount::path`] one into a URL path.

/// Keycloak's OpenID Connect endpoint paths under a realm, and keyedge's own for each
/// (https://www.keycloak.org/securing-apps/oidc-layers#_oidc_available_endpoints).
const KEYCLOAK_ALIASES: &[(&str, &str)] = &[
    ("/protocol/openid-connect/auth", "/authorize"),
    ("/protocol/openid-connect/token", "/token"),
    ("/protocol/openid-connect/token/introspect", "/introspect"),
    ("/protocol/openid-connect/userinfo", "/userinfo"),
    ("/protocol/openid-connect/certs", "/jwks"),
    ("/protocol/openid-connect/logout", "/logout"),
    ("/protocol/openid-connect/revoke", "/revoke"),
    ("/protocol/openid-connect/logout/backchannel-logout", BACKCHANNEL_LOGOUT),
];

/// keyedge's path for Keycloak's realm-wide back-channel logout endpoint, where an upstream
/// IdP posts its logout tokens without naming its alias: the token's issuer and audience name it.
pub const BACKCHANNEL_LOGOUT: &str = "/backchannel-logout";

/// The issuer's path, under which keyedge serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mount {
    base: String,
    /// Added to cookie names: `""`, or the path with `/` as `.` (`.realms.acme`).
    cookie_suffix: String,
}

impl Mount {
    /// The mount of `issuer` (validated: an absolute URL without query, fragment or trailing
    /// slash).
    pub fn of_issuer(issuer: &str) -> Self {
        let base = url::Url::parse(issuer).map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default();
        // A cookie name is a token (RFC 6265 §4.1.1): the path's other characters become `_`.
        let cookie_suffix = base
            .chars()
            .map(|c| match c {
                '/' => '.',
                c if c.is_ascii_alphanumeric() || "-_.".contains(c) => c,
                _ => '_',
            })
            .collect();
        Mount { base, cookie_suffix }
    }

    /// What keyedge adds to its cookie names (see `web::CookieJar`).
    pub fn cookie_suffix(&self) -> &str {
        &self.cookie_suffix
    }

    /// `""`, or the issuer's path such as `/realms/acme`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// keyedge's own path for a request's `path`: the issuer's path taken off and Keycloak's
    /// endpoint paths mapped to keyedge's. `None`: the path is not under the issuer (a gated
    /// site's page, or nothing of keyedge's).
    pub fn internal<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = match path.strip_prefix(self.base.as_str()) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => return None,
        };
        let alias = KEYCLOAK_ALIASES.iter().find(|(keycloak, _)| *keycloak == rest);
        Some(alias.map_or(rest, |(_, own)| own))
    }

    /// The URL path of keyedge's own `path` (`/login` → `/realms/acme/login`).
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every URL path that [`Mount::internal`] reads as keyedge's own `own`: its own spelling
    /// and each of Keycloak's for it (`/jwks`, `/protocol/openid-connect/certs`).
    pub fn spellings<'a>(&'a self, own: &'a str) -> impl Iterator<Item = String> + 'a {
        let aliases = KEYCLOAK_ALIASES.iter().filter(move |(_, to)| *to == own).map(|(keycloak, _)| *keycloak);
        std::iter::once(own).chain(aliases).map(|path| self.path(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_issuer_serves_every_path_as_it_is() {
        let m = Mount::of_issuer("https://login.example.com");
        assert_eq!(m.base(), "");
        assert_eq!(m.internal("/authorize"), Some("/authorize"));
        assert_eq!(m.internal("/docs/a"), Some("/docs/a"));
        assert_eq!(m.internal("/protocol/openid-connect/certs"), Some("/jwks"));
        assert_eq!(m.path("/login"), "/login");
    }

    #[test]
    fn a_realm_issuer_serves_under_its_path_only() {
        let m = Mount::of_issuer("https://login.example.com/realms/acme");
        assert_eq!(m.base(), "/realms/acme");
        assert_eq!(m.internal("/realms/acme/authorize"), Some("/authorize"));
        assert_eq!(m.internal("/realms/acme"), Some("/"));
        assert_eq!(m.internal("/realms/acme/"), Some("/"));
        assert_eq!(m.internal("/realms/acme/protocol/openid-connect/auth"), Some("/authorize"));
        assert_eq!(m.internal("/realms/acme/protocol/openid-connect/token/introspect"), Some("/introspect"));
        assert_eq!(m.internal("/realms/acmex/authorize"), None, "another realm");
        assert_eq!(m.internal("/authorize"), None);
        assert_eq!(m.internal("/realms/acme/protocol/openid-connect/other"), Some("/protocol/openid-connect/other"));
        assert_eq!(m.path("/login"), "/realms/acme/login");
        assert_eq!(m.cookie_suffix(), ".realms.acme");
        assert_eq!(Mount::of_issuer("https://x.test/a%20b/c").cookie_suffix(), ".a_20b.c");
        assert_eq!(Mount::of_issuer("https://x.test").cookie_suffix(), "");
    }
}
