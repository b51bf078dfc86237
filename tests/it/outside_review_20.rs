//! Outside review of ff9d1b8..603cce9: Ed25519 keys read as their seed (kid and JWKS on first
//! use), RSA public keys as bytes (`jose::rsa_public`) checked by the platform's crypto, the
//! id_token_hint checked with `verify_id_token_hint_with`. Each test performs one attack and
//! passes while the defence holds. The review's three findings are mended, each with its test:
//! an Ed25519 key publishing another key's public half, an access token taken as an
//! id_token_hint at /logout (older than this change), 2041–2047-bit RSA keys refused.

use crate::common::*;
use futures::executor::block_on;
use keyedge::core::jose::{verify_signed, verify_signed_with, Alg, Jwks, KeyError, Keyring, SigningKey, TokenError};
use keyedge::core::ports::PlatformCrypto;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const RSA: &str = include_str!("../fixtures/keyedge-test-key.pem");
const RSA_NEXT: &str = include_str!("../fixtures/keyedge-next-test-key.pem");
const ES256: &str = include_str!("../fixtures/es256-test-key.pem");
const EDDSA: &str = include_str!("../fixtures/eddsa-test-key.pem");
const UPSTREAM: &str = include_str!("../fixtures/upstream-test-key.pem");
const ATTACKER: &str = include_str!("../fixtures/attacker-test-key.pem");

fn b64(bytes: &[u8]) -> String {
    keyedge::core::b64url(bytes)
}

fn key(pem: &str) -> SigningKey {
    SigningKey::from_pem(pem).unwrap()
}

fn rsa_private(pem: &str) -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap()
}

/// A JWS with this header and claims, its signature made by `sign` over the signing input.
fn jws(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// RSASSA-PKCS1-v1_5 with the hash `alg` names (RS256/384/512).
fn pkcs1v15(key: &rsa::RsaPrivateKey, alg: &str, message: &[u8]) -> Vec<u8> {
    use rsa::Pkcs1v15Sign;
    match alg {
        "RS256" => key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message)),
        "RS384" => key.sign(Pkcs1v15Sign::new::<sha2::Sha384>(), &sha2::Sha384::digest(message)),
        "RS512" => key.sign(Pkcs1v15Sign::new::<sha2::Sha512>(), &sha2::Sha512::digest(message)),
        other => panic!("{other}"),
    }
    .unwrap()
}

/// RSASSA-PSS with SHA-256 and a salt of `salt` bytes.
fn pss(key: &rsa::RsaPrivateKey, salt: usize, message: &[u8]) -> Vec<u8> {
    key.sign_with_rng(&mut rand::thread_rng(), rsa::Pss::new_with_salt::<Sha256>(salt), &Sha256::digest(message))
        .unwrap()
}

fn ed25519_sign(seed: [u8; 32], message: &[u8]) -> Vec<u8> {
    use ed25519_dalek::Signer;
    ed25519_dalek::SigningKey::from_bytes(&seed).sign(message).to_bytes().to_vec()
}

/// An Ed25519 PKCS#8 v2 PEM (RFC 8410 §7) with this seed and this written public half.
fn eddsa_v2(seed: [u8; 32], public: [u8; 32]) -> String {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey, KeypairBytes, PublicKeyBytes};
    KeypairBytes { secret_key: seed, public_key: Some(PublicKeyBytes(public)) }
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap()
        .to_string()
}

fn fixture_ed25519() -> ed25519_dalek::SigningKey {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    ed25519_dalek::SigningKey::from_pkcs8_pem(EDDSA).unwrap()
}

fn thumbprint(jwk: &jwt_compact::jwk::JsonWebKey<'_>) -> String {
    b64(&jwk.thumbprint::<Sha256>())
}

fn hint(ring: &Keyring, crypto: Option<&dyn PlatformCrypto>, token: &str) -> Result<Value, TokenError> {
    block_on(ring.verify_id_token_hint_with::<Value>(crypto, token))
}

