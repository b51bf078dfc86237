//! keyedge users and their linked upstream identities, found by `(alias, upstream sub)` —
//! never by email.

use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use crate::core::claims::{scope_of, StandardClaims, SCOPE_CLAIMS};
use crate::core::config::{IdentityProvider, ProviderKind, SyncMode};
use crate::core::keys;
use crate::core::ports::{OnceKey, PortError, Ports};
use crate::core::upstream::BrokeredIdentity;

/// The role that lets a user's applications read stored upstream tokens (Keycloak's
/// `broker.read-token`).
pub const READ_TOKEN_ROLE: &str = "broker.read-token";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedIdentity {
    pub alias: String,
    pub sub: String,
    pub username: String,
    pub linked_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    #[serde(flatten)]
    pub profile: StandardClaims,
    pub created_at: i64,
    pub links: Vec<LinkedIdentity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Groups set by mappers (`hardcoded_group`, `advanced_claim_to_group`), by name or path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Attributes set by mappers (Keycloak's user attributes).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, serde_json::Value>,
}

impl User {
    /// Whether the identity `sub` at IdP `alias` is linked to this account.
    pub fn has_link(&self, alias: &str, sub: &str) -> bool {
        self.links.iter().any(|l| l.alias == alias && l.sub == sub)
    }

    /// Every standard claim keyedge knows about the user, by claim name: the profile, with
    /// the account's username as `preferred_username` and a display name always.
    fn standard_claims(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = self.profile.to_map();
        m.insert("name".into(), self.display_name().into());
        m.insert("preferred_username".into(), self.username.clone().into());
        m
    }

    /// The claims released to `client` for `scope` plus those individually `requested` through
    /// the `claims` parameter (OIDC Core §5.5); only claims the user has are returned. Either
    /// way a claim comes only if its scope (OIDC Core §5.4) is one of the client's
    /// `allowed_scopes`: asking for `email` by name does not get round a client limited to
    /// `openid profile`.
    pub fn claims_for(
        &self,
        client: &crate::core::config::Client,
        scope: &str,
        requested: &[String],
    ) -> serde_json::Map<String, serde_json::Value> {
        let client_may = |s: &str| client.allowed_scopes.iter().any(|a| a == s);
        let scopes: Vec<&str> = crate::core::vocab::Scopes::parse(scope).iter().filter(|s| client_may(s)).collect();
        let by_scope =
            SCOPE_CLAIMS.iter().filter(|(s, _)| scopes.contains(s)).flat_map(|(_, names)| names.iter().copied());
        let by_name = requested.iter().map(String::as_str).filter(|name| scope_of(name).is_some_and(client_may));
        let allowed: Vec<&str> = by_scope.chain(by_name).collect();
        self.standard_claims().into_iter().filter(|(k, _)| allowed.contains(&k.as_str())).collect()
    }

    /// `roles`, `groups` and the attributes `client` asks for (`user_attributes`), as token
    /// claims.
    pub fn broker_claims(&self, client: &crate::core::config::Client) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        if !self.roles.is_empty() {
            m.insert("roles".into(), serde_json::json!(self.roles));
        }
        if !self.groups.is_empty() {
            m.insert("groups".into(), serde_json::json!(self.groups));
        }
        for name in &client.user_attributes {
            if let Some(v) = self.attributes.get(name) {
                m.insert(name.clone(), v.clone());
            }
        }
        m
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Takes the profile attributes from `identity` (sync mode `force`); `true` if any changed.
    /// `name_once`: the provider names the user on the first authorization only (Apple), so a
    /// login that names no one keeps the name the account has.
    fn sync_profile(&mut self, identity: &BrokeredIdentity, name_once: bool) -> bool {
        let before = self.clone();
        let p = &identity.profile;
        let unnamed = name_once && p.name.is_none() && p.given_name.is_none() && p.family_name.is_none();
        let name = (self.profile.name.take(), self.profile.given_name.take(), self.profile.family_name.take());
        self.profile = identity.profile.clone();
        if unnamed {
            (self.profile.name, self.profile.given_name, self.profile.family_name) = name;
        }
        if let Some(link) = self.links.iter_mut().find(|l| l.alias == identity.alias && l.sub == identity.sub) {
            link.username = identity.username.clone();
        }
        *self != before
    }

    pub fn display_name(&self) -> String {
        if let Some(n) = &self.profile.name {
            return n.clone();
        }
        match (&self.profile.given_name, &self.profile.family_name) {
            (Some(g), Some(f)) => format!("{g} {f}"),
            (Some(g), None) => g.clone(),
            (None, Some(f)) => f.clone(),
            (None, None) => self.username.clone(),
        }
    }
}

/// The user as the Durable Object holds it (strongly consistent: changes made anywhere are
/// seen at once), or KV's copy for an account written before the object held records.
pub async fn load_current(ports: &Ports<'_>, user_id: &str) -> Result<Option<User>, PortError> {
    match ports.once.record_get(&keys::user_record(user_id)).await? {
        // An abandoned creation ([`abandon`]): no account.
        Some(json) if json.is_empty() => Ok(None),
        Some(json) => parse(&json, user_id).map(Some),
        None => load(ports, user_id).await,
    }
}

fn parse(json: &str, user_id: &str) -> Result<User, PortError> {
    serde_json::from_str(json).map_err(|e| PortError(format!("corrupt user record {user_id}: {e}")))
}

pub async fn load(ports: &Ports<'_>, user_id: &str) -> Result<Option<User>, PortError> {
    match ports.store.get(&keys::user(user_id)).await? {
        Some(json) => parse(&json, user_id).map(Some),
        None => Ok(None),
    }
}

/// Writes `user` whole, whatever its record held (a new account, an imported one): the
/// Durable Object's copy first, then KV's. Changes to an existing user go through [`update`].
pub async fn put(ports: &Ports<'_>, user: &User) -> Result<(), PortError> {
    let json = serde_json::to_string(user).map_err(|e| PortError(e.to_string()))?;
    let record = keys::user_record(&user.id);
    for _ in 0..UPDATE_ATTEMPTS {
        let held = ports.once.record_get(&record).await?;
        if ports.once.record_swap(&record, held.as_deref(), &json).await? {
            return ports.store.put(&keys::user(&user.id), &json, None).await;
        }
    }
    Err(PortError(format!("user {} changed by too many requests at once", user.id)))
}

/// The user linked to `identity`, if any, with the profile and mappers synchronised per the
/// IdP's sync mode (one KV write, only when something changed).
pub async fn find_linked(
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    identity: &BrokeredIdentity,
) -> Result<Option<User>, PortError> {
    let Some(user_id) = ports.store.get(&keys::link(&identity.alias, &identity.sub)).await? else {
        return Ok(None);
    };
    // KV's link may be up to a minute old at this location; the account's current record
    // says whether the identity is still linked (an unlink anywhere counts at once).
    let Some(mut user) = load_current(ports, &user_id).await? else {
        return Ok(None);
    };
    if !user.has_link(&identity.alias, &identity.sub) {
        return Ok(None);
    }
    let sync = |user: &mut User| {
        let name_once = matches!(&idp.kind, ProviderKind::Oidc(cfg) if cfg.name_in_user_field);
        let changed = idp.sync_mode == SyncMode::Force && user.sync_profile(identity, name_once);
        changed | super::mappers::apply(user, idp, &identity.claims, false)
    };
    // Written only when something changed.
    if sync(&mut user) {
        if let Some((fresh, _)) = update(ports, &user_id, |u| Ok::<_, Infallible>(sync(u))).await? {
            user = fresh;
        }
    }
    Ok(Some(user))
}

/// The profile a new account is created with (from the IdP, perhaps reviewed by the user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// What is unique to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unique {
    Username,
    Email,
}

