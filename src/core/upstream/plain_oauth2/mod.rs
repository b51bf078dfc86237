//! Plain OAuth 2.0 upstreams (GitHub-like): the authorization code flow with PKCE, then the
//! user's attributes from the userinfo endpoint, found with configured JSON paths.
// A Worker whose configuration has no OAuth 2.0 IdP (no `kind = "oauth2"`, no preset) is
// built without them (build.rs, `keyedge_oauth2`): this module is then unused and left out.
#![cfg_attr(not(keyedge_oauth2), allow(dead_code))]

pub mod config;

use oauth2::basic::BasicTokenResponse;
use oauth2::{CsrfToken, Scope};
use serde_json::Value;
use url::Url;

use self::config::{EmailListFormat, OAuth2Provider, TokenFormat};
use super::api::{fetch_api, fetch_api_page, StackExchangeToken};
use super::{BrokeredIdentity, ClientSettings, FlowSecrets, UpstreamError, UpstreamTokens};
use crate::core::claims::StandardClaims;
use crate::core::config::IdentityProvider;
use crate::core::jose::Keyring;
use crate::core::ports::Ports;
use crate::core::web::Params;

pub(crate) fn settings<'a>(cfg: &'a OAuth2Provider, redirect_uri: &'a str) -> ClientSettings<'a> {
    ClientSettings {
        client_id: &cfg.client_id,
        auth: &cfg.client_auth,
        authorization: &cfg.authorization_url,
        token: &cfg.token_url,
        redirect_uri,
    }
}

/// The redirect to the provider, with `state` and a PKCE S256 challenge (RFC 7636; providers
/// that do not know PKCE ignore it).
pub fn begin(
    idp: &IdentityProvider,
    cfg: &OAuth2Provider,
    redirect_uri: &str,
    state: &str,
    ports: &Ports<'_>,
) -> Result<(Url, FlowSecrets), UpstreamError> {
    let secrets = FlowSecrets::generate(ports, false, idp.pkce_enabled);
    let state = state.to_owned();
    let client = settings(cfg, redirect_uri).client::<BasicTokenResponse>()?;
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(crate::core::vocab::Scopes::parse(&cfg.default_scopes).iter().map(|s| Scope::new(s.to_owned())));
    if let Some(challenge) = secrets.pkce_challenge() {
        request = request.set_pkce_challenge(challenge);
    }
    let (url, _) = request.url();
    Ok((url, secrets))
}

/// Refreshes stored tokens (RFC 6749 §6); a missing new refresh token keeps the old one.
pub async fn refresh(
    cfg: &OAuth2Provider,
    keys: &Keyring,
    redirect_uri: &str,
    old: &UpstreamTokens,
    ports: &Ports<'_>,
) -> Result<UpstreamTokens, UpstreamError> {
    let refresh_token = old.refresh_token.as_deref().ok_or(UpstreamError::NoRefreshToken)?;
    let response: BasicTokenResponse = settings(cfg, redirect_uri).refresh(keys, ports, refresh_token).await?;
    Ok(UpstreamTokens::refreshed(&response, None, old, ports.clock.now()))
}

pub use crate::core::claims::at_path;

