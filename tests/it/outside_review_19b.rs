//! Holes an outside review of the per-IdP `http_timeout`, the dev fault switch and the
//! facebook, x and stackoverflow presets found, each performed as the attack; every test here
//! failed before its fix.

use crate::common::*;

fn with_issuer(issuer: &str, extra: &str) -> String {
    config_text().replace(&format!("issuer = \"{ISSUER}\""), &format!("issuer = \"{issuer}\"")) + extra
}

fn load_error(text: &str) -> String {
    keyedge::core::Keyedge::from_config_text(text, &secrets).err().map(|e| e.to_string()).unwrap_or_default()
}

/// The dev switches (`[dev] fault_injection`, `storage_conformance`, the dev inbox) and the
/// `Secure` cookies and HSTS hang on the issuer being https, which was read as "starts with
/// `https://`". An https issuer with its scheme written in capitals (`HTTPS://…`, a valid URL
/// that every check of the URL itself took for https) passed as plain http: `/dev/faults`
/// let anyone fail the production stores, and the cookies went without `Secure`.
#[test]
fn an_https_issuer_in_capitals_is_not_taken_for_local_development() {
    for issuer in ["HTTPS://keyedge.test", "Https://keyedge.test"] {
        for dev in ["fault_injection", "storage_conformance"] {
            let e = load_error(&with_issuer(issuer, &format!("\n[dev]\n{dev} = true\n")));
            assert!(!e.is_empty(), "{issuer}: dev.{dev} accepted");
        }
        // Without any dev switch, no https deployment goes without Secure cookies either.
        let e = load_error(&with_issuer(issuer, ""));
        assert!(e.contains("issuer"), "{issuer}: accepted, cookies not Secure: {e}");
    }
    // Lower case is what there is to write.
    assert_eq!(load_error(&with_issuer("https://keyedge.test", "")), "");
    assert_eq!(load_error(&with_issuer("http://localhost:8787", "\n[dev]\nfault_injection = true\n")), "");
}
