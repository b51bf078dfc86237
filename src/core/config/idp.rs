//! Identity providers: the options every kind shares, and each kind's own.

use serde::Deserialize;
use std::collections::HashSet;
use url::Url;

use super::flows::{FirstLoginFlow, PostLoginFlow, DEFAULT_FIRST_LOGIN_FLOW};
use super::mappers::{mapper, Mapper, RawMapper};
use super::secrets::Secrets;
use super::{default_true, domains, err, parse_url, ConfigError};
use crate::core::jose::Alg;
use crate::core::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawKind {
    Oidc,
    Oauth2,
}

fn default_scopes() -> String {
    "openid email profile".into()
}
fn default_skew() -> u64 {
    30
}

/// One `[[identity_providers]]` table. Options shared by every kind come first; the rest are
/// checked against `kind` when the provider is built.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdentityProvider {
    alias: String,
    kind: RawKind,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default)]
    hide_on_login_page: bool,
    #[serde(default)]
    authenticate_by_default: bool,
    #[serde(default)]
    email_domains: Vec<String>,
    #[serde(default)]
    gui_order: i32,
    #[serde(default)]
    icon: Option<String>,
    #[serde(default)]
    trust_email: bool,
    #[serde(default)]
    store_tokens: bool,
    #[serde(default)]
    stored_tokens_readable: bool,
    #[serde(default)]
    sync_mode: SyncMode,
    #[serde(default)]
    link_only: bool,
    #[serde(default = "default_true")]
    pkce_enabled: bool,
    #[serde(default)]
    unproven_step_up: UnprovenStepUp,
    #[serde(default)]
    first_login_flow: Option<String>,
    #[serde(default)]
    post_login_flow: Option<String>,
    #[serde(default)]
    mappers: Vec<RawMapper>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    default_scopes: Option<String>,
    #[serde(default)]
    authorization_url: Option<String>,
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default)]
    userinfo_url: Option<String>,
    #[serde(default = "default_skew")]
    allowed_clock_skew: u64,
    #[serde(default)]
    disable_userinfo: bool,
    #[serde(default)]
    client_auth_method: Option<String>,
    #[serde(default)]
    client_assertion_signing_alg: Option<Alg>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    accepts_prompt_none_forward: bool,
    #[serde(default = "default_true")]
    validate_signature: bool,
    #[serde(default = "default_true")]
    use_jwks_url: bool,
    #[serde(default)]
    public_key_signature_verifier: Option<String>,
    #[serde(default)]
    public_key_signature_verifier_key_id: Option<String>,
    #[serde(default)]
    backchannel_logout: bool,
    #[serde(default)]
    upstream_logout: bool,
    #[serde(default)]
    logout_url: Option<String>,
    // OAuth2 (non-OIDC): where the user's attributes are in the userinfo JSON.
    #[serde(default)]
    user_id_claim: Option<String>,
    #[serde(default)]
    username_claim: Option<String>,
    #[serde(default)]
    email_claim: Option<String>,
    #[serde(default)]
    email_verified_claim: Option<String>,
    #[serde(default)]
    name_claim: Option<String>,
    #[serde(default)]
    picture_claim: Option<String>,
}

/// What later logins through an IdP do to the user's profile (Keycloak's "Sync mode").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Profile attributes are taken on the first login only.
    #[default]
    Import,
    /// Profile attributes are overwritten from the IdP on every login.
    Force,
    /// Keycloak's behaviour before sync modes existed: like `import` for the profile (and,
    /// for mappers, each mapper's own rule).
    Legacy,
}

/// What a login through an IdP that cannot prove a fresh sign-in answers a client that asked
/// for one (`prompt=login` or `max_age`): the IdP's answer has no `auth_time` — always so for
/// plain OAuth 2.0, and for OpenID Connect IdPs that omit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnprovenStepUp {
    /// The login goes on, but `auth_time` stays that of the browser's earlier session of the
    /// same user (the client sees that no new authentication is proven); without one, it is
    /// the time keyedge received the login.
    #[default]
    KeepAuthTime,
    /// The client gets `login_required`.
    LoginRequired,
}

