//! The admin API (`/admin/…`): find users, see and remove linked identities, end sessions,
//! and export/import users with their links as JSON lines. Off unless `admin_token_env` is
//! set; every request needs `Authorization: Bearer {that token}`. See `docs/admin.md`.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::app::Keyedge;
use super::broker::logout;
use super::broker::session;
use super::broker::users::{self, UpdateError, User};
use super::error::{ErrorCode, Failure, OAuthError, Outcome};
use super::keys;
use super::ports::{OnceKey, PortError, Ports};
use super::web::{self, Params, Request};

fn error(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Failure {
    Failure::Json(status, OAuthError::new(code, description))
}

fn ok(body: Value) -> Outcome {
    Ok(web::json_no_store(StatusCode::OK, body.to_string()))
}

/// The answer to `/admin/*` when the configuration has no admin API.
pub fn not_enabled() -> Failure {
    error(StatusCode::NOT_FOUND, ErrorCode::InvalidRequest, "the admin API is not enabled (admin_token_env)")
}

fn authorized(app: &Keyedge, req: &Request) -> Result<(), Failure> {
    let Some(token) = &app.config.admin_token else {
        return Err(not_enabled());
    };
    let presented = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(Failure::Bearer(
            StatusCode::UNAUTHORIZED,
            OAuthError::new(ErrorCode::InvalidToken, "a valid admin token is required"),
        ))
    }
}

/// Routes `/admin/{rest}`.
pub async fn handle(app: &Keyedge, ports: &Ports<'_>, req: &Request, rest: &str) -> Outcome {
    authorized(app, req)?;
    let method = req.method();
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, ["users"]) => find(ports, req).await,
        (&Method::GET, ["users", id]) => one(ports, id).await,
        (&Method::DELETE, ["users", id, "links", alias]) => unlink(ports, id, alias).await,
        (&Method::DELETE, ["users", id, "sessions"]) => end_sessions(app, ports, id).await,
        (&Method::GET, ["export"]) => export(ports).await,
        (&Method::POST, ["import"]) => import(ports, req).await,
        _ => Err(error(StatusCode::NOT_FOUND, ErrorCode::InvalidRequest, "no such admin endpoint")),
    }
}

async fn user_or_404(ports: &Ports<'_>, id: &str) -> Result<User, Failure> {
    users::load(ports, id)
        .await?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no user `{id}`")))
}

/// `GET /admin/users?email=…`, `?username=…`, `?idp={alias}&sub=…`, or without a filter the
/// first 1000 users.
async fn find(ports: &Ports<'_>, req: &Request) -> Outcome {
    let q = Params::from_query(req);
    let id = match (q.get("email"), q.get("username"), q.get("idp"), q.get("sub")) {
        (Some(email), _, _, _) => Some(ports.store.get(&keys::email(email)).await?),
        (_, Some(username), _, _) => Some(ports.store.get(&keys::username(username)).await?),
        (_, _, Some(alias), Some(sub)) => Some(ports.store.get(&keys::link(alias, sub)).await?),
        (_, _, Some(_), None) | (_, _, None, Some(_)) => {
            return Err(error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, "idp and sub go together"))
        }
        _ => None,
    };
    let mut found = Vec::new();
    match id {
        Some(id) => {
            if let Some(user) = match id {
                Some(id) => users::load(ports, &id).await?,
                None => None,
            } {
                found.push(user);
            }
        }
        None => {
            for key in ports.store.list("user:").await? {
                if let Some(user) = users::load(ports, &key["user:".len()..]).await? {
                    found.push(user);
                }
            }
        }
    }
    ok(json!({ "users": found }))
}

/// `GET /admin/users/{id}`: the user and their live sessions.
async fn one(ports: &Ports<'_>, id: &str) -> Outcome {
    let user = user_or_404(ports, id).await?;
    let sessions: Vec<Value> = session::list(ports, id)
        .await?
        .into_iter()
        .map(|s| json!({ "sid": s.sid, "idp": s.idp, "device": s.device, "created_at": s.created_at, "expires_at": s.expires_at }))
        .collect();
    ok(json!({ "user": user, "sessions": sessions }))
}

