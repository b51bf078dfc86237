//! The keys of the [`Once`](super::Once) port, and the one place that knows how a key chooses
//! the Durable Object it lives in.

use serde::{Deserialize, Serialize};

use super::PortError;

/// How many Durable Objects the keys are spread over. Changing it moves keys to other objects,
/// where nothing of what was stored before is found.
const OBJECTS: u32 = 64;

/// A key of the [`Once`](super::Once) port. Its routing part — what precedes the first `|`,
/// or the whole key without one — names the object it lives in, so keys built with one
/// routing part (a code, its grant's refresh family and its upstream login's marker) live
/// together and are written, redeemed and revoked in one atomic call. `src/core/keys.rs`
/// builds every key keyedge uses. On the wire it is the plain string, as it always was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OnceKey(String);

impl OnceKey {
    /// `{route}|{name}`: the item `name` in the object that `route` chooses.
    pub fn in_object(route: &str, name: &str) -> Self {
        Self(format!("{route}|{name}"))
    }

    /// A key that is its own routing part (a claim, a counter): it shares its object with no
    /// key built otherwise.
    pub fn alone(key: String) -> Self {
        Self(key)
    }

    /// The routing part: before the first `|`, or the whole key.
    pub fn route(&self) -> &str {
        self.0.split_once('|').map_or(&self.0, |(route, _)| route)
    }

    /// Whether `self` and `other` are always in one object (they share their routing part).
    /// Keys with different routing parts may land in one object by chance; nothing may count
    /// on that.
    pub fn same_object(&self, other: &OnceKey) -> bool {
        self.route() == other.route()
    }

    /// The first of `keys`, checked to share its object with every other one: what an atomic
    /// call over several keys is sent to. `None` when there are no keys.
    pub fn one_object<'k>(keys: impl IntoIterator<Item = &'k OnceKey>) -> Result<Option<&'k OnceKey>, PortError> {
        let keys: Vec<&OnceKey> = keys.into_iter().collect();
        match keys.first() {
            Some(first) if keys.iter().all(|k| k.same_object(first)) => Ok(Some(first)),
            Some(_) => {
                let keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
                Err(PortError(format!("{keys:?} do not route to one object")))
            }
            None => Ok(None),
        }
    }

    /// The name of the Durable Object the key lives in: one of [`OBJECTS`], by a hash of the
    /// routing part, so no single object is a global bottleneck while keys that must change
    /// together land in one. The names are what deployed objects are called: they never change.
    pub fn object_name(&self) -> String {
        let h = self.route().bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        format!("once-{}", h % OBJECTS)
    }

    /// The key as stored and sent to the object.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routing_part_is_what_precedes_the_first_bar() {
        assert_eq!(OnceKey::in_object("grant", "code:x").route(), "grant");
        assert_eq!(OnceKey::in_object("grant", "code:x").as_str(), "grant|code:x");
        assert_eq!(OnceKey::in_object("grant", "a|b").route(), "grant");
        assert_eq!(OnceKey::alone("link:demo:YWxpY2U".into()).route(), "link:demo:YWxpY2U");
        assert_eq!(OnceKey::in_object("", "code:x").route(), "");
    }

    #[test]
    fn keys_of_one_route_share_an_object_and_no_others_do() {
        let code = OnceKey::in_object("grant", "code:x");
        let family = OnceKey::in_object("grant", "rt");
        let other = OnceKey::in_object("other", "rt");
        assert!(code.same_object(&family));
        assert!(!code.same_object(&other));
        // A key alone is in its own object: the one a key routed by its name is in.
        assert!(OnceKey::alone("grant".into()).same_object(&code));
        assert!(!OnceKey::alone("grant:x".into()).same_object(&code));
        assert_eq!(OnceKey::one_object([&code, &family]).unwrap(), Some(&code));
        assert_eq!(OnceKey::one_object([&family]).unwrap(), Some(&family));
        assert_eq!(OnceKey::one_object([]).unwrap(), None);
        let e = OnceKey::one_object([&code, &family, &other]).unwrap_err();
        assert!(e.0.contains("other|rt") && e.0.contains("one object"), "{e}");
    }

    /// The object names deployed objects have: computed by the Worker's shard function as it
    /// was before `OnceKey` took it over (src/edge/ports.rs, `OncePort::shard`, commit 75b210c).
    /// A change here would lose every stored code, family, claim and record on deploy.
    #[test]
    fn object_names_never_change() {
        let names = [
            (OnceKey::in_object("grant", "code:x"), "once-28"),
            (OnceKey::in_object("grant", "rt"), "once-28"),
            (OnceKey::alone("link:demo:YWxpY2U".into()), "once-15"),
            (OnceKey::in_object("user:abc", "record"), "once-51"),
            (OnceKey::in_object("logout_jti:demo", "x"), "once-51"),
            (OnceKey::alone("mail_to:abc".into()), "once-43"),
            (OnceKey::in_object("", "code:x"), "once-0"),
        ];
        for (key, name) in names {
            assert_eq!(key.object_name(), name, "{key:?}");
        }
    }

    #[test]
    fn on_the_wire_it_is_the_string() {
        let key = OnceKey::in_object("grant", "rt");
        assert_eq!(serde_json::to_string(&key).unwrap(), r#""grant|rt""#);
        assert_eq!(serde_json::from_str::<OnceKey>(r#""grant|rt""#).unwrap(), key);
    }
}
