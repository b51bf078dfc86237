//! Storage operations per complete login (authorize → upstream → callback → token), counted
//! on the in-memory twins of Workers KV and the Durable Object. `make bench` prints these
//! lines; the assertions keep the counts from growing unnoticed.

use crate::common::*;

struct Cost {
    kv_reads: usize,
    kv_writes: usize,
    do_calls: usize,
    /// The Durable Object calls that only read (`make bench`'s floor makes as many).
    do_reads: usize,
}

/// The storage counters now, to measure from.
struct Mark(usize, usize, usize, usize);

impl Mark {
    fn now(world: &World) -> Self {
        Self(world.store.reads.get(), world.store.writes.get(), world.once.calls.get(), world.once.reads.get())
    }

    /// The operations since `self`, printed as the line `make bench` reads.
    fn cost(self, world: &World, name: &str) -> Cost {
        let now = Mark::now(world);
        let c = Cost {
            kv_reads: now.0 - self.0,
            kv_writes: now.1 - self.1,
            do_calls: now.2 - self.2,
            do_reads: now.3 - self.3,
        };
        println!(
            "STORAGE {name} kv_reads={} kv_writes={} do_calls={} do_reads={}",
            c.kv_reads, c.kv_writes, c.do_calls, c.do_reads
        );
        c
    }
}

fn measure(world: &World, name: &str) -> Cost {
    let from = Mark::now(world);
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    assert_eq!(redeem(world, &code, &rp.verifier).status(), 200);
    from.cost(world, name)
}

/// The operations of one refresh grant and one userinfo call of a returning user.
fn measure_refresh_and_userinfo(world: &World) -> (Cost, Cost) {
    let tokens = tokens_for_alice(world, "openid email profile offline_access");
    let from = Mark::now(world);
    assert_eq!(refresh(world, tokens["refresh_token"].as_str().unwrap()).status(), 200);
    let refresh_cost = from.cost(world, "refresh");
    let from = Mark::now(world);
    assert_eq!(userinfo_status(world, tokens["access_token"].as_str().unwrap()), 200);
    (refresh_cost, from.cost(world, "userinfo"))
}

#[test]
fn storage_operations_per_refresh_and_userinfo() {
    let world = World::new();
    let (refresh, userinfo) = measure_refresh_and_userinfo(&world);
    // A refresh: the rotation, then the session's end mark (the Durable Object's, and KV's for
    // a session a Worker of the previous version ended) and the user, together; userinfo: the
    // grant's revocation marks (both) and the user, together.
    assert!(refresh.do_calls <= 2 && refresh.kv_writes == 0 && refresh.kv_reads <= 2);
    assert!(userinfo.do_calls <= 1 && userinfo.kv_writes == 0 && userinfo.kv_reads <= 2);
    // Which of them only read: the rotation writes; the session-ended marker and the user, and
    // userinfo's revocation marker, are read.
    assert_eq!((refresh.do_reads, userinfo.do_reads), (refresh.do_calls - 1, userinfo.do_calls));
}

#[test]
fn storage_operations_per_login() {
    let world = World::new();
    let first = measure(&world, "first_login");
    let returning = measure(&world, "returning_login");
    // Current costs (docs/performance.md explains each); lower is welcome, higher is a regression.
    // Budget (issue 6): at most 3 KV writes and 2 Durable Object calls per login; issue 19
    // adds one: the account is read from the Durable Object (an unlink made anywhere counts
    // at once), and KV's copy is no longer read.
    // A returning login writes the session and its account-page listing.
    assert!(returning.kv_writes <= 2 && returning.do_calls <= 3 && returning.kv_reads <= 2);
    // Of those, the account's read only reads; the code's issue and its redemption write.
    assert_eq!(returning.do_reads, 1);
    // A first login also claims the username, the email and the identity atomically (three
    // calls) and writes the user, the link and the username and email indexes; the user's
    // record then joins the Durable Object, against which later changes are compare-and-swapped
    // (issue 14, item 15).
    assert!(first.kv_writes <= 6 && first.do_calls <= 6);
}

