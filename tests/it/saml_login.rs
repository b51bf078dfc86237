//! SAML 2.0 IdPs through keyedge, in the in-memory harness: the AuthnRequest keyedge sends, the
//! response an IdP posts back (signed here with the IdP's key by keyedge's own XML-Signature
//! code — the independent signer, xmlsec1, made the fixtures of `saml_response.rs`), and each
//! way a response can be replayed, moved to another browser or answer another request.

use crate::common::*;
use base64::Engine;
use keyedge::core::ports::Clock;
use keyedge::core::upstream::saml::dsig::{sign_enveloped, SpKey};
use keyedge::core::Keyedge;

const IDP_ENTITY: &str = "https://idp.example.org/saml";
const SSO: &str = "https://idp.example.org/sso";
const ACS: &str = "https://keyedge.test/broker/corp/endpoint";
const IDP_KEY: &str = include_str!("../fixtures/saml-harness/idp-key.pem");
const IDP_CERT: &str = include_str!("../fixtures/saml-harness/idp-cert.pem");
const OTHER_KEY: &str = include_str!("../fixtures/saml-harness/other-key.pem");
const SP_KEY: &str = include_str!("../fixtures/saml-harness/sp-key.pem");
const SP_CERT: &str = include_str!("../fixtures/saml-harness/sp-cert.pem");

const ENC_KEY: &str = include_str!("../fixtures/saml/keys/sp-rsa.key");
const ENC_CERT: &str = include_str!("../fixtures/saml/keys/sp-rsa.crt");

fn saml_secrets(name: &str) -> Option<String> {
    match name {
        "SAML_SP_KEY" => Some(SP_KEY.to_owned()),
        "SAML_SP_CERT" => Some(SP_CERT.to_owned()),
        "SAML_ENC_KEY" => Some(ENC_KEY.to_owned()),
        "SAML_ENC_CERT" => Some(ENC_CERT.to_owned()),
        "SAML_IDP_CERT" => Some(IDP_CERT.to_owned()),
        _ => secrets(name),
    }
}

fn corp(options: &str) -> String {
    format!(
        r#"
[[identity_providers]]
alias = "corp"
kind = "saml"
display_name = "Corp SSO"
idp_entity_id = "{IDP_ENTITY}"
single_sign_on_service_url = "{SSO}"
validating_x509_certificates = ['''{IDP_CERT}''']
trust_email = true
first_login_flow = "no review"
{options}

[[identity_providers.mappers]]
name = "department"
kind = "attribute_importer"
claim = "urn:oid:2.5.4.11"
attribute = "department"

[[first_login_flows]]
alias = "no review"
review_profile = "off"
"#
    )
}

fn saml_world(options: &str) -> World {
    let mut world = World::new();
    let text = ConfigBuilder::new().extra(&corp(options)).build();
    world.app = Keyedge::from_config_text(&text, &saml_secrets).expect("SAML test config is valid");
    world
}

/// What the test IdP puts into its response.
struct Answer<'a> {
    in_response_to: Option<&'a str>,
    name_id: &'a str,
    audience: &'a str,
    recipient: &'a str,
    issuer: &'a str,
    /// Seconds from now the assertion stays valid.
    valid_for: i64,
    key: &'a str,
    sign_assertion: bool,
    /// Encrypted to this certificate (AES-128-GCM, RSA-OAEP), as an `EncryptedAssertion`.
    encrypt_to: Option<&'a str>,
    /// Markup the IdP puts into the assertion after its Issuer (signed with it).
    extra: &'a str,
    assertion_id: &'a str,
    uid: &'a str,
}

impl Default for Answer<'_> {
    fn default() -> Self {
        Answer {
            in_response_to: None,
            name_id: "alice@example.org",
            audience: ISSUER,
            recipient: ACS,
            issuer: IDP_ENTITY,
            valid_for: 300,
            key: IDP_KEY,
            sign_assertion: true,
            encrypt_to: None,
            extra: "",
            assertion_id: "_a1",
            uid: "alice",
        }
    }
}

fn ts(t: i64) -> String {
    keyedge::core::upstream::saml::protocol::timestamp(t)
}

/// A Response as an IdP writes one, its assertion (or the response) signed with `a.key`.
fn response_xml(world: &World, a: &Answer) -> String {
    let now = world.clock.now();
    let irt = a.in_response_to.map(|i| format!(r#" InResponseTo="{i}""#)).unwrap_or_default();
    let assertion = format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{extra}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{irt} Recipient="{recipient}" NotOnOrAfter="{until}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="_session1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="uid"><saml:AttributeValue>{uid}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="urn:oid:2.5.4.42" FriendlyName="givenName"><saml:AttributeValue>Alice</saml:AttributeValue></saml:Attribute><saml:Attribute Name="urn:oid:2.5.4.11" FriendlyName="ou"><saml:AttributeValue>Research</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
        now = ts(now),
        issuer = a.issuer,
        name_id = a.name_id,
        recipient = a.recipient,
        until = ts(now + a.valid_for),
        before = ts(now - 60),
        audience = a.audience,
        extra = a.extra,
        assertion_id = a.assertion_id,
        uid = a.uid,
    );
    let key = SpKey::from_pkcs8_pem(a.key).unwrap();
    let assertion =
        if a.sign_assertion { sign_enveloped(&assertion, a.assertion_id, &key).unwrap() } else { assertion };
    let assertion = match a.encrypt_to {
        Some(cert) => encrypted_assertion(&assertion, cert),
        None => assertion,
    };
    let response = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="{now}" Destination="{ACS}"{irt}><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#,
        now = ts(now),
        issuer = a.issuer,
    );
    if a.sign_assertion {
        response
    } else {
        sign_enveloped(&response, "_r1", &key).unwrap()
    }
}

