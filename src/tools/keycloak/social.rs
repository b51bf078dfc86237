//! Keycloak's social providers as keyedge's presets: which provider id becomes which `kind`,
//! and the options of each that carry over.

use serde_json::Value;
use toml::map::Map;
use toml::Value as T;

use super::{env_name, flag, text, Conversion};
use crate::core::upstream::presets::Preset;

/// Keycloak's social provider ids and keyedge's preset for each.
pub(super) const SOCIAL: &[(&str, Preset)] = &[
    ("google", Preset::Google),
    ("github", Preset::GitHub),
    ("gitlab", Preset::GitLab),
    ("microsoft", Preset::Microsoft),
    ("linkedin-openid-connect", Preset::LinkedIn),
    // Keycloak has no Discord provider (a community extension's id is `discord`).
    ("discord", Preset::Discord),
    ("bitbucket", Preset::Bitbucket),
    ("facebook", Preset::Facebook),
    // Keycloak's Twitter provider signs in with OAuth 1.0a; kind = "x" with OAuth 2.0.
    ("twitter", Preset::X),
    ("stackoverflow", Preset::StackOverflow),
    // Keycloak has no Apple provider either (the community extensions' id is `apple`).
    ("apple", Preset::Apple),
];

/// Config keys of Keycloak's social providers that [`preset_options`] reads.
pub(super) const PRESET_CONFIG: &[&str] = &[
    "hostedDomain",
    "offlineAccess",
    "userIp",
    "baseUrl",
    "apiUrl",
    "tenantId",
    "fetchedFields",
    "key",
    "teamId",
    "keyId",
    "p8Content",
];

/// The options of Keycloak's social provider `preset` that keyedge's preset takes (Keycloak's
/// GoogleIdentityProviderFactory and GitHubIdentityProviderFactory config properties).
pub(super) fn preset_options(
    preset: Preset,
    alias: &str,
    config: &Value,
    out: &mut Map<String, T>,
    c: &mut Conversion,
) {
    match preset {
        Preset::Google => {
            if let Some(domains) = text(config, "hostedDomain") {
                let mut list = domains.split(',').map(str::trim).filter(|d| !d.is_empty());
                if let Some(first) = list.next() {
                    out.insert("hd".into(), T::String(first.to_owned()));
                }
                if list.next().is_some() {
                    c.report.push(format!(
                        "identity provider `{alias}`: hosted domains `{domains}`: keyedge takes one domain (or `*`); only the first is carried over"
                    ));
                }
            }
            if flag(config, "offlineAccess") == Some(true) && out.get("store_tokens").and_then(T::as_bool) != Some(true)
            {
                c.report.push(format!(
                    "identity provider `{alias}`: offline access: keyedge asks Google for it (access_type=offline) whenever store_tokens = true"
                ));
            }
            if text(config, "userIp").is_some() {
                c.report.push(format!("identity provider `{alias}`: config `userIp` is not carried over"));
            }
        }
        Preset::GitHub => {
            let base = text(config, "baseUrl").map(|b| b.trim_end_matches('/').to_owned());
            let base = base.filter(|b| b != "https://github.com");
            if let Some(api) = text(config, "apiUrl").map(|a| a.trim_end_matches('/').to_owned()) {
                let expected =
                    base.as_ref().map_or_else(|| "https://api.github.com".to_owned(), |b| format!("{b}/api/v3"));
                if api != expected {
                    c.report.push(format!(
                        "identity provider `{alias}`: API URL `{api}`: keyedge uses `{expected}` (base_url + /api/v3 for GitHub Enterprise Server)"
                    ));
                }
            }
            if let Some(base) = base {
                out.insert("base_url".into(), T::String(base));
            }
        }
        Preset::GitLab | Preset::LinkedIn | Preset::Discord | Preset::Bitbucket => {}
        // FacebookIdentityProviderConfig's `fetchedFields`: more fields of `/me`.
        Preset::Facebook => {
            if let Some(fields) = text(config, "fetchedFields") {
                c.report.push(format!(
                    "identity provider `{alias}`: fetched fields `{fields}` are not carried over: kind = \"facebook\" reads id, name, email, first_name, last_name and picture"
                ));
            }
        }
        // Keycloak's Twitter provider is OAuth 1.0a: its client id and secret are the app's
        // API key and secret, which X's OAuth 2.0 does not take.
        Preset::X => c.report.push(format!(
            "identity provider `{alias}`: Keycloak signs in to Twitter with OAuth 1.0a; kind = \"x\" uses OAuth 2.0: replace client_id with the app's OAuth 2.0 Client ID and the secret with its Client Secret (X developer portal, User authentication settings, type Web App), and register {{issuer}}/broker/{alias}/endpoint as its callback"
        )),
        // StackoverflowIdentityProviderConfig's `key`.
        Preset::StackOverflow => match text(config, "key") {
            Some(key) => {
                out.insert("key".into(), T::String(key));
            }
            None => c.report.push(format!(
                "identity provider `{alias}`: no `key`: set key to the app's Key from Stack Apps"
            )),
        },
        // The extensions' `teamId` and `keyId` (klausbetz/apple-identity-provider-keycloak).
        Preset::Apple => {
            for (from, to) in [("teamId", "team_id"), ("keyId", "key_id")] {
                if let Some(v) = text(config, from) {
                    out.insert(to.into(), T::String(v));
                }
            }
        }
        // MicrosoftIdentityProviderConfig's `tenantId` (blank: `common`).
        Preset::Microsoft => {
            if let Some(tenant) = text(config, "tenantId").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
                out.insert("tenant".into(), T::String(tenant));
            }
        }
    }
}

/// How the preset authenticates, the way its provider documents: the client secret (in the
/// body, or in HTTP Basic for Bitbucket), or for Apple a key that signs one.
pub(super) fn client_auth(preset: Preset, alias: &str, method: &str, out: &mut Map<String, T>, c: &mut Conversion) {
    if preset == Preset::Apple {
        let name = env_name("IDP_", alias, "_KEY");
        c.report.push(format!(
            "identity provider `{alias}`: the .p8 key (the extension's `p8Content`) goes in the secret {name}; kind = \"apple\" signs its client secret with it"
        ));
        out.insert("private_key_env".into(), T::String(name.clone()));
        c.secrets.push(name);
        return;
    }
    if !["client_secret_basic", "client_secret_post"].contains(&method) {
        c.report.push(format!(
            "identity provider `{alias}`: client authentication `{method}`: kind = \"{}\" sends the client secret; set client_secret_env",
            preset.kind()
        ));
    }
    let name = env_name("IDP_", alias, "_SECRET");
    out.insert("client_secret_env".into(), T::String(name.clone()));
    c.secrets.push(name);
}
