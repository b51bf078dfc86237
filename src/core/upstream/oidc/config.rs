//! The configuration of an OpenID Connect provider (`kind = "oidc"`): its raw options, their
//! validation, and the typed settings the flow uses.

use serde::Deserialize;
use url::Url;

use crate::core::config::{err, optional_url, parse_url, required, ConfigError, KindOptions, Secrets};
use crate::core::jose::Alg;
use crate::core::secret::Secret;
use crate::core::upstream::client_config::{client_auth, RawOAuthClient, UpstreamClientAuth};
use crate::core::vocab::{scope, PromptValue, Scopes};

/// The options only an OpenID Connect provider takes (besides keyedge's client options).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOidc {
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default = "default_skew")]
    allowed_clock_skew: u64,
    #[serde(default)]
    disable_userinfo: bool,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    accepts_prompt_none_forward: bool,
    #[serde(default = "default_true")]
    validate_signature: bool,
    #[serde(default = "default_true")]
    use_jwks_url: bool,
    #[serde(default)]
    public_key_signature_verifier: Option<String>,
    #[serde(default)]
    public_key_signature_verifier_key_id: Option<String>,
    #[serde(default)]
    backchannel_logout: bool,
    #[serde(default)]
    accept_logout_tokens: bool,
    #[serde(default)]
    upstream_logout: bool,
    #[serde(default)]
    logout_url: Option<String>,
    #[serde(default)]
    forward_parameters: Vec<String>,
    #[serde(default = "default_true")]
    pass_login_hint: bool,
    #[serde(default = "default_true")]
    pass_max_age: bool,
    #[serde(default = "default_true")]
    pass_current_locale: bool,
    #[serde(default)]
    disable_nonce: bool,
}

fn default_true() -> bool {
    true
}
fn default_scopes() -> String {
    "openid email profile".into()
}
fn default_skew() -> u64 {
    30
}

/// How an upstream ID token's signature is checked.
#[derive(Debug, Clone)]
pub enum SignatureCheck {
    /// With the IdP's JWKS (`jwks_url` or discovery).
    Jwks,
    /// With one pinned public key (`public_key_signature_verifier`).
    Pinned(crate::core::jose::Jwks),
    /// Not at all (`validate_signature = false`): the ID token is trusted because it came
    /// straight from the token endpoint over TLS (OIDC Core §3.1.3.7, 6).
    Off,
}

/// Which addresses an IdP's `email_verified` claim is evidence for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailEvidence {
    /// The address it names, whatever it is (the IdP checked the mailbox).
    Claim,
    /// None (Microsoft: any tenant admin can set any address on an account — the nOAuth class).
    Never,
    /// Google: only `@gmail.com` addresses and those of a Workspace domain (the token's `hd`).
    /// A personal Google account made with another address was checked once, at sign-up, and
    /// stays "verified" after its owner lost the mailbox.
    GmailOrHostedDomain,
}