/// `assertion` as an IdP encrypts it (XML Encryption 1.1): AES-128-GCM content under a fresh
/// key, the key wrapped with RSA-OAEP (SHA-1, MGF1-SHA-1) to `cert_pem`'s public key. Made
/// with the `aes-gcm` and `rsa` crates directly, not with keyedge's code.
fn encrypted_assertion(assertion: &str, cert_pem: &str) -> String {
    use aes_gcm::aead::{Aead, KeyInit};
    use rsa::pkcs8::DecodePublicKey;
    use x509_cert::der::{DecodePem, Encode};
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let cert = x509_cert::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().unwrap();
    let public = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
    let content_key: [u8; 16] = rand::random();
    let iv: [u8; 12] = rand::random();
    let sealed = aes_gcm::Aes128Gcm::new_from_slice(&content_key)
        .unwrap()
        .encrypt(&aes_gcm::Nonce::from(iv), assertion.as_bytes())
        .unwrap();
    let wrapped = public.encrypt(&mut rand::thread_rng(), rsa::Oaep::new::<sha1::Sha1>(), &content_key).unwrap();
    format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
        b64(&wrapped),
        b64(&[iv.as_slice(), &sealed].concat()),
    )
}

/// The AuthnRequest keyedge redirected to: its XML (inflated) and the RelayState.
fn authn_request(at_idp: &str) -> (String, String) {
    assert!(at_idp.starts_with(SSO), "sent to the IdP's SSO service: {at_idp}");
    let request = query_param(at_idp, "SAMLRequest").expect("SAMLRequest");
    let xml = keyedge::core::broker::saml::inflate(&request).expect("deflated AuthnRequest");
    (xml, query_param(at_idp, "RelayState").expect("RelayState"))
}

fn attribute<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("{name} in {xml}")) + name.len() + 3;
    &xml[start..start + xml[start..].find('"').unwrap()]
}

/// The IdP's POST to keyedge's ACS: cross-site, so without keyedge's `SameSite=Lax` cookies.
fn post_to_acs(world: &World, xml: &str, relay_state: &str) -> http::Response<Vec<u8>> {
    post_message(world, "SAMLResponse", xml, relay_state)
}

/// A message from the IdP by the HTTP-POST binding, as `param`.
fn post_message(world: &World, param: &str, xml: &str, relay_state: &str) -> http::Response<Vec<u8>> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([(param, encoded.as_str()), ("RelayState", relay_state)])
        .finish();
    let req = http::Request::post(ACS)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://idp.example.org")
        .header("sec-fetch-site", "cross-site")
        .body(body.into_bytes())
        .unwrap();
    world.send(req)
}

/// Starts a login at `corp` for the `app` client: the request keyedge sent and its RelayState.
fn start(world: &World, browser: &mut Browser) -> (RpRequest, String, String) {
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login_via(world, browser, &rp.query, "corp");
    let (xml, relay) = authn_request(&at_idp);
    (rp, xml, relay)
}

/// The IdP's post, then the browser following keyedge's 303 to the callback.
fn answer(world: &World, browser: &mut Browser, xml: &str, relay: &str) -> http::Response<Vec<u8>> {
    let posted = post_to_acs(world, xml, relay);
    assert_eq!(posted.status(), 303, "the post is checked and handed back: {}", body(&posted));
    browser.get(world, &location(&posted))
}

#[test]
fn saml_sp_initiated_login_post_binding_issues_a_code_with_the_attributes() {
    let world = saml_world("");
    let mut browser = Browser::default();
    let (rp, request, relay) = start(&world, &mut browser);
    let id = attribute(&request, "ID").to_owned();
    assert_eq!(attribute(&request, "Destination"), SSO);
    assert_eq!(attribute(&request, "AssertionConsumerServiceURL"), ACS);
    assert!(request.contains(&format!("<saml:Issuer>{ISSUER}</saml:Issuer>")), "{request}");
    assert!(request.contains("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"), "{request}");
    let xml = response_xml(&world, &Answer { in_response_to: Some(&id), ..Answer::default() });
    let done = answer(&world, &mut browser, &xml, &relay);
    let code = code_of(&done);
    let tokens = json(&redeem(&world, &code, &rp.verifier));
    let claims = id_claims(&tokens);
    assert_eq!(claims["email"], "alice@example.org");
    assert_eq!(claims["email_verified"], true, "trust_email");
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["preferred_username"], "alice");
    let user = user_of_link(&world, "corp", "alice@example.org").expect("the identity is linked by its NameID");
    let record = world.kv(&keyedge::core::keys::user(&user)).unwrap();
    assert!(record.contains("Research"), "the attribute importer took ou by its OID name: {record}");
}

#[test]
fn saml_response_replayed_after_the_login_completes_nothing() {
    let world = saml_world("");
    let mut browser = Browser::default();
    let (_, request, relay) = start(&world, &mut browser);
    let xml = response_xml(&world, &Answer { in_response_to: Some(attribute(&request, "ID")), ..Answer::default() });
    let posted = post_to_acs(&world, &xml, &relay);
    let first = browser.get(&world, &location(&posted));
    code_of(&first);
    // The same sealed answer again, and the same response posted again.
    let again = browser.get(&world, &location(&posted));
    assert_eq!(again.status(), 400, "{}", body(&again));
    let reposted = answer(&world, &mut browser, &xml, &relay);
    assert_eq!(reposted.status(), 400, "{}", body(&reposted));
}

#[test]
fn saml_checked_assertion_expires_between_the_post_and_the_get() {
    let world = saml_world("");
    let mut browser = Browser::default();
    let (_, request, relay) = start(&world, &mut browser);
    let a = Answer { in_response_to: Some(attribute(&request, "ID")), valid_for: 3600, ..Answer::default() };
    let posted = post_to_acs(&world, &response_xml(&world, &a), &relay);
    assert_eq!(posted.status(), 303);
    world.clock.advance(301);
    let res = browser.get(&world, &location(&posted));
    assert_eq!(res.status(), 400, "{}", body(&res));
    assert!(body(&res).contains("expired or is not keyedge"), "{}", body(&res));
}

#[test]
fn saml_response_carried_to_another_browser_is_refused() {
    let world = saml_world("");
    let mut victim = Browser::default();
    let (_, request, relay) = start(&world, &mut victim);
    let xml = response_xml(&world, &Answer { in_response_to: Some(attribute(&request, "ID")), ..Answer::default() });
    let mut attacker = Browser::default();
    let res = answer(&world, &mut attacker, &xml, &relay);
    assert_eq!(res.status(), 400);
    assert!(body(&res).contains("another browser"), "{}", body(&res));
    assert!(user_of_link(&world, "corp", "alice@example.org").is_none());
}

