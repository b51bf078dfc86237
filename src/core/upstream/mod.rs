//! Upstream identity providers. Each kind turns "send the user there" into a redirect plus
//! the flow secrets to keep, and a callback plus those secrets into a [`BrokeredIdentity`].

pub mod api;
pub mod client_config;
pub mod oidc;
pub mod plain_oauth2;
pub mod presets;
#[cfg(keyedge_saml)]
pub mod saml;

use oauth2::basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, StandardRevocableToken, TokenResponse, TokenUrl,
};

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::core::claims::StandardClaims;
use crate::core::jose::Keyring;
use crate::core::ports::{PortError, Ports};
use client_config::{SignedClientSecret, UpstreamClientAuth};

/// An `oauth2` client with authorization and token endpoints, for token responses `TR`.
pub(crate) type CodeClient<TR> = oauth2::Client<
    BasicErrorResponse,
    TR,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// keyedge as a client of an upstream provider, whatever its kind.
pub(crate) struct ClientSettings<'a> {
    pub client_id: &'a str,
    pub auth: &'a UpstreamClientAuth,
    pub authorization: &'a url::Url,
    pub token: &'a url::Url,
    pub redirect_uri: &'a str,
}

/// RFC 7523 §3: a client assertion's claims (`iat`/`exp` are added when signing).
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
}

/// Lifetime of a client assertion: it is used at once.
const ASSERTION_LIFETIME: u64 = 60;
/// Lifetime of a signed client secret: made for one token request (Apple allows six months).
const SIGNED_SECRET_LIFETIME: u64 = 300;

impl ClientSettings<'_> {
    pub(crate) fn client<TR: TokenResponse>(&self) -> Result<CodeClient<TR>, UpstreamError> {
        let redirect = RedirectUrl::new(self.redirect_uri.to_owned())
            .map_err(|e| UpstreamError::Unavailable(format!("redirect URI: {e}")))?;
        let unconfigured = oauth2::Client::<
            BasicErrorResponse,
            TR,
            BasicTokenIntrospectionResponse,
            StandardRevocableToken,
            BasicRevocationErrorResponse,
        >::new(ClientId::new(self.client_id.to_owned()));
        let client = match self.auth {
            UpstreamClientAuth::SecretBasic(s) => unconfigured
                .set_client_secret(ClientSecret::new(s.expose().to_owned()))
                .set_auth_type(AuthType::BasicAuth),
            UpstreamClientAuth::SecretPost(s) => unconfigured
                .set_client_secret(ClientSecret::new(s.expose().to_owned()))
                .set_auth_type(AuthType::RequestBody),
            // The assertion goes in the body; `client_id` is sent there too (RFC 7523 §3).
            // A signed secret is made per request and added to the body with `client_id`.
            UpstreamClientAuth::SecretJwt(_)
            | UpstreamClientAuth::PrivateKeyJwt(_)
            | UpstreamClientAuth::SignedSecret(_) => unconfigured.set_auth_type(AuthType::RequestBody),
        };
        Ok(client
            .set_auth_uri(AuthUrl::from_url(self.authorization.clone()))
            .set_token_uri(TokenUrl::from_url(self.token.clone()))
            .set_redirect_uri(redirect))
    }

    /// The body parameters that authenticate keyedge besides what the `oauth2` client sends:
    /// a JWT `client_assertion` (RFC 7523 §2.2), or a signed `client_secret`.
    async fn credentials(
        &self,
        keys: &Keyring,
        ports: &Ports<'_>,
    ) -> Result<Vec<(&'static str, String)>, UpstreamError> {
        Ok(match self.auth {
            UpstreamClientAuth::SignedSecret(s) => vec![("client_secret", self.signed_secret(s, ports).await?)],
            _ => match self.assertion(keys, ports).await? {
                Some(a) => vec![("client_assertion_type", JWT_BEARER.to_owned()), ("client_assertion", a)],
                None => Vec::new(),
            },
        })
    }

    /// A client secret signed for this request (Apple's: ES256, `kid` the key's Key ID, `iss`
    /// the Team ID, `sub` the client id, `aud` the provider; at most six months, here
    /// [`SIGNED_SECRET_LIFETIME`]).
    async fn signed_secret(&self, s: &SignedClientSecret, ports: &Ports<'_>) -> Result<String, UpstreamError> {
        #[derive(Serialize)]
        struct SecretClaims<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
        }
        let claims = SecretClaims { iss: &s.issuer, sub: self.client_id, aud: &s.audience };
        s.key
            .sign_for(ports.crypto, &s.key_id, claims, ports.clock.now(), SIGNED_SECRET_LIFETIME)
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("client secret: {e}")))
    }

    /// The `client_assertion` for JWT client authentication (RFC 7523 §2.2), if configured:
    /// HS256 with the client secret, or signed with keyedge's own key.
    async fn assertion(&self, keys: &Keyring, ports: &Ports<'_>) -> Result<Option<String>, UpstreamError> {
        let now = ports.clock.now();
        let claims = AssertionClaims {
            iss: self.client_id,
            sub: self.client_id,
            aud: self.token.as_str(),
            jti: ports.random_token(16),
        };
        let failed = |e: String| UpstreamError::Unavailable(format!("client assertion: {e}"));
        match self.auth {
            UpstreamClientAuth::SecretBasic(_)
            | UpstreamClientAuth::SecretPost(_)
            | UpstreamClientAuth::SignedSecret(_) => Ok(None),
            UpstreamClientAuth::SecretJwt(secret) => {
                use jwt_compact::{alg::Hs256, alg::Hs256Key, AlgorithmExt, Claims, Header};
                let mut c = Claims::new(claims);
                c.issued_at = chrono::DateTime::from_timestamp(now, 0);
                c.expiration = chrono::DateTime::from_timestamp(now + ASSERTION_LIFETIME as i64, 0);
                let key = Hs256Key::new(secret.expose().as_bytes());
                Hs256.token(&Header::empty(), &c, &key).map(Some).map_err(|e| failed(e.to_string()))
            }
            UpstreamClientAuth::PrivateKeyJwt(alg) => keys
                .sign(ports.crypto, *alg, None, claims, now, ASSERTION_LIFETIME)
                .await
                .map(Some)
                .map_err(|e| failed(e.to_string())),
        }
    }

    /// Redeems an authorization code at the token endpoint.
    pub(crate) async fn exchange_code<TR: TokenResponse>(
        &self,
        keys: &Keyring,
        ports: &Ports<'_>,
        code: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<TR, UpstreamError> {
        let client = self.client::<TR>()?;
        let credentials = self.credentials(keys, ports).await?;
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(v) = pkce_verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(v.to_owned()));
        }
        for (name, value) in credentials {
            request = request.add_extra_param(name, value);
        }
        let send = |req: oauth2::HttpRequest| ports.http.send(req);
        request.request_async(&send).await.map_err(token_error)
    }

    /// A refresh grant at the token endpoint (RFC 6749 §6).
    pub(crate) async fn refresh<TR: TokenResponse>(
        &self,
        keys: &Keyring,
        ports: &Ports<'_>,
        refresh_token: &str,
    ) -> Result<TR, UpstreamError> {
        let client = self.client::<TR>()?;
        let credentials = self.credentials(keys, ports).await?;
        let token = RefreshToken::new(refresh_token.to_owned());
        let mut request = client.exchange_refresh_token(&token);
        for (name, value) in credentials {
            request = request.add_extra_param(name, value);
        }
        let send = |req: oauth2::HttpRequest| ports.http.send(req);
        request.request_async(&send).await.map_err(token_error)
    }
}

