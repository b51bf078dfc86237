//! Keycloak's "first broker login" flow: what happens when an upstream identity signs in and
//! no keyedge user is linked to it yet. Steps, each switchable per flow (`first_login_flows`):
//! review profile → create user if unique → handle existing account (confirm link, then
//! verify by a mailed link or by re-authenticating with an IdP already linked to it).
//!
//! Between pages the login waits in the Durable Object (sealed, 10 minutes, single use per
//! step) under a random id the browser holds in the `keyedge_pending` cookie.

use http::StatusCode;

use super::callback::{finish, Completion};
use super::login::{self, Continuation, Purpose};
use super::users::{self, Creation, Draft, Unique, User};
use super::{mappers, users::LinkError};
use crate::core::app::Keyedge;
use crate::core::config::{IdentityProvider, ReviewProfile};
use crate::core::csrf::{Checked, PendingLoginCookie};
use crate::core::error::{Failure, Outcome, PageError};
use crate::core::keys;
use crate::core::mail::{self, Mail};
use crate::core::pages::{self, FieldError, MailNotice, ProfileForm, ProviderChoice};
use crate::core::ports::rate_limit::Limiter;
use crate::core::ports::{OnceKey, Ports};
use crate::core::throttle;
use crate::core::upstream::BrokeredIdentity;
use crate::core::web::{self, Params, Request};

mod state;

use state::*;
pub use state::{
    expired, Existing, MailedCode, Pending, Stage, EMAIL_CODE_TTL, MAILS_PER_RECIPIENT, MAIL_WINDOW, PENDING_COOKIE,
    PENDING_TTL,
};

/// The pages of the flow.
enum Page {
    Review(Vec<FieldError>),
    Confirm,
    Mail(MailPage),
    Reauthenticate,
}

/// What became of the verification mail.
enum MailPage {
    Sent,
    /// Sent before for this target: nothing new was sent.
    AlreadySent,
    /// Not sent: the address has had its share of mails ([`MAILS_PER_RECIPIENT`]).
    Limited,
}

/// One request of the flow: where it runs and what the upstream callback left to do.
#[derive(Clone, Copy)]
struct Step<'a, 'p> {
    app: &'a Keyedge,
    ports: &'a Ports<'p>,
    req: &'a Request,
    /// The upstream login's `state` marker, not consumed yet (on the callback only).
    marker: Option<&'a OnceKey>,
    /// The flow cookie to clear (on the callback only).
    clear: Option<&'a str>,
}

impl<'a, 'p> Step<'a, 'p> {
    fn page(app: &'a Keyedge, ports: &'a Ports<'p>, req: &'a Request) -> Self {
        Step { app, ports, req, marker: None, clear: None }
    }
}

/// Saves `pending` and shows `page`, setting the pending cookie (and clearing the flow's).
async fn show(step: Step<'_, '_>, pending: &Pending, page: Page) -> Outcome {
    let Step { app, ports, req, marker, clear } = step;
    let ui = app.ui_for(req, ui_locales(&pending.continuation));
    let idp_name = provider(app, pending)?.display_name.clone();
    let csrf = app.csrf.token::<PendingLoginCookie>(&pending.login_binding());
    let mut status = StatusCode::OK;
    let html = match page {
        Page::Review(errors) => {
            let form = ProfileForm {
                username: pending.draft.username.clone(),
                email: pending.draft.email.clone().unwrap_or_default(),
                given_name: pending.draft.given_name.clone().unwrap_or_default(),
                family_name: pending.draft.family_name.clone().unwrap_or_default(),
            };
            pages::review_profile(ui, &idp_name, &form, &errors, &csrf)
        }
        Page::Confirm => {
            let existing = pending.stage.existing().ok_or_else(expired)?;
            let (what, value) = match existing.field {
                Unique::Email => (ui.t.email, pending.draft.email.clone().unwrap_or_default()),
                Unique::Username => (ui.t.username, pending.draft.username.clone()),
            };
            pages::confirm_link(ui, &idp_name, what, &value, review_allowed(app, pending)?, &csrf)
        }
        Page::Mail(what) => {
            let others = reauth_choices(app, pending)?;
            // The address is shown (masked) only when the user gave it: an account found by
            // its username keeps its address to itself.
            let given = pending
                .stage
                .existing()
                .filter(|e| e.field == Unique::Email)
                .and(pending.draft.email.as_deref())
                .map(mask);
            let notice = match what {
                MailPage::Sent => match &given {
                    Some(to) => MailNotice::SentTo(to),
                    None => MailNotice::SentToAccount,
                },
                MailPage::AlreadySent => MailNotice::AlreadySent,
                MailPage::Limited => {
                    status = StatusCode::TOO_MANY_REQUESTS;
                    MailNotice::Limited
                }
            };
            pages::email_sent(ui, &idp_name, notice, &others)
        }
        Page::Reauthenticate => {
            let others = reauth_choices(app, pending)?;
            pages::reauthenticate(ui, &idp_name, &others)
        }
    };
    let cookie = save(app, ports, pending, marker).await?;
    let mut res = web::html(status, html);
    if let Some(name) = clear {
        res = web::with_cookie(res, app.cookies().clear(name));
    }
    Ok(web::with_cookie(res, app.cookies().set(PENDING_COOKIE, &cookie, PENDING_TTL)))
}

