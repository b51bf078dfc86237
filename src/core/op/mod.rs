//! keyedge as an OpenID Provider.

pub mod authorize;
pub mod code;
pub mod discovery;
pub mod introspect;
pub mod keycloak_claims;
pub mod refresh;
pub mod token;
pub mod userinfo;
