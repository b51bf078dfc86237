//! The SAML XML-Signature engine (issue 18) against fixtures made by independent
//! implementations (xmlsec1, openssl; tests/fixtures/saml/make-fixtures.py): exclusive c14n
//! differential vectors, valid signatures, and every forgery refused on the node a naive SP
//! would have read.

use keyedge::core::upstream::saml::c14n::{self, C14nError};
use keyedge::core::upstream::saml::dsig::{
    self, sign_enveloped, sign_redirect, signature_of, verify_enveloped, verify_redirect, DsigError, SpKey, TrustedKey,
};
use keyedge::core::upstream::saml::xml::{self, XmlError, NS_DS, NS_SAML, NS_SAMLP};
use roxmltree::{Document, Node};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml")
}

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn response(name: &str) -> String {
    fixture(&format!("responses/{name}.xml"))
}

fn trusted(name: &str) -> TrustedKey {
    TrustedKey::from_certificate(&fixture(&format!("keys/{name}.crt"))).unwrap()
}

fn idp() -> Vec<TrustedKey> {
    vec![trusted("idp-rsa")]
}

fn idp_ec() -> Vec<TrustedKey> {
    vec![trusted("idp-ec")]
}

/// What a naive SP reads: the first Assertion in document order.
fn first_assertion<'a, 'i>(doc: &'a Document<'i>) -> Node<'a, 'i> {
    doc.descendants().find(|n| xml::is(*n, NS_SAML, "Assertion")).expect("an Assertion")
}

/// What a naive "getElementById" returns: the first element with that ID.
fn first_by_id<'a, 'i>(doc: &'a Document<'i>, id: &str) -> Node<'a, 'i> {
    doc.descendants().find(|n| n.attribute("ID") == Some(id)).expect("an element with the ID")
}

/// The NameID a SAML reader takes from `node`: a Response's direct-child Assertion's, an
/// Assertion's Subject's.
fn name_id(node: Node) -> String {
    let node = match xml::child(node, NS_SAML, "Assertion").unwrap() {
        Some(a) if xml::is(node, NS_SAMLP, "Response") => a,
        _ => node,
    };
    let subject = xml::child(node, NS_SAML, "Subject").unwrap().expect("a Subject");
    let n = subject.descendants().find(|n| xml::is(*n, NS_SAML, "NameID")).expect("a NameID");
    xml::simple_text(n).expect("plain NameID")
}

// ---------------------------------------------------------------- exclusive c14n

/// Every case of c14n/index.tsv: keyedge's canonical form of the element with ID "t" equals
/// the pre-digest buffer xmlsec1 (libxml2) produced for it.
#[test]
fn c14n_matches_xmlsec1_on_every_vector() {
    let index = fixture("c14n/index.tsv");
    let mut count = 0;
    for line in index.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, with_comments, plist) = (cols[0], cols[1] == "1", cols.get(2).copied().unwrap_or(""));
        let input = fixture(&format!("c14n/{name}.xml"));
        let expected = fixture(&format!("c14n/{name}.c14n"));
        let doc = xml::parse(&input).unwrap();
        let target = first_by_id(&doc, "t");
        let prefixes: Vec<&str> = plist.split_ascii_whitespace().collect();
        let options = c14n::Options { with_comments, inclusive_prefixes: &prefixes };
        let got = c14n::canonicalize(target, None, options).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), expected, "c14n vector {name}");
        count += 1;
    }
    assert!(count >= 40, "only {count} vectors");
}

