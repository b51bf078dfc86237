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

#[cfg(test)]
mod tests {
    use super::saml_configured;

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
}
