//! Configuration validation: every error names the field.

use keyedge::core::config::Config;

fn load(text: &str) -> Result<Config, String> {
    Config::load(text, &crate::common::secrets).map_err(|e| e.to_string())
}

fn replace(from: &str, to: &str) -> String {
    crate::common::config_text().replace(from, to)
}

#[test]
fn the_test_config_and_the_shipped_configs_are_valid() {
    assert!(load(&crate::common::config_text()).is_ok());
    let dev = |name: &str| match name {
        "SIGNING_KEY" => Some(include_str!("../fixtures/keyedge-test-key.pem").to_owned()),
        // Apple's .p8 key (the dev config's Sign in with Apple stand-in): a P-256 key.
        "SIGNING_KEY_ES256" | "SOCIAL_APPLE_KEY" => Some(include_str!("../fixtures/es256-test-key.pem").to_owned()),
        "SIGNING_KEY_EDDSA" => Some(include_str!("../fixtures/eddsa-test-key.pem").to_owned()),
        "ENCRYPTION_KEY" => crate::common::secrets("ENCRYPTION_KEY"),
        // The dev config signs its AuthnRequests with RSA: any RSA pair of the fixtures will do.
        "SAML_SP_KEY" => Some(include_str!("../fixtures/saml-harness/idp-key.pem").to_owned()),
        "SAML_SP_CERT" => Some(include_str!("../fixtures/saml-harness/idp-cert.pem").to_owned()),
        _ => Some("x".to_owned()),
    };
    for file in [include_str!("../../dev/keyedge.dev.toml"), include_str!("../../keyedge.toml")] {
        keyedge::core::Keyedge::from_config_text(file, &dev).unwrap();
    }
}

/// `keyedge check` reads Sign in with Apple's key whole (at start-up only its shape and the
/// public point written in it): a .p8 key carrying another key's point is refused, named by
/// the identity provider's `private_key_env`.
#[test]
fn offline_check_refuses_an_apple_key_with_another_keys_point() {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use rsa::pkcs1::der::{Decode, Encode};
    let own = include_str!("../fixtures/es256-test-key.pem");
    let (_, doc) = rsa::pkcs8::SecretDocument::from_pem(own).unwrap();
    let info = rsa::pkcs8::PrivateKeyInfo::from_der(doc.as_bytes()).unwrap();
    let mut ec = sec1::EcPrivateKey::from_der(info.private_key).unwrap();
    let other = p256::SecretKey::from_slice(&[7; 32]).unwrap().public_key().to_encoded_point(false);
    ec.public_key = Some(other.as_bytes());
    let sec1_der = ec.to_der().unwrap();
    let der = rsa::pkcs8::PrivateKeyInfo::new(info.algorithm, &sec1_der).to_der().unwrap();
    let tampered =
        rsa::pkcs8::der::pem::encode_string("PRIVATE KEY", rsa::pkcs8::der::pem::LineEnding::LF, &der).unwrap();
    let dev = |tampered_apple: bool| {
        let tampered = tampered.clone();
        move |name: &str| match name {
            "SOCIAL_APPLE_KEY" if tampered_apple => Some(tampered.clone()),
            "SIGNING_KEY" => Some(include_str!("../fixtures/keyedge-test-key.pem").to_owned()),
            "SIGNING_KEY_ES256" | "SOCIAL_APPLE_KEY" => Some(own.to_owned()),
            "SIGNING_KEY_EDDSA" => Some(include_str!("../fixtures/eddsa-test-key.pem").to_owned()),
            "ENCRYPTION_KEY" => crate::common::secrets("ENCRYPTION_KEY"),
            "SAML_SP_KEY" => Some(include_str!("../fixtures/saml-harness/idp-key.pem").to_owned()),
            "SAML_SP_CERT" => Some(include_str!("../fixtures/saml-harness/idp-cert.pem").to_owned()),
            _ => Some("x".to_owned()),
        }
    };
    let text = include_str!("../../dev/keyedge.dev.toml");
    let app = keyedge::core::Keyedge::from_config_text(text, &dev(true)).expect("the Worker starts: the shape is fine");
    let e = app.check_private_keys().unwrap_err().to_string();
    assert!(e.contains("].private_key_env"), "{e}");
    keyedge::core::Keyedge::from_config_text(text, &dev(false)).unwrap().check_private_keys().unwrap();
}