fn ui_locales(c: &Continuation) -> Option<&str> {
    match c {
        Continuation::Authorize { request } => request.ui_locales.as_deref(),
        Continuation::ReturnTo { .. } | Continuation::Unsolicited { .. } => None,
    }
}

/// `a…e@example.com`: enough to recognise one's own address, not to learn someone else's.
fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            let last = if local.chars().count() > 1 { local.chars().last().map(String::from) } else { None };
            format!("{first}…{}@{domain}", last.unwrap_or_default())
        }
        None => "…".into(),
    }
}

/// The IdPs to re-authenticate with, when the flow allows it: every IdP the login page shows
/// (but the one of this login), not those of the existing account — the page must not tell
/// whoever reads it which IdPs that account uses. That the re-authenticated identity belongs
/// to the account is checked when it comes back ([`reauthenticated`]).
fn reauth_choices(app: &Keyedge, pending: &Pending) -> Result<Vec<ProviderChoice>, Failure> {
    let flow = &provider(app, pending)?.first_login_flow;
    if pending.stage.existing().is_none() || !flow.verify_existing_account_by_reauthentication {
        return Ok(Vec::new());
    }
    Ok(login::visible_providers(app, None)
        .filter(|p| p.alias != pending.alias)
        .map(|p| ProviderChoice::new(p, app.config.path(&format!("/first-login/reauthenticate/{}", p.alias))))
        .collect())
}

#[allow(clippy::too_many_arguments)]
/// The start of the flow, from the upstream callback: `identity` is verified and linked to
/// nobody. `marker` is the upstream login's `state` marker, not consumed yet.
pub async fn start(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    identity: BrokeredIdentity,
    flow: &login::UpstreamFlow,
    marker: &OnceKey,
    flow_cookie: &str,
) -> Outcome {
    // An empty claim is a missing one.
    let present = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let draft = Draft {
        username: mappers::username_for(idp, &identity.claims, &identity.username, &ports.random_uuid()),
        email: present(&identity.profile.email),
        email_verified: identity.profile.email_verified,
        given_name: present(&identity.profile.given_name),
        family_name: present(&identity.profile.family_name),
    };
    let review = match idp.first_login_flow.review_profile {
        ReviewProfile::On => true,
        ReviewProfile::Missing => draft.email.is_none() || draft.given_name.is_none() || draft.family_name.is_none(),
        ReviewProfile::Off => false,
    };
    let pending = Pending {
        alias: idp.alias.clone(),
        identity,
        continuation: flow.continuation.clone(),
        grant_id: flow.grant_id.clone(),
        draft,
        stage: Stage::Profile,
        expires_at: ports.clock.now() + PENDING_TTL as i64,
        form_secret: ports.random_token(16),
    };
    let step = Step { app, ports, req, marker: Some(marker), clear: Some(flow_cookie) };
    if review {
        return show(step, &pending, Page::Review(Vec::new())).await;
    }
    attempt(step, pending).await
}

