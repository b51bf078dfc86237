//! `keyedge import-keycloak realm-export.json`: converts a Keycloak realm export's identity
//! providers, their mappers and its OpenID Connect clients into keyedge configuration, and
//! reports every field it cannot carry over. Secrets are never written: each becomes a
//! `*_env` name to fill with `wrangler secret put`.

use serde_json::Value;
use toml::map::Map;
use toml::Value as T;

use crate::core::upstream::presets::Preset;

mod mappers;
mod social;
use mappers::convert_mapper;
use social::{client_auth, preset_options, PRESET_CONFIG, SOCIAL};

/// The converted configuration (TOML text to append to `keyedge.toml`) and the report.
#[derive(Debug, Default)]
pub struct Conversion {
    pub toml: String,
    /// One line per thing not carried over, or needing the operator's attention.
    pub report: Vec<String>,
    /// Secret names the operator must set.
    pub secrets: Vec<String>,
    /// Identity providers not converted, each with why: the import fails unless the operator
    /// accepts that (`--allow-skipped`).
    pub skipped: Vec<String>,
    /// What must be fixed before the configuration can work (a wildcard redirect URI), each
    /// with the fix: the import fails.
    pub errors: Vec<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Keycloak keeps booleans in `config` as strings.
fn flag(v: &Value, key: &str) -> Option<bool> {
    match v.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// `MY-idp.1` → `MY_IDP_1`: a secret name from an alias.
fn env_name(prefix: &str, alias: &str, suffix: &str) -> String {
    let upper: String =
        alias.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("{prefix}{upper}{suffix}")
}

/// Keys of a Keycloak IdP `config` that keyedge reads (the rest is reported).
const OIDC_CONFIG: &[(&str, &str)] = &[
    ("clientId", "client_id"),
    ("issuer", "issuer"),
    ("authorizationUrl", "authorization_url"),
    ("tokenUrl", "token_url"),
    ("userInfoUrl", "userinfo_url"),
    ("jwksUrl", "jwks_url"),
    ("logoutUrl", "logout_url"),
    ("defaultScope", "default_scopes"),
    ("prompt", "prompt"),
    ("publicKeySignatureVerifier", "public_key_signature_verifier"),
    ("publicKeySignatureVerifierKeyId", "public_key_signature_verifier_key_id"),
];

const OIDC_FLAGS: &[(&str, &str)] = &[
    ("validateSignature", "validate_signature"),
    ("useJwksUrl", "use_jwks_url"),
    ("disableUserInfo", "disable_userinfo"),
    ("acceptsPromptNoneForwardFromClient", "accepts_prompt_none_forward"),
    ("backchannelSupported", "backchannel_logout"),
    ("pkceEnabled", "pkce_enabled"),
    ("disableNonce", "disable_nonce"),
];

/// Keycloak's switches of what is passed on to the IdP: off unless set (keyedge's defaults
/// are on), so an imported IdP gets what Keycloak sent it.
const PASS_FLAGS: &[(&str, &str)] =
    &[("loginHint", "pass_login_hint"), ("uiLocales", "pass_current_locale"), ("passMaxAge", "pass_max_age")];

/// Config keys that need no counterpart (keyedge does it always, or they are Keycloak's own
/// bookkeeping).
const IGNORED_CONFIG: &[&str] = &[
    "clientSecret",
    "clientAuthMethod",
    "clientAssertionSigningAlg",
    "syncMode",
    "guiOrder",
    "hideOnLoginPage",
    "allowedClockSkew",
    "loginHint",
    "uiLocales",
    "passMaxAge",
    "forwardParameters",
    "caseSensitiveOriginalUsername",
    "pkceMethod",
    "metadataDescriptorUrl",
];

/// One Keycloak identity provider as a keyedge `[[identity_providers]]` table. Long on purpose:
/// a pass over Keycloak's options, each carried over or reported.
fn convert_idp(idp: &Value, c: &mut Conversion) -> Option<Map<String, T>> {
    let alias = text(idp, "alias")?;
    let provider = text(idp, "providerId").unwrap_or_default();
    let config = idp.get("config").cloned().unwrap_or(Value::Null);
    let t = match provider.as_str() {
        "oidc" | "keycloak-oidc" => {
            let mut m = Map::new();
            m.insert("kind".into(), T::String("oidc".into()));
            m
        }
        other => match SOCIAL.iter().find(|(id, _)| *id == other) {
            Some((_, preset)) => {
                let mut m = Map::new();
                m.insert("kind".into(), T::String(preset.kind().into()));
                m
            }
            None => {
                let why = match other {
                    "saml" => "the importer does not convert SAML identity providers yet; configure it by hand with its metadata URL (docs/saml.md)".to_owned(),
                    _ => format!("keyedge has no kind for Keycloak's provider `{other}`"),
                };
                c.skipped.push(format!("identity provider `{alias}` (provider `{other}`): {why}"));
                return None;
            }
        },
    };
    let preset = SOCIAL.iter().find(|(id, _)| *id == provider).map(|(_, p)| *p);
    let mut out = Map::new();
    out.insert("alias".into(), T::String(alias.clone()));
    if let Some(name) = text(idp, "displayName") {
        out.insert("display_name".into(), T::String(name));
    }
    out.extend(t);
    let kind_oidc = out.get("kind").and_then(T::as_str) == Some("oidc");
    // `openid` goes with every OpenID Connect provider, presets included.
    let speaks_oidc = kind_oidc || preset.is_some_and(|p| p.base_kind() == "oidc");
    for (from, to) in [
        ("enabled", "enabled"),
        ("trustEmail", "trust_email"),
        ("storeToken", "store_tokens"),
        ("addReadTokenRoleOnCreate", "stored_tokens_readable"),
        ("linkOnly", "link_only"),
        ("authenticateByDefault", "authenticate_by_default"),
        ("hideOnLogin", "hide_on_login_page"),
    ] {
        if let Some(b) = flag(idp, from) {
            out.insert(to.into(), T::Boolean(b));
        }
    }
    if let Some(b) = flag(&config, "hideOnLoginPage") {
        out.insert("hide_on_login_page".into(), T::Boolean(b));
    }
    if let Some(order) = text(&config, "guiOrder").and_then(|o| o.parse::<i64>().ok()) {
        out.insert("gui_order".into(), T::Integer(order));
    }
    if let Some(skew) = text(&config, "allowedClockSkew").and_then(|o| o.parse::<i64>().ok()) {
        if kind_oidc {
            out.insert("allowed_clock_skew".into(), T::Integer(skew));
        }
    }
    if let Some(mode) = text(&config, "syncMode") {
        out.insert("sync_mode".into(), T::String(mode.to_lowercase()));
    }
    match text(idp, "firstBrokerLoginFlowAlias").as_deref() {
        None | Some("first broker login") => {}
        Some(other) => c.report.push(format!(
            "identity provider `{alias}`: first login flow `{other}` is a Keycloak authentication flow; define it in [[first_login_flows]] and set first_login_flow (the built-in one is used meanwhile)"
        )),
    }
    if let Some(flow) = text(idp, "postBrokerLoginFlowAlias") {
        c.report.push(format!(
            "identity provider `{alias}`: post login flow `{flow}` has no automatic equivalent; define [[post_login_flows]] if needed"
        ));
    }
    let method = text(&config, "clientAuthMethod").unwrap_or_else(|| "client_secret_basic".into());
    let method = match method.as_str() {
        "client_secret_post" | "client_secret_basic" | "client_secret_jwt" | "private_key_jwt" => method,
        other => {
            c.report.push(format!("identity provider `{alias}`: client authentication `{other}` is not supported; using client_secret_basic"));
            "client_secret_basic".into()
        }
    };
    match preset {
        Some(preset) => {
            client_auth(preset, &alias, &method, &mut out, c);
            // Facebook's addresses are trusted as the operator says (trust_email carried over).
            let refusal = preset.trust_email_refusal();
            let trusted = refusal.is_some() && out.remove("trust_email").and_then(|t| t.as_bool()) == Some(true);
            if let Some(counted) = refusal.filter(|_| trusted) {
                c.report.push(format!(
                    "identity provider `{alias}`: trust email is left off: kind = \"{}\" {counted}",
                    preset.kind()
                ));
            }
            preset_options(preset, &alias, &config, &mut out, c);
        }
        None => {
            if method != "client_secret_basic" {
                out.insert("client_auth_method".into(), T::String(method.clone()));
            }
            if method == "private_key_jwt" {
                if let Some(alg) = text(&config, "clientAssertionSigningAlg") {
                    out.insert("client_assertion_signing_alg".into(), T::String(alg));
                }
                c.report.push(format!(
                    "identity provider `{alias}`: private_key_jwt now signs with keyedge's key: register {{issuer}}/jwks as the client's JWKS URL at the IdP"
                ));
            } else {
                let name = env_name("IDP_", &alias, "_SECRET");
                out.insert("client_secret_env".into(), T::String(name.clone()));
                c.secrets.push(name);
            }
        }
    }
    if let Some(obj) = config.as_object() {
        for (key, value) in obj {
            if preset.is_some() && PRESET_CONFIG.contains(&key.as_str()) {
                continue;
            }
            if let Some((_, to)) = OIDC_CONFIG.iter().find(|(from, _)| from == key) {
                let allowed_oauth2 = ["client_id", "authorization_url", "token_url", "userinfo_url", "default_scopes"];
                if let Some(preset) = preset.filter(|_| !["client_id", "default_scopes"].contains(to)) {
                    c.report.push(format!(
                        "identity provider `{alias}`: `{key}` is not carried over: kind = \"{}\" sets it",
                        preset.kind()
                    ));
                    continue;
                }
                if preset.is_none() && !kind_oidc && !allowed_oauth2.contains(to) {
                    c.report
                        .push(format!("identity provider `{alias}`: `{key}` does not apply to an OAuth 2.0 provider"));
                    continue;
                }
                if let Some(v) = value.as_str().filter(|v| !v.is_empty()) {
                    let v = if *to == "default_scopes" && speaks_oidc && !v.split(' ').any(|s| s == "openid") {
                        // Keycloak always adds `openid`.
                        format!("openid {v}")
                    } else if *to == "default_scopes"
                        && preset == Some(Preset::GitHub)
                        && !v.split(' ').any(|s| s == "user:email" || s == "user")
                    {
                        // keyedge reads GitHub's address list, which needs `user:email`.
                        format!("{v} user:email")
                    } else {
                        v.to_owned()
                    };
                    out.insert((*to).into(), T::String(v));
                }
            } else if let Some((_, to)) = OIDC_FLAGS.iter().find(|(from, _)| from == key) {
                match (preset, flag(&config, key)) {
                    (None, Some(b)) if kind_oidc => {
                        out.insert((*to).into(), T::Boolean(b));
                    }
                    // A shared option.
                    (Some(_), Some(b)) if *to == "pkce_enabled" => {
                        out.insert((*to).into(), T::Boolean(b));
                    }
                    // What the preset does anyway.
                    (Some(_), Some(true)) if ["validate_signature", "use_jwks_url"].contains(to) => {}
                    (Some(preset), Some(_)) => c.report.push(format!(
                        "identity provider `{alias}`: `{key}` is not carried over: kind = \"{}\" sets it",
                        preset.kind()
                    )),
                    _ => {}
                }
            } else if !IGNORED_CONFIG.contains(&key.as_str()) {
                c.report.push(format!("identity provider `{alias}`: config `{key}` is not carried over"));
            }
        }
    }
    if kind_oidc {
        for (key, to) in PASS_FLAGS {
            if flag(&config, key) != Some(true) {
                out.insert((*to).into(), T::Boolean(false));
            }
        }
        forward_parameters(&alias, &config, &mut out, c);
    } else if let Some(preset) = preset {
        if PASS_FLAGS.iter().any(|(key, _)| flag(&config, key) == Some(true))
            || text(&config, "forwardParameters").is_some()
        {
            c.report.push(format!(
                "identity provider `{alias}`: what is passed on to the provider (login_hint, locale, max_age, forwarded parameters) is kind = \"{}\"'s own",
                preset.kind()
            ));
        }
    }
    if flag(&config, "caseSensitiveOriginalUsername") == Some(true) {
        out.insert("case_sensitive_usernames".into(), T::Boolean(true));
    }
    // Keycloak's "Backchannel logout" (`backchannelSupported`) is keyedge's `backchannel_logout`:
    // the IdP's logout URL is called server to server. Keycloak also takes an OIDC IdP's logout
    // tokens at the realm's back-channel logout URL whenever it validates their signature;
    // keyedge does with `accept_logout_tokens` — set where Keycloak would take them.
    if out.get("validate_signature").and_then(T::as_bool) == Some(false) {
        c.report.push(format!(
            "identity provider `{alias}`: logout tokens from it are not accepted, since it does not validate \
             signatures (a logout token anyone can post is only as good as its signature)"
        ));
    } else if out.get("kind").and_then(T::as_str) == Some("oidc") {
        out.insert("accept_logout_tokens".into(), T::Boolean(true));
    }
    // Keycloak's `prompt` "unspecified" and the Keycloak "login" logout URL defaults.
    if out.get("prompt").and_then(T::as_str).is_some_and(|p| p == "unspecified") {
        out.remove("prompt");
    }
    if out.contains_key("logout_url") {
        out.insert("upstream_logout".into(), T::Boolean(true));
    }
    if out.contains_key("public_key_signature_verifier") && !out.contains_key("use_jwks_url") {
        out.insert("use_jwks_url".into(), T::Boolean(false));
    }
    if kind_oidc && !out.contains_key("issuer") {
        c.report.push(format!("identity provider `{alias}`: no issuer in the export; set `issuer` before deploying"));
    }
    Some(out)
}

/// Keycloak's `forwardParameters` (comma-separated) as `forward_parameters`, without those
/// keyedge sets itself.
fn forward_parameters(alias: &str, config: &Value, out: &mut Map<String, T>, c: &mut Conversion) {
    use crate::core::upstream::oidc::config::UNFORWARDABLE;
    let Some(list) = text(config, "forwardParameters") else {
        return;
    };
    let mut names = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if UNFORWARDABLE.contains(&name) {
            c.report
                .push(format!("identity provider `{alias}`: forwarded parameter `{name}` is keyedge's own (left out)"));
        } else {
            names.push(T::String(name.to_owned()));
        }
    }
    if !names.is_empty() {
        out.insert("forward_parameters".into(), T::Array(names));
    }
}

/// One Keycloak client as a keyedge `[[clients]]` table. Long on purpose, like
/// [`convert_idp`]: a pass over Keycloak's client options, each carried over or reported.
fn convert_client(cl: &Value, c: &mut Conversion) -> Option<Map<String, T>> {
    let id = text(cl, "clientId")?;
    if text(cl, "protocol").is_some_and(|p| p != "openid-connect") {
        c.report.push(format!(
            "client `{id}`: protocol {} is not supported (skipped)",
            text(cl, "protocol").unwrap_or_default()
        ));
        return None;
    }
    let mut t = Map::new();
    t.insert("client_id".into(), T::String(id.clone()));
    // A bearer-only client is an API: it signs no one in, and introspects the tokens it is
    // sent with its own secret — keyedge's `resource_server`.
    if flag(cl, "bearerOnly") == Some(true) {
        let name = env_name("CLIENT_", &id, "_SECRET");
        t.insert("client_secret_env".into(), T::String(name.clone()));
        c.secrets.push(name);
        t.insert("grant_types".into(), T::Array(Vec::new()));
        t.insert("resource_server".into(), T::Boolean(true));
        c.report.push(format!(
            "client `{id}`: bearer-only, so a resource server: it may introspect every client's tokens (resource_server = true)"
        ));
        return Some(t);
    }
    if let Some(name) = text(cl, "name").filter(|n| !n.starts_with("${")) {
        t.insert("name".into(), T::String(name));
    }
    if flag(cl, "publicClient") != Some(true) {
        let name = env_name("CLIENT_", &id, "_SECRET");
        t.insert("client_secret_env".into(), T::String(name.clone()));
        c.secrets.push(name);
    }
    let uris: Vec<T> = cl
        .get("redirectUris")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|u| {
            let wildcard = u.contains('*');
            if wildcard {
                c.errors.push(format!(
                    "client `{id}`: redirect URI `{u}` has a wildcard, which keyedge never matches (RFC 9700 §2.1: exact \
                     matching only); fix: replace it in redirect_uris with each URI the app really sends, e.g. `{}`",
                    u.replace("/*", "/callback").replace('*', "")
                ));
            }
            !wildcard
        })
        .map(|u| T::String(u.into()))
        .collect();
    if !uris.is_empty() {
        t.insert("redirect_uris".into(), T::Array(uris));
    }
    let attrs = cl.get("attributes").cloned().unwrap_or(Value::Null);
    if let Some(list) = text(&attrs, "post.logout.redirect.uris") {
        let uris: Vec<T> =
            list.split("##").filter(|u| !u.is_empty() && *u != "+").map(|u| T::String(u.into())).collect();
        if !uris.is_empty() {
            t.insert("post_logout_redirect_uris".into(), T::Array(uris));
        }
    }
    if let Some(url) = text(&attrs, "backchannel.logout.url") {
        t.insert("backchannel_logout_uri".into(), T::String(url));
    }
    let mut grants = Vec::new();
    if flag(cl, "standardFlowEnabled") != Some(false) {
        grants.push(T::String("authorization_code".into()));
        grants.push(T::String("refresh_token".into()));
    }
    if flag(cl, "serviceAccountsEnabled") == Some(true) {
        grants.push(T::String("client_credentials".into()));
    }
    if flag(cl, "implicitFlowEnabled") == Some(true) {
        c.report.push(format!(
            "client `{id}`: the implicit flow is not offered (OAuth 2.0 Security BCP); use the code flow"
        ));
    }
    if flag(cl, "directAccessGrantsEnabled") == Some(true) {
        c.report.push(format!("client `{id}`: direct access grants (password) are not offered"));
    }
    t.insert("grant_types".into(), T::Array(grants));
    if let Some(scopes) = allowed_scopes(cl) {
        t.insert("allowed_scopes".into(), T::Array(scopes.into_iter().map(T::String).collect()));
    } else {
        c.report.push(format!(
            "client `{id}`: the export lists no client scopes; it gets keyedge's defaults, without `offline_access` \
             (add it to `allowed_scopes` if the client uses offline tokens)"
        ));
    }
    for (attribute, field, what) in [
        ("id.token.signed.response.alg", "id_token_signed_response_alg", "ID token"),
        ("access.token.signed.response.alg", "access_token_signed_response_alg", "access token"),
    ] {
        let Some(alg) = text(&attrs, attribute).filter(|a| !a.is_empty()) else { continue };
        if ["RS256", "ES256", "EdDSA"].contains(&alg.as_str()) {
            if alg != "RS256" {
                let key = if alg == "ES256" { "es256_signing_key_env" } else { "eddsa_signing_key_env" };
                c.report
                    .push(format!("client `{id}`: signs {what}s with {alg}: set `{key}` at the top of keyedge.toml"));
            }
            t.insert(field.into(), T::String(alg));
        } else {
            c.report.push(format!("client `{id}`: {what} algorithm {alg} is not supported; RS256 is used"));
            t.insert(field.into(), T::String("RS256".into()));
        }
    }
    Some(t)
}