#[test]
fn saml_response_to_another_request_of_the_same_browser_is_refused() {
    let world = saml_world("");
    let mut browser = Browser::default();
    let (_, first, _) = start(&world, &mut browser);
    let (_, _, second_relay) = start(&world, &mut browser);
    // The answer to the first request, delivered with the second login's RelayState.
    let xml = response_xml(&world, &Answer { in_response_to: Some(attribute(&first, "ID")), ..Answer::default() });
    let res = answer(&world, &mut browser, &xml, &second_relay);
    assert_eq!(res.status(), 502, "{}", body(&res));
    assert!(world.log.borrow().iter().any(|l| l.contains("InResponseTo")), "{:?}", world.log.borrow());
    assert!(user_of_link(&world, "corp", "alice@example.org").is_none());
}

#[test]
fn saml_unsolicited_response_is_refused() {
    let world = saml_world("");
    let mut browser = Browser::default();
    let (_, _, relay) = start(&world, &mut browser);
    let xml = response_xml(&world, &Answer::default());
    let res = post_to_acs(&world, &xml, &relay);
    assert_eq!(res.status(), 400, "{}", body(&res));
    assert!(body(&res).contains("IdP-initiated"), "{}", body(&res));
}

#[test]
fn saml_response_signed_by_another_key_writes_nothing() {
    let world = saml_world("");
    let mut browser = Browser::default();
    let (_, request, relay) = start(&world, &mut browser);
    let id = attribute(&request, "ID").to_owned();
    for a in [
        Answer { in_response_to: Some(&id), key: OTHER_KEY, ..Answer::default() },
        Answer { in_response_to: Some(&id), key: OTHER_KEY, sign_assertion: false, ..Answer::default() },
    ] {
        let keys_before = world.store.keys().len();
        let res = post_to_acs(&world, &response_xml(&world, &a), &relay);
        assert_eq!(res.status(), 502, "{}", body(&res));
        assert_eq!(world.store.keys().len(), keys_before, "nothing written");
    }
}

#[test]
fn saml_response_for_another_audience_recipient_issuer_or_expired_is_refused() {
    let world = saml_world("");
    let mut browser = Browser::default();
    let (_, request, relay) = start(&world, &mut browser);
    let id = attribute(&request, "ID").to_owned();
    let irt = Some(id.as_str());
    for (what, a) in [
        ("audience", Answer { in_response_to: irt, audience: "https://other-sp.example", ..Answer::default() }),
        ("recipient", Answer { in_response_to: irt, recipient: "https://other-sp.example/acs", ..Answer::default() }),
        ("issuer", Answer { in_response_to: irt, issuer: "https://evil.example", ..Answer::default() }),
        ("expired", Answer { in_response_to: irt, valid_for: -120, ..Answer::default() }),
    ] {
        let res = post_to_acs(&world, &response_xml(&world, &a), &relay);
        assert_eq!(res.status(), 502, "{what}: {}", body(&res));
    }
}

#[test]
fn saml_response_signed_as_a_whole_is_accepted_unless_assertions_must_be_signed() {
    for (options, accepted) in [("", true), ("want_assertions_signed = true", false)] {
        let world = saml_world(options);
        let mut browser = Browser::default();
        let (_, request, relay) = start(&world, &mut browser);
        let a = Answer { in_response_to: Some(attribute(&request, "ID")), sign_assertion: false, ..Answer::default() };
        let posted = post_to_acs(&world, &response_xml(&world, &a), &relay);
        assert_eq!(posted.status() == 303, accepted, "{options}: {}", body(&posted));
    }
}

/// A message from the IdP by the HTTP-Redirect binding: deflated into keyedge's endpoint URL
/// as `param`, the query signed with `key` (or not signed).
fn redirect_message(param: &str, xml: &str, relay_state: &str, key: Option<&str>) -> String {
    let deflated = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6);
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let value: String = url::form_urlencoded::byte_serialize(encoded.as_bytes()).collect();
    let query = match key {
        Some(key) => {
            let key = SpKey::from_pkcs8_pem(key).unwrap();
            keyedge::core::upstream::saml::dsig::sign_redirect(param, &value, Some(relay_state), &key).unwrap()
        }
        None => {
            let relay: String = url::form_urlencoded::byte_serialize(relay_state.as_bytes()).collect();
            format!("{param}={value}&RelayState={relay}")
        }
    };
    format!("{ACS}?{query}")
}

fn redirect_to_acs(xml: &str, relay_state: &str, key: Option<&str>) -> String {
    redirect_message("SAMLResponse", xml, relay_state, key)
}

#[test]
fn saml_bindings_3_4_redirect_response_counts_only_with_its_query_signature() {
    let world = saml_world("post_binding_response = false");
    let mut browser = Browser::default();
    let (rp, request, relay) = start(&world, &mut browser);
    assert!(request.contains("ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\""), "{request}");
    let id = attribute(&request, "ID").to_owned();
    // The XML itself unsigned: only the query signature vouches for it.
    let xml = response_xml(
        &world,
        &Answer { in_response_to: Some(&id), sign_assertion: false, key: IDP_KEY, ..Answer::default() },
    );
    let unsigned_xml = xml.split("<ds:Signature").next().unwrap().to_owned()
        + &xml[xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len()..];
    // Unsigned query, signed by another key, RelayState changed after signing: refused.
    for url in [
        redirect_to_acs(&unsigned_xml, &relay, None),
        redirect_to_acs(&unsigned_xml, &relay, Some(OTHER_KEY)),
        redirect_to_acs(&unsigned_xml, &relay, Some(IDP_KEY)).replacen("RelayState=", "RelayState=x", 1),
    ] {
        let res = browser.get(&world, &url);
        assert!(matches!(res.status().as_u16(), 400 | 502), "{url}: {} {}", res.status(), body(&res));
        assert!(user_of_link(&world, "corp", "alice@example.org").is_none());
    }
    let res = browser.get(&world, &redirect_to_acs(&unsigned_xml, &relay, Some(IDP_KEY)));
    assert_eq!(res.status(), 303, "{}", body(&res));
    let done = browser.get(&world, &location(&res));
    let tokens = json(&redeem(&world, &code_of(&done), &rp.verifier));
    assert_eq!(id_claims(&tokens)["email"], "alice@example.org");
}