/// Create user if unique, else handle the existing account.
async fn attempt(step: Step<'_, '_>, mut pending: Pending) -> Outcome {
    let Step { app, ports, .. } = step;
    let idp = provider(app, &pending)?;
    let flow = &idp.first_login_flow;
    let (field, owner) = if flow.create_user_if_unique {
        match users::create(ports, idp, &pending.identity, &pending.draft).await? {
            Creation::Created(user) | Creation::AlreadyLinked(user) => {
                return complete(step, &pending, &user, &pending.grant_id).await
            }
            Creation::Taken { field, owner } => (field, owner),
        }
    } else {
        match users::find_existing(ports, &pending.draft).await? {
            Some(found) => found,
            None => {
                return Err(PageError::new(
                    StatusCode::FORBIDDEN,
                    "No account",
                    format!("Signing in with {} needs an existing account, and none was found.", idp.display_name),
                )
                .into())
            }
        }
    };
    // An email the IdP did not verify never leads to someone else's account.
    if field == Unique::Email && !pending.draft.email_verified {
        let e = FieldError::new("email", "This email address belongs to another account. Use another one, or sign in with that account and link this identity provider on its account page.");
        return ask_again(step, &pending, e).await;
    }
    // Never offer linking into an account whose address is unverified: its mailbox proves
    // nothing about who made it (it may be someone else's address, claimed first).
    if field == Unique::Username {
        let account = users::load(ports, &owner).await?.ok_or_else(expired)?;
        if account.profile.email.is_some() && !account.profile.email_verified {
            let e = FieldError::new("username", "This username is taken. Choose another one.");
            return ask_again(step, &pending, e).await;
        }
    }
    if !flow.handle_existing_account {
        let what = if field == Unique::Email { "email address" } else { "username" };
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "Account already exists",
            format!(
                "An account with this {what} already exists. Sign in with it and link {} on its account page.",
                idp.display_name
            ),
        )
        .into());
    }
    pending.stage = Stage::ConfirmLink { existing: Existing { user_id: owner, field } };
    if flow.confirm_link_existing_account {
        return show(step, &pending, Page::Confirm).await;
    }
    verify(step, pending).await
}

/// Whether the flow of `pending`'s IdP lets the user edit the profile (`review_profile` is
/// not `off`). The server enforces it: the form is neither shown nor accepted otherwise.
fn review_allowed(app: &Keyedge, pending: &Pending) -> Result<bool, Failure> {
    Ok(provider(app, pending)?.first_login_flow.review_profile != ReviewProfile::Off)
}

/// The answer to a form post or action that needs the review step when the flow has none.
fn review_is_off(pending: &Pending) -> Failure {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Profile review is off",
        "This sign-in does not let you change your profile. Please start again.",
    )
    .with_retry(pending.continuation.restart_url())
    .into()
}

/// The profile form again with `error` next to its field; where the flow has no review step,
/// an error page that says what to do instead.
async fn ask_again(step: Step<'_, '_>, pending: &Pending, error: FieldError) -> Outcome {
    if review_allowed(step.app, pending)? {
        return show(step, pending, Page::Review(vec![error])).await;
    }
    let idp = &provider(step.app, pending)?.display_name;
    let what = if error.field == "email" { "email address" } else { "username" };
    Err(PageError::new(
        StatusCode::CONFLICT,
        "Account already exists",
        format!(
            "Another account has this {what}, and signing in with {idp} cannot change it here. Sign in with the account that is yours and link {idp} on its account page."
        ),
    )
    .into())
}

/// Verifies that the user owns the existing account: a mailed link, else re-authentication.
async fn verify(step: Step<'_, '_>, mut pending: Pending) -> Outcome {
    let Step { app, ports, req, .. } = step;
    let idp = provider(app, &pending)?;
    let flow = &idp.first_login_flow;
    let existing = pending.stage.existing().cloned().ok_or_else(expired)?;
    let user = users::load(ports, &existing.user_id).await?.ok_or_else(expired)?;
    let verified_email = user.profile.email.as_ref().filter(|_| user.profile.email_verified);
    if let (true, Some(sender), Some(to)) = (flow.verify_existing_account_by_email, &app.config.mail, verified_email) {
        let now = ports.clock.now();
        // One mail per pending target: asking again shows the page again, sends nothing.
        if let Stage::AwaitingMail { mailed, .. } = &pending.stage {
            if mailed.user_id == user.id && mailed.expires_at > now {
                return show(step, &pending, Page::Mail(MailPage::AlreadySent)).await;
            }
        }
        // A limited number from one network, and per address, whatever the logins asking.
        let ip = format!("ip:{}", throttle::client_ip(req));
        throttle::check(ports, Limiter::Mail, &ip, false).await?;
        if !ports.once.count_use(&keys::mail_recipient(to), MAILS_PER_RECIPIENT, MAIL_WINDOW).await? {
            (ports.log)("first login: verification mail not sent, the recipient's limit is reached");
            return show(step, &pending, Page::Mail(MailPage::Limited)).await;
        }
        let token = ports.random_token(32);
        let mailed = MailedCode {
            user_id: user.id.clone(),
            to: to.clone(),
            hash: code_hash(&token, &user.id, &pending),
            expires_at: (now + EMAIL_CODE_TTL as i64).min(pending.expires_at),
        };
        pending.stage = Stage::AwaitingMail { existing, mailed };
        let link = web::with_query(&app.config.endpoint("/first-login/verify-email"), &[("token", &token)]);
        let ui = app.ui_for(req, ui_locales(&pending.continuation));
        let account = match &user.profile.email {
            Some(email) => format!("{} ({email})", user.username),
            None => user.username.clone(),
        };
        let identity = format!("{} ({})", pending.identity.username, idp.display_name);
        let mail = Mail {
            to: to.clone(),
            subject: ui.t.fill(ui.t.mail_subject, &idp.display_name),
            text: format!(
                "{}\n\n{}\n{}\n\n{link}\n\n{}",
                ui.t.fill(ui.t.mail_body, &idp.display_name),
                ui.t.fill(ui.t.mail_account, &account),
                ui.t.fill(ui.t.mail_identity, &identity),
                ui.t.mail_ignore
            ),
        };
        let res = show(step, &pending, Page::Mail(MailPage::Sent)).await?;
        mail::send(sender, ports, &mail).await?;
        return Ok(res);
    }
    if flow.verify_existing_account_by_reauthentication {
        return show(step, &pending, Page::Reauthenticate).await;
    }
    Err(PageError::new(
        StatusCode::CONFLICT,
        "Account already exists",
        format!(
            "An account with this {} already exists, and it cannot be verified here. Sign in with it and link {} on its account page.",
            if existing.field == Unique::Email { "email address" } else { "username" },
            idp.display_name
        ),
    )
    .into())
}