/// Every `kid` is the one the previous version computed (the `rsa`/`p256`/`ed25519-dalek`
/// key's JWK thumbprint): a kid change would make relying parties refetch or refuse.
#[test]
fn kids_of_existing_keys_are_unchanged() {
    let rsa_public = rsa_private(RSA).to_public_key();
    assert_eq!(key(RSA).kid(), thumbprint(&jwt_compact::jwk::JsonWebKey::from(&rsa_public)));
    // The same RSA key as PKCS#1.
    let pkcs1 = {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        rsa_private(RSA).to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap().to_string()
    };
    assert_eq!(key(&pkcs1).kid(), key(RSA).kid());
    let p256 = {
        use p256::pkcs8::DecodePrivateKey;
        *p256::ecdsa::SigningKey::from_pkcs8_pem(ES256).unwrap().verifying_key()
    };
    assert_eq!(key(ES256).kid(), thumbprint(&jwt_compact::jwk::JsonWebKey::from(&p256)));
    let ed = fixture_ed25519();
    let expected = thumbprint(&jwt_compact::jwk::JsonWebKey::from(&ed.verifying_key()));
    assert_eq!(key(EDDSA).kid(), expected);
    // A PKCS#8 v2 file of the same key (its public half written) keeps the kid.
    assert_eq!(key(&eddsa_v2(ed.to_bytes(), ed.verifying_key().to_bytes())).kid(), expected);
    // And the JWKS publishes the same members as before.
    let ring = Keyring::new(vec![key(RSA), key(ES256), key(EDDSA)], vec![key(RSA_NEXT)]);
    let jwks: Value = serde_json::from_str(&ring.jwks_json()).unwrap();
    assert_eq!(jwks["keys"][0]["n"], b64(&rsa_public.n().to_bytes_be()));
    assert_eq!(jwks["keys"][0]["e"], "AQAB");
    assert_eq!(jwks["keys"][2]["x"], b64(ed.verifying_key().as_bytes()));
    assert_eq!(jwks["keys"][3]["kid"], key(RSA_NEXT).kid());
}

fn own_ring() -> Keyring {
    Keyring::new(vec![key(RSA), key(ES256), key(EDDSA)], vec![key(RSA_NEXT)])
}

fn hint_claims() -> Value {
    json!({"iss": ISSUER, "sub": "victim", "aud": "app", "sid": "s1", "iat": 1000, "exp": 1300})
}

