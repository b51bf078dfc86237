//! The ports through which the pure core reaches the outside world: storage, single-use
//! items, outbound HTTP, time and randomness. `src/edge` implements them over Workers KV,
//! a Durable Object and `fetch`; [`memory`] holds the in-memory twins used by tests.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

pub mod conformance;
pub mod faulty;
pub mod kv_model;
pub mod memory;
pub mod no_io;
mod once_key;
pub mod once_protocol;
pub mod once_schema;
pub mod rate_limit;

pub use once_key::OnceKey;

/// A failure of the infrastructure behind a port (not of the request being served).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortError(pub String);

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PortError {}

/// Read-mostly key/value storage (Workers KV). Eventually consistent: never use it for
/// anything that must be single-use or unique — that is what [`Once`] is for.
#[async_trait(?Send)]
pub trait Store {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError>;
    /// Writes `value`; with `ttl_seconds` the entry expires (KV's minimum is 60 s; shorter
    /// values are raised to it by the adapter).
    async fn put(&self, key: &str, value: &str, ttl_seconds: Option<u64>) -> Result<(), PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Keys starting with `prefix` (at most 1000). For pages and the admin API only — never
    /// on a login path.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError>;
    /// [`Store::put`] with `metadata` (KV keeps at most 1024 bytes of it), which
    /// [`Store::list_metadata`] returns beside the key: a listing that needs only that reads
    /// no values.
    async fn put_with_metadata(
        &self,
        key: &str,
        value: &str,
        metadata: &str,
        ttl_seconds: Option<u64>,
    ) -> Result<(), PortError>;
    /// [`Store::list`] with each key's metadata (`None`: put without).
    async fn list_metadata(&self, prefix: &str) -> Result<Vec<(String, Option<String>)>, PortError>;
}

/// Reads `key` as JSON. A value that does not parse (another version's shape) counts as
/// absent: these are caches and indexes that the next write replaces.
pub async fn get_json<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<T>, PortError> {
    Ok(store.get(key).await?.and_then(|json| serde_json::from_str(&json).ok()))
}

/// Writes `value` as JSON under `key` (with `ttl_seconds`, as [`Store::put`]).
pub async fn put_json<T: Serialize>(
    store: &dyn Store,
    key: &str,
    value: &T,
    ttl_seconds: Option<u64>,
) -> Result<(), PortError> {
    let json = serde_json::to_string(value).map_err(|e| PortError(format!("{key} does not serialise: {e}")))?;
    store.put(key, &json, ttl_seconds).await
}

/// Whether `mark` is set in the Durable Object, or `kv_key` exists in KV: a mark a Worker of
/// the previous version wrote only to KV (during a rollout) counts too. Both are read together
/// (one round trip).
pub async fn marked_here_or_in_kv(ports: &Ports<'_>, mark: &OnceKey, kv_key: &str) -> Result<bool, PortError> {
    let (marked, listed) = futures_util::future::try_join(ports.once.marked(mark), ports.store.get(kv_key)).await?;
    Ok(marked || listed.is_some())
}

/// What [`Once::take`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// First redemption: the value, now consumed.
    Fresh(String),
    /// The item exists but was already redeemed: the value is returned so the caller can
    /// revoke what the first redemption produced (RFC 6749 §4.1.2, RFC 9700 §4.14).
    Replayed(String),
    /// Never stored, or expired.
    Missing,
}

/// The outcome of presenting a refresh token to its family (RFC 9700 §4.14.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented secret was the current one; the family now expects `next`. Carries the
    /// family's value.
    Rotated(String),
    /// The presented secret was the one rotated out last, `next` (its derived successor) is
    /// still current, and the [`RotationGrace`] allows presenting it again: nothing changed.
    /// Carries the family's value.
    Repeated(String),
    /// The presented secret was an earlier, already rotated one: the family is now revoked.
    Reused(String),
    /// The family was revoked before, or the secret never belonged to it.
    Refused,
    /// No such family (never issued, or expired).
    Missing,
}

/// When presenting the secret rotated out last counts as a repeat rather than reuse (RFC 9700
/// §4.14.2 lets concurrent requests of one client share a successor): it must be the one
/// rotated out last, and `next` (its successor, derived from it) still the current secret;
/// then it is a repeat within `seconds` of that rotation (`0`: never), or, after them, as
/// long as fewer than `max_reuse` such late repeats were counted since the rotation.
/// [`RotationGrace::STRICT`] is the behaviour of a Durable Object that predates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RotationGrace {
    pub seconds: u64,
    pub max_reuse: u32,
}

