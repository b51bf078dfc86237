//! Identity providers: the options every kind shares, and each kind's own.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::HashSet;
use std::fmt;

use super::flows::{FirstLoginFlow, PostLoginFlow, DEFAULT_FIRST_LOGIN_FLOW};
use super::mappers::{mapper, Mapper, RawMapper};
use super::secrets::Secrets;
use super::table::{keys_of, split, KindOptions, Rest};
#[cfg(keyedge_oauth2)]
use super::OAuth2Provider;
use super::{default_true, domains, err, parse_url, ConfigError, OidcProvider};
use crate::core::jose::Alg;
use crate::core::ports::{Http, WithTimeout};
use crate::core::secret::Secret;
#[cfg(keyedge_presets)]
use crate::core::upstream::client_config::RawOAuthClient;
use crate::core::upstream::oidc::config as oidc;
use crate::core::upstream::plain_oauth2::config as plain_oauth2;
use crate::core::upstream::presets::Preset;
#[cfg(keyedge_presets)]
use crate::core::upstream::presets::{
    apple, bitbucket, discord, facebook, github, gitlab, google, linkedin, microsoft, stackoverflow, x,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawKind {
    Oidc,
    Oauth2,
    Github,
    Google,
    Gitlab,
    Microsoft,
    Linkedin,
    Discord,
    Bitbucket,
    Facebook,
    #[serde(alias = "twitter")]
    X,
    Stackoverflow,
    Apple,
    Saml,
}

/// One `[[identity_providers]]` table: the options every kind shares, read in a first pass,
/// and the rest, read into the kind's own raw struct (which refuses an option it does not
/// take) when the provider is built.
#[derive(Debug)]
pub(super) struct RawIdentityProvider {
    shared: RawShared,
    rest: Rest,
}

impl<'de> Deserialize<'de> for RawIdentityProvider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = RawIdentityProvider;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an identity provider table")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let (shared, rest) = split(map)?;
                Ok(RawIdentityProvider { shared, rest })
            }
        }
        deserializer.deserialize_map(Table)
    }
}

/// The options every kind of identity provider takes. No `deny_unknown_fields`: the first pass
/// hands it only these keys, and the kind's struct refuses what is left over.
#[derive(Debug, Deserialize)]
struct RawShared {
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
    #[serde(default = "default_http_timeout")]
    http_timeout: u64,
    #[serde(default)]
    case_sensitive_usernames: bool,
}

/// Seconds keyedge waits for an IdP's answer to one server-to-server request.
pub const DEFAULT_HTTP_TIMEOUT: u64 = 5;
/// The longest `http_timeout`: a browser waits for the whole callback.
pub const MAX_HTTP_TIMEOUT: u64 = 30;

fn default_http_timeout() -> u64 {
    DEFAULT_HTTP_TIMEOUT
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

#[derive(Debug, Clone)]
// Without OAuth 2.0 IdPs in a Worker (build.rs), OIDC's is much the largest variant; the
// providers are a configuration's few, made once per isolate, so it stays unboxed.
#[cfg_attr(not(keyedge_oauth2), allow(clippy::large_enum_variant))]
pub enum ProviderKind {
    Oidc(OidcProvider),
    /// In the Worker only for a configuration with a `kind = "oauth2"` or preset IdP (build.rs).
    #[cfg(keyedge_oauth2)]
    OAuth2(OAuth2Provider),
    /// A SAML 2.0 IdP (Box: it is much larger than the others).
    #[cfg(keyedge_saml)]
    Saml(Box<crate::core::upstream::saml::config::SamlProvider>),
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
    /// The social login preset it was configured as (`kind = "github"`, …), if any: its
    /// settings are in `kind`; this names its brand (icon, default label).
    pub preset: Option<Preset>,
    /// Seconds to wait for each server-to-server request to this IdP (discovery, keys, token,
    /// userinfo) before the sign-in fails with a readable page.
    pub http_timeout: u64,
    /// Keep the IdP's username as it wrote it (else lower-cased, as Keycloak does).
    pub case_sensitive_usernames: bool,
}

impl IdentityProvider {
    /// `http` with this IdP's `http_timeout` on every request.
    pub fn http<'a>(&self, http: &'a dyn Http) -> WithTimeout<'a> {
        WithTimeout { http, seconds: self.http_timeout }
    }
}

