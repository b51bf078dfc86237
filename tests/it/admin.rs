//! The admin API: token-protected; find users, remove identities, end sessions, export and
//! import users with their links as JSON lines.

use crate::common::*;
use keyedge::core::ports::Store;
use serde_json::Value;

fn world() -> World {
    let mut world = World::new();
    let text = config_text().replacen("issuer = ", "admin_token_env = \"ADMIN_TOKEN\"\nissuer = ", 1);
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();
    world
}

fn admin(world: &World, method: &str, path: &str, body: &str, token: &str) -> http::Response<Vec<u8>> {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{ISSUER}/admin/{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(body.as_bytes().to_vec())
        .unwrap();
    world.send(req)
}

fn get(world: &World, path: &str) -> Value {
    let res = admin(world, "GET", path, "", ADMIN_TOKEN);
    assert_eq!(res.status(), 200, "{}", body(&res));
    json(&res)
}

/// alice signs in (account page); returns her browser.
fn alice(world: &World) -> Browser {
    let mut browser = Browser::default();
    let at_idp = location(&browser.get(world, "/broker/up/login?return_to=%2Faccount"));
    browser.get(world, &world.idp.authorize(&at_idp, "alice"));
    browser
}

#[test]
fn the_api_is_off_without_a_token_and_refuses_wrong_tokens() {
    let off = World::new();
    assert_eq!(admin(&off, "GET", "users", "", ADMIN_TOKEN).status(), 404);
    let world = world();
    assert_eq!(admin(&world, "GET", "users", "", "wrong").status(), 401);
    assert_eq!(admin(&world, "GET", "users", "", "").status(), 401);
    let short = config_text().replacen("issuer = ", "admin_token_env = \"APP_SECRET\"\nissuer = ", 1);
    match keyedge::core::Keyedge::from_config_text(&short, &secrets) {
        Ok(_) => panic!("a short admin token was accepted"),
        Err(e) => assert!(e.to_string().contains("admin_token_env"), "{e}"),
    }
}

#[test]
fn users_are_found_by_email_username_and_identity() {
    let world = world();
    alice(&world);
    let by_email = get(&world, "users?email=ALICE%40example.com");
    let id = by_email["users"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(get(&world, "users?username=alice")["users"][0]["id"], id.as_str());
    assert_eq!(get(&world, "users?idp=up&sub=sub-alice")["users"][0]["id"], id.as_str());
    assert_eq!(get(&world, "users?email=nobody%40example.com")["users"].as_array().unwrap().len(), 0);
    assert_eq!(get(&world, "users")["users"].as_array().unwrap().len(), 1);
    let one = get(&world, &format!("users/{id}"));
    assert_eq!(one["user"]["links"][0]["alias"], "up");
    assert_eq!(one["sessions"].as_array().unwrap().len(), 1);
}

#[test]
fn sessions_can_be_ended_and_identities_removed() {
    let world = world();
    let mut browser = alice(&world);
    let id = get(&world, "users?username=alice")["users"][0]["id"].as_str().unwrap().to_owned();
    let res = admin(&world, "DELETE", &format!("users/{id}/sessions"), "", ADMIN_TOKEN);
    assert_eq!(json(&res)["ended"], 1);
    assert_eq!(location(&browser.get(&world, "/account")), "/login?return_to=%2Faccount");
    let res = admin(&world, "DELETE", &format!("users/{id}/links/up"), "", ADMIN_TOKEN);
    assert_eq!(res.status(), 200);
    assert!(futures::executor::block_on(world.store.get(&keyedge::core::keys::link("up", "sub-alice")))
        .unwrap()
        .is_none());
    assert_eq!(admin(&world, "DELETE", &format!("users/{id}/links/up"), "", ADMIN_TOKEN).status(), 404);
}

#[test]
fn export_then_import_into_an_empty_deployment_restores_users_and_links() {
    let world = world();
    alice(&world);
    let res = admin(&world, "GET", "export", "", ADMIN_TOKEN);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let lines = body(&res);
    assert_eq!(lines.lines().count(), 1);

    let fresh = world_fresh();
    let res = admin(&fresh, "POST", "import", &format!("{lines}not json\n"), ADMIN_TOKEN);
    let report = json(&res);
    assert_eq!(report["imported"], 1, "{report}");
    assert_eq!(report["skipped"][0]["line"], 2);
    // alice signs in on the new deployment and lands in her imported account.
    let mut browser = Browser::default();
    let at_idp = location(&browser.get(&fresh, "/broker/up/login?return_to=%2Faccount"));
    browser.get(&fresh, &fresh.idp.authorize(&at_idp, "alice"));
    let page = body(&browser.get(&fresh, "/account"));
    let id: Value = serde_json::from_str(lines.trim()).unwrap();
    assert!(page.contains(id["id"].as_str().unwrap()), "{page}");
    // Importing again is harmless; a record whose identity belongs to someone else is refused.
    assert_eq!(json(&admin(&fresh, "POST", "import", &lines, ADMIN_TOKEN))["imported"], 1);
    let mut thief: Value = id.clone();
    thief["id"] = Value::from("someone-else");
    thief["username"] = Value::from("thief");
    thief["email"] = Value::Null;
    let report = json(&admin(&fresh, "POST", "import", &thief.to_string(), ADMIN_TOKEN));
    assert_eq!(report["imported"], 0);
    assert!(
        report["skipped"][0]["reason"].as_str().unwrap().contains("identity up:sub-alice belongs to user"),
        "{report}"
    );
}

fn world_fresh() -> World {
    world()
}
