//! OAuth clients (relying parties) of keyedge.

use serde::Deserialize;
use std::collections::HashSet;
use url::Url;

use super::secrets::Secrets;
use super::{err, is_loopback, parse_url, ConfigError, IdentityProvider};
use crate::core::jose::Alg;
use crate::core::secret::Secret;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClient {
    client_id: String,
    #[serde(default)]
    name: Option<String>,
    /// Absent: a public client (PKCE S256 required, no secret).
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    grant_types: Option<Vec<GrantType>>,
    #[serde(default)]
    allowed_identity_providers: Option<Vec<String>>,
    #[serde(default)]
    access_token_lifetime: Option<u64>,
    #[serde(default)]
    refresh_token_lifetime: Option<u64>,
    #[serde(default)]
    offline_token_lifetime: Option<u64>,
    #[serde(default)]
    id_token_signed_response_alg: Option<Alg>,
    #[serde(default)]
    access_token_signed_response_alg: Option<Alg>,
    #[serde(default)]
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    initiate_login_uri: Option<String>,
    #[serde(default)]
    allowed_scopes: Option<Vec<String>>,
    #[serde(default)]
    identity_provider_claim: bool,
    #[serde(default)]
    keycloak_claims: bool,
    #[serde(default)]
    read_broker_tokens: bool,
    #[serde(default)]
    user_attributes: Vec<String>,
    #[serde(default)]
    client_initiated_account_linking: bool,
    #[serde(default)]
    resource_server: bool,
}

/// OAuth 2.0 grant types a client may use at `/token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] =
        [GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials];

    /// The `grant_type` value (RFC 6749 §4.1.3, §6, §4.4.2).
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// Scopes a client may have unless its `allowed_scopes` says otherwise. `offline_access` is
/// not among them: a refresh token that outlives the user's session is for clients that list
/// it explicitly.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "address", "phone"];

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// `client_secret_basic` or `client_secret_post`.
    Secret(Secret),
    /// A public client: no secret, PKCE S256 required.
    Public,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub auth: ClientAuth,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Upstream IdP aliases this client's users may log in with (`None`: all).
    pub allowed_identity_providers: Option<Vec<String>>,
    pub access_token_lifetime: u64,
    /// Lifetime of an online refresh token (bounded by the session it belongs to).
    pub refresh_token_lifetime: u64,
    /// Lifetime of an offline refresh token (`offline_access` scope), independent of sessions.
    pub offline_token_lifetime: u64,
    /// Algorithm of this client's ID and logout tokens (RS256 unless it registered another).
    pub id_token_signed_response_alg: Alg,
    /// Algorithm of this client's access tokens (Keycloak's "Access token signature
    /// algorithm"); the ID token's unless set.
    pub access_token_signed_response_alg: Alg,
    /// OpenID Connect Back-Channel Logout 1.0: where logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    /// Where a login started by a third party sends the browser (OIDC Core §4, Registration
    /// `initiate_login_uri`): an https URL of the client that begins its own authorization
    /// request. Used by a SAML IdP's `idp_initiated_login`.
    pub initiate_login_uri: Option<String>,
    /// Scopes this client may be granted (`openid` is always allowed to user clients).
    pub allowed_scopes: Vec<String>,
    /// Put `identity_provider` (the alias used for the login) into this client's tokens,
    /// like Keycloak's session note mapper.
    pub identity_provider_claim: bool,
    /// Tokens shaped like a Keycloak realm's (`realm_access`, `resource_access`, `typ`,
    /// profile claims in the access token), for apps written against Keycloak.
    pub keycloak_claims: bool,
    /// May read stored upstream tokens at `/broker/{alias}/token` for users with the
    /// `broker.read-token` role (Keycloak: the role is in the client's scope).
    pub read_broker_tokens: bool,
    /// User attributes (set by mappers) released as claims of the same name.
    pub user_attributes: Vec<String>,
    /// May send its signed-in users to `/broker/{alias}/link` (Keycloak's client-initiated
    /// account linking); they confirm on keyedge's page before anything is linked.
    pub client_initiated_account_linking: bool,
    /// A resource server (an API): `/introspect` answers it about every client's tokens, not
    /// only its own (RFC 7662 §4).
    pub resource_server: bool,
}