#[test]
fn saml_descriptor_names_the_acs_the_certificate_and_the_nameid_format() {
    let world = saml_world("want_authn_requests_signed = true\nsignature_algorithm = \"ECDSA_SHA256\"\nsp_signing_key_env = \"SAML_SP_KEY\"\nsp_certificate_env = \"SAML_SP_CERT\"");
    let res = world.send(http::Request::get(format!("{ACS}/descriptor")).body(Vec::new()).unwrap());
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/samlmetadata+xml");
    let xml = body(&res);
    assert!(xml.contains(&format!("entityID=\"{ISSUER}\"")), "{xml}");
    assert!(xml.contains(&format!("Location=\"{ACS}\"")), "{xml}");
    assert!(xml.contains("AuthnRequestsSigned=\"true\""), "{xml}");
    let cert_body: String = SP_CERT.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(xml.contains(&cert_body), "the SP certificate: {xml}");
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"), "{xml}");
    // keyedge's own parser reads it as well-formed SAML metadata.
    assert!(keyedge::core::upstream::saml::xml::parse(&xml).is_ok());
}

const ENCRYPTED: &str = "want_assertions_encrypted = true\nsp_encryption_key_env = \"SAML_ENC_KEY\"\nsp_encryption_certificate_env = \"SAML_ENC_CERT\"";

#[test]
fn saml_core_6_encrypted_assertion_logs_in_and_a_plain_one_is_refused_when_encryption_is_wanted() {
    let world = saml_world(ENCRYPTED);
    let mut browser = Browser::default();
    let (rp, request, relay) = start(&world, &mut browser);
    let a = Answer { in_response_to: Some(attribute(&request, "ID")), encrypt_to: Some(ENC_CERT), ..Answer::default() };
    let xml = response_xml(&world, &a);
    assert!(!xml.contains("alice"), "the assertion travels encrypted");
    let done = answer(&world, &mut browser, &xml, &relay);
    let claims = id_claims(&json(&redeem(&world, &code_of(&done), &rp.verifier)));
    assert_eq!(claims["email"], "alice@example.org");
    assert_eq!(claims["given_name"], "Alice");
    // In the clear, from the same IdP with a valid signature: refused, nothing linked.
    let world = saml_world(ENCRYPTED);
    let mut browser = Browser::default();
    let (_, request, relay) = start(&world, &mut browser);
    let xml = response_xml(&world, &Answer { in_response_to: Some(attribute(&request, "ID")), ..Answer::default() });
    let res = post_to_acs(&world, &xml, &relay);
    assert_eq!(res.status(), 502, "{}", body(&res));
    assert!(world.log.borrow().iter().any(|l| l.contains("want_assertions_encrypted")), "{:?}", world.log.borrow());
    assert!(user_of_link(&world, "corp", "alice@example.org").is_none());
    // Encrypted to another key (the IdP's own certificate): not decrypted, refused.
    let mut browser = Browser::default();
    let (_, request, relay) = start(&world, &mut browser);
    let a = Answer { in_response_to: Some(attribute(&request, "ID")), encrypt_to: Some(IDP_CERT), ..Answer::default() };
    let res = post_to_acs(&world, &response_xml(&world, &a), &relay);
    assert_eq!(res.status(), 502, "{}", body(&res));
    assert!(user_of_link(&world, "corp", "alice@example.org").is_none());
}

#[test]
fn saml_core_6_an_encrypted_assertion_holding_another_assertion_is_refused() {
    // Signed by the IdP, encrypted to keyedge, with an assertion inside an Advice: the one
    // assertion rule holds inside the plaintext as in a plain response.
    let world = saml_world(ENCRYPTED);
    let inner = r#"<saml:Advice><saml:Assertion ID="_inner" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://idp.example.org/saml</saml:Issuer></saml:Assertion></saml:Advice>"#;
    let mut browser = Browser::default();
    let (_, request, relay) = start(&world, &mut browser);
    let id = attribute(&request, "ID").to_owned();
    let a = Answer { in_response_to: Some(&id), encrypt_to: Some(ENC_CERT), extra: inner, ..Answer::default() };
    let res = post_to_acs(&world, &response_xml(&world, &a), &relay);
    assert_eq!(res.status(), 502, "{}", body(&res));
    assert!(world.log.borrow().iter().any(|l| l.contains("assertions, not exactly one")), "{:?}", world.log.borrow());
    assert!(user_of_link(&world, "corp", "alice@example.org").is_none());
}

