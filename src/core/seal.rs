//! Authenticated encryption (XChaCha20-Poly1305, RustCrypto) for state keyedge hands to the
//! browser and must get back untouched and unread: the upstream login in progress.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::b64url;
use super::ports::Rng;

pub struct Sealer {
    cipher: XChaCha20Poly1305,
    /// Retired keys: they still open what they sealed, and seal nothing.
    previous: Vec<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(****)")
    }
}

/// The 32 bytes of a key given as base64 (standard or URL-safe, padded or not).
pub fn key_from_base64(text: &str) -> Result<[u8; 32], String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(text).ok())
        .ok_or("not base64 (make one with: openssl rand -base64 32)")?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| format!("{len} bytes; 32 are needed (openssl rand -base64 32)"))
}

impl Sealer {
    /// A 32-byte key, given as base64 (standard or URL-safe, padded or not).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = key_from_base64(text)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| "not a 32-byte key".to_owned())?;
        Ok(Self { cipher, previous: Vec::new() })
    }

    /// Adds a retired key (base64, 32 bytes) that still opens what it sealed.
    pub fn with_previous(mut self, text: &str) -> Result<Self, String> {
        let retired = Self::from_base64(text)?;
        self.previous.push(retired.cipher);
        Ok(self)
    }

    /// Encrypts `plaintext`, bound to `context` (it must be given again to open it).
    pub fn seal(&self, rng: &dyn Rng, context: &[u8], plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 24];
        rng.fill(&mut nonce);
        let sealed =
            self.cipher.encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: context }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        b64url(&out)
    }

    /// Decrypts what [`Sealer::seal`] made with the same `context`; anything else is `None`.
    pub fn open(&self, context: &[u8], sealed: &str) -> Option<Vec<u8>> {
        self.open_noting_key(context, sealed).map(|(plain, _)| plain)
    }

    /// [`Sealer::open`], also saying whether a retired key was needed (then the caller
    /// should seal it again with the current key).
    pub fn open_noting_key(&self, context: &[u8], sealed: &str) -> Option<(Vec<u8>, bool)> {
        let bytes = super::b64url_decode(sealed)?;
        if bytes.len() < 24 + 16 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let payload = || Payload { msg: ciphertext, aad: context };
        if let Ok(plain) = self.cipher.decrypt(&XNonce::from(nonce), payload()) {
            return Some((plain, false));
        }
        self.previous.iter().find_map(|c| c.decrypt(&XNonce::from(nonce), payload()).ok()).map(|plain| (plain, true))
    }
}