/// Forged id_token_hints: every algorithm confusion and foreign signature is refused, with
/// the platform's crypto (as in the Worker) and in-process; an expired genuine one passes.
#[test]
fn forged_id_token_hints_are_refused_with_and_without_platform_crypto() {
    let ring = own_ring();
    let external = ExternalRsa::default();
    let rsa_kid = ring.active(Alg::RS256).unwrap().kid().to_owned();
    let es_kid = ring.active(Alg::ES256).unwrap().kid().to_owned();
    let ed_kid = ring.active(Alg::EdDSA).unwrap().kid().to_owned();
    let next_kid = key(RSA_NEXT).kid().to_owned();
    let real = rsa_private(RSA);
    let attacker = rsa_private(ATTACKER);
    let c = hint_claims();
    let h = |alg: &str, kid: &str| json!({"alg": alg, "kid": kid});

    // keyedge sets iat/exp itself.
    let own = json!({"iss": ISSUER, "sub": "victim", "aud": "app", "sid": "s1"});
    let genuine = block_on(ring.sign(Some(&external), Alg::RS256, None, &own, 1000, 300)).unwrap();
    let forged: Vec<(&str, String)> = vec![
        ("RS256 by another key", jws(&h("RS256", &rsa_kid), &c, |m| pkcs1v15(&attacker, "RS256", m))),
        (
            "RS256 by another key, published key's kid",
            jws(&h("RS256", &next_kid), &c, |m| pkcs1v15(&attacker, "RS256", m)),
        ),
        // keyedge's own RSA key under algorithms it never signs with.
        ("PS256 by keyedge's key", jws(&h("PS256", &rsa_kid), &c, |m| pss(&real, 32, m))),
        ("RS384 by keyedge's key", jws(&h("RS384", &rsa_kid), &c, |m| pkcs1v15(&real, "RS384", m))),
        ("RS512 by keyedge's key", jws(&h("RS512", &rsa_kid), &c, |m| pkcs1v15(&real, "RS512", m))),
        // The RSA key's kid under ES256/EdDSA, and the other way round.
        ("RS256 signature under the ES256 kid", jws(&h("RS256", &es_kid), &c, |m| pkcs1v15(&real, "RS256", m))),
        ("ES256 alg under the RSA kid", jws(&h("ES256", &rsa_kid), &c, |m| pkcs1v15(&real, "RS256", m))),
        ("EdDSA by another key", jws(&h("EdDSA", &ed_kid), &c, |m| ed25519_sign([9; 32], m))),
        ("EdDSA alg under the RSA kid", jws(&h("EdDSA", &rsa_kid), &c, |m| ed25519_sign([9; 32], m))),
        // HMAC with public material as the secret.
        ("HS256 keyed with the JWKS", {
            use jwt_compact::alg::{Hs256, Hs256Key};
            use jwt_compact::AlgorithmExt;
            let secret = Hs256Key::new(ring.jwks_json().as_bytes());
            let header = jwt_compact::Header::empty().with_key_id(rsa_kid.clone());
            Hs256.token(&header, &jwt_compact::Claims::new(c.clone()), &secret).unwrap()
        }),
        ("none", format!("{}.{}.", b64(h("none", &rsa_kid).to_string().as_bytes()), b64(c.to_string().as_bytes()))),
        ("no signature", {
            let (input, _) = genuine.rsplit_once('.').unwrap();
            format!("{input}.")
        }),
        ("payload swapped", {
            let parts: Vec<&str> = genuine.split('.').collect();
            let other = json!({"iss": ISSUER, "sub": "admin", "aud": "app", "sid": "s1", "exp": 1300});
            format!("{}.{}.{}", parts[0], b64(other.to_string().as_bytes()), parts[2])
        }),
        ("no kid", jws(&json!({"alg": "RS256"}), &c, |m| pkcs1v15(&real, "RS256", m))),
        ("unknown kid", jws(&h("RS256", "other"), &c, |m| pkcs1v15(&attacker, "RS256", m))),
    ];
    for crypto in [Some(&external as &dyn PlatformCrypto), None] {
        // Expired a long time ago, still a good hint (OIDC Core §3.1.2.1).
        assert_eq!(hint(&ring, crypto, &genuine).unwrap()["sub"], "victim");
        for (what, token) in &forged {
            assert!(hint(&ring, crypto, token).is_err(), "{what} (platform crypto: {}) accepted", crypto.is_some());
            assert!(
                block_on(ring.verify_own_with::<Value>(crypto, token, "JWT", 1100)).is_err(),
                "{what} accepted by verify_own_with"
            );
        }
    }
    assert!(external.verifications.get() > 0, "the platform's crypto was asked");
}