#[test]
fn saml_descriptor_publishes_the_encryption_certificate() {
    let world = saml_world(ENCRYPTED);
    let res = world.send(http::Request::get(format!("{ACS}/descriptor")).body(Vec::new()).unwrap());
    let xml = body(&res);
    let cert_body: String = ENC_CERT.lines().filter(|l| !l.starts_with("-----")).collect();
    let at = xml.find(r#"<md:KeyDescriptor use="encryption">"#).unwrap_or_else(|| panic!("{xml}"));
    assert!(
        xml[at..].starts_with(&format!(
            r#"<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_body}<"#
        )),
        "{xml}"
    );
    let plain = saml_world("");
    let xml = body(&plain.send(http::Request::get(format!("{ACS}/descriptor")).body(Vec::new()).unwrap()));
    assert!(!xml.contains("encryption"), "{xml}");
}

#[test]
fn saml_configuration_of_encrypted_assertions_needs_a_matching_rsa_key_and_certificate() {
    let load = |options: &str| {
        let text = ConfigBuilder::new().extra(&corp(options)).build();
        keyedge::core::config::Config::load(&text, &saml_secrets).map(|_| ()).map_err(|e| e.to_string())
    };
    assert!(load(ENCRYPTED).is_ok());
    let e = load("want_assertions_encrypted = true").unwrap_err();
    assert!(e.contains("sp_encryption_key_env"), "{e}");
    let e = load("sp_encryption_key_env = \"SAML_ENC_KEY\"").unwrap_err();
    assert!(e.contains("sp_encryption_certificate_env"), "{e}");
    let e = load("sp_encryption_key_env = \"SAML_ENC_KEY\"\nsp_encryption_certificate_env = \"SAML_IDP_CERT\"")
        .unwrap_err();
    assert!(e.contains("is not the certificate of the key"), "{e}");
    // The P-256 signing key cannot decrypt: want_assertions_encrypted does not fall back to it.
    let e = load(
        "want_assertions_encrypted = true\nsp_signing_key_env = \"SAML_SP_KEY\"\nsp_certificate_env = \"SAML_SP_CERT\"",
    )
    .unwrap_err();
    assert!(e.contains("sp_signing_key_env") && e.contains("RSA"), "{e}");
    // An RSA signing key and its certificate serve for both.
    assert!(load("want_assertions_encrypted = true\nsp_signing_key_env = \"SAML_ENC_KEY\"\nsp_certificate_env = \"SAML_ENC_CERT\"").is_ok());
}

#[test]
fn saml_signed_redirect_request_carries_a_signature_over_the_query() {
    let world = saml_world("want_authn_requests_signed = true\nsignature_algorithm = \"ECDSA_SHA256\"\nsp_signing_key_env = \"SAML_SP_KEY\"\nsp_certificate_env = \"SAML_SP_CERT\"");
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login_via(&world, &mut browser, &rp.query, "corp");
    let query = url::Url::parse(&at_idp).unwrap().query().unwrap().to_owned();
    assert!(query.contains("SigAlg=") && query.contains("Signature="), "{query}");
    let sp = keyedge::core::upstream::saml::dsig::TrustedKey::from_certificate(SP_CERT).unwrap();
    keyedge::core::upstream::saml::dsig::verify_redirect(&query, std::slice::from_ref(&sp))
        .expect("signed over the query");
    let tampered = query.replacen("RelayState=", "RelayState=x", 1);
    assert!(keyedge::core::upstream::saml::dsig::verify_redirect(&tampered, &[sp]).is_err());
}

#[test]
fn saml_post_binding_request_is_an_auto_posted_form() {
    let world = saml_world("post_binding_authn_request = true");
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let page = browser.get(&world, &format!("/broker/corp/login?{}", rp.query));
    assert_eq!(page.status(), 200, "{}", body(&page));
    let html = body(&page);
    let (action, fields) = forms(&html).into_iter().next().expect("a form");
    assert_eq!(action, SSO);
    let request = fields.iter().find(|(k, _)| k == "SAMLRequest").expect("SAMLRequest").1.clone();
    let xml = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(request).unwrap()).unwrap();
    assert!(xml.contains("<samlp:AuthnRequest"), "{xml}");
    assert!(fields.iter().any(|(k, _)| k == "RelayState"));
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("form-action https://idp.example.org"));
}

/// `keyedge check` reads the SAML keys whole (at start-up only their shape and public half
/// are read): an RSA key whose private exponent is not its own is refused, named by the
/// option it came from — here the signing key that also decrypts.
#[test]
fn offline_check_refuses_a_saml_key_whose_halves_disagree_naming_its_option() {
    use rsa::pkcs1::der::{Decode, Encode};
    let (_, doc) = rsa::pkcs8::SecretDocument::from_pem(ENC_KEY).unwrap();
    let info = rsa::pkcs8::PrivateKeyInfo::from_der(doc.as_bytes()).unwrap();
    let mut pkcs1 = rsa::pkcs1::RsaPrivateKey::from_der(info.private_key).unwrap();
    let mut d = pkcs1.private_exponent.as_bytes().to_vec();
    *d.last_mut().unwrap() ^= 2;
    pkcs1.private_exponent = rsa::pkcs1::UintRef::new(&d).unwrap();
    let der = pkcs1.to_der().unwrap();
    let tampered =
        rsa::pkcs8::der::pem::encode_string("RSA PRIVATE KEY", rsa::pkcs8::der::pem::LineEnding::LF, &der).unwrap();
    let secrets = |name: &str| match name {
        "SAML_ENC_KEY" => Some(tampered.clone()),
        other => saml_secrets(other),
    };
    let options = "want_assertions_encrypted = true\nsp_signing_key_env = \"SAML_ENC_KEY\"\nsp_certificate_env = \"SAML_ENC_CERT\"";
    let text = ConfigBuilder::new().extra(&corp(options)).build();
    let app = Keyedge::from_config_text(&text, &secrets).expect("the Worker starts: the key's shape is fine");
    let e = app.check_private_keys().unwrap_err().to_string();
    assert!(e.contains(".sp_signing_key_env") && !e.contains("sp_encryption_key_env"), "{e}");
    // The same key untampered passes.
    let text = ConfigBuilder::new().extra(&corp(options)).build();
    Keyedge::from_config_text(&text, &saml_secrets).unwrap().check_private_keys().unwrap();
}

#[test]
fn saml_configuration_refuses_unsigned_responses_and_incomplete_settings() {
    let load = |options: &str| {
        let text = ConfigBuilder::new().extra(&corp(options)).build();
        keyedge::core::config::Config::load(&text, &saml_secrets).map(|_| ()).map_err(|e| e.to_string())
    };
    assert!(load("").is_ok());
    let e = load("validate_signature = false").unwrap_err();
    assert!(e.contains("validate_signature"), "{e}");
    let e = load("want_authn_requests_signed = true").unwrap_err();
    assert!(e.contains("sp_signing_key_env"), "{e}");
    let e = load("want_authn_requests_signed = true\nsp_signing_key_env = \"SAML_SP_KEY\"\nsp_certificate_env = \"SAML_SP_CERT\"").unwrap_err();
    assert!(e.contains("signature_algorithm"), "RSA_SHA256 is the default, the key is P-256: {e}");
    let e = load("store_tokens = true").unwrap_err();
    assert!(e.contains("store_tokens"), "{e}");
    let e = load("client_id = \"x\"").unwrap_err();
    assert!(e.contains("client_id"), "{e}");
}

// ---------------------------------------------------------------- Single Logout

const SLO: &str = "https://idp.example.org/slo";

