//! Typed configuration (clients and upstream identity providers) and its validation.
//!
//! The file is TOML (see `docs/configuration.md`). Secrets never live in it: fields ending in
//! `_env` name a Worker secret (or a `.dev.vars` entry) that holds the value.

use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use url::Url;

use super::jose::Alg;
use super::secret::Secret;
use super::site_path::SitePath;

/// A configuration problem, naming the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: String,
    #[serde(default = "default_session_lifetime")]
    session_lifetime: u64,
    #[serde(default = "default_code_lifetime")]
    code_lifetime: u64,
    #[serde(default = "default_token_lifetime")]
    access_token_lifetime: u64,
    #[serde(default = "default_token_lifetime")]
    id_token_lifetime: u64,
    #[serde(default = "default_signing_key_env")]
    signing_key_env: String,
    #[serde(default = "default_encryption_key_env")]
    encryption_key_env: String,
    #[serde(default)]
    previous_encryption_key_envs: Vec<String>,
    #[serde(default)]
    es256_signing_key_env: Option<String>,
    #[serde(default)]
    eddsa_signing_key_env: Option<String>,
    #[serde(default)]
    previous_signing_key_envs: Vec<String>,
    #[serde(default)]
    next_signing_key_envs: Vec<String>,
    #[serde(default)]
    clients: Vec<RawClient>,
    #[serde(default)]
    identity_providers: Vec<RawIdentityProvider>,
    #[serde(default)]
    first_login_flows: Vec<FirstLoginFlow>,
    #[serde(default)]
    post_login_flows: Vec<RawPostLoginFlow>,
    #[serde(default)]
    mail: Option<RawMail>,
    #[serde(default)]
    admin_token_env: Option<String>,
    #[serde(default)]
    gate: Option<RawGate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    /// `assets` (the Worker's static assets) or an origin URL.
    upstream: String,
    #[serde(default)]
    identity_headers: bool,
    #[serde(default)]
    case_insensitive_paths: bool,
    #[serde(default)]
    rules: Vec<RawGateRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateRule {
    path: String,
    #[serde(default)]
    allow: Option<String>,
    #[serde(default)]
    require_roles: Vec<String>,
    #[serde(default)]
    require_email_domains: Vec<String>,
}

/// Where the protected site comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteUpstream {
    /// Workers Static Assets of this Worker (`[assets]` with `binding = "ASSETS"`).
    Assets,
    /// Another origin, e.g. `https://origin.example.com`: the path and query are appended.
    Origin(Url),
}

/// One gate rule: a path pattern and who may enter.
#[derive(Debug, Clone)]
pub struct GateRule {
    /// `/exact` or `/prefix/*`.
    pub path: String,
    /// Anyone, signed in or not.
    pub public: bool,
    /// Signed-in users with at least one of these roles (when not empty).
    pub require_roles: Vec<String>,
    /// Signed-in users with a verified email at one of these domains (when not empty).
    pub require_email_domains: Vec<String>,
    /// The path (without the `*`) as matched: [`SitePath::match_key`] of the canonical path.
    key: String,
}

impl GateRule {
    /// Whether the rule covers a request path, given as its [`SitePath::match_key`]. A prefix
    /// rule `/dir/*` covers `/dir` too.
    ///
    /// An exact rule that restricts access covers every address a site may serve the same
    /// page at: `/q3.html` also `/q3`, `/q3/` and `/q3/index.html` (Workers assets serve
    /// `q3.html` at `/q3`; nginx `try_files` and most static hosts do alike), and a file's
    /// `PATH_INFO` addresses (`/admin.php/x`). An exact public rule stays exact, so it never
    /// opens more than it names.
    pub fn matches(&self, key: &str) -> bool {
        if self.path.ends_with('*') {
            key.starts_with(&self.key) || self.key.strip_suffix('/').is_some_and(|dir| !dir.is_empty() && key == dir)
        } else if self.public {
            key == self.key
        } else {
            key == self.key || page_of(key) == page_of(&self.key) || under_script(key, &self.key)
        }
    }
}