#[test]
fn unknown_key_is_rejected_with_its_line() {
    let e = load(&replace("display_name = \"Upstream\"", "display_nam = \"Upstream\"")).unwrap_err();
    assert!(e.contains("unknown field `display_nam`") && e.contains("line"), "{e}");
}

#[test]
fn duplicate_alias_is_rejected() {
    let text = format!(
        "{}\n{}",
        crate::common::config_text(),
        &crate::common::config_text()[crate::common::config_text().find("[[identity_providers]]").unwrap()..]
    );
    let e = load(&text).unwrap_err();
    assert!(e.contains("identity_providers[1].alias"), "{e}");
}

#[test]
fn missing_secret_names_field_and_secret() {
    let e = load(&replace("client_secret_env = \"IDP_SECRET\"", "client_secret_env = \"NOT_SET\"")).unwrap_err();
    assert!(e.contains("identity_providers[0].client_secret_env") && e.contains("NOT_SET"), "{e}");
}

/// A redirect URI with a raw non-ASCII character would match a client sending it raw, and the
/// redirect would then lose its `Location` (a header value is ASCII): refused at load, its
/// percent-encoded form named as the fix and taken as it is.
#[test]
fn a_non_ascii_redirect_uri_is_refused_and_its_percent_encoded_form_taken() {
    for field in ["redirect_uris", "post_logout_redirect_uris"] {
        let text = replace(&format!("\n{field} = ["), &format!("\n{field} = [\"https://app.test/caf\u{e9}\", "));
        assert!(text.contains("caf\u{e9}"), "{field} is in the test configuration");
        let e = load(&text).unwrap_err();
        assert!(e.contains(field) && e.contains("https://app.test/caf%C3%A9"), "{field}: {e}");
    }
    refused_naming_and_ascii_form_taken(
        "https://app.test/caf\u{e9}",
        "https://app.test/caf%C3%A9",
        "https://app.test/caf%C3%A9",
    );
}

/// The client's redirect URI `raw` is refused with `named` in the error; `ascii` in its place
/// is taken as it is, and `raw` is then not accepted.
fn refused_naming_and_ascii_form_taken(raw: &str, named: &str, ascii: &str) {
    let e = load(&replace("\"https://app.test/cb\"", &format!("\"{raw}\""))).unwrap_err();
    assert!(e.contains("clients[0].redirect_uris[0]") && e.contains(named), "{e}");
    let config = load(&replace("\"https://app.test/cb\"", &format!("\"{ascii}\""))).unwrap();
    let client = config.clients.iter().find(|c| c.redirect_uris.iter().any(|r| r == ascii)).unwrap();
    assert!(client.accepts_redirect_uri(ascii));
    assert!(!client.accepts_redirect_uri(raw));
}

#[test]
fn bad_urls_are_rejected() {
    let e = load(&replace("https://idp.test", "http://idp.test")).unwrap_err();
    assert!(e.contains("identity_providers[0].issuer") && e.contains("https"), "{e}");
    let e = load(&replace("\"https://app.test/cb\"", "\"https://app.test/cb#frag\"")).unwrap_err();
    assert!(e.contains("clients[0].redirect_uris[0]"), "{e}");
    let e = load(&replace("issuer = \"https://keyedge.test\"", "issuer = \"https://keyedge.test/\"")).unwrap_err();
    assert!(e.contains("issuer"), "{e}");
}

/// Host names are ASCII (keyedge's URL parser has no Unicode tables, to keep the Worker
/// small): an internationalised domain is refused with its ASCII form named as the fix, and
/// that form is taken as it is.
#[test]
fn a_non_ascii_host_is_refused_and_its_xn_form_taken() {
    refused_naming_and_ascii_form_taken("https://bücher.test/cb", "xn--", "https://xn--bcher-kva.test/cb");
}

