//! The standard claims of OpenID Connect Core §5.1 that keyedge keeps about a person, in one
//! shape: an upstream IdP's ID token and userinfo are read into it, a brokered identity and a
//! user carry it (flattened, so stored records keep the field names they always had), and
//! keyedge's own ID tokens and userinfo release it by scope (§5.4). Discovery's
//! `claims_supported` and `scopes_supported` come from here too.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The profile claims (OIDC Core §5.1), minus the ones keyedge decides itself (`sub`,
/// `preferred_username`, which is the account's username, and `updated_at`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether `email` is verified: absent, `null` and anything but `true` (or the string
    /// `"true"` some IdPs send) count as not verified.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub phone_number_verified: bool,
    /// §5.1.1: a JSON object, kept as the IdP sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Value>,
}

/// The claims each scope releases (OIDC Core §5.4).
pub const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    ("profile", &["name", "given_name", "family_name", "preferred_username", "picture", "locale"]),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// The claims of keyedge's ID tokens that are not about the person (OIDC Core §2, §3.1.3.6).
pub const TOKEN_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "sid", "at_hash"];

/// The scope a standard claim is released by, if it is one.
pub fn scope_of(claim: &str) -> Option<&'static str> {
    SCOPE_CLAIMS.iter().find(|(_, names)| names.contains(&claim)).map(|(scope, _)| *scope)
}

/// Every claim name keyedge may put in an ID token or a userinfo answer, for discovery.
pub fn supported_claims() -> impl Iterator<Item = &'static str> {
    TOKEN_CLAIMS.iter().copied().chain(SCOPE_CLAIMS.iter().flat_map(|(_, names)| names.iter().copied()))
}

impl StandardClaims {
    /// For providers with one full `name` only (GitHub, GitLab): `"Mona Lisa Octocat"` gives
    /// `given_name` `"Mona Lisa"` and `family_name` `"Octocat"` — the last word is taken as the
    /// family name, and the profile form lets the user correct it; a single word is a given
    /// name only. Nothing changes when either part is already there.
    pub fn split_full_name(&mut self) {
        if self.given_name.is_some() || self.family_name.is_some() {
            return;
        }
        let Some(name) = &self.name else { return };
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        match name.rsplit_once(' ') {
            Some((given, family)) => {
                self.given_name = Some(given.to_owned());
                self.family_name = Some(family.to_owned());
            }
            None if name.is_empty() => {}
            None => self.given_name = Some(name),
        }
    }

    /// The claims as a JSON object: the ones present, a `*_verified` flag only beside its
    /// value, an address only if it is an object.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut m = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if self.email.is_none() {
            m.remove("email_verified");
        }
        if self.phone_number.is_none() {
            m.remove("phone_number_verified");
        }
        if !self.address.as_ref().is_some_and(Value::is_object) {
            m.remove("address");
        }
        m
    }

    /// Fills what `self` lacks from `other` (userinfo completing an ID token, OIDC Core §5.3).
    /// A verification flag belongs to its value: it is taken with the value, and for the same
    /// value either source's `true` counts; a flag about another address never does.
    pub fn complete_from(&mut self, other: StandardClaims) {
        fn take(a: &mut Option<String>, b: Option<String>) {
            if a.is_none() {
                *a = b;
            }
        }
        fn verified(value: &mut Option<String>, flag: &mut bool, other: Option<String>, other_flag: bool) {
            match (&value, &other) {
                (None, Some(_)) => (*value, *flag) = (other, other_flag),
                (Some(a), Some(b)) if a == b => *flag |= other_flag,
                _ => {}
            }
        }
        take(&mut self.name, other.name);
        take(&mut self.given_name, other.given_name);
        take(&mut self.family_name, other.family_name);
        take(&mut self.picture, other.picture);
        take(&mut self.locale, other.locale);
        verified(&mut self.email, &mut self.email_verified, other.email, other.email_verified);
        verified(
            &mut self.phone_number,
            &mut self.phone_number_verified,
            other.phone_number,
            other.phone_number_verified,
        );
        if self.address.is_none() {
            self.address = other.address;
        }
    }
}

/// A boolean claim as IdPs send it: `true`, or the string `"true"`; anything else is false.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s == "true",
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_full_name_splits_at_the_last_word_unless_a_part_is_there() {
        let split = |name: &str, given: Option<&str>| {
            let mut c =
                StandardClaims { name: Some(name.into()), given_name: given.map(Into::into), ..Default::default() };
            c.split_full_name();
            (c.given_name, c.family_name)
        };
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(split("Mona Lisa  Octocat ", None), (s("Mona Lisa"), s("Octocat")));
        assert_eq!(split("Octocat", None), (s("Octocat"), None));
        assert_eq!(split("  ", None), (None, None));
        assert_eq!(split("Mona Lisa Octocat", Some("Mona")), (s("Mona"), None));
    }

    use super::*;
    use serde_json::json;

    fn everything() -> StandardClaims {
        StandardClaims {
            name: Some("Ada Lovelace".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            picture: Some("https://example.com/ada.png".into()),
            locale: Some("en-GB".into()),
            email: Some("ada@example.com".into()),
            email_verified: true,
            phone_number: Some("+44 20 7946 0000".into()),
            phone_number_verified: true,
            address: Some(json!({ "country": "GB" })),
        }
    }

    #[test]
    fn oidc_core_5_4_every_field_is_released_by_exactly_one_scope() {
        let fields = everything().to_map();
        for name in fields.keys() {
            assert!(scope_of(name).is_some(), "{name} is released by no scope");
        }
        let named: Vec<&str> = SCOPE_CLAIMS.iter().flat_map(|(_, n)| n.iter().copied()).collect();
        for name in named.iter().filter(|n| **n != "preferred_username") {
            assert!(fields.contains_key(*name), "{name} is in a scope but not a field");
        }
        let mut unique = named.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), named.len());
    }

    #[test]
    fn oidc_core_5_1_flags_and_address_only_beside_their_values() {
        let bare = StandardClaims { email_verified: true, phone_number_verified: true, ..Default::default() };
        assert!(bare.to_map().is_empty());
        let flat = StandardClaims { address: Some(json!("Main Street 1")), ..Default::default() };
        assert!(flat.to_map().is_empty());
    }

    #[test]
    fn email_verified_is_read_leniently_and_defaults_to_false() {
        let read = |v: Value| serde_json::from_value::<StandardClaims>(v).map(|c| c.email_verified).ok();
        assert_eq!(read(json!({ "email_verified": true })), Some(true));
        assert_eq!(read(json!({ "email_verified": "true" })), Some(true));
        assert_eq!(read(json!({ "email_verified": "yes" })), Some(false));
        assert_eq!(read(json!({ "email_verified": null })), Some(false));
        assert_eq!(read(json!({})), Some(false));
    }

    #[test]
    fn oidc_core_5_3_userinfo_completes_without_moving_a_verification_to_another_address() {
        let id_token = |email: &str, verified: bool| StandardClaims {
            email: Some(email.into()),
            email_verified: verified,
            ..Default::default()
        };
        let mut same = id_token("ada@example.com", false);
        same.complete_from(everything());
        assert!(same.email_verified, "the IdP verified this very address");
        assert_eq!(same.name.as_deref(), Some("Ada Lovelace"));

        let mut other = id_token("mallory@example.com", false);
        other.complete_from(everything());
        assert_eq!(other.email.as_deref(), Some("mallory@example.com"));
        assert!(!other.email_verified, "a flag about ada@ must not verify mallory@");

        let mut none = StandardClaims::default();
        none.complete_from(everything());
        assert_eq!(none, everything());
    }
}
