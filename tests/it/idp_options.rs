//! The remaining options of Keycloak's IdP configuration (issue 16): what of a client's
//! request is passed on (forwarded parameters, `login_hint`, `max_age`, the locale), disabled
//! nonces, usernames (case, templates), groups, and upstream ID tokens signed with RS384,
//! RS512, PS256, ES384 and EdDSA.

use crate::common::fake_idp::{rsa_key, OtherKey};
use crate::common::*;
use keyedge::core::config::Config;
use serde_json::{json, Value};

fn forwarded(world: &World, name: &str) -> Option<String> {
    world.idp.last_authorize.borrow().get(name).cloned()
}

/// Starts a login of the `app` client with `extra` parameters; the IdP's authorization URL.
fn start_with(world: &World, extra: &[(&str, &str)]) -> (String, RpRequest) {
    let rp = request_with(extra);
    let at_idp = start_login(world, &mut Browser::default(), &rp.query);
    world.idp.deny(&at_idp, "access_denied");
    (at_idp, rp)
}

fn config_error(up_options: &str) -> String {
    let text = ConfigBuilder::new().up(up_options).build();
    Config::load(&text, &secrets).map(|_| ()).unwrap_err().to_string()
}

mod forwarding {
    use super::*;

    #[test]
    fn forward_parameters_pass_the_clients_listed_parameters_to_the_idp() {
        let world = World::with(r#"forward_parameters = ["acr_values", "audience"]"#, "", "");
        start_with(&world, &[("acr_values", "urn:gold"), ("audience", "api://reports"), ("resource", "x")]);
        assert_eq!(forwarded(&world, "acr_values").as_deref(), Some("urn:gold"));
        assert_eq!(forwarded(&world, "audience").as_deref(), Some("api://reports"));
        assert_eq!(forwarded(&world, "resource"), None, "only the listed parameters go");
    }

    #[test]
    fn forward_parameters_are_not_passed_by_an_idp_that_does_not_list_them() {
        let world = World::new();
        start_with(&world, &[("acr_values", "urn:gold")]);
        assert_eq!(forwarded(&world, "acr_values"), None);
    }

    #[test]
    fn forward_parameters_refuse_the_parameters_keyedge_sets_itself() {
        for name in ["state", "nonce", "redirect_uri", "client_id", "code_challenge", "scope", "response_type"] {
            let e = config_error(&format!("forward_parameters = [\"acr_values\", \"{name}\"]"));
            assert!(
                e.contains("identity_providers[0].forward_parameters[1]") && e.contains("cannot be forwarded"),
                "{e}"
            );
        }
        let e = config_error(r#"forward_parameters = ["login_hint"]"#);
        assert!(e.contains("use pass_login_hint"), "{e}");
    }

    #[test]
    fn login_hint_is_passed_by_default_and_not_with_pass_login_hint_off() {
        let world = World::new();
        start_with(&world, &[("login_hint", "alice@example.com")]);
        assert_eq!(forwarded(&world, "login_hint").as_deref(), Some("alice@example.com"));
        let world = World::with("pass_login_hint = false", "", "");
        start_with(&world, &[("login_hint", "alice@example.com")]);
        assert_eq!(forwarded(&world, "login_hint"), None);
    }

    #[test]
    fn pass_max_age_off_sends_no_max_age_and_a_stale_upstream_login_is_still_refused() {
        let world = World::with("pass_max_age = false", "", "");
        world.clock.advance(1000);
        *world.idp.session_since.borrow_mut() = Some(START);
        let rp = request_with(&[("max_age", "60")]);
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        assert_eq!(forwarded(&world, "max_age"), None, "max_age is not passed");
        assert_eq!(query_param(&location(&res), "error").as_deref(), Some("login_required"), "nor is it faked");
        // A fresh login at the IdP answers it.
        *world.idp.session_since.borrow_mut() = None;
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        assert!(query_param(&location(&res), "code").is_some(), "{}", location(&res));
    }

    #[test]
    fn max_age_is_passed_by_default() {
        let world = World::new();
        start_with(&world, &[("max_age", "60")]);
        assert_eq!(forwarded(&world, "max_age").as_deref(), Some("60"));
    }

    /// `/broker/up/login` for the `app` client's request `rp`, with `Accept-Language`.
    fn begin_with_language(world: &World, rp: &RpRequest, accept_language: &str) -> String {
        let req = http::Request::get(format!("{ISSUER}/broker/up/login?{}", rp.query))
            .header("accept-language", accept_language)
            .body(Vec::new())
            .unwrap();
        location(&world.send(req))
    }

    #[test]
    fn pass_current_locale_sends_the_clients_ui_locales_or_the_browsers_language() {
        let world = World::new();
        let to_idp = begin_with_language(&world, &request_with(&[("ui_locales", "fr-CA fr")]), "de");
        assert_eq!(query_param(&to_idp, "ui_locales").as_deref(), Some("fr-CA fr"), "the client's, as it gave them");
        let to_idp = begin_with_language(&world, &request_with(&[]), "nl;q=0.9, de-CH;q=0.8");
        assert_eq!(query_param(&to_idp, "ui_locales").as_deref(), Some("de"), "the language keyedge's pages speak");
        let world = World::with("pass_current_locale = false", "", "");
        let to_idp = begin_with_language(&world, &request_with(&[("ui_locales", "fr")]), "de");
        assert_eq!(query_param(&to_idp, "ui_locales"), None);
    }

    #[test]
    fn disable_nonce_sends_no_nonce_and_accepts_an_id_token_without_one() {
        let world = World::with("disable_nonce = true", "", "");
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        assert_eq!(forwarded(&world, "nonce"), None);
        assert!(forwarded(&world, "code_challenge").is_some() && forwarded(&world, "state").is_some(), "still bound");
        assert!(query_param(&location(&res), "code").is_some(), "{}", location(&res));
        // Without the option, an ID token without the nonce is refused.
        let world = World::new();
        *world.idp.tamper.borrow_mut() = Box::new(|c| {
            c.as_object_mut().unwrap().remove("nonce");
        });
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        assert_eq!(res.status(), 502, "{}", body(&res));
    }
}

mod usernames {
    use super::*;

    fn username_after_login(world: &World, user: &str) -> String {
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(world, &mut Browser::default(), &rp.query, user);
        let tokens = json(&redeem(world, &code_of(&res), &rp.verifier));
        id_claims(&tokens)["preferred_username"].as_str().unwrap().to_owned()
    }

    #[test]
    fn usernames_from_the_idp_are_lower_cased_unless_case_sensitive() {
        assert_eq!(username_after_login(&World::new(), "Alice.Doe"), "alice.doe");
        let world = World::with("case_sensitive_usernames = true", "", "");
        assert_eq!(username_after_login(&world, "Alice.Doe"), "Alice.Doe");
    }

    #[test]
    fn a_username_template_takes_a_uuid_and_the_localpart_of_an_email() {
        let mapper = r#"
[[identity_providers.mappers]]
name = "username"
kind = "username_template"
template = "${CLAIM.email | localpart | uppercase}-${UUID}"
"#;
        let world = World::with(mapper, "", "");
        let username = username_after_login(&world, "alice");
        let (local, uuid) = username.split_once('-').unwrap();
        assert_eq!(local, "ALICE");
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
        assert_eq!(&uuid[14..15], "4", "a version 4 UUID: {uuid}");
        assert!(uuid.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{uuid}");
        let bob = username_after_login(&world, "bob");
        assert!(bob.starts_with("BOB-") && bob[4..] != *uuid, "each account its own UUID: {bob}");
    }

    #[test]
    fn a_username_template_with_an_unknown_placeholder_or_filter_is_refused() {
        for template in ["${RANDOM}", "${CLAIM.email | domain}"] {
            let e = config_error(&format!(
                "[[identity_providers.mappers]]\nname = \"u\"\nkind = \"username_template\"\ntemplate = \"{template}\"\n"
            ));
            assert!(e.contains("mappers[0].template"), "{e}");
        }
    }
}

mod groups {
    use super::*;

    const GROUP_MAPPERS: &str = r#"
[[identity_providers.mappers]]
name = "everyone"
kind = "hardcoded_group"
group = "/partners"

[[identity_providers.mappers]]
name = "senior engineers"
kind = "advanced_claim_to_group"
claims = [{ claim = "department", value = "eng" }, { claim = "levels", value = "senior" }]
group = "/partners/senior-eng"
"#;

    fn claims_of_login(world: &World, extra: Value) -> (Value, Value) {
        *world.idp.tamper.borrow_mut() = Box::new(move |c| {
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
        });
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(world, &mut Browser::default(), &rp.query, "alice");
        let tokens = json(&redeem(world, &code_of(&res), &rp.verifier));
        (id_claims(&tokens), payload(tokens["access_token"].as_str().unwrap()))
    }

    #[test]
    fn hardcoded_and_advanced_claim_to_group_mappers_give_the_groups_claim() {
        let world = World::with(GROUP_MAPPERS, "", "");
        let (id, access) = claims_of_login(&world, json!({"department": "eng", "levels": ["junior", "senior"]}));
        assert_eq!(id["groups"], json!(["/partners", "/partners/senior-eng"]), "{id}");
        assert_eq!(access["groups"], id["groups"]);
    }

    #[test]
    fn advanced_claim_to_group_needs_every_claim_to_match() {
        let world = World::with(GROUP_MAPPERS, "", "");
        let (id, _) = claims_of_login(&world, json!({"department": "eng", "levels": ["junior"]}));
        assert_eq!(id["groups"], json!(["/partners"]), "{id}");
    }

    #[test]
    fn advanced_claim_to_group_matches_regexes_and_leaves_the_group_when_synced() {
        let mapper = r#"
sync_mode = "force"
[[identity_providers.mappers]]
name = "eng"
kind = "advanced_claim_to_group"
claims = [{ claim = "department", value = "eng-.*" }]
regex = true
group = "engineering"
"#;
        let world = World::with(mapper, "", "");
        let (id, _) = claims_of_login(&world, json!({"department": "eng-platform"}));
        assert_eq!(id["groups"], json!(["engineering"]), "{id}");
        let (id, _) = claims_of_login(&world, json!({"department": "sales"}));
        assert_eq!(id.get("groups"), None, "left on the next login: {id}");
    }

    #[test]
    fn group_mappers_need_their_fields() {
        let e = config_error(
            "[[identity_providers.mappers]]\nname = \"g\"\nkind = \"advanced_claim_to_group\"\ngroup = \"x\"\n",
        );
        assert!(e.contains("mappers[0].claims"), "{e}");
        let e =
            config_error("[[identity_providers.mappers]]\nname = \"g\"\nkind = \"hardcoded_group\"\nrole = \"x\"\n");
        assert!(e.contains("mappers[0].role"), "{e}");
    }
}

mod signature_algorithms {
    use super::*;
    use jwt_compact::alg::{Ed25519, Rsa};
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::{AlgorithmExt, Claims, Header};
    use keyedge::core::config::ProviderKind;
    use keyedge::core::jose::{Jwks, TokenError};
    use keyedge::core::upstream::oidc::verify_id_token;

    const NOW: i64 = START;

    fn b64(bytes: &[u8]) -> String {
        keyedge::core::b64url(bytes)
    }

    fn claims() -> Value {
        json!({ "iss": "https://idp.test", "sub": "u1", "aud": "keyedge-at-idp", "iat": NOW, "exp": NOW + 300, "nonce": "n-1" })
    }

    fn check(jwks: &str, token: &str) -> Result<(), TokenError> {
        let config = Config::load(&config_text(), &secrets).unwrap();
        let ProviderKind::Oidc(cfg) = &config.identity_providers[0].kind else { unreachable!() };
        verify_id_token(cfg, &Jwks::parse(jwks).unwrap(), token, "n-1", NOW).map(|_| ())
    }

    fn jwks_of(mut jwk: Value, alg: Option<&str>) -> String {
        jwk["kid"] = json!("k1");
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        json!({ "keys": [jwk] }).to_string()
    }

    fn rsa() -> jwt_compact::alg::RsaPrivateKey {
        rsa_key(include_str!("../fixtures/upstream-test-key.pem"))
    }

    fn rsa_jwk() -> Value {
        serde_json::to_value(JsonWebKey::from(&rsa().to_public_key())).unwrap()
    }

    fn rsa_signed(alg: &str, claims: Value) -> String {
        let header = Header::empty().with_key_id("k1");
        alg.parse::<Rsa>().unwrap().token(&header, &Claims::new(claims), &rsa()).unwrap()
    }

    /// A P-384 key made in the test, from fixed bytes.
    fn p384_key() -> p384::ecdsa::SigningKey {
        p384::ecdsa::SigningKey::from_slice(&[0x5a; 48]).unwrap()
    }

    fn p384_jwk() -> Value {
        let point = p384_key().verifying_key().to_encoded_point(false);
        json!({ "kty": "EC", "crv": "P-384", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()) })
    }

    /// A JWS with `alg` over `claims`, its signature made by `sign` (RFC 7515 §5.1).
    fn jws(alg: &str, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let input = format!(
            "{}.{}",
            b64(json!({"alg": alg, "kid": "k1"}).to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = sign(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    fn es384_signed(claims: Value) -> String {
        use p384::ecdsa::signature::Signer;
        jws("ES384", &claims, |input| {
            let signature: p384::ecdsa::Signature = p384_key().sign(input);
            signature.to_bytes().to_vec()
        })
    }

    fn ed25519_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[0x17; 32])
    }

    fn ed25519_jwk() -> Value {
        json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(ed25519_key().verifying_key().as_bytes()) })
    }

    fn eddsa_signed(claims: Value) -> String {
        Ed25519.token(&Header::empty().with_key_id("k1"), &Claims::new(claims), &ed25519_key()).unwrap()
    }

    #[test]
    fn upstream_id_tokens_signed_with_rs384_rs512_and_ps256_verify() {
        for alg in ["RS384", "RS512", "PS256"] {
            assert_eq!(check(&jwks_of(rsa_jwk(), None), &rsa_signed(alg, claims())), Ok(()), "{alg}");
            assert_eq!(check(&jwks_of(rsa_jwk(), Some(alg)), &rsa_signed(alg, claims())), Ok(()), "{alg}");
            let forged = rsa_signed(alg, claims()).replace(".ey", ".eX");
            assert!(check(&jwks_of(rsa_jwk(), None), &forged).is_err(), "{alg}: a changed token fails");
        }
    }

    #[test]
    fn upstream_id_tokens_signed_with_es384_verify() {
        assert_eq!(check(&jwks_of(p384_jwk(), Some("ES384")), &es384_signed(claims())), Ok(()));
        let mut other = claims();
        other["sub"] = json!("admin");
        let token = es384_signed(claims());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], b64(other.to_string().as_bytes()), parts[2]);
        assert_eq!(check(&jwks_of(p384_jwk(), None), &forged), Err(TokenError::BadSignature));
    }

