//! Attacks found by the second outside review of issue 14 (on the fixes, and on areas the
//! first review did not test), each performed through keyedge's real routes; every one
//! failed before its fix. Listed in docs/security.md.

use crate::common::*;
use serde_json::{json, Value};

type Response = http::Response<Vec<u8>>;

// ---------------------------------------------------------------------------------------
// 1. The sign-out question leaks the session's CSRF token to a gated page's script.
// ---------------------------------------------------------------------------------------

/// `user` signed in through `up`, with the identity `second_user` at `second` linked too.
fn alice_with_two_identities(world: &World, idp2: &crate::common::fake_idp::FakeIdp) -> Browser {
    let mut alice = Browser::default();
    let at_idp = location(&alice.get(world, "/broker/up/login?return_to=%2Faccount"));
    let done = alice.get(world, &world.idp.authorize(&at_idp, "alice"));
    assert_eq!(location(&done), "/account", "{}", body(&done));
    assert_eq!(alice.get(world, "/account").status(), 200);
    let at_idp2 = location(&alice.post(world, "/broker/second/link"));
    alice.get(world, &idp2.authorize(&at_idp2, "alice2"));
    alice.get(world, "/account");
    assert!(alice.page.contains("/account/unlink/up"), "two identities: {}", alice.page);
    alice
}

/// What a browser sends for `window.open(path)` or a top-level form post from a page on
/// keyedge's own origin (a gated site's page).
fn same_origin_navigation(
    browser: &Browser,
    method: &str,
    path: &str,
    form: &[(&str, &str)],
) -> http::Request<Vec<u8>> {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("{ISSUER}{path}"))
        .header("cookie", browser.cookie_header())
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document");
    if method == "POST" {
        req = req.header("origin", ISSUER).header("content-type", "application/x-www-form-urlencoded");
    }
    req.body(body.into_bytes()).unwrap()
}