impl EmailEvidence {
    /// Whether `email_verified` counts for `email`, given the token's claims.
    pub fn covers(self, email: &str, claims: &serde_json::Value) -> bool {
        match self {
            EmailEvidence::Claim => true,
            EmailEvidence::Never => false,
            EmailEvidence::GmailOrHostedDomain => {
                email.to_ascii_lowercase().ends_with("@gmail.com")
                    || claims.get("hd").and_then(serde_json::Value::as_str).is_some_and(|hd| !hd.is_empty())
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct OidcProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_auth: UpstreamClientAuth,
    pub default_scopes: String,
    pub authorization_url: Option<Url>,
    pub token_url: Option<Url>,
    pub jwks_url: Option<Url>,
    pub userinfo_url: Option<Url>,
    pub allowed_clock_skew: u64,
    /// Take the user's attributes from the ID token only (Keycloak's "Disable user info").
    pub disable_userinfo: bool,
    /// A `prompt` sent on every upstream request (unless the client asked for a fresh login).
    pub prompt: Option<PromptValue>,
    /// A client's `prompt=none` with this IdP chosen is passed on instead of answered
    /// `login_required` at keyedge.
    pub accepts_prompt_none_forward: bool,
    pub signature: SignatureCheck,
    /// Keycloak's "Backchannel logout": when a keyedge session opened through this IdP ends,
    /// keyedge calls the IdP's end-session endpoint server to server (with the session's
    /// upstream ID token as `id_token_hint`) instead of sending the browser there.
    pub backchannel_logout: bool,
    /// Accept OpenID Connect Back-Channel Logout tokens from the IdP
    /// (`POST /broker/{alias}/backchannel_logout`): the IdP ends keyedge sessions.
    pub accept_logout_tokens: bool,
    /// On keyedge logout, send the browser to the IdP's end-session endpoint too.
    pub upstream_logout: bool,
    /// The end-session endpoint (else discovery's `end_session_endpoint`).
    pub logout_url: Option<Url>,
    /// Parameters sent on every authorization request, set by a preset (Google's `hd` and
    /// `access_type`).
    pub authorization_params: Vec<(&'static str, String)>,
    /// A `prompt` value sent on every request, added to whatever else is sent (Google's
    /// `consent` when tokens are stored: only then does it issue a refresh token again).
    pub required_prompt: Option<PromptValue>,
    /// The `prompt` values the provider knows, when it does not know them all (Google has no
    /// `login`): a client's others are not passed on.
    pub prompt_values: Option<&'static [PromptValue]>,
    /// `iss` values accepted besides `issuer` (Google's legacy `accounts.google.com`).
    pub issuer_aliases: Vec<String>,
    /// The hosted domain the ID token's `hd` claim must name (Google Workspace), `*` for any.
    pub hosted_domain: Option<String>,
    /// Split a full `name` into `given_name` and `family_name` when the provider sends
    /// neither (GitLab), set by a preset.
    pub split_name: bool,
    /// Issuers per tenant (Microsoft's multi-tenant endpoints): `iss` must be
    /// `{base}/{tid}/v2.0` with `tid` the token's own claim, admitted by `tenant`.
    pub tenant_issuer: Option<TenantIssuer>,
    /// Which addresses the provider's `email_verified` is evidence for.
    pub email_evidence: EmailEvidence,
    /// The provider ignores `nonce` and its ID tokens carry none (LinkedIn, or
    /// `disable_nonce = true`): none is sent or required; the `state`, PKCE and the
    /// confidential client's code exchange bind the login.
    pub nonce_unsupported: bool,
    /// The provider answers with a form post to the redirect URI (OAuth 2.0 Form Post
    /// Response Mode, `response_mode=form_post`), which Apple requires when a name or email
    /// is asked for: keyedge asks for it, and `/broker/{alias}/endpoint` takes the POST.
    pub form_post: bool,
    /// The user's name arrives only in the first authorization's `user` form field (Apple),
    /// never in the ID token: it is read as a profile hint, and a later login without it keeps
    /// the name the account has.
    pub name_in_user_field: bool,
    /// What of the client's authorization request goes on to the provider.
    pub forwarding: Forwarding,
}

/// What of a client's authorization request is passed on to the provider (Keycloak's
/// "Forwarded query parameters", "Pass login_hint", "Pass max_age", "Pass current locale").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarding {
    /// Further parameters of the client's request, passed as they are.
    pub parameters: Vec<String>,
    pub login_hint: bool,
    pub max_age: bool,
    pub current_locale: bool,
}

impl Default for Forwarding {
    fn default() -> Self {
        Forwarding { parameters: Vec::new(), login_hint: true, max_age: true, current_locale: true }
    }
}

/// Parameters keyedge sets itself on the upstream request, or that belong to the client's
/// request to keyedge only: `forward_parameters` may not name them.
pub const UNFORWARDABLE: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "id_token_hint",
    "request",
    "request_uri",
    "claims",
    "kc_idp_hint",
];

/// `forward_parameters`: names of the client's parameters passed on as they are.
fn forward_parameters(names: &[String], path: &str) -> Result<Vec<String>, ConfigError> {
    for (i, name) in names.iter().enumerate() {
        let at = format!("{path}.forward_parameters[{i}]");
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b)) {
            return Err(err(at, "must be a parameter name (letters, digits, '.', '_', '-', ':')"));
        }
        if UNFORWARDABLE.contains(&name.as_str()) {
            let why = match name.as_str() {
                "prompt" => "keyedge passes the client's prompt itself",
                "max_age" => "use pass_max_age",
                "login_hint" => "use pass_login_hint",
                "ui_locales" => "use pass_current_locale",
                _ => "keyedge sets it on its own request to the provider (or it is keyedge's own)",
            };
            return Err(err(at, format!("`{name}` cannot be forwarded: {why}")));
        }
    }
    Ok(names.to_vec())
}

/// Microsoft's tenants (https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-issuer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantIssuer {
    /// `https://login.microsoftonline.com` (or a national cloud's host).
    pub base: String,
    pub tenant: Tenant,
}

/// Which tenants' accounts may sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenant {
    /// `common`: work or school accounts of any tenant, and personal accounts.
    Common,
    /// `organizations`: work or school accounts of any tenant.
    Organizations,
    /// `consumers`: personal Microsoft accounts (their tenant is [`Tenant::CONSUMERS_TID`]).
    Consumers,
    /// One tenant, by its id (lower-case GUID).
    Id(String),
}

