//! Identity provider mappers.

use serde::Deserialize;

use super::{err, ConfigError, SyncMode};

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
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawMapperKind {
    HardcodedAttribute,
    HardcodedRole,
    AttributeImporter,
    ClaimToRole,
    UsernameTemplate,
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
        regex: Option<regex_lite::Regex>,
        role: String,
    },
    /// The username on first login: `${CLAIM.path}`, `${ALIAS}`, with `| lowercase` or
    /// `| uppercase`.
    UsernameTemplate {
        template: String,
    },
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
    };
    let set = [
        ("attribute", m.attribute.is_some()),
        ("value", m.value.is_some()),
        ("claim", m.claim.is_some()),
        ("regex", m.regex),
        ("role", m.role.is_some()),
        ("template", m.template.is_some()),
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
            let regex = if m.regex {
                // Anchored: the whole value must match, as in Keycloak.
                Some(
                    regex_lite::Regex::new(&format!("^(?:{value})$"))
                        .map_err(|e| err(format!("{path}.value"), format!("not a valid regex: {e}")))?,
                )
            } else {
                None
            };
            MapperKind::ClaimToRole { claim: need(&m.claim, "claim")?, value, regex, role: need(&m.role, "role")? }
        }
        RawMapperKind::UsernameTemplate => {
            let template = need(&m.template, "template")?;
            crate::core::claims::check_template(&template).map_err(|e| err(format!("{path}.template"), e))?;
            MapperKind::UsernameTemplate { template }
        }
    };
    Ok(Mapper { name: m.name.clone(), sync_mode: m.sync_mode, kind })
}
