//! A second outside attacker against keyedge's SAML 2.0 Service Provider: encrypted
//! assertions (XML Encryption) and IdP-initiated login (an unsolicited `Response`). Each test
//! performs one attack and asserts that keyedge refuses it. The holes this review found are
//! closed; their tests run here (docs/security.md, SAML rows).
//!
//! The IdP's messages are written and signed here with keyedge's own `sign_enveloped` and the
//! test IdP key, as in `saml_login.rs`; encryption is done with the `aes-gcm`, `cbc` and `rsa`
//! crates directly, not with keyedge's code.

use crate::common::*;
use base64::Engine;
use keyedge::core::ports::Clock;
use keyedge::core::upstream::saml::dsig::{sign_enveloped, sign_redirect, SpKey};
use keyedge::core::Keyedge;

const IDP_ENTITY: &str = "https://idp.example.org/saml";
const SSO: &str = "https://idp.example.org/sso";
const ACS: &str = "https://keyedge.test/broker/corp/endpoint";
const ACS2: &str = "https://keyedge.test/broker/corp2/endpoint";
const IDP_KEY: &str = include_str!("../fixtures/saml-harness/idp-key.pem");
const IDP_CERT: &str = include_str!("../fixtures/saml-harness/idp-cert.pem");
const ENC_KEY: &str = include_str!("../fixtures/saml/keys/sp-rsa.key");
const ENC_CERT: &str = include_str!("../fixtures/saml/keys/sp-rsa.crt");
const ATTACKER_CERT: &str = include_str!("../fixtures/saml/keys/attacker-rsa.crt");
const ALICE: &str = "alice@example.org";
const MALLORY: &str = "mallory@example.org";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const ENCRYPTED: &str =
    "want_assertions_encrypted = true\nsp_encryption_key_env = \"SAML_ENC_KEY\"\nsp_encryption_certificate_env = \"SAML_ENC_CERT\"";
const LANDING: &str = r#"idp_initiated_login = { return_to = "/account" }"#;

type Resp = http::Response<Vec<u8>>;

fn saml_secrets(name: &str) -> Option<String> {
    match name {
        "SAML_ENC_KEY" => Some(ENC_KEY.to_owned()),
        "SAML_ENC_CERT" => Some(ENC_CERT.to_owned()),
        _ => secrets(name),
    }
}

/// The test IdP as SAML IdP `alias`, with `options`.
fn provider(alias: &str, options: &str) -> String {
    format!(
        r#"
[[identity_providers]]
alias = "{alias}"
kind = "saml"
display_name = "Corp SSO"
idp_entity_id = "{IDP_ENTITY}"
single_sign_on_service_url = "{SSO}"
validating_x509_certificates = ['''{IDP_CERT}''']
trust_email = true
first_login_flow = "no review"
{options}
"#
    )
}

const FLOWS: &str = r#"
[[first_login_flows]]
alias = "no review"
review_profile = "off"
"#;

fn world_with(extra: &str) -> World {
    let mut world = World::new();
    let text = ConfigBuilder::new().extra(&format!("{extra}\n{FLOWS}")).build();
    world.app = Keyedge::from_config_text(&text, &saml_secrets).expect("SAML test config is valid");
    world
}

fn saml_world(options: &str) -> World {
    world_with(&provider("corp", options))
}

/// corp with IdP-initiated login landing on `/account`, and `options`.
fn landing_world(options: &str) -> World {
    saml_world(&format!("{LANDING}\n{options}"))
}

/// [`landing_world`], with alice's identity linked (by one login keyedge asked for, in a
/// browser of her own): an unsolicited assertion signs in only a linked identity.
fn linked_landing_world(options: &str) -> World {
    let world = landing_world(options);
    let mut browser = Browser::default();
    let (id, relay, _) = start(&world, &mut browser);
    let linked =
        deliver(&world, &mut browser, &response(&world, &signed_assertion(&world, Some(&id)), Some(&id)), &relay);
    assert_eq!(linked.status(), 302, "{}", body(&linked));
    world
}

fn ts(t: i64) -> String {
    keyedge::core::upstream::saml::protocol::timestamp(t)
}

fn sign(xml: &str, id: &str, pem: &str) -> String {
    sign_enveloped(xml, id, &SpKey::from_pkcs8_pem(pem).unwrap()).unwrap()
}