/// The IdP's `error` answer on the callback (RFC 6749 §4.1.2.1), if it sent one.
pub(crate) fn refused(params: &crate::core::web::Params) -> Result<(), UpstreamError> {
    match params.get("error") {
        Some(error) => Err(UpstreamError::Denied {
            error: error.to_owned(),
            description: params.get("error_description").map(str::to_owned),
        }),
        None => Ok(()),
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) fn token_error(e: RequestTokenError<PortError, BasicErrorResponse>) -> UpstreamError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            UpstreamError::TokenRejected { error: r.error().to_string(), description: r.error_description().cloned() }
        }
        RequestTokenError::Request(e) => UpstreamError::Unavailable(format!("token endpoint: {e}")),
        // GitHub answers a refused code with `200 OK` and an error object
        // (https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors):
        // it is the refusal it says it is, not a malformed token response.
        RequestTokenError::Parse(e, body) => match serde_json::from_slice::<BasicErrorResponse>(&body) {
            Ok(r) => UpstreamError::TokenRejected {
                error: r.error().to_string(),
                description: r.error_description().cloned(),
            },
            Err(_) => UpstreamError::Unavailable(format!("token response: {e}")),
        },
        RequestTokenError::Other(m) => UpstreamError::Unavailable(format!("token endpoint: {m}")),
    }
}

