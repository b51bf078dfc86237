//! Browser sessions: a random id in a cookie, the session record in KV under its hash.

use serde::{Deserialize, Serialize};

use crate::core::keys;
use crate::core::ports::{get_json, put_json, PortError, Ports, Rng};
use crate::core::seal::Sealer;
use crate::core::upstream::SamlSession;
use crate::core::web::{CookieJar, Request};

pub const COOKIE: &str = "keyedge_session";

/// The gate's pass: proof that the session of the cookie beside it was live when checked.
pub const PASS_COOKIE: &str = "keyedge_pass";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Public session id for `sid` claims (not the cookie value).
    pub sid: String,
    pub user_id: String,
    /// Alias of the identity provider used for this login (Keycloak's `identity_provider`
    /// session note).
    pub idp: String,
    pub auth_time: i64,
    pub expires_at: i64,
    /// Clients that received a code in this session: told about its end (back-channel logout).
    #[serde(default)]
    pub clients: Vec<String>,
    /// The upstream ID token, kept for the `id_token_hint` of upstream logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_id_token: Option<String>,
    /// The user's session at a SAML IdP, for Single Logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_saml: Option<SamlSession>,
    /// Browser and system, as the account page shows them.
    #[serde(default)]
    pub device: String,
    /// The KV key of this record (derived from the cookie; never stored).
    #[serde(skip)]
    pub key: String,
}

/// A gate pass: the session `sid` of user `uid` (ending at `exp`) was found live at `at`.
/// Sealed (XChaCha20-Poly1305) bound to the session cookie's value, it opens only beside
/// that cookie, and it is taken only while younger than the gate's
/// `session_check_interval`: a page view within it needs no storage read; after it, the
/// session is checked again, so a session ended anywhere stops opening pages within it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    pub uid: String,
    pub sid: String,
    pub exp: i64,
    pub at: i64,
}

impl Pass {
    pub fn of(session: &Session, now: i64) -> Self {
        Pass { uid: session.user_id.clone(), sid: session.sid.clone(), exp: session.expires_at, at: now }
    }

    fn context(session_cookie: &str) -> Vec<u8> {
        [b"keyedge gate pass\0".as_slice(), session_cookie.as_bytes()].concat()
    }

    pub fn seal(&self, sealer: &Sealer, rng: &dyn Rng, session_cookie: &str) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        sealer.seal(rng, &Self::context(session_cookie), &json)
    }

    /// The pass in `sealed`, if it was sealed for `session_cookie` and was checked less than
    /// `interval` seconds before `now` for a session that has not expired.
    pub fn open_fresh(sealer: &Sealer, session_cookie: &str, sealed: &str, now: i64, interval: u64) -> Option<Self> {
        let json = sealer.open(&Self::context(session_cookie), sealed)?;
        let pass: Pass = serde_json::from_slice(&json).ok()?;
        (pass.at <= now && now - pass.at < interval as i64 && pass.exp > now).then_some(pass)
    }
}

async fn save(ports: &Ports<'_>, session: &Session) -> Result<(), PortError> {
    let ttl = (session.expires_at - ports.clock.now()).max(1) as u64;
    put_json(ports.store, &session.key, session, Some(ttl)).await
}

/// What a new session is made of.
pub struct NewSession<'a> {
    pub user_id: &'a str,
    pub idp: &'a str,
    pub lifetime: u64,
    /// The client the login answers, if any.
    pub client: Option<&'a str>,
    pub upstream_id_token: Option<String>,
    pub upstream_saml: Option<SamlSession>,
    /// The browser and system, for the account page ("Firefox on Linux").
    pub device: String,
}

/// A session as the account page lists it (`user_sessions:{user}` in KV).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionEntry {
    pub sid: String,
    /// KV key of the session record (a hash; not the cookie).
    pub key: String,
    pub idp: String,
    pub device: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The last sign-in to an application with this session (single sign-on).
    #[serde(default)]
    pub last_seen: i64,
}

impl SessionEntry {
    fn of(session: &Session, last_seen: i64) -> Self {
        SessionEntry {
            sid: session.sid.clone(),
            key: session.key.clone(),
            idp: session.idp.clone(),
            device: session.device.clone(),
            created_at: session.auth_time,
            expires_at: session.expires_at,
            last_seen,
        }
    }
}

/// Lists `session` for the account page, as last used `now` (one KV write). The entry is the
/// key's metadata too, so listing a user's sessions reads no values.
async fn list_entry(ports: &Ports<'_>, session: &Session, now: i64) -> Result<(), PortError> {
    let entry = SessionEntry::of(session, now);
    let ttl = (session.expires_at - now).max(1) as u64;
    let json = serde_json::to_string(&entry).map_err(|e| PortError(format!("session entry: {e}")))?;
    let key = keys::user_session(&session.user_id, &session.sid);
    ports.store.put_with_metadata(&key, &json, &json, Some(ttl)).await
}

/// Notes that `session` just signed the user in to an application (single sign-on), for the
/// account page's "last seen" (one KV write).
pub async fn seen(ports: &Ports<'_>, session: &Session) -> Result<(), PortError> {
    list_entry(ports, session, ports.clock.now()).await
}

/// The user's sessions that have not expired, oldest first: one KV list, whose metadata
/// carries each entry (an entry written without, by an earlier version, is read).
pub async fn list(ports: &Ports<'_>, user_id: &str) -> Result<Vec<SessionEntry>, PortError> {
    let now = ports.clock.now();
    let mut entries = Vec::new();
    for (key, metadata) in ports.store.list_metadata(&keys::user_sessions_prefix(user_id)).await? {
        let entry = match metadata.and_then(|m| serde_json::from_str::<SessionEntry>(&m).ok()) {
            Some(entry) => Some(entry),
            None => get_json::<SessionEntry>(ports.store, &key).await?,
        };
        if let Some(entry) = entry.filter(|e| e.expires_at > now) {
            entries.push(entry);
        }
    }
    entries.sort_by_key(|e| e.created_at);
    Ok(entries)
}