impl RotationGrace {
    pub const STRICT: RotationGrace = RotationGrace { seconds: 0, max_reuse: 0 };

    /// Whether a repeat `since` seconds after the rotation, with `late` late repeats counted
    /// before, is allowed; `Some(true)`: allowed and to be counted as a late one.
    pub fn allows(self, since: i64, late: u32) -> Option<bool> {
        if since < self.seconds as i64 {
            Some(false)
        } else if late < self.max_reuse {
            Some(true)
        } else {
            None
        }
    }
}

/// The single-use marker of [`Once::once_then_store`]: a key that may be recorded once, and
/// is remembered for `ttl_seconds`.
#[derive(Debug, Clone, Copy)]
pub struct Marker<'a> {
    pub key: &'a OnceKey,
    pub ttl_seconds: u64,
}

/// A single-use item to store (as [`Once::put`] does).
#[derive(Debug, Clone, Copy)]
pub struct NewItem<'a> {
    pub key: &'a OnceKey,
    pub value: &'a str,
    pub ttl_seconds: u64,
}

/// A refresh-token family to create.
#[derive(Debug, Clone, Copy)]
pub struct NewFamily<'a> {
    pub key: &'a OnceKey,
    pub value: &'a str,
    pub current: &'a str,
    pub ttl_seconds: u64,
}

/// The key a [`Once::once_then_store`] call is sent with, checked: all its keys must be in
/// one object. `None`: there is nothing to store.
pub fn once_then_store_key<'k>(
    marker: Option<Marker<'k>>,
    item: Option<NewItem<'k>>,
    family: Option<NewFamily<'k>>,
) -> Result<Option<&'k OnceKey>, PortError> {
    OnceKey::one_object(marker.map(|m| m.key).into_iter().chain(item.map(|i| i.key)).chain(family.map(|f| f.key)))
}

/// A refresh-token family as stored, for introspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub value: String,
    pub current: String,
    pub revoked: bool,
}

/// How long a redeemed item is remembered, so a replay is recognised as one (and can be
/// answered by revoking) rather than looking like an unknown item.
pub const REPLAY_WINDOW: u64 = 3600;

/// How many rotated-out secrets a refresh-token family remembers: presenting one of them is
/// reuse (the family is revoked); an older one is merely refused.
pub const ROTATED_OUT_KEPT: usize = 100;

/// Strongly consistent single-use items and unique claims (a SQLite-backed Durable Object).
#[async_trait(?Send)]
pub trait Once {
    /// Stores a single-use item that expires after `ttl_seconds`.
    async fn put(&self, key: &OnceKey, value: &str, ttl_seconds: u64) -> Result<(), PortError>;
    /// Atomically redeems an item: only one caller ever sees [`Taken::Fresh`]; later callers
    /// see [`Taken::Replayed`] for [`REPLAY_WINDOW`] seconds after the redemption.
    async fn take(&self, key: &OnceKey) -> Result<Taken, PortError>;
    /// Atomically claims `key` for `owner`. Returns `None` when this call made the claim,
    /// or `Some(existing_owner)` when the key was already claimed.
    async fn claim(&self, key: &OnceKey, owner: &str) -> Result<Option<String>, PortError>;
    /// Releases `key` if `owner` holds it (an unlinked identity, an abandoned account).
    async fn unclaim(&self, key: &OnceKey, owner: &str) -> Result<(), PortError>;

    /// In one atomic call: unless `marker` was used before (then nothing is written and the
    /// answer is `false`), records it, stores `item` and starts `family`. All keys must be in
    /// one object ([`OnceKey::same_object`]); otherwise it is an error and nothing is written.
    async fn once_then_store(
        &self,
        marker: Option<Marker<'_>>,
        item: Option<NewItem<'_>>,
        family: Option<NewFamily<'_>>,
    ) -> Result<bool, PortError>;