/// An unsigned assertion `id` for `name_id` (attribute `uid`), answering `irt`, for corp.
fn assertion_of(world: &World, id: &str, name_id: &str, uid: &str, irt: Option<&str>) -> String {
    let now = world.clock.now();
    let irt = irt.map(|i| format!(r#" InResponseTo="{i}""#)).unwrap_or_default();
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="{BEARER}"><saml:SubjectConfirmationData{irt} Recipient="{ACS}" NotOnOrAfter="{until}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{ISSUER}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="_session1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="uid"><saml:AttributeValue>{uid}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
        now = ts(now),
        until = ts(now + 300),
        before = ts(now - 60),
    )
}

/// alice's assertion `_a1` answering `irt`, unsigned.
fn assertion(world: &World, irt: Option<&str>) -> String {
    assertion_of(world, "_a1", ALICE, "alice", irt)
}

/// alice's assertion `_a1` answering `irt`, signed by the IdP.
fn signed_assertion(world: &World, irt: Option<&str>) -> String {
    sign(&assertion(world, irt), "_a1", IDP_KEY)
}

/// A Response `id` around `inner`, unsigned, to corp's ACS.
fn response_with_id(world: &World, id: &str, inner: &str, irt: Option<&str>) -> String {
    let irt = irt.map(|i| format!(r#" InResponseTo="{i}""#)).unwrap_or_default();
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{ACS}"{irt}><saml:Issuer>{IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status>{inner}</samlp:Response>"#,
        now = ts(world.clock.now()),
    )
}

fn response(world: &World, inner: &str, irt: Option<&str>) -> String {
    response_with_id(world, "_r1", inner, irt)
}

/// The AuthnRequest keyedge redirected to: its ID and the RelayState.
fn request_of(at_idp: &str) -> (String, String) {
    assert!(at_idp.starts_with(SSO), "sent to the IdP's SSO service: {at_idp}");
    let request = query_param(at_idp, "SAMLRequest").expect("SAMLRequest");
    let xml = keyedge::core::broker::saml::inflate(&request).expect("deflated AuthnRequest");
    let start = xml.find(" ID=\"").unwrap() + 5;
    let id = xml[start..start + xml[start..].find('"').unwrap()].to_owned();
    (id, query_param(at_idp, "RelayState").expect("RelayState"))
}

/// Starts a login at corp in `browser`: the AuthnRequest ID, the RelayState and the RP request.
fn start(world: &World, browser: &mut Browser) -> (String, String, RpRequest) {
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login_via(world, browser, &rp.query, "corp");
    let (id, relay) = request_of(&at_idp);
    (id, relay, rp)
}

/// A `SAMLResponse` by the HTTP-POST binding to `acs` (cross-site: no cookie goes with it).
fn post_request(acs: &str, xml: &str, relay_state: &str) -> http::Request<Vec<u8>> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("SAMLResponse", encoded.as_str()), ("RelayState", relay_state)])
        .finish();
    http::Request::post(acs)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://idp.example.org")
        .header("sec-fetch-site", "cross-site")
        .body(body.into_bytes())
        .unwrap()
}

fn post_to(world: &World, acs: &str, xml: &str, relay: &str) -> Resp {
    world.send(post_request(acs, xml, relay))
}

/// The post through `browser` (it keeps the cookies the answer sets), then the 303 followed.
fn through(world: &World, browser: &mut Browser, acs: &str, xml: &str, relay: &str) -> Resp {
    let posted = post_to(world, acs, xml, relay);
    browser.remember(&posted);
    if posted.status() != 303 {
        return posted;
    }
    browser.get(world, &location(&posted))
}

fn deliver(world: &World, browser: &mut Browser, xml: &str, relay: &str) -> Resp {
    through(world, browser, ACS, xml, relay)
}

/// The response by the HTTP-Redirect binding, its query signed with the IdP's key.
fn redirect_signed(xml: &str, relay_state: &str) -> String {
    let deflated = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6);
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let value: String = url::form_urlencoded::byte_serialize(encoded.as_bytes()).collect();
    let key = SpKey::from_pkcs8_pem(IDP_KEY).unwrap();
    format!("{ACS}?{}", sign_redirect("SAMLResponse", &value, Some(relay_state), &key).unwrap())
}

fn said(world: &World, res: &Resp, fragment: &str) -> bool {
    body(res).contains(fragment) || world.log.borrow().iter().any(|l| l.contains(fragment))
}

/// The attack failed: an error page, no redirect, `why` in the page or the log, and no
/// identity linked for alice or mallory.
#[track_caller]
fn assert_refused(world: &World, res: &Resp, why: &str) {
    assert!(matches!(res.status().as_u16(), 400 | 403 | 409 | 413 | 502), "refused: {} {}", res.status(), body(res));
    assert!(res.headers().get("location").is_none(), "no redirect: {:?}", res.headers().get("location"));
    assert!(said(world, res, why), "the reason {why:?}: {}\nlog: {:?}", body(res), world.log.borrow());
    assert!(user_of_link(world, "corp", ALICE).is_none(), "no identity for alice");
    assert!(user_of_link(world, "corp", MALLORY).is_none(), "no identity for mallory");
}

/// The browser has a keyedge session (its `/account` page answers).
fn signed_in_here(world: &World, browser: &mut Browser) -> bool {
    browser.get(world, "/account").status() == 200
}

// ------------------------------------------------------------ XML Encryption helpers

#[derive(Clone, Copy, PartialEq)]
enum Content {
    Aes128Gcm,
    Aes128Cbc,
}

const GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn public_key(cert_pem: &str) -> rsa::RsaPublicKey {
    use rsa::pkcs8::DecodePublicKey;
    use x509_cert::der::{DecodePem, Encode};
    let cert = x509_cert::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().unwrap();
    rsa::RsaPublicKey::from_public_key_der(&spki).unwrap()
}

/// `key` wrapped to `cert_pem` by `transport` (RSA-OAEP SHA-1, or RSA PKCS#1 v1.5).
fn wrap(key: &[u8], cert_pem: &str, transport: &str) -> Vec<u8> {
    let public = public_key(cert_pem);
    let mut rng = rand::thread_rng();
    if transport == RSA_1_5 {
        public.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, key).unwrap()
    } else {
        public.encrypt(&mut rng, rsa::Oaep::new::<sha1::Sha1>(), key).unwrap()
    }
}