/// How keyedge authenticates to an upstream token endpoint.
#[derive(Debug, Clone)]
pub enum UpstreamClientAuth {
    /// `client_secret_basic`: HTTP Basic with the secret.
    SecretBasic(Secret),
    /// `client_secret_post`: the secret in the form body.
    SecretPost(Secret),
    /// `client_secret_jwt` (RFC 7523): an HS256 assertion keyed with the secret.
    SecretJwt(Secret),
    /// `private_key_jwt` (RFC 7523): an assertion signed with keyedge's own signing key for
    /// `alg`, whose public half the IdP reads from keyedge's `/jwks`.
    PrivateKeyJwt(Alg),
}

/// How an upstream ID token's signature is checked.
#[derive(Debug, Clone)]
pub enum SignatureCheck {
    /// With the IdP's JWKS (`jwks_url` or discovery).
    Jwks,
    /// With one pinned public key (`public_key_signature_verifier`).
    Pinned(crate::core::jose::Jwks),
    /// Not at all (`validate_signature = false`): the ID token is trusted because it came
    /// straight from the token endpoint over TLS (OIDC Core §3.1.3.7, 6).
    Off,
}

#[derive(Debug, Clone)]
pub struct OidcProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_auth: UpstreamClientAuth,
    pub default_scopes: String,
    pub authorization_url: Option<Url>,
    pub token_url: Option<Url>,
    pub jwks_url: Option<Url>,
    pub userinfo_url: Option<Url>,
    pub allowed_clock_skew: u64,
    /// Take the user's attributes from the ID token only (Keycloak's "Disable user info").
    pub disable_userinfo: bool,
    /// A `prompt` sent on every upstream request (unless the client asked for a fresh login).
    pub prompt: Option<String>,
    /// A client's `prompt=none` with this IdP chosen is passed on instead of answered
    /// `login_required` at keyedge.
    pub accepts_prompt_none_forward: bool,
    pub signature: SignatureCheck,
    /// Accept OpenID Connect Back-Channel Logout tokens from the IdP.
    pub backchannel_logout: bool,
    /// On keyedge logout, send the browser to the IdP's end-session endpoint too.
    pub upstream_logout: bool,
    /// The end-session endpoint (else discovery's `end_session_endpoint`).
    pub logout_url: Option<Url>,
}

/// A plain OAuth 2.0 provider (GitHub-like): no ID token; who the user is comes from its
/// userinfo endpoint, read with the configured JSON paths (`a.b[0].c`).
#[derive(Debug, Clone)]
pub struct OAuth2Provider {
    pub client_id: String,
    pub client_auth: UpstreamClientAuth,
    pub default_scopes: String,
    pub authorization_url: Url,
    pub token_url: Url,
    pub userinfo_url: Url,
    pub user_id_claim: String,
    pub username_claim: String,
    pub email_claim: String,
    /// Without it, emails from this provider never count as verified.
    pub email_verified_claim: Option<String>,
    pub name_claim: String,
    pub picture_claim: String,
}

#[derive(Debug, Clone)]
pub enum ProviderKind {
    Oidc(OidcProvider),
    OAuth2(OAuth2Provider),
}

#[derive(Debug, Clone)]
pub struct IdentityProvider {
    pub alias: String,
    pub display_name: String,
    pub enabled: bool,
    pub hide_on_login_page: bool,
    /// Skip the login page and go straight to this IdP (Keycloak's "Authenticate By Default").
    pub authenticate_by_default: bool,
    /// Home-realm discovery: users who type an email at these domains are sent here.
    pub email_domains: Vec<String>,
    pub gui_order: i32,
    /// An image shown next to the name on the login page (URL or path).
    pub icon: Option<String>,
    /// Emails from this IdP count as verified even without `email_verified`.
    pub trust_email: bool,
    /// Keep the IdP's tokens (sealed) per linked identity.
    pub store_tokens: bool,
    /// Users created through this IdP get the `broker.read-token` role.
    pub stored_tokens_readable: bool,
    pub sync_mode: SyncMode,
    /// Only for linking to a signed-in account, never for signing in.
    pub link_only: bool,
    /// Send a PKCE S256 challenge (and the verifier at the token endpoint).
    pub pkce_enabled: bool,
    /// A step-up the IdP's answer cannot prove (no `auth_time`).
    pub unproven_step_up: UnprovenStepUp,
    pub first_login_flow: FirstLoginFlow,
    pub post_login_flow: Option<PostLoginFlow>,
    pub mappers: Vec<Mapper>,
    pub kind: ProviderKind,
}