/// The same through the endpoints: a hint signed by another key under keyedge's kid, or
/// relabelled PS256, neither narrows /authorize nor ends a session at /logout.
#[test]
fn forged_hints_at_authorize_and_logout_are_refused() {
    let world = World::new();
    let rsa_kid = world.app.keys.active(Alg::RS256).unwrap().kid().to_owned();
    let c = json!({"iss": ISSUER, "sub": "victim", "aud": "app", "sid": "s1", "exp": START + 300});
    let attacker = rsa_private(ATTACKER);
    let real_as_pss = jws(&json!({"alg": "PS256", "kid": rsa_kid}), &c, |m| pss(&rsa_private(RSA), 32, m));
    let foreign = jws(&json!({"alg": "RS256", "kid": rsa_kid}), &c, |m| pkcs1v15(&attacker, "RS256", m));
    for token in [&real_as_pss, &foreign] {
        let rp = request_with(&[("id_token_hint", token)]);
        let res = Browser::default().get(&world, &format!("/authorize?{}", rp.query));
        let to = location(&res);
        assert!(to.starts_with(APP_REDIRECT) && to.contains("error=invalid_request"), "{} {to}", res.status());
        let q = url::form_urlencoded::Serializer::new(String::new()).append_pair("id_token_hint", token).finish();
        assert_eq!(Browser::default().get(&world, &format!("/logout?{q}")).status(), 400);
    }
    // A genuine ID token, long expired, still works as a hint at /logout.
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let tokens = json(&redeem(&world, &code_of(&login(&world, &mut browser, &rp.query, "alice")), &rp.verifier));
    world.clock.advance(30 * 86_400);
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .finish();
    assert!(Browser::default().get(&world, &format!("/logout?{q}")).status().as_u16() < 400);
}

/// A PKCS#8 v2 Ed25519 key whose written public half is another key's (one the attacker
/// holds) would publish the attacker's key in the JWKS under keyedge's kid. Found by this
/// review (the lazy public half read it); now refused on reading, as ed25519-dalek did before,
/// so keyedge does not start with it.
#[test]
fn ed25519_key_with_a_foreign_written_half_is_refused_on_reading() {
    let attacker_public = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key().to_bytes();
    let pem = eddsa_v2(fixture_ed25519().to_bytes(), attacker_public);
    assert!(matches!(SigningKey::from_pem(&pem), Err(KeyError::Unreadable(_))));
    let text = format!("eddsa_signing_key_env = \"SIGNING_KEY_EDDSA\"\n{}", config_text());
    let secrets = move |name: &str| match name {
        "SIGNING_KEY_EDDSA" => Some(pem.clone()),
        other => secrets(other),
    };
    assert!(keyedge::core::Keyedge::from_config_text(&text, &secrets).is_err(), "keyedge does not start");
    // Its own written half, the seed's, is fine.
    let seed = fixture_ed25519();
    assert!(SigningKey::from_pem(&eddsa_v2(seed.to_bytes(), seed.verifying_key().to_bytes())).is_ok());
}

/// An access token (`at+jwt`, handed to resource servers) carries `sub` and `sid`: taken as an
/// id_token_hint it ended the session at /logout without the confirmation page, whoever sent
/// the browser there (found by this review; older than issue 20). A hint must be an ID token
/// now: the access token is refused and the session lives on.
#[test]
fn an_access_token_is_not_an_id_token_hint() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let tokens = json(&redeem(&world, &code_of(&login(&world, &mut browser, &rp.query, "alice")), &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_compact::UntrustedToken::new(access).unwrap().header().token_type.as_deref(), Some("at+jwt"));
    let q = url::form_urlencoded::Serializer::new(String::new()).append_pair("id_token_hint", access).finish();
    let res = browser.get(&world, &format!("/logout?{q}"));
    assert_eq!(res.status(), 400, "{}", body(&res));
    let refreshed = refresh(&world, tokens["refresh_token"].as_str().unwrap());
    assert_eq!(refreshed.status(), 200, "the session lives on: {}", body(&refreshed));
    // Nor at /authorize; the ID token itself is still a hint there and at /logout.
    let ring = &world.app.keys;
    for crypto in [Some(&world.rsa as &dyn PlatformCrypto), None] {
        assert_eq!(hint(ring, crypto, access).map(|_| ()), Err(TokenError::WrongType));
        assert!(hint(ring, crypto, tokens["id_token"].as_str().unwrap()).is_ok());
    }
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .finish();
    assert!(browser.get(&world, &format!("/logout?{q}")).status().as_u16() < 400);
}

