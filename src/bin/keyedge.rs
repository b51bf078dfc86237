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
            let Some(path) = args.get(1) else {
                eprintln!("usage: keyedge import-keycloak realm-export.json > idps.toml");
                return ExitCode::from(2);
            };
            match std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| keyedge::tools::keycloak::convert(&t))
            {
                Ok(c) => {
                    println!("# Converted from the Keycloak realm export {path} by `keyedge import-keycloak`.");
                    println!("# Review it, then append it to keyedge.toml.\n");
                    print!("{}", c.toml);
                    for line in &c.report {
                        eprintln!("not carried over: {line}");
                    }
                    for s in &c.secrets {
                        eprintln!("secret: npx wrangler secret put {s}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{path}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!(
                "usage:\n  keyedge check [keyedge.toml]\n  keyedge import-keycloak realm-export.json > idps.toml"
            );
            ExitCode::from(2)
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
