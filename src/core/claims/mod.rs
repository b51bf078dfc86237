//! Claims as data: a path into a JSON document, the username templates of mappers (checked
//! when the configuration loads, rendered at a login), and the standard claims ([`StandardClaims`]).

use serde_json::Value;

mod standard;
pub use standard::{scope_of, supported_claims, StandardClaims, SCOPE_CLAIMS};

/// A value at a path like `emails[0].address` in `doc`.
pub fn at_path<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
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

/// Checks a username template: `${CLAIM.path}` and `${ALIAS}` placeholders, each with an
/// optional `| lowercase` or `| uppercase`.
pub fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').ok_or("a `${` is not closed")? + start;
        let (name, filter) = split_filter(&rest[start + 2..end]);
        if name != "ALIAS" && name.strip_prefix("CLAIM.").is_none_or(|p| p.is_empty()) {
            return Err(format!("`{name}`: use ${{CLAIM.<path>}} or ${{ALIAS}}"));
        }
        if !matches!(filter, None | Some("lowercase") | Some("uppercase")) {
            return Err(format!("`{}`: the filters are lowercase and uppercase", filter.unwrap_or_default()));
        }
        rest = &rest[end + 1..];
    }
    Ok(())
}

fn split_filter(inner: &str) -> (&str, Option<&str>) {
    match inner.split_once('|') {
        Some((name, filter)) => (name.trim(), Some(filter.trim())),
        None => (inner.trim(), None),
    }
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
pub fn render_template(template: &str, claims: &Value, alias: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let (name, filter) = split_filter(&rest[start + 2..end]);
        let value = match name.strip_prefix("CLAIM.") {
            Some(path) => text(at_path(claims, path)?)?,
            None => alias.to_owned(),
        };
        out.push_str(&match filter {
            Some("lowercase") => value.to_lowercase(),
            Some("uppercase") => value.to_uppercase(),
            _ => value,
        });
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
        assert_eq!(
            render_template("${CLAIM.preferred_username | lowercase}.${CLAIM.org.id}@${ALIAS}", &claims, "up"),
            Some("alice.42@up".to_owned())
        );
        assert_eq!(render_template("${CLAIM.missing}", &claims, "up"), None, "a missing claim renders nothing");
    }
}
