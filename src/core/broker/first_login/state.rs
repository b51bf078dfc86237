//! The state of a pending first login and where it waits: in the Durable Object, sealed,
//! under the id the browser's `keyedge_pending` cookie names; each step takes it once.

use serde::{Deserialize, Serialize};

use super::super::users::{Draft, Unique};
use super::login::Continuation;
use crate::core::app::Keyedge;
use crate::core::config::IdentityProvider;
use crate::core::error::{Failure, PageError};
use crate::core::keys;
use crate::core::op::code::MARKER_TTL;
use crate::core::ports::{Marker, NewItem, OnceKey, Ports, Taken};
use crate::core::upstream::BrokeredIdentity;
use crate::core::web::Request;

pub const PENDING_COOKIE: &str = "keyedge_pending";
/// How long a first login may wait for the user (including reading a mail).
pub const PENDING_TTL: u64 = 600;
/// How long a mailed verification link works (and never longer than its pending login).
pub const EMAIL_CODE_TTL: u64 = 600;
/// Verification mails one address may receive per [`MAIL_WINDOW`], whatever the logins.
pub const MAILS_PER_RECIPIENT: u32 = 5;
/// The window of [`MAILS_PER_RECIPIENT`], in seconds.
pub const MAIL_WINDOW: u64 = 3600;

/// The existing account a first login may be linked to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Existing {
    pub user_id: String,
    /// What it has in common with the new identity.
    pub field: Unique,
}

/// Where a pending first login stands. Each stage carries exactly what it has established: a
/// mailed code exists only together with the target it was mailed for, so a new target (or a
/// new draft, which returns to [`Stage::Profile`]) can never inherit one.
///
/// Read through [`StageWire`] ([`crate::core::wire`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case", try_from = "StageWire")]
pub enum Stage {
    /// No existing account in question: the profile form, or the account about to be made.
    #[default]
    Profile,
    /// An existing account has what the new identity has: the user chooses to link (and
    /// verify) or to change the profile.
    ConfirmLink { existing: Existing },
    /// A verification link was mailed for `existing`; opened in this browser, it links.
    AwaitingMail { existing: Existing, mailed: MailedCode },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum StageName {
    Profile,
    ConfirmLink,
    AwaitingMail,
}

/// Every field of every [`Stage`].
#[derive(Deserialize)]
struct StageWire {
    stage: StageName,
    existing: Option<Existing>,
    mailed: Option<MailedCode>,
}

impl TryFrom<StageWire> for Stage {
    type Error = String;

    fn try_from(w: StageWire) -> Result<Self, String> {
        use crate::core::wire::needed;
        Ok(match w.stage {
            StageName::Profile => Stage::Profile,
            StageName::ConfirmLink => Stage::ConfirmLink { existing: needed(w.existing, "existing")? },
            StageName::AwaitingMail => {
                Stage::AwaitingMail { existing: needed(w.existing, "existing")?, mailed: needed(w.mailed, "mailed")? }
            }
        })
    }
}

impl Stage {
    /// The existing account in question, at any stage that has one.
    pub fn existing(&self) -> Option<&Existing> {
        match self {
            Stage::Profile => None,
            Stage::ConfirmLink { existing } | Stage::AwaitingMail { existing, .. } => Some(existing),
        }
    }
}

/// A verification link sent by mail. Opened in the browser of the pending login, it proves
/// that whoever reads the mailbox of account `user_id` agrees to link this login's identity
/// to that account — nothing else.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailedCode {
    /// The account the mail was sent for; the link works only while it is the target.
    pub user_id: String,
    /// The address it went to; the link works only while the account has it, verified.
    pub to: String,
    /// SHA-256 of the mailed token together with the account, the upstream identity and the
    /// pending login it was issued for (see [`code_hash`]).
    pub hash: String,
    pub expires_at: i64,
}

/// Binds a mailed token to the account it was sent for, the upstream identity (alias and
/// `sub`) and the pending login (its grant): the same token presented for anything else
/// hashes differently.
pub(super) fn code_hash(token: &str, user_id: &str, pending: &Pending) -> String {
    let bound = serde_json::json!([token, user_id, pending.identity.alias, pending.identity.sub, pending.grant_id]);
    keys::refresh_secret(&bound.to_string())
}

/// A first login waiting for the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "PendingWire", into = "PendingWire")]
pub struct Pending {
    pub alias: String,
    pub identity: BrokeredIdentity,
    pub continuation: Continuation,
    pub grant_id: String,
    pub draft: Draft,
    pub stage: Stage,
    pub expires_at: i64,
    /// A secret of this pending login, the same through all its steps: the cookie that names
    /// each step starts with it, and the CSRF token of its forms is bound to it.
    pub form_secret: String,
}

/// A [`Pending`] as the Durable Object keeps it. A pending login lives across a deploy (up to
/// [`PENDING_TTL`]): its stage is also written, and read, in the shape earlier versions used
/// (`existing`, with the mailed code inside the target it was sent for), so a deploy or a
/// rollback neither loses a target nor lets a code outlive one.
#[derive(Serialize, Deserialize)]
struct PendingWire {
    alias: String,
    identity: BrokeredIdentity,
    continuation: Continuation,
    grant_id: String,
    draft: Draft,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stage: Option<Stage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    existing: Option<ExistingWire>,
    expires_at: i64,
    #[serde(default)]
    form_secret: String,
}