/// Hand-checked vectors: the W3C exc-c14n recommendation's §2.2 example (the same subtree of
/// two documents canonicalises identically) and rules from its §3 / C14N 1.0 §2.3.
#[test]
fn c14n_w3c_and_rule_vectors() {
    let cases: &[(&str, &str, &[&str], bool, &str)] = &[
        // xml-exc-c14n §2.2: n1:elem2 in two different contexts.
        (
            r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#,
            "elem2",
            &[],
            false,
            r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#,
        ),
        (
            r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n2:pdu>"#,
            "elem2",
            &[],
            false,
            r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#,
        ),
        // InclusiveNamespaces: n2 and the default are rendered although not used.
        (
            r#"<n2:pdu xmlns="urn:d" xmlns:n1="http://example.com" xmlns:n2="http://foo.example"><n1:elem2 xmlns:n1="http://example.net"/></n2:pdu>"#,
            "elem2",
            &["n2", "#default"],
            false,
            r#"<n1:elem2 xmlns="urn:d" xmlns:n1="http://example.net" xmlns:n2="http://foo.example"></n1:elem2>"#,
        ),
        // A PrefixList entry not in scope is ignored.
        (r#"<a><b/></a>"#, "b", &["nope", "#default"], false, r#"<b></b>"#),
        // Comments: dropped, or kept with #WithComments; PIs always kept.
        (r#"<a><b><!--c--><?p d?>x</b></a>"#, "b", &[], false, r#"<b><?p d?>x</b>"#),
        (r#"<a><b><!--c--><?p d?>x</b></a>"#, "b", &[], true, r#"<b><!--c--><?p d?>x</b>"#),
        // Line endings are normalised by the parser; a literal CR reference is escaped.
        ("<a><b>1\r\n2&#13;</b></a>", "b", &[], false, "<b>1\n2&#xD;</b>"),
        // Attribute value normalisation (no DTD: CDATA): whitespace characters become spaces,
        // character references are kept and escaped.
        ("<a><b x=\"1\t2\n3\" y=\"&#9;&#10;\"/></a>", "b", &[], false, "<b x=\"1 2 3\" y=\"&#x9;&#xA;\"></b>"),
    ];
    for (input, local, prefixes, with_comments, expected) in cases {
        let doc = xml::parse(input).unwrap();
        let target = doc.descendants().find(|n| n.is_element() && n.tag_name().name() == *local).unwrap();
        let options = c14n::Options { with_comments: *with_comments, inclusive_prefixes: prefixes };
        let got = String::from_utf8(c14n::canonicalize(target, None, options).unwrap()).unwrap();
        assert_eq!(&got, expected, "input {input}");
    }
}

#[test]
fn c14n_refuses_a_non_element_apex() {
    let doc = xml::parse("<a>t</a>").unwrap();
    let text = doc.root_element().first_child().unwrap();
    assert_eq!(c14n::canonicalize(text, None, c14n::Options::default()).err(), Some(C14nError::NotAnElement));
}

// ---------------------------------------------------------------- valid signatures

#[test]
fn valid_signatures_verify() {
    for (name, keys, on_assertion, on_response) in [
        ("assertion-signed", idp(), true, false),
        ("response-signed", idp(), false, true),
        ("both-signed", idp(), true, true),
        ("assertion-signed-ecdsa", idp_ec(), true, false),
        ("response-signed-ecdsa", idp_ec(), false, true),
        ("assertion-signed-no-prefixlist", idp(), true, false),
        ("assertion-signed-c14n-with-comments", idp(), true, false),
    ] {
        let text = response(name);
        let doc = xml::parse(&text).unwrap();
        let resp = doc.root_element();
        let assertion = first_assertion(&doc);
        if on_assertion {
            assert_eq!(verify_enveloped(assertion, &keys), Ok(()), "{name}: Assertion");
        }
        if on_response {
            assert_eq!(verify_enveloped(resp, &keys), Ok(()), "{name}: Response");
        } else {
            assert_eq!(verify_enveloped(resp, &keys), Err(DsigError::Unsigned), "{name}: Response");
        }
        if !on_assertion {
            assert_eq!(verify_enveloped(assertion, &keys), Err(DsigError::Unsigned), "{name}: Assertion");
        }
        assert_eq!(name_id(assertion), "alice@example.org");
    }
}

#[test]
fn key_rollover_and_key_types() {
    let text = response("assertion-signed");
    let doc = xml::parse(&text).unwrap();
    let a = first_assertion(&doc);
    // Several configured certificates: any one validates.
    assert_eq!(verify_enveloped(a, &[trusted("attacker-rsa"), trusted("idp-ec"), trusted("idp-rsa")]), Ok(()));
    // No configured key of the algorithm's type.
    assert_eq!(verify_enveloped(a, &idp_ec()), Err(DsigError::NoKeyForAlgorithm));
    assert_eq!(verify_enveloped(a, &[]), Err(DsigError::NoKeyForAlgorithm));
    let text = response("assertion-signed-ecdsa");
    let doc = xml::parse(&text).unwrap();
    assert_eq!(verify_enveloped(first_assertion(&doc), &idp()), Err(DsigError::NoKeyForAlgorithm));
}

#[test]
fn certificates_in_pem_or_metadata_base64() {
    let pem = fixture("keys/idp-rsa.crt");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("\n  ");
    assert_eq!(TrustedKey::from_certificate(&b64).unwrap(), trusted("idp-rsa"));
    assert!(matches!(TrustedKey::from_certificate("not a certificate"), Err(DsigError::Key(_))));
    assert!(matches!(
        TrustedKey::from_certificate(&fixture("keys/weak-rsa.crt")),
        Err(DsigError::WeakKey { bits: 1024 })
    ));
}

// ---------------------------------------------------------------- forgeries

fn refused(name: &str, node: impl for<'a, 'i> Fn(&'a Document<'i>) -> Node<'a, 'i>, keys: &[TrustedKey]) -> DsigError {
    let text = response(name);
    let doc = xml::parse(&text).unwrap();
    let n = node(&doc);
    verify_enveloped(n, keys).expect_err(name)
}

#[test]
fn tampered_wrong_key_unsigned_and_policy_refusals() {
    assert_eq!(refused("tampered-nameid", first_assertion, &idp()), DsigError::DigestMismatch);
    assert_eq!(refused("tampered-attribute", first_assertion, &idp()), DsigError::DigestMismatch);
    assert_eq!(
        refused("tampered-response-signed-destination", |d| d.root_element(), &idp()),
        DsigError::DigestMismatch
    );
    assert_eq!(refused("wrong-key", first_assertion, &idp()), DsigError::BadSignature);
    assert_eq!(refused("weak-key-1024", first_assertion, &idp()), DsigError::BadSignature);
    assert_eq!(refused("unsigned", first_assertion, &idp()), DsigError::Unsigned);
    assert_eq!(refused("unsigned", |d| d.root_element(), &idp()), DsigError::Unsigned);
    assert!(matches!(
        refused("assertion-signed-sha1", first_assertion, &idp()),
        DsigError::UnsupportedSignatureMethod(_)
    ));
    assert_eq!(refused("assertion-signed-inclusive-c14n", first_assertion, &idp()), DsigError::Transforms);
    assert_eq!(refused("assertion-signed-only-enveloped-transform", first_assertion, &idp()), DsigError::Transforms);
    assert_eq!(refused("assertion-signed-xpath-transform", first_assertion, &idp()), DsigError::Transforms);
    assert_eq!(refused("assertion-signed-two-references", first_assertion, &idp()), DsigError::ReferenceCount(2));
    assert!(matches!(
        refused("assertion-signed-xpointer-reference", first_assertion, &idp()),
        DsigError::ReferenceNotToElement { .. }
    ));
    // A valid signature on the Response, but over the Assertion: the Response's own
    // Destination, InResponseTo and Status are unsigned.
    assert!(matches!(
        refused("response-signature-references-assertion", |d| d.root_element(), &idp()),
        DsigError::ReferenceNotToElement { .. }
    ));
}

/// The signature wrapping family. For each: the node a naive SP reads (first Assertion, the
/// root Response, or the first element with the signed ID) carries the attacker's identity,
/// and verify_enveloped refuses it; and no element of the document verifies while carrying
/// another identity than the signed one.
#[test]
fn signature_wrapping_is_refused() {
    type Pick = for<'a, 'i> fn(&'a Document<'i>) -> Node<'a, 'i>;
    let first: Pick = |d| first_assertion(d);
    let root: Pick = |d| d.root_element();
    let direct: Pick = |d| xml::child(d.root_element(), NS_SAML, "Assertion").unwrap().unwrap();
    let by_signed_id: Pick = |d| first_by_id(d, "_assert_fixture");
    // ID maps that keep the last registration (a hash map insert, for one).
    let last_by_signed_id: Pick = |d| d.descendants().rfind(|n| n.attribute("ID") == Some("_assert_fixture")).unwrap();
    type Expect = fn(&DsigError) -> bool;
    let cases: &[(&str, Pick, Expect)] = &[
        ("xsw1-response-copy-in-signature-object", root, |e| matches!(e, DsigError::Malformed(_))),
        ("xsw2-response-copy-before-signature", root, |e| matches!(e, DsigError::ReferenceNotToElement { .. })),
        ("xsw3-evil-assertion-before-signed", first, |e| *e == DsigError::Unsigned),
        ("xsw4-signed-assertion-inside-evil", first, |e| *e == DsigError::Unsigned),
        ("xsw5-signature-moved-to-evil-original-appended", first, |e| {
            matches!(e, DsigError::ReferenceNotToElement { .. })
        }),
        ("xsw6-original-inside-moved-signature", first, |e| matches!(e, DsigError::Malformed(_))),
        ("xsw7-signed-assertion-in-extensions", direct, |e| *e == DsigError::Unsigned),
        ("xsw8-original-in-object-of-moved-signature", first, |e| matches!(e, DsigError::Malformed(_))),
        ("xsw-duplicate-id-evil-first", by_signed_id, |e| matches!(e, DsigError::DuplicateId(_))),
        ("xsw-duplicate-id-evil-first", first, |e| matches!(e, DsigError::DuplicateId(_))),
        ("xsw-duplicate-id-evil-last", last_by_signed_id, |e| matches!(e, DsigError::DuplicateId(_))),
        (
            "xsw-second-unsigned-assertion",
            |d| d.descendants().filter(|n| xml::is(*n, NS_SAML, "Assertion")).nth(1).unwrap(),
            |e| *e == DsigError::Unsigned,
        ),
        ("xsw-id-swap-evil-takes-signed-id", by_signed_id, |e| *e == DsigError::Unsigned),
        ("xsw-response-signature-moved-into-assertion", first, |e| {
            matches!(e, DsigError::ReferenceNotToElement { .. })
        }),
        ("xsw-two-signatures", first, |e| *e == DsigError::MultipleSignatures),
    ];
    for (name, pick, expected) in cases {
        let text = response(name);
        let doc = xml::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let naive = pick(&doc);
        if *name != "xsw-two-signatures" {
            assert_eq!(name_id(naive), "admin@example.org", "{name}: the naive node is the attacker's");
        }
        let err = verify_enveloped(naive, &idp()).expect_err(name);
        assert!(expected(&err), "{name}: {err:?}");
        // Whatever element one picks, a verified one says alice, never admin.
        for n in doc.descendants().filter(|n| xml::is(*n, NS_SAML, "Assertion") || xml::is(*n, NS_SAMLP, "Response")) {
            if verify_enveloped(n, &idp()).is_ok() {
                assert_eq!(name_id(n), "alice@example.org", "{name}: a verified node with another identity");
            }
        }
    }
}

#[test]
fn comment_injection_verifies_but_cannot_be_read() {
    let text = response("comment-injection-nameid");
    let doc = xml::parse(&text).unwrap();
    let a = first_assertion(&doc);
    // The signature is valid (c14n drops comments): the defence is in how text is read.
    assert_eq!(verify_enveloped(a, &idp()), Ok(()));
    let n = a.descendants().find(|n| xml::is(*n, NS_SAML, "NameID")).unwrap();
    assert_eq!(n.text(), Some("alice@example.org"), "what a first-text-node reader would take");
    assert!(matches!(xml::simple_text(n), Err(XmlError::NotSimpleContent { .. })));
}

#[test]
fn dtd_and_oversize_are_refused_before_parsing() {
    for name in ["dtd-xxe", "dtd-billion-laughs", "dtd-empty-doctype"] {
        assert_eq!(xml::parse(&response(name)).err(), Some(XmlError::Dtd), "{name}");
    }
    assert!(matches!(xml::parse(&response("oversize")), Err(XmlError::TooLarge { .. })));
}

/// The lead's validation fixtures carry valid signatures on both Response and Assertion(s).
#[test]
fn validation_fixtures_are_validly_signed() {
    for name in [
        "valid-expired",
        "valid-wrong-audience",
        "valid-wrong-recipient",
        "valid-wrong-destination",
        "valid-wrong-inresponseto",
        "valid-unsolicited",
        "valid-status-responder",
        "valid-two-assertions",
    ] {
        let text = response(name);
        let doc = xml::parse(&text).unwrap();
        assert_eq!(verify_enveloped(doc.root_element(), &idp()), Ok(()), "{name}");
        for a in doc.descendants().filter(|n| xml::is(*n, NS_SAML, "Assertion")) {
            assert_eq!(verify_enveloped(a, &idp()), Ok(()), "{name}: Assertion");
        }
    }
}

#[test]
fn signature_of_finds_direct_children_only() {
    let text = response("assertion-signed");
    let doc = xml::parse(&text).unwrap();
    assert!(signature_of(doc.root_element()).unwrap().is_none());
    let sig = signature_of(first_assertion(&doc)).unwrap().unwrap();
    assert!(xml::is(sig, NS_DS, "Signature"));
}

// ---------------------------------------------------------------- HTTP-Redirect binding

#[test]
fn redirect_signatures_from_openssl_verify() {
    for (file, keys) in [
        ("logout-request-idp-rsa", idp()),
        ("logout-request-idp-rsa-no-relaystate", idp()),
        ("logout-request-idp-ec", idp_ec()),
        ("logout-request-idp-ec-no-relaystate", idp_ec()),
    ] {
        let q = fixture(&format!("redirect/{file}.query"));
        let q = q.trim();
        assert_eq!(verify_redirect(q, &keys), Ok(()), "{file}");
        assert_eq!(verify_redirect(&format!("?{q}&extra=1"), &keys), Ok(()), "{file}: unsigned extra parameter");
    }
    let q = fixture("redirect/logout-request-idp-rsa.query");
    let q = q.trim();
    // Re-encoding the (lower-case) escapes in upper case breaks it: the bytes as received count.
    let upper = q.replace("%3a%2f%2f", "%3A%2F%2F");
    assert_eq!(verify_redirect(&upper, &idp()), Err(DsigError::BadSignature));
    let tampered = q.replace("RelayState=https", "RelayState=http");
    assert_eq!(verify_redirect(&tampered, &idp()), Err(DsigError::BadSignature));
    assert_eq!(verify_redirect(q, &[trusted("attacker-rsa")]), Err(DsigError::BadSignature));
    let dup = format!("{q}&RelayState=x");
    assert!(matches!(verify_redirect(&dup, &idp()), Err(DsigError::Redirect(_))));
    let both = format!("SAMLResponse=abc&{q}");
    assert!(matches!(verify_redirect(&both, &idp()), Err(DsigError::Redirect(_))));
    let no_sig = q.split("&Signature=").next().unwrap();
    assert!(matches!(verify_redirect(no_sig, &idp()), Err(DsigError::Redirect(_))));
    let encoded_name = format!("{q}&SAML%52equest=evil");
    assert!(matches!(verify_redirect(&encoded_name, &idp()), Err(DsigError::Redirect(_))));
    let v = dsig::verify_redirect_params(q, &idp()).unwrap();
    assert_eq!(v.param, "SAMLRequest");
    assert!(q.starts_with(&format!("SAMLRequest={}&RelayState=https%3a%2f%2fsp.example.com%2fback%3fx%3d1&", v.value)));
    assert_eq!(v.relay_state, Some("https%3a%2f%2fsp.example.com%2fback%3fx%3d1"));
    let sha1 = q.replace("rsa-sha256", "rsa-sha1").replace("xmldsig-more", "xmldsig");
    assert!(matches!(verify_redirect(&sha1, &idp()), Err(DsigError::UnsupportedSignatureMethod(_))));
}

#[test]
fn redirect_sign_verify_round_trip() {
    for key_file in ["sp-rsa", "sp-ec"] {
        let key = SpKey::from_pkcs8_pem(&fixture(&format!("keys/{key_file}.key"))).unwrap();
        let keys = [TrustedKey::from_certificate(&fixture(&format!("keys/{key_file}.crt"))).unwrap()];
        assert_eq!(keys[0], key.public_key().unwrap());
        let q = sign_redirect("SAMLRequest", "fZBNa8MwDIb%2FivG9tZ", Some("https://sp/x?a=b&c"), &key).unwrap();
        assert!(q.starts_with("SAMLRequest=fZBNa8MwDIb%2FivG9tZ&RelayState=https%3A%2F%2Fsp%2Fx%3Fa%3Db%26c&SigAlg="));
        assert_eq!(verify_redirect(&q, &keys), Ok(()), "{key_file}");
        let q2 = sign_redirect("SAMLResponse", "abc", None, &key).unwrap();
        assert_eq!(verify_redirect(&q2, &keys), Ok(()), "{key_file} without RelayState");
        let tampered = q.replace("fZBNa8", "fZBNa9");
        assert_eq!(verify_redirect(&tampered, &keys), Err(DsigError::BadSignature), "{key_file}");
    }
    let key = SpKey::from_pkcs8_pem(&fixture("keys/sp-ec.key")).unwrap();
    assert!(matches!(sign_redirect("Other", "x", None, &key), Err(DsigError::Redirect(_))));
    assert!(matches!(SpKey::from_pkcs8_pem(&fixture("keys/weak-rsa.key")), Err(DsigError::WeakKey { .. })));
}

// ---------------------------------------------------------------- keyedge's own signatures

const AUTHN_REQUEST: &str = concat!(
    r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" "#,
    r#"ID="_kereq_fixture" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp.example.org/saml/sso" "#,
    r#"AssertionConsumerServiceURL="https://sp.example.com/broker/corp/endpoint" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">"#,
    "\n  <saml:Issuer>https://sp.example.com</saml:Issuer>\n",
    r#"  <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/>"#,
    "\n</samlp:AuthnRequest>\n"
);

const LOGOUT_RESPONSE: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    "\n",
    r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_kelogout_fixture" Version="2.0" "#,
    r#"IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp.example.org/saml/slo" InResponseTo="_idp_logout_fixture">"#,
    r#"<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp.example.com</saml:Issuer>"#,
    r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
    "\n"
);

/// keyedge's enveloped signatures. The outputs are deterministic (RSA PKCS#1 v1.5, RFC 6979
/// ECDSA), committed under keyedge-signed/ and verified there by xmlsec1
/// (`make-fixtures.py --verify-keyedge`, which runs this test with KEYEDGE_WRITE_SAML_FIXTURES=1
/// to write them): equality here means xmlsec1 verified exactly these bytes.
#[test]
fn keyedge_signed_enveloped_signatures() {
    let write = std::env::var_os("KEYEDGE_WRITE_SAML_FIXTURES").is_some();
    for (file, input, id, key_file) in [
        ("authn-request-rsa.xml", AUTHN_REQUEST, "_kereq_fixture", "sp-rsa"),
        ("authn-request-ec.xml", AUTHN_REQUEST, "_kereq_fixture", "sp-ec"),
        ("logout-response-rsa.xml", LOGOUT_RESPONSE, "_kelogout_fixture", "sp-rsa"),
    ] {
        let key = SpKey::from_pkcs8_pem(&fixture(&format!("keys/{key_file}.key"))).unwrap();
        let signed = sign_enveloped(input, id, &key).unwrap();
        let path = dir().join("keyedge-signed").join(file);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &signed).unwrap();
        }
        assert_eq!(signed, fixture(&format!("keyedge-signed/{file}")), "{file}: differs from what xmlsec1 verified");
        let doc = xml::parse(&signed).unwrap();
        let keys = [TrustedKey::from_certificate(&fixture(&format!("keys/{key_file}.crt"))).unwrap()];
        assert_eq!(verify_enveloped(doc.root_element(), &keys), Ok(()), "{file}");
        // The Signature sits right after the Issuer.
        let sig = signature_of(doc.root_element()).unwrap().unwrap();
        assert!(xml::is(sig.prev_sibling_element().unwrap(), NS_SAML, "Issuer"));
        // And it covers the content.
        let tampered = signed.replace("https://sp.example.com</saml:Issuer>", "https://evil.example</saml:Issuer>");
        let doc = xml::parse(&tampered).unwrap();
        assert_eq!(verify_enveloped(doc.root_element(), &keys), Err(DsigError::DigestMismatch), "{file}");
    }
}