/// `plaintext` under `key`: GCM (IV, ciphertext, tag) or CBC (IV, blocks, xmlenc padding).
fn seal(content: Content, key: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    match content {
        Content::Aes128Gcm => {
            use aes_gcm::aead::{Aead, KeyInit};
            let iv: [u8; 12] = rand::random();
            let sealed =
                aes_gcm::Aes128Gcm::new_from_slice(key).unwrap().encrypt(&aes_gcm::Nonce::from(iv), plaintext).unwrap();
            [iv.as_slice(), &sealed].concat()
        }
        Content::Aes128Cbc => {
            use aes::cipher::{BlockEncryptMut, KeyIvInit};
            let iv: [u8; 16] = rand::random();
            let pad = 16 - plaintext.len() % 16;
            let mut buf = plaintext.to_vec();
            buf.extend(std::iter::repeat_n(pad as u8, pad));
            let len = buf.len();
            let ct = cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
                .unwrap()
                .encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf, len)
                .unwrap()
                .to_vec();
            [iv.as_slice(), &ct].concat()
        }
    }
}

fn encrypted_key(transport: &str, wrapped: &[u8]) -> String {
    format!(
        r#"<xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:EncryptionMethod Algorithm="{transport}"/><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>"#,
        b64(wrapped)
    )
}

/// An EncryptedAssertion with `key_info` inside EncryptedData's KeyInfo and `sibling` after
/// the EncryptedData.
fn encrypted_assertion_with(content: Content, ciphertext: &[u8], key_info: &str, sibling: &str) -> String {
    let alg = if content == Content::Aes128Gcm { GCM } else { CBC };
    format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{alg}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">{key_info}</ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>{sibling}</saml:EncryptedAssertion>"#,
        b64(ciphertext)
    )
}

/// `plaintext` encrypted to `cert_pem` as an IdP does: `content`, the key by `transport`.
fn encrypt(plaintext: &str, cert_pem: &str, content: Content, transport: &str) -> String {
    let key: [u8; 16] = rand::random();
    let key_info = encrypted_key(transport, &wrap(&key, cert_pem, transport));
    encrypted_assertion_with(content, &seal(content, &key, plaintext.as_bytes()), &key_info, "")
}

/// `plaintext` encrypted to keyedge as an honest IdP does (AES-128-GCM, RSA-OAEP).
fn to_keyedge(plaintext: &str) -> String {
    encrypt(plaintext, ENC_CERT, Content::Aes128Gcm, OAEP)
}

/// An encrypted answer delivered in a fresh login of `browser`; the assertion `make`s.
fn encrypted_attack(world: &World, make: impl Fn(&str) -> String, why: &str) {
    let mut browser = Browser::default();
    let (id, relay, _) = start(world, &mut browser);
    let res = deliver(world, &mut browser, &make(&id), &relay);
    assert_refused(world, &res, why);
    assert!(!signed_in_here(world, &mut browser), "no session");
}

// ------------------------------------------------------------ encrypted assertions

#[test]
fn enc_honest_baseline_is_accepted() {
    let world = saml_world(ENCRYPTED);
    let mut browser = Browser::default();
    let (id, relay, rp) = start(&world, &mut browser);
    let xml = response(&world, &to_keyedge(&signed_assertion(&world, Some(&id))), Some(&id));
    let res = deliver(&world, &mut browser, &xml, &relay);
    let tokens = json(&redeem(&world, &code_of(&res), &rp.verifier));
    assert_eq!(id_claims(&tokens)["email"], ALICE);
}

#[test]
fn enc_cbc_where_only_the_assertion_is_signed_is_refused() {
    // AES-CBC has no integrity: with only the (encrypted) assertion signed, the ciphertext is
    // the attacker's to modify, a padding oracle's playground. Refused before decryption.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let inner = encrypt(&signed_assertion(&world, Some(id)), ENC_CERT, Content::Aes128Cbc, OAEP);
            response(&world, &inner, Some(id))
        },
        "AES-CBC encrypted assertions are not accepted",
    );
}

#[test]
fn enc_cbc_under_an_unsigned_response_with_a_broken_padding_gives_the_same_answer() {
    // Even a CBC ciphertext whose padding is wrong is answered like a good one: nothing is
    // decrypted without a signature over the whole response.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let key: [u8; 16] = rand::random();
            let mut ct = seal(Content::Aes128Cbc, &key, signed_assertion(&world, Some(id)).as_bytes());
            let last = ct.len() - 1;
            ct[last] ^= 0x5a;
            let key_info = encrypted_key(OAEP, &wrap(&key, ENC_CERT, OAEP));
            response(&world, &encrypted_assertion_with(Content::Aes128Cbc, &ct, &key_info, ""), Some(id))
        },
        "AES-CBC encrypted assertions are not accepted",
    );
}

#[test]
fn enc_rsa_pkcs1_v1_5_key_transport_is_refused() {
    // Bleichenbacher: RSA PKCS#1 v1.5 key transport is never tried.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let inner = encrypt(&signed_assertion(&world, Some(id)), ENC_CERT, Content::Aes128Gcm, RSA_1_5);
            response(&world, &inner, Some(id))
        },
        "unsupported key transport",
    );
}

#[test]
fn enc_key_info_retrieval_method_to_a_key_elsewhere_is_refused() {
    // The EncryptedKey hidden in the Response's Extensions, pointed to by a RetrievalMethod:
    // keyedge takes keys only inside the EncryptedAssertion.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let key: [u8; 16] = rand::random();
            let ct = seal(Content::Aes128Gcm, &key, signed_assertion(&world, Some(id)).as_bytes());
            let hidden = encrypted_key(OAEP, &wrap(&key, ENC_CERT, OAEP)).replacen(
                "<xenc:EncryptedKey ",
                "<xenc:EncryptedKey Id=\"_k1\" ",
                1,
            );
            let retrieval =
                r##"<ds:RetrievalMethod URI="#_k1" Type="http://www.w3.org/2001/04/xmlenc#EncryptedKey"/>"##;
            let inner = encrypted_assertion_with(Content::Aes128Gcm, &ct, retrieval, "");
            let extensions = format!(r#"<samlp:Extensions>{hidden}</samlp:Extensions>"#);
            response(&world, &inner, Some(id)).replacen("<samlp:Status>", &format!("{extensions}<samlp:Status>"), 1)
        },
        "carries 0 encrypted keys",
    );
}