impl Client {
    pub fn is_public(&self) -> bool {
        matches!(self.auth, ClientAuth::Public)
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The part of a requested scope this client may have, in request order, without duplicates.
    pub fn grantable_scope(&self, requested: &str) -> String {
        let mut granted: Vec<&str> = Vec::new();
        for s in requested.split(' ').filter(|s| !s.is_empty()) {
            if (s == "openid" || self.allowed_scopes.iter().any(|a| a == s)) && !granted.contains(&s) {
                granted.push(s);
            }
        }
        granted.join(" ")
    }

    /// Whether `uri` is one of the client's redirect URIs: compared byte for byte (RFC 9700
    /// §2.1, OIDC Core §3.1.2.1), except that a registered loopback IP redirect URI
    /// (`http://127.0.0.1/…`, `http://[::1]/…`) takes any port (RFC 8252 §7.3: a native app
    /// listens on a port the system gives it). The rest of such a URI is still compared
    /// exactly, and `uri` must be written as the URL parser writes it.
    pub fn accepts_redirect_uri(&self, uri: &str) -> bool {
        // The exact comparison first, for every registered URI: the loopback rule parses both
        // URLs, and only an http URL written as the parser writes it can pass it.
        self.redirect_uris.iter().any(|r| r == uri)
            || (uri.starts_with("http://") && self.redirect_uris.iter().any(|r| same_loopback_but_port(r, uri)))
    }

    pub fn allows_idp(&self, alias: &str) -> bool {
        self.allowed_identity_providers.as_ref().is_none_or(|list| list.iter().any(|a| a == alias))
    }
}

/// RFC 8252 §7.3: `given` is the loopback IP redirect URI `registered` on another port.
fn same_loopback_but_port(registered: &str, given: &str) -> bool {
    let (Ok(mut r), Ok(mut g)) = (Url::parse(registered), Url::parse(given)) else {
        return false;
    };
    let loopback_ip = |u: &Url| u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"));
    if !loopback_ip(&r) || !loopback_ip(&g) || g.as_str() != given {
        return false;
    }
    // Setting the port of an http URL with a host cannot fail.
    let (Ok(()), Ok(())) = (r.set_port(None), g.set_port(None)) else {
        return false;
    };
    r == g
}

/// Redirect URIs are compared byte for byte, so they must be absolute, without fragment
/// (RFC 6749 §3.1.2), and https unless they point at the local machine; and ASCII, as
/// clients send them and as a `Location` header can carry them (a raw `é` would match a raw
/// `é` and then leave the redirect without its `Location`).
fn validate_redirect_uri(s: &str) -> Result<(), String> {
    let url = super::absolute_url(s)?;
    if !s.is_ascii() {
        return Err(format!("`{s}` must be ASCII: write it percent-encoded, as clients send it: `{url}`"));
    }
    if url.fragment().is_some() {
        return Err(format!("`{s}` must not contain a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!("`{s}` must use https (http is allowed only for localhost)")),
        // private-use schemes of native apps (RFC 8252 §7.1)
        scheme if scheme.contains('.') => Ok(()),
        other => Err(format!("`{s}` has unsupported scheme `{other}`")),
    }
}

/// Defaults a client's own lifetimes fall back to.
pub(super) struct Lifetimes {
    pub(super) access_token: u64,
    pub(super) session: u64,
}

pub(super) fn clients(
    raw: Vec<RawClient>,
    lifetimes: &Lifetimes,
    signing_keys: &[(String, Alg, Secret)],
    secrets: &Secrets,
) -> Result<Vec<Client>, ConfigError> {
    let mut clients = Vec::new();
    let mut seen = HashSet::new();
    for (i, c) in raw.into_iter().enumerate() {
        let path = format!("clients[{i}]");
        if c.client_id.is_empty() || !seen.insert(c.client_id.clone()) {
            return Err(err(format!("{path}.client_id"), "must be present and unique"));
        }
        clients.push(client(c, &path, lifetimes, signing_keys, secrets)?);
    }
    Ok(clients)
}

fn client(
    c: RawClient,
    path: &str,
    lifetimes: &Lifetimes,
    signing_keys: &[(String, Alg, Secret)],
    secrets: &Secrets,
) -> Result<Client, ConfigError> {
    let grant_types =
        c.grant_types.clone().unwrap_or_else(|| vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
    if grant_types.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
        return Err(err(
            format!("{path}.redirect_uris"),
            "at least one redirect URI is required for authorization_code",
        ));
    }
    if grant_types.contains(&GrantType::ClientCredentials) && c.client_secret_env.is_none() {
        return Err(err(
            format!("{path}.grant_types"),
            "client_credentials needs a confidential client (client_secret_env)",
        ));
    }
    if c.resource_server && c.client_secret_env.is_none() {
        return Err(err(
            format!("{path}.resource_server"),
            "a resource server introspects tokens and must be a confidential client (client_secret_env)",
        ));
    }
    for (field, uris) in
        [("redirect_uris", &c.redirect_uris), ("post_logout_redirect_uris", &c.post_logout_redirect_uris)]
    {
        for (j, uri) in uris.iter().enumerate() {
            validate_redirect_uri(uri).map_err(|m| err(format!("{path}.{field}[{j}]"), m))?;
        }
    }
    let auth = match &c.client_secret_env {
        Some(name) => ClientAuth::Secret(secrets.need(format!("{path}.client_secret_env"), name)?),
        None => ClientAuth::Public,
    };
    let client = Client {
        name: c.name.unwrap_or_else(|| c.client_id.clone()),
        client_id: c.client_id,
        auth,
        redirect_uris: c.redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        grant_types,
        allowed_identity_providers: c.allowed_identity_providers,
        access_token_lifetime: c.access_token_lifetime.unwrap_or(lifetimes.access_token),
        refresh_token_lifetime: c.refresh_token_lifetime.unwrap_or(lifetimes.session),
        offline_token_lifetime: c.offline_token_lifetime.unwrap_or(30 * 24 * 3600),
        id_token_signed_response_alg: c.id_token_signed_response_alg.unwrap_or(Alg::RS256),
        access_token_signed_response_alg: c
            .access_token_signed_response_alg
            .or(c.id_token_signed_response_alg)
            .unwrap_or(Alg::RS256),
        identity_provider_claim: c.identity_provider_claim,
        keycloak_claims: c.keycloak_claims,
        read_broker_tokens: c.read_broker_tokens,
        user_attributes: c.user_attributes,
        client_initiated_account_linking: c.client_initiated_account_linking,
        resource_server: c.resource_server,
        allowed_scopes: c.allowed_scopes.unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
        initiate_login_uri: match c.initiate_login_uri {
            // Registration §2: an https URL (http on loopback for development).
            Some(uri) => Some(initiate_login_uri(&uri).map_err(|m| err(format!("{path}.initiate_login_uri"), m))?),
            None => None,
        },
        backchannel_logout_uri: match c.backchannel_logout_uri {
            // §2.2: an absolute http(s) URL without fragment.
            Some(uri) => {
                Some(parse_url(&uri).map_err(|m| err(format!("{path}.backchannel_logout_uri"), m))?.to_string())
            }
            None => None,
        },
    };
    for (field, alg) in [
        ("id_token_signed_response_alg", c.id_token_signed_response_alg),
        ("access_token_signed_response_alg", c.access_token_signed_response_alg),
    ] {
        if let Some(alg) = alg.filter(|alg| !signing_keys.iter().any(|(_, a, _)| a == alg)) {
            let needed = if alg == Alg::ES256 { "es256_signing_key_env" } else { "eddsa_signing_key_env" };
            return Err(err(format!("{path}.{field}"), format!("{} needs `{needed}`", alg.name())));
        }
    }
    Ok(client)
}

fn initiate_login_uri(uri: &str) -> Result<String, String> {
    let url = parse_url(uri)?;
    if url.fragment().is_some() {
        return Err("has no fragment".into());
    }
    if url.query_pairs().any(|(k, _)| k == "iss") {
        return Err("keyedge adds `iss` itself".into());
    }
    Ok(url.to_string())
}

/// A SAML IdP's `idp_initiated_login` client must exist, may use the IdP, and must say where a
/// login it did not start goes (`initiate_login_uri`).
#[cfg(keyedge_saml)]
pub(super) fn check_landing_clients(
    clients: &[Client],
    identity_providers: &[IdentityProvider],
) -> Result<(), ConfigError> {
    use crate::core::config::ProviderKind;
    use crate::core::upstream::saml::config::Landing;
    for (i, p) in identity_providers.iter().enumerate() {
        let ProviderKind::Saml(cfg) = &p.kind else { continue };
        let Some(Landing::Client { client_id }) = &cfg.idp_initiated_login else { continue };
        let at = format!("identity_providers[{i}].idp_initiated_login.client_id");
        let client = clients
            .iter()
            .find(|c| &c.client_id == client_id)
            .ok_or_else(|| err(at.clone(), format!("no client has client_id `{client_id}`")))?;
        if client.initiate_login_uri.is_none() {
            return Err(err(at, format!("client `{client_id}` needs initiate_login_uri: where its login begins")));
        }
        if !client.allows_idp(&p.alias) {
            return Err(err(at, format!("client `{client_id}` does not allow identity provider `{}`", p.alias)));
        }
    }
    Ok(())
}

/// Each client's `allowed_identity_providers` must name configured providers; checked once
/// every provider is known.
pub(super) fn check_allowed_identity_providers(
    clients: &[Client],
    identity_providers: &[IdentityProvider],
) -> Result<(), ConfigError> {
    for (i, c) in clients.iter().enumerate() {
        for (j, alias) in c.allowed_identity_providers.iter().flatten().enumerate() {
            if !identity_providers.iter().any(|p| &p.alias == alias) {
                return Err(err(
                    format!("clients[{i}].allowed_identity_providers[{j}]"),
                    format!("no identity provider has alias `{alias}`"),
                ));
            }
        }
    }
    Ok(())
}
