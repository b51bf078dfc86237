//! Typed configuration (clients and upstream identity providers) and its validation.
//!
//! The file is TOML (see `docs/configuration.md`). Secrets never live in it: fields ending in
//! `_env` name a Worker secret (or a `.dev.vars` entry) that holds the value.

mod clients;
mod flows;
mod gate;
mod idp;
mod mappers;
mod secrets;
mod table;

pub use crate::core::upstream::client_config::UpstreamClientAuth;
pub use crate::core::upstream::oidc::config::{OidcProvider, SignatureCheck};
pub use crate::core::upstream::plain_oauth2::config::OAuth2Provider;
pub use clients::{Client, ClientAuth, GrantType, DEFAULT_SCOPES};
pub use flows::{ClaimRequirement, FirstLoginFlow, PostLoginFlow, ReviewProfile, DEFAULT_FIRST_LOGIN_FLOW};
pub use gate::{Gate, GateRule, OriginAddresses, SiteUpstream};
pub use idp::{IdentityProvider, Landing, ProviderKind, SyncMode, UnprovenStepUp};
pub use mappers::{ClaimMatch, Mapper, MapperKind, ValueRegex};
pub use secrets::MailSender;

use serde::Deserialize;
use std::fmt;
use url::Url;

use super::jose::Alg;
use super::secret::Secret;
use clients::RawClient;
use flows::RawPostLoginFlow;
use gate::RawGate;
use idp::RawIdentityProvider;
use secrets::RawMail;
pub(crate) use secrets::Secrets;
pub(crate) use table::KindOptions;

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

pub(crate) fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: String,
    #[serde(default = "default_session_lifetime")]
    session_lifetime: u64,
    #[serde(default = "default_true")]
    revoke_refresh_token: bool,
    #[serde(default)]
    refresh_token_max_reuse: u32,
    #[serde(default = "default_refresh_token_grace")]
    refresh_token_grace_seconds: u64,
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
    #[serde(default)]
    dev: RawDev,
}

/// `[dev]`: tools for local development, refused with an https issuer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDev {
    #[serde(default)]
    storage_conformance: bool,
    #[serde(default)]
    fault_injection: bool,
}

fn default_session_lifetime() -> u64 {
    8 * 3600
}
fn default_refresh_token_grace() -> u64 {
    5
}
/// Longer grace windows would let a stolen refresh token be used beside its owner's for
/// longer; a few seconds cover concurrent refreshes.
const MAX_REFRESH_TOKEN_GRACE: u64 = 60;
/// Keycloak's `refreshTokenMaxReuse` is meant for a handful of retries.
const MAX_REFRESH_TOKEN_REUSE: u32 = 100;
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

#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer identifier, byte for byte as published in discovery (no trailing slash).
    pub issuer: String,
    /// Where keyedge serves: under the issuer's path, with Keycloak's endpoint paths too.
    pub mount: crate::core::mount::Mount,
    /// `true` when the issuer is https: cookies get `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    pub session_lifetime: u64,
    /// Keycloak's `revokeRefreshToken`: each refresh rotates the refresh token (reuse of an
    /// old one revokes its grant). `false`: the same token serves until its grant ends.
    pub revoke_refresh_token: bool,
    /// Keycloak's `refreshTokenMaxReuse`: how many times the refresh token rotated out last
    /// may be presented again after the grace window (each answered with the same successor).
    pub refresh_token_max_reuse: u32,
    /// How long (seconds) after a rotation the refresh token rotated out is answered with the
    /// same successor again (concurrent refreshes); `0`: strict.
    pub refresh_token_grace_seconds: u64,
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
    /// `POST /dev/conformance` runs the storage conformance suite (`ports::conformance`)
    /// against the live bindings: local development only.
    pub storage_conformance: bool,
    /// `POST /dev/faults` makes a coming KV or Durable Object operation fail
    /// (`ports::faulty`): local development only.
    pub fault_injection: bool,
}