#[test]
fn alias_must_be_url_safe() {
    let e = load(&replace("alias = \"up\"", "alias = \"up/../x\"")).unwrap_err();
    assert!(e.contains("identity_providers[0].alias"), "{e}");
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    let config = load(&crate::common::config_text()).unwrap();
    let dump = format!("{config:?}");
    assert!(
        !dump.contains(crate::common::APP_SECRET)
            && !dump.contains(crate::common::IDP_SECRET)
            && !dump.contains("PRIVATE KEY")
    );
}

#[test]
fn a_client_alg_without_its_key_is_rejected() {
    let e = load(&replace(
        "redirect_uris = [\"https://spa.test/cb\"]",
        "redirect_uris = [\"https://spa.test/cb\"]\nid_token_signed_response_alg = \"EdDSA\"",
    ))
    .unwrap_err();
    assert!(e.contains("clients[1].id_token_signed_response_alg") && e.contains("eddsa_signing_key_env"), "{e}");
    let e = load(&replace(
        "redirect_uris = [\"https://spa.test/cb\"]",
        "redirect_uris = [\"https://spa.test/cb\"]\naccess_token_signed_response_alg = \"ES256\"",
    ))
    .unwrap_err();
    assert!(e.contains("clients[1].access_token_signed_response_alg") && e.contains("es256_signing_key_env"), "{e}");
}

#[test]
fn a_key_of_the_wrong_type_names_its_field() {
    let secrets = |name: &str| match name {
        "ES" => Some(include_str!("../fixtures/keyedge-test-key.pem").to_owned()),
        other => crate::common::secrets(other),
    };
    let text = crate::common::config_text().replace(
        "issuer = \"https://keyedge.test\"",
        "issuer = \"https://keyedge.test\"\nes256_signing_key_env = \"ES\"",
    );
    let e = keyedge::core::Keyedge::from_config_text(&text, &secrets).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("es256_signing_key_env") && e.contains("expected a ES256 key"), "{e}");
}

/// The `up` IdP with `options` added.
fn up_with(options: &str) -> Result<Config, String> {
    load(&replace("client_secret_env = \"IDP_SECRET\"\n", &format!("client_secret_env = \"IDP_SECRET\"\n{options}\n")))
}

#[test]
fn brokering_options_are_checked_with_the_field_named() {
    let cases = [
        ("sync_mode = \"sometimes\"", "unknown variant `sometimes`"),
        ("client_auth_method = \"tls_client_auth\"", "identity_providers[0].client_auth_method"),
        ("client_assertion_signing_alg = \"ES256\"", "identity_providers[0].client_assertion_signing_alg"),
        ("prompt = \"always\"", "identity_providers[0].prompt"),
        ("stored_tokens_readable = true", "identity_providers[0].stored_tokens_readable: needs store_tokens"),
        ("link_only = true\nauthenticate_by_default = true", "identity_providers[0].authenticate_by_default"),
        ("icon = \"ftp://x.test/i.png\"", "identity_providers[0].icon"),
        (
            "logout_url = \"https://idp.test/logout\"",
            "identity_providers[0].logout_url: is used only with upstream_logout",
        ),
        ("use_jwks_url = false", "identity_providers[0].public_key_signature_verifier: is required"),
        ("public_key_signature_verifier = \"x\"", "set use_jwks_url = false"),
        ("use_jwks_url = false\npublic_key_signature_verifier = \"not a key\"", "not a PEM public key"),
        ("validate_signature = false\nuse_jwks_url = false", "identity_providers[0].validate_signature"),
        ("public_key_signature_verifier_key_id = \"k\"", "applies with public_key_signature_verifier only"),
    ];
    for (options, expected) in cases {
        let e = up_with(options).unwrap_err();
        assert!(e.contains(expected), "{options}: {e}");
    }
}