#[derive(Debug)]
pub enum Creation {
    Created(User),
    /// Another account has this username or email.
    Taken {
        field: Unique,
        owner: String,
    },
    /// The identity was linked meanwhile (a simultaneous first login): its user.
    AlreadyLinked(User),
}

/// The account that already has `draft`'s username, or `draft`'s email verified, if any.
pub async fn find_existing(ports: &Ports<'_>, draft: &Draft) -> Result<Option<(Unique, String)>, PortError> {
    if let Some(email) = &draft.email {
        if let Some(owner) = verified_owner(ports, email).await? {
            return Ok(Some((Unique::Email, owner)));
        }
    }
    Ok(ports.store.get(&keys::username(&draft.username)).await?.map(|owner| (Unique::Username, owner)))
}

/// Whether account `owner` has `email` as its verified address: only such an account may
/// hold the `email:` claim. An account whose address is unverified, changed since, or that
/// no longer exists holds it in vain.
async fn holds_verified(ports: &Ports<'_>, owner: &str, email: &str) -> Result<bool, PortError> {
    let wanted = keys::fold_email(email);
    Ok(load_current(ports, owner)
        .await?
        .is_some_and(|u| u.profile.email_verified && u.profile.email.is_some_and(|e| keys::fold_email(&e) == wanted)))
}