fn is_url_safe_alias(alias: &str) -> bool {
    (1..=64).contains(&alias.len()) && alias.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// What building a provider needs from the rest of the configuration.
pub(super) struct Context<'a> {
    /// The configuration text, for line numbers.
    pub(super) text: &'a str,
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
        if !is_url_safe_alias(&p.shared.alias) {
            return Err(err(format!("{path}.alias"), "must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'"));
        }
        if !aliases.insert(p.shared.alias.clone()) {
            return Err(err(
                format!("{path}.alias"),
                format!("`{}` is used by another identity provider", p.shared.alias),
            ));
        }
        identity_providers.push(provider(p, &path, context)?);
    }
    identity_providers.sort_by(|a, b| a.gui_order.cmp(&b.gui_order).then_with(|| a.alias.cmp(&b.alias)));
    Ok(identity_providers)
}

fn provider(raw: RawIdentityProvider, path: &str, context: &Context) -> Result<IdentityProvider, ConfigError> {
    let RawIdentityProvider { shared: p, rest } = raw;
    // Each kind's options, to name the kind an option given to another one belongs to.
    let (oidc_keys, oauth2_keys) = (keys_of::<oidc::RawOidc>(), keys_of::<plain_oauth2::RawOAuth2>());
    #[cfg(keyedge_saml)]
    let kinds = [
        ("oidc", oidc_keys),
        ("oauth2", oauth2_keys),
        ("saml", keys_of::<crate::core::upstream::saml::config::RawSaml>()),
    ];
    #[cfg(not(keyedge_saml))]
    let kinds = [("oidc", oidc_keys), ("oauth2", oauth2_keys)];
    #[cfg(keyedge_presets)]
    let client_keys = keys_of::<RawOAuthClient>();
    let (signing_keys, secrets) = (context.signing_keys, context.secrets);
    let options = |kind: &'static str| KindOptions::new(rest, path, context.text, kind, &kinds);
    let (kind, preset): (ProviderKind, Option<Preset>) = match p.kind {
        RawKind::Oidc => (ProviderKind::Oidc(oidc::provider(options("oidc"), signing_keys, secrets)?), None),
        #[cfg(keyedge_oauth2)]
        RawKind::Oauth2 => {
            (ProviderKind::OAuth2(plain_oauth2::provider(options("oauth2"), signing_keys, secrets)?), None)
        }
        #[cfg(not(keyedge_oauth2))]
        RawKind::Oauth2 => {
            return Err(err(
                format!("{path}.kind"),
                "this Worker was built without OAuth 2.0 identity providers: build it with this configuration",
            ));
        }
        #[cfg(keyedge_presets)]
        RawKind::Github => {
            let options = options("github").preset_of("oauth2", &[client_keys, oauth2_keys]);
            (ProviderKind::OAuth2(github::provider(options, secrets)?), Some(Preset::GitHub))
        }
        #[cfg(keyedge_presets)]
        RawKind::Google => {
            let options = options("google").preset_of("oidc", &[client_keys, oidc_keys]);
            (ProviderKind::Oidc(google::provider(options, secrets, p.store_tokens)?), Some(Preset::Google))
        }
        #[cfg(keyedge_presets)]
        RawKind::Gitlab => {
            let options = options("gitlab").preset_of("oidc", &[client_keys, oidc_keys]);
            (ProviderKind::Oidc(gitlab::provider(options, secrets)?), Some(Preset::GitLab))
        }
        #[cfg(keyedge_presets)]
        RawKind::Microsoft => {
            let options = options("microsoft").preset_of("oidc", &[client_keys, oidc_keys]);
            (ProviderKind::Oidc(microsoft::provider(options, secrets, p.store_tokens)?), Some(Preset::Microsoft))
        }
        #[cfg(keyedge_presets)]
        RawKind::Linkedin => {
            let options = options("linkedin").preset_of("oidc", &[client_keys, oidc_keys]);
            (ProviderKind::Oidc(linkedin::provider(options, secrets)?), Some(Preset::LinkedIn))
        }
        #[cfg(keyedge_presets)]
        RawKind::Discord => {
            let options = options("discord").preset_of("oauth2", &[client_keys, oauth2_keys]);
            (ProviderKind::OAuth2(discord::provider(options, secrets)?), Some(Preset::Discord))
        }
        #[cfg(keyedge_presets)]
        RawKind::Bitbucket => {
            let options = options("bitbucket").preset_of("oauth2", &[client_keys, oauth2_keys]);
            (ProviderKind::OAuth2(bitbucket::provider(options, secrets)?), Some(Preset::Bitbucket))
        }
        #[cfg(keyedge_presets)]
        RawKind::Facebook => {
            let options = options("facebook").preset_of("oauth2", &[client_keys, oauth2_keys]);
            (ProviderKind::OAuth2(facebook::provider(options, secrets)?), Some(Preset::Facebook))
        }
        #[cfg(keyedge_presets)]
        RawKind::X => {
            let options = options("x").preset_of("oauth2", &[client_keys, oauth2_keys]);
            (ProviderKind::OAuth2(x::provider(options, secrets, p.store_tokens)?), Some(Preset::X))
        }
        #[cfg(keyedge_presets)]
        RawKind::Stackoverflow => {
            let options = options("stackoverflow").preset_of("oauth2", &[client_keys, oauth2_keys]);
            (ProviderKind::OAuth2(stackoverflow::provider(options, secrets)?), Some(Preset::StackOverflow))
        }
        #[cfg(keyedge_presets)]
        RawKind::Apple => {
            let options = options("apple").preset_of("oidc", &[client_keys, oidc_keys]);
            (ProviderKind::Oidc(apple::provider(options, secrets)?), Some(Preset::Apple))
        }
        // The social presets are compiled into the Worker only for a configuration that uses
        // one (build.rs); natively always.
        #[cfg(not(keyedge_presets))]
        RawKind::Github
        | RawKind::Google
        | RawKind::Gitlab
        | RawKind::Microsoft
        | RawKind::Linkedin
        | RawKind::Discord
        | RawKind::Bitbucket
        | RawKind::Facebook
        | RawKind::X
        | RawKind::Stackoverflow
        | RawKind::Apple => {
            return Err(err(
                format!("{path}.kind"),
                "this Worker was built without the social presets: build it with this configuration",
            ));
        }
        #[cfg(keyedge_saml)]
        RawKind::Saml => {
            if p.store_tokens {
                return Err(err(format!("{path}.store_tokens"), "a SAML identity provider issues no tokens to store"));
            }
            let saml = crate::core::upstream::saml::config::provider(options("saml"), secrets)?;
            (ProviderKind::Saml(Box::new(saml)), None)
        }
        #[cfg(not(keyedge_saml))]
        RawKind::Saml => {
            return Err(err(format!("{path}.kind"), "this keyedge was built without SAML (cargo feature `saml`; the Worker has it only when its embedded configuration has a SAML identity provider)"));
        }
    };
    if let (Some(preset), true) = (preset, p.trust_email) {
        if let Some(counted) = preset.trust_email_refusal() {
            return Err(err(format!("{path}.trust_email"), format!("kind = \"{}\" {counted}", preset.kind())));
        }
    }
    if let Some(preset) = preset.filter(|p| p.requires_pkce()) {
        if !p.pkce_enabled {
            return Err(err(
                format!("{path}.pkce_enabled"),
                format!("{} requires PKCE: kind = \"{}\" always sends it", preset.display_name(), preset.kind()),
            ));
        }
    }
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
    if !(1..=MAX_HTTP_TIMEOUT).contains(&p.http_timeout) {
        return Err(err(format!("{path}.http_timeout"), format!("must be 1 to {MAX_HTTP_TIMEOUT} seconds")));
    }
    if p.link_only && p.authenticate_by_default {
        return Err(err(format!("{path}.authenticate_by_default"), "a link_only provider cannot sign anyone in"));
    }
    Ok(IdentityProvider {
        display_name: p
            .display_name
            .unwrap_or_else(|| preset.map_or_else(|| p.alias.clone(), |preset| preset.display_name().to_owned())),
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
        pkce_enabled: p.pkce_enabled && preset.is_none_or(Preset::takes_pkce),
        unproven_step_up: p.unproven_step_up,
        first_login_flow,
        post_login_flow,
        mappers,
        kind,
        preset,
        http_timeout: p.http_timeout,
        case_sensitive_usernames: p.case_sensitive_usernames,
    })
}

/// Where a login the IdP started (an unsolicited `Response`) lands.
/// Read through [`LandingWire`] ([`crate::core::wire`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "to", rename_all = "snake_case", try_from = "LandingWire")]
pub enum Landing {
    /// The client's `initiate_login_uri` (OIDC Core §4), which begins its own authorization
    /// request and finds the user signed in.
    Client { client_id: String },
    /// A path on keyedge's origin: the gated site, or the account page.
    Page { path: String },
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum LandingTo {
    Client,
    Page,
}

/// Every field of every [`Landing`].
#[derive(serde::Deserialize)]
struct LandingWire {
    to: LandingTo,
    client_id: Option<String>,
    path: Option<String>,
}

impl TryFrom<LandingWire> for Landing {
    type Error = String;

    fn try_from(w: LandingWire) -> Result<Self, String> {
        use crate::core::wire::needed;
        Ok(match w.to {
            LandingTo::Client => Landing::Client { client_id: needed(w.client_id, "client_id")? },
            LandingTo::Page => Landing::Page { path: needed(w.path, "path")? },
        })
    }
}