/// A script on a gated page (same origin as keyedge) cannot `fetch` the account page or
/// frame it, and `window.open("/account")` gives it no handle (COOP). But
/// `w = window.open("/logout")` is a top-level navigation too, and the sign-out question is
/// served without `Cross-Origin-Opener-Policy`: the opener reads `w.document` and takes the
/// session's CSRF token — the one token of every account form. With it the script submits a
/// top-level form to `/account/unlink/up` (or `/broker/{alias}/link`, or ends sessions).
#[test]
fn a_gated_pages_script_cannot_take_the_session_token_from_the_sign_out_question() {
    let world = World::with("", "", &second_idp(""));
    let idp2 = world.mount_second_idp();
    let alice = alice_with_two_identities(&world, &idp2);
    // w = window.open("/logout")
    let question = world.send(same_origin_navigation(&alice, "GET", "/logout", &[]));
    assert_eq!(question.status(), 200, "{}", body(&question));
    let isolated = question
        .headers()
        .get("cross-origin-opener-policy")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("same-origin"));
    // The opener can read the opened page only when it is not isolated from it.
    let stolen = if isolated {
        None
    } else {
        forms(&body(&question)).into_iter().flat_map(|(_, h)| h).find(|(k, _)| k == "csrf").map(|(_, v)| v)
    };
    if let Some(token) = stolen {
        // A top-level form post from the gated page, with the token read from the popup.
        let res = world.send(same_origin_navigation(&alice, "POST", "/account/unlink/up", &[("csrf", &token)]));
        let mut probe = alice.clone();
        probe.get(&world, "/account");
        assert!(
            probe.page.contains("/account/unlink/up"),
            "the gated page's script read the sign-out question (no COOP) and unlinked alice's `up` identity \
             with its token (answer {} {})",
            res.status(),
            location(&res)
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. case_insensitive_paths folds with to_lowercase; origins fold by upper case.
// ---------------------------------------------------------------------------------------

const ORIGIN: &str = "https://origin.test";

/// An origin that ignores case the way Java's `equalsIgnoreCase`, .NET's
/// `OrdinalIgnoreCase` and NTFS's upcase table do: by comparing upper-case forms. `ſ`
/// (U+017F) upper-cases to `S`, `ı` (U+0131) to `I`.
fn upper_folding_origin(req: http::Request<Vec<u8>>) -> Response {
    let path = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy().to_uppercase();
    let page = if path == "/STAFF" || path.starts_with("/STAFF/") || path.starts_with("/ADMIN/") {
        "<h1>Staff area</h1>".to_owned()
    } else {
        format!("<p>page {path}</p>")
    };
    http::Response::builder().status(200).header("content-type", "text/html").body(page.into_bytes()).unwrap()
}

/// A site declared `case_insensitive_paths = true`: `/STAFF/` is refused, but
/// `/%C5%BFtaff/` (`/ſtaff/`) lower-cases to itself, matches no rule, and the origin serves
/// the staff area for it. Same for `/adm%C4%B1n/` (`/admın/`).
#[test]
fn a_case_insensitive_origin_gets_no_staff_page_under_a_unicode_spelling() {
    let rules = r#"
[[gate.rules]]
path = "/public/*"
allow = "anyone"

[[gate.rules]]
path = "/staff/*"
require_roles = ["staff"]

[[gate.rules]]
path = "/admin/*"
require_roles = ["staff"]
"#;
    let world = World::with(
        STAFF_MAPPER,
        "",
        &format!("[gate]\nupstream = \"{ORIGIN}\"\nidentity_headers = true\ncase_insensitive_paths = true\n{rules}"),
    );
    world.http.mount(ORIGIN, upper_folding_origin);
    let alice = signed_in(&world, "alice");
    assert_eq!(get_raw(&world, &alice, "/STAFF/").status(), 403, "the ASCII spelling is refused");
    for path in ["/%C5%BFtaff/", "/%C5%BFtaff/report.html", "/adm%C4%B1n/"] {
        let res = get_raw(&world, &alice, path);
        assert!(
            !body(&res).contains("Staff area"),
            "{path}: alice (no staff role) got the staff area from a case-insensitive origin ({})",
            res.status()
        );
    }
}

// ---------------------------------------------------------------------------------------
// 3. An exact restricting rule does not cover PATH_INFO addresses of the same page.
// ---------------------------------------------------------------------------------------

/// An exact rule on `/admin.php`; everything else is public. PHP (Apache `AcceptPathInfo`,
/// nginx `fastcgi_split_path_info`) runs `/admin.php` for `/admin.php/anything`: the gate
/// matches the exact key only and serves it to anyone.
#[test]
fn an_exact_rule_covers_the_path_info_addresses_of_its_script() {
    let gate = format!(
        "[gate]\nupstream = \"{ORIGIN}\"\n\n[[gate.rules]]\npath = \"/admin.php\"\nrequire_roles = [\"staff\"]\n\n\
         [[gate.rules]]\npath = \"/*\"\nallow = \"anyone\"\n"
    );
    let world = World::with("", "", &gate);
    world.http.mount(ORIGIN, |req| {
        let path = req.uri().path();
        let page =
            if path == "/admin.php" || path.starts_with("/admin.php/") { "<h1>Admin</h1>" } else { "<p>page</p>" };
        http::Response::builder()
            .status(200)
            .header("content-type", "text/html")
            .body(page.as_bytes().to_vec())
            .unwrap()
    });
    let visitor = Browser::default();
    assert_ne!(get_raw(&world, &visitor, "/admin.php").status(), 200, "the honest address is protected");
    for path in ["/admin.php/", "/admin.php/x", "/admin.php/users/delete"] {
        let res = get_raw(&world, &visitor, path);
        assert!(!body(&res).contains("<h1>Admin</h1>"), "{path}: a visitor ran the admin script ({})", res.status());
    }
}

// ---------------------------------------------------------------------------------------
// 4. Step-up through an IdP without auth_time: an ordinary login first makes it fresh.
// ---------------------------------------------------------------------------------------

fn via_up(world: &World, browser: &mut Browser, extra: &[(&str, &str)]) -> (Response, RpRequest) {
    let mut params = vec![("kc_idp_hint", "up")];
    params.extend_from_slice(extra);
    let rp = request_with(&params);
    let to_broker = browser.get(world, &format!("/authorize?{}", rp.query));
    if location(&to_broker).starts_with(APP_REDIRECT) {
        return (to_broker, rp);
    }
    let to_idp = browser.get(world, &location(&to_broker));
    let callback = world.idp.authorize(&location(&to_idp), "alice");
    (browser.get(world, &callback), rp)
}

/// `Some(auth_time)` when keyedge answered with a code, `None` for an error.
fn auth_time_of(world: &World, res: &Response, rp: &RpRequest) -> Option<i64> {
    let code = query_param(&location(res), "code")?;
    id_claims(&json(&redeem(world, &code, &rp.verifier)))["auth_time"].as_i64()
}

/// Someone at the keyboard of a browser where the user's upstream session (GitHub's, say)
/// still lives, an hour after the user last signed in. A step-up with `max_age=60` straight
/// away keeps the old `auth_time` (the fix of issue 14, item 5). But an ordinary login first
/// — the very same silent round trip to the IdP, with no more evidence — is given
/// `auth_time = now`, and the step-up that follows "keeps" that: the client is told the user
/// authenticated within the last minute, though nobody did.
#[test]
fn an_ordinary_login_first_does_not_turn_an_unproven_step_up_into_a_fresh_login() {
    let mut failures = Vec::new();
    for world in [oauth2_world(""), World::new()] {
        *world.idp.tamper.borrow_mut() = Box::new(|c: &mut Value| {
            c.as_object_mut().map(|o| o.remove("auth_time"));
        });
        let oauth2 = world.app.config.provider("gh").is_some();
        let sign_in = |browser: &mut Browser, extra: &[(&str, &str)]| {
            if oauth2 {
                via_gh(&world, browser, extra)
            } else {
                via_up(&world, browser, extra)
            }
        };
        let mut browser = Browser::default();
        let (res, rp) = sign_in(&mut browser, &[]);
        assert_eq!(auth_time_of(&world, &res, &rp), Some(START));
        world.clock.advance(3600);
        // The defence of issue 14 holds for a step-up straight away ...
        let (res, rp) = sign_in(&mut browser.clone(), &[("max_age", "60")]);
        let direct = auth_time_of(&world, &res, &rp);
        assert!(direct.is_none_or(|t| t < START + 3600 - 60), "oauth2 {oauth2}: direct step-up {direct:?}");
        // ... but not with a sign-out and an ordinary login in between (no prompt, no
        // max_age): the IdP answers it from the same old session.
        browser.get(&world, "/logout");
        browser.post(&world, "/logout");
        let (res, rp) = sign_in(&mut browser, &[]);
        assert!(auth_time_of(&world, &res, &rp).is_some(), "oauth2 {oauth2}: the ordinary login");
        world.clock.advance(5);
        let (res, rp) = sign_in(&mut browser, &[("max_age", "60")]);
        let now = keyedge::core::ports::Clock::now(&world.clock);
        let stepped = auth_time_of(&world, &res, &rp);
        if stepped.is_some_and(|t| now - t <= 60) {
            failures.push(format!(
                "{}: the step-up answered max_age=60 with auth_time {stepped:?} (now {now}), \
                 though the IdP proved no login since {START}",
                if oauth2 { "plain OAuth2 IdP" } else { "OIDC IdP without auth_time" }
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------
// 5. Back-channel logout tokens are not signature-checked where ID tokens are not.
// ---------------------------------------------------------------------------------------

/// `validate_signature = false` is documented for ID tokens, which come straight from the
/// token endpoint over TLS. Logout tokens went through the same check — but anyone may post
/// one to `/broker/{alias}/backchannel_logout`: a token with a made-up signature, naming the
/// victim's upstream `sub`, ended every session of the victim. Now the configuration is
/// refused, and the Keycloak importer does not accept logout tokens from such an IdP.
#[test]
fn a_forged_logout_token_ends_no_session_where_id_token_signatures_are_not_checked() {
    let text = ConfigBuilder::new().up("validate_signature = false\naccept_logout_tokens = true").build();
    let Err(e) = keyedge::core::Keyedge::from_config_text(&text, &secrets) else {
        panic!("an IdP whose logout tokens nobody checks was accepted");
    };
    assert!(e.to_string().contains("identity_providers[0].accept_logout_tokens"), "{e}");
    let export = r#"{"realm": "r", "identityProviders": [{"alias": "corp", "providerId": "oidc",
        "config": {"issuer": "https://corp.example", "clientId": "k", "validateSignature": "false",
                   "backchannelSupported": "true", "useJwksUrl": "true"}}]}"#;
    let c = keyedge::tools::keycloak::convert(export).unwrap();
    assert!(!c.toml.contains("accept_logout_tokens"), "{}", c.toml);
    assert!(c.report.iter().any(|r| r.contains("logout tokens from it are not accepted")), "{:?}", c.report);
}

// ---------------------------------------------------------------------------------------
// 6. Linking skips the IdP's post-login flow, and its mappers grant the role anyway.
// ---------------------------------------------------------------------------------------

/// The canonical set-up: a company IdP (`second`, a Google Workspace-like IdP that also has
/// personal accounts) restricted by a post-login flow to verified `corp.example` addresses,
/// and a `hardcoded_role` mapper giving everyone who comes through it the `employee` role
/// (which gate rules then require). Mallory has a personal account at that IdP
/// (`mallory@example.com`): signing in with it is refused. But she signs in with `up`, and
/// on the account page links that same refused identity: the callback's link branch returns
/// before the post-login flow is checked, and linking runs the IdP's mappers as a first
/// login. She is an `employee`.
#[test]
fn linking_an_identity_that_the_post_login_flow_refuses_grants_nothing() {
    let second = format!(
        "{}post_login_flow = \"corp only\"\n\n[[identity_providers.mappers]]\nname = \"employees\"\n\
         kind = \"hardcoded_role\"\nrole = \"employee\"\n\n[[post_login_flows]]\nalias = \"corp only\"\n\
         require_email_domains = [\"corp.example\"]\n",
        second_idp("")
    );
    let world = World::with("", "", &second);
    let idp2 = world.mount_second_idp();
    // Signing in with the personal account at `second` is refused.
    let mut other = Browser::default();
    let at_idp2 = location(&other.get(&world, "/broker/second/login?return_to=%2Faccount"));
    let refused = other.get(&world, &idp2.authorize(&at_idp2, "mallory"));
    assert_eq!(refused.status(), 403, "the post-login flow refuses mallory@example.com: {}", body(&refused));
    // Linking it from the account page of an account made with `up`.
    let mut mallory = Browser::default();
    let at_idp = location(&mallory.get(&world, "/broker/up/login?return_to=%2Faccount"));
    mallory.get(&world, &world.idp.authorize(&at_idp, "mallory"));
    assert_eq!(mallory.get(&world, "/account").status(), 200);
    let at_idp2 = location(&mallory.post(&world, "/broker/second/link"));
    let linked = mallory.get(&world, &idp2.authorize(&at_idp2, "mallory"));
    let users: Vec<Value> = world
        .store
        .keys()
        .iter()
        .filter(|k| k.starts_with("user:"))
        .filter_map(|k| world.kv(k))
        .filter_map(|j| serde_json::from_str(&j).ok())
        .collect();
    let employees: Vec<&Value> =
        users.iter().filter(|u| u["roles"].as_array().is_some_and(|r| r.iter().any(|r| r == "employee"))).collect();
    let second_links: Vec<&Value> = users
        .iter()
        .filter(|u| u["links"].as_array().is_some_and(|l| l.iter().any(|l| l["alias"] == "second")))
        .collect();
    assert!(
        employees.is_empty() && second_links.is_empty(),
        "linking an identity the post-login flow refuses (answer {} {}): linked {second_links:?}, employees {employees:?}",
        linked.status(),
        location(&linked)
    );
}

// ---------------------------------------------------------------------------------------
// 7. Admin import: a line whose id belongs to another user is merged into that account.
// ---------------------------------------------------------------------------------------

/// `docs/admin.md`/`import_one`: "a line whose identity, username or email belongs to another
/// user is skipped whole and reported, never merged". The user id is not among what is
/// claimed: a line (from another deployment's export, say) that carries an existing user's id
/// with its own identity, username and email overwrites that record, while the existing
/// user's identity still leads to it. Alice then signs in to Eve's account (and Eve to the
/// record that alice's identity opens).
#[test]
fn an_imported_line_with_another_users_id_is_skipped_not_merged() {
    let mut world = World::new();
    let text = config_text().replacen("issuer = ", "admin_token_env = \"ADMIN_TOKEN\"\nissuer = ", 1);
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();
    let mut alice = Browser::default();
    let at_idp = location(&alice.get(&world, "/broker/up/login?return_to=%2Faccount"));
    alice.get(&world, &world.idp.authorize(&at_idp, "alice"));
    let id = world.store.keys().iter().find_map(|k| k.strip_prefix("user:").map(str::to_owned)).unwrap();
    let eve = json!({
        "id": id, "username": "eve", "email": "eve@elsewhere.example", "email_verified": true,
        "roles": ["admin"], "created_at": START,
        "links": [{ "alias": "up", "sub": "sub-eve", "username": "eve", "linked_at": START }],
    });
    let req = http::Request::post(format!("{ISSUER}/admin/import"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(format!("{eve}\n").into_bytes())
        .unwrap();
    let res = world.send(req);
    let answer = json(&res);
    let record: Value = serde_json::from_str(&world.kv(&format!("user:{id}")).unwrap()).unwrap();
    assert!(
        record["username"] == "alice" && answer["imported"] == 0,
        "the import overwrote alice's account {id} with another user's line (answer {answer}); \
         alice's identity now opens: {record}"
    );
}

// ---------------------------------------------------------------------------------------
// Checked and held: the upstream callback is bound to its IdP and its browser.
// ---------------------------------------------------------------------------------------

/// Mix-up (RFC 9207) and replay: a callback of `second` delivered at `up`'s endpoint, a
/// callback naming another issuer in `iss`, and a callback replayed in another browser or a
/// second time, all sign no one in.
#[test]
fn held_upstream_callbacks_are_bound_to_their_idp_and_browser() {
    let world = World::with("", "", &second_idp(""));
    let idp2 = world.mount_second_idp();
    let signed_in_now = |b: &Browser| b.clone().get(&world, "/account").status() == 200;
    // second's callback at up's endpoint.
    let mut browser = Browser::default();
    let at_idp2 = location(&browser.get(&world, "/broker/second/login?return_to=%2Faccount"));
    let cb = idp2.authorize(&at_idp2, "alice");
    let moved = cb.replace("/broker/second/endpoint", "/broker/up/endpoint");
    let res = browser.get(&world, &moved);
    assert!(res.status().is_client_error() && !signed_in_now(&browser), "mix-up: {}", res.status());
    // iss of another IdP at the right endpoint.
    let mut browser = Browser::default();
    let at_idp2 = location(&browser.get(&world, "/broker/second/login?return_to=%2Faccount"));
    let cb = idp2.authorize(&at_idp2, "alice");
    let res = browser.get(&world, &format!("{cb}&iss=https%3A%2F%2Fidp.test"));
    assert!(!res.status().is_redirection() && !signed_in_now(&browser), "iss: {}", res.status());
    // Replay in another browser, and twice in the same one.
    let mut browser = Browser::default();
    let at_idp = location(&browser.get(&world, "/broker/up/login?return_to=%2Faccount"));
    let cb = world.idp.authorize(&at_idp, "alice");
    let mut attacker = Browser::default();
    attacker.get(&world, &cb);
    assert!(!signed_in_now(&attacker), "another browser");
    let mut copy = browser.clone();
    browser.get(&world, &cb);
    assert!(signed_in_now(&browser));
    copy.get(&world, &cb);
    assert!(!signed_in_now(&copy), "second use");
}
