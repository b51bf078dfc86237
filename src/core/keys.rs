//! Every storage key keyedge writes, in one place. KV keys (Workers KV, strings) and Once keys
//! (the Durable Object, [`OnceKey`]s) are listed with their lifetime; `docs/storage.md`
//! mirrors this.

use super::b64url;
use super::ports::OnceKey;
use sha2::{Digest, Sha256};

fn hashed(secret: &str) -> String {
    b64url(&Sha256::digest(secret.as_bytes()))
}

/// KV `user:{id}` → [`User`](super::broker::users::User) JSON. No TTL.
pub fn user(id: &str) -> String {
    format!("user:{id}")
}

/// Once record `user:{id}|record` → the user record's strongly consistent copy, against
/// which every change is compare-and-swapped ([`users::update`](super::broker::users::update))
/// before KV's copy is written. No TTL; it lives in the object that `user:{id}` routes to.
pub fn user_record(id: &str) -> OnceKey {
    OnceKey::in_object(&user(id), "record")
}

/// KV `link:{alias}:{base64url(sub)}` → user id. No TTL. The upstream `sub` is encoded so
/// any byte an IdP puts there is a valid key.
pub fn link(alias: &str, sub: &str) -> String {
    format!("link:{alias}:{}", b64url(sub.as_bytes()))
}

/// KV `session:{sha256(session id)}` → session JSON; TTL = session lifetime. Only the hash
/// is stored, so a leaked KV listing cannot be replayed as cookies.
pub fn session(session_id: &str) -> String {
    format!("session:{}", hashed(session_id))
}

/// KV `revoked_grant:{grant id}` → "1"; TTL = access-token lifetime. Written when an
/// authorization code is replayed: the tokens issued from it stop working.
pub fn revoked_grant(grant_id: &str) -> String {
    format!("revoked_grant:{grant_id}")
}

/// Once mark `{grant id}|revoked`: the grant was revoked (a replayed code, RFC 7009); TTL at
/// least the access-token lifetime. Read by `/userinfo` and `/introspect`: a revocation counts
/// everywhere at once. Routed with the grant's code and refresh family.
pub fn grant_revoked(grant_id: &str) -> OnceKey {
    OnceKey::in_object(grant_id, "revoked")
}

/// Once `{grant id}|code:{sha256(code, binding)}`: an authorization code; TTL = code lifetime.
/// `binding` names the client, `redirect_uri` and PKCE challenge the code was issued for
/// ([`CodeBinding`](super::op::code::CodeBinding)): a `/token` request that differs in any of
/// them looks up another key and finds nothing, so it cannot burn the code.
///
/// A code is `{grant id}.{secret}`. Everything before `|` in a Once key routes it to its
/// Durable Object, so a code and its grant's refresh family live in the same object and are
/// written, redeemed and revoked together in one call.
pub fn code(code: &str, binding: &str) -> OnceKey {
    let grant = code.split_once('.').map_or("", |(gid, _)| gid);
    // A code is base64url and `.`: the newline cannot occur in it, so the pair is unambiguous.
    OnceKey::in_object(grant, &format!("code:{}", hashed(&format!("{code}\n{binding}"))))
}

/// Once `{grant id}|state:{sha256(state)}`: the marker of a completed upstream login (its
/// `state` is single use); TTL twice the flow lifetime. Routed with the grant's code.
pub fn flow_marker(grant_id: &str, state: &str) -> OnceKey {
    OnceKey::in_object(grant_id, &format!("state:{}", hashed(state)))
}

/// Once claim `link:{alias}:{base64url(sub)}`: makes creating the user for a new identity
/// atomic, so two simultaneous first logins cannot create two accounts.
pub fn link_claim(alias: &str, sub: &str) -> OnceKey {
    OnceKey::alone(link(alias, sub))
}

/// Once family `{grant id}|rt`: a refresh-token family (rotation with reuse detection);
/// lifetime = the refresh token's. Routed with the grant's code (see [`code`]).
pub fn refresh_family(grant_id: &str) -> OnceKey {
    OnceKey::in_object(grant_id, "rt")
}

