//! What a provider that answers with a form post adds to it: Apple's `user` field, a JSON
//! object with the user's name, sent with the first authorization of an app only
//! (https://developer.apple.com/documentation/sign_in_with_apple/request_an_authorization_to_the_sign_in_with_apple_server#Handle-the-response).
//!
//! The field is not signed: anyone who posts to keyedge's endpoint chooses it. It is read only
//! as a hint for the profile of the account a first login creates (the name the user reviews
//! and could type anyway), never as identity: the `sub`, the email and whether it is verified
//! come from the signed ID token.

use serde::Deserialize;

use super::config::OidcProvider;
use crate::core::claims::StandardClaims;
use crate::core::web::Params;

/// A longer `user` field is ignored: Apple's holds a name and an address, some hundred bytes.
pub const USER_FIELD_LIMIT: usize = 2048;
/// A longer first or last name is ignored.
const NAME_LIMIT: usize = 200;

#[derive(Deserialize)]
struct UserField {
    #[serde(default)]
    name: Option<UserName>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserName {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

/// With `name_in_user_field`, the `user` field's first and last name become the profile's
/// `given_name` and `family_name` where the ID token named none. Anything unreadable (not
/// JSON, other types, too long, control characters) is ignored.
pub(crate) fn take_user_field(cfg: &OidcProvider, params: &Params, profile: &mut StandardClaims) {
    if !cfg.name_in_user_field {
        return;
    }
    let Some(name) = params.get("user").and_then(user_name) else { return };
    if profile.given_name.is_none() {
        profile.given_name = name.0;
    }
    if profile.family_name.is_none() {
        profile.family_name = name.1;
    }
}

/// The first and last name of a `user` field, each when usable.
fn user_name(field: &str) -> Option<(Option<String>, Option<String>)> {
    if field.len() > USER_FIELD_LIMIT {
        return None;
    }
    let name = serde_json::from_str::<UserField>(field).ok()?.name?;
    let clean = |part: Option<String>| {
        part.map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty() && p.chars().count() <= NAME_LIMIT && !p.chars().any(char::is_control))
    };
    Some((clean(name.first_name), clean(name.last_name)))
}

#[cfg(test)]
mod tests {
    use super::user_name;

    #[test]
    fn apples_user_field_gives_a_name_and_anything_else_is_ignored() {
        let apple = r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"x@privaterelay.appleid.com"}"#;
        assert_eq!(user_name(apple), Some((Some("Ada".into()), Some("Lovelace".into()))));
        assert_eq!(user_name(r#"{"name":{"firstName":" Ada "}}"#), Some((Some("Ada".into()), None)));
        assert_eq!(user_name(r#"{"email":"a@example.com"}"#), None);
        let long = format!(r#"{{"name":{{"firstName":"{}","lastName":"L"}}}}"#, "a".repeat(300));
        assert_eq!(user_name(&long), Some((None, Some("L".into()))));
        let control = r#"{"name":{"firstName":"A\u0000da","lastName":""}}"#;
        assert_eq!(user_name(control), Some((None, None)));
        let padded = format!(r#"{{"name":{{"firstName":"Ada"}},"x":"{}"}}"#, "a".repeat(3000));
        for bad in ["", "not json", "[]", r#"{"name":"Ada"}"#, r#"{"name":{"firstName":7}}"#, padded.as_str()] {
            assert_eq!(user_name(bad), None, "{bad}");
        }
    }
}