impl Tenant {
    /// The tenant of every personal Microsoft account.
    pub const CONSUMERS_TID: &'static str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    /// Its path segment in the endpoints.
    pub fn segment(&self) -> &str {
        match self {
            Tenant::Common => "common",
            Tenant::Organizations => "organizations",
            Tenant::Consumers => "consumers",
            Tenant::Id(id) => id,
        }
    }

    /// Whether an account of tenant `tid` may sign in.
    pub fn admits(&self, tid: &str) -> bool {
        match self {
            Tenant::Common => true,
            Tenant::Organizations => tid != Self::CONSUMERS_TID,
            Tenant::Consumers => tid == Self::CONSUMERS_TID,
            Tenant::Id(id) => tid == id,
        }
    }
}

/// A tenant id: a GUID, as Microsoft writes it (lower-case hex, 8-4-4-4-12).
pub fn is_tenant_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n)
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

impl TenantIssuer {
    /// Whether `iss` has the shape of an issuer of one of the admitted tenants.
    fn names(&self, iss: &str) -> bool {
        iss.strip_prefix(&self.base)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_suffix("/v2.0"))
            .is_some_and(|tid| is_tenant_id(tid) && self.tenant.admits(tid))
    }
}

impl OidcProvider {
    /// Whether the provider knows the `prompt` value `value`.
    pub fn knows_prompt(&self, value: PromptValue) -> bool {
        self.prompt_values.is_none_or(|known| known.contains(&value))
    }

    /// Whether `iss` names this provider: its issuer, or one of its `issuer_aliases`.
    /// With per-tenant issuers, any admitted tenant's issuer (the ID token's own `tid` is
    /// checked against it separately).
    pub fn accepts_issuer(&self, iss: &str) -> bool {
        if let Some(t) = &self.tenant_issuer {
            return t.names(iss);
        }
        iss == self.issuer || self.issuer_aliases.iter().any(|a| a == iss)
    }
}

/// An `[[identity_providers]]` table of `kind = "oidc"`, from the options the shared pass left.
pub(crate) fn provider(
    mut options: KindOptions,
    signing_keys: &[(String, Alg, Secret)],
    secrets: &Secrets,
) -> Result<OidcProvider, ConfigError> {
    let c: RawOAuthClient = options.take()?;
    let path = options.path;
    let p: RawOidc = options.finish()?;
    let client_auth = client_auth(&c, path, signing_keys, secrets)?;
    let required = |v: Option<String>, f: &str| required(v, path, f);
    let opt = |v: Option<String>, f: &str| optional_url(v, path, f);
    let issuer = required(p.issuer.clone(), "issuer")?;
    parse_url(&issuer).map_err(|m| err(format!("{path}.issuer"), m))?;
    let default_scopes = c.default_scopes.clone().unwrap_or_else(default_scopes);
    if !Scopes::parse(&default_scopes).contains(scope::OPENID) {
        return Err(err(format!("{path}.default_scopes"), "an OpenID Connect provider needs the `openid` scope"));
    }
    let prompt = match &p.prompt {
        Some(text) => Some(PromptValue::parse(text).ok_or_else(|| {
            let all: Vec<&str> = PromptValue::ALL.iter().map(|v| v.as_str()).collect();
            err(format!("{path}.prompt"), format!("`{text}`: use one of {}", all.join(", ")))
        })?),
        None => None,
    };
    let signature = signature_check(&p, path)?;
    if p.logout_url.is_some() && !p.upstream_logout {
        return Err(err(format!("{path}.logout_url"), "is used only with upstream_logout = true"));
    }
    let client_id = required(c.client_id.clone(), "client_id")?;
    Ok(OidcProvider {
        authorization_url: opt(c.authorization_url.clone(), "authorization_url")?,
        token_url: opt(c.token_url.clone(), "token_url")?,
        jwks_url: opt(p.jwks_url.clone(), "jwks_url")?,
        userinfo_url: opt(c.userinfo_url.clone(), "userinfo_url")?,
        allowed_clock_skew: p.allowed_clock_skew,
        disable_userinfo: p.disable_userinfo,
        prompt,
        accepts_prompt_none_forward: p.accepts_prompt_none_forward,
        signature,
        backchannel_logout: p.backchannel_logout,
        accept_logout_tokens: p.accept_logout_tokens,
        upstream_logout: p.upstream_logout,
        logout_url: opt(p.logout_url.clone(), "logout_url")?,
        nonce_unsupported: p.disable_nonce,
        forwarding: Forwarding {
            parameters: forward_parameters(&p.forward_parameters, path)?,
            login_hint: p.pass_login_hint,
            max_age: p.pass_max_age,
            current_locale: p.pass_current_locale,
        },
        ..OidcProvider::new(issuer, client_id, client_auth, default_scopes)
    })
}

