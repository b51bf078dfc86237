//! `keycloak_claims = true` on a client: its tokens carry the claims an app written against a
//! Keycloak realm reads (Keycloak's default client scopes `roles`, `profile`, `email` and its
//! `typ`/`azp`/`session_state` claims), so the app's claim paths keep working:
//!
//! - `realm_access.roles`: the user's roles;
//! - `resource_access.{client}.roles`: roles named `{client}.{role}` (the way Keycloak writes
//!   a client role in its role mappers), under the client they belong to;
//! - `preferred_username` lower-cased (Keycloak stores usernames in lower case), and the
//!   `profile`/`email` claims the scope grants, in the access token too;
//! - `typ` (`Bearer` in the access token, `ID` in the ID token), `azp`, `session_state` (the
//!   session id, as `sid`).

use serde_json::{json, Map, Value};

use crate::core::account::users::User;
use crate::core::config::{Client, Config};

/// Realm roles and client roles (`{client}.{role}` with a configured client), apart.
fn split_roles(config: &Config, roles: &[String]) -> (Vec<String>, Map<String, Value>) {
    let mut realm = Vec::new();
    let mut clients: Map<String, Value> = Map::new();
    for role in roles {
        // The longest client id that prefixes the role: with clients `app` and `app.admin`,
        // `app.admin.x` is `app.admin`'s role `x`.
        let owner = config
            .clients
            .iter()
            .filter_map(|c| {
                role.strip_prefix(c.client_id.as_str()).and_then(|r| r.strip_prefix('.')).map(|r| (&c.client_id, r))
            })
            .max_by_key(|(client_id, _)| client_id.len());
        match owner {
            Some((client_id, role)) => {
                let entry = clients.entry(client_id.clone()).or_insert_with(|| json!({ "roles": [] }));
                if let Some(list) = entry["roles"].as_array_mut() {
                    list.push(role.into());
                }
            }
            None => realm.push(role.clone()),
        }
    }
    (realm, clients)
}

/// Keycloak lower-cases usernames.
fn lower_username(claims: &mut Map<String, Value>) {
    if let Some(Value::String(name)) = claims.get_mut("preferred_username") {
        *name = name.to_lowercase();
    }
}

/// What the access token of `client` adds for `user` with `scope`.
pub fn access_token_claims(
    config: &Config,
    client: &Client,
    user: &User,
    scope: &str,
    sid: &str,
) -> Map<String, Value> {
    let mut claims = user.claims_for(client, scope, &[]);
    lower_username(&mut claims);
    let (realm, resource_access) = split_roles(config, &user.roles);
    claims.insert("typ".into(), "Bearer".into());
    claims.insert("azp".into(), client.client_id.clone().into());
    claims.insert("session_state".into(), sid.into());
    claims.insert("realm_access".into(), json!({ "roles": realm }));
    if !resource_access.is_empty() {
        claims.insert("resource_access".into(), Value::Object(resource_access));
    }
    claims
}

/// What changes in the ID token of such a client: `typ`, `session_state`, the username's case.
pub fn shape_id_token(claims: &mut Map<String, Value>, sid: &str) {
    lower_username(claims);
    claims.insert("typ".into(), "ID".into());
    claims.insert("session_state".into(), sid.into());
}
