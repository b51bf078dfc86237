//! Two-pass reading of a table whose keys depend on one of its values, as an identity
//! provider's options depend on its `kind`: the first pass takes the keys every kind shares
//! (straight from the TOML parser, so its errors keep their line), and keeps the others with
//! their position; the second pass reads those into the kind's own raw struct, whose
//! `#[serde(deny_unknown_fields)]` refuses an option of another kind with its field path.

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess};
use std::fmt;

use super::{err, line_of, ConfigError};
pub(crate) use text_format::parse;
use text_format::{read_value, start, Spanned, Value};

/// The configuration's text format: TOML natively (tests, `keyedge check`), with positions for
/// the errors; in the Worker, the JSON build.rs made of that TOML, so that no TOML parser is in
/// the wasm (its errors were shown, with lines, by `keyedge check` and the native tests).
#[cfg(not(target_arch = "wasm32"))]
mod text_format {
    use serde::de::{DeserializeOwned, DeserializeSeed};
    pub(crate) use toml::{Spanned, Value};

    /// `text` read into `T`: the parser's message, and where in the text, if it says.
    pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, (String, Option<usize>)> {
        toml::from_str(text).map_err(|e| (e.message().to_owned(), e.span().map(|s| s.start)))
    }

    /// `value` read into `seed` by the same parser as the first pass (from its TOML form).
    pub(crate) fn read_value<'de, V: DeserializeSeed<'de>>(seed: V, value: &Value) -> Result<V::Value, String> {
        let text = value.to_string();
        seed.deserialize(toml::de::ValueDeserializer::new(&text)).map_err(|e| e.message().to_owned())
    }

    pub(crate) fn start<T>(s: &Spanned<T>) -> Option<usize> {
        Some(s.span().start)
    }
}

#[cfg(target_arch = "wasm32")]
mod text_format {
    use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer};
    use serde::Deserialize;

    /// A value without a position (JSON has none).
    #[derive(Debug)]
    pub(crate) struct Spanned<T>(T);

    impl<T> Spanned<T> {
        pub(crate) fn get_ref(&self) -> &T {
            &self.0
        }
        pub(crate) fn into_inner(self) -> T {
            self.0
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            T::deserialize(d).map(Spanned)
        }
    }

    pub(crate) type Value = serde_json::Value;

    /// `text` read into `T` through a `Value`, so that every table's reader is compiled for
    /// one deserializer (the `Value`'s, which the second pass uses too) instead of two.
    pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, (String, Option<usize>)> {
        let value: Value = serde_json::from_str(text).map_err(|e| (e.to_string(), None))?;
        T::deserialize(value).map_err(|e| (e.to_string(), None))
    }

    pub(crate) fn read_value<'de, V: DeserializeSeed<'de>>(seed: V, value: &Value) -> Result<V::Value, String> {
        seed.deserialize(value.clone()).map_err(|e| e.to_string())
    }

    pub(crate) fn start<T>(_: &Spanned<T>) -> Option<usize> {
        None
    }
}

/// ` (line N)` for a position in `text`, or nothing where there is none.
fn at_line(text: &str, position: Option<usize>) -> String {
    position.map(|p| format!(" (line {})", line_of(text, p))).unwrap_or_default()
}

/// The keys a raw struct takes, as its `#[derive(Deserialize)]` names them (serde hands
/// them to `deserialize_struct`).
pub(crate) fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// The options of a table that the first pass left, each with its position in the text.
#[derive(Debug, Default)]
pub(crate) struct Rest(Vec<(Spanned<String>, Spanned<Value>)>);

/// Reads the keys `T` names into `T` (with the TOML parser's own errors and lines), and keeps
/// every other entry, with its position, for the second pass.
pub(crate) fn split<'de, T: DeserializeOwned, A: MapAccess<'de>>(map: A) -> Result<(T, Rest), A::Error> {
    let mut rest = Rest::default();
    let shared = keys_of::<T>();
    let value = T::deserialize(de::value::MapAccessDeserializer::new(Shared { map, rest: &mut rest, shared }))?;
    Ok((value, rest))
}

/// A map that yields only the `shared` keys and keeps the others.
struct Shared<'r, A> {
    map: A,
    rest: &'r mut Rest,
    shared: &'static [&'static str],
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Shared<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.map.next_key::<Spanned<String>>()? {
            if self.shared.contains(&key.get_ref().as_str()) {
                return seed.deserialize(key.into_inner().into_deserializer()).map(Some);
            }
            let value = self.map.next_value::<Spanned<Value>>()?;
            self.rest.0.push((key, value));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// What the second pass reads a kind's options with: the rest of one table, where it is in the
/// text, and every kind's keys (to say which kind an option given to another belongs to).
pub(crate) struct KindOptions<'a> {
    rest: Rest,
    /// The table's field path, e.g. `identity_providers[0]`.
    pub(crate) path: &'a str,
    text: &'a str,
    kind: &'a str,
    other_kinds: &'a [(&'a str, &'static [&'static str])],
    /// For a preset: the generic kind it is built on, and that kind's options, which the
    /// preset sets itself.
    preset_of: Option<(&'a str, Vec<&'static str>)>,
}