/// The account the `email:` index names for `email`, if it holds that address verified.
pub async fn verified_owner(ports: &Ports<'_>, email: &str) -> Result<Option<String>, PortError> {
    match ports.store.get(&keys::email(email)).await? {
        Some(owner) if holds_verified(ports, &owner, email).await? => Ok(Some(owner)),
        _ => Ok(None),
    }
}

/// Claims `key` for `id`, like [`Once::claim`](crate::core::ports::Once::claim): `None` when
/// this call made the claim, else the holder — unless `stands(holder)` says the holder's
/// account no longer has what the claim stands for: that claim is stale, taken back, and the
/// claim made again (three tries at most).
async fn claim_unless_stale<F>(
    ports: &Ports<'_>,
    key: &OnceKey,
    id: &str,
    stands: impl Fn(String) -> F,
) -> Result<Option<String>, PortError>
where
    F: std::future::Future<Output = Result<bool, PortError>>,
{
    let mut attempts = 0;
    loop {
        let holder = match ports.once.claim(key, id).await? {
            None => return Ok(None),
            Some(holder) => holder,
        };
        attempts += 1;
        if holder == id || attempts > 2 || stands(holder.clone()).await? {
            return Ok(Some(holder));
        }
        ports.once.unclaim(key, &holder).await?;
    }
}

/// Claims `email` for `user_id`, whose address it is, verified (callers never claim an
/// unverified one). A holder that does not have the address verified (claimed by an earlier
/// version, or since changed) loses the claim to the verified owner.
pub async fn claim_email(ports: &Ports<'_>, email: &str, user_id: &str) -> Result<Option<String>, PortError> {
    let stands = |holder: String| async move { holds_verified(ports, &holder, email).await };
    claim_unless_stale(ports, &keys::email_claim(email), user_id, stands).await
}

/// Claims `identity` for account `id`; the account holding it otherwise. A claim held by an
/// account whose current record does not list the identity is stale — an unlink that failed
/// before taking its claim back, a link that failed after making it — and is taken back: the
/// record decides what is linked, and a stale claim left would sign the identity in to an
/// account that no longer (or never) had it.
async fn claim_link(ports: &Ports<'_>, identity: &BrokeredIdentity, id: &str) -> Result<Option<String>, PortError> {
    // An account without a record in the Durable Object (written before it held records) is
    // judged by nothing: KV's copy may be a minute old, so its claim stands.
    let stands = |holder: String| async move {
        Ok(match ports.once.record_get(&keys::user_record(&holder)).await? {
            None => true,
            Some(json) if json.is_empty() => false,
            Some(json) => parse(&json, &holder)?.has_link(&identity.alias, &identity.sub),
        })
    };
    claim_unless_stale(ports, &keys::link_claim(&identity.alias, &identity.sub), id, stands).await
}

