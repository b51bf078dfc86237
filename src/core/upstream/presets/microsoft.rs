//! `kind = "microsoft"`: Microsoft Entra ID (work or school accounts) and personal Microsoft
//! accounts, through the Microsoft identity platform's OpenID Connect endpoints.
//!
//! - The endpoints, `{base}/{tenant}/oauth2/v2.0/authorize` and `/token`, the keys at
//!   `{base}/{tenant}/discovery/v2.0/keys`, and the tenants `common`, `organizations`,
//!   `consumers` or a tenant id:
//!   https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc
//! - The ID token's claims (`tid`, `oid`, `preferred_username`, `email`; `sub` pairwise per
//!   application): https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference
//! - A multi-tenant application's issuer check (`iss` must be `{base}/{tid}/v2.0` with the
//!   token's own `tid`): https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-issuer
//! - `email` is not verified by Microsoft (an admin can set any address), and must not be
//!   used to link accounts:
//!   https://learn.microsoft.com/en-us/entra/identity-platform/migrate-off-email-claim-authorization
//! - National clouds (`login.microsoftonline.us`, …):
//!   https://learn.microsoft.com/en-us/entra/identity-platform/authentication-national-cloud
//! - A refresh token only with the `offline_access` scope; the refresh grant answers a new
//!   refresh token, which replaces the old one:
//!   https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token

use serde::Deserialize;

use super::{base_url, client, endpoint, oidc, Preset};
use crate::core::config::{err, ConfigError, KindOptions, Secrets};
use crate::core::upstream::oidc::config::EmailEvidence;
use crate::core::upstream::oidc::config::{is_tenant_id, OidcProvider, Tenant, TenantIssuer};
use crate::core::vocab::{PromptValue, Scopes};

pub const BASE: &str = "https://login.microsoftonline.com";
pub const DEFAULT_SCOPES: &str = "openid profile email";
/// A refresh token, for `store_tokens` (Microsoft's access tokens last about an hour).
const OFFLINE: &str = "offline_access";

/// The options of `kind = "microsoft"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMicrosoft {
    /// `common` (default), `organizations`, `consumers`, or a tenant id.
    #[serde(default)]
    tenant: Option<String>,
    /// A national cloud's login host, e.g. `https://login.microsoftonline.us`.
    #[serde(default)]
    base_url: Option<String>,
}

/// `store_tokens` of the provider: stored tokens are refreshable only with `offline_access`.
pub(crate) fn provider(
    mut options: KindOptions,
    secrets: &Secrets,
    store_tokens: bool,
) -> Result<OidcProvider, ConfigError> {
    let mut client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    if store_tokens && !Scopes::parse(&client.default_scopes).contains(OFFLINE) {
        client.default_scopes = format!("{} {OFFLINE}", client.default_scopes);
    }
    let path = options.path;
    let raw: RawMicrosoft = options.finish()?;
    let base = match &raw.base_url {
        Some(b) => base_url(b, path)?,
        None => BASE.to_owned(),
    };
    let tenant = match raw.tenant.as_deref().map(str::trim) {
        None | Some("common") => Tenant::Common,
        Some("organizations") => Tenant::Organizations,
        Some("consumers") => Tenant::Consumers,
        Some(id) if is_tenant_id(&id.to_ascii_lowercase()) => Tenant::Id(id.to_ascii_lowercase()),
        Some(other) => {
            return Err(err(
                format!("{path}.tenant"),
                format!("`{other}`: use common, organizations, consumers or the Directory (tenant) ID, a GUID"),
            ))
        }
    };
    let t = tenant.segment().to_owned();
    let at = |suffix: &str| endpoint(&base, &format!("/{t}{suffix}"), path, "base_url");
    Ok(OidcProvider {
        // Every endpoint is configured: `common`'s discovery document names the issuer
        // `{base}/{tenantid}/v2.0` literally, which no discovery check could accept.
        authorization_url: Some(at("/oauth2/v2.0/authorize")?),
        token_url: Some(at("/oauth2/v2.0/token")?),
        jwks_url: Some(at("/discovery/v2.0/keys")?),
        // The ID token holds everything userinfo (at Microsoft Graph) would say.
        disable_userinfo: true,
        prompt: Some(PromptValue::SelectAccount),
        tenant_issuer: Some(TenantIssuer { base: base.clone(), tenant }),
        email_evidence: EmailEvidence::Never,
        // `name` only, unless the app registration adds the optional claims.
        split_name: true,
        ..oidc(Preset::Microsoft, format!("{base}/{t}/v2.0"), client, path)?
    })
}