/// A string from a JSON string or number (GitHub's `id` is a number).
fn text(doc: &Value, path: &str) -> Option<String> {
    match at_path(doc, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub async fn complete(
    idp: &IdentityProvider,
    cfg: &OAuth2Provider,
    keys: &Keyring,
    params: &Params,
    secrets: &FlowSecrets,
    redirect_uri: &str,
    ports: &Ports<'_>,
) -> Result<BrokeredIdentity, UpstreamError> {
    super::refused(params)?;
    let code = params.get("code").ok_or(UpstreamError::MissingCode)?;
    let client = settings(cfg, redirect_uri);
    let verifier = secrets.pkce_verifier.as_deref();
    let tokens = match cfg.token_format {
        TokenFormat::Standard => {
            let r: BasicTokenResponse = client.exchange_code(keys, ports, code, verifier).await?;
            UpstreamTokens::from_response(&r, None, ports.clock.now())
        }
        TokenFormat::StackExchange => {
            let r: StackExchangeToken = client.exchange_code(keys, ports, code, verifier).await?;
            UpstreamTokens::from_response(&r, None, ports.clock.now())
        }
    };
    let access_token = tokens.access_token.as_str();
    let info = fetch_api(&cfg.userinfo_url, access_token, &cfg.api_token, "userinfo", ports).await?;
    let sub = text(&info, &cfg.user_id_claim).ok_or_else(|| {
        UpstreamError::Unavailable(format!("userinfo has no `{}` (user_id_claim)", cfg.user_id_claim))
    })?;
    let (email, asserted) = match &cfg.email_list_url {
        Some(url) => {
            let (email, verified) = primary_from_pages(cfg, url, access_token, ports).await?;
            (email.or_else(|| text(&info, &cfg.email_claim)), verified)
        }
        None => {
            let asserted = cfg
                .email_verified_claim
                .as_deref()
                .and_then(|p| at_path(&info, p))
                .is_some_and(|v| v == &Value::Bool(true));
            (text(&info, &cfg.email_claim), asserted)
        }
    };
    let email_verified = email.is_some() && (idp.trust_email || asserted);
    let mut profile = StandardClaims {
        email,
        email_verified,
        name: text(&info, &cfg.name_claim),
        given_name: cfg.given_name_claim.as_deref().and_then(|p| text(&info, p)),
        family_name: cfg.family_name_claim.as_deref().and_then(|p| text(&info, p)),
        picture: text(&info, &cfg.picture_claim),
        ..StandardClaims::default()
    };
    if cfg.split_name {
        profile.split_full_name();
    }
    Ok(BrokeredIdentity {
        alias: idp.alias.clone(),
        username: text(&info, &cfg.username_claim).or_else(|| profile.email.clone()).unwrap_or_else(|| sub.clone()),
        sub,
        profile,
        upstream_sid: None,
        // An OAuth 2.0 API says nothing verifiable about when the user authenticated.
        auth_time: None,
        tokens: Some(tokens),
        claims: info,
        saml_session: None,
    })
}

/// At most this many pages of a provider's address list are read.
pub const MAX_EMAIL_PAGES: usize = 10;

/// The primary address and whether it is verified, from the pages of the list at `first`
/// (Bitbucket's `next` in the page, GitHub's `Link: <…>; rel="next"`), read until the
/// primary one is found, for at most [`MAX_EMAIL_PAGES`] pages. A next page on another
/// origin than the list's is not read, so the token goes to no other host: the login goes on
/// without that page (no primary address found, no email from the list).
async fn primary_from_pages(
    cfg: &OAuth2Provider,
    first: &Url,
    access_token: &str,
    ports: &Ports<'_>,
) -> Result<(Option<String>, bool), UpstreamError> {
    let mut url = first.clone();
    for _ in 0..MAX_EMAIL_PAGES {
        let (list, link) = fetch_api_page(&url, access_token, &cfg.api_token, "email list", ports).await?;
        let found = primary_verified_email(&list, cfg.email_list_format)?;
        if found.0.is_some() {
            return Ok(found);
        }
        let next = match cfg.email_list_format {
            EmailListFormat::GitHub => link,
            EmailListFormat::Bitbucket => list.get("next").and_then(Value::as_str).map(str::to_owned),
        };
        let Some(next) = next else { break };
        match Url::parse(&next) {
            Ok(n) if n.origin() == first.origin() => url = n,
            _ => {
                (ports.log)(&format!(
                    "email list: next page `{next}` is not on {}: not read",
                    first.origin().ascii_serialization()
                ));
                break;
            }
        }
    }
    Ok((None, false))
}

/// The user's address from a list of them, each `{"email", "primary", "verified"}` (GitHub's
/// `GET /user/emails`,
/// https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user):
/// the primary address, verified only when the provider says so of that very entry. A verified
/// address that is not the primary one is never taken: the primary address is the one the user
/// chose, and another verified one may be an old address at a former employer. `(None, false)`
/// when no address is primary.
pub fn primary_verified_email(list: &Value, format: EmailListFormat) -> Result<(Option<String>, bool), UpstreamError> {
    let entries =
        format.entries(list).ok_or_else(|| UpstreamError::Unavailable("the email list is not a list".into()))?;
    let (primary, verified) = format.flags();
    let primary = entries.iter().find(|e| e.get(primary) == Some(&Value::Bool(true)));
    Ok(match primary.and_then(|e| Some((e.get("email")?.as_str()?, e))) {
        Some((email, entry)) if !email.is_empty() => {
            (Some(email.to_owned()), entry.get(verified) == Some(&Value::Bool(true)))
        }
        _ => (None, false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_primary_address_counts_and_only_when_verified() {
        let list = json!([
            {"email": "old@former.example", "primary": false, "verified": true, "visibility": null},
            {"email": "mona@example.com", "primary": true, "verified": true, "visibility": "private"},
        ]);
        assert_eq!(
            primary_verified_email(&list, EmailListFormat::GitHub).unwrap(),
            (Some("mona@example.com".into()), true)
        );
        let unverified = json!([
            {"email": "old@former.example", "primary": false, "verified": true},
            {"email": "mona@example.com", "primary": true, "verified": false},
        ]);
        assert_eq!(
            primary_verified_email(&unverified, EmailListFormat::GitHub).unwrap(),
            (Some("mona@example.com".into()), false)
        );
        let no_primary = json!([{"email": "old@former.example", "primary": false, "verified": true}]);
        assert_eq!(primary_verified_email(&no_primary, EmailListFormat::GitHub).unwrap(), (None, false));
        // Only a JSON `true` is a yes.
        let stringly = json!([{"email": "mona@example.com", "primary": true, "verified": "true"}]);
        assert_eq!(
            primary_verified_email(&stringly, EmailListFormat::GitHub).unwrap(),
            (Some("mona@example.com".into()), false)
        );
        assert!(primary_verified_email(&json!({"message": "Bad credentials"}), EmailListFormat::GitHub).is_err());
    }

    #[test]
    fn bitbuckets_page_of_addresses_reads_is_primary_and_is_confirmed() {
        let page = json!({"pagelen": 10, "page": 1, "size": 2, "values": [
            {"is_primary": false, "is_confirmed": true, "type": "email", "email": "old@former.example", "links": {}},
            {"is_primary": true, "is_confirmed": false, "type": "email", "email": "ada@example.com", "links": {}},
        ]});
        let b = EmailListFormat::Bitbucket;
        assert_eq!(primary_verified_email(&page, b).unwrap(), (Some("ada@example.com".into()), false));
        let mut confirmed = page.clone();
        confirmed["values"][1]["is_confirmed"] = json!(true);
        assert_eq!(primary_verified_email(&confirmed, b).unwrap(), (Some("ada@example.com".into()), true));
        // GitHub's flag names mean nothing in Bitbucket's list, and the other way round.
        assert_eq!(primary_verified_email(&page, EmailListFormat::GitHub).ok(), None);
        let github = json!([{"email": "ada@example.com", "primary": true, "verified": true}]);
        assert!(primary_verified_email(&github, b).is_err());
        let error = json!({"type": "error", "error": {"message": "Your credentials lack one or more required privilege scopes."}});
        assert!(primary_verified_email(&error, b).is_err());
    }
}
