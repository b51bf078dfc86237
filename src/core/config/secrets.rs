//! Secrets named by `_env` fields, the keys they hold, and the mail sender.

use serde::Deserialize;
use url::Url;

use super::{err, parse_url, ConfigError, RawConfig};
use crate::core::jose::Alg;
use crate::core::secret::Secret;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMail {
    sender: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    api_key_env: Option<String>,
}

/// Where keyedge's mails (account verification links) go.
#[derive(Debug, Clone)]
pub enum MailSender {
    /// Development and tests: written to the log and to a dev inbox readable at
    /// `/dev/inbox?to=…`. Refused with an https issuer.
    DevInbox,
    /// An HTTP mail API taking `{"from","to","subject","text"}` with a bearer key (Resend's
    /// shape, which Postmark-, Mailgun-style relays and a small Worker can accept).
    Http { url: Url, api_key: Secret, from: String },
}

/// Looks up the secrets that `_env` fields name (Worker secrets, or `.dev.vars`).
pub(crate) struct Secrets<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Secrets<'_> {
    /// The secret `name`, which `field` names; missing or empty is an error about `field`.
    pub(crate) fn need(&self, field: impl Into<String>, name: &str) -> Result<Secret, ConfigError> {
        (self.0)(name).filter(|v| !v.is_empty()).map(Secret::new).ok_or_else(|| {
            err(
                field,
                format!("secret `{name}` is not set (wrangler secret put {name}, or .dev.vars for wrangler dev)"),
            )
        })
    }
}

/// keyedge's own keys, each with the field that named it.
pub(super) struct Keys {
    pub(super) signing: Vec<(String, Alg, Secret)>,
    pub(super) other_signing: Vec<(String, Secret)>,
    pub(super) encryption: Secret,
    pub(super) previous_encryption: Vec<(String, Secret)>,
}

pub(super) fn keys(raw: &RawConfig, secrets: &Secrets) -> Result<Keys, ConfigError> {
    let mut signing =
        vec![("signing_key_env".to_owned(), Alg::RS256, secrets.need("signing_key_env", &raw.signing_key_env)?)];
    for (field, alg, name) in [
        ("es256_signing_key_env", Alg::ES256, &raw.es256_signing_key_env),
        ("eddsa_signing_key_env", Alg::EdDSA, &raw.eddsa_signing_key_env),
    ] {
        if let Some(name) = name {
            signing.push((field.to_owned(), alg, secrets.need(field, name)?));
        }
    }
    let encryption = secrets.need("encryption_key_env", &raw.encryption_key_env)?;
    let mut previous_encryption = Vec::new();
    for (i, name) in raw.previous_encryption_key_envs.iter().enumerate() {
        let path = format!("previous_encryption_key_envs[{i}]");
        previous_encryption.push((path.clone(), secrets.need(path, name)?));
    }
    let mut other_signing = Vec::new();
    for (field, names) in [
        ("previous_signing_key_envs", &raw.previous_signing_key_envs),
        ("next_signing_key_envs", &raw.next_signing_key_envs),
    ] {
        for (i, name) in names.iter().enumerate() {
            let path = format!("{field}[{i}]");
            other_signing.push((path.clone(), secrets.need(path, name)?));
        }
    }
    Ok(Keys { signing, other_signing, encryption, previous_encryption })
}

pub(super) fn mail(m: RawMail, secure_cookies: bool, secrets: &Secrets) -> Result<MailSender, ConfigError> {
    Ok(match m.sender.as_str() {
        "dev_inbox" if secure_cookies => {
            return Err(err("mail.sender", "dev_inbox is for local development; use http with an https issuer"))
        }
        "dev_inbox" => MailSender::DevInbox,
        "http" => {
            let url = parse_url(m.url.as_deref().unwrap_or_default()).map_err(|e| err("mail.url", e))?;
            let key_name = m.api_key_env.ok_or_else(|| err("mail.api_key_env", "is required"))?;
            let from =
                m.from.filter(|f| f.contains('@')).ok_or_else(|| err("mail.from", "an email address is required"))?;
            MailSender::Http { url, api_key: secrets.need("mail.api_key_env", &key_name)?, from }
        }
        other => return Err(err("mail.sender", format!("`{other}`: use http or dev_inbox"))),
    })
}

pub(super) fn admin_token(name: &str, secrets: &Secrets) -> Result<Secret, ConfigError> {
    let token = secrets.need("admin_token_env", name)?;
    if token.expose().len() < 32 {
        return Err(err("admin_token_env", "the admin token must be at least 32 characters"));
    }
    Ok(token)
}
