//! RS256, ES256 and EdDSA signatures, an Ed25519 key's public half, and RSA (RS256/384/512,
//! PS256), ES256, ES384 and EdDSA verifications through WebCrypto (`crypto.subtle`), native
//! code in workerd: the Worker carries no P-384 or Ed25519 code and, without SAML, no RSA code;
//! P-256 in wasm costs several times what WebCrypto needs.

use async_trait::async_trait;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};

use crate::core::ports::PortError;
use crate::core::ports::{PlatformCrypto, SignatureAlg};

thread_local! {
    // Imported CryptoKeys (private by kid, public by a hash of their DER): importing costs
    // more than signing, so once per isolate.
    static KEYS: RefCell<HashMap<String, JsValue>> = RefCell::new(HashMap::new());
}

/// The CryptoKey for `cache_id`, importing `der` in `format` as `alg` with `usage` the first time.
async fn key(
    subtle: &JsValue,
    cache_id: String,
    format: &str,
    der: &[u8],
    alg: &Object,
    usage: &str,
) -> Result<JsValue, PortError> {
    if let Some(key) = KEYS.with(|k| k.borrow().get(&cache_id).cloned()) {
        return Ok(key);
    }
    let args = Array::new();
    args.push(&format.into());
    args.push(&Uint8Array::from(der));
    args.push(alg.as_ref());
    args.push(&JsValue::FALSE);
    args.push(&Array::of1(&usage.into()));
    let key = call(subtle, "importKey", &args).await?;
    KEYS.with(|k| k.borrow_mut().insert(cache_id, key.clone()));
    Ok(key)
}

