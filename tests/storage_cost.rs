//! Storage operations per complete login (authorize → upstream → callback → token), counted
//! on the in-memory twins of Workers KV and the Durable Object. `make bench` prints these
//! lines; the assertions keep the counts from growing unnoticed.

mod common;

use common::*;

struct Cost {
    kv_reads: usize,
    kv_writes: usize,
    do_calls: usize,
}

fn measure(world: &World) -> Cost {
    let (r0, w0, d0) = (world.store.reads.get(), world.store.writes.get(), world.once.calls.get());
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    assert_eq!(redeem(world, &code, &rp.verifier).status(), 200);
    Cost {
        kv_reads: world.store.reads.get() - r0,
        kv_writes: world.store.writes.get() - w0,
        do_calls: world.once.calls.get() - d0,
    }
}

#[test]
fn storage_operations_per_login() {
    let world = World::new();
    let first = measure(&world);
    let returning = measure(&world);
    for (name, c) in [("first_login", &first), ("returning_login", &returning)] {
        println!("STORAGE {name} kv_reads={} kv_writes={} do_calls={}", c.kv_reads, c.kv_writes, c.do_calls);
    }
    // Current costs (docs/performance.md explains each); lower is welcome, higher is a regression.
    // Budget (issue 6): at most 3 KV writes and 2 Durable Object calls per login.
    // A returning login writes the session and its account-page listing.
    assert!(returning.kv_writes <= 2 && returning.do_calls <= 2 && returning.kv_reads <= 3);
    // A first login also claims the username, the email and the identity atomically (three
    // calls) and writes the user, the link and the username and email indexes.
    assert!(first.kv_writes <= 6 && first.do_calls <= 5);
}