/// The tokens an upstream IdP issued, as stored with `store_tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTokens {
    pub access_token: String,
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When the access token expires (from `expires_in`), if the IdP said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl UpstreamTokens {
    /// The tokens of a refresh grant's `response`; an IdP that issues no new refresh token
    /// keeps the old one valid, so it is kept (RFC 6749 §6).
    pub(crate) fn refreshed<TR: TokenResponse>(
        tr: &TR,
        id_token: Option<String>,
        old: &UpstreamTokens,
        now: i64,
    ) -> Self
    where
        TR::TokenType: AsRef<str>,
    {
        let mut tokens = Self::from_response(tr, id_token, now);
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = old.refresh_token.clone();
        }
        tokens
    }

    pub(crate) fn from_response<TR: TokenResponse>(tr: &TR, id_token: Option<String>, now: i64) -> Self
    where
        TR::TokenType: AsRef<str>,
    {
        UpstreamTokens {
            access_token: tr.access_token().secret().clone(),
            // RFC 6749 §5.1: case-insensitive; the `oauth2` crate reads it as lowercase.
            token_type: match tr.token_type().as_ref() {
                t if t.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
                t => t.to_owned(),
            },
            refresh_token: tr.refresh_token().map(|r| r.secret().clone()),
            id_token,
            scope: tr.scopes().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
            // The provider's number, however large, is no overflow (nor a wrap to the past).
            expires_at: tr.expires_in().map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
        }
    }
}

/// Who the upstream IdP says the user is, after every check passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokeredIdentity {
    pub alias: String,
    pub sub: String,
    pub username: String,
    /// What the IdP says about the person; `email_verified` is already keyedge's verdict
    /// (the IdP's flag, or the IdP's `trust_email`).
    #[serde(flatten)]
    pub profile: StandardClaims,
    /// The upstream session (`sid` of the ID token), for the IdP's back-channel logout.
    pub upstream_sid: Option<String>,
    /// When the user authenticated at the IdP, as its signed ID token says (`auth_time`,
    /// OIDC Core §2); `None` when it does not say (always for plain OAuth 2.0). The only
    /// evidence of a fresh login a step-up accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// What the token endpoint returned; `None` for a SAML IdP, which issues no tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<UpstreamTokens>,
    /// Every claim the IdP sent (ID token and userinfo merged, or the userinfo JSON), for
    /// mappers and post-login flows.
    pub claims: serde_json::Value,
    /// The login's session at a SAML IdP, for its Single Logout; `None` for the other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml_session: Option<SamlSession>,
}

/// Who the user is at a SAML IdP and which of its sessions the login came from: what a
/// `LogoutRequest` names, either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlSession {
    pub name_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_index: Option<String>,
}

/// How the browser goes to an IdP: redirected, or posting a form (SAML's HTTP-POST binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Redirect(url::Url),
    Post { url: url::Url, fields: Vec<(&'static str, String)> },
}

/// Secrets of one upstream login, kept server-side until the callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSecrets {
    pub nonce: String,
    /// Absent when PKCE is disabled for the IdP.
    #[serde(default)]
    pub pkce_verifier: Option<String>,
}

impl FlowSecrets {
    /// New secrets; the PKCE verifier only when `pkce` is on.
    pub fn generate(ports: &Ports<'_>, with_nonce: bool, pkce: bool) -> Self {
        FlowSecrets {
            nonce: if with_nonce { ports.random_token(32) } else { String::new() },
            pkce_verifier: pkce.then(|| ports.random_token(32)),
        }
    }

    /// The S256 challenge for the verifier, if any.
    pub fn pkce_challenge(&self) -> Option<oauth2::PkceCodeChallenge> {
        self.pkce_verifier
            .as_ref()
            .map(|v| oauth2::PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(v.clone())))
    }
}

/// Why an upstream login failed. Each has its own explanation on the error page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// The IdP returned `error=…` to the callback.
    Denied {
        error: String,
        description: Option<String>,
    },
    MissingCode,
    /// RFC 9207 `iss` parameter names another issuer (a mix-up attack).
    IssuerMismatch,
    /// Discovery, JWKS, token or userinfo endpoint unreachable or answered garbage.
    Unavailable(String),
    /// The token endpoint refused the code.
    TokenRejected {
        error: String,
        description: Option<String>,
    },
    MissingIdToken,
    IdToken(crate::core::jose::TokenError),
    AccessTokenHashMismatch,
    UserinfoSubjectMismatch,
    /// The ID token's `hd` claim is missing or names another hosted domain than the one
    /// configured (Google Workspace).
    HostedDomain {
        expected: String,
        found: Option<String>,
    },
    /// The ID token's `iss` is not the issuer of its own `tid` (tenant) claim, or the tenant
    /// is not one the configuration admits (Microsoft); the detail is for the log.
    Tenant(String),
    /// Stored tokens cannot be refreshed: the IdP issued no refresh token.
    NoRefreshToken,
    /// The IdP may be used only to link an identity to a signed-in account.
    LinkOnly,
    /// A SAML response failed a check (which one: the detail, for the log).
    Saml(String),
}

