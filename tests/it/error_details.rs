//! Error details go to the operator's log, not to visitors (issue 14, item 14). An upstream's
//! error answer, a start-up error and internal error texts are logged under a short reference;
//! the visitor's page (or JSON) says what failed in general words and shows that reference,
//! so an operator can find the line.

use crate::common::*;
use keyedge::core::ports::memory::SeededRng;
use std::cell::RefCell;

/// What the broken upstream says when it refuses: a description an operator must see and a
/// visitor must not (it names a credential and an internal host).
const SECRET_DETAIL: &str = "client secret sk_live_51HxQ2 revoked; see db://admin:hunter2@10.0.0.5";

const BROKEN: &str = r#"
[[identity_providers]]
alias = "broken"
display_name = "Broken"
kind = "oauth2"
authorization_url = "https://broken.test/auth"
token_url = "https://broken.test/token"
userinfo_url = "https://broken.test/user"
client_id = "keyedge-at-broken"
client_secret_env = "IDP2_SECRET"
client_auth_method = "client_secret_post"
"#;

fn world_with_broken_upstream() -> World {
    let world = World::with("", "", BROKEN);
    world.http.mount("https://broken.test", |req| {
        let (status, body) = match req.uri().path() {
            "/token" => (400, serde_json::json!({"error": "invalid_client", "error_description": SECRET_DETAIL})),
            _ => (500, serde_json::json!({"error": "server_error", "trace": SECRET_DETAIL})),
        };
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
            .unwrap()
    });
    world
}

/// Starts a sign-in with `broken` and returns the callback URL an IdP would send the browser
/// to, with `query` added to its `state`.
fn callback_of_broken(world: &World, browser: &mut Browser, query: &str) -> String {
    let to_idp = browser.get(world, "/broker/broken/login?return_to=%2Faccount");
    let state = query_param(&location(&to_idp), "state").expect("a state");
    format!("/broker/broken/endpoint?state={state}&{query}")
}

#[test]
fn an_upstream_token_error_body_is_logged_not_shown_to_the_visitor() {
    let world = world_with_broken_upstream();
    let mut browser = Browser::default();
    let callback = callback_of_broken(&world, &mut browser, "code=abc");
    let res = browser.get(&world, &callback);
    assert_eq!(res.status(), 502);
    let page = body(&res);
    for secret in ["sk_live_51HxQ2", "hunter2", "10.0.0.5", "invalid_client"] {
        assert!(!page.contains(secret), "the page shows `{secret}`: {page}");
    }
    assert!(page.contains("refused to complete the sign-in"), "{page}");
    let reference = reference_in(&page);
    let line = logged(&world.log.borrow(), &reference);
    assert!(line.contains(SECRET_DETAIL), "{line}");
    assert!(line.contains("/broker/broken/endpoint") && line.contains("invalid_client"), "{line}");
}

#[test]
fn an_upstream_error_description_on_the_callback_is_logged_not_shown() {
    let world = world_with_broken_upstream();
    let mut browser = Browser::default();
    let described = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", "server_error")
        .append_pair("error_description", SECRET_DETAIL)
        .finish();
    let callback = callback_of_broken(&world, &mut browser, &described);
    let res = browser.get(&world, &callback);
    let page = body(&res);
    assert!(!page.contains("hunter2") && !page.contains("server_error"), "{page}");
    let line = logged(&world.log.borrow(), &reference_in(&page));
    assert!(line.contains(SECRET_DETAIL), "{line}");
}

#[test]
fn a_failed_id_token_check_names_the_check_in_the_log_only() {
    let world = World::new();
    *world.idp.tamper.borrow_mut() = Box::new(|c| c["nonce"] = serde_json::json!("other"));
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(&world, &mut Browser::default(), &rp.query, "alice");
    assert_eq!(res.status(), 502);
    let page = body(&res);
    assert!(!page.contains("does not match"), "{page}");
    assert!(page.contains("Try again"));
    let line = logged(&world.log.borrow(), &reference_in(&page));
    assert!(line.contains("nonce does not match"), "{line}");
}

