//! An RSA public key as bytes: its modulus and exponent as written (big-endian, without
//! leading zeros) and its SubjectPublicKeyInfo DER, which is what a platform verifier
//! (WebCrypto in the Worker) imports. The JWK and its thumbprint come from the same bytes.
//!
//! Why bytes: the Worker without SAML makes every RSA signature and check with WebCrypto, so
//! it carries no RSA arithmetic (the `rsa` crate and its bignums, ~40 KiB gzip of wasm). Where
//! RSA is done in Rust (natively, and with SAML: `cfg(keyedge_rsa)`), the `rsa` crate's key is
//! built once here too.

use jwt_compact::jwk::JsonWebKey;
use p256::pkcs8::der::asn1::AnyRef;
use p256::pkcs8::der::{Decode, Encode};
use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
use p256::pkcs8::ObjectIdentifier;
use std::borrow::Cow;

/// rsaEncryption (RFC 8017 Appendix C).
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The largest modulus read, as the `rsa` crate's own bound: checking a signature with a huge
/// key is work an upstream could make keyedge do for nothing.
pub const MAX_RSA_BITS: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaPublic {
    n: Vec<u8>,
    e: Vec<u8>,
    spki: Vec<u8>,
    #[cfg(keyedge_rsa)]
    key: rsa::RsaPublicKey,
}

impl RsaPublic {
    /// From the modulus and public exponent (big-endian; leading zeros are dropped). The
    /// modulus is odd with at most [`MAX_RSA_BITS`] bits and the exponent odd in [3, 2³³ − 1],
    /// the same in the Worker (which hands the key to WebCrypto) as natively; the caller
    /// checks the minimum size for its use.
    pub fn new(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let n = strip(n);
        let e = strip(e);
        let bits = bit_length(n);
        if bits > MAX_RSA_BITS {
            return Err(format!("the RSA key has {bits} bits; at most {MAX_RSA_BITS} are read"));
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err("the RSA modulus is not an odd number".into());
        }
        let exponent = if e.len() <= 8 { e.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)) } else { u64::MAX };
        if !(3..=(1u64 << 33) - 1).contains(&exponent) || exponent & 1 == 0 {
            return Err("the RSA public exponent is not an odd number in [3, 2³³ − 1]".into());
        }
        let der = |e: p256::pkcs8::der::Error| e.to_string();
        let pkcs1 = pkcs1::RsaPublicKey {
            modulus: pkcs1::UintRef::new(n).map_err(der)?,
            public_exponent: pkcs1::UintRef::new(e).map_err(der)?,
        }
        .to_der()
        .map_err(der)?;
        let spki = super::spki_der(RSA_ENCRYPTION, Some(AnyRef::NULL), &pkcs1).map_err(der)?;
        Ok(RsaPublic {
            #[cfg(keyedge_rsa)]
            key: rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e))
                .map_err(|e| e.to_string())?,
            n: n.to_vec(),
            e: e.to_vec(),
            spki,
        })
    }

    /// From SubjectPublicKeyInfo DER: `None` if its algorithm is not rsaEncryption.
    pub fn from_spki_der(der: &[u8]) -> Option<Result<Self, String>> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return None;
        }
        let Some(bytes) = spki.subject_public_key.as_bytes() else {
            return Some(Err("the RSA public key is not a whole number of bytes".into()));
        };
        Some(
            pkcs1::RsaPublicKey::from_der(bytes)
                .map_err(|e| e.to_string())
                .and_then(|k| Self::new(k.modulus.as_bytes(), k.public_exponent.as_bytes())),
        )
    }

    /// The key's size as the `rsa` crate counts it (`size()`, whole bytes of modulus, × 8) and
    /// keyedge always has: the 2048-bit minimum is 256 bytes of modulus, as for SAML's
    /// certificates.
    pub fn bits(&self) -> usize {
        self.n.len() * 8
    }

    /// The SubjectPublicKeyInfo DER (rsaEncryption with NULL parameters, RFC 8017 Appendix C).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The public JWK (RFC 7518 §6.3.1): `n` and `e` without leading zeros.
    pub fn jwk(&self) -> JsonWebKey<'_> {
        JsonWebKey::Rsa {
            modulus: Cow::Borrowed(&self.n),
            public_exponent: Cow::Borrowed(&self.e),
            private_parts: None,
        }
    }

    /// The `rsa` crate's key, for RSA done in Rust.
    #[cfg(keyedge_rsa)]
    pub fn key(&self) -> &rsa::RsaPublicKey {
        &self.key
    }
}