/// A returning login request by request, as `make steps` (bench/steps.mjs) measures it: the
/// login page (`/authorize`), the way to the IdP (`/broker/{alias}/login`), the callback and
/// the code's redemption. Each step's line gives the platform calls its twin on the floor
/// Worker makes: KV, Durable Object calls, outbound fetches and RS256 signatures.
#[test]
fn platform_calls_per_login_step() {
    let world = World::new();
    // The account is created; then a returning login as `make bench` prices it, to hold the
    // steps' sum against.
    measure(&world, "first_login");
    let returning = measure(&world, "login_before_steps");
    let rp = rp_request("app", APP_REDIRECT);
    let mut browser = Browser::default();
    let mut steps = Vec::new();
    let mut step = |name: &'static str, request: &mut dyn FnMut() -> http::Response<Vec<u8>>| {
        let (from, fetches, signatures, checks) =
            (Mark::now(&world), world.http.log.borrow().len(), world.rsa.calls.get(), world.rsa.verifications.get());
        let response = request();
        let fetched = world.http.log.borrow().len() - fetches;
        let (signed, checked) = (world.rsa.calls.get() - signatures, world.rsa.verifications.get() - checks);
        let cost = from.cost(&world, &format!("login_step_{name}"));
        println!("STEP {name} fetches={fetched} rs256_signatures={signed} rs256_verifications={checked}");
        steps.push((name, cost, fetched, signed, checked));
        response
    };
    let page = step("authorize", &mut || browser.get(&world, &format!("/authorize?{}", rp.query)));
    assert_eq!(page.status(), 200, "{}", body(&page));
    let href = idp_link(&body(&page), "up");
    let to_idp = step("start", &mut || browser.get(&world, &href));
    assert_eq!(to_idp.status(), 302, "{}", body(&to_idp));
    let callback = world.idp.authorize(&location(&to_idp), "alice");
    let to_client = step("callback", &mut || browser.get(&world, &callback));
    let code = query_param(&location(&to_client), "code").expect("a code for the client");
    let tokens = step("token", &mut || redeem(&world, &code, &rp.verifier));
    assert_eq!(tokens.status(), 200, "{}", body(&tokens));
    // The steps together are the returning login that `make bench` measures whole.
    let sum = |f: fn(&Cost) -> usize| steps.iter().map(|(_, c, ..)| f(c)).sum::<usize>();
    assert_eq!(
        (sum(|c| c.kv_reads), sum(|c| c.kv_writes), sum(|c| c.do_calls), sum(|c| c.do_reads)),
        (returning.kv_reads, returning.kv_writes, returning.do_calls, returning.do_reads)
    );
    let by_name = |n: &str| steps.iter().find(|(name, ..)| *name == n).expect("measured");
    // The login page and the way to the IdP touch no storage and call nobody: the flow's
    // state travels sealed in the browser's cookie.
    for quiet in ["authorize", "start"] {
        let (_, c, fetched, signed, checked) = by_name(quiet);
        assert_eq!((c.kv_reads + c.kv_writes + c.do_calls, *fetched, *signed, *checked), (0, 0, 0, 0), "{quiet}");
    }
    // The callback asks the IdP for its tokens and its userinfo and checks its ID token; the
    // redemption signs the ID token and the access token.
    let (_, _, fetched, signed, checked) = by_name("callback");
    assert_eq!((*fetched, *signed, *checked), (2, 0, 1));
    let (_, _, fetched, signed, _) = by_name("token");
    assert_eq!((*fetched, *signed), (0, 2));
}

/// Storage round trips a request waits for one after another: calls that do not depend on
/// each other are sent together (at the edge each round trip is milliseconds of latency).
#[test]
fn independent_storage_calls_are_sent_together() {
    let world = World::new();
    measure(&world, "first_login"); // the account is created
    measure(&world, "returning_login");
    let last = |path: &str| {
        world.round_trips.borrow().iter().rev().find(|(p, _)| p == path).map(|(_, n)| *n).expect("request made")
    };
    let callback = last("/broker/up/endpoint");
    // The identity's link, then its user; then the session, its listing and the code at once.
    println!("ROUND_TRIPS callback={callback}");
    assert_eq!(callback, 3);
    // An online refresh token: the rotation, then the session-ended marker and the user at once.
    let tokens = tokens_for_alice(&world, "openid email");
    let refreshed = json(&refresh(&world, tokens["refresh_token"].as_str().unwrap()));
    assert_eq!(last("/token"), 2);
    // Userinfo: the revocation marker and the user at once.
    assert_eq!(userinfo_status(&world, refreshed["access_token"].as_str().unwrap()), 200);
    assert_eq!(last("/userinfo"), 1);
}

/// A signed-in visitor's page view behind the static-site gate. With the gate pass checked
/// less than `session_check_interval` ago: no storage at all. Once per interval the session
/// is checked again (`gate_page_check`): the session's KV record and its state in the
/// Durable Object.
#[test]
fn storage_operations_per_gated_page_view() {
    let world = World::with("", "", "[gate]\nupstream = \"assets\"\n");
    world.site.mount(ISSUER, |req| {
        http::Response::builder().status(200).body(format!("page {}", req.uri().path()).into_bytes()).unwrap()
    });
    let mut browser = Browser::default();
    let to_login = location(&browser.get(&world, "/docs/"));
    assert_eq!(sign_in_from_login_page(&world, &mut browser, &to_login, "alice"), "/docs/");
    let view = |name: &str, browser: &mut Browser| {
        let from = Mark::now(&world);
        let page = browser.get(&world, "/docs/");
        assert_eq!(body(&page), "page /docs/");
        from.cost(&world, name)
    };
    let check = view("gate_page_check", &mut browser);
    assert!(check.kv_reads <= 1 && check.kv_writes == 0 && check.do_calls <= 1);
    let c = view("gate_page", &mut browser);
    assert!(c.kv_reads == 0 && c.kv_writes == 0 && c.do_calls == 0);
}

/// The account page lists the user's sessions from one KV listing whose metadata carries each
/// entry: its reads do not grow with the number of sessions (a read per session would exceed
/// a Worker's subrequest limit for a user with many).
#[test]
fn the_account_page_reads_the_same_whatever_the_number_of_sessions() {
    let world = World::new();
    let reads_of_account_page = |browser: &mut Browser| {
        let before = world.store.reads.get();
        assert_eq!(browser.get(&world, "/account").status(), 200);
        world.store.reads.get() - before
    };
    let mut browser = signed_in(&world, "alice");
    let few = reads_of_account_page(&mut browser);
    for _ in 0..5 {
        signed_in(&world, "alice");
    }
    let page = body(&browser.get(&world, "/account"));
    assert_eq!(page.matches("<tr class=\"session\">").count(), 6, "{page}");
    assert_eq!(reads_of_account_page(&mut browser), few, "reads grew with the sessions");
}
