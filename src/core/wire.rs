//! Reading internally tagged enums (`{"kind": "…", …fields}`) as one flat record.
//!
//! serde's derive reads such an enum by buffering the whole object (its `Content`) and then
//! reading the chosen variant again from that buffer, so every variant's reader is compiled
//! twice, once for JSON and once for the buffer, and everything it contains with it (the
//! authorization request inside a login's continuation, the specs inside a Durable Object
//! op). The enums that cross a wire keep the derive for writing and are read through a flat
//! record of every field any variant has (`#[serde(try_from = "…Wire")]`), which is checked
//! against the variant the tag names. Each such enum has a test that every variant reads as
//! it was written and that a variant lacking a field it needs is refused.

/// `field`, which the variant being read needs.
pub fn needed<T>(field: Option<T>, name: &'static str) -> Result<T, String> {
    field.ok_or_else(|| format!("missing field `{name}`"))
}

/// The test every flat reader gets: each sample reads back as it was written; without any one
/// of its fields it is refused unless `optional(sample, field)`; an unknown or absent tag is
/// refused.
#[cfg(test)]
pub(crate) fn check_flat_reader<T>(tag: &str, samples: &[T], optional: impl Fn(&T, &str) -> bool)
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    use serde_json::Value;
    for sample in samples {
        let written = serde_json::to_value(sample).unwrap();
        let read: T = serde_json::from_str(&written.to_string()).unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), written, "{sample:?} read back otherwise");
        let Value::Object(whole) = &written else { panic!("{sample:?} is not written as an object") };
        for field in whole.keys().filter(|f| *f != tag) {
            let mut less = whole.clone();
            less.remove(field);
            let read = serde_json::from_value::<T>(Value::Object(less));
            assert_eq!(read.is_ok(), optional(sample, field), "{sample:?} without `{field}`: {read:?}");
        }
        let mut unknown = whole.clone();
        unknown.insert(tag.into(), "no_such_variant".into());
        assert!(serde_json::from_value::<T>(Value::Object(unknown)).is_err(), "unknown `{tag}` read");
        let mut untagged = whole.clone();
        untagged.remove(tag);
        assert!(serde_json::from_value::<T>(Value::Object(untagged)).is_err(), "no `{tag}` read");
    }
}
