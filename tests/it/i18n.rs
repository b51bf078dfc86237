//! Page languages: `ui_locales`, then `Accept-Language`, else English.

use crate::common::*;
use keyedge::core::i18n::{negotiate, LANGUAGES};

#[test]
fn ui_locales_wins_then_accept_language_by_q_value() {
    assert_eq!(negotiate(Some("fr de-CH"), Some("en")).lang, "de");
    assert_eq!(negotiate(None, Some("fr;q=0.9, de;q=0.8, en;q=0.7")).lang, "de");
    assert_eq!(negotiate(None, Some("en;q=0.5, de-AT")).lang, "de");
    assert_eq!(negotiate(None, Some("de;q=0, en")).lang, "en");
    assert_eq!(negotiate(Some("ja"), Some("fr")).lang, "en");
    assert_eq!(negotiate(None, None).lang, "en");
}

#[test]
fn every_language_fills_its_placeholders() {
    for m in LANGUAGES {
        for pattern in [m.sign_in_with, m.to_continue_to, m.link_with, m.link_confirm_text] {
            assert_eq!(pattern.matches("{}").count(), 1, "{}: {pattern}", m.lang);
        }
    }
}

#[test]
fn the_login_page_speaks_german_when_asked() {
    let world = World::new();
    let rp = request_with(&[("ui_locales", "de")]);
    let html = body(&Browser::default().get(&world, &format!("/authorize?{}", rp.query)));
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(
        html.contains("Mit Upstream anmelden") && html.contains("um mit <strong>app</strong> fortzufahren"),
        "{html}"
    );

    let req = http::Request::get(format!("{ISSUER}/login?return_to=%2Faccount"))
        .header("accept-language", "de-DE,de;q=0.9,en;q=0.8")
        .body(vec![])
        .unwrap();
    let html = body(&world.send(req));
    assert!(html.contains("<h1>Anmelden</h1>"), "{html}");
    // English otherwise.
    let html = body(&Browser::default().get(&world, "/login?return_to=%2Faccount"));
    assert!(html.contains("<html lang=\"en\">") && html.contains("Sign in with Upstream"), "{html}");
}

#[test]
fn error_pages_are_localised_too() {
    let world = World::new();
    let req = http::Request::get(format!("{ISSUER}/broker/up/endpoint?state=x"))
        .header("accept-language", "de")
        .body(vec![])
        .unwrap();
    let html = body(&world.send(req));
    assert!(html.contains("Zurück zur Startseite"), "{html}");
}