/// The target as earlier versions kept it.
#[derive(Serialize, Deserialize)]
struct ExistingWire {
    user_id: String,
    field: Unique,
    #[serde(default)]
    mailed: Option<MailedCode>,
}

impl From<PendingWire> for Pending {
    fn from(w: PendingWire) -> Self {
        let stage = w.stage.unwrap_or_else(|| match w.existing {
            None => Stage::Profile,
            Some(ExistingWire { user_id, field, mailed }) => {
                let existing = Existing { user_id, field };
                match mailed {
                    // A code is kept only for the target it was mailed for.
                    Some(mailed) if mailed.user_id == existing.user_id => Stage::AwaitingMail { existing, mailed },
                    _ => Stage::ConfirmLink { existing },
                }
            }
        });
        Pending {
            alias: w.alias,
            identity: w.identity,
            continuation: w.continuation,
            grant_id: w.grant_id,
            draft: w.draft,
            stage,
            expires_at: w.expires_at,
            form_secret: w.form_secret,
        }
    }
}

impl From<Pending> for PendingWire {
    fn from(p: Pending) -> Self {
        let existing = match &p.stage {
            Stage::Profile => None,
            Stage::ConfirmLink { existing } => {
                Some(ExistingWire { user_id: existing.user_id.clone(), field: existing.field, mailed: None })
            }
            Stage::AwaitingMail { existing, mailed } => Some(ExistingWire {
                user_id: existing.user_id.clone(),
                field: existing.field,
                mailed: Some(mailed.clone()),
            }),
        };
        PendingWire {
            alias: p.alias,
            identity: p.identity,
            continuation: p.continuation,
            grant_id: p.grant_id,
            draft: p.draft,
            stage: Some(p.stage),
            existing,
            expires_at: p.expires_at,
            form_secret: p.form_secret,
        }
    }
}

impl Pending {
    /// The part of the pending cookie that stays through the steps (`{grant}.{form secret}`;
    /// the cookie is that and `.{step}`), the secret the forms' CSRF token is bound to.
    pub(super) fn login_binding(&self) -> String {
        format!("{}.{}", self.grant_id, self.form_secret)
    }
}

/// The page for a step whose pending login is gone (expired, finished, or another browser's).
pub fn expired() -> Failure {
    PageError::bad_request(
        "Sign-in expired",
        "This sign-in has expired, was already completed, or was started in another browser. Please start again.",
    )
    .with_retry("/login")
    .into()
}

pub(super) fn json_failure(e: serde_json::Error) -> Failure {
    Failure::internal(format!("a pending first login does not (de)serialise: {e}"))
}

/// Stores `pending` under a fresh id (consuming the upstream login's `state` marker when
/// given, in the same call) and returns the cookie that names it.
pub(super) async fn save(
    app: &Keyedge,
    ports: &Ports<'_>,
    pending: &Pending,
    marker: Option<&OnceKey>,
) -> Result<String, Failure> {
    let cookie = format!("{}.{}", pending.login_binding(), ports.random_token(32));
    let key = keys::pending(&cookie);
    let json = serde_json::to_string(pending).map_err(json_failure)?;
    let sealed = app.sealer.seal(ports.rng, key.as_str().as_bytes(), json.as_bytes());
    let marker = marker.map(|key| Marker { key, ttl_seconds: MARKER_TTL });
    let item = NewItem { key: &key, value: &sealed, ttl_seconds: PENDING_TTL };
    let stored = ports.once.once_then_store(marker, Some(item), None).await?;
    if !stored {
        return Err(expired());
    }
    Ok(cookie)
}

/// Takes the pending login named by `cookie` (it cannot be taken twice).
pub(super) async fn take_by_cookie(app: &Keyedge, ports: &Ports<'_>, cookie: &str) -> Result<Pending, Failure> {
    let key = keys::pending(cookie);
    let Taken::Fresh(sealed) = ports.once.take(&key).await? else {
        return Err(expired());
    };
    let mut pending: Pending = app
        .sealer
        .open(key.as_str().as_bytes(), &sealed)
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(expired)?;
    if pending.expires_at <= ports.clock.now() {
        return Err(expired());
    }
    // Saved by an earlier version: from now on it has its own.
    if pending.form_secret.is_empty() {
        pending.form_secret = ports.random_token(16);
    }
    Ok(pending)
}

pub(super) async fn take(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Result<Pending, Failure> {
    let cookie = app.cookies().get(req, PENDING_COOKIE).ok_or_else(expired)?.to_owned();
    take_by_cookie(app, ports, &cookie).await
}

pub(super) fn provider<'a>(app: &'a Keyedge, pending: &Pending) -> Result<&'a IdentityProvider, Failure> {
    app.config.provider(&pending.alias).ok_or_else(expired)
}

#[cfg(test)]
mod wire_tests {
    use super::*;
    use crate::core::account::users::Unique;

    /// A pending first login's stage reads back as it was written; a stage lacking the target
    /// or the mailed code it stands for is refused, never read as an earlier stage.
    #[test]
    fn stages_are_read_as_they_were_written() {
        let existing = Existing { user_id: "u1".into(), field: Unique::Email };
        let mailed = MailedCode { user_id: "u1".into(), to: "a@example.org".into(), hash: "h".into(), expires_at: 9 };
        let stages = [
            Stage::Profile,
            Stage::ConfirmLink { existing: existing.clone() },
            Stage::AwaitingMail { existing, mailed },
        ];
        crate::core::wire::check_flat_reader("stage", &stages, |_, _| false);
    }
}