#[test]
fn jwt_client_authentication_needs_its_secret_or_key() {
    // private_key_jwt uses keyedge's own key: a secret is a mistake.
    let e = up_with("client_auth_method = \"private_key_jwt\"").unwrap_err();
    assert!(e.contains("identity_providers[0].client_secret_env: private_key_jwt signs with keyedge's own key"), "{e}");
    let e = load(&replace(
        "client_secret_env = \"IDP_SECRET\"\n",
        "client_auth_method = \"private_key_jwt\"\nclient_assertion_signing_alg = \"ES256\"\n",
    ))
    .unwrap_err();
    assert!(e.contains("keyedge has no ES256 signing key"), "{e}");
    let e = load(&replace("client_secret_env = \"IDP_SECRET\"\n", "client_auth_method = \"client_secret_jwt\"\n"))
        .unwrap_err();
    assert!(e.contains("identity_providers[0].client_secret_env: is required for client_secret_jwt"), "{e}");
}

#[test]
fn every_brokering_option_is_accepted() {
    let options = r#"
icon = "/static/idp.svg"
trust_email = true
store_tokens = true
stored_tokens_readable = true
sync_mode = "force"
link_only = true
pkce_enabled = false
client_auth_method = "client_secret_jwt"
prompt = "select_account"
accepts_prompt_none_forward = true
accept_logout_tokens = true
upstream_logout = true
logout_url = "https://idp.test/logout"
"#;
    let config = up_with(options).unwrap();
    let idp = &config.identity_providers[0];
    assert!(idp.trust_email && idp.store_tokens && idp.stored_tokens_readable && idp.link_only && !idp.pkce_enabled);
    assert_eq!(idp.sync_mode, keyedge::core::config::SyncMode::Force);
    assert_eq!(idp.icon.as_deref(), Some("/static/idp.svg"));
}