#[test]
fn sign_enveloped_refusals() {
    let key = SpKey::from_pkcs8_pem(&fixture("keys/sp-ec.key")).unwrap();
    assert!(matches!(sign_enveloped(AUTHN_REQUEST, "_nope", &key), Err(DsigError::SignTarget(_))));
    assert!(matches!(sign_enveloped(AUTHN_REQUEST, "a\"b", &key), Err(DsigError::SignTarget(_))));
    let no_issuer = AUTHN_REQUEST.replace("<saml:Issuer>https://sp.example.com</saml:Issuer>", "");
    assert!(matches!(sign_enveloped(&no_issuer, "_kereq_fixture", &key), Err(DsigError::SignTarget(_))));
    let signed = sign_enveloped(AUTHN_REQUEST, "_kereq_fixture", &key).unwrap();
    assert!(matches!(sign_enveloped(&signed, "_kereq_fixture", &key), Err(DsigError::SignTarget(_))));
    assert_eq!(dsig::SignatureAlgorithm::from_uri(dsig::ALG_ECDSA_SHA256), Ok(key.algorithm()));
}

// ---------------------------------------------------------------- EncryptedAssertion (phase 2)

use keyedge::core::upstream::saml::enc::{self, EncError, OaepHash, OaepParams, RsaOaepKey};

