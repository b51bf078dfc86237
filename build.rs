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
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    // What the Worker carries only when its embedded configuration uses it (docs/configuration.md):
    // `cfg(name)` when `used` or natively (the tests and `keyedge check` have everything).
    let on = |name: &str, used: bool| {
        println!("cargo:rustc-check-cfg=cfg({name})");
        if !wasm || used {
            println!("cargo:rustc-cfg={name}");
        }
    };
    let uses = |check: fn(&toml::Table) -> bool| parsed.as_ref().is_ok_and(check);
    // SAML (cargo feature `saml`, on by default; in the Worker only with a `kind = "saml"` IdP:
    // no XML, XML-Signature or RSA code otherwise). Natively whenever the feature is on.
    let saml = std::env::var_os("CARGO_FEATURE_SAML").is_some() && (!wasm || uses(build_config::saml_configured));
    println!("cargo:rustc-check-cfg=cfg(keyedge_saml)");
    if saml {
        println!("cargo:rustc-cfg=keyedge_saml");
    }
    // RSA arithmetic in Rust (the `rsa` crate): natively, and in the Worker only with SAML.
    // Without it the Worker makes every RSA signature and check with WebCrypto.
    on("keyedge_rsa", saml);
    on("keyedge_regex", uses(build_config::regex_configured));
    on("keyedge_admin", uses(build_config::admin_configured));
    on("keyedge_gate", uses(build_config::gate_configured));
    on("keyedge_logout_tokens", uses(build_config::logout_tokens_configured));
    let presets = uses(build_config::presets_configured);
    on("keyedge_presets", presets);
    // OAuth 2.0 IdPs: `kind = "oauth2"`, and the presets built on them.
    on("keyedge_oauth2", presets || uses(build_config::oauth2_configured));
    on("keyedge_faults", uses(build_config::faults_configured));
    if wasm {
        let table = match parsed {
            Ok(table) => table,
            Err(e) => panic!("{} is not valid TOML: {e}", path.display()),
        };
        // What JSON cannot carry as the runtime reads it, refused here rather than read as
        // something else in the Worker (`keyedge check` refuses them too).
        if let Err(refused) = build_config::json_faithful(&table) {
            panic!("{}: {refused}", path.display());
        }
        let json = serde_json::to_string(&table).expect("a TOML table is JSON");
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("config.json");
        std::fs::write(&out, json).expect("writing config.json");
    }
}