fn js_err(what: &str, e: JsValue) -> PortError {
    PortError(format!("WebCrypto {what}: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))))
}

fn subtle() -> Result<JsValue, PortError> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(|e| js_err("crypto", e))?;
    Reflect::get(&crypto, &"subtle".into()).map_err(|e| js_err("subtle", e))
}

/// Calls `subtle[method](...args)` and awaits the promise.
async fn call(subtle: &JsValue, method: &str, args: &Array) -> Result<JsValue, PortError> {
    let f: Function = Reflect::get(subtle, &method.into()).and_then(|f| f.dyn_into()).map_err(|e| js_err(method, e))?;
    let promise: Promise = f.apply(subtle, args).and_then(|p| p.dyn_into()).map_err(|e| js_err(method, e))?;
    super::settle::settled(promise).await.map_err(|e| js_err(method, e))
}

/// A WebCrypto algorithm object `{name, [key]: value}`.
fn object(name: &str, key: &str, value: &str) -> Result<Object, PortError> {
    let alg = Object::new();
    Reflect::set(&alg, &"name".into(), &name.into()).map_err(|e| js_err("algorithm", e))?;
    Reflect::set(&alg, &key.into(), &value.into()).map_err(|e| js_err("algorithm", e))?;
    Ok(alg)
}

/// `{name: "Ed25519"}` (Secure Curves in WebCrypto; workerd has it).
fn ed25519() -> Result<Object, PortError> {
    let alg = Object::new();
    Reflect::set(&alg, &"name".into(), &"Ed25519".into()).map_err(|e| js_err("algorithm", e))?;
    Ok(alg)
}

fn algorithm() -> Result<Object, PortError> {
    object("RSASSA-PKCS1-v1_5", "hash", "SHA-256")
}

/// Signs `message` with `key` under `alg`.
async fn sign(subtle: &JsValue, alg: &Object, key: &JsValue, message: &[u8]) -> Result<Vec<u8>, PortError> {
    let args = Array::new();
    args.push(alg.as_ref());
    args.push(key);
    args.push(&Uint8Array::from(message));
    let signature = call(subtle, "sign", &args).await?;
    Ok(Uint8Array::new(&signature).to_vec())
}

pub struct WebCryptoRsa;

#[async_trait(?Send)]
impl PlatformCrypto for WebCryptoRsa {
    async fn sign_rs256(&self, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, PortError> {
        let subtle = subtle()?;
        let alg = algorithm()?;
        let key = key(&subtle, format!("private:{kid}"), "pkcs8", pkcs8_der, &alg, "sign").await?;
        sign(&subtle, &alg, &key, message).await
    }

    async fn sign_es256(&self, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, PortError> {
        let subtle = subtle()?;
        let import = object("ECDSA", "namedCurve", "P-256")?;
        let key = key(&subtle, format!("private:{kid}"), "pkcs8", pkcs8_der, &import, "sign").await?;
        // WebCrypto's ECDSA signature is already r ‖ s (IEEE P1363), the JWS form.
        sign(&subtle, &object("ECDSA", "hash", "SHA-256")?, &key, message).await
    }

    async fn sign_ed25519(&self, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, PortError> {
        let subtle = subtle()?;
        let alg = ed25519()?;
        let key = key(&subtle, format!("private:{kid}"), "pkcs8", pkcs8_der, &alg, "sign").await?;
        sign(&subtle, &alg, &key, message).await
    }

    async fn ed25519_public(&self, pkcs8_der: &[u8]) -> Result<[u8; 32], PortError> {
        let [x] = exported_public(pkcs8_der, ed25519()?.as_ref(), ["x"]).await?;
        x.try_into().map_err(|_| PortError("WebCrypto exportKey: an Ed25519 x of another length".into()))
    }

    async fn p256_public(&self, pkcs8_der: &[u8]) -> Result<[u8; 65], PortError> {
        let import = object("ECDSA", "namedCurve", "P-256")?;
        let [x, y] = exported_public(pkcs8_der, import.as_ref(), ["x", "y"]).await?;
        if x.len() != 32 || y.len() != 32 {
            return Err(PortError("WebCrypto exportKey: P-256 coordinates of another length".into()));
        }
        let mut point = [4u8; 65];
        point[1..33].copy_from_slice(&x);
        point[33..].copy_from_slice(&y);
        Ok(point)
    }

    async fn verify(
        &self,
        alg: SignatureAlg,
        spki_der: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, PortError> {
        use sha2::{Digest, Sha256};
        let subtle = subtle()?;
        let id = format!("public:{}:{}", alg.name(), crate::core::b64url(&Sha256::digest(spki_der)));
        let pkcs1 = |hash: &str| object("RSASSA-PKCS1-v1_5", "hash", hash).map(|alg| (alg.clone(), alg));
        let (import, alg) = match alg {
            SignatureAlg::Rs256 => pkcs1("SHA-256")?,
            SignatureAlg::Rs384 => pkcs1("SHA-384")?,
            SignatureAlg::Rs512 => pkcs1("SHA-512")?,
            // RFC 7518 §3.5: the salt is as long as the hash.
            SignatureAlg::Ps256 => {
                let pss = object("RSA-PSS", "hash", "SHA-256")?;
                Reflect::set(&pss, &"saltLength".into(), &32.into()).map_err(|e| js_err("algorithm", e))?;
                (object("RSA-PSS", "hash", "SHA-256")?, pss)
            }
            SignatureAlg::Es256 => (object("ECDSA", "namedCurve", "P-256")?, object("ECDSA", "hash", "SHA-256")?),
            SignatureAlg::Es384 => (object("ECDSA", "namedCurve", "P-384")?, object("ECDSA", "hash", "SHA-384")?),
            SignatureAlg::EdDsa => (ed25519()?, ed25519()?),
        };
        let key = key(&subtle, id, "spki", spki_der, &import, "verify").await?;
        let args = Array::new();
        args.push(alg.as_ref());
        args.push(&key);
        args.push(&Uint8Array::from(signature));
        args.push(&Uint8Array::from(message));
        Ok(call(&subtle, "verify", &args).await?.as_bool().unwrap_or(false))
    }
}

/// The public members `names` of a private key given as PKCS#8 DER: WebCrypto has no
/// "public key of", so the key is imported extractable (once per isolate, not cached) and
/// exported as a JWK, whose public members are the public key (RFC 8037 §2, RFC 7518 §6.2.1).
async fn exported_public<const N: usize>(
    pkcs8_der: &[u8],
    alg: &JsValue,
    names: [&str; N],
) -> Result<[Vec<u8>; N], PortError> {
    let subtle = subtle()?;
    let args = Array::new();
    args.push(&"pkcs8".into());
    args.push(&Uint8Array::from(pkcs8_der));
    args.push(alg);
    args.push(&JsValue::TRUE);
    args.push(&Array::of1(&"sign".into()));
    let key = call(&subtle, "importKey", &args).await?;
    let jwk = call(&subtle, "exportKey", &Array::of2(&"jwk".into(), &key)).await?;
    let mut out: [Vec<u8>; N] = std::array::from_fn(|_| Vec::new());
    for (slot, name) in out.iter_mut().zip(names) {
        let member = Reflect::get(&jwk, &name.into()).map_err(|e| js_err("exportKey", e))?.as_string();
        *slot = member
            .as_deref()
            .and_then(crate::core::b64url_decode)
            .ok_or_else(|| PortError(format!("WebCrypto exportKey: no `{name}`")))?;
    }
    Ok(out)
}
