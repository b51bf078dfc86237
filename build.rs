// Chooses the configuration file embedded into the Worker: $KEYEDGE_CONFIG, or keyedge.toml.
// It is validated when the Worker starts (and offline by `cargo run --bin keyedge -- check`).
// Natively the TOML itself is embedded; for the Worker (wasm32) it is written here as JSON
// into $OUT_DIR/config.json, so the Worker carries no TOML parser.
use std::path::PathBuf;

#[path = "src/build_config.rs"]
mod build_config;

fn main() {
    println!("cargo:rerun-if-env-changed=KEYEDGE_CONFIG");
    println!("cargo:rerun-if-changed=src/build_config.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let chosen = std::env::var("KEYEDGE_CONFIG").unwrap_or_else(|_| "keyedge.toml".into());
    let path = manifest.join(chosen);
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rustc-env=KEYEDGE_CONFIG_PATH={}", path.display());
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let parsed = text.parse::<toml::Table>();
    // The storage conformance run (`[dev] storage_conformance`, `/dev/conformance`) is compiled
    // into the Worker only when the embedded configuration turns it on, with a local issuer
    // (any other is refused here). Native builds (the tests) always have it.
    println!("cargo:rustc-check-cfg=cfg(keyedge_storage_conformance)");
    let conformance = match parsed.as_ref().map(build_config::storage_conformance) {
        Ok(Err(refused)) => panic!("{}: {refused}", path.display()),
        Ok(Ok(on)) => on,
        Err(_) => false,
    };
    if conformance {
        println!("cargo:rustc-cfg=keyedge_storage_conformance");
    }
    // SAML (cargo feature `saml`, on by default) is compiled into the Worker only when the
    // embedded configuration has a SAML identity provider (`kind = "saml"`): the Worker of any
    // other configuration carries none of its code (XML, XML-Signature, RSA). Native builds
    // (the tests, `keyedge check`) have it whenever the feature is on.
    println!("cargo:rustc-check-cfg=cfg(keyedge_saml)");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    let saml_configured = parsed.as_ref().is_ok_and(build_config::saml_configured);
    let saml = std::env::var_os("CARGO_FEATURE_SAML").is_some() && (!wasm || saml_configured);
    if saml {
        println!("cargo:rustc-cfg=keyedge_saml");
    }
    // RSA arithmetic in Rust (the `rsa` crate): natively, and in the Worker only with SAML.
    // Without it the Worker makes every RSA signature and check with WebCrypto.
    println!("cargo:rustc-check-cfg=cfg(keyedge_rsa)");
    if !wasm || saml {
        println!("cargo:rustc-cfg=keyedge_rsa");
    }
    // The regex engine, the admin API, the gate and the check of upstream logout tokens
    // likewise: in the Worker only when the configuration has a mapper with `regex = true` /
    // sets `admin_token_env` / has a `[gate]` / an IdP with `accept_logout_tokens = true`;
    // natively always.
    println!("cargo:rustc-check-cfg=cfg(keyedge_regex)");
    if !wasm || parsed.as_ref().is_ok_and(build_config::regex_configured) {
        println!("cargo:rustc-cfg=keyedge_regex");
    }
    println!("cargo:rustc-check-cfg=cfg(keyedge_admin)");
    if !wasm || parsed.as_ref().is_ok_and(build_config::admin_configured) {
        println!("cargo:rustc-cfg=keyedge_admin");
    }
    println!("cargo:rustc-check-cfg=cfg(keyedge_gate)");
    if !wasm || parsed.as_ref().is_ok_and(build_config::gate_configured) {
        println!("cargo:rustc-cfg=keyedge_gate");
    }
    println!("cargo:rustc-check-cfg=cfg(keyedge_logout_tokens)");
    if !wasm || parsed.as_ref().is_ok_and(build_config::logout_tokens_configured) {
        println!("cargo:rustc-cfg=keyedge_logout_tokens");
    }
    println!("cargo:rustc-check-cfg=cfg(keyedge_presets)");
    let presets = parsed.as_ref().is_ok_and(build_config::presets_configured);
    if !wasm || presets {
        println!("cargo:rustc-cfg=keyedge_presets");
    }
    // OAuth 2.0 IdPs (`kind = "oauth2"`, and the presets built on them).
    println!("cargo:rustc-check-cfg=cfg(keyedge_oauth2)");
    if !wasm || presets || parsed.as_ref().is_ok_and(build_config::oauth2_configured) {
        println!("cargo:rustc-cfg=keyedge_oauth2");
    }
    // The development fault switch (`[dev] fault_injection`, `/dev/faults`) likewise.
    println!("cargo:rustc-check-cfg=cfg(keyedge_faults)");
    if !wasm || parsed.as_ref().is_ok_and(build_config::faults_configured) {
        println!("cargo:rustc-cfg=keyedge_faults");
    }
    if wasm {
        let table = match parsed {
            Ok(table) => table,
            Err(e) => panic!("{} is not valid TOML: {e}", path.display()),
        };
        let json = serde_json::to_string(&table).expect("a TOML table is JSON");
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("config.json");
        std::fs::write(&out, json).expect("writing config.json");
    }
}