#[test]
fn enc_key_for_another_recipient_is_refused() {
    // The content key wrapped to another certificate (the attacker's): not decryptable here.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let inner = encrypt(&signed_assertion(&world, Some(id)), ATTACKER_CERT, Content::Aes128Gcm, OAEP);
            response(&world, &inner, Some(id))
        },
        "could not be decrypted",
    );
}

#[test]
fn enc_two_encrypted_keys_one_for_another_recipient_are_refused() {
    // Two recipients' keys (keyedge's and another one's): keyedge does not choose between them.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let key: [u8; 16] = rand::random();
            let ct = seal(Content::Aes128Gcm, &key, signed_assertion(&world, Some(id)).as_bytes());
            let ours = encrypted_key(OAEP, &wrap(&key, ENC_CERT, OAEP));
            let theirs = encrypted_key(OAEP, &wrap(&key, ATTACKER_CERT, OAEP));
            response(&world, &encrypted_assertion_with(Content::Aes128Gcm, &ct, &theirs, &ours), Some(id))
        },
        "carries 2 encrypted keys",
    );
}

/// The log line of the last refused login, without its reference.
fn last_refusal(world: &World) -> String {
    let log = world.log.borrow();
    let line = log.iter().rev().find(|l| l.contains("sign-in with `corp` failed")).expect("a refusal logged");
    line.split("sign-in with").nth(1).unwrap().to_owned()
}

#[test]
fn enc_decryption_failures_are_one_error() {
    // No oracle: a key wrapped to another recipient (the unwrap fails), a wrong content key
    // length (unwrap succeeds), and a GCM tag that does not authenticate all read the same, in
    // the page and in the log.
    let world = saml_world(ENCRYPTED);
    let mut answers = Vec::new();
    let variants: [&dyn Fn(&str) -> String; 3] = [
        &|plain| encrypt(plain, ATTACKER_CERT, Content::Aes128Gcm, OAEP),
        &|plain| {
            let key: [u8; 16] = rand::random();
            let ct = seal(Content::Aes128Gcm, &key, plain.as_bytes());
            let long = [key.as_slice(), &key].concat();
            encrypted_assertion_with(Content::Aes128Gcm, &ct, &encrypted_key(OAEP, &wrap(&long, ENC_CERT, OAEP)), "")
        },
        &|plain| {
            let key: [u8; 16] = rand::random();
            let mut ct = seal(Content::Aes128Gcm, &key, plain.as_bytes());
            let last = ct.len() - 1;
            ct[last] ^= 1;
            encrypted_assertion_with(Content::Aes128Gcm, &ct, &encrypted_key(OAEP, &wrap(&key, ENC_CERT, OAEP)), "")
        },
    ];
    for make in variants {
        let mut browser = Browser::default();
        let (id, relay, _) = start(&world, &mut browser);
        let xml = response(&world, &make(&signed_assertion(&world, Some(&id))), Some(&id));
        let res = deliver(&world, &mut browser, &xml, &relay);
        assert_refused(&world, &res, "could not be decrypted");
        let page = body(&res);
        let page = match page.to_ascii_lowercase().contains("reference") {
            true => page.replace(&reference_in(&page), ""),
            false => page,
        };
        answers.push((res.status(), page, last_refusal(&world)));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "one error for all: {answers:#?}");
}

#[test]
fn enc_unsigned_assertion_encrypted_by_the_attacker_is_refused() {
    // Anyone can encrypt to keyedge's public key: the decrypted assertion still needs the
    // IdP's signature.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| response(&world, &to_keyedge(&assertion_of(&world, "_a1", MALLORY, "alice", Some(id))), Some(id)),
        "neither the response nor its assertion is signed",
    );
}

#[test]
fn enc_signed_assertion_altered_then_encrypted_by_the_attacker_is_refused() {
    // The IdP's signed assertion, its NameID changed before the attacker encrypts it.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let altered = signed_assertion(&world, Some(id)).replace(ALICE, MALLORY);
            response(&world, &to_keyedge(&altered), Some(id))
        },
        "signature refused",
    );
}

#[test]
fn enc_signed_assertion_signed_by_another_key_then_encrypted_is_refused() {
    // The attacker signs an assertion with its own key and encrypts it to keyedge.
    let world = saml_world(ENCRYPTED);
    let other = include_str!("../fixtures/saml-harness/other-key.pem");
    encrypted_attack(
        &world,
        |id| {
            let forged = sign(&assertion_of(&world, "_a1", MALLORY, "alice", Some(id)), "_a1", other);
            response(&world, &to_keyedge(&forged), Some(id))
        },
        "signature refused",
    );
}

#[test]
fn enc_signature_wrapping_inside_the_plaintext_is_refused() {
    // XSW in the plaintext: the attacker's assertion (mallory) carries the IdP's signed one
    // (alice) inside an element of its own; the one-assertion rule holds in the plaintext.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let signed = signed_assertion(&world, Some(id));
            let evil = assertion_of(&world, "_evil", MALLORY, "mallory", Some(id)).replacen(
                "</saml:Issuer>",
                &format!("</saml:Issuer><x:Wrap xmlns:x=\"urn:x\">{signed}</x:Wrap>"),
                1,
            );
            response(&world, &to_keyedge(&evil), Some(id))
        },
        "not exactly one",
    );
}

