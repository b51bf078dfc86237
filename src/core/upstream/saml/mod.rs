//! SAML 2.0 Service Provider building blocks (issue 18): hardened XML intake, exclusive
//! canonicalisation and the SAML profile of XML-Signature, in pure Rust for wasm.

pub mod c14n;
pub mod dsig;
pub mod enc;
pub mod xml;
