//! Property tests (proptest) on parsers of outside input and on the harness's storage model:
//! properties that must hold for every input, not only the ones a test names. Bounded by
//! PROPTEST_CASES (256 by default here; `make fuzz` runs many more).

use futures::executor::block_on;
use keyedge::core::ports::kv_model::KvModel;
use keyedge::core::ports::memory::{SeededRng, VirtualClock};
use keyedge::core::ports::Store;
use keyedge::core::seal::Sealer;
use keyedge::core::site_path::SitePath;
use keyedge::core::vocab::{Prompt, Scopes};
use proptest::prelude::*;

/// Paths as an attacker writes them: slashes, dots, escapes (good and bad), semicolons,
/// backslashes, unicode.
fn hostile_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("//".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just(";x".to_owned()),
        Just("\\\\".to_owned()),
        Just("%2F".to_owned()),
        Just("%2e".to_owned()),
        Just("%25".to_owned()),
        Just("%41".to_owned()),
        Just("%zz".to_owned()),
        Just("%".to_owned()),
        Just("é".to_owned()),
        "[a-zA-Z0-9_~-]{1,6}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| format!("/{}", p.concat()))
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// The gate's canonical path is a fixed point: the site is sent a path that, checked
    /// again, is itself, and matches the same rules.
    #[test]
    fn site_path_canonical_form_is_a_fixed_point(raw in hostile_path()) {
        if let Ok(path) = SitePath::parse(&raw) {
            let again = SitePath::parse(path.as_str());
            prop_assert!(again.is_ok(), "{raw} → {} is refused", path.as_str());
            let again = again.unwrap();
            prop_assert_eq!(again.as_str(), path.as_str());
            prop_assert_eq!(again.match_key(false), path.match_key(false));
            prop_assert_eq!(again.match_key(true), path.match_key(true));
        }
    }

    /// `prompt`: whatever the text, a refusal or a set whose text reads back as itself.
    #[test]
    fn prompt_reads_back_as_itself(text in "(none|login|consent|select_account|bogus| ){0,6}") {
        if let Ok(prompt) = Prompt::parse(&text) {
            prop_assert_eq!(Prompt::parse(&prompt.to_string()), Ok(prompt));
        }
    }

    /// Scope values never contain a space and are never empty.
    #[test]
    fn scopes_are_space_delimited_values(text in "[ a-z_:]{0,40}") {
        for value in Scopes::parse(&text).iter() {
            prop_assert!(!value.is_empty() && !value.contains(' '));
        }
    }

    /// What keyedge seals opens only with the same context, and any change to it is refused.
    #[test]
    fn sealed_state_opens_only_unchanged(plain in prop::collection::vec(any::<u8>(), 0..64), flip in 0usize..200, context in "[a-z]{0,8}") {
        let sealer = Sealer::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
        let sealed = sealer.seal(&SeededRng::new(1), context.as_bytes(), &plain);
        prop_assert_eq!(sealer.open(context.as_bytes(), &sealed), Some(plain.clone()));
        prop_assert_eq!(sealer.open(format!("{context}x").as_bytes(), &sealed), None);
        let mut bytes = sealed.clone().into_bytes();
        let i = flip % bytes.len();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        if changed != sealed {
            prop_assert_eq!(sealer.open(context.as_bytes(), &changed), None);
        }
    }

    /// At one location the KV model is the strongly consistent store: every read sees the
    /// last write, TTLs included.
    #[test]
    fn kv_model_at_one_location_is_strongly_consistent(ops in prop::collection::vec((0u8..4, 0u8..3, 0i64..90), 1..40)) {
        let clock = VirtualClock::at(1_000);
        let model = KvModel::new(clock.clone());
        model.set_write_limit(false);
        let strong = KvModel::strong(clock.clone());
        for (op, key, n) in ops {
            let key = format!("k{key}");
            match op {
                0 => {
                    block_on(model.put(&key, &n.to_string(), None)).unwrap();
                    block_on(strong.put(&key, &n.to_string(), None)).unwrap();
                }
                1 => {
                    block_on(model.put(&key, "t", Some(n as u64))).unwrap();
                    block_on(strong.put(&key, "t", Some(n as u64))).unwrap();
                }
                2 => {
                    block_on(model.delete(&key)).unwrap();
                    block_on(strong.delete(&key)).unwrap();
                }
                _ => clock.advance(n),
            }
            prop_assert_eq!(block_on(model.get(&key)).unwrap(), block_on(strong.get(&key)).unwrap());
        }
    }
}
