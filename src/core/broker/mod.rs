//! The broker: login page, upstream redirects and callbacks, users, sessions, the account page.

pub mod account;
pub mod callback;
pub mod first_login;
pub mod form_post;
pub mod login;
pub mod logout;
#[cfg(keyedge_saml)]
pub mod saml;
pub mod step_up;
pub mod stored_tokens;
pub mod upstream_session;

// The domain modules, where the broker's handlers have always found them.
pub use crate::core::account::{mappers, session, users};