/// Finishes the login the client asked for as `user` (just created, or the existing account
/// the identity was linked to); the code belongs to `grant_id`.
async fn complete(step: Step<'_, '_>, pending: &Pending, user: &User, grant_id: &str) -> Outcome {
    let Step { app, ports, req, marker, clear } = step;
    let idp = provider(app, pending)?;
    let res = finish(
        app,
        ports,
        req,
        Completion {
            idp,
            identity: &pending.identity,
            user,
            continuation: &pending.continuation,
            grant_id,
            marker,
            clear_cookie: clear,
        },
    )
    .await?;
    Ok(web::with_cookie(res, app.cookies().clear(PENDING_COOKIE)))
}

/// Links the identity of `pending` to its existing account.
async fn link_existing(app: &Keyedge, ports: &Ports<'_>, pending: &Pending) -> Result<User, Failure> {
    let idp = provider(app, pending)?;
    let existing = pending.stage.existing().ok_or_else(expired)?;
    let user = users::load(ports, &existing.user_id).await?.ok_or_else(expired)?;
    match users::link(ports, idp, user, &pending.identity).await {
        Ok(user) => Ok(user),
        Err(LinkError::LinkedElsewhere) => Err(PageError::new(
            StatusCode::CONFLICT,
            "Already linked to another account",
            "This identity was linked to another account meanwhile; it was not moved.",
        )
        .into()),
        Err(LinkError::Port(e)) => Err(e.into()),
    }
}

/// Length limits and shapes of the profile form's fields.
fn validate(form: &Params) -> (Draft, Vec<FieldError>) {
    let field = |name: &str| form.get(name).unwrap_or("").trim().to_owned();
    let (username, email, given, family) =
        (field("username"), field("email"), field("given_name"), field("family_name"));
    let mut errors = Vec::new();
    if username.is_empty()
        || username.chars().count() > 64
        || username.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        errors.push(FieldError::new("username", "Enter a username of 1 to 64 characters without spaces."));
    }
    let email_ok = email.chars().count() <= 254
        && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !email_ok {
        errors.push(FieldError::new("email", "Enter an email address such as name@example.com."));
    }
    for (name, value) in [("given_name", &given), ("family_name", &family)] {
        if value.is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
            errors.push(FieldError::new(name, "Enter 1 to 100 characters."));
        }
    }
    let opt = |s: String| (!s.is_empty()).then_some(s);
    (
        Draft { username, email: opt(email), email_verified: false, given_name: opt(given), family_name: opt(family) },
        errors,
    )
}

/// `POST /first-login/review`: the profile form, of the pending login whose token it carried.
pub async fn review(app: &Keyedge, ports: &Ports<'_>, req: &Request, form: Checked<'_, PendingLoginCookie>) -> Outcome {
    let mut pending = take_by_cookie(app, ports, form.cookie()).await?;
    if !review_allowed(app, &pending)? {
        return Err(review_is_off(&pending));
    }
    let (mut draft, errors) = validate(&Params::from_form(req));
    // The IdP's verification holds only for the address it sent.
    draft.email_verified = pending.identity.profile.email_verified
        && draft.email.as_deref().map(keys::fold_email)
            == pending.identity.profile.email.as_deref().map(keys::fold_email);
    pending.draft = draft;
    pending.stage = Stage::Profile;
    let step = Step::page(app, ports, req);
    if !errors.is_empty() {
        return show(step, &pending, Page::Review(errors)).await;
    }
    attempt(step, pending).await
}