#[test]
fn enc_signature_moved_to_the_attackers_assertion_in_the_plaintext_is_refused() {
    // XSW variant: the IdP's Signature (referencing `#_a1`) moved into an attacker assertion
    // that takes the ID `_a1`, the original dropped.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let signed = signed_assertion(&world, Some(id));
            let start = signed.find("<ds:Signature").unwrap();
            let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
            let signature = &signed[start..end];
            let evil = assertion_of(&world, "_a1", MALLORY, "mallory", Some(id)).replacen(
                "</saml:Issuer>",
                &format!("</saml:Issuer>{signature}"),
                1,
            );
            response(&world, &to_keyedge(&evil), Some(id))
        },
        "signature refused",
    );
}

#[test]
fn enc_response_sharing_the_signed_assertions_id_and_signature_is_refused() {
    // A Response that takes the ID `_a1` of the IdP's signed assertion and a copy of its
    // Signature (`#_a1`), around mallory's unsigned assertion encrypted to keyedge with that
    // same ID: the Reference resolves to nothing but the Response itself.
    let world =
        saml_world("sp_encryption_key_env = \"SAML_ENC_KEY\"\nsp_encryption_certificate_env = \"SAML_ENC_CERT\"");
    encrypted_attack(
        &world,
        |id| {
            let signed = signed_assertion(&world, Some(id));
            let start = signed.find("<ds:Signature").unwrap();
            let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
            let signature = &signed[start..end];
            let evil = to_keyedge(&assertion_of(&world, "_a1", MALLORY, "mallory", Some(id)));
            response_with_id(&world, "_a1", &evil, Some(id)).replacen(
                "</saml:Issuer>",
                &format!("</saml:Issuer>{signature}"),
                1,
            )
        },
        "signature refused",
    );
}

#[test]
fn enc_assertion_beside_an_encrypted_one_is_refused() {
    // A plain (attacker) assertion next to the IdP's encrypted one, optional decryption.
    let world =
        saml_world("sp_encryption_key_env = \"SAML_ENC_KEY\"\nsp_encryption_certificate_env = \"SAML_ENC_CERT\"");
    encrypted_attack(
        &world,
        |id| {
            let plain = assertion_of(&world, "_evil", MALLORY, "mallory", Some(id));
            let inner = format!("{}{plain}", to_keyedge(&signed_assertion(&world, Some(id))));
            response(&world, &inner, Some(id))
        },
        "assertions, not exactly one",
    );
}

#[test]
fn enc_plaintext_with_a_doctype_is_refused() {
    // Entity expansion through the plaintext (which no signature checks before parsing).
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let plain = format!(
                r#"<!DOCTYPE saml:Assertion [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaa">]>{}"#,
                signed_assertion(&world, Some(id))
            );
            response(&world, &to_keyedge(&plain), Some(id))
        },
        "SAMLResponse refused",
    );
}

#[test]
fn enc_plaintext_breaking_out_of_keyedges_wrapper_is_refused() {
    // keyedge parses the plaintext inside a `<Decrypted>` element of its own: a plaintext that
    // closes it and opens another root (or a comment) must not parse into something else.
    let world = saml_world(ENCRYPTED);
    for tail in ["</Decrypted><Decrypted>", "</Decrypted><!--"] {
        encrypted_attack(
            &world,
            |id| {
                let plain = format!("{}{tail}", signed_assertion(&world, Some(id)));
                response(&world, &to_keyedge(&plain), Some(id))
            },
            "SAMLResponse refused",
        );
    }
}

#[test]
fn enc_prefix_rebound_by_the_envelope_is_refused() {
    // The IdP's signed assertion re-prefixed by the attacker (`saml:` dropped, the assertion
    // namespace made the default on the EncryptedAssertion, which keyedge's wrapper copies):
    // exclusive c14n renders the prefixes, so the signature no longer holds.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let signed = signed_assertion(&world, Some(id));
            let unprefixed = signed
                .replace("<saml:", "<")
                .replace("</saml:", "</")
                .replace(" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"", "");
            let inner = to_keyedge(&unprefixed).replacen(
                "<saml:EncryptedAssertion>",
                "<saml:EncryptedAssertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\">",
                1,
            );
            response(&world, &inner, Some(id))
        },
        "signature refused",
    );
}

#[test]
fn enc_ciphertext_too_large_for_a_response_is_refused() {
    // A plaintext padded to more than keyedge reads: the post itself is too large.
    let world = saml_world(ENCRYPTED);
    encrypted_attack(
        &world,
        |id| {
            let padded = signed_assertion(&world, Some(id)).replacen(
                "</saml:Issuer>",
                &format!("</saml:Issuer><!--{}-->", "x".repeat(300 * 1024)),
                1,
            );
            response(&world, &to_keyedge(&padded), Some(id))
        },
        "too large",
    );
}

// ------------------------------------------------------------ IdP-initiated login

#[test]
fn unsolicited_honest_baseline_lands_signed_in() {
    let world = linked_landing_world("");
    let mut browser = Browser::default();
    let xml = response(&world, &signed_assertion(&world, None), None);
    let res = deliver(&world, &mut browser, &xml, "");
    assert_eq!(location(&res), "/account", "{}", body(&res));
    assert!(signed_in_here(&world, &mut browser));
}