fn is_url_safe_alias(alias: &str) -> bool {
    (1..=64).contains(&alias.len()) && alias.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `client_auth_method` of an upstream provider and the secret or key it needs.
fn client_auth(
    p: &RawIdentityProvider,
    path: &str,
    signing_keys: &[(String, Alg, Secret)],
    secrets: &Secrets,
) -> Result<UpstreamClientAuth, ConfigError> {
    let method = p.client_auth_method.as_deref().unwrap_or("client_secret_basic");
    let secret = || match &p.client_secret_env {
        Some(name) if !name.is_empty() => secrets.need(format!("{path}.client_secret_env"), name),
        _ => Err(err(format!("{path}.client_secret_env"), format!("is required for {method}"))),
    };
    if p.client_assertion_signing_alg.is_some() && method != "private_key_jwt" {
        return Err(err(format!("{path}.client_assertion_signing_alg"), "applies to private_key_jwt only"));
    }
    Ok(match method {
        "client_secret_basic" => UpstreamClientAuth::SecretBasic(secret()?),
        "client_secret_post" => UpstreamClientAuth::SecretPost(secret()?),
        "client_secret_jwt" => UpstreamClientAuth::SecretJwt(secret()?),
        "private_key_jwt" => {
            if p.client_secret_env.is_some() {
                return Err(err(
                    format!("{path}.client_secret_env"),
                    "private_key_jwt signs with keyedge's own key; remove the secret",
                ));
            }
            let alg = p.client_assertion_signing_alg.unwrap_or(Alg::RS256);
            if !signing_keys.iter().any(|(_, a, _)| *a == alg) {
                return Err(err(
                    format!("{path}.client_assertion_signing_alg"),
                    format!("keyedge has no {} signing key configured", alg.name()),
                ));
            }
            UpstreamClientAuth::PrivateKeyJwt(alg)
        }
        other => {
            return Err(err(
                format!("{path}.client_auth_method"),
                format!("`{other}`: use client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt"),
            ))
        }
    })
}

/// `validate_signature`, `use_jwks_url` and the pinned key of an OIDC provider.
fn signature_check(p: &RawIdentityProvider, path: &str) -> Result<SignatureCheck, ConfigError> {
    let pinned = p.public_key_signature_verifier.as_deref();
    if !p.validate_signature {
        if pinned.is_some() || !p.use_jwks_url {
            return Err(err(format!("{path}.validate_signature"), "is false, so no key settings apply"));
        }
        // A logout token is posted by anyone who can reach keyedge, not fetched from the IdP
        // over TLS as an ID token is: it is only as good as its signature.
        if p.backchannel_logout {
            return Err(err(
                format!("{path}.backchannel_logout"),
                "needs validate_signature: a logout token without a checked signature would let anyone end sessions",
            ));
        }
        return Ok(SignatureCheck::Off);
    }
    match (p.use_jwks_url, pinned) {
        (true, None) => {
            if p.public_key_signature_verifier_key_id.is_some() {
                return Err(err(
                    format!("{path}.public_key_signature_verifier_key_id"),
                    "applies with public_key_signature_verifier only",
                ));
            }
            Ok(SignatureCheck::Jwks)
        }
        (true, Some(_)) => {
            Err(err(format!("{path}.public_key_signature_verifier"), "set use_jwks_url = false to pin a key"))
        }
        (false, None) => Err(err(
            format!("{path}.public_key_signature_verifier"),
            "is required when use_jwks_url = false (a PEM public key)",
        )),
        (false, Some(pem)) => {
            let jwks = crate::core::jose::Jwks::from_public_pem(pem, p.public_key_signature_verifier_key_id.as_deref())
                .map_err(|m| err(format!("{path}.public_key_signature_verifier"), m))?;
            Ok(SignatureCheck::Pinned(jwks))
        }
    }
}

/// What building a provider needs from the rest of the configuration.
pub(super) struct Context<'a> {
    pub(super) signing_keys: &'a [(String, Alg, Secret)],
    pub(super) secrets: &'a Secrets<'a>,
    pub(super) first_login_flows: &'a [FirstLoginFlow],
    pub(super) post_login_flows: &'a [PostLoginFlow],
}

