//! What the embedded configuration decides about the build: read by `build.rs` (which includes
//! this file) before the crate is compiled, and tested here natively.

/// Whether the configuration has a SAML identity provider (`kind = "saml"` in an
/// `[[identity_providers]]` table): only then is SAML compiled into the Worker. The runtime
/// reads `kind` with the same exact, lower-case spelling.
pub fn saml_configured(config: &toml::Table) -> bool {
    let Some(idps) = config.get("identity_providers").and_then(toml::Value::as_array) else {
        return false;
    };
    idps.iter().any(|idp| idp.get("kind").and_then(toml::Value::as_str) == Some("saml"))
}

/// Whether a mapper matches claims by regex (`regex = true` in an
/// `[[identity_providers.mappers]]` table): only then is the regex engine compiled into the
/// Worker. The runtime reads `regex` as a boolean.
pub fn regex_configured(config: &toml::Table) -> bool {
    let Some(idps) = config.get("identity_providers").and_then(toml::Value::as_array) else {
        return false;
    };
    idps.iter()
        .filter_map(|idp| idp.get("mappers").and_then(toml::Value::as_array))
        .flatten()
        .any(|mapper| mapper.get("regex").and_then(toml::Value::as_bool) == Some(true))
}

/// Whether the admin API is enabled (`admin_token_env`): only then is it compiled into the
/// Worker (without it, `/admin/*` answers that it is not enabled, as it always did).
pub fn admin_configured(config: &toml::Table) -> bool {
    config.contains_key("admin_token_env")
}

/// Whether the configuration puts a site behind the gate (`[gate]`): only then is the gate
/// compiled into the Worker.
pub fn gate_configured(config: &toml::Table) -> bool {
    config.contains_key("gate")
}

/// Whether an identity provider accepts back-channel logout tokens (`accept_logout_tokens =
/// true` in an `[[identity_providers]]` table): only then is their check compiled into the
/// Worker.
pub fn logout_tokens_configured(config: &toml::Table) -> bool {
    let Some(idps) = config.get("identity_providers").and_then(toml::Value::as_array) else {
        return false;
    };
    idps.iter().any(|idp| idp.get("accept_logout_tokens").and_then(toml::Value::as_bool) == Some(true))
}

/// The social presets' kinds (`kind = "github"` …; `twitter` is X's other name), as the
/// runtime reads them.
pub const PRESET_KINDS: &[&str] = &[
    "github",
    "google",
    "gitlab",
    "microsoft",
    "linkedin",
    "discord",
    "bitbucket",
    "facebook",
    "x",
    "twitter",
    "stackoverflow",
    "apple",
];

/// Whether an identity provider is one of the social presets: only then are they compiled
/// into the Worker.
pub fn presets_configured(config: &toml::Table) -> bool {
    let Some(idps) = config.get("identity_providers").and_then(toml::Value::as_array) else {
        return false;
    };
    idps.iter().any(|idp| idp.get("kind").and_then(toml::Value::as_str).is_some_and(|k| PRESET_KINDS.contains(&k)))
}

/// Whether an identity provider is a plain OAuth 2.0 one (`kind = "oauth2"`): then (or with a
/// preset, several of which are built on it) OAuth 2.0 IdPs are compiled into the Worker.
pub fn oauth2_configured(config: &toml::Table) -> bool {
    let Some(idps) = config.get("identity_providers").and_then(toml::Value::as_array) else {
        return false;
    };
    idps.iter().any(|idp| idp.get("kind").and_then(toml::Value::as_str) == Some("oauth2"))
}

/// Whether the development fault switch is on (`[dev] fault_injection = true`): only then is
/// it compiled into the Worker. The runtime reads it as a boolean.
pub fn faults_configured(config: &toml::Table) -> bool {
    config.get("dev").and_then(|d| d.get("fault_injection")).and_then(toml::Value::as_bool) == Some(true)
}

/// Whether the configuration reads the same once written as the JSON the Worker embeds: no
/// float that is not finite (JSON has none: it would be read as an absent option), and every
/// identity provider's `kind` a string (build.rs decides what to compile from it).
pub fn json_faithful(config: &toml::Table) -> Result<(), String> {
    fn finite(value: &toml::Value, at: &str) -> Result<(), String> {
        match value {
            toml::Value::Float(f) if !f.is_finite() => Err(format!("{at}: {f} is not a number JSON can carry")),
            toml::Value::Array(items) => {
                items.iter().enumerate().try_for_each(|(i, v)| finite(v, &format!("{at}[{i}]")))
            }
            toml::Value::Table(table) => table.iter().try_for_each(|(k, v)| finite(v, &format!("{at}.{k}"))),
            _ => Ok(()),
        }
    }
    config.iter().try_for_each(|(k, v)| finite(v, k))?;
    let idps = config.get("identity_providers").and_then(toml::Value::as_array).into_iter().flatten();
    for (i, idp) in idps.enumerate() {
        if idp.get("kind").is_some_and(|kind| !kind.is_str()) {
            return Err(format!("identity_providers[{i}].kind: must be a string, such as \"oidc\""));
        }
    }
    Ok(())
}