/// Creates the account for `identity` with `draft`, unless its username or email is taken.
///
/// Uniqueness is enforced by atomic Durable Object claims (username, email, then the identity),
/// so two simultaneous first logins with one email cannot both create an account. The user
/// record is written first, so every claim names a user that exists; an attempt that loses a
/// claim releases the ones it made and deletes its record. The KV link and indexes follow the
/// claims; a missing link heals itself (the identity's claim names its owner).
pub async fn create(
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    identity: &BrokeredIdentity,
    draft: &Draft,
) -> Result<Creation, PortError> {
    // An address the IdP did not verify is never claimed nor indexed; it still may not pose
    // as the address of an account that has it verified.
    if let (Some(email), false) = (&draft.email, draft.email_verified) {
        if let Some(owner) = verified_owner(ports, email).await? {
            return Ok(Creation::Taken { field: Unique::Email, owner });
        }
    }
    let now = ports.clock.now();
    let mut user = User {
        id: ports.random_token(16),
        username: draft.username.clone(),
        profile: StandardClaims {
            email: draft.email.clone(),
            email_verified: draft.email.is_some() && draft.email_verified,
            given_name: draft.given_name.clone(),
            family_name: draft.family_name.clone(),
            // The IdP's full name only while the user kept its given and family names.
            name: identity.profile.name.clone().filter(|_| {
                draft.given_name == identity.profile.given_name && draft.family_name == identity.profile.family_name
            }),
            ..identity.profile.clone()
        },
        created_at: now,
        links: vec![LinkedIdentity {
            alias: identity.alias.clone(),
            sub: identity.sub.clone(),
            username: identity.username.clone(),
            linked_at: now,
        }],
        roles: if idp.stored_tokens_readable { vec![READ_TOKEN_ROLE.to_owned()] } else { Vec::new() },
        groups: Vec::new(),
        attributes: Default::default(),
    };
    super::mappers::apply(&mut user, idp, &identity.claims, true);
    let json = serde_json::to_string(&user).map_err(|e| PortError(e.to_string()))?;
    let id = user.id.clone();
    let record = keys::user_record(&id);
    // The account exists once its record is in the Durable Object: every claim below names
    // an account that does, and nothing is written to KV before all of them are made, so a
    // failure or a lost claim leaves no KV record to take back (KV takes one write per
    // second to a key).
    ports.once.record_swap(&record, None, &json).await?;
    let mut held: Vec<OnceKey> = Vec::new();
    match claim_all(ports, identity, draft, &id, &mut held).await {
        Ok(None) => {}
        Ok(Some((field, owner))) => {
            abandon(ports, &record, &json, &held, &id).await?;
            return match field {
                Some(field) => Ok(Creation::Taken { field, owner }),
                None => Ok(Creation::AlreadyLinked(heal(ports, identity, &owner).await?)),
            };
        }
        Err(e) => {
            // Best effort: what this attempt claimed is released, so that trying again works.
            let _ = abandon(ports, &record, &json, &held, &id).await;
            return Err(e);
        }
    }
    // The account is whole in the Durable Object; KV's copy of the user follows, then its
    // indexes, together. The user first: were the indexes sent with it, one could land while
    // the user's failed, and a later sign-in, finding the link, would issue tokens for a user
    // `/token` and `/userinfo` cannot read. Should a write fail, signing in again finds the
    // identity's claim and writes what is missing ([`heal`]).
    let verified_email = draft.email.as_deref().filter(|_| draft.email_verified);
    let link = keys::link(&identity.alias, &identity.sub);
    let username = keys::username(&draft.username);
    let email = verified_email.map(keys::email);
    let user_key = keys::user(&id);
    ports.store.put(&user_key, &json, None).await?;
    let mut writes = vec![ports.store.put(&link, &id, None), ports.store.put(&username, &id, None)];
    if let Some(key) = &email {
        writes.push(ports.store.put(key, &id, None));
    }
    futures_util::future::try_join_all(writes).await?;
    Ok(Creation::Created(user))
}

/// Claims the identity, the verified email and the username for account `id`, in that order
/// (an identity linked already is no new account; when email and username both collide, the
/// shared email is what the user recognises). `held` gets each claim made. The first claim
/// another account holds: `(field, owner)` (`None` for the identity).
async fn claim_all(
    ports: &Ports<'_>,
    identity: &BrokeredIdentity,
    draft: &Draft,
    id: &str,
    held: &mut Vec<OnceKey>,
) -> Result<Option<(Option<Unique>, String)>, PortError> {
    let verified_email = draft.email.as_deref().filter(|_| draft.email_verified);
    let wanted = [
        Some((keys::link_claim(&identity.alias, &identity.sub), None)),
        verified_email.map(|e| (keys::email_claim(e), Some(Unique::Email))),
        Some((keys::username_claim(&draft.username), Some(Unique::Username))),
    ];
    for (key, field) in wanted.into_iter().flatten() {
        let taken = match (field, verified_email) {
            (Some(Unique::Email), Some(email)) => claim_email(ports, email, id).await,
            (None, _) => claim_link(ports, identity, id).await,
            _ => ports.once.claim(&key, id).await,
        };
        // A claim whose answer was lost may have been made all the same: it is taken back
        // with the others (`unclaim` releases only what `id` holds). Left, it would name an
        // account never completed, and the identity could never sign in again.
        let taken = taken.inspect_err(|_| held.push(key.clone()))?;
        match taken {
            None => held.push(key),
            Some(owner) => return Ok(Some((field, owner))),
        }
    }
    Ok(None)
}

/// Takes back an account that was never completed: its claims, and its record (emptied: a
/// record that is empty is no account).
async fn abandon(ports: &Ports<'_>, record: &OnceKey, json: &str, held: &[OnceKey], id: &str) -> Result<(), PortError> {
    for key in held {
        ports.once.unclaim(key, id).await?;
    }
    ports.once.record_swap(record, Some(json), "").await?;
    Ok(())
}