// ---- Upstream JWKS (RSA as bytes) -------------------------------------------------------

fn rsa_jwk(kid: &str, n: &[u8], e: &[u8], alg: Option<&str>) -> Value {
    let mut jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(n), "e": b64(e)});
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

fn jwks_of(keys: Vec<Value>) -> Jwks {
    Jwks::parse(&json!({ "keys": keys }).to_string()).unwrap()
}

fn upstream_claims() -> Value {
    json!({"iss": "https://idp.test", "sub": "u1", "aud": "keyedge-at-idp", "iat": START, "exp": START + 300})
}

/// Checks `token` against `jwks` in process and with the platform's crypto; both must agree.
fn upstream_check(jwks: &Jwks, token: &str) -> Result<(), String> {
    let external = ExternalRsa::default();
    let in_process = verify_signed::<Value>(token, jwks, START, 0).map(|_| ());
    let platform = block_on(verify_signed_with::<Value>(Some(&external), token, jwks, START, 0)).map(|_| ());
    match (in_process, platform) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(a), Err(b)) => Err(format!("{a:?} / {b:?}")),
        (a, b) => panic!("in-process {a:?} and platform {b:?} disagree"),
    }
}

#[test]
fn jwks_modulus_with_leading_zeros_is_the_same_key() {
    let k = rsa_private(UPSTREAM);
    let n = [&[0u8, 0, 0][..], &k.n().to_bytes_be()].concat();
    let jwks = jwks_of(vec![rsa_jwk("k1", &n, &[0, 0, 1, 0, 1], None)]);
    let token = jws(&json!({"alg": "RS256", "kid": "k1"}), &upstream_claims(), |m| pkcs1v15(&k, "RS256", m));
    assert_eq!(upstream_check(&jwks, &token), Ok(()));
}

#[test]
fn degenerate_jwks_rsa_keys_are_skipped() {
    let n = rsa_private(UPSTREAM).n().to_bytes_be();
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("zero modulus", vec![0; 256], vec![1, 0, 1]),
        ("empty modulus", vec![], vec![1, 0, 1]),
        ("e = 0", n.clone(), vec![0]),
        ("e = 1", n.clone(), vec![1]),
        ("e = 2^33", n.clone(), vec![2, 0, 0, 0, 0]),
        ("e of 9 bytes", n.clone(), vec![1; 9]),
        ("4104-bit modulus", vec![0xff; 513], vec![1, 0, 1]),
        ("1024-bit modulus", n[..128].to_vec(), vec![1, 0, 1]),
        // Natively (the rsa crate's check): an even exponent or modulus. See the report: the
        // Worker without SAML has no such check.
        ("even exponent", n.clone(), vec![1, 0, 0]),
        ("even modulus", [&n[..255], &[n[255] & 0xfe][..]].concat(), vec![1, 0, 1]),
    ];
    for (what, n, e) in cases {
        assert!(!jwks_of(vec![rsa_jwk("k", &n, &e, None)]).has_kid("k"), "{what} kept");
    }
}