/// Every `[[identity_providers]]` table, in login-page order (`gui_order`, then alias).
pub(super) fn identity_providers(
    raw: Vec<RawIdentityProvider>,
    context: &Context,
) -> Result<Vec<IdentityProvider>, ConfigError> {
    let mut identity_providers = Vec::new();
    let mut aliases = HashSet::new();
    for (i, p) in raw.into_iter().enumerate() {
        let path = format!("identity_providers[{i}]");
        if !is_url_safe_alias(&p.alias) {
            return Err(err(format!("{path}.alias"), "must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'"));
        }
        if !aliases.insert(p.alias.clone()) {
            return Err(err(format!("{path}.alias"), format!("`{}` is used by another identity provider", p.alias)));
        }
        identity_providers.push(provider(p, &path, context)?);
    }
    identity_providers.sort_by(|a, b| a.gui_order.cmp(&b.gui_order).then_with(|| a.alias.cmp(&b.alias)));
    Ok(identity_providers)
}

fn provider(p: RawIdentityProvider, path: &str, context: &Context) -> Result<IdentityProvider, ConfigError> {
    let client_auth = client_auth(&p, path, context.signing_keys, context.secrets)?;
    let kind = match p.kind {
        RawKind::Oidc => ProviderKind::Oidc(oidc(&p, path, client_auth)?),
        RawKind::Oauth2 => ProviderKind::OAuth2(oauth2(&p, path, client_auth)?),
    };
    let (first_login_flows, post_login_flows) = (context.first_login_flows, context.post_login_flows);
    let email_domains = domains(&p.email_domains, &format!("{path}.email_domains"))?;
    let first_alias = p.first_login_flow.as_deref().unwrap_or(DEFAULT_FIRST_LOGIN_FLOW);
    let first_login_flow = first_login_flows.iter().find(|f| f.alias == first_alias).cloned().ok_or_else(|| {
        err(format!("{path}.first_login_flow"), format!("no first_login_flows entry has alias `{first_alias}`"))
    })?;
    let post_login_flow = match &p.post_login_flow {
        Some(a) => Some(post_login_flows.iter().find(|f| &f.alias == a).cloned().ok_or_else(|| {
            err(format!("{path}.post_login_flow"), format!("no post_login_flows entry has alias `{a}`"))
        })?),
        None => None,
    };
    let mut mappers = Vec::new();
    for (j, m) in p.mappers.iter().enumerate() {
        mappers.push(mapper(m, &format!("{path}.mappers[{j}]"))?);
    }
    if let Some(icon) = &p.icon {
        if !icon.starts_with('/') || icon.starts_with("//") {
            parse_url(icon).map_err(|m| err(format!("{path}.icon"), m))?;
        }
    }
    if p.stored_tokens_readable && !p.store_tokens {
        return Err(err(format!("{path}.stored_tokens_readable"), "needs store_tokens = true"));
    }
    if p.link_only && p.authenticate_by_default {
        return Err(err(format!("{path}.authenticate_by_default"), "a link_only provider cannot sign anyone in"));
    }
    Ok(IdentityProvider {
        display_name: p.display_name.unwrap_or_else(|| p.alias.clone()),
        alias: p.alias,
        enabled: p.enabled,
        hide_on_login_page: p.hide_on_login_page,
        authenticate_by_default: p.authenticate_by_default,
        email_domains,
        gui_order: p.gui_order,
        icon: p.icon,
        trust_email: p.trust_email,
        store_tokens: p.store_tokens,
        stored_tokens_readable: p.stored_tokens_readable,
        sync_mode: p.sync_mode,
        link_only: p.link_only,
        pkce_enabled: p.pkce_enabled,
        unproven_step_up: p.unproven_step_up,
        first_login_flow,
        post_login_flow,
        mappers,
        kind,
    })
}

fn required(v: Option<String>, path: &str, f: &str) -> Result<String, ConfigError> {
    v.filter(|v| !v.is_empty()).ok_or_else(|| err(format!("{path}.{f}"), "is required"))
}

fn optional_url(v: Option<String>, path: &str, f: &str) -> Result<Option<Url>, ConfigError> {
    v.map(|s| parse_url(&s).map_err(|m| err(format!("{path}.{f}"), m))).transpose()
}

