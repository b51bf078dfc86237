//! `/account` and the start page: the user's profile, linked identities (link, unlink) and
//! sessions (end any of them).

use http::StatusCode;

use super::logout;
use super::session::{self, Session};
use super::users::{self, UpdateError, User};
use crate::core::app::Keyedge;
use crate::core::csrf::{Checked, SessionCookie};
use crate::core::error::{Failure, Outcome, PageError};
use crate::core::keys;
use crate::core::pages::{self, LinkRow, ProviderChoice, SessionRow};
use crate::core::ports::Ports;
use crate::core::web::{self, Request};

pub async fn home(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let signed_in = session::current(ports, app.cookies(), req).await?.is_some();
    Ok(web::html(StatusCode::OK, pages::home(app.ui(req), signed_in)))
}

fn sign_in(app: &Keyedge) -> web::Response {
    web::redirect(&app.config.sign_in_to_account())
}

/// The signed-in user and their session, by the session cookie's value, or `None` (then:
/// sign in first).
async fn signed_in(ports: &Ports<'_>, cookie: Option<&str>) -> Result<Option<(Session, User)>, Failure> {
    let Some(session) = (match cookie {
        Some(cookie) => session::by_cookie(ports, cookie).await?,
        None => None,
    }) else {
        return Ok(None);
    };
    // The account as its record holds it: KV's copy may lag a change that failed part-way
    // (an identity linked or unlinked), and the page must show what signs in.
    Ok(users::load_current(ports, &session.user_id).await?.map(|user| (session, user)))
}

/// `2026-12-04 09:30 UTC` (from the date's parts: chrono's format-string interpreter is
/// 12 KB of the Worker's code).
fn date(ts: i64) -> String {
    use chrono::{Datelike, Timelike};
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", d.year(), d.month(), d.day(), d.hour(), d.minute()))
        .unwrap_or_default()
}

/// Identities that can sign in (their IdP is enabled and not `link_only`).
fn sign_in_capable(app: &Keyedge, user: &User) -> usize {
    user.links.iter().filter(|l| app.config.provider(&l.alias).is_some_and(|p| !p.link_only)).count()
}

pub async fn account(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let cookie = app.cookies().get(req, session::COOKIE);
    let (Some(cookie), Some((session, user))) = (cookie, signed_in(ports, cookie).await?) else {
        return Ok(sign_in(app));
    };
    let provider_name = |alias: &str| {
        app.config
            .identity_providers
            .iter()
            .find(|p| p.alias == alias)
            .map_or(alias.to_owned(), |p| p.display_name.clone())
    };
    let capable = sign_in_capable(app, &user);
    let links: Vec<LinkRow> = user
        .links
        .iter()
        .map(|l| {
            let can_sign_in = app.config.provider(&l.alias).is_some_and(|p| !p.link_only);
            LinkRow {
                provider: provider_name(&l.alias),
                username: l.username.clone(),
                linked_at: date(l.linked_at),
                unlink: (!can_sign_in || capable > 1).then(|| app.config.path(&format!("/account/unlink/{}", l.alias))),
            }
        })
        .collect();
    // Enabled IdPs the user has no identity at yet, including `link_only` ones.
    let linkable: Vec<ProviderChoice> = app
        .config
        .identity_providers
        .iter()
        .filter(|p| p.enabled && !p.hide_on_login_page && !user.links.iter().any(|l| l.alias == p.alias))
        .map(|p| ProviderChoice::new(p, app.config.path(&format!("/broker/{}/link", p.alias))))
        .collect();
    let sessions: Vec<SessionRow> = session::list(ports, &user.id)
        .await?
        .into_iter()
        .rev()
        .map(|e| SessionRow {
            provider: provider_name(&e.idp),
            device: e.device,
            signed_in_at: date(e.created_at),
            last_seen: date(e.last_seen.max(e.created_at)),
            current: e.sid == session.sid,
            end: app.config.path(&format!("/account/sessions/{}/end", e.sid)),
        })
        .collect();
    let csrf = app.csrf.token::<SessionCookie>(cookie);
    let page = pages::account(app.ui(req), &user, &provider_name(&session.idp), &links, &linkable, &sessions, &csrf);
    Ok(web::isolated(web::html(StatusCode::OK, page)))
}

/// `POST /account/unlink/{alias}`: removes a linked identity, unless it is the last one the
/// user can sign in with. Its stored tokens go too; signing in with it later makes a new
/// account (or links it again, from this page).
pub async fn unlink(app: &Keyedge, ports: &Ports<'_>, form: Checked<'_, SessionCookie>, alias: &str) -> Outcome {
    let Some((_, user)) = signed_in(ports, Some(form.cookie())).await? else {
        return Ok(sign_in(app));
    };
    let can_sign_in = app.config.provider(alias).is_some_and(|p| !p.link_only);
    // Decided on the freshest record, so two unlinks at once cannot both pass the check.
    let removed = users::update(ports, &user.id, |user| {
        let Some(position) = user.links.iter().position(|l| l.alias == alias) else {
            return Ok(None);
        };
        if can_sign_in && sign_in_capable(app, user) <= 1 {
            return Err(LastIdentity);
        }
        Ok(Some(user.links.remove(position)))
    })
    .await;
    let link = match removed {
        Ok(Some((_, Some(link)))) => link,
        Ok(_) => return Ok(web::redirect(&app.config.path("/account"))),
        Err(UpdateError::Port(e)) => return Err(e.into()),
        Err(UpdateError::Refused(LastIdentity)) => {
            return Err(PageError::bad_request(
                "Cannot unlink",
                "This is the only identity you can sign in with. Link another identity provider first.",
            )
            .with_retry("/account")
            .into())
        }
    };
    ports.store.delete(&keys::link(&link.alias, &link.sub)).await?;
    ports.store.delete(&keys::stored_tokens(&link.alias, &link.sub)).await?;
    ports.once.unclaim(&keys::link_claim(&link.alias, &link.sub), &user.id).await?;
    Ok(web::redirect(&app.config.path("/account")))
}

/// The unlink would leave no identity to sign in with.
struct LastIdentity;

/// `POST /account/sessions/{sid}/end`: ends one of the user's sessions (their applications
/// are told through back-channel logout).
pub async fn end_session(app: &Keyedge, ports: &Ports<'_>, form: Checked<'_, SessionCookie>, sid: &str) -> Outcome {
    let Some((current, user)) = signed_in(ports, Some(form.cookie())).await? else {
        return Ok(sign_in(app));
    };
    let entries = session::list(ports, &user.id).await?;
    let Some(entry) = entries.iter().find(|e| e.sid == sid) else {
        return Ok(web::redirect(&app.config.path("/account")));
    };
    match session::by_key(ports, entry.key.clone()).await? {
        Some(s) => logout::end_session(app, ports, &s, logout::EndedBy::Keyedge).await?,
        // Already over: only its listing is left.
        None => ports.store.delete(&keys::user_session(&user.id, sid)).await?,
    }
    if sid == current.sid {
        let res = web::with_cookie(
            web::redirect(&app.config.path(logout::DONE_PATH)),
            app.cookies().clear(session::PASS_COOKIE),
        );
        return Ok(web::with_cookie(res, app.cookies().clear(session::COOKIE)));
    }
    Ok(web::redirect(&app.config.path("/account")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_written_as_the_account_page_shows_them() {
        assert_eq!(super::date(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::date(1_796_376_659), "2026-12-04 09:30 UTC");
        assert_eq!(super::date(i64::MAX), "", "out of range: nothing");
    }
}