impl UpstreamError {
    /// Whether the failure may come from an endpoint the IdP moved (so its discovery document
    /// is read again): not one the callback's own parameters decide without asking the IdP,
    /// which anyone can send, nor a code the token endpoint refused, nor an identity the
    /// configuration refuses (anyone's own account of another Workspace or tenant).
    pub fn may_mean_moved_endpoints(&self) -> bool {
        match self {
            UpstreamError::Denied { .. } | UpstreamError::MissingCode | UpstreamError::IssuerMismatch => false,
            UpstreamError::HostedDomain { .. } | UpstreamError::Tenant(_) | UpstreamError::LinkOnly => false,
            UpstreamError::Saml(_) => false,
            UpstreamError::TokenRejected { error, .. } => error != "invalid_grant",
            _ => true,
        }
    }

    /// What a visitor is told: the step that failed, in general words. The IdP's own words
    /// (an `error_description`, a response body) and which check refused its answer are
    /// details for the operator's log ([`Display`](fmt::Display)), never shown.
    pub fn public_message(&self) -> &'static str {
        match self {
            UpstreamError::Denied { error, .. } if error == "access_denied" => {
                "The sign-in was cancelled or refused at the identity provider."
            }
            UpstreamError::Denied { .. } => "The identity provider reported an error.",
            UpstreamError::Unavailable(_) => "The identity provider could not be reached or answered unexpectedly.",
            UpstreamError::TokenRejected { .. } => "The identity provider refused to complete the sign-in.",
            UpstreamError::MissingCode
            | UpstreamError::IssuerMismatch
            | UpstreamError::MissingIdToken
            | UpstreamError::IdToken(_)
            | UpstreamError::AccessTokenHashMismatch
            | UpstreamError::UserinfoSubjectMismatch
            | UpstreamError::Saml(_) => "The identity provider's answer did not pass keyedge's checks.",
            UpstreamError::HostedDomain { .. } | UpstreamError::Tenant(_) => {
                "This account does not belong to the organisation this sign-in is limited to."
            }
            UpstreamError::NoRefreshToken => {
                "The stored access token has expired and the identity provider issued no refresh token."
            }
            UpstreamError::LinkOnly => {
                "This identity provider can only be linked to an account you are signed in to; it cannot be used to sign in."
            }
        }
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Denied { error, description } => match (error.as_str(), description) {
                ("access_denied", _) => f.write_str("The sign-in was cancelled or refused at the identity provider."),
                (_, Some(d)) => write!(f, "The identity provider reported an error: {error} ({d})."),
                (_, None) => write!(f, "The identity provider reported an error: {error}."),
            },
            UpstreamError::MissingCode => f.write_str("The identity provider returned without an authorization code."),
            UpstreamError::IssuerMismatch => {
                f.write_str("The response came from a different identity provider than the one this login was sent to.")
            }
            UpstreamError::Unavailable(what) => {
                write!(f, "The identity provider could not be reached or answered unexpectedly ({what}).")
            }
            UpstreamError::TokenRejected { error, description } => match description {
                Some(d) => write!(f, "The identity provider refused to complete the sign-in: {error} ({d})."),
                None => write!(f, "The identity provider refused to complete the sign-in: {error}."),
            },
            UpstreamError::MissingIdToken => f.write_str("The identity provider did not return an ID token."),
            UpstreamError::IdToken(e) => write!(f, "The identity provider's ID token was refused: {e}."),
            UpstreamError::AccessTokenHashMismatch => {
                f.write_str("The identity provider's access token does not match its ID token (at_hash).")
            }
            UpstreamError::UserinfoSubjectMismatch => {
                f.write_str("The identity provider's userinfo is about a different user than its ID token.")
            }
            UpstreamError::HostedDomain { expected, found: Some(found) } => {
                write!(f, "The account's hosted domain `{found}` is not `{expected}` (the ID token's hd claim).")
            }
            UpstreamError::HostedDomain { expected, found: None } => {
                write!(f, "The account has no hosted domain (no hd claim in the ID token); `{expected}` is required.")
            }
            UpstreamError::Tenant(detail) => write!(f, "The ID token's tenant was refused: {detail}."),
            UpstreamError::NoRefreshToken => {
                f.write_str("The stored access token has expired and the identity provider issued no refresh token.")
            }
            UpstreamError::LinkOnly => f.write_str(
                "This identity provider can only be linked to an account you are signed in to; it cannot be used to sign in.",
            ),
            UpstreamError::Saml(detail) => write!(f, "The identity provider's SAML response was refused: {detail}."),
        }
    }
}