fn oidc(p: &RawIdentityProvider, path: &str, client_auth: UpstreamClientAuth) -> Result<OidcProvider, ConfigError> {
    let required = |v: Option<String>, f: &str| required(v, path, f);
    let opt = |v: Option<String>, f: &str| optional_url(v, path, f);
    let issuer = required(p.issuer.clone(), "issuer")?;
    parse_url(&issuer).map_err(|m| err(format!("{path}.issuer"), m))?;
    let oauth2_only = [
        ("user_id_claim", p.user_id_claim.is_some()),
        ("username_claim", p.username_claim.is_some()),
        ("email_claim", p.email_claim.is_some()),
        ("email_verified_claim", p.email_verified_claim.is_some()),
        ("name_claim", p.name_claim.is_some()),
        ("picture_claim", p.picture_claim.is_some()),
    ];
    if let Some((field, _)) = oauth2_only.iter().find(|(_, set)| *set) {
        return Err(err(format!("{path}.{field}"), "applies to kind = \"oauth2\" only"));
    }
    let default_scopes = p.default_scopes.clone().unwrap_or_else(default_scopes);
    if !crate::core::vocab::Scopes::parse(&default_scopes).contains(crate::core::vocab::scope::OPENID) {
        return Err(err(format!("{path}.default_scopes"), "an OpenID Connect provider needs the `openid` scope"));
    }
    if let Some(prompt) = &p.prompt {
        if !["none", "login", "consent", "select_account"].contains(&prompt.as_str()) {
            return Err(err(
                format!("{path}.prompt"),
                format!("`{prompt}`: use none, login, consent or select_account"),
            ));
        }
    }
    let signature = signature_check(p, path)?;
    if p.logout_url.is_some() && !p.upstream_logout {
        return Err(err(format!("{path}.logout_url"), "is used only with upstream_logout = true"));
    }
    Ok(OidcProvider {
        issuer,
        client_auth,
        client_id: required(p.client_id.clone(), "client_id")?,
        default_scopes,
        authorization_url: opt(p.authorization_url.clone(), "authorization_url")?,
        token_url: opt(p.token_url.clone(), "token_url")?,
        jwks_url: opt(p.jwks_url.clone(), "jwks_url")?,
        userinfo_url: opt(p.userinfo_url.clone(), "userinfo_url")?,
        allowed_clock_skew: p.allowed_clock_skew,
        disable_userinfo: p.disable_userinfo,
        prompt: p.prompt.clone(),
        accepts_prompt_none_forward: p.accepts_prompt_none_forward,
        signature,
        backchannel_logout: p.backchannel_logout,
        upstream_logout: p.upstream_logout,
        logout_url: opt(p.logout_url.clone(), "logout_url")?,
    })
}

fn oauth2(p: &RawIdentityProvider, path: &str, client_auth: UpstreamClientAuth) -> Result<OAuth2Provider, ConfigError> {
    let required = |v: Option<String>, f: &str| required(v, path, f);
    let oidc_only = [
        ("issuer", p.issuer.is_some()),
        ("jwks_url", p.jwks_url.is_some()),
        ("disable_userinfo", p.disable_userinfo),
        ("prompt", p.prompt.is_some()),
        ("accepts_prompt_none_forward", p.accepts_prompt_none_forward),
        ("validate_signature", !p.validate_signature),
        ("use_jwks_url", !p.use_jwks_url),
        ("public_key_signature_verifier", p.public_key_signature_verifier.is_some()),
        ("public_key_signature_verifier_key_id", p.public_key_signature_verifier_key_id.is_some()),
        ("backchannel_logout", p.backchannel_logout),
        ("upstream_logout", p.upstream_logout),
        ("logout_url", p.logout_url.is_some()),
    ];
    for (field, set) in oidc_only {
        if set {
            return Err(err(format!("{path}.{field}"), "applies to kind = \"oidc\" only"));
        }
    }
    let url = |v: Option<String>, f: &str| -> Result<Url, ConfigError> {
        parse_url(&required(v, f)?).map_err(|m| err(format!("{path}.{f}"), m))
    };
    Ok(OAuth2Provider {
        client_auth,
        client_id: required(p.client_id.clone(), "client_id")?,
        default_scopes: p.default_scopes.clone().unwrap_or_default(),
        authorization_url: url(p.authorization_url.clone(), "authorization_url")?,
        token_url: url(p.token_url.clone(), "token_url")?,
        userinfo_url: url(p.userinfo_url.clone(), "userinfo_url")?,
        user_id_claim: p.user_id_claim.clone().unwrap_or_else(|| "sub".into()),
        username_claim: p.username_claim.clone().unwrap_or_else(|| "preferred_username".into()),
        email_claim: p.email_claim.clone().unwrap_or_else(|| "email".into()),
        email_verified_claim: p.email_verified_claim.clone(),
        name_claim: p.name_claim.clone().unwrap_or_else(|| "name".into()),
        picture_claim: p.picture_claim.clone().unwrap_or_else(|| "picture".into()),
    })
}