impl<'a> KindOptions<'a> {
    pub(crate) fn new(
        rest: Rest,
        path: &'a str,
        text: &'a str,
        kind: &'a str,
        other_kinds: &'a [(&'a str, &'static [&'static str])],
    ) -> Self {
        KindOptions { rest, path, text, kind, other_kinds, preset_of: None }
    }

    /// The options of a preset built on the generic kind `base`, whose options `fixed` it sets
    /// itself: such an option is refused saying so.
    #[cfg(keyedge_presets)]
    pub(crate) fn preset_of(mut self, base: &'a str, fixed: &[&'static [&'static str]]) -> Self {
        self.preset_of = Some((base, fixed.iter().flat_map(|keys| keys.iter().copied()).collect()));
        self
    }

    /// Takes the options `T` names out of the rest and reads them (a group several kinds share).
    pub(crate) fn take<T: DeserializeOwned>(&mut self) -> Result<T, ConfigError> {
        let keys = keys_of::<T>();
        let (taken, kept) =
            std::mem::take(&mut self.rest.0).into_iter().partition(|(k, _)| keys.contains(&k.get_ref().as_str()));
        self.rest.0 = kept;
        self.read(&taken)
    }

    /// Reads every option left into the kind's raw struct, which refuses any it does not name.
    pub(crate) fn finish<T: DeserializeOwned>(self) -> Result<T, ConfigError> {
        self.read(&self.rest.0)
    }

    fn read<T: DeserializeOwned>(&self, entries: &[(Spanned<String>, Spanned<Value>)]) -> Result<T, ConfigError> {
        T::deserialize(de::value::MapAccessDeserializer::new(Entries { entries, next: 0 })).map_err(|e| {
            let Some((key, value)) = e.at.and_then(|i| entries.get(i)) else {
                return err(self.path, e.message);
            };
            let line = at_line(self.text, if e.unknown { start(key) } else { start(value) });
            let key = key.get_ref();
            let message = if !e.unknown {
                format!("{}{line}", e.message)
            } else if let Some((base, _)) = self.preset_of.as_ref().filter(|(_, fixed)| fixed.contains(&key.as_str())) {
                format!("kind = \"{}\" sets this itself; to choose it, configure kind = \"{base}\"{line}", self.kind)
            } else if let Some((other, _)) = self.other_kinds.iter().find(|(_, keys)| keys.contains(&key.as_str())) {
                format!("applies to kind = \"{other}\" only{line}")
            } else {
                format!("unknown field `{key}`: neither a shared option nor one of kind = \"{}\"{line}", self.kind)
            };
            err(format!("{}.{key}", self.path), message)
        })
    }
}

/// An error of the second pass, with the entry it is about.
#[derive(Debug)]
struct EntryError {
    at: Option<usize>,
    unknown: bool,
    message: String,
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EntryError {}

impl de::Error for EntryError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        EntryError { at: None, unknown: false, message: message.to_string() }
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        EntryError { at: None, unknown: true, message: format!("unknown field `{field}`") }
    }
}

struct Entries<'e> {
    entries: &'e [(Spanned<String>, Spanned<Value>)],
    next: usize,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = EntryError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, EntryError> {
        let Some((key, _)) = self.entries.get(self.next) else { return Ok(None) };
        let at = self.next;
        self.next += 1;
        seed.deserialize(key.get_ref().as_str().into_deserializer())
            .map(Some)
            .map_err(|e: EntryError| EntryError { at: Some(at), ..e })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, EntryError> {
        let at = self.next - 1;
        read_value(seed, self.entries[at].1.get_ref()).map_err(|message| EntryError {
            at: Some(at),
            unknown: false,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Shared {
        name: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Kind {
        #[serde(default)]
        size: Option<u32>,
    }

    /// Only its keys are read: they name the kind a `colour` belongs to.
    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Other {
        #[serde(default)]
        colour: Option<String>,
    }

    #[derive(Debug)]
    struct Table(Shared, Rest);

    impl<'de> Deserialize<'de> for Table {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> de::Visitor<'de> for V {
                type Value = Table;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a table")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Table, A::Error> {
                    split(map).map(|(shared, rest)| Table(shared, rest))
                }
            }
            d.deserialize_map(V)
        }
    }

    fn read(text: &str) -> Result<(String, Option<u32>), ConfigError> {
        #[derive(Deserialize)]
        struct Doc {
            t: Vec<Table>,
        }
        let doc: Doc = toml::from_str(text).map_err(|e| err("toml", e.message().to_owned()))?;
        let Table(shared, rest) = doc.t.into_iter().next().unwrap();
        let kinds = [("kind", keys_of::<Kind>()), ("other", keys_of::<Other>())];
        let kind: Kind = KindOptions::new(rest, "t[0]", text, "kind", &kinds).finish()?;
        Ok((shared.name, kind.size))
    }

    #[test]
    fn keys_of_lists_the_fields_serde_names() {
        assert_eq!(keys_of::<Kind>(), ["size"]);
        assert_eq!(keys_of::<Other>(), ["colour"]);
    }

    #[test]
    fn the_kind_reads_the_keys_the_shared_pass_left() {
        assert_eq!(read("[[t]]\nname = \"a\"\nsize = 3\n").unwrap(), ("a".to_owned(), Some(3)));
    }

    #[test]
    fn a_key_of_another_kind_or_none_names_its_path_and_line() {
        let e = read("[[t]]\nname = \"a\"\n\ncolour = \"red\"\n").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("t[0].colour", "applies to kind = \"other\" only (line 4)")
        );
        let e = read("[[t]]\nname = \"a\"\nsise = 3\n").unwrap_err();
        assert!(
            e.field == "t[0].sise" && e.message.contains("unknown field `sise`") && e.message.ends_with("(line 3)")
        );
        let e = read("[[t]]\nname = \"a\"\nsize = { a = 1 }\n").unwrap_err();
        assert!(e.field == "t[0].size" && e.message.contains("invalid type") && e.message.ends_with("(line 3)"), "{e}");
    }
}