/// Whether `key` is an address below the file `rule` names (`/admin.php/x` below
/// `/admin.php`), which PHP and CGI servers answer with that file (`PATH_INFO`).
fn under_script(key: &str, rule: &str) -> bool {
    let file = rule.rsplit('/').next().unwrap_or("");
    file.contains('.') && key.strip_prefix(rule).is_some_and(|rest| rest.starts_with('/'))
}

/// The page an address names, whatever way a static host spells it: without a trailing
/// `index.html` (or `index`), `.html` and `/`. `/q3.html`, `/q3`, `/q3/` and `/q3/index.html`
/// are one page; `/`, `/index.html` another.
fn page_of(key: &str) -> &str {
    let key = key
        .strip_suffix("index.html")
        .or_else(|| key.strip_suffix("index"))
        .filter(|k| k.ends_with('/'))
        .unwrap_or(key);
    let key = key.strip_suffix(".html").unwrap_or(key);
    match key.strip_suffix('/') {
        Some("") | None => key,
        Some(dir) => dir,
    }
}

/// The static-site gate: keyedge in front of a site.
#[derive(Debug, Clone)]
pub struct Gate {
    pub upstream: SiteUpstream,
    /// Add signed identity headers to requests passed to an origin.
    pub identity_headers: bool,
    /// The site ignores the case of paths: rules match whatever the case.
    pub case_insensitive_paths: bool,
    /// First match wins; a path no rule matches needs a signed-in user.
    pub rules: Vec<GateRule>,
}

/// Keycloak's "first broker login" flow: what happens when an upstream identity signs in for
/// the first time (no keyedge user is linked to it yet).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstLoginFlow {
    pub alias: String,
    /// Show the profile form: always, only when email/first/last name is missing, or never.
    #[serde(default)]
    pub review_profile: ReviewProfile,
    /// Create the account when no user has the same username or email.
    #[serde(default = "default_true")]
    pub create_user_if_unique: bool,
    /// When one does: offer to link to it (after verification) instead of an error page.
    #[serde(default = "default_true")]
    pub handle_existing_account: bool,
    /// Show "Confirm link existing account" before verifying.
    #[serde(default = "default_true")]
    pub confirm_link_existing_account: bool,
    /// Verify by a link mailed to the existing account's email (needs `[mail]`).
    #[serde(default = "default_true")]
    pub verify_existing_account_by_email: bool,
    /// Verify by signing in with an IdP already linked to the existing account.
    #[serde(default = "default_true")]
    pub verify_existing_account_by_reauthentication: bool,
}

/// The built-in first login flow, as Keycloak's default "first broker login".
pub const DEFAULT_FIRST_LOGIN_FLOW: &str = "first broker login";