/// A JWK's `alg` binds its RSA key to that one algorithm; a key without `alg` serves each
/// RSA algorithm, each checked with its own scheme (no PKCS#1 signature passes as PSS, no
/// SHA-256 signature as SHA-384, no PSS salt other than 32 bytes).
#[test]
fn rsa_algorithm_confusion_upstream_is_refused() {
    let k = rsa_private(UPSTREAM);
    let (n, e) = (k.n().to_bytes_be(), k.e().to_bytes_be());
    let c = upstream_claims();
    let token = |alg: &str, sign: &dyn Fn(&[u8]) -> Vec<u8>| jws(&json!({"alg": alg, "kid": "k1"}), &c, sign);
    let rs = |alg: &'static str| {
        let k = k.clone();
        move |m: &[u8]| pkcs1v15(&k, alg, m)
    };
    let ps = |salt: usize| {
        let k = k.clone();
        move |m: &[u8]| pss(&k, salt, m)
    };
    let any = jwks_of(vec![rsa_jwk("k1", &n, &e, None)]);
    for alg in ["RS256", "RS384", "RS512"] {
        assert_eq!(upstream_check(&any, &token(alg, &rs(alg))), Ok(()), "{alg}");
    }
    assert_eq!(upstream_check(&any, &token("PS256", &ps(32))), Ok(()));
    // Relabelled: the header names one algorithm, the signature is of another.
    assert!(upstream_check(&any, &token("PS256", &rs("RS256"))).is_err());
    assert!(upstream_check(&any, &token("RS256", &ps(32))).is_err());
    assert!(upstream_check(&any, &token("RS384", &rs("RS256"))).is_err());
    assert!(upstream_check(&any, &token("RS512", &rs("RS384"))).is_err());
    assert!(upstream_check(&any, &token("RS256", &rs("RS512"))).is_err());
    for salt in [0, 20, 64] {
        assert!(upstream_check(&any, &token("PS256", &ps(salt))).is_err(), "salt {salt}");
    }
    // The JWK names its algorithm.
    let rs256_only = jwks_of(vec![rsa_jwk("k1", &n, &e, Some("RS256"))]);
    assert!(upstream_check(&rs256_only, &token("PS256", &ps(32))).is_err());
    assert!(upstream_check(&rs256_only, &token("RS384", &rs("RS384"))).is_err());
    let ps256_only = jwks_of(vec![rsa_jwk("k1", &n, &e, Some("PS256"))]);
    assert!(upstream_check(&ps256_only, &token("RS256", &rs("RS256"))).is_err());
    assert_eq!(upstream_check(&ps256_only, &token("PS256", &ps(32))), Ok(()));
    // An encryption key (`use: enc`, or `alg: RSA-OAEP`) checks nothing.
    let mut enc = rsa_jwk("k1", &n, &e, None);
    enc["use"] = json!("enc");
    assert!(upstream_check(&jwks_of(vec![enc]), &token("RS256", &rs("RS256"))).is_err());
    let oaep = jwks_of(vec![rsa_jwk("k1", &n, &e, Some("RSA-OAEP"))]);
    assert!(upstream_check(&oaep, &token("RS256", &rs("RS256"))).is_err());
    // HMAC keyed with the public key's bytes (the classic RS/HS confusion).
    for secret in [n.clone(), json!({"keys": [rsa_jwk("k1", &n, &e, None)]}).to_string().into_bytes()] {
        use jwt_compact::alg::{Hs256, Hs256Key};
        use jwt_compact::AlgorithmExt;
        let header = jwt_compact::Header::empty().with_key_id("k1");
        let hs = Hs256.token(&header, &jwt_compact::Claims::new(c.clone()), &Hs256Key::new(&secret)).unwrap();
        assert!(upstream_check(&any, &hs).is_err());
    }
    // A token without kid with two RSA keys in the set: ambiguous, refused.
    let other = rsa_private(ATTACKER);
    let two = jwks_of(vec![rsa_jwk("k1", &n, &e, None), rsa_jwk("k2", &other.n().to_bytes_be(), &e, None)]);
    let kidless = jws(&json!({"alg": "RS256"}), &c, rs("RS256"));
    assert!(upstream_check(&two, &kidless).is_err());
}

fn spki_pem(oid: &str, parameters: Option<&[u8]>, n: &[u8], e: &[u8]) -> String {
    use p256::pkcs8::der::asn1::{AnyRef, BitStringRef};
    use p256::pkcs8::der::{Decode, Encode};
    use p256::pkcs8::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
    let pkcs1 = pkcs1::RsaPublicKey {
        modulus: pkcs1::UintRef::new(n).unwrap(),
        public_exponent: pkcs1::UintRef::new(e).unwrap(),
    }
    .to_der()
    .unwrap();
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: oid.parse().unwrap(),
            parameters: parameters.map(|p| AnyRef::from_der(p).unwrap()),
        },
        subject_public_key: BitStringRef::from_bytes(&pkcs1).unwrap(),
    }
    .to_der()
    .unwrap();
    p256::pkcs8::der::pem::encode_string("PUBLIC KEY", p256::pkcs8::der::pem::LineEnding::LF, &spki).unwrap()
}

