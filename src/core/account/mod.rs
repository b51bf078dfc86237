//! The domain: users and their linked identities, the mappers that shape a user from an
//! upstream login, and sessions. Used by the broker and the OpenID Provider; imports neither.

pub mod mappers;
pub mod session;
pub mod users;
