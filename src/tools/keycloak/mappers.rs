//! Keycloak's identity provider mappers as keyedge's `[[identity_providers.mappers]]`.

use serde_json::Value;
use toml::map::Map;
use toml::Value as T;

use super::{flag, text, Conversion};

/// Keycloak's `claims` of an advanced mapper (a JSON list of `{key, value}`, as a string).
fn advanced_claims(cfg: &Value) -> Option<T> {
    let raw: Value = serde_json::from_str(&text(cfg, "claims")?).ok()?;
    let claims: Vec<T> = raw
        .as_array()?
        .iter()
        .filter_map(|c| {
            let mut t = Map::new();
            t.insert("claim".into(), T::String(text(c, "key")?));
            t.insert("value".into(), T::String(text(c, "value")?));
            Some(T::Table(t))
        })
        .collect();
    (!claims.is_empty()).then_some(T::Array(claims))
}

pub(super) fn convert_mapper(m: &Value, c: &mut Conversion) -> Option<(String, Map<String, T>)> {
    let name = text(m, "name").unwrap_or_default();
    let alias = text(m, "identityProviderAlias")?;
    let kind = text(m, "identityProviderMapper").unwrap_or_default();
    let cfg = m.get("config").cloned().unwrap_or(Value::Null);
    let mut t = Map::new();
    t.insert("name".into(), T::String(name.clone()));
    let put = |t: &mut Map<String, T>, k: &str, v: Option<String>| {
        if let Some(v) = v {
            t.insert(k.into(), T::String(v));
        }
    };
    match kind.as_str() {
        "hardcoded-role-idp-mapper" => {
            t.insert("kind".into(), T::String("hardcoded_role".into()));
            put(&mut t, "role", text(&cfg, "role"));
        }
        "hardcoded-attribute-idp-mapper" => {
            t.insert("kind".into(), T::String("hardcoded_attribute".into()));
            put(&mut t, "attribute", text(&cfg, "attribute"));
            put(&mut t, "value", text(&cfg, "attribute.value"));
        }
        "oidc-user-attribute-idp-mapper" | "github-user-attribute-mapper" | "google-user-attribute-mapper" => {
            t.insert("kind".into(), T::String("attribute_importer".into()));
            put(&mut t, "claim", text(&cfg, "claim").or_else(|| text(&cfg, "jsonField")));
            put(&mut t, "attribute", text(&cfg, "user.attribute").or_else(|| text(&cfg, "userAttribute")));
        }
        "oidc-role-idp-mapper" => {
            t.insert("kind".into(), T::String("claim_to_role".into()));
            put(&mut t, "claim", text(&cfg, "claim"));
            put(&mut t, "value", text(&cfg, "claim.value"));
            put(&mut t, "role", text(&cfg, "role"));
            if flag(&cfg, "are.claim.values.regex") == Some(true) {
                t.insert("regex".into(), T::Boolean(true));
            }
            if cfg.get("claims").is_some() {
                c.report.push(format!("mapper `{name}`: several claims (\"Advanced claim to role\") — only `claim`/`claim.value` carried over"));
            }
        }
        "oidc-hardcoded-group-idp-mapper" => {
            t.insert("kind".into(), T::String("hardcoded_group".into()));
            put(&mut t, "group", text(&cfg, "group"));
        }
        "oidc-advanced-group-idp-mapper" => {
            t.insert("kind".into(), T::String("advanced_claim_to_group".into()));
            put(&mut t, "group", text(&cfg, "group"));
            match advanced_claims(&cfg) {
                Some(claims) => {
                    t.insert("claims".into(), claims);
                }
                None => {
                    c.report.push(format!("mapper `{name}` of `{alias}`: its claims could not be read (skipped)"));
                    return None;
                }
            }
            if flag(&cfg, "are.claim.values.regex") == Some(true) {
                t.insert("regex".into(), T::Boolean(true));
            }
        }
        "oidc-username-idp-mapper" => {
            t.insert("kind".into(), T::String("username_template".into()));
            put(&mut t, "template", text(&cfg, "template"));
            if text(&cfg, "target").is_some_and(|t| t != "LOCAL") {
                c.report.push(format!("mapper `{name}`: target other than LOCAL is not supported (the template sets the keyedge username)"));
            }
        }
        other => {
            c.report.push(format!("mapper `{name}` of `{alias}`: kind `{other}` is not supported (skipped)"));
            return None;
        }
    }
    if let Some(mode) = text(&cfg, "syncMode").filter(|m| m != "INHERIT") {
        t.insert("sync_mode".into(), T::String(mode.to_lowercase()));
    }
    Some((alias, t))
}