#[test]
fn a_failed_refresh_of_stored_tokens_answers_without_the_upstreams_words() {
    let world = World::with("store_tokens = true\nstored_tokens_readable = true", "read_broker_tokens = true", "");
    *world.idp.access_lifetime.borrow_mut() = 60;
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    let tokens = json(&redeem(&world, &code, &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap();
    world.clock.advance(61);
    *world.idp.refuse_refresh.borrow_mut() = true;
    let req = http::Request::get(format!("{ISSUER}/broker/up/token"))
        .header("authorization", format!("Bearer {access}"))
        .body(vec![])
        .unwrap();
    let res = world.send(req);
    assert_eq!(res.status(), 409, "{}", body(&res));
    let error = json(&res);
    assert_eq!(error["error"], "token_refresh_failed");
    let description = error["error_description"].as_str().unwrap();
    assert!(!description.contains("refresh token revoked"), "{description}");
    let line = logged(&world.log.borrow(), &reference_in(description));
    assert!(line.contains("refresh token revoked"), "{line}");
}

#[test]
fn a_start_up_error_is_logged_and_visitors_get_a_reference_only() {
    let text = config_text().replace("client_secret_env = \"APP_SECRET\"", "client_secret_env = \"STRIPE_LIVE_KEY\"");
    let error = match keyedge::core::Keyedge::from_config_text(&text, &secrets) {
        Ok(_) => panic!("a missing secret was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("STRIPE_LIVE_KEY"), "{error}");
    // What the Worker answers when keyedge cannot start (src/edge: `error::cannot_serve`).
    let log = RefCell::new(Vec::new());
    let detail = format!("keyedge cannot start: {error}");
    let res = keyedge::core::error::cannot_serve(&detail, &SeededRng::new(3), &|l| log.borrow_mut().push(l.into()));
    assert_eq!(res.status(), 500);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = body(&res);
    for detail in ["STRIPE_LIVE_KEY", "invalid configuration", "clients", &error] {
        assert!(!page.contains(detail), "the page shows `{detail}`: {page}");
    }
    let line = logged(&log.borrow(), &reference_in(&page));
    assert!(line.contains(&error), "{line}");
}

#[test]
fn each_failure_has_its_own_reference() {
    let world = world_with_broken_upstream();
    let mut refs = Vec::new();
    for code in ["1", "2"] {
        let mut browser = Browser::default();
        let callback = callback_of_broken(&world, &mut browser, &format!("code={code}"));
        refs.push(reference_in(&body(&browser.get(&world, &callback))));
    }
    assert_ne!(refs[0], refs[1]);
}

#[test]
fn the_upstream_callbacks_code_and_state_work_once_and_are_not_carried_on() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login(&world, &mut browser, &rp.query);
    let callback = world.idp.authorize(&at_idp, "alice");
    let upstream_code = query_param(&callback, "code").unwrap();
    let upstream_state = query_param(&callback, "state").unwrap();
    let done = browser.get(&world, &callback);
    let onward = location(&done);
    assert!(onward.starts_with(APP_REDIRECT), "{onward}");
    assert!(!onward.contains(&upstream_code) && !onward.contains(&upstream_state), "{onward}");
    // The logged callback URL is spent: replayed (as anyone reading the logs could), it is refused.
    let again = browser.get(&world, &callback);
    assert_eq!(again.status(), 400, "{}", body(&again));
    assert!(location(&again).is_empty());
}

#[test]
fn why_a_back_channel_logout_token_was_refused_is_logged_not_answered() {
    let world = World::with("accept_logout_tokens = true", "", "");
    let token = world.idp.logout_token("alice", |c| c["aud"] = serde_json::json!("someone-else"));
    let res = world.post_form("/broker/up/backchannel_logout", &[("logout_token", &token)], None);
    assert_eq!(res.status(), 400);
    let error = json(&res);
    assert_eq!(error["error"], "invalid_request");
    let description = error["error_description"].as_str().unwrap();
    assert!(!description.contains("another client"), "{description}");
    let line = world.logged_for(description);
    assert!(line.contains("issued for another client"), "{line}");
}

/// A broken invariant is a bug, not an outage: the visitor gets a `500` page with a
/// reference (not "temporarily unavailable, try again"), the log gets the detail under it.
#[test]
fn an_internal_error_is_a_500_with_a_reference_and_its_detail_in_the_log() {
    let world = World::new();
    let log = |line: &str| world.log.borrow_mut().push(line.to_owned());
    let jobs = keyedge::core::ports::Jobs::default();
    let req = http::Request::get(format!("{ISSUER}/account")).body(Vec::new()).unwrap();
    let failure = keyedge::core::error::Failure::internal("invariant broken: grant g1 has no client");
    let res = world.app.failure_response(&req, &world.ports(&log, &jobs), failure);
    assert_eq!(res.status(), 500);
    let page = body(&res);
    assert!(!page.contains("invariant") && !page.contains("try again"), "{page}");
    assert!(world.logged_for(&page).contains("invariant broken: grant g1 has no client"));
}
