// Chooses the configuration file embedded into the Worker: $KEYEDGE_CONFIG, or keyedge.toml.
// It is validated when the Worker starts (and offline by `cargo run --bin keyedge -- check`).
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=KEYEDGE_CONFIG");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let chosen = std::env::var("KEYEDGE_CONFIG").unwrap_or_else(|_| "keyedge.toml".into());
    let path = manifest.join(chosen);
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rustc-env=KEYEDGE_CONFIG_PATH={}", path.display());
}