fn sp_unwrapper() -> RsaOaepKey {
    RsaOaepKey::from_pkcs8_pem(&fixture("keys/sp-rsa.key")).unwrap()
}

fn decrypt_fixture(name: &str, unwrapper: &dyn enc::KeyUnwrapper, allow_cbc: bool) -> Result<String, EncError> {
    let text = fixture(&format!("encrypted/{name}.xml"));
    let doc = xml::parse(&text).unwrap();
    let ea = doc.descendants().find(|n| xml::is(*n, NS_SAML, "EncryptedAssertion")).expect("an EncryptedAssertion");
    enc::decrypt_assertion(ea, unwrapper, allow_cbc)
}

/// Encrypted by xmlsec1 (content and, for the mgf1p cases, the key) or by xmlsec1 + openssl
/// pkeyutl (xmlenc11 rsa-oaep with SHA-256): decrypted, then the Assertion's own signature
/// verifies in the new document.
#[test]
fn encrypted_assertions_decrypt_and_their_signature_verifies() {
    for (name, cbc) in [
        ("aes128-gcm-rsa-oaep-mgf1p", false),
        ("aes256-gcm-rsa-oaep-mgf1p", false),
        ("aes128-cbc-rsa-oaep-mgf1p", true),
        ("aes256-cbc-rsa-oaep-mgf1p", true),
        ("aes256-gcm-rsa-oaep-sha256-mgf1sha256", false),
        ("aes128-gcm-rsa-oaep-sha256-mgf1sha1-sibling-key", false),
        ("aes256-gcm-rsa-oaep-mgf1p-sha256-digest", false),
    ] {
        let plain = decrypt_fixture(name, &sp_unwrapper(), cbc).unwrap_or_else(|e| panic!("{name}: {e}"));
        let doc = xml::parse(&plain).unwrap_or_else(|e| panic!("{name}: {e}"));
        let assertion = enc::decrypted_assertion(&doc).unwrap();
        assert_eq!(verify_enveloped(assertion, &idp()), Ok(()), "{name}");
        assert_eq!(name_id(assertion), "alice@example.org", "{name}");
        if cbc {
            assert_eq!(decrypt_fixture(name, &sp_unwrapper(), false), Err(EncError::CbcNotAllowed), "{name}");
        }
    }
}