#[test]
fn unsolicited_replayed_by_the_redirect_binding_is_refused() {
    // Taken by POST, then the same assertion by the HTTP-Redirect binding (query signed by the
    // IdP) in another browser.
    let world = linked_landing_world("");
    // alice's corp identity is linked by one login keyedge asked for.
    let mut browser = Browser::default();
    let (id, relay, _) = start(&world, &mut browser);
    deliver(&world, &mut browser, &response(&world, &signed_assertion(&world, Some(&id)), Some(&id)), &relay);
    let xml = response(&world, &signed_assertion(&world, None), None);
    let first = deliver(&world, &mut Browser::default(), &xml, "");
    assert_eq!(location(&first), "/account");
    let mut other = Browser::default();
    let posted = other.get(&world, &redirect_signed(&xml, "x"));
    assert_eq!(posted.status(), 400, "{}", body(&posted));
    assert!(body(&posted).contains("already used"), "{}", body(&posted));
    assert!(!signed_in_here(&world, &mut other));
}

#[test]
fn unsolicited_replayed_in_a_new_envelope_is_refused() {
    // The same signed assertion in a new Response (new ID, other RelayState), in another
    // browser: the assertion's ID is what is taken once.
    let world = linked_landing_world("");
    let signed = signed_assertion(&world, None);
    let first = deliver(&world, &mut Browser::default(), &response(&world, &signed, None), "");
    assert_eq!(location(&first), "/account");
    world.clock.advance(5);
    let mut other = Browser::default();
    let res = deliver(&world, &mut other, &response_with_id(&world, "_r2", &signed, None), "other");
    assert_eq!(res.status(), 400, "{}", body(&res));
    assert!(body(&res).contains("already used"), "{}", body(&res));
    assert!(!signed_in_here(&world, &mut other));
}

#[test]
fn unsolicited_replayed_encrypted_afresh_is_refused() {
    // An encrypted unsolicited assertion taken once; the attacker decrypts nothing but
    // re-encrypts nothing either: the same EncryptedAssertion in a new envelope, and the
    // plain signed assertion (which it could have encrypted itself) are both used.
    let world = linked_landing_world(
        "sp_encryption_key_env = \"SAML_ENC_KEY\"\nsp_encryption_certificate_env = \"SAML_ENC_CERT\"",
    );
    let signed = signed_assertion(&world, None);
    let encrypted = to_keyedge(&signed);
    let first = deliver(&world, &mut Browser::default(), &response(&world, &encrypted, None), "");
    assert_eq!(location(&first), "/account", "{}", body(&first));
    for xml in [
        response_with_id(&world, "_r2", &encrypted, None),
        response_with_id(&world, "_r3", &to_keyedge(&signed), None),
        response_with_id(&world, "_r4", &signed, None),
    ] {
        let mut other = Browser::default();
        let res = deliver(&world, &mut other, &xml, "");
        assert_eq!(res.status(), 400, "{}", body(&res));
        assert!(body(&res).contains("already used"), "{}", body(&res));
        assert!(!signed_in_here(&world, &mut other));
    }
}

#[test]
fn unsolicited_replayed_as_its_single_use_marker_expires_is_refused() {
    // The marker of an unsolicited assertion lives as long as the assertion (its bearer
    // NotOnOrAfter plus the skew): replayed around that instant, it is expired, not new.
    for skew in [0, 120] {
        for after in [299, 300, 301] {
            let world = linked_landing_world(&format!("allowed_clock_skew = {skew}"));
            let xml = response(&world, &signed_assertion(&world, None), None);
            let first = deliver(&world, &mut Browser::default(), &xml, "");
            assert_eq!(location(&first), "/account", "{}", body(&first));
            world.clock.advance(after + skew);
            let mut other = Browser::default();
            let res = deliver(&world, &mut other, &xml, "");
            assert!(
                matches!(res.status().as_u16(), 400 | 502),
                "skew {skew}, +{after}: {} {}",
                res.status(),
                body(&res)
            );
            assert!(!signed_in_here(&world, &mut other), "skew {skew}, +{after}: no session");
        }
    }
}

#[test]
fn unsolicited_login_at_a_link_only_idp_signs_nobody_in() {
    // An IdP that may only be linked from an account page does not sign in by itself either.
    let world = landing_world("link_only = true");
    let mut browser = Browser::default();
    let res = deliver(&world, &mut browser, &response(&world, &signed_assertion(&world, None), None), "");
    assert!(res.status().is_client_error() || res.status().is_server_error(), "{} {}", res.status(), body(&res));
    assert!(user_of_link(&world, "corp", ALICE).is_none());
    assert!(!signed_in_here(&world, &mut browser));
}

#[test]
fn unsolicited_for_one_alias_is_refused_at_its_twin() {
    // Two aliases for one IdP (same entity id, certificate and SP entity id), both taking
    // IdP-initiated logins: the single-use marker is per alias, so the assertion for corp
    // must not count at corp2 (its Recipient and Destination are corp's ACS).
    let world = world_with(&format!("{}\n{}", provider("corp", LANDING), provider("corp2", LANDING)));
    // alice's corp identity is linked by one login keyedge asked for.
    let mut browser = Browser::default();
    let (id, relay, _) = start(&world, &mut browser);
    deliver(&world, &mut browser, &response(&world, &signed_assertion(&world, Some(&id)), Some(&id)), &relay);
    let xml = response(&world, &signed_assertion(&world, None), None);
    let first = deliver(&world, &mut Browser::default(), &xml, "");
    assert_eq!(location(&first), "/account");
    let mut other = Browser::default();
    let res = through(
        &world,
        &mut other,
        ACS2,
        &xml.replace(&format!("Destination=\"{ACS}\""), &format!("Destination=\"{ACS2}\"")),
        "",
    );
    assert!(matches!(res.status().as_u16(), 400 | 502), "{} {}", res.status(), body(&res));
    assert!(user_of_link(&world, "corp2", ALICE).is_none());
    assert!(!signed_in_here(&world, &mut other));
}