impl FirstLoginFlow {
    fn builtin() -> Self {
        FirstLoginFlow {
            alias: DEFAULT_FIRST_LOGIN_FLOW.into(),
            review_profile: ReviewProfile::Missing,
            create_user_if_unique: true,
            handle_existing_account: true,
            confirm_link_existing_account: true,
            verify_existing_account_by_email: true,
            verify_existing_account_by_reauthentication: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewProfile {
    On,
    #[default]
    Missing,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostLoginFlow {
    alias: String,
    #[serde(default)]
    require_email_domains: Vec<String>,
    #[serde(default)]
    require_claims: Vec<ClaimRequirement>,
    #[serde(default)]
    deny_message: Option<String>,
}

/// A claim (JSON path into the IdP's claims) that must equal `value` or, for an array,
/// contain it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequirement {
    pub claim: String,
    pub value: String,
}

/// A step after every login through an IdP: who may pass.
#[derive(Debug, Clone)]
pub struct PostLoginFlow {
    pub alias: String,
    /// The user's email must be verified and at one of these domains (when not empty).
    pub require_email_domains: Vec<String>,
    pub require_claims: Vec<ClaimRequirement>,
    pub deny_message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    sender: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    api_key_env: Option<String>,
}

/// Where keyedge's mails (account verification links) go.
#[derive(Debug, Clone)]
pub enum MailSender {
    /// Development and tests: written to the log and to a dev inbox readable at
    /// `/dev/inbox?to=…`. Refused with an https issuer.
    DevInbox,
    /// An HTTP mail API taking `{"from","to","subject","text"}` with a bearer key (Resend's
    /// shape, which Postmark-, Mailgun-style relays and a small Worker can accept).
    Http { url: Url, api_key: Secret, from: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapper {
    name: String,
    kind: RawMapperKind,
    #[serde(default)]
    sync_mode: Option<SyncMode>,
    #[serde(default)]
    attribute: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    claim: Option<String>,
    #[serde(default)]
    regex: bool,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    template: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawMapperKind {
    HardcodedAttribute,
    HardcodedRole,
    AttributeImporter,
    ClaimToRole,
    UsernameTemplate,
}

/// An identity provider mapper (Keycloak's names): it sets user attributes, roles or the
/// username from the IdP's claims.
#[derive(Debug, Clone)]
pub struct Mapper {
    pub name: String,
    /// `None`: the IdP's `sync_mode`.
    pub sync_mode: Option<SyncMode>,
    pub kind: MapperKind,
}

#[derive(Debug, Clone)]
pub enum MapperKind {
    HardcodedAttribute {
        attribute: String,
        value: String,
    },
    HardcodedRole {
        role: String,
    },
    /// A claim at a JSON path (`contact.address[0].country`) into an attribute.
    AttributeImporter {
        claim: String,
        attribute: String,
    },
    /// `role` when the claim equals (or, as an array, contains) `value`, or matches `regex`.
    ClaimToRole {
        claim: String,
        value: String,
        regex: Option<regex_lite::Regex>,
        role: String,
    },
    /// The username on first login: `${CLAIM.path}`, `${ALIAS}`, with `| lowercase` or
    /// `| uppercase`.
    UsernameTemplate {
        template: String,
    },
}

fn default_session_lifetime() -> u64 {
    8 * 3600
}
fn default_code_lifetime() -> u64 {
    60
}
fn default_token_lifetime() -> u64 {
    300
}
fn default_signing_key_env() -> String {
    "SIGNING_KEY".into()
}
fn default_encryption_key_env() -> String {
    "ENCRYPTION_KEY".into()
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
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
    allowed_scopes: Option<Vec<String>>,
    #[serde(default)]
    identity_provider_claim: bool,
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
struct RawIdentityProvider {
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
    /// Scopes this client may be granted (`openid` is always allowed to user clients).
    pub allowed_scopes: Vec<String>,
    /// Put `identity_provider` (the alias used for the login) into this client's tokens,
    /// like Keycloak's session note mapper.
    pub identity_provider_claim: bool,
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

    pub fn allows_idp(&self, alias: &str) -> bool {
        self.allowed_identity_providers.as_ref().is_none_or(|list| list.iter().any(|a| a == alias))
    }
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

#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer identifier, byte for byte as published in discovery (no trailing slash).
    pub issuer: String,
    /// `true` when the issuer is https: cookies get `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    pub session_lifetime: u64,
    pub code_lifetime: u64,
    pub access_token_lifetime: u64,
    pub id_token_lifetime: u64,
    /// Keys that sign, each with the field that named it: RS256 first, then ES256 and EdDSA
    /// when configured.
    pub signing_keys: Vec<(String, Alg, Secret)>,
    /// Keys published in the JWKS without signing: retired ones and upcoming ones.
    pub other_signing_keys: Vec<(String, Secret)>,
    /// 32 bytes, base64: seals what keyedge keeps in the browser (upstream logins in progress).
    pub encryption_key: Secret,
    /// Retired encryption keys, each with the field that named it: they still open stored
    /// upstream tokens (which are sealed again with the current key when next read).
    pub previous_encryption_keys: Vec<(String, Secret)>,
    pub clients: Vec<Client>,
    pub identity_providers: Vec<IdentityProvider>,
    pub mail: Option<MailSender>,
    /// Bearer token of the admin API (`/admin/…`); the API is off without it.
    pub admin_token: Option<Secret>,
    pub gate: Option<Gate>,
}

impl Config {
    /// Parses and validates `text`; `secret` looks up a secret by name (Worker env).
    pub fn load(text: &str, secret: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            err(format!("line {span}"), e.message().to_owned())
        })?;
        let issuer = validate_issuer(&raw.issuer)?;
        let secure_cookies = issuer.starts_with("https://");
        let need = |field: String, name: &str| -> Result<Secret, ConfigError> {
            secret(name).filter(|v| !v.is_empty()).map(Secret::new).ok_or_else(|| {
                err(
                    field,
                    format!("secret `{name}` is not set (wrangler secret put {name}, or .dev.vars for wrangler dev)"),
                )
            })
        };
        let mut signing_keys =
            vec![("signing_key_env".to_owned(), Alg::RS256, need("signing_key_env".into(), &raw.signing_key_env)?)];
        for (field, alg, name) in [
            ("es256_signing_key_env", Alg::ES256, &raw.es256_signing_key_env),
            ("eddsa_signing_key_env", Alg::EdDSA, &raw.eddsa_signing_key_env),
        ] {
            if let Some(name) = name {
                signing_keys.push((field.to_owned(), alg, need(field.into(), name)?));
            }
        }
        let encryption_key = need("encryption_key_env".into(), &raw.encryption_key_env)?;
        let mut previous_encryption_keys = Vec::new();
        for (i, name) in raw.previous_encryption_key_envs.iter().enumerate() {
            let path = format!("previous_encryption_key_envs[{i}]");
            previous_encryption_keys.push((path.clone(), need(path, name)?));
        }
        let mut other_signing_keys = Vec::new();
        for (field, names) in [
            ("previous_signing_key_envs", &raw.previous_signing_key_envs),
            ("next_signing_key_envs", &raw.next_signing_key_envs),
        ] {
            for (i, name) in names.iter().enumerate() {
                let path = format!("{field}[{i}]");
                other_signing_keys.push((path.clone(), need(path, name)?));
            }
        }

        let mut clients = Vec::new();
        let mut seen = HashSet::new();
        for (i, c) in raw.clients.into_iter().enumerate() {
            let path = format!("clients[{i}]");
            if c.client_id.is_empty() || !seen.insert(c.client_id.clone()) {
                return Err(err(format!("{path}.client_id"), "must be present and unique"));
            }
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
                Some(name) => ClientAuth::Secret(need(format!("{path}.client_secret_env"), name)?),
                None => ClientAuth::Public,
            };
            clients.push(Client {
                name: c.name.unwrap_or_else(|| c.client_id.clone()),
                client_id: c.client_id,
                auth,
                redirect_uris: c.redirect_uris,
                post_logout_redirect_uris: c.post_logout_redirect_uris,
                grant_types,
                allowed_identity_providers: c.allowed_identity_providers,
                access_token_lifetime: c.access_token_lifetime.unwrap_or(raw.access_token_lifetime),
                refresh_token_lifetime: c.refresh_token_lifetime.unwrap_or(raw.session_lifetime),
                offline_token_lifetime: c.offline_token_lifetime.unwrap_or(30 * 24 * 3600),
                id_token_signed_response_alg: c.id_token_signed_response_alg.unwrap_or(Alg::RS256),
                access_token_signed_response_alg: c
                    .access_token_signed_response_alg
                    .or(c.id_token_signed_response_alg)
                    .unwrap_or(Alg::RS256),
                identity_provider_claim: c.identity_provider_claim,
                read_broker_tokens: c.read_broker_tokens,
                user_attributes: c.user_attributes,
                client_initiated_account_linking: c.client_initiated_account_linking,
                resource_server: c.resource_server,
                allowed_scopes: c
                    .allowed_scopes
                    .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
                backchannel_logout_uri: match c.backchannel_logout_uri {
                    // §2.2: an absolute http(s) URL without fragment.
                    Some(uri) => {
                        Some(parse_url(&uri).map_err(|m| err(format!("{path}.backchannel_logout_uri"), m))?.to_string())
                    }
                    None => None,
                },
            });
            for (field, alg) in [
                ("id_token_signed_response_alg", c.id_token_signed_response_alg),
                ("access_token_signed_response_alg", c.access_token_signed_response_alg),
            ] {
                if let Some(alg) = alg.filter(|alg| !signing_keys.iter().any(|(_, a, _)| a == alg)) {
                    let needed = if alg == Alg::ES256 { "es256_signing_key_env" } else { "eddsa_signing_key_env" };
                    return Err(err(format!("{path}.{field}"), format!("{} needs `{needed}`", alg.name())));
                }
            }
        }
        // Checked once every provider is known.
        let client_idp_lists: Vec<(usize, Vec<String>)> = clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.allowed_identity_providers.clone().map(|l| (i, l)))
            .collect();

        let mut first_login_flows = vec![FirstLoginFlow::builtin()];
        for (i, flow) in raw.first_login_flows.into_iter().enumerate() {
            if flow.alias.is_empty() {
                return Err(err(format!("first_login_flows[{i}].alias"), "is required"));
            }
            match first_login_flows.iter().position(|f| f.alias == flow.alias) {
                // Redefining the built-in flow changes it for every IdP that uses the default.
                Some(0) => first_login_flows[0] = flow,
                Some(_) => return Err(err(format!("first_login_flows[{i}].alias"), "is used by another flow")),
                None => first_login_flows.push(flow),
            }
        }
        let mut post_login_flows: Vec<PostLoginFlow> = Vec::new();
        for (i, flow) in raw.post_login_flows.into_iter().enumerate() {
            let path = format!("post_login_flows[{i}]");
            if flow.alias.is_empty() || post_login_flows.iter().any(|f| f.alias == flow.alias) {
                return Err(err(format!("{path}.alias"), "must be present and unique"));
            }
            let require_email_domains = domains(&flow.require_email_domains, &format!("{path}.require_email_domains"))?;
            post_login_flows.push(PostLoginFlow {
                alias: flow.alias,
                require_email_domains,
                require_claims: flow.require_claims,
                deny_message: flow.deny_message,
            });
        }
        let mail = match raw.mail {
            None => None,
            Some(m) => Some(match m.sender.as_str() {
                "dev_inbox" if secure_cookies => {
                    return Err(err("mail.sender", "dev_inbox is for local development; use http with an https issuer"))
                }
                "dev_inbox" => MailSender::DevInbox,
                "http" => {
                    let url = parse_url(m.url.as_deref().unwrap_or_default()).map_err(|e| err("mail.url", e))?;
                    let key_name = m.api_key_env.ok_or_else(|| err("mail.api_key_env", "is required"))?;
                    let from = m
                        .from
                        .filter(|f| f.contains('@'))
                        .ok_or_else(|| err("mail.from", "an email address is required"))?;
                    MailSender::Http { url, api_key: need("mail.api_key_env".into(), &key_name)?, from }
                }
                other => return Err(err("mail.sender", format!("`{other}`: use http or dev_inbox"))),
            }),
        };
        let admin_token = match &raw.admin_token_env {
            Some(name) => {
                let token = need("admin_token_env".into(), name)?;
                if token.expose().len() < 32 {
                    return Err(err("admin_token_env", "the admin token must be at least 32 characters"));
                }
                Some(token)
            }
            None => None,
        };

        let gate = match raw.gate {
            None => None,
            Some(g) => Some(gate(g)?),
        };

        let mut identity_providers = Vec::new();
        let mut aliases = HashSet::new();
        for (i, p) in raw.identity_providers.into_iter().enumerate() {
            let path = format!("identity_providers[{i}]");
            if !is_url_safe_alias(&p.alias) {
                return Err(err(format!("{path}.alias"), "must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'"));
            }
            if !aliases.insert(p.alias.clone()) {
                return Err(err(
                    format!("{path}.alias"),
                    format!("`{}` is used by another identity provider", p.alias),
                ));
            }
            let required = |v: Option<String>, f: &str| {
                v.filter(|v| !v.is_empty()).ok_or_else(|| err(format!("{path}.{f}"), "is required"))
            };
            let opt = |v: Option<String>, f: &str| -> Result<Option<Url>, ConfigError> {
                v.map(|s| parse_url(&s).map_err(|m| err(format!("{path}.{f}"), m))).transpose()
            };
            let client_auth = client_auth(&p, &path, &signing_keys, &need)?;
            let kind = match p.kind {
                RawKind::Oidc => {
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
                        return Err(err(
                            format!("{path}.default_scopes"),
                            "an OpenID Connect provider needs the `openid` scope",
                        ));
                    }
                    if let Some(prompt) = &p.prompt {
                        if !["none", "login", "consent", "select_account"].contains(&prompt.as_str()) {
                            return Err(err(
                                format!("{path}.prompt"),
                                format!("`{prompt}`: use none, login, consent or select_account"),
                            ));
                        }
                    }
                    let signature = signature_check(&p, &path)?;
                    if p.logout_url.is_some() && !p.upstream_logout {
                        return Err(err(format!("{path}.logout_url"), "is used only with upstream_logout = true"));
                    }
                    ProviderKind::Oidc(OidcProvider {
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
                RawKind::Oauth2 => {
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
                    ProviderKind::OAuth2(OAuth2Provider {
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
            };
            let email_domains = domains(&p.email_domains, &format!("{path}.email_domains"))?;
            let first_alias = p.first_login_flow.as_deref().unwrap_or(DEFAULT_FIRST_LOGIN_FLOW);
            let first_login_flow =
                first_login_flows.iter().find(|f| f.alias == first_alias).cloned().ok_or_else(|| {
                    err(
                        format!("{path}.first_login_flow"),
                        format!("no first_login_flows entry has alias `{first_alias}`"),
                    )
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
                return Err(err(
                    format!("{path}.authenticate_by_default"),
                    "a link_only provider cannot sign anyone in",
                ));
            }
            identity_providers.push(IdentityProvider {
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
            });
        }
        for (i, list) in client_idp_lists {
            for (j, alias) in list.iter().enumerate() {
                if !identity_providers.iter().any(|p: &IdentityProvider| &p.alias == alias) {
                    return Err(err(
                        format!("clients[{i}].allowed_identity_providers[{j}]"),
                        format!("no identity provider has alias `{alias}`"),
                    ));
                }
            }
        }
        identity_providers.sort_by(|a, b| a.gui_order.cmp(&b.gui_order).then_with(|| a.alias.cmp(&b.alias)));

        Ok(Config {
            issuer,
            secure_cookies,
            session_lifetime: raw.session_lifetime,
            code_lifetime: raw.code_lifetime,
            access_token_lifetime: raw.access_token_lifetime,
            id_token_lifetime: raw.id_token_lifetime,
            signing_keys,
            other_signing_keys,
            encryption_key,
            previous_encryption_keys,
            mail,
            admin_token,
            gate,
            clients,
            identity_providers,
        })
    }

    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub fn provider(&self, alias: &str) -> Option<&IdentityProvider> {
        self.identity_providers.iter().find(|p| p.alias == alias && p.enabled)
    }

    /// An absolute URL under the issuer, e.g. `endpoint("/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("`{s}` is not a valid URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!("`{s}` must use https (http is allowed only for localhost)")),
        other => Err(format!("`{s}` has unsupported scheme `{other}`")),
    }
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

fn validate_issuer(s: &str) -> Result<String, ConfigError> {
    let url = parse_url(s).map_err(|m| err("issuer", m))?;
    // OpenID Connect Discovery §3: no query or fragment; we also forbid a trailing slash so
    // that endpoint URLs are formed unambiguously.
    if url.query().is_some() || url.fragment().is_some() || s.ends_with('/') {
        return Err(err("issuer", "must have no query, fragment or trailing slash"));
    }
    Ok(s.to_owned())
}

/// Redirect URIs are compared byte for byte, so they must be absolute, without fragment
/// (RFC 6749 §3.1.2), and https unless they point at the local machine.
fn validate_redirect_uri(s: &str) -> Result<(), String> {
    let url = Url::parse(s).map_err(|e| format!("`{s}` is not a valid URL: {e}"))?;
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

fn is_url_safe_alias(alias: &str) -> bool {
    (1..=64).contains(&alias.len()) && alias.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `client_auth_method` of an upstream provider and the secret or key it needs.
fn client_auth(
    p: &RawIdentityProvider,
    path: &str,
    signing_keys: &[(String, Alg, Secret)],
    need: &dyn Fn(String, &str) -> Result<Secret, ConfigError>,
) -> Result<UpstreamClientAuth, ConfigError> {
    let method = p.client_auth_method.as_deref().unwrap_or("client_secret_basic");
    let secret = || match &p.client_secret_env {
        Some(name) if !name.is_empty() => need(format!("{path}.client_secret_env"), name),
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

/// Lower-cased email domains; each must look like `example.com`.
fn domains(list: &[String], path: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for (j, d) in list.iter().enumerate() {
        let d = d.trim().to_ascii_lowercase();
        if d.is_empty() || d.contains('@') || d.contains(' ') || !d.contains('.') {
            return Err(err(format!("{path}[{j}]"), "must be a domain such as `example.com`"));
        }
        out.push(d);
    }
    Ok(out)
}

/// One `[[identity_providers.mappers]]` entry, with the fields its kind needs and no others.
fn mapper(m: &RawMapper, path: &str) -> Result<Mapper, ConfigError> {
    let need = |v: &Option<String>, f: &str| -> Result<String, ConfigError> {
        v.clone().filter(|v| !v.is_empty()).ok_or_else(|| err(format!("{path}.{f}"), "is required for this kind"))
    };
    let used: &[&str] = match m.kind {
        RawMapperKind::HardcodedAttribute => &["attribute", "value"],
        RawMapperKind::HardcodedRole => &["role"],
        RawMapperKind::AttributeImporter => &["claim", "attribute"],
        RawMapperKind::ClaimToRole => &["claim", "value", "regex", "role"],
        RawMapperKind::UsernameTemplate => &["template"],
    };
    let set = [
        ("attribute", m.attribute.is_some()),
        ("value", m.value.is_some()),
        ("claim", m.claim.is_some()),
        ("regex", m.regex),
        ("role", m.role.is_some()),
        ("template", m.template.is_some()),
    ];
    if let Some((field, _)) = set.iter().find(|(f, on)| *on && !used.contains(f)) {
        return Err(err(format!("{path}.{field}"), "does not apply to this kind of mapper"));
    }
    let kind = match m.kind {
        RawMapperKind::HardcodedAttribute => MapperKind::HardcodedAttribute {
            attribute: need(&m.attribute, "attribute")?,
            value: need(&m.value, "value")?,
        },
        RawMapperKind::HardcodedRole => MapperKind::HardcodedRole { role: need(&m.role, "role")? },
        RawMapperKind::AttributeImporter => MapperKind::AttributeImporter {
            claim: need(&m.claim, "claim")?,
            attribute: need(&m.attribute, "attribute")?,
        },
        RawMapperKind::ClaimToRole => {
            let value = need(&m.value, "value")?;
            let regex = if m.regex {
                // Anchored: the whole value must match, as in Keycloak.
                Some(
                    regex_lite::Regex::new(&format!("^(?:{value})$"))
                        .map_err(|e| err(format!("{path}.value"), format!("not a valid regex: {e}")))?,
                )
            } else {
                None
            };
            MapperKind::ClaimToRole { claim: need(&m.claim, "claim")?, value, regex, role: need(&m.role, "role")? }
        }
        RawMapperKind::UsernameTemplate => {
            let template = need(&m.template, "template")?;
            crate::core::claims::check_template(&template).map_err(|e| err(format!("{path}.template"), e))?;
            MapperKind::UsernameTemplate { template }
        }
    };
    Ok(Mapper { name: m.name.clone(), sync_mode: m.sync_mode, kind })
}

fn gate(g: RawGate) -> Result<Gate, ConfigError> {
    let upstream = match g.upstream.as_str() {
        "assets" => SiteUpstream::Assets,
        url => {
            let url = parse_url(url).map_err(|m| err("gate.upstream", format!("{m} (or \"assets\")")))?;
            if url.path() != "/" || url.query().is_some() {
                return Err(err(
                    "gate.upstream",
                    "an origin is a scheme and host only, such as https://origin.example.com",
                ));
            }
            SiteUpstream::Origin(url)
        }
    };
    if g.identity_headers && upstream == SiteUpstream::Assets {
        return Err(err("gate.identity_headers", "applies to an origin upstream only"));
    }
    let mut rules = Vec::new();
    for (i, r) in g.rules.into_iter().enumerate() {
        let path = format!("gate.rules[{i}]");
        let star = r.path.find('*');
        if !r.path.starts_with('/') || star.is_some_and(|s| s != r.path.len() - 1) {
            return Err(err(format!("{path}.path"), "a path such as `/docs/*` (a `*` only at the end) or `/exact`"));
        }
        let key = gate_rule_key(&r.path, g.case_insensitive_paths).map_err(|m| err(format!("{path}.path"), m))?;
        let public = match r.allow.as_deref() {
            None | Some("signed_in") => false,
            Some("anyone") => true,
            Some(other) => return Err(err(format!("{path}.allow"), format!("`{other}`: use anyone or signed_in"))),
        };
        if public && (!r.require_roles.is_empty() || !r.require_email_domains.is_empty()) {
            return Err(err(format!("{path}.allow"), "a rule for anyone cannot require roles or email domains"));
        }
        let require_email_domains = domains(&r.require_email_domains, &format!("{path}.require_email_domains"))?;
        rules.push(GateRule { path: r.path, public, require_roles: r.require_roles, require_email_domains, key });
    }
    Ok(Gate { upstream, identity_headers: g.identity_headers, case_insensitive_paths: g.case_insensitive_paths, rules })
}

/// The match key of a rule path, which must be written in canonical form: requests are
/// matched in that form, so another spelling would never match what it seems to.
fn gate_rule_key(rule: &str, case_insensitive: bool) -> Result<String, String> {
    let written = rule.strip_suffix('*').unwrap_or(rule);
    let star = if written.len() < rule.len() { "*" } else { "" };
    if written.contains(';') {
        return Err(format!("`{rule}`: path parameters (`;`) are not matched; leave them out"));
    }
    match SitePath::parse(written) {
        Err(e) => Err(format!("`{rule}` is not a canonical path: {e}")),
        Ok(canonical) if canonical.as_str() != written => {
            Err(format!("`{rule}` is not in canonical form (requests are matched as `{canonical}{star}`): write that"))
        }
        Ok(canonical) => Ok(canonical.match_key(case_insensitive)),
    }
}
