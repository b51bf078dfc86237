//! Claims as data: a path into a JSON document, the username templates of mappers (checked
//! when the configuration loads, rendered at a login), and the standard claims ([`StandardClaims`]).

use serde_json::Value;

mod standard;
pub use standard::{scope_of, supported_claims, StandardClaims, SCOPE_CLAIMS};

/// A value at a path like `emails[0].address` in `doc`; a top-level claim named exactly
/// `path` comes first (a SAML attribute `urn:oid:0.9.2342.19200300.100.1.3` has dots).
pub fn at_path<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    let mut node = doc;
    for segment in path.split('.') {
        let (name, indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            node = node.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            node = node.get(index.strip_suffix(']')?.parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}

/// The filters a username template's placeholder may end with, applied in order.
const FILTERS: &[&str] = &["lowercase", "uppercase", "localpart"];

/// Checks a username template: `${CLAIM.path}`, `${ALIAS}` and `${UUID}` placeholders, each
/// with optional filters (Keycloak's "Username Template Importer"): `| lowercase`,
/// `| uppercase`, `| localpart` (the part before the `@` of an email address).
pub fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').ok_or("a `${` is not closed")? + start;
        let (name, filters) = split_filters(&rest[start + 2..end]);
        if name != "ALIAS" && name != "UUID" && name.strip_prefix("CLAIM.").is_none_or(|p| p.is_empty()) {
            return Err(format!("`{name}`: use ${{CLAIM.<path>}}, ${{ALIAS}} or ${{UUID}}"));
        }
        if let Some(bad) = filters.iter().find(|f| !FILTERS.contains(f)) {
            return Err(format!("`{bad}`: the filters are lowercase, uppercase and localpart"));
        }
        rest = &rest[end + 1..];
    }
    Ok(())
}

fn split_filters(inner: &str) -> (&str, Vec<&str>) {
    let mut parts = inner.split('|').map(str::trim);
    let name = parts.next().unwrap_or_default();
    (name, parts.collect())
}

fn apply_filter(value: String, filter: &str) -> String {
    match filter {
        "lowercase" => value.to_lowercase(),
        "uppercase" => value.to_uppercase(),
        "localpart" => match value.rsplit_once('@') {
            Some((local, _)) => local.to_owned(),
            None => value,
        },
        _ => value,
    }
}

/// What a username template's placeholders stand for besides claims.
pub struct TemplateContext<'a> {
    pub claims: &'a Value,
    /// `${ALIAS}`: the identity provider's alias.
    pub alias: &'a str,
    /// `${UUID}`: a random UUID, made once per login.
    pub uuid: &'a str,
}

/// A claim as text: strings as they are, numbers and booleans printed.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The username from `template`; `None` when a claim it names is missing or the result is
/// empty.
pub fn render_template(template: &str, context: &TemplateContext) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let (name, filters) = split_filters(&rest[start + 2..end]);
        let value = match name.strip_prefix("CLAIM.") {
            Some(path) => text(at_path(context.claims, path)?)?,
            None if name == "UUID" => context.uuid.to_owned(),
            None => context.alias.to_owned(),
        };
        out.push_str(&filters.into_iter().fold(value, apply_filter));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    let out = out.trim().to_owned();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_claim_named_with_dots_is_found_whole_and_a_path_still_walks() {
        // A SAML attribute's name is a URN with dots; an OIDC claim path walks objects.
        let doc = json!({"urn:oid:0.9.2342.19200300.100.1.3": ["a@x"], "org": {"unit": "ops"}, "org.unit": "top"});
        assert_eq!(at_path(&doc, "urn:oid:0.9.2342.19200300.100.1.3"), Some(&json!(["a@x"])));
        // Both exist: the exact top-level name wins.
        assert_eq!(at_path(&doc, "org.unit"), Some(&json!("top")));
        let nested = json!({"org": {"unit": "ops"}});
        assert_eq!(at_path(&nested, "org.unit"), Some(&json!("ops")));
        assert_eq!(at_path(&nested, "urn:oid:1.2"), None);
    }

    #[test]
    fn a_path_walks_objects_and_arrays() {
        let doc = json!({"emails": [{"address": "a@x"}, {"address": "b@x"}], "id": 7});
        assert_eq!(at_path(&doc, "emails[1].address"), Some(&json!("b@x")));
        assert_eq!(at_path(&doc, "id"), Some(&json!(7)));
        assert_eq!(at_path(&doc, "emails[2].address"), None);
        assert_eq!(at_path(&doc, "emails[x]"), None);
    }

    #[test]
    fn username_templates_are_checked_then_rendered() {
        assert!(check_template("${CLAIM.preferred_username | lowercase}-${ALIAS}").is_ok());
        assert!(check_template("${CLAIM.email").is_err());
        assert!(check_template("${USER}").is_err());
        assert!(check_template("${ALIAS | reverse}").is_err());
        let claims = json!({"preferred_username": "Alice", "org": {"id": 42}});
        let context = TemplateContext { claims: &claims, alias: "up", uuid: "u" };
        assert_eq!(
            render_template("${CLAIM.preferred_username | lowercase}.${CLAIM.org.id}@${ALIAS}", &context),
            Some("alice.42@up".to_owned())
        );
        assert_eq!(render_template("${CLAIM.missing}", &context), None, "a missing claim renders nothing");
    }

    #[test]
    fn username_templates_take_a_uuid_and_the_localpart_filter() {
        assert!(check_template("${UUID}").is_ok());
        assert!(check_template("${CLAIM.email | localpart | uppercase}").is_ok());
        assert!(check_template("${CLAIM.email | localpart | reverse}").is_err());
        let claims = json!({"email": "Jo.Doe@Example.com", "sub": "x@y@z"});
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let context = TemplateContext { claims: &claims, alias: "corp", uuid };
        assert_eq!(render_template("${CLAIM.email | localpart}", &context), Some("Jo.Doe".to_owned()));
        assert_eq!(render_template("${CLAIM.email | localpart | lowercase}", &context), Some("jo.doe".to_owned()));
        assert_eq!(render_template("${CLAIM.sub | localpart}", &context), Some("x@y".to_owned()), "the last @");
        assert_eq!(render_template("${ALIAS}.${UUID}", &context), Some(format!("corp.{uuid}")));
    }
}