fn strip(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

fn bit_length(stripped: &[u8]) -> usize {
    match stripped.first() {
        Some(first) => stripped.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    use rsa::traits::PublicKeyParts;

    const KEYS: [&str; 3] = [
        include_str!("../../../tests/fixtures/keyedge-test-key.pem"),
        include_str!("../../../tests/fixtures/upstream-test-key.pem"),
        include_str!("../../../tests/fixtures/short-test-key.pem"),
    ];

    /// The bytes-only key encodes and reads as the `rsa` crate does: the same SPKI DER
    /// (what WebCrypto imports), the same JWK (so the same `kid` thumbprint), the same size.
    #[test]
    fn rfc8017_public_key_der_and_jwk_match_the_rsa_crate() {
        for pem in KEYS {
            let whole = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("rsa").to_public_key();
            let ours = RsaPublic::new(&whole.n().to_bytes_be(), &whole.e().to_bytes_be()).expect("key");
            assert_eq!(ours.spki_der(), whole.to_public_key_der().expect("der").as_bytes());
            assert_eq!(ours.jwk(), JsonWebKey::from(&whole));
            assert_eq!(ours.bits(), whole.size() * 8);
            assert_eq!(ours.key(), &whole);
            assert_eq!(RsaPublic::from_spki_der(ours.spki_der()).expect("rsa").expect("key"), ours);
        }
    }

    #[test]
    fn leading_zeros_are_not_part_of_the_key() {
        let whole = rsa::RsaPrivateKey::from_pkcs8_pem(KEYS[0]).expect("rsa").to_public_key();
        let n = [&[0u8, 0][..], &whole.n().to_bytes_be()].concat();
        let ours = RsaPublic::new(&n, &[0, 1, 0, 1]).expect("key");
        assert_eq!(ours.jwk(), JsonWebKey::from(&whole));
        assert_eq!(ours.bits(), 2048);
    }

    #[test]
    fn out_of_range_keys_are_refused() {
        assert!(RsaPublic::new(&[0, 0], &[1, 0, 1]).is_err(), "zero modulus");
        assert!(RsaPublic::new(&[], &[1, 0, 1]).is_err(), "no modulus");
        assert!(RsaPublic::new(&[0xff; 513], &[1, 0, 1]).is_err(), "4104 bits");
        assert!(RsaPublic::new(&[0xff; 512], &[1, 0, 1]).is_ok(), "4096 bits");
        assert!(RsaPublic::new(&[[0xff; 255].as_slice(), &[0xfe]].concat(), &[1, 0, 1]).is_err(), "even modulus");
        assert!(RsaPublic::new(&[0xff; 256], &[1]).is_err(), "e = 1");
        assert!(RsaPublic::new(&[0xff; 256], &[1, 0, 0]).is_err(), "even e");
        assert!(RsaPublic::new(&[0xff; 256], &[2, 0, 0, 0, 1]).is_err(), "e = 2^33 + 1");
        assert!(RsaPublic::new(&[0xff; 256], &[0xff; 9]).is_err(), "e of 72 bits");
    }

    /// A 2047-bit modulus is 256 bytes: its size counts as 2048, as it always did (the `rsa`
    /// crate's `size()`), so such a key keeps working after the change to bytes.
    #[test]
    fn size_counts_whole_bytes_of_modulus() {
        let n = [&[0x7f], [0xff; 255].as_slice()].concat();
        assert_eq!(RsaPublic::new(&n, &[1, 0, 1]).expect("key").bits(), 2048);
    }

    #[test]
    fn other_algorithms_spki_is_not_taken_for_rsa() {
        use p256::pkcs8::EncodePublicKey;
        let p256 = p256::SecretKey::from_slice(&[7u8; 32]).expect("scalar").public_key();
        assert!(RsaPublic::from_spki_der(p256.to_public_key_der().expect("der").as_bytes()).is_none());
    }
}