/// The account `owner` that `identity` is linked to, with KV's copy of it and of the link
/// written again (a first login that failed after its claims left them unwritten).
async fn heal(ports: &Ports<'_>, identity: &BrokeredIdentity, owner: &str) -> Result<User, PortError> {
    let user = load_current(ports, owner)
        .await?
        .ok_or_else(|| PortError(format!("identity is claimed by missing user {owner}")))?;
    // Only an account that lists the identity is signed in to ([`claim_link`]).
    if !user.has_link(&identity.alias, &identity.sub) {
        return Err(PortError(format!("identity is claimed by user {owner}, whose record does not list it")));
    }
    let (user_key, link) = (keys::user(owner), keys::link(&identity.alias, &identity.sub));
    // Only what is missing: the first login that made the account may be writing them now.
    let (held_user, held_link) =
        futures_util::future::try_join(ports.store.get(&user_key), ports.store.get(&link)).await?;
    if held_user.is_none() {
        let json = serde_json::to_string(&user).map_err(|e| PortError(e.to_string()))?;
        ports.store.put(&user_key, &json, None).await?;
    }
    if held_link.as_deref() != Some(owner) {
        ports.store.put(&link, owner, None).await?;
    }
    Ok(user)
}

/// Why an identity could not be linked to a signed-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// The identity already belongs to another keyedge user; it is never moved.
    LinkedElsewhere,
    Port(PortError),
}

impl From<PortError> for LinkError {
    fn from(e: PortError) -> Self {
        LinkError::Port(e)
    }
}

/// Links `identity` to `user` (account-page linking, a first login joining an existing
/// account). As a new account's, the record lists the identity before it is claimed: no claim
/// is made for an account whose record does not list it, so a first login of the identity at
/// this moment never takes a link in progress for a stale claim ([`claim_link`]). A claim
/// another account holds, or a failure on the way, takes the identity off the record again.
/// The IdP's roles and mappers apply once the identity is the account's, and KV's copy of the
/// user is written once, at the end.
pub async fn link(
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    user: User,
    identity: &BrokeredIdentity,
) -> Result<User, LinkError> {
    let (alias, sub) = (identity.alias.as_str(), identity.sub.as_str());
    let gone = || LinkError::Port(PortError(format!("user {} no longer exists", user.id)));
    let now = ports.clock.now();
    let listed = async {
        let listed = changed(ports, &user.id, KvCopy::Skip, |user| {
            if !user.has_link(alias, sub) {
                let username = identity.username.clone();
                let link = LinkedIdentity { alias: alias.to_owned(), sub: sub.to_owned(), username, linked_at: now };
                user.links.push(link);
            }
            Ok::<_, Infallible>(())
        });
        listed.await.map_err(PortError::from)?.ok_or_else(gone)?;
        match claim_link(ports, identity, &user.id).await? {
            Some(owner) if owner != user.id => Err(LinkError::LinkedElsewhere),
            _ => Ok(()),
        }
    };
    if let Err(e) = listed.await {
        // KV's copy follows (a change of the user's meanwhile may have written the listing).
        let off = changed(ports, &user.id, KvCopy::IfChanged, |user| {
            user.links.retain(|l| !(l.alias == alias && l.sub == sub));
            Ok::<_, Infallible>(())
        });
        // At best after a storage failure: a claim left is stale, and taken back by the next.
        let off = off.await.map_err(PortError::from);
        if e == LinkError::LinkedElsewhere {
            off?;
        }
        return Err(e);
    }
    ports.store.put(&keys::link(alias, sub), &user.id, None).await?;
    let added = changed(ports, &user.id, KvCopy::Always, |user| {
        if idp.stored_tokens_readable && !user.has_role(READ_TOKEN_ROLE) {
            user.roles.push(READ_TOKEN_ROLE.to_owned());
        }
        super::mappers::apply(user, idp, &identity.claims, true);
        Ok::<_, Infallible>(())
    })
    .await
    .map_err(PortError::from)?;
    added.map(|(user, ())| user).ok_or_else(gone)
}

/// Why [`update`] changed nothing.
#[derive(Debug)]
pub enum UpdateError<E> {
    /// The change refused the record as it found it.
    Refused(E),
    Port(PortError),
}

impl<E> From<PortError> for UpdateError<E> {
    fn from(e: PortError) -> Self {
        UpdateError::Port(e)
    }
}

