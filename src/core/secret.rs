//! A newtype for secret values whose `Debug` and `Display` never reveal them.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret value; call only where it is used (a comparison, a request to an IdP).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Constant-time comparison, for client secrets.
    pub fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// HMAC-SHA256 under `key` (of any length).
pub fn hmac_sha256(key: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    // HMAC takes keys of any length; this cannot fail.
    <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// A key for one purpose, derived from `ENCRYPTION_KEY`: HMAC-SHA256 of the purpose's label
/// under it, so the same secret never serves two purposes (CSRF tokens, refresh-token
/// successors). Never shown by `Debug`.
pub struct DerivedKey([u8; 32]);

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKey(****)")
    }
}

impl DerivedKey {
    pub fn derive(encryption_key: &[u8; 32], label: &str) -> Self {
        use hmac::Mac;
        let mut m = hmac_sha256(encryption_key);
        m.update(label.as_bytes());
        Self(m.finalize().into_bytes().into())
    }

    /// An HMAC-SHA256 under this key, to feed.
    pub fn mac(&self) -> hmac::Hmac<sha2::Sha256> {
        hmac_sha256(&self.0)
    }
}