/// Whether the storage conformance run (`[dev] storage_conformance`) is compiled in: only for
/// a configuration that asks for it with a local issuer (`http://localhost`, `127.0.0.1` or
/// `[::1]`). Asked for with any other issuer, the build is refused (`Err`): its code could
/// move a Durable Object's clock for whoever holds the binding, and the Worker itself would
/// refuse to start with it anyway (`Config::load`).
pub fn storage_conformance(config: &toml::Table) -> Result<bool, String> {
    let asked = config.get("dev").and_then(|d| d.get("storage_conformance")).and_then(toml::Value::as_bool);
    if asked != Some(true) {
        return Ok(false);
    }
    let issuer = config.get("issuer").and_then(toml::Value::as_str).unwrap_or("");
    let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"].iter().any(|origin| {
        issuer
            .strip_prefix(origin)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(':') || rest.starts_with('/'))
    });
    if local {
        Ok(true)
    } else {
        Err(format!(
            "[dev] storage_conformance is for local development: the issuer `{issuer}` is not http://localhost"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{
        admin_configured, faults_configured, gate_configured, json_faithful, logout_tokens_configured,
        oauth2_configured, presets_configured, regex_configured, saml_configured, storage_conformance, PRESET_KINDS,
    };

    #[test]
    fn storage_conformance_is_compiled_in_for_a_local_issuer_only() {
        let dev = "[dev]\nstorage_conformance = true\n";
        for local in ["http://localhost:8787", "http://127.0.0.1", "http://[::1]:8787/realms/a"] {
            assert_eq!(storage_conformance(&table(&format!("issuer = \"{local}\"\n{dev}"))), Ok(true), "{local}");
        }
        for other in ["https://localhost:8787", "http://auth.example.com", "http://localhost.example.com", ""] {
            assert!(storage_conformance(&table(&format!("issuer = \"{other}\"\n{dev}"))).is_err(), "{other}");
        }
        assert_eq!(storage_conformance(&table("issuer = \"https://auth.example.com\"\n")), Ok(false));
        assert_eq!(storage_conformance(&table(include_str!("../keyedge.toml"))), Ok(false));
        assert_eq!(storage_conformance(&table(include_str!("../dev/keyedge.dev.toml"))), Ok(true));
    }

    fn table(text: &str) -> toml::Table {
        text.parse().expect("toml")
    }

    #[test]
    fn saml_is_compiled_in_for_a_saml_identity_provider_only() {
        let oidc = "[[identity_providers]]\nalias = \"a\"\nkind = \"oidc\"\n";
        let saml = "[[identity_providers]]\nalias = \"corp\"\nkind = \"saml\"\n";
        assert!(!saml_configured(&table(oidc)));
        assert!(saml_configured(&table(&format!("{oidc}{saml}"))));
        assert!(!saml_configured(&table("issuer = \"https://x\"\n")));
        assert!(!saml_configured(&table("[[identity_providers]]\nalias = \"a\"\nkind = \"SAML\"\n")));
        // The repository's own configurations: the small one has no SAML, the demo one has.
        assert!(!saml_configured(&table(include_str!("../keyedge.toml"))));
        assert!(saml_configured(&table(include_str!("../dev/keyedge.dev.toml"))));
    }

    #[test]
    fn the_regex_engine_is_compiled_in_for_a_regex_mapper_only() {
        let idp = "[[identity_providers]]\nalias = \"a\"\nkind = \"oidc\"\n";
        let mapper =
            |extra: &str| format!("[[identity_providers.mappers]]\nname = \"m\"\nkind = \"claim_to_role\"\n{extra}");
        assert!(!regex_configured(&table(idp)));
        assert!(!regex_configured(&table(&format!("{idp}{}", mapper("")))));
        assert!(!regex_configured(&table(&format!("{idp}{}", mapper("regex = false\n")))));
        assert!(regex_configured(&table(&format!("{idp}{}", mapper("regex = true\n")))));
        // on a second IdP's mapper, after one without
        let second = "[[identity_providers]]\nalias = \"b\"\nkind = \"saml\"\n";
        assert!(regex_configured(&table(&format!("{idp}{}{second}{}", mapper(""), mapper("regex = true\n")))));
        // Neither of the repository's own configurations has one.
        assert!(!regex_configured(&table(include_str!("../keyedge.toml"))));
        assert!(!regex_configured(&table(include_str!("../dev/keyedge.dev.toml"))));
    }

    #[test]
    fn the_admin_api_is_compiled_in_when_enabled_only() {
        assert!(!admin_configured(&table("issuer = \"https://x\"\n")));
        assert!(admin_configured(&table("issuer = \"https://x\"\nadmin_token_env = \"ADMIN_TOKEN\"\n")));
        assert!(!admin_configured(&table(include_str!("../keyedge.toml"))));
    }

    #[test]
    fn the_gate_is_compiled_in_for_a_gated_site_only() {
        assert!(!gate_configured(&table("issuer = \"https://x\"\n")));
        assert!(gate_configured(&table("issuer = \"https://x\"\n[gate]\nupstream = \"assets\"\n")));
        assert!(!gate_configured(&table(include_str!("../keyedge.toml"))));
        assert!(gate_configured(&table(include_str!("../dev/keyedge.dev.toml"))));
    }

    #[test]
    fn logout_tokens_are_compiled_in_when_an_identity_provider_accepts_them_only() {
        let idp = |extra: &str| format!("[[identity_providers]]\nalias = \"a\"\nkind = \"oidc\"\n{extra}");
        assert!(!logout_tokens_configured(&table(&idp(""))));
        assert!(!logout_tokens_configured(&table(&idp("accept_logout_tokens = false\n"))));
        assert!(!logout_tokens_configured(&table(&idp("backchannel_logout = true\n"))));
        assert!(logout_tokens_configured(&table(&format!("{}{}", idp(""), idp("accept_logout_tokens = true\n")))));
        assert!(!logout_tokens_configured(&table(include_str!("../keyedge.toml"))));
        assert!(logout_tokens_configured(&table(include_str!("../dev/keyedge.dev.toml"))));
    }

    #[test]
    fn the_social_presets_are_compiled_in_for_a_preset_identity_provider_only() {
        let idp = |kind: &str| format!("[[identity_providers]]\nalias = \"{kind}\"\nkind = \"{kind}\"\n");
        assert!(!presets_configured(&table(&idp("oidc"))));
        assert!(!presets_configured(&table(&format!("{}{}", idp("oidc"), idp("oauth2")))));
        assert!(!presets_configured(&table(&idp("saml"))));
        for kind in PRESET_KINDS {
            assert!(presets_configured(&table(&format!("{}{}", idp("oidc"), idp(kind)))), "{kind}");
        }
        assert!(!presets_configured(&table(&idp("GitHub"))));
        assert!(!presets_configured(&table(include_str!("../keyedge.toml"))));
        assert!(presets_configured(&table(include_str!("../dev/keyedge.dev.toml"))));
    }

    #[test]
    fn the_preset_kinds_are_the_runtimes() {
        use crate::core::upstream::presets::Preset;
        for preset in Preset::ALL {
            assert!(PRESET_KINDS.contains(&preset.kind()), "{}", preset.kind());
        }
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.kind()).chain(["twitter"]).collect();
        for kind in PRESET_KINDS {
            assert!(names.contains(kind), "{kind} is no preset's kind");
        }
    }

    #[test]
    fn oauth2_identity_providers_are_compiled_in_for_an_oauth2_one() {
        let idp = |kind: &str| format!("[[identity_providers]]\nalias = \"{kind}\"\nkind = \"{kind}\"\n");
        assert!(!oauth2_configured(&table(&idp("oidc"))));
        assert!(oauth2_configured(&table(&format!("{}{}", idp("oidc"), idp("oauth2")))));
        assert!(!oauth2_configured(&table(&idp("OAuth2"))));
        assert!(!oauth2_configured(&table(include_str!("../keyedge.toml"))));
    }

    #[test]
    fn the_fault_switch_is_compiled_in_when_turned_on_only() {
        assert!(!faults_configured(&table("[dev]\nstorage_conformance = true\n")));
        assert!(!faults_configured(&table("[dev]\nfault_injection = false\n")));
        assert!(faults_configured(&table("[dev]\nfault_injection = true\n")));
        assert!(!faults_configured(&table(include_str!("../keyedge.toml"))));
        assert!(faults_configured(&table(include_str!("../dev/keyedge.dev.toml"))));
    }

    #[test]
    fn what_json_cannot_carry_as_read_is_refused_at_build_time() {
        assert_eq!(json_faithful(&table(include_str!("../keyedge.toml"))), Ok(()));
        assert_eq!(json_faithful(&table(include_str!("../dev/keyedge.dev.toml"))), Ok(()));
        assert_eq!(json_faithful(&table("session_lifetime = 3600\nx = 1.5\n")), Ok(()));
        for bad in ["gate = nan\n", "[[identity_providers]]\nalias = \"g\"\nhd = inf\n", "a = [1.0, -inf]\n"] {
            assert!(json_faithful(&table(bad)).is_err(), "{bad}");
        }
        let inline = "[[identity_providers]]\nalias = \"g\"\nkind = { github = {} }\n";
        assert!(json_faithful(&table(inline)).unwrap_err().contains("identity_providers[0].kind"));
    }
}
