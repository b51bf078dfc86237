//! keyedge users and their linked upstream identities, found by `(alias, upstream sub)` —
//! never by email.

use serde::{Deserialize, Serialize};

use crate::core::config::{IdentityProvider, SyncMode};
use crate::core::keys;
use crate::core::ports::{PortError, Ports};
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
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<serde_json::Value>,
    pub created_at: i64,
    pub links: Vec<LinkedIdentity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// Standard claims by scope (OIDC Core §5.4).
const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    ("profile", &["name", "given_name", "family_name", "preferred_username", "picture", "locale"]),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

impl User {
    /// Every standard claim keyedge knows about the user, by claim name.
    fn standard_claims(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        let text = |v: &Option<String>| v.clone().map(Value::String);
        put("name", Some(Value::String(self.display_name())));
        put("given_name", text(&self.given_name));
        put("family_name", text(&self.family_name));
        put("preferred_username", Some(Value::String(self.username.clone())));
        put("picture", text(&self.picture));
        put("locale", text(&self.locale));
        put("email", text(&self.email));
        put("email_verified", self.email.as_ref().map(|_| Value::Bool(self.email_verified)));
        put("address", self.address.clone());
        put("phone_number", text(&self.phone_number));
        put("phone_number_verified", self.phone_number.as_ref().map(|_| Value::Bool(self.phone_number_verified)));
        m
    }

    /// The claims released for `scope` plus those individually `requested` through the
    /// `claims` parameter (OIDC Core §5.5); only claims the user has are returned.
    pub fn claims_for(&self, scope: &str, requested: &[String]) -> serde_json::Map<String, serde_json::Value> {
        let scopes: Vec<&str> = scope.split(' ').collect();
        let by_scope =
            SCOPE_CLAIMS.iter().filter(|(s, _)| scopes.contains(s)).flat_map(|(_, names)| names.iter().copied());
        let allowed: Vec<&str> = by_scope.chain(requested.iter().map(String::as_str)).collect();
        self.standard_claims().into_iter().filter(|(k, _)| allowed.contains(&k.as_str())).collect()
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Takes the profile attributes from `identity` (sync mode `force`); `true` if any changed.
    fn sync_profile(&mut self, identity: &BrokeredIdentity) -> bool {
        let before = self.clone();
        self.email = identity.email.clone();
        self.email_verified = identity.email_verified;
        self.given_name = identity.given_name.clone();
        self.family_name = identity.family_name.clone();
        self.name = identity.name.clone();
        self.picture = identity.picture.clone();
        self.locale = identity.locale.clone();
        self.phone_number = identity.phone_number.clone();
        self.phone_number_verified = identity.phone_number_verified;
        self.address = identity.address.clone();
        if let Some(link) = self.links.iter_mut().find(|l| l.alias == identity.alias && l.sub == identity.sub) {
            link.username = identity.username.clone();
        }
        *self != before
    }

    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match (&self.given_name, &self.family_name) {
            (Some(g), Some(f)) => format!("{g} {f}"),
            (Some(g), None) => g.clone(),
            (None, Some(f)) => f.clone(),
            (None, None) => self.username.clone(),
        }
    }
}

pub async fn load(ports: &Ports<'_>, user_id: &str) -> Result<Option<User>, PortError> {
    match ports.store.get(&keys::user(user_id)).await? {
        Some(json) => {
            serde_json::from_str(&json).map(Some).map_err(|e| PortError(format!("corrupt user record {user_id}: {e}")))
        }
        None => Ok(None),
    }
}

pub async fn save(ports: &Ports<'_>, user: &User) -> Result<(), PortError> {
    let json = serde_json::to_string(user).map_err(|e| PortError(e.to_string()))?;
    ports.store.put(&keys::user(&user.id), &json, None).await
}

/// Finds the user linked to `identity`, creating one on the first login through it.
///
/// Order of writes, so that a failure never leaves a half-made account: the user record is
/// written first, then the identity is claimed atomically in the Durable Object (the loser
/// of a race deletes its user record and uses the winner's), then the KV link is written.
/// A missing KV link heals itself: the claim returns the existing owner.
///
/// On later logins the profile is updated from the IdP when its `sync_mode` is `force`
/// (one KV write, only when something changed).
pub async fn find_or_create(
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    identity: &BrokeredIdentity,
) -> Result<User, PortError> {
    let link_key = keys::link(&identity.alias, &identity.sub);
    if let Some(user_id) = ports.store.get(&link_key).await? {
        if let Some(mut user) = load(ports, &user_id).await? {
            if idp.sync_mode == SyncMode::Force && user.sync_profile(identity) {
                save(ports, &user).await?;
            }
            return Ok(user);
        }
    }
    let now = ports.clock.now();
    let user = User {
        id: ports.random_token(16),
        username: identity.username.clone(),
        email: identity.email.clone(),
        email_verified: identity.email_verified,
        given_name: identity.given_name.clone(),
        family_name: identity.family_name.clone(),
        name: identity.name.clone(),
        picture: identity.picture.clone(),
        locale: identity.locale.clone(),
        phone_number: identity.phone_number.clone(),
        phone_number_verified: identity.phone_number_verified,
        address: identity.address.clone(),
        created_at: now,
        links: vec![LinkedIdentity {
            alias: identity.alias.clone(),
            sub: identity.sub.clone(),
            username: identity.username.clone(),
            linked_at: now,
        }],
        roles: if idp.stored_tokens_readable { vec![READ_TOKEN_ROLE.to_owned()] } else { Vec::new() },
    };
    save(ports, &user).await?;
    match ports.once.claim(&keys::link_claim(&identity.alias, &identity.sub), &user.id).await {
        Ok(None) => {
            ports.store.put(&link_key, &user.id, None).await?;
            Ok(user)
        }
        Ok(Some(owner)) => {
            ports.store.delete(&keys::user(&user.id)).await?;
            ports.store.put(&link_key, &owner, None).await?;
            load(ports, &owner).await?.ok_or_else(|| PortError(format!("identity is claimed by missing user {owner}")))
        }
        Err(e) => {
            // Best effort: the record is unreachable without a link anyway.
            let _ = ports.store.delete(&keys::user(&user.id)).await;
            Err(e)
        }
    }
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

/// Links `identity` to `user` (account-page linking). The identity is claimed atomically in
/// the Durable Object first, so it cannot end up on two accounts; then the KV link and the
/// user record are written. Linking an identity the user already has changes nothing.
pub async fn link(
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    mut user: User,
    identity: &BrokeredIdentity,
) -> Result<User, LinkError> {
    if user.links.iter().any(|l| l.alias == identity.alias && l.sub == identity.sub) {
        return Ok(user);
    }
    if let Some(owner) = ports.once.claim(&keys::link_claim(&identity.alias, &identity.sub), &user.id).await? {
        if owner != user.id {
            return Err(LinkError::LinkedElsewhere);
        }
    }
    ports.store.put(&keys::link(&identity.alias, &identity.sub), &user.id, None).await?;
    user.links.push(LinkedIdentity {
        alias: identity.alias.clone(),
        sub: identity.sub.clone(),
        username: identity.username.clone(),
        linked_at: ports.clock.now(),
    });
    if idp.stored_tokens_readable && !user.has_role(READ_TOKEN_ROLE) {
        user.roles.push(READ_TOKEN_ROLE.to_owned());
    }
    save(ports, &user).await?;
    Ok(user)
}
