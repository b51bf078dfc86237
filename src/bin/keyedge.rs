//! The keyedge command line (native): `keyedge check [file]` validates a configuration
//! offline; `keyedge import-keycloak realm-export.json` converts a Keycloak realm's identity
//! providers, mappers and clients to keyedge configuration.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use std::path::PathBuf;
    use std::process::ExitCode;

    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => {
            let file = args
                .get(1)
                .cloned()
                .or_else(|| std::env::var("KEYEDGE_CONFIG").ok())
                .unwrap_or_else(|| "keyedge.toml".into());
            match keyedge::tools::check::check(&PathBuf::from(&file), Some(&PathBuf::from(".dev.vars"))) {
                Ok(notes) => {
                    for n in notes {
                        eprintln!("note: {n}");
                    }
                    println!("{file}: configuration is valid");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("import-keycloak") => {
            let allow_skipped = args.iter().any(|a| a == "--allow-skipped");
            let Some(path) = args.iter().skip(1).find(|a| !a.starts_with("--")) else {
                eprintln!("usage: keyedge import-keycloak [--allow-skipped] realm-export.json > idps.toml");
                return ExitCode::from(2);
            };
            match std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| keyedge::tools::keycloak::convert(&t))
            {
                Ok(c) => {
                    println!("# Converted from the Keycloak realm export {path} by `keyedge import-keycloak`.");
                    println!(
                        "# Review it, then merge it into keyedge.toml (top-level settings first, then the tables).\n"
                    );
                    print!("{}", c.toml);
                    for line in &c.report {
                        eprintln!("not carried over: {line}");
                    }
                    for s in &c.secrets {
                        eprintln!("secret: npx wrangler secret put {s}");
                    }
                    for line in &c.skipped {
                        eprintln!("skipped: {line}");
                    }
                    for line in &c.errors {
                        eprintln!("error: {line}");
                    }
                    if !c.errors.is_empty() {
                        eprintln!("import-keycloak: fix the errors above before using this configuration");
                        ExitCode::FAILURE
                    } else if !c.skipped.is_empty() && !allow_skipped {
                        eprintln!("import-keycloak: identity providers were skipped; run again with --allow-skipped to accept that");
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("{path}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!(
                "usage:\n  keyedge check [keyedge.toml]\n  keyedge import-keycloak [--allow-skipped] realm-export.json > idps.toml"
            );
            ExitCode::from(2)
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