impl Config {
    /// Parses and validates `text`; `secret` looks up a secret by name (Worker env).
    pub fn load(text: &str, secret: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let raw: RawConfig = table::parse(text).map_err(|(message, at)| {
            let line = at.map(|s| line_of(text, s)).unwrap_or(0);
            err(format!("line {line}"), message)
        })?;
        let issuer = validate_issuer(&raw.issuer)?;
        let secure_cookies = issuer.starts_with("https://");
        let secrets = Secrets(secret);
        let keys = secrets::keys(&raw, &secrets)?;
        let lifetimes = clients::Lifetimes { access_token: raw.access_token_lifetime, session: raw.session_lifetime };
        let clients = clients::clients(raw.clients, &lifetimes, &keys.signing, &secrets)?;
        let first_login_flows = flows::first_login_flows(raw.first_login_flows)?;
        let post_login_flows = flows::post_login_flows(raw.post_login_flows)?;
        let mail = raw.mail.map(|m| secrets::mail(m, secure_cookies, &secrets)).transpose()?;
        // What build.rs leaves out of a Worker whose embedded configuration does not use it;
        // only a configuration other than the embedded one could ask for it here.
        #[cfg(not(all(keyedge_admin, keyedge_gate, keyedge_logout_tokens, keyedge_faults)))]
        const NOT_BUILT: &str = "this Worker was built without it: build it with this configuration";
        #[cfg(not(keyedge_admin))]
        if raw.admin_token_env.is_some() {
            return Err(err("admin_token_env", NOT_BUILT));
        }
        #[cfg(not(keyedge_gate))]
        if raw.gate.is_some() {
            return Err(err("gate", NOT_BUILT));
        }
        let admin_token = raw.admin_token_env.map(|name| secrets::admin_token(&name, &secrets)).transpose()?;
        let gate = raw.gate.map(|g| gate::gate(g, &issuer)).transpose()?;
        if raw.refresh_token_grace_seconds > MAX_REFRESH_TOKEN_GRACE {
            let message = format!("must be at most {MAX_REFRESH_TOKEN_GRACE} seconds (0: no grace)");
            return Err(err("refresh_token_grace_seconds", message));
        }
        if raw.refresh_token_max_reuse > MAX_REFRESH_TOKEN_REUSE {
            return Err(err("refresh_token_max_reuse", format!("must be at most {MAX_REFRESH_TOKEN_REUSE}")));
        }
        if raw.dev.storage_conformance && secure_cookies {
            // The suite writes test keys to the stores it runs against.
            return Err(err("dev.storage_conformance", "is for local development; not with an https issuer"));
        }
        #[cfg(not(keyedge_faults))]
        if raw.dev.fault_injection {
            return Err(err("dev.fault_injection", NOT_BUILT));
        }
        if raw.dev.fault_injection && secure_cookies {
            return Err(err("dev.fault_injection", "is for local development; not with an https issuer"));
        }
        let context = idp::Context {
            text,
            signing_keys: &keys.signing,
            secrets: &secrets,
            first_login_flows: &first_login_flows,
            post_login_flows: &post_login_flows,
        };
        let identity_providers = idp::identity_providers(raw.identity_providers, &context)?;
        #[cfg(not(keyedge_logout_tokens))]
        if identity_providers.iter().any(|p| matches!(&p.kind, ProviderKind::Oidc(c) if c.accept_logout_tokens)) {
            return Err(err("identity_providers.accept_logout_tokens", NOT_BUILT));
        }
        clients::check_allowed_identity_providers(&clients, &identity_providers)?;
        #[cfg(keyedge_saml)]
        clients::check_landing_clients(&clients, &identity_providers)?;
        Ok(Config {
            mount: crate::core::mount::Mount::of_issuer(&issuer),
            issuer,
            secure_cookies,
            session_lifetime: raw.session_lifetime,
            revoke_refresh_token: raw.revoke_refresh_token,
            refresh_token_max_reuse: raw.refresh_token_max_reuse,
            refresh_token_grace_seconds: raw.refresh_token_grace_seconds,
            code_lifetime: raw.code_lifetime,
            access_token_lifetime: raw.access_token_lifetime,
            id_token_lifetime: raw.id_token_lifetime,
            signing_keys: keys.signing,
            other_signing_keys: keys.other_signing,
            encryption_key: keys.encryption,
            previous_encryption_keys: keys.previous_encryption,
            mail,
            admin_token,
            gate,
            clients,
            identity_providers,
            storage_conformance: raw.dev.storage_conformance,
            fault_injection: raw.dev.fault_injection,
        })
    }

    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub fn provider(&self, alias: &str) -> Option<&IdentityProvider> {
        self.identity_providers.iter().find(|p| p.alias == alias && p.enabled)
    }

    /// The parameters of a client's authorization request that some IdP passes on
    /// (`forward_parameters`): kept with the request until the IdP is known.
    pub fn forwarded_parameter_names(&self) -> impl Iterator<Item = &str> {
        let mut seen = std::collections::HashSet::new();
        self.identity_providers
            .iter()
            .filter_map(|p| match &p.kind {
                ProviderKind::Oidc(cfg) => Some(cfg.forwarding.parameters.iter()),
                // the only kind in a Worker built with OIDC IdPs alone
                #[allow(unreachable_patterns)]
                _ => None,
            })
            .flatten()
            .map(String::as_str)
            .filter(move |n| seen.insert(*n))
    }

    /// An absolute URL under the issuer, e.g. `endpoint("/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The URL path of keyedge's page `path` (`/login`, or `/realms/acme/login` under an
    /// issuer with a path): what links, forms and redirects of keyedge's own use.
    pub fn path(&self, path: &str) -> String {
        self.mount.path(path)
    }

    /// The URL path that signs in to the account page (`/login?return_to=%2Faccount`).
    pub fn sign_in_to_account(&self) -> String {
        let account = self.path("/account");
        let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("return_to", &account).finish();
        format!("{}?{query}", self.path("/login"))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// `s` parsed as an absolute URL, or why not.
pub(crate) fn absolute_url(s: &str) -> Result<Url, String> {
    Url::parse(s).map_err(|e| match e {
        // keyedge's url has no Unicode tables (Cargo.toml, idna_adapter): hosts are ASCII.
        url::ParseError::IdnaError if !s.is_ascii() => {
            format!("`{s}` has a host name with non-ASCII letters: write it in its ASCII (`xn--`) form")
        }
        e => format!("`{s}` is not a valid URL: {e}"),
    })
}

pub(crate) fn parse_url(s: &str) -> Result<Url, String> {
    let url = absolute_url(s)?;
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
    // Whether it is https (Secure cookies, HSTS, no dev switches) is read from its first
    // characters: the scheme must be written as the URL reads it, in lower case.
    if !s.starts_with(&format!("{}://", url.scheme())) {
        return Err(err("issuer", format!("must start with `{}://`, in lower case", url.scheme())));
    }
    Ok(s.to_owned())
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

pub(crate) fn required(v: Option<String>, path: &str, f: &str) -> Result<String, ConfigError> {
    v.filter(|v| !v.is_empty()).ok_or_else(|| err(format!("{path}.{f}"), "is required"))
}

pub(crate) fn optional_url(v: Option<String>, path: &str, f: &str) -> Result<Option<Url>, ConfigError> {
    v.map(|s| parse_url(&s).map_err(|m| err(format!("{path}.{f}"), m))).transpose()
}