    /// Atomically checks `presented` against the family and, if current, replaces it by `next`.
    async fn family_rotate(&self, key: &OnceKey, presented: &str, next: &str) -> Result<Rotation, PortError> {
        self.family_rotate_within(key, presented, next, RotationGrace::STRICT).await
    }
    /// [`Once::family_rotate`], where presenting the secret rotated out last may be a
    /// [`Rotation::Repeated`] as `grace` allows.
    async fn family_rotate_within(
        &self,
        key: &OnceKey,
        presented: &str,
        next: &str,
        grace: RotationGrace,
    ) -> Result<Rotation, PortError>;
    /// Revokes a family; later rotations are refused.
    async fn family_revoke(&self, key: &OnceKey) -> Result<(), PortError>;
    async fn family_get(&self, key: &OnceKey) -> Result<Option<Family>, PortError>;

    /// The strongly consistent copy of a record that concurrent requests change (a user
    /// record; KV keeps the copy that is read on hot paths).
    async fn record_get(&self, key: &OnceKey) -> Result<Option<String>, PortError>;
    /// Writes `value` only if the record still is `expected` (`None`: no record yet), so a
    /// read-modify-write cannot overwrite a change made meanwhile. `false`: nothing written.
    async fn record_swap(&self, key: &OnceKey, expected: Option<&str>, value: &str) -> Result<bool, PortError>;
    /// Counts one use of `key` in a window of `window_seconds` that opens with its first use;
    /// `false` (and nothing counted) once `max` uses were counted in the current window. For
    /// limits such as verification mails per recipient.
    async fn count_use(&self, key: &OnceKey, max: u32, window_seconds: u64) -> Result<bool, PortError>;

    /// Marks `key` for `ttl_seconds` (an ended session, a revoked grant); marking it again
    /// restarts the time. Read with [`Once::marked`]: strongly consistent, so a mark made
    /// anywhere counts everywhere at once, unlike a KV entry.
    async fn mark(&self, key: &OnceKey, ttl_seconds: u64) -> Result<(), PortError>;
    /// Whether `key` is marked.
    async fn marked(&self, key: &OnceKey) -> Result<bool, PortError>;

    /// This store's clock, when a run of the storage conformance suite may move it forward
    /// ([`conformance::TimeTravel`]): only the Durable Object's adapter of a development build
    /// (`[dev] storage_conformance`) has one. Nothing else calls it.
    fn time_travel(&self) -> Option<&dyn conformance::TimeTravel> {
        None
    }
}

/// Outbound HTTP (Workers `fetch`). A request carrying a [`Timeout`] extension fails with a
/// [`PortError`] once that time has passed without an answer. A redirect is the answer, never
/// followed: what it points at gets nothing that was meant for the request's address.
#[async_trait(?Send)]
pub trait Http {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, PortError>;
}

/// How long one outbound request may take, in seconds (an extension of the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub u64);

/// Outbound HTTP with a [`Timeout`] on every request: each upstream IdP's `http_timeout`.
pub struct WithTimeout<'a> {
    pub http: &'a dyn Http,
    pub seconds: u64,
}

#[async_trait(?Send)]
impl Http for WithTimeout<'_> {
    async fn send(&self, mut request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, PortError> {
        request.extensions_mut().insert(Timeout(self.seconds));
        self.http.send(request).await
    }
}

/// The error of a request that ran out of time.
pub fn timed_out(seconds: u64) -> PortError {
    PortError(format!("no answer within {seconds} s"))
}

/// Wall-clock time in whole seconds since the Unix epoch.
pub trait Clock {
    fn now(&self) -> i64;
}

/// A cryptographically secure random source.
pub trait Rng {
    fn fill(&self, buf: &mut [u8]);
}

/// Work that must not delay the response: the Worker runs it after responding
/// (`ctx.waitUntil`), the test harness right after the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// OpenID Connect Back-Channel Logout 1.0 §2.5: POST `logout_token` to the client.
    BackchannelLogout { client_id: String, uri: String, logout_token: String },
    /// Keycloak's IdP "Backchannel logout": GET the IdP's end-session `url` (with
    /// `id_token_hint` and `state`) server to server, within `timeout` seconds a try.
    UpstreamLogout { alias: String, url: String, timeout: u64 },
}

/// The jobs a request queued.
#[derive(Debug, Default)]
pub struct Jobs(std::cell::RefCell<Vec<Job>>);