impl From<UpdateError<Infallible>> for PortError {
    fn from(e: UpdateError<Infallible>) -> Self {
        match e {
            UpdateError::Port(e) => e,
            UpdateError::Refused(never) => match never {},
        }
    }
}

/// How often [`update`] tries again when other requests changed the record meanwhile.
const UPDATE_ATTEMPTS: usize = 16;

/// Changes user `id` with `change` without losing what other requests change at the same
/// time (two unlinks, a link and a profile sync): `change` runs on the freshest record, which
/// is compare-and-swapped in the Durable Object (tried again on a conflict), and only then
/// written to KV, where logins read it. `change` may refuse (nothing is written) and sees
/// the record it decides on, so a check such as "not the last identity" cannot be raced.
/// `Ok(None)`: there is no such user.
pub async fn update<T, E>(
    ports: &Ports<'_>,
    id: &str,
    change: impl FnMut(&mut User) -> Result<T, E>,
) -> Result<Option<(User, T)>, UpdateError<E>> {
    changed(ports, id, KvCopy::IfChanged, change).await
}

/// When [`changed`] writes KV's copy of the user: KV takes one write per second to a key, so a
/// request that changes a user in steps writes it once, after the last.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KvCopy {
    /// Not at all: a step of a change whose last step writes it.
    Skip,
    /// When the record changed.
    IfChanged,
    /// Even when this step changed nothing (the last step of a change in steps).
    Always,
}

/// [`update`], writing KV's copy as `kv` says.
async fn changed<T, E>(
    ports: &Ports<'_>,
    id: &str,
    kv: KvCopy,
    mut change: impl FnMut(&mut User) -> Result<T, E>,
) -> Result<Option<(User, T)>, UpdateError<E>> {
    // The change's outcome is kept aside, so that the record's round trips are one function
    // whatever the change (the Worker carries it once, not once per caller).
    let mut out = None;
    let user = {
        let mut step = |user: &mut User| {
            let result = change(user);
            let go_on = result.is_ok();
            out = Some(result);
            go_on
        };
        change_record(ports, id, kv, &mut step).await?
    };
    match (user, out) {
        (None, _) => Ok(None),
        (Some(_), Some(Err(refused))) => Err(UpdateError::Refused(refused)),
        (Some(user), Some(Ok(out))) => Ok(Some((user, out))),
        (Some(_), None) => Err(UpdateError::Port(PortError(format!("user {id}: the change was not made")))),
    }
}

/// The round trips of [`changed`]: `change` runs on the freshest record (again after a
/// conflict); `false` from it refuses the record as it is, and nothing is written. The user
/// as changed (or as refused); `None` when there is no such user.
async fn change_record(
    ports: &Ports<'_>,
    id: &str,
    kv: KvCopy,
    change: &mut dyn FnMut(&mut User) -> bool,
) -> Result<Option<User>, PortError> {
    let record = keys::user_record(id);
    for _ in 0..UPDATE_ATTEMPTS {
        let held = ports.once.record_get(&record).await?;
        // Accounts written before the Durable Object held records start from KV's copy.
        let base = match &held {
            Some(json) => json.clone(),
            None => match ports.store.get(&keys::user(id)).await? {
                Some(json) => json,
                None => return Ok(None),
            },
        };
        let mut user = parse(&base, id)?;
        if !change(&mut user) {
            return Ok(Some(user));
        }
        let json = serde_json::to_string(&user).map_err(|e| PortError(e.to_string()))?;
        let unchanged = json == base && held.is_some();
        if unchanged && kv != KvCopy::Always {
            return Ok(Some(user));
        }
        if !unchanged && !ports.once.record_swap(&record, held.as_deref(), &json).await? {
            continue;
        }
        if kv == KvCopy::Skip {
            return Ok(Some(user));
        }
        // KV's copy gets the newest record (a concurrent change may have followed ours), in one
        // write. Should KV refuse it (one write per second to a key, when changes come
        // together), the change stands in the Durable Object, whose record decides sign-ins,
        // and KV's copy catches up with the next change.
        // Read again at best: the change stands, and KV's copy is written either way.
        let latest = ports.once.record_get(&record).await.ok().flatten().unwrap_or(json);
        if let Err(e) = ports.store.put(&keys::user(id), &latest, None).await {
            (ports.log)(&format!("user {id}: KV's copy not updated: {e}"));
        }
        return Ok(Some(user));
    }
    Err(PortError(format!("user {id} changed by too many requests at once")))
}