/// The lead routes the RSA step through the platform: any closure is a KeyUnwrapper, and it
/// receives the parameters read from the EncryptedKey.
#[test]
fn key_unwrap_goes_through_the_given_unwrapper() {
    let seen = std::cell::RefCell::new(Vec::new());
    let native = sp_unwrapper();
    let spy = |params: &OaepParams, wrapped: &[u8]| {
        seen.borrow_mut().push(params.clone());
        enc::KeyUnwrapper::unwrap_key(&native, params, wrapped)
    };
    decrypt_fixture("aes256-gcm-rsa-oaep-sha256-mgf1sha256", &spy, false).unwrap();
    decrypt_fixture("aes128-gcm-rsa-oaep-mgf1p", &spy, false).unwrap();
    decrypt_fixture("aes256-gcm-rsa-oaep-mgf1p-sha256-digest", &spy, false).unwrap();
    assert_eq!(
        *seen.borrow(),
        vec![
            OaepParams { digest: OaepHash::Sha256, mgf: OaepHash::Sha256, label: None },
            OaepParams { digest: OaepHash::Sha1, mgf: OaepHash::Sha1, label: None },
            OaepParams { digest: OaepHash::Sha256, mgf: OaepHash::Sha1, label: None },
        ]
    );
    let failing = |_: &OaepParams, _: &[u8]| Err(enc::UnwrapFailed);
    assert_eq!(decrypt_fixture("aes128-gcm-rsa-oaep-mgf1p", &failing, false), Err(EncError::DecryptFailed));
}