/// Pinned PEM keys: an RSASSA-PSS (id-RSASSA-PSS) or other-OID SPKI is not taken for an RSA
/// key; a short or degenerate one is refused.
#[test]
fn pinned_spki_of_other_algorithms_or_weak_keys_is_refused() {
    let k = rsa_private(UPSTREAM);
    let (n, e) = (k.n().to_bytes_be(), k.e().to_bytes_be());
    let null = [5u8, 0];
    assert!(Jwks::from_public_pem(&spki_pem("1.2.840.113549.1.1.1", Some(&null), &n, &e), None).is_ok());
    assert!(Jwks::from_public_pem(&spki_pem("1.2.840.113549.1.1.10", None, &n, &e), None).is_err(), "RSASSA-PSS OID");
    assert!(Jwks::from_public_pem(&spki_pem("1.2.840.113549.1.1.7", None, &n, &e), None).is_err(), "RSAES-OAEP OID");
    assert!(Jwks::from_public_pem(&spki_pem("1.2.840.113549.1.1.1", Some(&null), &n[..128], &e), None).is_err());
    assert!(Jwks::from_public_pem(&spki_pem("1.2.840.113549.1.1.1", Some(&null), &n, &[1]), None).is_err());
    assert!(Jwks::from_public_pem(&spki_pem("1.2.840.113549.1.1.1", Some(&null), &[0xff; 513], &e), None).is_err());
    // A PKCS#1 `RSA PUBLIC KEY` is not an SPKI.
    let pkcs1_pem = {
        use rsa::pkcs1::EncodeRsaPublicKey;
        k.to_public_key().to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap()
    };
    assert!(Jwks::from_public_pem(&pkcs1_pem, None).is_err());
    // The pinned key checks the upstream's token, and only RSA algorithms with it.
    let jwks = Jwks::from_public_pem(&spki_pem("1.2.840.113549.1.1.1", Some(&null), &n, &e), None).unwrap();
    let token = jws(&json!({"alg": "RS256", "kid": "any"}), &upstream_claims(), |m| pkcs1v15(&k, "RS256", m));
    assert_eq!(upstream_check(&jwks, &token), Ok(()));
    let es = jws(&json!({"alg": "ES256"}), &upstream_claims(), |m| pkcs1v15(&k, "RS256", m));
    assert!(upstream_check(&jwks, &es).is_err());
}

/// RSA keys of 2041–2047 bits were counted as 2048 (the `rsa` crate's `size() * 8`, whole
/// bytes). This review found the bytes-only key counting exact bits, which refused them (an
/// upstream's JWKS key skipped, keyedge's own key stopping the start); it counts whole bytes
/// again, as SAML's certificates do, so such keys keep working.
#[test]
fn rsa_keys_of_2047_bits_are_still_taken() {
    let mut rng = rand::thread_rng();
    let k = rsa::RsaPrivateKey::new(&mut rng, 2047).unwrap();
    assert_eq!(k.n().bits(), 2047);
    let jwks = jwks_of(vec![rsa_jwk("k1", &k.n().to_bytes_be(), &k.e().to_bytes_be(), None)]);
    assert!(jwks.has_kid("k1"));
    let token = jws(&json!({"alg": "RS256", "kid": "k1"}), &upstream_claims(), |m| pkcs1v15(&k, "RS256", m));
    assert_eq!(upstream_check(&jwks, &token), Ok(()));
    let pem = {
        use rsa::pkcs8::EncodePrivateKey;
        k.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap().to_string()
    };
    assert!(SigningKey::from_pem(&pem).is_ok());
}