impl OidcProvider {
    /// A provider found by `issuer`'s discovery, with keyedge's defaults: signatures checked
    /// with its JWKS, 30 s of clock skew, userinfo read, the client's hints passed on, nothing
    /// else; the configuration or a preset changes what its provider needs.
    pub fn new(issuer: String, client_id: String, client_auth: UpstreamClientAuth, default_scopes: String) -> Self {
        OidcProvider {
            issuer,
            client_id,
            client_auth,
            default_scopes,
            authorization_url: None,
            token_url: None,
            jwks_url: None,
            userinfo_url: None,
            allowed_clock_skew: default_skew(),
            disable_userinfo: false,
            prompt: None,
            accepts_prompt_none_forward: false,
            signature: SignatureCheck::Jwks,
            backchannel_logout: false,
            accept_logout_tokens: false,
            upstream_logout: false,
            logout_url: None,
            authorization_params: Vec::new(),
            required_prompt: None,
            prompt_values: None,
            issuer_aliases: Vec::new(),
            hosted_domain: None,
            split_name: false,
            tenant_issuer: None,
            email_evidence: EmailEvidence::Claim,
            nonce_unsupported: false,
            form_post: false,
            name_in_user_field: false,
            forwarding: Forwarding::default(),
        }
    }
}

/// `validate_signature`, `use_jwks_url` and the pinned key of an OIDC provider.
fn signature_check(p: &RawOidc, path: &str) -> Result<SignatureCheck, ConfigError> {
    let pinned = p.public_key_signature_verifier.as_deref();
    if !p.validate_signature {
        if pinned.is_some() || !p.use_jwks_url {
            return Err(err(format!("{path}.validate_signature"), "is false, so no key settings apply"));
        }
        // A logout token is posted by anyone who can reach keyedge, not fetched from the IdP
        // over TLS as an ID token is: it is only as good as its signature.
        if p.accept_logout_tokens {
            return Err(err(
                format!("{path}.accept_logout_tokens"),
                "needs validate_signature: a logout token without a checked signature would let anyone end sessions",
            ));
        }
        return Ok(SignatureCheck::Off);
    }
    match (p.use_jwks_url, pinned) {
        (true, None) => {
            if p.public_key_signature_verifier_key_id.is_some() {
                return Err(err(
                    format!("{path}.public_key_signature_verifier_key_id"),
                    "applies with public_key_signature_verifier only",
                ));
            }
            Ok(SignatureCheck::Jwks)
        }
        (true, Some(_)) => {
            Err(err(format!("{path}.public_key_signature_verifier"), "set use_jwks_url = false to pin a key"))
        }
        (false, None) => Err(err(
            format!("{path}.public_key_signature_verifier"),
            "is required when use_jwks_url = false (a PEM public key)",
        )),
        (false, Some(pem)) => {
            let jwks = crate::core::jose::Jwks::from_public_pem(pem, p.public_key_signature_verifier_key_id.as_deref())
                .map_err(|m| err(format!("{path}.public_key_signature_verifier"), m))?;
            Ok(SignatureCheck::Pinned(jwks))
        }
    }
}

#[cfg(test)]
mod tenant_tests {
    use super::{Tenant, TenantIssuer};

    const CONTOSO: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn a_tenant_issuer_names_only_admitted_tenants_issuers() {
        let base = "https://login.microsoftonline.com";
        let issuer = |tenant| TenantIssuer { base: base.into(), tenant };
        let contoso = format!("{base}/{CONTOSO}/v2.0");
        let personal = format!("{base}/{}/v2.0", Tenant::CONSUMERS_TID);
        assert!(issuer(Tenant::Common).names(&contoso) && issuer(Tenant::Common).names(&personal));
        assert!(issuer(Tenant::Organizations).names(&contoso) && !issuer(Tenant::Organizations).names(&personal));
        assert!(!issuer(Tenant::Consumers).names(&contoso) && issuer(Tenant::Consumers).names(&personal));
        let one = issuer(Tenant::Id(CONTOSO.into()));
        assert!(one.names(&contoso) && !one.names(&personal));
        for bad in [
            format!("{base}/common/v2.0"),
            format!("{base}/{CONTOSO}"),
            format!("https://evil.example/{CONTOSO}/v2.0"),
            format!("{base}/{CONTOSO}/v2.0/x"),
            format!("{base}/{}/v2.0", CONTOSO.to_uppercase()),
        ] {
            assert!(!issuer(Tenant::Common).names(&bad), "{bad}");
        }
    }
}