impl Jobs {
    pub fn push(&self, job: Job) {
        self.0.borrow_mut().push(job);
    }
    pub fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

/// Waiting, for retries in background jobs.
#[async_trait(?Send)]
pub trait Sleep {
    async fn sleep(&self, millis: u64);
}

/// The signature algorithms the platform computes for the core: RSASSA-PKCS1-v1_5 (`RS256`)
/// and ECDSA P-256 (`ES256`), both with SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlg {
    Rs256,
    Es256,
    /// Verification only (upstream ID tokens): RSASSA-PKCS1-v1_5 with SHA-384 and SHA-512.
    Rs384,
    Rs512,
    /// Verification only: RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt
    /// (RFC 7518 §3.5).
    Ps256,
    /// Verification only (upstream ID tokens): ECDSA on P-384 with SHA-384, `r ‖ s`.
    Es384,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl SignatureAlg {
    /// The JWS name.
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlg::Rs256 => "RS256",
            SignatureAlg::Es256 => "ES256",
            SignatureAlg::Rs384 => "RS384",
            SignatureAlg::Rs512 => "RS512",
            SignatureAlg::Ps256 => "PS256",
            SignatureAlg::Es384 => "ES384",
            SignatureAlg::EdDsa => "EdDSA",
        }
    }

    /// The RSA algorithm of this JWS name, if it is one keyedge accepts.
    pub fn rsa(name: &str) -> Option<Self> {
        [SignatureAlg::Rs256, SignatureAlg::Rs384, SignatureAlg::Rs512, SignatureAlg::Ps256]
            .into_iter()
            .find(|alg| alg.name() == name)
    }
}

/// Signatures and their checks by the platform (WebCrypto in the Worker, which carries no RSA
/// code without SAML, and no P-384 or Ed25519 code at all); the core assembles the tokens.
#[async_trait(?Send)]
pub trait PlatformCrypto {
    /// Signs `message` with the RSA key `kid`, given as PKCS#8 DER (import it once and cache).
    async fn sign_rs256(&self, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, PortError>;
    /// Signs `message` with the P-256 key `kid` (PKCS#8 DER); the signature is `r ‖ s`, 64
    /// bytes, as JWS wants it (RFC 7518 §3.4).
    async fn sign_es256(&self, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, PortError>;
    /// Signs `message` with the Ed25519 key `kid` (PKCS#8 DER): 64 bytes (RFC 8032).
    async fn sign_ed25519(&self, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, PortError>;
    /// The public key (32 bytes, RFC 8032) of the Ed25519 private key given as PKCS#8 DER.
    async fn ed25519_public(&self, pkcs8_der: &[u8]) -> Result<[u8; 32], PortError>;
    /// The public point (SEC1 uncompressed, 65 bytes) of the P-256 private key given as
    /// PKCS#8 DER.
    async fn p256_public(&self, pkcs8_der: &[u8]) -> Result<[u8; 65], PortError>;
    /// Checks a `signature` of `message` under `alg` (ECDSA signatures as `r ‖ s`) with the
    /// public key given as SPKI DER.
    async fn verify(
        &self,
        alg: SignatureAlg,
        spki_der: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, PortError>;
}

/// Everything a request handler may touch outside pure computation.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub store: &'a dyn Store,
    pub once: &'a dyn Once,
    pub http: &'a dyn Http,
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Rng,
    /// Where infrastructure failures are reported (the Worker's log). Never given secrets.
    pub log: &'a dyn Fn(&str),
    pub jobs: &'a Jobs,
    /// RS256 and ES256 signatures from the platform (WebCrypto); `None`: in-process.
    pub crypto: Option<&'a dyn PlatformCrypto>,
    /// The Worker's static assets (the gate's `upstream = "assets"`), when bound.
    pub site: Option<&'a dyn Http>,
    /// Rate limits (the Workers Rate Limiting bindings; an unbound one allows everything).
    pub limits: &'a dyn rate_limit::RateLimit,
}

impl<'a> Ports<'a> {
    /// The same ports with `http` for outbound requests (an upstream IdP's, with its timeout).
    pub fn with_http<'b>(&self, http: &'b dyn Http) -> Ports<'b>
    where
        'a: 'b,
    {
        Ports { http, ..*self }
    }

    /// `n` random bytes as unpadded base64url: used for codes, states, nonces, session ids.
    pub fn random_token(&self, n: usize) -> String {
        let mut buf = vec![0u8; n];
        self.rng.fill(&mut buf);
        crate::core::b64url(&buf)
    }

    /// A random (version 4) UUID, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx` (RFC 9562 §5.4).
    pub fn random_uuid(&self) -> String {
        let mut b = [0u8; 16];
        self.rng.fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }
}