/// Hash of a refresh-token secret, as stored in its family.
pub fn refresh_secret(secret: &str) -> String {
    hashed(secret)
}

/// KV `ended_session:{sid}` → "1"; TTL = session lifetime. Written at logout so that online
/// refresh tokens of that session stop working.
pub fn ended_session(sid: &str) -> String {
    format!("ended_session:{sid}")
}

/// Once mark `sid:{sid}|ended`: the session `sid` has ended (sign-out, the account page, the
/// admin API, the IdP's logout); TTL at least the session's rest. Read by the refresh grant:
/// an online refresh token stops working everywhere at once.
pub fn session_ended_by_sid(sid: &str) -> OnceKey {
    OnceKey::in_object(&format!("sid:{sid}"), "ended")
}

/// Once mark `session:{sha256(cookie)}|ended`: the same end, found from the session cookie,
/// so reading a session (KV) and its end (the Durable Object) go out together.
pub fn session_ended(session_key: &str) -> OnceKey {
    OnceKey::in_object(session_key, "ended")
}

/// KV `tokens:{alias}:{base64url(sub)}` → the upstream tokens of a linked identity, sealed
/// (XChaCha20-Poly1305 with `ENCRYPTION_KEY`, bound to this key name). No TTL; written at
/// each login through an IdP with `store_tokens`, and when they are refreshed.
pub fn stored_tokens(alias: &str, sub: &str) -> String {
    format!("tokens:{alias}:{}", b64url(sub.as_bytes()))
}

/// KV `upstream_sessions:{alias}:{base64url(sub)}` → the keyedge sessions opened through
/// that upstream account (with their upstream `sid`), for the IdP's back-channel logout;
/// TTL = session lifetime. Written only for IdPs with `accept_logout_tokens`.
pub fn upstream_sessions(alias: &str, sub: &str) -> String {
    format!("upstream_sessions:{alias}:{}", b64url(sub.as_bytes()))
}

/// Once record `upstream_sessions:{alias}:{base64url(sub)}|record`: the same list, strongly
/// consistent and compare-and-swapped, so a logout at any location finds every session and two
/// logins at once both stay listed. No TTL; expired entries are dropped at each change.
pub fn upstream_sessions_record(alias: &str, sub: &str) -> OnceKey {
    OnceKey::in_object(&upstream_sessions(alias, sub), "record")
}

/// Once marker `logout_jti:{alias}|{sha256(jti)}`: a logout token from an IdP is accepted
/// once (Back-Channel Logout 1.0 §2.6, 10); TTL = the token's lifetime plus skew. One
/// Durable Object per IdP holds them.
/// The single-use marker of a SAML assertion taken without a request of keyedge's (an
/// IdP-initiated login): its ID, once per IdP.
pub fn saml_assertion(alias: &str, assertion_id: &str) -> OnceKey {
    OnceKey::in_object(&format!("saml_assertion:{alias}"), &hashed(assertion_id))
}

pub fn logout_jti(alias: &str, jti: &str) -> OnceKey {
    OnceKey::in_object(&format!("logout_jti:{alias}"), &hashed(jti))
}

/// KV index `username:{base64url(lowercase username)}` → user id: usernames are unique,
/// case-insensitively (claimed under the same name, [`username_claim`], when an account is
/// created).
pub fn username(username: &str) -> String {
    format!("username:{}", b64url(username.to_lowercase().as_bytes()))
}

/// Once claim `username:{base64url(lowercase username)}` → user id, the KV index's key.
pub fn username_claim(name: &str) -> OnceKey {
    OnceKey::alone(username(name))
}

/// KV index `email:{base64url(folded email)}` → user id: one account per email address
/// (claimed under the same name, [`email_claim`]).
pub fn email(email: &str) -> String {
    format!("email:{}", b64url(fold_email(email).as_bytes()))
}

/// Once claim `email:{base64url(folded email)}` → user id, the KV index's key.
pub fn email_claim(address: &str) -> OnceKey {
    OnceKey::alone(email(address))
}