/// `POST /first-login/confirm`: "Add to existing account" or "Review profile", for the
/// pending login whose token it carried.
pub async fn confirm(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    form: Checked<'_, PendingLoginCookie>,
) -> Outcome {
    let pending = take_by_cookie(app, ports, form.cookie()).await?;
    let step = Step::page(app, ports, req);
    match Params::from_form(req).get("action") {
        Some("link") => verify(step, pending).await,
        Some("review") if !review_allowed(app, &pending)? => Err(review_is_off(&pending)),
        Some("review") => show(step, &pending, Page::Review(Vec::new())).await,
        _ => show(step, &pending, Page::Confirm).await,
    }
}

/// `GET /first-login/verify-email?token=…`: the link from the mail, opened in the browser that
/// started the login. A wrong token ends the attempt.
pub async fn verify_email(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let pending = take(app, ports, req).await?;
    let token = Params::from_query(req).get("token").unwrap_or("").to_owned();
    let not_valid = || -> Failure {
        PageError::bad_request(
            "Link not valid",
            "This verification link is not the one sent for this sign-in, or it has expired. Please start again.",
        )
        .with_retry(pending.continuation.restart_url())
        .into()
    };
    // The link proves the mailbox of the account it was sent for, and only while that account
    // is still the target of this very login: a changed target or draft dropped it.
    let Stage::AwaitingMail { existing: target, mailed } = &pending.stage else {
        return Err(not_valid());
    };
    let presented = code_hash(&token, &target.user_id, &pending);
    let matches = bool::from(subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), mailed.hash.as_bytes()));
    if !matches || mailed.user_id != target.user_id || mailed.expires_at <= ports.clock.now() {
        return Err(not_valid());
    }
    // The mail proved that mailbox: it says nothing once the account has another address.
    let account = users::load(ports, &target.user_id).await?.ok_or_else(expired)?;
    let wanted = keys::fold_email(&mailed.to);
    if !(account.profile.email_verified && account.profile.email.is_some_and(|e| keys::fold_email(&e) == wanted)) {
        return Err(not_valid());
    }
    let user = link_existing(app, ports, &pending).await?;
    complete(Step::page(app, ports, req), &pending, &user, &pending.grant_id).await
}

/// `GET /first-login/reauthenticate/{alias}`: sign in with an IdP already linked to the
/// existing account, to prove it is yours.
pub async fn reauthenticate(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let pending = take(app, ports, req).await?;
    let allowed = reauth_choices(app, &pending)?.iter().any(|c| c.href.ends_with(&format!("/{alias}")));
    let idp = app.config.provider(alias).filter(|_| allowed).ok_or_else(expired)?;
    let cookie = save(app, ports, &pending, None).await?;
    let res = login::redirect_upstream(
        app,
        ports,
        req,
        idp,
        pending.continuation.clone(),
        Purpose::Reauthenticate { pending: cookie.clone() },
    )
    .await?;
    Ok(web::with_cookie(res, app.cookies().set(PENDING_COOKIE, &cookie, PENDING_TTL)))
}

/// The callback of a re-authentication: `identity` (verified by `idp`) must belong to the
/// existing account; then the pending identity is linked to it.
#[allow(clippy::too_many_arguments)]
pub async fn reauthenticated(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    identity: &BrokeredIdentity,
    pending_cookie: &str,
    flow: &login::UpstreamFlow,
    marker: &OnceKey,
    flow_cookie: &str,
) -> Outcome {
    let pending = take_by_cookie(app, ports, pending_cookie).await?;
    let existing = pending.stage.existing().ok_or_else(expired)?;
    let who = users::find_linked(ports, idp, identity).await?;
    if who.as_ref().map(|u| u.id.as_str()) != Some(existing.user_id.as_str()) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Not the same account",
            format!(
                "You signed in with {} as someone other than the existing account, so nothing was linked. Please start again.",
                idp.display_name
            ),
        )
        .with_retry(pending.continuation.restart_url())
        .into());
    }
    let user = link_existing(app, ports, &pending).await?;
    let step = Step { app, ports, req, marker: Some(marker), clear: Some(flow_cookie) };
    complete(step, &pending, &user, &flow.grant_id).await
}
