//! `keyedge check [file]`: validates a configuration file offline, as the Worker would at
//! start, with messages naming the file, the field and the fix.
//!
//! Secrets come from the environment or `.dev.vars`; a secret found in neither is assumed to
//! be set with `wrangler secret put` and listed as a reminder, so the file's own mistakes are
//! still all found.

use std::collections::BTreeSet;
use std::path::Path;

/// What `check` found: `Err` is the message to print (and a failing exit status).
pub fn check(file: &Path, dev_vars: Option<&Path>) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    let vars = dev_vars.and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
    let from_dev_vars = |name: &str| {
        vars.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').to_owned())
        })
    };
    let assumed = std::cell::RefCell::new(BTreeSet::new());
    let lookup = |name: &str| -> Option<String> {
        std::env::var(name).ok().or_else(|| from_dev_vars(name)).or_else(|| {
            assumed.borrow_mut().insert(name.to_owned());
            None
        })
    };
    // First pass: the file's structure, with every missing secret standing in as present.
    let lenient = |name: &str| lookup(name).or_else(|| Some("set-with-wrangler-secret-put".into()));
    crate::core::config::Config::load(&text, &lenient).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut notes: Vec<String> = Vec::new();
    let missing = assumed.borrow().clone();
    if missing.is_empty() {
        // Every secret is at hand: check keys and the encryption key exactly as the Worker will,
        // and each private key whole (the Worker leaves that to its first use).
        let app =
            crate::core::Keyedge::from_config_text(&text, &lookup).map_err(|e| format!("{}: {e}", file.display()))?;
        app.check_private_keys().map_err(|e| format!("{}: {e}", file.display()))?;
    } else {
        for name in &missing {
            notes.push(format!("secret `{name}` is not in the environment or .dev.vars: set it with `npx wrangler secret put {name}` before deploying"));
        }
    }
    Ok(notes)
}