#[test]
fn offline_check_names_the_file_and_field_and_lists_missing_secrets() {
    let dir = std::env::temp_dir().join(format!("keyedge-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, crate::common::config_text().replace("kind = \"oidc\"", "kind = \"ldap\"")).unwrap();
    let e = keyedge::tools::check::check(&bad, None).unwrap_err();
    assert!(e.starts_with(&format!("{}: invalid configuration: line", bad.display())) && e.contains("ldap"), "{e}");
    let good = dir.join("good.toml");
    std::fs::write(&good, crate::common::config_text().replace("APP_SECRET", "KEYEDGE_TEST_UNSET_SECRET")).unwrap();
    let notes = keyedge::tools::check::check(&good, None).unwrap();
    assert!(notes.iter().any(|n| n.contains("npx wrangler secret put KEYEDGE_TEST_UNSET_SECRET")), "{notes:?}");
    // With every secret at hand, keys are checked as the Worker does: a bad key is named.
    let vars = dir.join(".dev.vars");
    let lines: String = ["SIGNING_KEY", "IDP_SECRET", "MACHINE_SECRET", "APP_SECRET"]
        .iter()
        .map(|k| format!("{k}=\"{}\"\n", crate::common::secrets(k).unwrap().replace('\n', "\\n")))
        .collect();
    std::fs::write(&vars, format!("{lines}ENCRYPTION_KEY=\"too-short\"\n")).unwrap();
    let e = keyedge::tools::check::check(&dir.join("good.toml"), Some(&vars));
    // good.toml names KEYEDGE_TEST_UNSET_SECRET, which is still missing: structure only.
    assert!(e.is_ok());
    let all = dir.join("all.toml");
    std::fs::write(&all, crate::common::config_text()).unwrap();
    let e = keyedge::tools::check::check(&all, Some(&vars)).unwrap_err();
    assert!(e.contains("encryption_key_env"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A signing key whose written public half is another key's: the Worker reads only its shape
/// and public half at start-up (issue 20, cold start), so `keyedge check` is what reads it
/// whole and refuses it, naming the field.
#[test]
fn offline_check_refuses_a_private_key_whose_halves_disagree() {
    use rsa::pkcs1::der::{Decode, Encode};
    use rsa::traits::PublicKeyParts;
    let pkcs1_of = |pem: &str| {
        let (_, doc) = rsa::pkcs8::SecretDocument::from_pem(pem).unwrap();
        rsa::pkcs8::PrivateKeyInfo::from_der(doc.as_bytes()).unwrap().private_key.to_vec()
    };
    let own = pkcs1_of(&crate::common::secrets("SIGNING_KEY").unwrap());
    let other = {
        use rsa::pkcs8::DecodePrivateKey;
        rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../fixtures/upstream-test-key.pem")).unwrap().n().to_bytes_be()
    };
    let mut written = rsa::pkcs1::RsaPrivateKey::from_der(&own).unwrap();
    written.modulus = rsa::pkcs1::UintRef::new(&other).unwrap();
    let der = written.to_der().unwrap();
    let mismatched =
        rsa::pkcs8::der::pem::encode_string("RSA PRIVATE KEY", rsa::pkcs8::der::pem::LineEnding::LF, &der).unwrap();

    let secrets = |name: &str| match name {
        "SIGNING_KEY" => Some(mismatched.clone()),
        other => crate::common::secrets(other),
    };
    let app = keyedge::core::Keyedge::from_config_text(&crate::common::config_text(), &secrets)
        .expect("the Worker starts: the key's shape is fine");
    let e = app.check_private_keys().unwrap_err().to_string();
    assert!(e.contains("signing_key_env: not a PEM private key") && e.contains("do not hold together"), "{e}");
    // Nor does it sign in Rust: its first private-key operation reads it whole and fails.
    let token = futures::executor::block_on(app.keys.sign(
        None,
        keyedge::core::jose::Alg::RS256,
        None,
        &serde_json::json!({"sub": "u"}),
        1_800_000_000,
        60,
    ));
    assert_eq!(token.unwrap_or_default(), "", "no signature from a key whose halves disagree");

    let dir = std::env::temp_dir().join(format!("keyedge-check-halves-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keyedge.toml");
    std::fs::write(&file, crate::common::config_text()).unwrap();
    let vars = dir.join(".dev.vars");
    let lines: String = ["IDP_SECRET", "MACHINE_SECRET", "APP_SECRET", "ENCRYPTION_KEY"]
        .iter()
        .map(|k| format!("{k}=\"{}\"\n", crate::common::secrets(k).unwrap().replace('\n', "\\n")))
        .collect();
    std::fs::write(&vars, format!("{lines}SIGNING_KEY=\"{}\"\n", mismatched.replace('\n', "\\n"))).unwrap();
    let e = keyedge::tools::check::check(&file, Some(&vars)).unwrap_err();
    assert!(e.contains("signing_key_env: not a PEM private key") && e.contains("do not hold together"), "{e}");
    std::fs::write(
        &vars,
        format!("{lines}SIGNING_KEY=\"{}\"\n", crate::common::secrets("SIGNING_KEY").unwrap().replace('\n', "\\n")),
    )
    .unwrap();
    assert!(keyedge::tools::check::check(&file, Some(&vars)).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_lines_are_json_with_the_request_id_and_never_the_query() {
    use keyedge::core::logging;
    let line: serde_json::Value =
        serde_json::from_str(&logging::access("r-1", "GET", "/broker/up/endpoint?code=secret&state=s", 302, 12.345))
            .unwrap();
    assert_eq!(line["request_id"], "r-1");
    assert_eq!(line["path"], "/broker/up/endpoint");
    assert_eq!(line["status"], 302);
    assert_eq!(line["duration_ms"], 12.3);
    assert!(!line.to_string().contains("secret"));
    let e: serde_json::Value = serde_json::from_str(&logging::event("r-1", "error", "KV \"down\"")).unwrap();
    assert_eq!((e["level"].as_str(), e["message"].as_str()), (Some("error"), Some("KV \"down\"")));
}

#[test]
fn the_example_sites_config_is_valid_and_make_dev_uses_the_same_gate() {
    let any = |name: &str| match name {
        "ENCRYPTION_KEY" => crate::common::secrets(name),
        "SIGNING_KEY" => crate::common::secrets(name),
        "SOCIAL_APPLE_KEY" => Some(include_str!("../fixtures/es256-test-key.pem").to_owned()),
        // The dev config signs its AuthnRequests with RSA: any RSA pair of the fixtures will do.
        "SAML_SP_KEY" => Some(include_str!("../fixtures/saml-harness/idp-key.pem").to_owned()),
        "SAML_SP_CERT" => Some(include_str!("../fixtures/saml-harness/idp-cert.pem").to_owned()),
        _ => Some("x".to_owned()),
    };
    let example = Config::load(include_str!("../../examples/static-site/keyedge.toml"), &any).unwrap();
    let dev = Config::load(include_str!("../../dev/keyedge.dev.toml"), &any).unwrap();
    let rules = |c: &Config| {
        let g = c.gate.as_ref().unwrap();
        g.rules
            .iter()
            .map(|r| format!("{} {} {:?} {:?}", r.path, r.public, r.require_roles, r.require_email_domains))
            .collect::<Vec<_>>()
    };
    assert_eq!(rules(&example), rules(&dev), "dev/keyedge.dev.toml's [gate] follows examples/static-site");
}

#[test]
fn a_resource_server_must_be_a_confidential_client() {
    let e = load(&replace("client_id = \"spa\"\n", "client_id = \"spa\"\nresource_server = true\n")).unwrap_err();
    assert!(e.contains("clients[1].resource_server") && e.contains("confidential"), "{e}");
    assert!(load(&replace("client_id = \"machine\"\n", "client_id = \"machine\"\nresource_server = true\n")).is_ok());
}

#[test]
fn options_of_another_kind_or_none_are_refused_with_their_path_and_line() {
    let e = up_with("user_id_claim = \"id\"").unwrap_err();
    assert!(e.contains("identity_providers[0].user_id_claim: applies to kind = \"oauth2\" only (line 28)"), "{e}");
    let e = up_with("allowed_clock_skw = 5").unwrap_err();
    assert!(e.contains("identity_providers[0].allowed_clock_skw: unknown field") && e.contains("(line 28)"), "{e}");
    let e = up_with("allowed_clock_skew = \"x\"").unwrap_err();
    assert!(e.contains("identity_providers[0].allowed_clock_skew: invalid type") && e.contains("(line 28)"), "{e}");
}

/// The storage conformance route writes test keys to the stores it runs against: local
/// development only.
#[test]
fn dev_storage_conformance_is_refused_with_an_https_issuer() {
    let dev = "\n[dev]\nstorage_conformance = true\n";
    let e = load(&format!("{}{dev}", crate::common::config_text())).unwrap_err();
    assert!(e.contains("dev.storage_conformance") && e.contains("https"), "{e}");
    let local = replace("issuer = \"https://keyedge.test\"", "issuer = \"http://localhost:8787\"");
    assert!(load(&format!("{local}{dev}")).unwrap().storage_conformance);
    assert!(!load(&local).unwrap().storage_conformance, "off by default");
    let e = load(&format!("{local}\n[dev]\nstorage_conformence = true\n")).unwrap_err();
    assert!(e.contains("unknown field `storage_conformence`"), "{e}");
}

/// The refresh-token policy (Keycloak's realm settings, plus the grace window): defaults, and
/// out-of-range values refused with the field named.
#[test]
fn refresh_token_policy_defaults_and_ranges() {
    let config = load(&crate::common::config_text()).unwrap();
    assert!(config.revoke_refresh_token);
    assert_eq!((config.refresh_token_grace_seconds, config.refresh_token_max_reuse), (5, 0));
    let issuer = "issuer = \"https://keyedge.test\"";
    let with = |lines: &str| load(&replace(issuer, &format!("{issuer}\n{lines}")));
    let set =
        with("revoke_refresh_token = false\nrefresh_token_grace_seconds = 0\nrefresh_token_max_reuse = 100").unwrap();
    assert!(!set.revoke_refresh_token);
    assert_eq!((set.refresh_token_grace_seconds, set.refresh_token_max_reuse), (0, 100));
    assert_eq!(with("refresh_token_grace_seconds = 60").unwrap().refresh_token_grace_seconds, 60);
    let e = with("refresh_token_grace_seconds = 61").unwrap_err();
    assert!(e.contains("refresh_token_grace_seconds: must be at most 60"), "{e}");
    let e = with("refresh_token_max_reuse = 101").unwrap_err();
    assert!(e.contains("refresh_token_max_reuse: must be at most 100"), "{e}");
    let e = with("refresh_token_max_reuse = -1").unwrap_err();
    assert!(e.contains("line 3") && e.contains("integer `-1`"), "{e}");
}
