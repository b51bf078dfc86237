//! Command-line tools for operators (native only): `keyedge check`, `keyedge import-keycloak`.

pub mod check;
pub mod keycloak;