fn slo_world() -> World {
    saml_world(&format!(
        "single_logout_service_url = \"{SLO}\"\nwant_authn_requests_signed = true\nsignature_algorithm = \"ECDSA_SHA256\"\nsp_signing_key_env = \"SAML_SP_KEY\"\nsp_certificate_env = \"SAML_SP_CERT\""
    ))
}

/// alice signed in through `corp` in `browser`; her tokens.
fn saml_signed_in(world: &World, browser: &mut Browser) -> serde_json::Value {
    let (rp, request, relay) = start(world, browser);
    let xml = response_xml(world, &Answer { in_response_to: Some(attribute(&request, "ID")), ..Answer::default() });
    let done = answer(world, browser, &xml, &relay);
    json(&redeem(world, &code_of(&done), &rp.verifier))
}

/// A message of the IdP's logout, as the IdP writes it: `body` inside a `root` element.
fn idp_logout_message(world: &World, root: &str, id: &str, extra: &str, issuer: &str, body: &str) -> String {
    format!(
        r#"<samlp:{root} xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{ACS}"{extra}><saml:Issuer>{issuer}</saml:Issuer>{body}</samlp:{root}>"#,
        now = ts(world.clock.now()),
    )
}

fn logout_request_xml(world: &World, id: &str, name_id: &str, session_index: Option<&str>, issuer: &str) -> String {
    let index = session_index.map(|i| format!("<samlp:SessionIndex>{i}</samlp:SessionIndex>")).unwrap_or_default();
    let body = format!(
        r#"<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID>{index}"#
    );
    idp_logout_message(world, "LogoutRequest", id, "", issuer, &body)
}

