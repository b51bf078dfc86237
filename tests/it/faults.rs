//! Faults (issue 19, item 4): storage failing at any step of a request leaves nothing
//! half-written. The visitor gets a readable answer (never a 500), and doing it again works:
//! one account, linked, every index naming an account that exists.

use crate::common::*;

fn kv_ops(world: &World) -> usize {
    world.store.reads.get() + world.store.writes.get() + world.store.lists.get()
}

/// Every KV index names a user that exists, and (`linked`) every user is reachable from a
/// link. Right after a fault, a user may lack its KV link: the account is whole in the
/// Durable Object, and the next sign-in writes the link (checked after it).
fn assert_whole(world: &World, when: &str, linked: bool) {
    let keys = world.store.keys();
    let users: Vec<&String> = keys.iter().filter(|k| k.starts_with("user:")).collect();
    for key in keys.iter().filter(|k| k.starts_with("link:") || k.starts_with("username:") || k.starts_with("email:")) {
        let owner = world.store.settled(key).unwrap();
        assert!(world.store.settled(&format!("user:{owner}")).is_some(), "{when}: {key} names missing user {owner}");
    }
    for user in users.into_iter().filter(|_| linked) {
        let id = user.trim_start_matches("user:");
        let linked =
            keys.iter().filter(|k| k.starts_with("link:")).any(|k| world.store.settled(k).as_deref() == Some(id));
        assert!(linked, "{when}: {user} has no link");
    }
}

fn sign_in(world: &World) -> http::Response<Vec<u8>> {
    let rp = rp_request("app", APP_REDIRECT);
    login(world, &mut Browser::default(), &rp.query, "alice")
}

/// Which storage fails: KV (refusing a call, or making a write and losing its answer on the
/// way back), or the Durable Object (refusing a call, or making it and losing its answer).
#[derive(Clone, Copy, Debug)]
enum Failing {
    Kv,
    KvWriteAnswerLost,
    DurableObject,
    DurableObjectAnswerLost,
}

impl Failing {
    fn ops(self, world: &World) -> usize {
        match self {
            Failing::Kv => kv_ops(world),
            Failing::KvWriteAnswerLost => world.store.writes.get(),
            Failing::DurableObject | Failing::DurableObjectAnswerLost => world.once.calls.get(),
        }
    }

    /// Plans the fault of the operation after the next `n`.
    fn plan(self, world: &World, n: usize) {
        match self {
            Failing::Kv => world.store.fail_after(n),
            Failing::KvWriteAnswerLost => world.store.lose_write_answer_after(n),
            Failing::DurableObject => world.once.fail_after(n),
            Failing::DurableObjectAnswerLost => world.once.lose_answer_after(n),
        }
    }

    /// Whether the planned fault is still to come.
    fn pending(self, world: &World) -> bool {
        match self {
            Failing::Kv | Failing::KvWriteAnswerLost => world.store.fault_pending(),
            Failing::DurableObject | Failing::DurableObjectAnswerLost => world.once.fault_pending(),
        }
    }
}

/// For each storage operation of a first login in turn: that operation fails; the visitor
/// gets a readable answer, nothing points at an account that does not exist, and signing in
/// again works, with one account, whole.
fn a_fault_at_any_step_of_a_first_login_leaves_nothing_half_written(failing: Failing) {
    let probe = World::new();
    let before = failing.ops(&probe);
    assert!(query_param(&location(&sign_in(&probe)), "code").is_some());
    let steps = failing.ops(&probe) - before;
    assert!(steps >= 3, "a first login takes {steps} {failing:?} operations");
    for n in 0..steps {
        let world = World::new();
        failing.plan(&world, n);
        let failed = sign_in(&world);
        let pending = failing.pending(&world);
        let at = format!("a fault at {failing:?} operation {n}");
        assert!(!pending, "{at} was not reached");
        assert_ne!(failed.status(), 500, "{at}: {}", body(&failed));
        assert_whole(&world, &format!("after {at}"), false);
        let again = sign_in(&world);
        assert!(
            query_param(&location(&again), "code").is_some(),
            "after {at}, signing in again: {} {}",
            again.status(),
            body(&again)
        );
        assert_whole(&world, &format!("signed in again after {at}"), true);
        let users = world.store.keys().into_iter().filter(|k| k.starts_with("user:")).count();
        assert_eq!(users, 1, "{at}");
    }
}

#[test]
fn a_kv_fault_at_any_step_of_a_first_login_leaves_nothing_half_written() {
    a_fault_at_any_step_of_a_first_login_leaves_nothing_half_written(Failing::Kv);
}

#[test]
fn a_durable_object_fault_at_any_step_of_a_first_login_leaves_nothing_half_written() {
    a_fault_at_any_step_of_a_first_login_leaves_nothing_half_written(Failing::DurableObject);
}

/// A KV write whose answer was lost had been made: signing in again finds what it wrote.
#[test]
fn a_kv_write_answer_lost_at_any_step_of_a_first_login_leaves_nothing_half_written() {
    a_fault_at_any_step_of_a_first_login_leaves_nothing_half_written(Failing::KvWriteAnswerLost);
}

