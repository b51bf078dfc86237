//! Identity provider mappers.

use serde::Deserialize;

use super::{err, ConfigError, SyncMode};

/// A mapper's compiled regex. The engine is compiled into the Worker only for a configuration
/// with a mapper that has `regex = true` (build.rs); natively (tests, `keyedge check`) always.
#[cfg(keyedge_regex)]
pub type ValueRegex = regex_lite::Regex;

/// This Worker has no regex engine: its configuration has no regex mapper, so none is made.
#[cfg(not(keyedge_regex))]
#[derive(Debug, Clone)]
pub enum ValueRegex {}

#[cfg(not(keyedge_regex))]
impl ValueRegex {
    pub fn is_match(&self, _: &str) -> bool {
        match *self {}
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMapper {
    name: String,
    kind: RawMapperKind,
    #[serde(default)]
    sync_mode: Option<SyncMode>,
    #[serde(default)]
    attribute: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    claim: Option<String>,
    #[serde(default)]
    regex: bool,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    claims: Option<Vec<RawClaimMatch>>,
}

/// One `{ claim = "…", value = "…" }` of an advanced mapper.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaimMatch {
    claim: String,
    value: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawMapperKind {
    HardcodedAttribute,
    HardcodedRole,
    AttributeImporter,
    ClaimToRole,
    UsernameTemplate,
    HardcodedGroup,
    AdvancedClaimToGroup,
}

impl Mapper {
    /// The claim an attribute importer reads (for a SAML IdP: the attribute it requests).
    pub fn claim(&self) -> Option<&str> {
        match &self.kind {
            MapperKind::AttributeImporter { claim, .. } => Some(claim),
            _ => None,
        }
    }
}

/// An identity provider mapper (Keycloak's names): it sets user attributes, roles or the
/// username from the IdP's claims.
#[derive(Debug, Clone)]
pub struct Mapper {
    pub name: String,
    /// `None`: the IdP's `sync_mode`.
    pub sync_mode: Option<SyncMode>,
    pub kind: MapperKind,
}

#[derive(Debug, Clone)]
pub enum MapperKind {
    HardcodedAttribute {
        attribute: String,
        value: String,
    },
    HardcodedRole {
        role: String,
    },
    /// A claim at a JSON path (`contact.address[0].country`) into an attribute.
    AttributeImporter {
        claim: String,
        attribute: String,
    },
    /// `role` when the claim equals (or, as an array, contains) `value`, or matches `regex`.
    ClaimToRole {
        claim: String,
        value: String,
        regex: Option<ValueRegex>,
        role: String,
    },
    /// The username on first login: `${CLAIM.path}`, `${ALIAS}`, `${UUID}`, with
    /// `| lowercase`, `| uppercase` or `| localpart`.
    UsernameTemplate {
        template: String,
    },
    /// Membership of `group` for every user of the IdP.
    HardcodedGroup {
        group: String,
    },
    /// Membership of `group` when every claim matches its value (equal to it or, as an array,
    /// containing it; or matching it as a regex).
    AdvancedClaimToGroup {
        claims: Vec<ClaimMatch>,
        group: String,
    },
}

/// A claim an advanced mapper requires: at `claim` (a path), `value`, or a match of `regex`.
#[derive(Debug, Clone)]
pub struct ClaimMatch {
    pub claim: String,
    pub value: String,
    pub regex: Option<ValueRegex>,
}

/// `value` as an anchored regex (the whole value must match, as in Keycloak) when `regex`.
fn value_regex(value: &str, regex: bool, at: &str) -> Result<Option<ValueRegex>, ConfigError> {
    if !regex {
        return Ok(None);
    }
    #[cfg(keyedge_regex)]
    return regex_lite::Regex::new(&format!("^(?:{value})$"))
        .map(Some)
        .map_err(|e| err(at.to_owned(), format!("not a valid regex: {e}")));
    // Unreachable in a Worker: build.rs compiles the engine in for the configuration it embeds.
    #[cfg(not(keyedge_regex))]
    Err(err(at.to_owned(), format!("`{value}` as a regex: this Worker was built without regex mappers")))
}

/// A group's name: Keycloak's path (`/staff/admins`) or a plain name; no control characters.
fn group_name(group: String, at: &str) -> Result<String, ConfigError> {
    if group.trim() != group || group.chars().any(char::is_control) || group.len() > 255 {
        return Err(err(at.to_owned(), "must be a group name or path without surrounding spaces"));
    }
    Ok(group)
}

/// One `[[identity_providers.mappers]]` entry, with the fields its kind needs and no others.
pub(super) fn mapper(m: &RawMapper, path: &str) -> Result<Mapper, ConfigError> {
    let need = |v: &Option<String>, f: &str| -> Result<String, ConfigError> {
        v.clone().filter(|v| !v.is_empty()).ok_or_else(|| err(format!("{path}.{f}"), "is required for this kind"))
    };
    let used: &[&str] = match m.kind {
        RawMapperKind::HardcodedAttribute => &["attribute", "value"],
        RawMapperKind::HardcodedRole => &["role"],
        RawMapperKind::AttributeImporter => &["claim", "attribute"],
        RawMapperKind::ClaimToRole => &["claim", "value", "regex", "role"],
        RawMapperKind::UsernameTemplate => &["template"],
        RawMapperKind::HardcodedGroup => &["group"],
        RawMapperKind::AdvancedClaimToGroup => &["claims", "regex", "group"],
    };
    let set = [
        ("attribute", m.attribute.is_some()),
        ("value", m.value.is_some()),
        ("claim", m.claim.is_some()),
        ("regex", m.regex),
        ("role", m.role.is_some()),
        ("template", m.template.is_some()),
        ("group", m.group.is_some()),
        ("claims", m.claims.is_some()),
    ];
    if let Some((field, _)) = set.iter().find(|(f, on)| *on && !used.contains(f)) {
        return Err(err(format!("{path}.{field}"), "does not apply to this kind of mapper"));
    }
    let kind = match m.kind {
        RawMapperKind::HardcodedAttribute => MapperKind::HardcodedAttribute {
            attribute: need(&m.attribute, "attribute")?,
            value: need(&m.value, "value")?,
        },
        RawMapperKind::HardcodedRole => MapperKind::HardcodedRole { role: need(&m.role, "role")? },
        RawMapperKind::AttributeImporter => MapperKind::AttributeImporter {
            claim: need(&m.claim, "claim")?,
            attribute: need(&m.attribute, "attribute")?,
        },
        RawMapperKind::ClaimToRole => {
            let value = need(&m.value, "value")?;
            let regex = value_regex(&value, m.regex, &format!("{path}.value"))?;
            MapperKind::ClaimToRole { claim: need(&m.claim, "claim")?, value, regex, role: need(&m.role, "role")? }
        }
        RawMapperKind::HardcodedGroup => {
            MapperKind::HardcodedGroup { group: group_name(need(&m.group, "group")?, &format!("{path}.group"))? }
        }
        RawMapperKind::AdvancedClaimToGroup => {
            let raw = m.claims.as_deref().unwrap_or_default();
            if raw.is_empty() {
                return Err(err(
                    format!("{path}.claims"),
                    "is required for this kind: [{ claim = \"…\", value = \"…\" }]",
                ));
            }
            let mut claims = Vec::new();
            for (i, c) in raw.iter().enumerate() {
                if c.claim.is_empty() {
                    return Err(err(format!("{path}.claims[{i}].claim"), "must name a claim"));
                }
                let regex = value_regex(&c.value, m.regex, &format!("{path}.claims[{i}].value"))?;
                claims.push(ClaimMatch { claim: c.claim.clone(), value: c.value.clone(), regex });
            }
            MapperKind::AdvancedClaimToGroup {
                claims,
                group: group_name(need(&m.group, "group")?, &format!("{path}.group"))?,
            }
        }
        RawMapperKind::UsernameTemplate => {
            let template = need(&m.template, "template")?;
            crate::core::claims::check_template(&template).map_err(|e| err(format!("{path}.template"), e))?;
            MapperKind::UsernameTemplate { template }
        }
    };
    Ok(Mapper { name: m.name.clone(), sync_mode: m.sync_mode, kind })
}