/// The scopes a client may be granted: `openid` and those of its default and optional client
/// scopes that keyedge knows (Keycloak gives every client `offline_access` as an optional
/// scope; keyedge grants it only where it is listed). `None` when the export lists neither.
fn allowed_scopes(cl: &Value) -> Option<Vec<String>> {
    let listed: Vec<&str> = ["defaultClientScopes", "optionalClientScopes"]
        .iter()
        .filter_map(|key| cl.get(*key).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if cl.get("defaultClientScopes").is_none() && cl.get("optionalClientScopes").is_none() {
        return None;
    }
    let known = ["profile", "email", "address", "phone", "offline_access"];
    let mut scopes = vec!["openid".to_owned()];
    scopes.extend(known.iter().filter(|k| listed.contains(k)).map(|k| k.to_string()));
    Some(scopes)
}

/// The realm's refresh-token policy (`revokeRefreshToken`, `refreshTokenMaxReuse`), as
/// top-level settings. keyedge rotates refresh tokens unless told not to, where Keycloak does
/// not by default: a realm without rotation is not copied, it is reported, so an import never
/// turns reuse detection off.
fn convert_refresh_policy(realm: &Value, doc: &mut Map<String, T>, c: &mut Conversion) {
    const MAX_REUSE: u64 = 100;
    if flag(realm, "revokeRefreshToken") != Some(true) {
        c.report.push(
            "realm: revokeRefreshToken is off, Keycloak's default; keyedge keeps rotating refresh tokens \
             (revoke_refresh_token = true, with a grace of refresh_token_grace_seconds = 5 for concurrent \
             refreshes): set revoke_refresh_token = false to keep one token per grant as Keycloak did"
                .into(),
        );
        return;
    }
    doc.insert("revoke_refresh_token".into(), T::Boolean(true));
    let reuse = realm.get("refreshTokenMaxReuse").and_then(Value::as_u64).unwrap_or(0);
    if reuse > 0 {
        if reuse > MAX_REUSE {
            c.report.push(format!(
                "realm: refreshTokenMaxReuse {reuse} is above keyedge's {MAX_REUSE}; {MAX_REUSE} is used"
            ));
        }
        doc.insert("refresh_token_max_reuse".into(), T::Integer(reuse.min(MAX_REUSE) as i64));
    }
    c.report.push(
        "realm: revokeRefreshToken and refreshTokenMaxReuse became revoke_refresh_token and \
         refresh_token_max_reuse (top-level settings: place them above the first table of keyedge.toml); \
         keyedge adds a grace of refresh_token_grace_seconds = 5 for concurrent refreshes (0: strict, as Keycloak)"
            .into(),
    );
}

/// Keycloak's own clients, present in every realm export.
const BUILTIN_CLIENTS: &[&str] =
    &["account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"];

/// Keycloak's realm settings (RealmRepresentation) that keyedge has at its top level: token and
/// session lifespans in seconds. Settings keyedge has no counterpart for are reported.
fn realm_settings(realm: &Value, c: &mut Conversion) -> Map<String, T> {
    let mut out = Map::new();
    let seconds = |key: &str| realm.get(key).and_then(Value::as_i64).filter(|s| *s > 0);
    for (from, to) in [
        ("accessTokenLifespan", "access_token_lifetime"),
        // Keycloak's ID tokens live as long as its access tokens.
        ("accessTokenLifespan", "id_token_lifetime"),
        ("accessCodeLifespan", "code_lifetime"),
        ("ssoSessionMaxLifespan", "session_lifetime"),
    ] {
        if let Some(s) = seconds(from) {
            out.insert(to.into(), T::Integer(s));
        }
    }
    if let Some(idle) = seconds("ssoSessionIdleTimeout") {
        c.report.push(format!(
            "realm: SSO session idle timeout ({idle} s): keyedge sessions end after session_lifetime, not when idle \
             (an idle clock would write storage on every request at the edge)"
        ));
    }
    if let Some(max) =
        seconds("offlineSessionMaxLifespan").filter(|_| flag(realm, "offlineSessionMaxLifespanEnabled") == Some(true))
    {
        c.report.push(format!(
            "realm: offline session max lifespan ({max} s): set offline_token_lifetime on the clients that use offline_access"
        ));
    }
    out
}

/// Converts a realm export (JSON text).
pub fn convert(export: &str) -> Result<Conversion, String> {
    let realm: Value = serde_json::from_str(export).map_err(|e| format!("not a JSON realm export: {e}"))?;
    let mut c = Conversion::default();
    let mut doc = realm_settings(&realm, &mut c);
    let mut idps: Vec<Map<String, T>> = Vec::new();
    for idp in realm.get("identityProviders").and_then(Value::as_array).into_iter().flatten() {
        if let Some(t) = convert_idp(idp, &mut c) {
            idps.push(t);
        }
    }
    for m in realm.get("identityProviderMappers").and_then(Value::as_array).into_iter().flatten() {
        if let Some((alias, mapper)) = convert_mapper(m, &mut c) {
            match idps.iter_mut().find(|i| i.get("alias").and_then(T::as_str) == Some(alias.as_str())) {
                Some(idp) => {
                    let list = idp.entry("mappers").or_insert_with(|| T::Array(Vec::new()));
                    if let T::Array(a) = list {
                        a.push(T::Table(mapper));
                    }
                }
                None => {
                    c.report.push(format!("mapper of `{alias}`: that identity provider was not converted (skipped)"))
                }
            }
        }
    }
    let mut clients = Vec::new();
    for cl in realm.get("clients").and_then(Value::as_array).into_iter().flatten() {
        if text(cl, "clientId").is_some_and(|id| BUILTIN_CLIENTS.contains(&id.as_str())) {
            continue;
        }
        if let Some(t) = convert_client(cl, &mut c) {
            clients.push(T::Table(t));
        }
    }
    convert_refresh_policy(&realm, &mut doc, &mut c);
    if !clients.is_empty() {
        doc.insert("clients".into(), T::Array(clients));
    }
    if !idps.is_empty() {
        doc.insert("identity_providers".into(), T::Array(idps.into_iter().map(T::Table).collect()));
    }
    c.toml = toml::to_string(&T::Table(doc)).map_err(|e| format!("could not write TOML: {e}"))?;
    Ok(c)
}
