//! First-login and post-login flows.

use serde::Deserialize;

use super::{default_true, domains, err, ConfigError};

/// Keycloak's "first broker login" flow: what happens when an upstream identity signs in for
/// the first time (no keyedge user is linked to it yet).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstLoginFlow {
    pub alias: String,
    /// Show the profile form: always, only when email/first/last name is missing, or never.
    #[serde(default)]
    pub review_profile: ReviewProfile,
    /// Create the account when no user has the same username or email.
    #[serde(default = "default_true")]
    pub create_user_if_unique: bool,
    /// When one does: offer to link to it (after verification) instead of an error page.
    #[serde(default = "default_true")]
    pub handle_existing_account: bool,
    /// Show "Confirm link existing account" before verifying.
    #[serde(default = "default_true")]
    pub confirm_link_existing_account: bool,
    /// Verify by a link mailed to the existing account's email (needs `[mail]`).
    #[serde(default = "default_true")]
    pub verify_existing_account_by_email: bool,
    /// Verify by signing in with an IdP already linked to the existing account.
    #[serde(default = "default_true")]
    pub verify_existing_account_by_reauthentication: bool,
}

/// The built-in first login flow, as Keycloak's default "first broker login".
pub const DEFAULT_FIRST_LOGIN_FLOW: &str = "first broker login";

impl FirstLoginFlow {
    fn builtin() -> Self {
        FirstLoginFlow {
            alias: DEFAULT_FIRST_LOGIN_FLOW.into(),
            review_profile: ReviewProfile::Missing,
            create_user_if_unique: true,
            handle_existing_account: true,
            confirm_link_existing_account: true,
            verify_existing_account_by_email: true,
            verify_existing_account_by_reauthentication: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewProfile {
    On,
    #[default]
    Missing,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPostLoginFlow {
    alias: String,
    #[serde(default)]
    require_email_domains: Vec<String>,
    #[serde(default)]
    require_claims: Vec<ClaimRequirement>,
    #[serde(default)]
    deny_message: Option<String>,
}

/// A claim (JSON path into the IdP's claims) that must equal `value` or, for an array,
/// contain it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequirement {
    pub claim: String,
    pub value: String,
}

/// A step after every login through an IdP: who may pass.
#[derive(Debug, Clone)]
pub struct PostLoginFlow {
    pub alias: String,
    /// The user's email must be verified and at one of these domains (when not empty).
    pub require_email_domains: Vec<String>,
    pub require_claims: Vec<ClaimRequirement>,
    pub deny_message: Option<String>,
}

/// The built-in flow (changed if an entry redefines its alias) and the configured ones.
pub(super) fn first_login_flows(raw: Vec<FirstLoginFlow>) -> Result<Vec<FirstLoginFlow>, ConfigError> {
    let mut first_login_flows = vec![FirstLoginFlow::builtin()];
    for (i, flow) in raw.into_iter().enumerate() {
        if flow.alias.is_empty() {
            return Err(err(format!("first_login_flows[{i}].alias"), "is required"));
        }
        match first_login_flows.iter().position(|f| f.alias == flow.alias) {
            // Redefining the built-in flow changes it for every IdP that uses the default.
            Some(0) => first_login_flows[0] = flow,
            Some(_) => return Err(err(format!("first_login_flows[{i}].alias"), "is used by another flow")),
            None => first_login_flows.push(flow),
        }
    }
    Ok(first_login_flows)
}

pub(super) fn post_login_flows(raw: Vec<RawPostLoginFlow>) -> Result<Vec<PostLoginFlow>, ConfigError> {
    let mut post_login_flows: Vec<PostLoginFlow> = Vec::new();
    for (i, flow) in raw.into_iter().enumerate() {
        let path = format!("post_login_flows[{i}]");
        if flow.alias.is_empty() || post_login_flows.iter().any(|f| f.alias == flow.alias) {
            return Err(err(format!("{path}.alias"), "must be present and unique"));
        }
        let require_email_domains = domains(&flow.require_email_domains, &format!("{path}.require_email_domains"))?;
        post_login_flows.push(PostLoginFlow {
            alias: flow.alias,
            require_email_domains,
            require_claims: flow.require_claims,
            deny_message: flow.deny_message,
        });
    }
    Ok(post_login_flows)
}
