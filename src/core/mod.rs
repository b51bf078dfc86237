//! The pure core of keyedge: no Worker or JavaScript types. Time, randomness, HTTP and
//! storage arrive through [`ports`], so everything here runs under plain `cargo test`.

pub mod account;
pub mod admin;
pub mod app;
pub mod broker;
pub mod claims;
pub mod config;
pub mod csrf;
pub mod error;
pub mod gate;
pub mod header_lines;
pub mod i18n;
pub mod jobs;
pub mod jose;
pub mod keys;
pub mod limits;
pub mod logging;
pub mod mail;
pub mod mount;
pub mod op;
pub mod pages;
pub mod ports;
pub mod seal;
pub mod secret;
pub mod site_path;
pub mod task;
pub mod throttle;
pub mod upstream;
pub mod vocab;
pub mod web;
pub mod wire;

pub use app::Keyedge;

/// Unpadded base64url (RFC 4648 §5), the encoding of every token and key id.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The bytes of unpadded base64url `text` (canonical: no padding, no stray bits), if it is that.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}