/// A claim whose answer was lost had been made: left, it named an account never completed,
/// and the identity could never sign in again ("identity is claimed by missing user").
#[test]
fn a_durable_object_answer_lost_at_any_step_of_a_first_login_leaves_nothing_half_written() {
    a_fault_at_any_step_of_a_first_login_leaves_nothing_half_written(Failing::DurableObjectAnswerLost);
}

/// The switch for `wrangler dev` (`[dev] fault_injection`): `POST /dev/faults` plans a fault of
/// the stores the Worker is given; the next sign-in meets it, answers readably, and the one
/// after works (tests/e2e/faults.test.mjs does this against the real bindings).
#[test]
fn dev_faults_plans_a_fault_of_the_stores_keyedge_is_given() {
    for (store, n) in [("kv", 1), ("durable_object", 0)] {
        let world = local_dev("[dev]\nfault_injection = true\n");
        let plan = world.post_form("/dev/faults", &[("store", store), ("fail_after", &n.to_string())], None);
        assert_eq!(json(&plan)[store], true, "{store}: {}", body(&plan));
        let failed = sign_in(&world);
        assert!(query_param(&location(&failed), "code").is_none(), "{store}: the fault was met");
        assert_ne!(failed.status(), 500, "{store}: {}", body(&failed));
        let state = world.send(http::Request::get("/dev/faults").body(Vec::new()).unwrap());
        assert_eq!(json(&state)[store], false, "{store}: the fault happened");
        assert!(query_param(&location(&sign_in(&world)), "code").is_some(), "{store}: signing in again works");
        let planned = world.post_form("/dev/faults", &[("store", store), ("fail_after", "0")], None);
        assert_eq!(json(&planned)[store], true);
        let cleared = world.post_form("/dev/faults", &[("store", store), ("fail_after", "never")], None);
        assert_eq!(json(&cleared)[store], false, "`never` drops the plan");
        assert!(query_param(&location(&sign_in(&world)), "code").is_some(), "{store}: no fault after `never`");
    }
}

#[test]
fn dev_faults_exists_only_where_the_config_asks_for_it() {
    for world in [local_dev(""), World::new()] {
        let res = world.post_form("/dev/faults", &[("store", "kv"), ("fail_after", "0")], None);
        assert_eq!(res.status(), 404);
        assert!(query_param(&location(&sign_in(&world)), "code").is_some(), "no fault was planned");
    }
    let text = config_text() + "\n[dev]\nfault_injection = true\n";
    let e = keyedge::core::Keyedge::from_config_text(&text, &secrets).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("dev.fault_injection") && e.contains("https"), "{e}");
}

/// What an application calls: `/token` (code and refresh), `/userinfo`, `/introspect` and
/// `/revoke`, each with a storage operation failing at each step in turn.
fn api_call(
    world: &World,
    endpoint: &str,
    tokens: &serde_json::Value,
    code: &(String, String),
) -> http::Response<Vec<u8>> {
    let (access, refresh_token) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
    match endpoint {
        "code" => redeem(world, &code.0, &code.1),
        "refresh" => refresh(world, refresh_token),
        "userinfo" => world.send(
            http::Request::get(format!("{ISSUER}/userinfo"))
                .header("authorization", format!("Bearer {access}"))
                .body(vec![])
                .unwrap(),
        ),
        "introspect" => world.post_form("/introspect", &[("token", access)], Some(("app", APP_SECRET))),
        "revoke" => world.post_form("/revoke", &[("token", refresh_token)], Some(("app", APP_SECRET))),
        other => unreachable!("{other}"),
    }
}

/// Issue 16: every failure of the endpoints applications call — a storage outage included —
/// is a JSON OAuth error with the right status (`503 temporarily_unavailable`), never a page:
/// client libraries parse the body as JSON.
#[test]
fn application_endpoints_answer_storage_failures_with_json_errors() {
    for failing in [Failing::Kv, Failing::DurableObject] {
        for endpoint in ["code", "refresh", "userinfo", "introspect", "revoke"] {
            let mut faulted = 0;
            for n in 0..8 {
                let world = World::new();
                let tokens = tokens_for_alice(&world, "openid email offline_access");
                let rp = rp_request("app", APP_REDIRECT);
                let code = code_of(&login(&world, &mut Browser::default(), &rp.query, "alice"));
                failing.plan(&world, n);
                let res = api_call(&world, endpoint, &tokens, &(code, rp.verifier.clone()));
                let pending = failing.pending(&world);
                let at = format!("{endpoint} with {failing:?} operation {n} failing");
                let kind = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
                assert!(kind.starts_with("application/json"), "{at}: {} {kind}: {}", res.status(), body(&res));
                if pending {
                    break;
                }
                faulted += 1;
                if !res.status().is_success() {
                    assert_eq!(res.status(), 503, "{at}: {}", body(&res));
                    let e = json(&res);
                    assert_eq!(e["error"], "temporarily_unavailable", "{at}: {e}");
                    assert!(
                        world.logged_for(e["error_description"].as_str().unwrap()).contains("injected fault"),
                        "{at}"
                    );
                }
            }
            let none =
                matches!((endpoint, failing), ("introspect" | "userinfo", Failing::DurableObject)) && faulted == 0;
            assert!(faulted > 0 || none, "{endpoint}: no {failing:?} operation was faulted");
        }
    }
}