#[test]
fn unsolicited_parallel_posts_take_the_assertion_once() {
    // Race: the same unsolicited response posted five times at once (several isolates).
    let world = landing_world("");
    let xml = response(&world, &signed_assertion(&world, None), None);
    let answers = world.send_all((0..5).map(|_| post_request(ACS, &xml, "")).collect());
    let handed_back = answers.iter().filter(|r| r.status() == 303).count();
    assert_eq!(handed_back, 1, "{:?}", answers.iter().map(|r| r.status()).collect::<Vec<_>>());
}

#[test]
fn unsolicited_hand_back_without_its_flow_cookie_is_refused() {
    // The 303 target of an unsolicited post, opened in another browser (without the flow
    // cookie the post set in the browser that carried it).
    let world = landing_world("");
    let xml = response(&world, &signed_assertion(&world, None), None);
    let posted = post_to(&world, ACS, &xml, "");
    assert_eq!(posted.status(), 303);
    let mut other = Browser::default();
    let res = other.get(&world, &location(&posted));
    assert_refused(&world, &res, "another browser");
    assert!(!signed_in_here(&world, &mut other));
}

#[test]
fn unsolicited_hand_back_replayed_after_the_login_is_refused() {
    // The hand-back URL and its flow cookie again, after the login completed (a shared
    // computer's history, a proxy log): the state's marker was taken.
    let world = linked_landing_world("");
    let xml = response(&world, &signed_assertion(&world, None), None);
    let posted = post_to(&world, ACS, &xml, "");
    let mut browser = Browser::default();
    browser.remember(&posted);
    let saved = browser.clone();
    let done = browser.get(&world, &location(&posted));
    assert_eq!(location(&done), "/account");
    let mut thief = saved;
    let again = thief.get(&world, &location(&posted));
    assert!(matches!(again.status().as_u16(), 400 | 409), "{} {}", again.status(), body(&again));
    assert!(!signed_in_here(&world, &mut thief), "no session");
}

#[test]
fn unsolicited_relay_state_is_not_followed() {
    // The IdP's RelayState (the attacker's, when the attacker posts) steers nothing.
    for relay in ["https://evil.example/", "//evil.example/", "/\\evil.example/", "/account/../../evil"] {
        let world = linked_landing_world("");
        let mut browser = Browser::default();
        let xml = response(&world, &signed_assertion(&world, None), None);
        let res = deliver(&world, &mut browser, &xml, relay);
        assert_eq!(location(&res), "/account", "{relay}");
    }
}

#[test]
fn solicited_response_is_still_bound_to_its_browser_when_idp_initiated_login_is_on() {
    // With idp_initiated_login on, an answer to a request of keyedge's is not treated as
    // unsolicited: carried to another browser, or without its RelayState, it completes nothing.
    let world = landing_world("");
    let mut victim = Browser::default();
    let (id, relay, _) = start(&world, &mut victim);
    let xml = response(&world, &signed_assertion(&world, Some(&id)), Some(&id));
    let mut attacker = Browser::default();
    let res = deliver(&world, &mut attacker, &xml, &relay);
    assert_refused(&world, &res, "another browser");
    let res = deliver(&world, &mut attacker, &xml, "");
    assert_refused(&world, &res, "no RelayState");
    assert!(!signed_in_here(&world, &mut attacker));
}

#[test]
fn unsolicited_assertion_dressed_as_an_answer_to_the_victims_request_is_refused() {
    // mallory's own unsolicited assertion (no InResponseTo in its signed confirmation) in an
    // unsigned Response that names alice's request and carries alice's RelayState: it must
    // neither complete alice's login nor become an unsolicited one.
    let world = landing_world("");
    let mut victim = Browser::default();
    let (id, relay, _) = start(&world, &mut victim);
    let mallorys = sign(&assertion_of(&world, "_m1", MALLORY, "mallory", None), "_m1", IDP_KEY);
    let xml = response(&world, &mallorys, Some(&id));
    let res = deliver(&world, &mut victim, &xml, &relay);
    assert_refused(&world, &res, "InResponseTo");
    assert!(!signed_in_here(&world, &mut victim));
}

#[test]
fn solicited_assertion_with_its_in_response_to_dropped_from_the_envelope_is_not_unsolicited() {
    // alice's answer to her request (InResponseTo in the signed confirmation), the Response's
    // own InResponseTo dropped and posted by the attacker without RelayState: it stays an
    // answer to alice's request, bound to her browser.
    let world = landing_world("");
    let mut victim = Browser::default();
    let (id, _, _) = start(&world, &mut victim);
    let xml = response(&world, &signed_assertion(&world, Some(&id)), None);
    let mut attacker = Browser::default();
    let res = deliver(&world, &mut attacker, &xml, "");
    assert_refused(&world, &res, "no RelayState");
    assert!(!signed_in_here(&world, &mut attacker));
}

