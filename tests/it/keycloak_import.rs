//! `keyedge import-keycloak`: a realm export written by hand from Keycloak's documented
//! export format becomes a valid keyedge configuration, with every field it cannot carry over
//! reported.

use keyedge::core::config::{Config, ProviderKind, SyncMode, UpstreamClientAuth};
use keyedge::tools::keycloak::convert;

const EXPORT: &str = include_str!("../fixtures/keycloak/realm-export.json");

fn converted() -> (Config, keyedge::tools::keycloak::Conversion) {
    let c = convert(EXPORT).unwrap();
    let text =
        format!("issuer = \"https://login.acme.example\"\nes256_signing_key_env = \"SIGNING_KEY_ES256\"\n{}", c.toml);
    let secrets = |name: &str| crate::common::secrets(name).or_else(|| Some(format!("secret-of-{name}")));
    let config = Config::load(&text, &secrets).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (config, c)
}

#[test]
fn identity_providers_and_their_options_carry_over() {
    let (config, _) = converted();
    let corp = config.provider("corp-oidc").unwrap();
    assert_eq!(corp.display_name, "Corporate SSO");
    assert!(corp.trust_email && corp.store_tokens && corp.stored_tokens_readable);
    assert_eq!(corp.sync_mode, SyncMode::Force);
    assert_eq!(corp.gui_order, 1);
    let ProviderKind::Oidc(oidc) = &corp.kind else { panic!("corp-oidc is OIDC") };
    assert_eq!(oidc.issuer, "https://sso.acme.example/realms/corp");
    assert_eq!(oidc.default_scopes, "openid email profile");
    assert_eq!(oidc.allowed_clock_skew, 10);
    assert!(oidc.backchannel_logout && oidc.upstream_logout && oidc.prompt.is_none());
    assert!(matches!(oidc.client_auth, UpstreamClientAuth::SecretPost(_)));
    let github = config.provider("github").unwrap();
    let ProviderKind::OAuth2(gh) = &github.kind else { panic!("github is OAuth 2.0") };
    assert_eq!(gh.user_id_claim, "id");
    assert_eq!(github.sync_mode, SyncMode::Import);
}

#[test]
fn mappers_carry_over_with_their_sync_modes() {
    let (config, c) = converted();
    let corp = config.provider("corp-oidc").unwrap();
    let names: Vec<&str> = corp.mappers.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["admins", "engineers", "country", "username", "senior eng", "everyone"]);
    assert_eq!(corp.mappers[1].sync_mode, Some(SyncMode::Force));
    assert_eq!(corp.mappers[0].sync_mode, None, "INHERIT is the IdP's mode");
    assert_eq!(config.provider("github").unwrap().mappers.len(), 1);
    assert!(c.toml.contains("regex = true"));
}

#[test]
fn clients_carry_over_and_secrets_become_names() {
    let (config, c) = converted();
    let om = config.client("openmetadata").unwrap();
    assert_eq!(om.redirect_uris, ["https://metadata.acme.example/callback"]);
    assert_eq!(om.post_logout_redirect_uris, ["https://metadata.acme.example/logout"]);
    assert_eq!(om.backchannel_logout_uri.as_deref(), Some("https://metadata.acme.example/backchannel"));
    assert!(!om.is_public());
    assert!(config.client("spa").unwrap().is_public());
    // Keycloak's per-client algorithms: ES256 ID tokens; an HMAC access token algorithm is
    // refused (keyedge's access tokens are verifiable with /jwks) and falls back to RS256.
    assert_eq!(om.id_token_signed_response_alg, keyedge::core::jose::Alg::ES256);
    assert_eq!(om.access_token_signed_response_alg, keyedge::core::jose::Alg::RS256);
    assert!(c.toml.contains("access_token_signed_response_alg = \"RS256\""), "spa's explicit RS256 is kept");
    assert!(config.client("reports").unwrap().allows(keyedge::core::config::GrantType::ClientCredentials));
    assert!(config.client("account").is_none(), "Keycloak's own clients are left out");
    // Client scopes: the known ones of the default and optional lists, offline_access included
    // (keyedge grants it only to clients that list it); without lists, keyedge's defaults.
    assert_eq!(om.allowed_scopes, ["openid", "profile", "email", "address", "phone", "offline_access"]);
    assert!(!config.client("spa").unwrap().allowed_scopes.iter().any(|s| s == "offline_access"));
    assert!(c.report.iter().any(|r| r.contains("`spa`") && r.contains("offline_access")), "{:?}", c.report);
    assert!(!c.toml.contains("**********"), "no secret is ever written");
    assert_eq!(
        c.secrets,
        [
            "IDP_CORP_OIDC_SECRET",
            "IDP_GITHUB_SECRET",
            "CLIENT_OPENMETADATA_SECRET",
            "CLIENT_REPORTS_SECRET",
            "CLIENT_ORDERS_API_SECRET"
        ]
    );
    // A bearer-only client is an API that introspects tokens: a resource server, signing no one in.
    let api = config.client("orders-api").unwrap();
    assert!(api.resource_server && !api.is_public());
    assert!(!api.allows(keyedge::core::config::GrantType::AuthorizationCode));
}

