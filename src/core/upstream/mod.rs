//! Upstream identity providers. Each kind turns "send the user there" into a redirect plus
//! the flow secrets to keep, and a callback plus those secrets into a [`BrokeredIdentity`].

pub mod oidc;
pub mod plain_oauth2;

use oauth2::basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl, StandardRevocableToken,
    TokenUrl,
};

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
    pub client_secret: &'a str,
    pub secret_in_body: bool,
    pub authorization: &'a url::Url,
    pub token: &'a url::Url,
    pub redirect_uri: &'a str,
}

impl ClientSettings<'_> {
    pub(crate) fn client<TR: oauth2::TokenResponse>(&self) -> Result<CodeClient<TR>, UpstreamError> {
        let redirect = RedirectUrl::new(self.redirect_uri.to_owned())
            .map_err(|e| UpstreamError::Unavailable(format!("redirect URI: {e}")))?;
        let auth_type = if self.secret_in_body { AuthType::RequestBody } else { AuthType::BasicAuth };
        let unconfigured = oauth2::Client::<
            BasicErrorResponse,
            TR,
            BasicTokenIntrospectionResponse,
            StandardRevocableToken,
            BasicRevocationErrorResponse,
        >::new(ClientId::new(self.client_id.to_owned()));
        Ok(unconfigured
            .set_client_secret(ClientSecret::new(self.client_secret.to_owned()))
            .set_auth_type(auth_type)
            .set_auth_uri(AuthUrl::from_url(self.authorization.clone()))
            .set_token_uri(TokenUrl::from_url(self.token.clone()))
            .set_redirect_uri(redirect))
    }
}

use serde::{Deserialize, Serialize};
use std::fmt;

/// Who the upstream IdP says the user is, after every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokeredIdentity {
    pub alias: String,
    pub sub: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
    /// OIDC Core §5.1.1 address, kept as the IdP sent it.
    pub address: Option<serde_json::Value>,
}

/// Secrets of one upstream login, kept server-side until the callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSecrets {
    pub nonce: String,
    pub pkce_verifier: String,
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
        }
    }
}