fn logout_response_xml(world: &World, in_response_to: &str, status: &str) -> String {
    let body = format!(
        r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:{status}"/></samlp:Status>"#
    );
    idp_logout_message(
        world,
        "LogoutResponse",
        "_lresp",
        &format!(r#" InResponseTo="{in_response_to}""#),
        IDP_ENTITY,
        &body,
    )
}

fn signed_xml(xml: &str, id: &str, key: &str) -> String {
    sign_enveloped(xml, id, &SpKey::from_pkcs8_pem(key).unwrap()).unwrap()
}

fn sp_key() -> keyedge::core::upstream::saml::dsig::TrustedKey {
    keyedge::core::upstream::saml::dsig::TrustedKey::from_certificate(SP_CERT).unwrap()
}

#[test]
fn saml_profiles_4_4_sp_initiated_logout_sends_a_signed_request_and_takes_only_its_answer() {
    let world = slo_world();
    let mut browser = Browser::default();
    let tokens = saml_signed_in(&world, &mut browser);
    assert_eq!(browser.get(&world, "/account").status(), 200);
    let hint: String = url::form_urlencoded::byte_serialize(tokens["id_token"].as_str().unwrap().as_bytes()).collect();
    let res = browser.get(&world, &format!("/logout?id_token_hint={hint}"));
    let at_idp = location(&res);
    assert!(at_idp.starts_with(SLO), "{at_idp}");
    // Ended at keyedge at once, whatever the IdP does next.
    assert_eq!(browser.get(&world, "/account").status(), 302);
    let query = url::Url::parse(&at_idp).unwrap().query().unwrap().to_owned();
    keyedge::core::upstream::saml::dsig::verify_redirect(&query, &[sp_key()]).expect("keyedge signs its LogoutRequest");
    let request = keyedge::core::broker::saml::inflate(&query_param(&at_idp, "SAMLRequest").unwrap()).unwrap();
    assert!(request.contains(">alice@example.org</saml:NameID>"), "{request}");
    assert!(request.contains("<samlp:SessionIndex>_session1</samlp:SessionIndex>"), "{request}");
    assert_eq!(attribute(&request, "Destination"), SLO);
    let id = attribute(&request, "ID").to_owned();
    let relay = query_param(&at_idp, "RelayState").unwrap();
    // Answers that are not the IdP's signed answer to this request go nowhere.
    for (what, url) in [
        ("another request", redirect_to_acs(&logout_response_xml(&world, "_other", "Success"), &relay, Some(IDP_KEY))),
        ("unsigned", redirect_to_acs(&logout_response_xml(&world, &id, "Success"), &relay, None)),
        ("another key", redirect_to_acs(&logout_response_xml(&world, &id, "Success"), &relay, Some(OTHER_KEY))),
        ("failed", redirect_to_acs(&logout_response_xml(&world, &id, "Responder"), &relay, Some(IDP_KEY))),
        ("forged relay", redirect_to_acs(&logout_response_xml(&world, &id, "Success"), "/evil", Some(IDP_KEY))),
    ] {
        let res = browser.get(&world, &url);
        assert!(matches!(res.status().as_u16(), 400 | 502), "{what}: {} {}", res.status(), body(&res));
        assert!(res.headers().get("location").is_none(), "{what}: no redirect");
    }
    let res =
        browser.get(&world, &redirect_to_acs(&logout_response_xml(&world, &id, "Success"), &relay, Some(IDP_KEY)));
    assert_eq!(location(&res), "/logout/done", "{}", body(&res));
    // By the POST binding, signed in the XML, too.
    let signed = signed_xml(&logout_response_xml(&world, &id, "Success"), "_lresp", IDP_KEY);
    assert_eq!(location(&post_message(&world, "SAMLResponse", &signed, &relay)), "/logout/done");
}

#[test]
fn saml_profiles_4_4_idp_initiated_logout_ends_the_sessions_of_its_name_id_once() {
    let world = slo_world();
    let mut browser = Browser::default();
    saml_signed_in(&world, &mut browser);
    let request = |id: &str, name_id: &str, index: Option<&str>, issuer: &str| {
        logout_request_xml(&world, id, name_id, index, issuer)
    };
    let alice = "alice@example.org";
    // Refused, and nothing ends: unsigned, another key, another issuer, signed by the IdP for
    // another destination.
    let other_destination = signed_xml(
        &request("_lr4", alice, None, IDP_ENTITY).replace(ACS, "https://other.example/slo"),
        "_lr4",
        IDP_KEY,
    );
    for (what, xml) in [
        ("unsigned", request("_lr1", alice, None, IDP_ENTITY)),
        ("another key", signed_xml(&request("_lr2", alice, None, IDP_ENTITY), "_lr2", OTHER_KEY)),
        ("another issuer", signed_xml(&request("_lr3", alice, None, "https://evil.example"), "_lr3", IDP_KEY)),
        ("another destination", other_destination),
    ] {
        let res = post_message(&world, "SAMLRequest", &xml, "idp-relay");
        assert_eq!(res.status(), 400, "{what}: {}", body(&res));
        assert_eq!(browser.get(&world, "/account").status(), 200, "{what}: the session lives");
    }
    // Another session of alice at the IdP: answered, this one lives.
    let res = post_message(
        &world,
        "SAMLRequest",
        &signed_xml(&request("_lr5", alice, Some("_elsewhere"), IDP_ENTITY), "_lr5", IDP_KEY),
        "r",
    );
    assert!(location(&res).starts_with(SLO), "{}", body(&res));
    assert_eq!(browser.get(&world, "/account").status(), 200);
    // Her session: ended, and the IdP gets a signed LogoutResponse to its request.
    let xml = signed_xml(&request("_lr6", alice, Some("_session1"), IDP_ENTITY), "_lr6", IDP_KEY);
    let res = post_message(&world, "SAMLRequest", &xml, "idp-relay");
    let at_idp = location(&res);
    assert!(at_idp.starts_with(SLO), "{at_idp}");
    let query = url::Url::parse(&at_idp).unwrap().query().unwrap().to_owned();
    keyedge::core::upstream::saml::dsig::verify_redirect(&query, &[sp_key()]).expect("a signed LogoutResponse");
    let answer = keyedge::core::broker::saml::inflate(&query_param(&at_idp, "SAMLResponse").unwrap()).unwrap();
    assert_eq!(attribute(&answer, "InResponseTo"), "_lr6");
    assert!(answer.contains("urn:oasis:names:tc:SAML:2.0:status:Success"), "{answer}");
    assert_eq!(query_param(&at_idp, "RelayState").as_deref(), Some("idp-relay"));
    assert_eq!(browser.get(&world, "/account").status(), 302, "the session has ended");
    // The same request again is refused (once per ID).
    assert_eq!(post_message(&world, "SAMLRequest", &xml, "idp-relay").status(), 400);
}

// ---------------------------------------------------------------- IdP-initiated login

fn landing_world(landing: &str) -> World {
    let mut world = World::new();
    let text = ConfigBuilder::new()
        .app(r#"initiate_login_uri = "https://app.test/login""#)
        .extra(&corp(&format!("idp_initiated_login = {landing}")))
        .build();
    world.app = Keyedge::from_config_text(&text, &saml_secrets).expect("IdP-initiated config is valid");
    world
}

/// The IdP's unsolicited post, through `browser` (a cross-site POST: no cookie goes with it,
/// the flow cookie comes back), then the browser following the 303.
fn unsolicited_through(world: &World, browser: &mut Browser, xml: &str, relay_state: &str) -> http::Response<Vec<u8>> {
    let posted = post_to_acs(world, xml, relay_state);
    browser.remember(&posted);
    if posted.status() != 303 {
        return posted;
    }
    browser.get(world, &location(&posted))
}

/// `who` signs in once the ordinary way (keyedge asks the IdP, for the `app` client), in a
/// browser of their own: their identity is then linked.
fn linked_by_a_login_keyedge_started(world: &World, who: Answer) {
    let mut browser = Browser::default();
    let (_, request, relay) = start(world, &mut browser);
    let id = attribute(&request, "ID").to_owned();
    let done = answer(world, &mut browser, &response_xml(world, &Answer { in_response_to: Some(&id), ..who }), &relay);
    code_of(&done);
}

#[test]
fn saml_idp_initiated_login_of_a_new_identity_is_asked_for_again_by_keyedge() {
    // No account is linked to the identity yet: rather than meeting the first-login pages in a
    // browser anyone could have posted through, the browser signs in at the same IdP with a
    // request of keyedge's; that answer (bound to this browser) creates the account and lands.
    let world = landing_world(r#"{ return_to = "/account" }"#);
    let mut browser = Browser::default();
    let bounced = unsolicited_through(&world, &mut browser, &response_xml(&world, &Answer::default()), "");
    let (request, relay) = authn_request(&location(&bounced));
    assert!(user_of_link(&world, "corp", "alice@example.org").is_none(), "nothing linked by the unsolicited one");
    let id = attribute(&request, "ID").to_owned();
    let a = Answer { in_response_to: Some(&id), assertion_id: "_a2", ..Answer::default() };
    let done = answer(&world, &mut browser, &response_xml(&world, &a), &relay);
    assert_eq!(location(&done), "/account", "{}", body(&done));
    assert!(user_of_link(&world, "corp", "alice@example.org").is_some());
}

#[test]
fn saml_idp_initiated_login_lands_at_the_clients_initiate_login_uri_which_then_signs_in_silently() {
    let world = landing_world(r#"{ client_id = "app" }"#);
    linked_by_a_login_keyedge_started(&world, Answer { assertion_id: "_a0", ..Answer::default() });
    let mut browser = Browser::default();
    let xml = response_xml(&world, &Answer::default());
    // The IdP's RelayState (a target it would like) is not followed.
    let landed = unsolicited_through(&world, &mut browser, &xml, "https://evil.example/");
    assert_eq!(landed.status(), 302, "{}", body(&landed));
    let to = url::Url::parse(&location(&landed)).unwrap();
    assert_eq!(to.as_str().split('?').next(), Some("https://app.test/login"));
    assert_eq!(query_param(to.as_str(), "iss").as_deref(), Some(ISSUER), "OIDC Core §4: iss");
    // The client begins its own authorization request: the user is signed in already.
    let rp = rp_request("app", APP_REDIRECT);
    let res = browser.get(&world, &format!("/authorize?{}", rp.query));
    let tokens = json(&redeem(&world, &code_of(&res), &rp.verifier));
    let claims = id_claims(&tokens);
    assert_eq!(claims["email"], "alice@example.org");
    assert!(user_of_link(&world, "corp", "alice@example.org").is_some());
}

#[test]
fn saml_idp_initiated_assertion_is_taken_once() {
    let world = landing_world(r#"{ return_to = "/account" }"#);
    linked_by_a_login_keyedge_started(&world, Answer { assertion_id: "_a0", ..Answer::default() });
    let xml = response_xml(&world, &Answer::default());
    let mut first = Browser::default();
    let landed = unsolicited_through(&world, &mut first, &xml, "");
    assert_eq!(location(&landed), "/account", "{}", body(&landed));
    // The same response again, in another browser: its assertion ID was used.
    let mut second = Browser::default();
    let res = unsolicited_through(&world, &mut second, &xml, "");
    assert_eq!(res.status(), 400, "{}", body(&res));
    assert!(body(&res).contains("already used"), "{}", body(&res));
    assert!(world.log.borrow().iter().any(|l| l.contains("unsolicited assertion again")), "{:?}", world.log.borrow());
    assert!(second.get(&world, "/account").status() != 200, "no session in the second browser");
}

#[test]
fn saml_idp_initiated_login_never_replaces_another_users_session() {
    // Login CSRF, inherent to IdP-initiated SSO: another site posts its own valid unsolicited
    // response (mallory's) through alice's browser. Alice's session stays hers, whether
    // mallory's identity is new (it would otherwise meet the first-login pages, whose "add to
    // your account" alice might accept) or already linked to mallory's account.
    let world = landing_world(r#"{ return_to = "/account" }"#);
    linked_by_a_login_keyedge_started(&world, Answer { assertion_id: "_a0", ..Answer::default() });
    let mut alice = Browser::default();
    unsolicited_through(&world, &mut alice, &response_xml(&world, &Answer::default()), "");
    assert_eq!(alice.get(&world, "/account").status(), 200);
    let mallory = |id| Answer { name_id: "mallory@example.org", uid: "mallory", assertion_id: id, ..Answer::default() };
    let res = unsolicited_through(&world, &mut alice, &response_xml(&world, &mallory("_m1")), "");
    assert_eq!(res.status(), 409, "{}", body(&res));
    assert!(user_of_link(&world, "corp", "mallory@example.org").is_none(), "nothing linked");
    linked_by_a_login_keyedge_started(&world, mallory("_m0"));
    let res = unsolicited_through(&world, &mut alice, &response_xml(&world, &mallory("_m2")), "");
    assert_eq!(res.status(), 409, "{}", body(&res));
    let page = alice.get(&world, "/account");
    assert_eq!(page.status(), 200);
    assert!(body(&page).contains("alice@example.org"), "{}", body(&page));
}

#[test]
fn saml_idp_initiated_flow_completes_only_its_own_assertion() {
    // The flow keyedge makes for an unsolicited assertion answers no request of keyedge's:
    // only that assertion (by ID, without InResponseTo) completes it — not another unsolicited
    // one, and not a response whose InResponseTo names the flow's internal ID; a flow keyedge
    // started is not completed by an unsolicited assertion either.
    use keyedge::core::upstream::saml::{flow, response::VerifiedAssertion};
    use keyedge::core::upstream::FlowSecrets;
    let world = landing_world(r#"{ return_to = "/account" }"#);
    let idp = world.app.config.provider("corp").unwrap();
    let keyedge::core::config::ProviderKind::Saml(cfg) = &idp.kind else { panic!("a SAML IdP") };
    let now = world.clock.now();
    let assertion = |in_response_to: Option<&str>, id: &str| VerifiedAssertion {
        in_response_to: in_response_to.map(str::to_owned),
        assertion_id: id.to_owned(),
        name_id: "alice@example.org".into(),
        name_id_format: None,
        session_index: None,
        authn_instant: now,
        attributes: Vec::new(),
        not_on_or_after: now + 60,
    };
    let secrets = |nonce: String| FlowSecrets { nonce, pkce_verifier: None };
    let for_a1 = secrets(flow::unsolicited_nonce("_a1"));
    assert!(flow::identity(idp, cfg, assertion(None, "_a1"), &for_a1, now).is_ok());
    assert!(flow::identity(idp, cfg, assertion(None, "_a2"), &for_a1, now).is_err(), "another assertion");
    let names_the_flow = assertion(Some(&flow::unsolicited_nonce("_a1")), "_a1");
    assert!(flow::identity(idp, cfg, names_the_flow, &for_a1, now).is_err(), "an InResponseTo naming the flow");
    let started = secrets("_req1".into());
    assert!(flow::identity(idp, cfg, assertion(None, "_a1"), &started, now).is_err(), "a login keyedge started");
    assert!(flow::identity(idp, cfg, assertion(Some("_req1"), "_a1"), &started, now).is_ok());
}

#[test]
fn saml_idp_initiated_login_configuration() {
    let load = |landing: &str, app: &str| {
        let text = ConfigBuilder::new().app(app).extra(&corp(&format!("idp_initiated_login = {landing}"))).build();
        keyedge::core::config::Config::load(&text, &saml_secrets).map(|_| ()).map_err(|e| e.to_string())
    };
    let with_uri = r#"initiate_login_uri = "https://app.test/login""#;
    assert!(load(r#"{ client_id = "app" }"#, with_uri).is_ok());
    let e = load(r#"{ client_id = "app" }"#, "").unwrap_err();
    assert!(e.contains("initiate_login_uri"), "{e}");
    let e = load(r#"{ client_id = "nobody" }"#, with_uri).unwrap_err();
    assert!(e.contains("no client has client_id"), "{e}");
    let e =
        load(r#"{ client_id = "app" }"#, &format!("{with_uri}\nallowed_identity_providers = [\"up\"]")).unwrap_err();
    assert!(e.contains("does not allow"), "{e}");
    let e = load(r#"{ client_id = "app", return_to = "/" }"#, with_uri).unwrap_err();
    assert!(e.contains("either client_id"), "{e}");
    let e = load(r#"{ return_to = "//evil.example/" }"#, with_uri).unwrap_err();
    assert!(e.contains("a path on keyedge's origin"), "{e}");
    let e = load(r#"{ client_id = "app" }"#, r#"initiate_login_uri = "http://app.test/login""#).unwrap_err();
    assert!(e.contains("https"), "{e}");
}