    /// `token` checked as the Worker checks it: by the platform's crypto (`ext`, the harness's
    /// outside verifier standing in for WebCrypto).
    fn outside(ext: &crate::common::ExternalRsa, jwks: &Jwks, token: &str) -> Result<(), TokenError> {
        futures::executor::block_on(keyedge::core::jose::verify_signed_with::<Value>(Some(ext), token, jwks, NOW, 0))
            .map(|_| ())
    }

    /// `token` with its claims changed to another subject, its signature kept.
    fn forged(token: &str) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        let mut other = claims();
        other["sub"] = json!("admin");
        format!("{}.{}.{}", parts[0], b64(other.to_string().as_bytes()), parts[2])
    }

    /// The Worker has no P-384 code: it checks ES384 with WebCrypto (the harness's outside
    /// verifier here). Same verdicts as in-process, and the outside verifier really checked:
    /// a JWK's coordinates and a pinned PEM both reach it as SPKI DER it can read.
    #[test]
    fn es384_goes_to_the_platforms_verifier_with_the_same_verdicts() {
        use p384::pkcs8::{EncodePublicKey, LineEnding};
        let ext = crate::common::ExternalRsa::default();
        let token = es384_signed(claims());
        let from_jwk = Jwks::parse(&jwks_of(p384_jwk(), None)).unwrap();
        let pem = p384::PublicKey::from(p384_key().verifying_key()).to_public_key_pem(LineEnding::LF).unwrap();
        let pinned = Jwks::from_public_pem(&pem, None).unwrap();
        for jwks in [&from_jwk, &pinned] {
            assert!(outside(&ext, jwks, &token).is_ok());
            assert_eq!(outside(&ext, jwks, &forged(&token)), Err(TokenError::BadSignature));
        }
        assert_eq!(ext.es384_verifications.get(), 4, "every ES384 check went to the outside verifier");
        // Another curve's key is not used for ES384, and no check is made with it.
        let es256_claimed = jws("ES256", &claims(), |_| vec![0; 64]);
        assert_eq!(outside(&ext, &from_jwk, &es256_claimed), Err(TokenError::UnknownKey));
        assert_eq!(ext.es384_verifications.get(), 4);
    }

    /// The Worker without SAML has no RSA code: it checks every RSA algorithm with WebCrypto
    /// (the harness's outside verifier here, RSA-PSS with a 32-byte salt as WebCrypto is asked
    /// for). Same verdicts as in-process, from a JWK's `n`/`e` and from a pinned PEM alike.
    #[test]
    fn every_rsa_algorithm_goes_to_the_platforms_verifier_with_the_same_verdicts() {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let ext = crate::common::ExternalRsa::default();
        let inside =
            |jwks: &Jwks, token: &str| keyedge::core::jose::verify_signed::<Value>(token, jwks, NOW, 0).map(|_| ());
        let from_jwk = Jwks::parse(&jwks_of(rsa_jwk(), None)).unwrap();
        let pem = rsa().to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let pinned = Jwks::from_public_pem(&pem, None).unwrap();
        for alg in ["RS256", "RS384", "RS512", "PS256"] {
            let token = rsa_signed(alg, claims());
            for jwks in [&from_jwk, &pinned] {
                assert_eq!(outside(&ext, jwks, &token), Ok(()), "{alg}");
                assert_eq!(outside(&ext, jwks, &forged(&token)), Err(TokenError::BadSignature), "{alg}");
                assert_eq!(inside(jwks, &token), Ok(()), "{alg}");
                assert_eq!(inside(jwks, &forged(&token)), Err(TokenError::BadSignature), "{alg}");
            }
        }
        assert_eq!(ext.rsa_verifications.get(), 16, "every RSA check went to the outside verifier");
        // PS384 is not accepted, whoever would check it.
        let ps384 = rsa_signed("PS384", claims());
        assert!(matches!(outside(&ext, &from_jwk, &ps384), Err(TokenError::UnsupportedAlgorithm(_))));
        assert_eq!(ext.rsa_verifications.get(), 16);
    }

    /// Upstream EdDSA ID tokens go to the platform's crypto too (the Worker has no Ed25519
    /// code), from a JWK and from a pinned PEM, with the same verdicts.
    #[test]
    fn eddsa_goes_to_the_platforms_verifier_with_the_same_verdicts() {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey};
        let ext = crate::common::ExternalRsa::default();
        let token = eddsa_signed(claims());
        let from_jwk = Jwks::parse(&jwks_of(ed25519_jwk(), None)).unwrap();
        let pem = ed25519_key().verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
        let pinned = Jwks::from_public_pem(&pem, None).unwrap();
        for jwks in [&from_jwk, &pinned] {
            assert_eq!(outside(&ext, jwks, &token), Ok(()));
            assert_eq!(outside(&ext, jwks, &forged(&token)), Err(TokenError::BadSignature));
        }
        assert_eq!(ext.ed25519_verifications.get(), 4, "every EdDSA check went to the outside verifier");
    }

    #[test]
    fn upstream_id_tokens_signed_with_eddsa_verify() {
        assert_eq!(check(&jwks_of(ed25519_jwk(), Some("EdDSA")), &eddsa_signed(claims())), Ok(()));
        let other = ed25519_dalek::SigningKey::from_bytes(&[0x18; 32]);
        let token = Ed25519.token(&Header::empty().with_key_id("k1"), &Claims::new(claims()), &other).unwrap();
        assert_eq!(check(&jwks_of(ed25519_jwk(), None), &token), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_token_whose_alg_is_not_the_keys_is_refused() {
        // The JWK names RS256: an RS384 token is not checked with it.
        assert_eq!(
            check(&jwks_of(rsa_jwk(), Some("RS256")), &rsa_signed("RS384", claims())),
            Err(TokenError::UnknownKey)
        );
        // An EC P-384 key checks ES384 only; an RSA key no EdDSA.
        let es256_claimed = jws("ES256", &claims(), |_| vec![0; 64]);
        assert_eq!(check(&jwks_of(p384_jwk(), None), &es256_claimed), Err(TokenError::UnknownKey));
        assert_eq!(check(&jwks_of(rsa_jwk(), None), &eddsa_signed(claims())), Err(TokenError::UnknownKey));
    }

    #[test]
    fn none_and_hmac_id_tokens_are_refused() {
        use jwt_compact::alg::{Hs256, Hs256Key};
        let none = jws("none", &claims(), |_| Vec::new());
        assert_eq!(check(&jwks_of(rsa_jwk(), None), &none), Err(TokenError::UnsupportedAlgorithm("none".into())));
        let key = Hs256Key::new(rsa_jwk()["n"].as_str().unwrap().as_bytes());
        let hs = Hs256.token(&Header::empty().with_key_id("k1"), &Claims::new(claims()), &key).unwrap();
        assert_eq!(check(&jwks_of(rsa_jwk(), None), &hs), Err(TokenError::UnsupportedAlgorithm("HS256".into())));
        for alg in ["HS384", "HS512", "PS384", "ES512"] {
            let token = jws(alg, &claims(), |_| vec![0; 64]);
            assert_eq!(check(&jwks_of(rsa_jwk(), None), &token), Err(TokenError::UnsupportedAlgorithm(alg.into())));
        }
    }

    /// A whole login through an IdP whose ID tokens are signed by `sign`, published as `jwk`.
    fn login_through(jwk: Value, sign: fn(Value) -> String) -> http::Response<Vec<u8>> {
        let world = World::new();
        *world.idp.other_key.borrow_mut() = Some(OtherKey { sign: Box::new(sign), jwks: jwks_of(jwk, None) });
        let rp = rp_request("app", APP_REDIRECT);
        login(&world, &mut Browser::default(), &rp.query, "alice")
    }

    #[test]
    fn a_login_through_an_idp_signing_with_es384_or_eddsa_or_ps256_succeeds() {
        for res in [
            login_through(p384_jwk(), es384_signed),
            login_through(ed25519_jwk(), eddsa_signed),
            login_through(rsa_jwk(), |c| rsa_signed("PS256", c)),
        ] {
            assert!(query_param(&location(&res), "code").is_some(), "{} {}", res.status(), body(&res));
        }
        let res = login_through(rsa_jwk(), |c| jws("HS256", &c, |_| vec![0; 32]));
        assert_eq!(res.status(), 502, "{}", body(&res));
    }

    /// A login through an IdP whose key is pinned (`public_key_signature_verifier`) as `pem`.
    fn login_with_pinned(pem: String, sign: fn(Value) -> String) -> http::Response<Vec<u8>> {
        let options = format!("use_jwks_url = false\npublic_key_signature_verifier = \"\"\"\n{pem}\"\"\"\n");
        let world = World::with(&options, "", "");
        *world.idp.other_key.borrow_mut() = Some(OtherKey { sign: Box::new(sign), jwks: "{\"keys\": []}".into() });
        login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice")
    }

    #[test]
    fn a_pinned_p384_or_ed25519_public_key_verifies_upstream_id_tokens() {
        use p384::pkcs8::{EncodePublicKey, LineEnding};
        let p384_pem = p384::PublicKey::from(p384_key().verifying_key()).to_public_key_pem(LineEnding::LF).unwrap();
        let ed_pem = ed25519_key().verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
        for res in [login_with_pinned(p384_pem.clone(), es384_signed), login_with_pinned(ed_pem, eddsa_signed)] {
            assert!(query_param(&location(&res), "code").is_some(), "{} {}", res.status(), body(&res));
        }
        let res = login_with_pinned(p384_pem, eddsa_signed);
        assert_eq!(res.status(), 502, "another key type than the pinned one: {}", body(&res));
    }
}