#[test]
fn everything_not_carried_over_is_reported() {
    let (_, c) = converted();
    let report = c.report.join("\n");
    for expected in [
        "identity provider `partner-saml`: provider `saml` is not supported",
        "identity provider `corp-oidc`: post login flow `otp check`",
        "identity provider `corp-oidc`: forwarded parameter `state` is keyedge's own (left out)",
        "mapper `script` of `corp-oidc`: its claims could not be read (skipped)",
        "mapper `saml attr` of `partner-saml`: kind `saml-user-attribute-idp-mapper` is not supported",
        "client `openmetadata`: redirect URI `https://metadata.acme.example/*` has a wildcard",
        "client `openmetadata`: direct access grants (password) are not offered",
        "client `spa`: the implicit flow is not offered",
        "client `legacy-saml`: protocol saml is not supported",
        "client `openmetadata`: signs ID tokens with ES256: set `es256_signing_key_env`",
        "client `openmetadata`: access token algorithm HS512 is not supported; RS256 is used",
    ] {
        assert!(report.contains(expected), "missing `{expected}` in:\n{report}");
    }
}

#[test]
fn keycloak_idp_options_and_group_mappers_carry_over() {
    use keyedge::core::config::MapperKind;
    let (config, _) = converted();
    let corp = config.provider("corp-oidc").unwrap();
    let ProviderKind::Oidc(oidc) = &corp.kind else { panic!("corp-oidc is OIDC") };
    assert_eq!(oidc.forwarding.parameters, ["audience", "acr_values"]);
    assert!(oidc.forwarding.login_hint && !oidc.forwarding.max_age, "passMaxAge = false");
    assert!(!oidc.forwarding.current_locale, "uiLocales unset is off in Keycloak");
    assert!(oidc.nonce_unsupported && corp.case_sensitive_usernames);
    let MapperKind::AdvancedClaimToGroup { claims, group } = &corp.mappers[4].kind else {
        panic!("{:?}", corp.mappers[4])
    };
    assert_eq!(group, "/eng/senior");
    let pairs: Vec<(&str, &str)> = claims.iter().map(|c| (c.claim.as_str(), c.value.as_str())).collect();
    assert_eq!(pairs, [("department", "eng"), ("level", "senior|staff")]);
    assert!(claims.iter().all(|c| c.regex.is_some()));
    assert!(matches!(&corp.mappers[5].kind, MapperKind::HardcodedGroup { group } if group == "/corp"));
    // Keycloak's defaults where the export says nothing: nothing passed, case-insensitive.
    let github = config.provider("github").unwrap();
    assert!(!github.case_sensitive_usernames);
}

#[test]
fn garbage_is_a_clear_error() {
    assert!(convert("not json").unwrap_err().contains("not a JSON realm export"));
}