#[test]
fn unsolicited_login_of_a_new_identity_into_a_browser_without_a_session_signs_nobody_in() {
    let world = landing_world("");
    // mallory's own login at the IdP (IdP-initiated), her response not used by her.
    let mallorys =
        response(&world, &sign(&assertion_of(&world, "_m1", MALLORY, "mallory", None), "_m1", IDP_KEY), None);
    // alice's browser, no keyedge session, visits mallory's page, which auto-posts it.
    let mut alice = Browser::default();
    let res = deliver(&world, &mut alice, &mallorys, "");
    // mallory's identity is linked to nothing: the browser is asked to sign in at the IdP
    // (as whoever holds it), keyedge asking; nothing is linked, nobody signed in.
    assert!(location(&res).starts_with(SSO), "{}", location(&res));
    assert!(!signed_in_here(&world, &mut alice), "alice's browser is signed in as mallory");
    assert!(user_of_link(&world, "corp", MALLORY).is_none());
}

/// alice has an account through the OIDC IdP `up` (username `alice`, verified address),
/// signed in in `browser`; corp takes IdP-initiated logins; `extra` configuration.
fn alice_signed_in_with_corp(extra: &str) -> (Accounts, Browser, String) {
    let corp = provider("corp", LANDING);
    let a = accounts_world("", "", "", &format!("{corp}\n{FLOWS}\n{extra}"));
    let mut browser = Browser::default();
    let (res, rp) = callback(&a.world, &mut browser, "up", &a.world.idp, "alice");
    let alice = sub_of(&a.world, &code_of(&res), &rp);
    assert!(signed_in_here(&a.world, &mut browser));
    (a, browser, alice)
}

/// mallory's unsolicited response: her own NameID, and a `uid` equal to alice's username.
fn mallory_as_uid_alice(world: &World) -> String {
    response(world, &sign(&assertion_of(world, "_m1", MALLORY, "alice", None), "_m1", IDP_KEY), None)
}

#[test]
fn unsolicited_login_csrf_links_the_attackers_identity_by_reauthentication() {
    let (a, mut alice_browser, alice) = alice_signed_in_with_corp("");
    let world = &a.world;
    // mallory's page auto-posts her unsolicited response through alice's browser.
    let res = deliver(world, &mut alice_browser, &mallory_as_uid_alice(world), "");
    let shown_first_login = body(&res).contains("/first-login/confirm");
    // alice, on a keyedge page in her own browser, adds "alice (Corp SSO)" to her account and
    // confirms it with the IdP she always uses (which answers from its own session).
    if shown_first_login {
        alice_browser.submit(world, "/first-login/confirm", &[("action", "link")]);
        let at_up = location(&alice_browser.get(world, "/first-login/reauthenticate/up"));
        if at_up.starts_with("https://idp.test/") {
            alice_browser.get(world, &world.idp.authorize(&at_up, "alice"));
        }
    }
    // mallory then signs in with a fresh unsolicited assertion of her own: as alice.
    let fresh = response(world, &sign(&assertion_of(world, "_m2", MALLORY, "alice", None), "_m2", IDP_KEY), None);
    let mut mallory = Browser::default();
    deliver(world, &mut mallory, &fresh, "");
    let page = mallory.get(world, "/account");
    assert!(!(page.status() == 200 && body(&page).contains("alice@example.com")), "mallory is signed in as alice");
    assert_ne!(user_of_link(world, "corp", MALLORY), Some(alice.clone()), "mallory's corp identity is linked to alice");
    assert!(!shown_first_login, "a signed-in browser was shown another identity's first-login page");
}

#[test]
fn unsolicited_login_csrf_links_the_attackers_identity_by_the_victims_mail() {
    let (a, mut alice_browser, alice) = alice_signed_in_with_corp(MAIL);
    let world = &a.world;
    deliver(world, &mut alice_browser, &mallory_as_uid_alice(world), "");
    alice_browser.submit(world, "/first-login/confirm", &[("action", "link")]);
    // The mail: to alice's own verified address, naming the identity "alice (Corp SSO)".
    if let Some(mail) = a.mails_to("alice@example.com").last() {
        let text = mail["text"].as_str().unwrap_or_default().to_owned();
        if let Some(start) = text.find("https://keyedge.test/first-login/verify-email?token=") {
            let link = text[start..].split_whitespace().next().unwrap().to_owned();
            // alice reads her mail in the same browser and follows the link.
            alice_browser.get(world, &link);
        }
    }
    let fresh = response(world, &sign(&assertion_of(world, "_m2", MALLORY, "alice", None), "_m2", IDP_KEY), None);
    let mut mallory = Browser::default();
    deliver(world, &mut mallory, &fresh, "");
    let page = mallory.get(world, "/account");
    assert!(!(page.status() == 200 && body(&page).contains("alice@example.com")), "mallory is signed in as alice");
    assert_ne!(user_of_link(world, "corp", MALLORY), Some(alice), "mallory's corp identity is linked to alice");
}

#[test]
fn unsolicited_login_never_replaces_a_session_even_through_a_first_login() {
    // mallory's unsolicited response for a new identity (review off, so her account is
    // created at once) posted through alice's signed-in browser: alice stays alice.
    let (a, mut alice_browser, alice) = alice_signed_in_with_corp("");
    let world = &a.world;
    let mallorys = response(world, &sign(&assertion_of(world, "_m1", MALLORY, "mallory", None), "_m1", IDP_KEY), None);
    let res = deliver(world, &mut alice_browser, &mallorys, "");
    assert_eq!(res.status(), 409, "{}", body(&res));
    let page = alice_browser.get(world, "/account");
    assert_eq!(page.status(), 200);
    assert!(body(&page).contains("alice@example.com"), "still alice ({alice}): {}", body(&page));
}