/// `DELETE /admin/users/{id}/links/{alias}`: removes the identity, its stored tokens and its
/// claim (the admin may remove the last one; the user then cannot sign in with it).
async fn unlink(ports: &Ports<'_>, id: &str, alias: &str) -> Outcome {
    let removed = users::update(ports, id, |user| {
        let position = user.links.iter().position(|l| l.alias == alias).ok_or(())?;
        Ok(user.links.remove(position))
    })
    .await;
    let (user, link) = match removed {
        Ok(Some(done)) => done,
        Ok(None) => return Err(error(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no user `{id}`"))),
        Err(UpdateError::Refused(())) => {
            return Err(error(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("the user has no `{alias}` identity"),
            ))
        }
        Err(UpdateError::Port(e)) => return Err(e.into()),
    };
    ports.store.delete(&keys::link(&link.alias, &link.sub)).await?;
    ports.store.delete(&keys::stored_tokens(&link.alias, &link.sub)).await?;
    ports.once.unclaim(&keys::link_claim(&link.alias, &link.sub), &user.id).await?;
    ok(json!({ "user": user }))
}

/// `DELETE /admin/users/{id}/sessions`: ends every session of the user (their applications
/// are told through back-channel logout).
async fn end_sessions(app: &Keyedge, ports: &Ports<'_>, id: &str) -> Outcome {
    user_or_404(ports, id).await?;
    let mut ended = 0;
    for entry in session::list(ports, id).await? {
        if let Some(s) = session::by_key(ports, entry.key.clone()).await? {
            logout::end_session(app, ports, &s, logout::EndedBy::Keyedge).await?;
            ended += 1;
        } else {
            ports.store.delete(&keys::user_session(id, &entry.sid)).await?;
        }
    }
    ok(json!({ "ended": ended }))
}

/// `GET /admin/export`: every user record as JSON lines (`application/x-ndjson`), links
/// included. Stored upstream tokens and sessions are not exported.
async fn export(ports: &Ports<'_>) -> Outcome {
    let mut out = String::new();
    for key in ports.store.list("user:").await? {
        if let Some(json) = ports.store.get(&key).await? {
            // Re-serialised through the model, so a damaged record is not passed on.
            if let Ok(user) = serde_json::from_str::<User>(&json) {
                out.push_str(&serde_json::to_string(&user).map_err(|e| PortError(e.to_string()))?);
                out.push('\n');
            }
        }
    }
    let mut res = web::json_no_store(StatusCode::OK, out);
    res.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/x-ndjson"));
    Ok(res)
}

/// `POST /admin/import` with JSON lines as exported. Each user is written with its links,
/// claiming each identity, username and email atomically: a line whose identity, username or
/// email belongs to another user is skipped whole and reported, never merged.
async fn import(ports: &Ports<'_>, req: &Request) -> Outcome {
    let text = String::from_utf8_lossy(req.body()).into_owned();
    let mut imported = 0;
    let mut skipped = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let user: User = match serde_json::from_str(line) {
            Ok(u) => u,
            Err(e) => {
                skipped.push(json!({ "line": n + 1, "reason": format!("not a user record: {e}") }));
                continue;
            }
        };
        match import_one(ports, &user).await? {
            None => imported += 1,
            Some(reason) => skipped.push(json!({ "line": n + 1, "id": user.id, "reason": reason })),
        }
    }
    ok(json!({ "imported": imported, "skipped": skipped }))
}

/// Claims what `user` owns and writes it; `Some(reason)` when something belongs to another
/// user (then what this call claimed is released and nothing is written).
async fn import_one(ports: &Ports<'_>, user: &User) -> Result<Option<String>, PortError> {
    // A line never replaces another account that has its id: only the very same record (the
    // same export imported again) passes.
    let json = serde_json::to_string(user).map_err(|e| PortError(e.to_string()))?;
    let record = keys::user_record(&user.id);
    let existing = match ports.once.record_get(&record).await? {
        Some(held) => Some(held),
        None => ports.store.get(&keys::user(&user.id)).await?,
    };
    if let Some(held) = &existing {
        let same = serde_json::from_str::<serde_json::Value>(held).ok() == serde_json::to_value(user).ok();
        if !same {
            return Ok(Some(format!("user id {} belongs to an account with other data", user.id)));
        }
    }
    let mut claims: Vec<(OnceKey, String)> = user
        .links
        .iter()
        .map(|l| (keys::link_claim(&l.alias, &l.sub), format!("identity {}:{}", l.alias, l.sub)))
        .collect();
    claims.push((keys::username_claim(&user.username), format!("username {}", user.username)));
    // Only a verified address is claimed (and indexed): an unverified one must not keep its
    // owner from an account of their own (docs/accounts.md).
    let verified_email = user.profile.email.as_deref().filter(|_| user.profile.email_verified);
    if let Some(email) = verified_email {
        claims.push((keys::email_claim(email), format!("email {email}")));
    }
    let mut held = Vec::new();
    for (key, what) in &claims {
        let claimed = match verified_email {
            Some(email) if *key == keys::email_claim(email) => users::claim_email(ports, email, &user.id).await?,
            _ => ports.once.claim(key, &user.id).await?,
        };
        match claimed {
            Some(owner) if owner != user.id => {
                for k in held {
                    ports.once.unclaim(k, &user.id).await?;
                }
                return Ok(Some(format!("{what} belongs to user {owner}")));
            }
            Some(_) => {}
            None => held.push(key),
        }
    }
    // Created only if no record appeared meanwhile (another import of the same id).
    if existing.is_none() && !ports.once.record_swap(&record, None, &json).await? {
        for k in held {
            ports.once.unclaim(k, &user.id).await?;
        }
        return Ok(Some(format!("user id {} was created by another request meanwhile", user.id)));
    }
    ports.store.put(&keys::user(&user.id), &json, None).await?;
    for l in &user.links {
        ports.store.put(&keys::link(&l.alias, &l.sub), &user.id, None).await?;
    }
    ports.store.put(&keys::username(&user.username), &user.id, None).await?;
    if let Some(email) = verified_email {
        ports.store.put(&keys::email(email), &user.id, None).await?;
    }
    Ok(None)
}
