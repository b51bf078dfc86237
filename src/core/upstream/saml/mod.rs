//! SAML 2.0 identity providers (`kind = "saml"`): keyedge as a Service Provider. Hardened XML
//! intake, exclusive canonicalisation and the SAML profile of XML-Signature, in pure Rust for
//! wasm; the IdP's metadata; the messages keyedge writes; the checks of the IdP's response;
//! and the login built from them.

pub mod c14n;
pub mod config;
pub mod dsig;
pub mod enc;
pub mod flow;
pub mod logout;
pub mod metadata;
pub mod protocol;
pub mod response;
pub mod xml;