/// An email address as keyedge compares it: ASCII letters folded to lower case, nothing else.
/// Unicode case folding would make distinct mailboxes one (`\u{212A}ate@…`, with a KELVIN
/// SIGN, lowercases to `kate@…`), so an account verified for one could claim the other's.
pub fn fold_email(email: &str) -> String {
    email.to_ascii_lowercase()
}

/// Once `{grant}|pending:{sha256(id)}`: a first login waiting for the user (review profile,
/// confirm linking, email verification, re-authentication), sealed; TTL 10 minutes. The
/// browser holds `{grant}.{form secret}.{step id}` in the `keyedge_pending` cookie; each step
/// replaces the step id (the form secret stays: the forms' CSRF token is bound to it).
pub fn pending(cookie: &str) -> OnceKey {
    let grant = cookie.split_once('.').map_or("", |(g, _)| g);
    OnceKey::in_object(grant, &format!("pending:{}", hashed(cookie)))
}

/// KV `dev_inbox:{folded address}` → the mails sent there (`mail.sender = "dev_inbox"`,
/// local development only); TTL 1 hour.
pub fn dev_inbox(to: &str) -> String {
    format!("dev_inbox:{}", fold_email(to))
}

/// KV `unproven_login:{user id}|{alias}` → the `auth_time` the last login of that user through
/// an IdP that states none (plain OAuth 2.0) was given; TTL 400 days. A step-up through such an
/// IdP keeps it when the browser has no earlier session (signing out first proves nothing).
pub fn unproven_login(user_id: &str, alias: &str) -> String {
    format!("unproven_login:{user_id}|{alias}")
}

/// KV `user_session:{user id}:{sid}` → a session as the account page lists it (found by
/// prefix there, never on a login path); TTL = session lifetime.
pub fn user_session(user_id: &str, sid: &str) -> String {
    format!("{}{sid}", user_sessions_prefix(user_id))
}

/// The prefix of a user's [`user_session`] keys.
pub fn user_sessions_prefix(user_id: &str) -> String {
    format!("user_session:{user_id}:")
}

/// Once counter `mail_to:{sha256(folded address)}`: verification mails sent to one address
/// in the current window (`first_login::MAILS_PER_RECIPIENT` per `MAIL_WINDOW`).
pub fn mail_recipient(to: &str) -> OnceKey {
    OnceKey::alone(format!("mail_to:{}", hashed(&fold_email(to))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Once keys as they were stored before they were typed (the same strings, so objects
    /// of the previous version find what it stored), and the ones that change together share
    /// their object.
    #[test]
    fn once_keys_keep_their_strings_and_objects() {
        let code = code("g1.secret", "binding");
        assert_eq!(code.as_str(), format!("g1|code:{}", hashed("g1.secret\nbinding")));
        assert_eq!(refresh_family("g1").as_str(), "g1|rt");
        assert_eq!(flow_marker("g1", "state").as_str(), format!("g1|state:{}", hashed("state")));
        assert_eq!(pending("g1.form.step").as_str(), format!("g1|pending:{}", hashed("g1.form.step")));
        for same in [refresh_family("g1"), flow_marker("g1", "state"), pending("g1.form.step")] {
            assert!(code.same_object(&same), "{same:?}");
        }
        assert!(!code.same_object(&refresh_family("g2")));
        assert_eq!(user_record("u1").as_str(), "user:u1|record");
        assert_eq!(user_record("u1").route(), user("u1"));
        assert_eq!(logout_jti("demo", "j").as_str(), format!("logout_jti:demo|{}", hashed("j")));
        assert_eq!(link_claim("demo", "alice").as_str(), link("demo", "alice"));
        assert_eq!(username_claim("Bob").as_str(), username("bob"));
        assert_eq!(email_claim("Kate@Example.com").as_str(), email("kate@example.com"));
        assert_eq!(mail_recipient("A@b.c").as_str(), format!("mail_to:{}", hashed("a@b.c")));
    }
}
