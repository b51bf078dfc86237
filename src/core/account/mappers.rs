//! Identity provider mappers (Keycloak's "Mappers"): user attributes, roles and the username
//! taken from the IdP's claims, on the first login and, per sync mode, on later ones.

use serde_json::Value;

use super::users::User;
use crate::core::claims::{at_path, render_template, text, TemplateContext};
use crate::core::config::{IdentityProvider, Mapper, MapperKind, SyncMode};

/// Whether the claim at `path` equals `value` (or, for an array, contains it), or matches
/// the mapper's regex.
fn claim_matches(claims: &Value, path: &str, value: &str, regex: Option<&crate::core::config::ValueRegex>) -> bool {
    let fits = |v: &Value| text(v).is_some_and(|t| regex.map_or(t == value, |r| r.is_match(&t)));
    match at_path(claims, path) {
        Some(Value::Array(items)) => items.iter().any(fits),
        Some(v) => fits(v),
        None => false,
    }
}

/// Whether `mapper` runs at this login: always on the first; later per its sync mode
/// (`force` always; `legacy` for the claim-driven importers, as in Keycloak; `import` never).
fn runs(mapper: &Mapper, idp: &IdentityProvider, first: bool) -> bool {
    if first {
        return true;
    }
    match mapper.sync_mode.unwrap_or(idp.sync_mode) {
        SyncMode::Import => false,
        SyncMode::Force => !matches!(mapper.kind, MapperKind::UsernameTemplate { .. }),
        SyncMode::Legacy => matches!(
            mapper.kind,
            MapperKind::AttributeImporter { .. }
                | MapperKind::ClaimToRole { .. }
                | MapperKind::AdvancedClaimToGroup { .. }
        ),
    }
}

/// Applies the IdP's mappers to `user` for a login with `claims`; `first` on the login that
/// creates or links the account. Returns whether the user changed.
pub fn apply(user: &mut User, idp: &IdentityProvider, claims: &Value, first: bool) -> bool {
    let before = (user.attributes.clone(), user.roles.clone(), user.groups.clone(), user.username.clone());
    for mapper in idp.mappers.iter().filter(|m| runs(m, idp, first)) {
        match &mapper.kind {
            MapperKind::HardcodedAttribute { attribute, value } => {
                user.attributes.insert(attribute.clone(), Value::String(value.clone()));
            }
            MapperKind::HardcodedRole { role } => add_role(user, role),
            MapperKind::AttributeImporter { claim, attribute } => match at_path(claims, claim) {
                Some(v) if !v.is_null() => {
                    user.attributes.insert(attribute.clone(), v.clone());
                }
                _ if !first => {
                    user.attributes.remove(attribute);
                }
                _ => {}
            },
            MapperKind::ClaimToRole { claim, value, regex, role } => {
                if claim_matches(claims, claim, value, regex.as_ref()) {
                    add_role(user, role);
                } else if !first {
                    user.roles.retain(|r| r != role);
                }
            }
            // The username is chosen before the account exists: see `username_for`.
            MapperKind::UsernameTemplate { .. } => {}
            MapperKind::HardcodedGroup { group } => join_group(user, group),
            MapperKind::AdvancedClaimToGroup { claims: wanted, group } => {
                if wanted.iter().all(|c| claim_matches(claims, &c.claim, &c.value, c.regex.as_ref())) {
                    join_group(user, group);
                } else if !first {
                    user.groups.retain(|g| g != group);
                }
            }
        }
    }
    (user.attributes.clone(), user.roles.clone(), user.groups.clone(), user.username.clone()) != before
}

fn join_group(user: &mut User, group: &str) {
    if !user.groups.iter().any(|g| g == group) {
        user.groups.push(group.to_owned());
    }
}

fn add_role(user: &mut User, role: &str) {
    if !user.has_role(role) {
        user.roles.push(role.to_owned());
    }
}

/// The username a new account gets: the IdP's username template when it has one (and the
/// claims it names are present), taken as written — its filters decide the case —, else the
/// username the IdP reported (already lower-cased unless `case_sensitive_usernames`). `uuid`
/// is what a template's `${UUID}` stands for.
pub fn username_for(idp: &IdentityProvider, claims: &Value, reported: &str, uuid: &str) -> String {
    let context = TemplateContext { claims, alias: &idp.alias, uuid };
    idp.mappers
        .iter()
        .find_map(|m| match &m.kind {
            MapperKind::UsernameTemplate { template } => render_template(template, &context),
            _ => None,
        })
        .unwrap_or_else(|| reported.to_owned())
}

/// Whether a post-login flow lets this login through: `Err` carries the reason shown.
pub fn post_login_allows(
    flow: &crate::core::config::PostLoginFlow,
    email: Option<&str>,
    email_verified: bool,
    claims: &Value,
) -> Result<(), String> {
    let default = || "Your account does not have access through this identity provider.".to_owned();
    if !flow.require_email_domains.is_empty() {
        let domain = email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_ascii_lowercase());
        let allowed = email_verified && domain.is_some_and(|d| flow.require_email_domains.contains(&d));
        if !allowed {
            return Err(flow.deny_message.clone().unwrap_or_else(|| {
                format!("Sign-in here needs a verified email address at {}.", flow.require_email_domains.join(", "))
            }));
        }
    }
    for req in &flow.require_claims {
        if !claim_matches(claims, &req.claim, &req.value, None) {
            return Err(flow.deny_message.clone().unwrap_or_else(default));
        }
    }
    Ok(())
}