/// "Firefox on Linux" from a User-Agent header: enough to recognise one's devices.
pub fn device_of(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    let browser = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .iter()
        .find(|(needle, _)| ua.contains(needle))
        .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match system {
        Some(s) => format!("{browser} on {s}"),
        None => browser.to_owned(),
    }
}

/// A new session and its cookie value; nothing is stored yet (see [`store`]).
pub fn open(ports: &Ports<'_>, new: NewSession<'_>) -> (Session, String) {
    let NewSession { user_id, idp, lifetime, client, upstream_id_token, upstream_saml, device } = new;
    let now = ports.clock.now();
    let cookie_value = ports.random_token(32);
    let session = Session {
        sid: ports.random_token(16),
        user_id: user_id.to_owned(),
        idp: idp.to_owned(),
        auth_time: now,
        expires_at: now + lifetime as i64,
        // The client the login is for, known now: saves a second write when its code is issued.
        clients: client.map(str::to_owned).into_iter().collect(),
        upstream_id_token,
        upstream_saml,
        device,
        key: keys::session(&cookie_value),
    };
    (session, cookie_value)
}

/// Stores a new session and its account-page listing: two KV writes, sent together.
pub async fn store(ports: &Ports<'_>, session: &Session) -> Result<(), PortError> {
    futures_util::future::try_join(save(ports, session), list_entry(ports, session, ports.clock.now())).await?;
    Ok(())
}

/// Remembers that `client_id` took part in the session (one KV write, the first time only).
pub async fn add_client(ports: &Ports<'_>, session: &Session, client_id: &str) -> Result<(), PortError> {
    if session.clients.iter().any(|c| c == client_id) {
        return Ok(());
    }
    let mut updated = session.clone();
    updated.clients.push(client_id.to_owned());
    save(ports, &updated).await
}

/// The live session named by the request's cookie, if any.
pub async fn current(ports: &Ports<'_>, jar: CookieJar<'_>, req: &Request) -> Result<Option<Session>, PortError> {
    let Some(cookie_value) = jar.get(req, COOKIE) else {
        return Ok(None);
    };
    by_key(ports, keys::session(cookie_value)).await
}

/// The live session whose cookie value is `cookie_value`, if any.
pub async fn by_cookie(ports: &Ports<'_>, cookie_value: &str) -> Result<Option<Session>, PortError> {
    by_key(ports, keys::session(cookie_value)).await
}

/// The live session stored under `key`, if any. Its KV record and its end mark in the
/// Durable Object are read together: KV may still serve a session that ended elsewhere up to
/// a minute ago, the mark is seen everywhere at once.
pub async fn by_key(ports: &Ports<'_>, key: String) -> Result<Option<Session>, PortError> {
    let ended = keys::session_ended(&key);
    let (json, ended) = futures_util::future::try_join(ports.store.get(&key), ports.once.marked(&ended)).await?;
    let Some(json) = json.filter(|_| !ended) else {
        return Ok(None);
    };
    let Ok(mut session) = serde_json::from_str::<Session>(&json) else {
        return Ok(None);
    };
    session.key = key;
    // KV expiry is lazy and coarse; the record's own expiry is authoritative.
    Ok((session.expires_at > ports.clock.now()).then_some(session))
}

/// Whether the session `sid` has ended: its mark in the Durable Object, or — for a session
/// ended by a Worker of the previous version, which wrote only KV's mark — KV's. Both are read
/// together (one round trip).
pub async fn ended(ports: &Ports<'_>, sid: &str) -> Result<bool, PortError> {
    crate::core::ports::marked_here_or_in_kv(ports, &keys::session_ended_by_sid(sid), &keys::ended_session(sid)).await
}

/// Ends `session`, and marks its `sid` as ended so the online refresh tokens issued in it
/// stop working. The mark lasts at least as long as the session would have: an online
/// refresh token expires with its session, so none outlives the mark.
pub async fn end(ports: &Ports<'_>, session: &Session, lifetime: u64) -> Result<(), PortError> {
    let rest_of_session = (session.expires_at - ports.clock.now()).max(1) as u64;
    let ttl = lifetime.max(rest_of_session);
    // The Durable Object's marks make the end count everywhere at once. The `sid`'s first:
    // it stops the session's refresh tokens, the cookie's ends the browser's session. Sent
    // together, the cookie's could land while the `sid`'s failed, and the browser, signed
    // out, could not sign out again; one after the other, a failure leaves either nothing
    // ended (signing out again works) or the tokens stopped.
    ports.once.mark(&keys::session_ended_by_sid(&session.sid), ttl).await?;
    ports.once.mark(&keys::session_ended(&session.key), ttl).await?;
    // The session has ended. KV's records are tidied too, for Workers of the previous
    // version during a rollout and for the account page; should KV refuse (one write per
    // second to a key: a session stored a moment ago) they expire with the session.
    let (ended, listing) = (keys::ended_session(&session.sid), keys::user_session(&session.user_id, &session.sid));
    let tidy = futures_util::future::try_join3(
        ports.store.put(&ended, "1", Some(ttl)),
        ports.store.delete(&listing),
        ports.store.delete(&session.key),
    );
    if let Err(e) = tidy.await {
        (ports.log)(&format!("session end: KV records left to expire: {e}"));
    }
    Ok(())
}
