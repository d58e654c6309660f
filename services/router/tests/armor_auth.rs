//! The bearer token, read from the environment, reaches the checker.
//!
//! A file of its own: it sets an environment variable, which is only sound
//! while no other thread runs, and this binary's one test runs alone.

mod common;

use std::time::Duration;

use common::StandIn;
use router::guard::{Armor, Event, Verdict};

const VARIABLE: &str = "POOLPILOT_GUARD_TEST_ARMOR_TOKEN";

#[test]
fn bearer_token_is_sent() {
    // SAFETY: the only test of this binary, run before any other thread of
    // ours starts: nothing reads the environment concurrently.
    unsafe { std::env::set_var(VARIABLE, "s3cr3t.token") };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stand_in = StandIn::start().await;
        let mut config = stand_in.config("clean");
        config.bearer_token_env = Some(VARIABLE.to_owned());
        let armor = Armor::new(&config).unwrap();
        let verdict = armor
            .check(Event::Prompt, "hello", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(verdict, Verdict::default());
        let seen = stand_in.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].authorization.as_deref(),
            Some("Bearer s3cr3t.token")
        );
    });
}