#[test]
fn encrypted_assertion_refusals() {
    let sp = sp_unwrapper();
    assert!(matches!(decrypt_fixture("aes128-gcm-rsa-1_5", &sp, true), Err(EncError::UnsupportedKeyTransport(_))));
    assert_eq!(decrypt_fixture("aes128-gcm-to-other-key", &sp, true), Err(EncError::DecryptFailed));
    assert_eq!(decrypt_fixture("aes128-gcm-tampered", &sp, true), Err(EncError::DecryptFailed));
    // Decryption proves nothing: an unsigned Assertion decrypts and is then refused.
    let plain = decrypt_fixture("unsigned-assertion-aes128-gcm", &sp, false).unwrap();
    let doc = xml::parse(&plain).unwrap();
    assert_eq!(verify_enveloped(enc::decrypted_assertion(&doc).unwrap(), &idp()), Err(DsigError::Unsigned));
    // Two EncryptedKeys.
    let text = fixture("encrypted/aes128-gcm-rsa-oaep-sha256-mgf1sha1-sibling-key.xml");
    let k0 = text.find("<xenc:EncryptedKey").unwrap();
    let k1 = text.find("</xenc:EncryptedKey>").unwrap() + "</xenc:EncryptedKey>".len();
    let two = format!("{}{}{}", &text[..k1], &text[k0..k1], &text[k1..]);
    let doc = xml::parse(&two).unwrap();
    let ea = doc.descendants().find(|n| xml::is(*n, NS_SAML, "EncryptedAssertion")).unwrap();
    assert_eq!(enc::decrypt_assertion(ea, &sp, false), Err(EncError::KeyCount(2)));
    // Not an EncryptedAssertion.
    assert!(matches!(enc::decrypt_assertion(doc.root_element(), &sp, false), Err(EncError::Malformed(_))));
    // The plaintext must be exactly one Assertion.
    for bad in [
        format!(r#"<Decrypted xmlns:saml="{NS_SAML}"><saml:Assertion ID="a"/><saml:Assertion ID="b"/></Decrypted>"#),
        format!(r#"<Decrypted xmlns:saml="{NS_SAML}"><saml:Assertion ID="a"/>text</Decrypted>"#),
        format!(r#"<Decrypted xmlns:saml="{NS_SAML}"><saml:Subject/></Decrypted>"#),
        r#"<Decrypted/>"#.to_string(),
    ] {
        let doc = xml::parse(&bad).unwrap();
        assert!(matches!(enc::decrypted_assertion(&doc), Err(EncError::Malformed(_))), "{bad}");
    }
}
