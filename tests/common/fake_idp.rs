//! A scriptable upstream OpenID Provider at https://idp.test, for the harness. It is a test
//! double: it signs real RS256 ID tokens with a fixture key and checks keyedge's client
//! authentication and PKCE the way a real IdP does, and each field can be tampered with.

use jwt_compact::alg::{Rsa, RsaPrivateKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use keyedge::core::ports::memory::{MemoryHttp, VirtualClock};
use keyedge::core::ports::Clock;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

pub const IDP: &str = "https://idp.test";

/// A change to the ID token's claims before it is signed.
pub type Tamper = Box<dyn Fn(&mut Value)>;

#[derive(Clone)]
pub struct IssuedCode {
    nonce: String,
    challenge: String,
    user: String,
    redirect_uri: String,
}

pub struct FakeIdp {
    clock: VirtualClock,
    key: RefCell<RsaPrivateKey>,
    pub kid: RefCell<String>,
    codes: RefCell<HashMap<String, IssuedCode>>,
    /// Applied to the ID token's claims before signing.
    pub tamper: RefCell<Tamper>,
    /// `sub` the userinfo endpoint reports (None: the real one).
    pub userinfo_sub: RefCell<Option<String>>,
    pub token_requests: RefCell<usize>,
    /// A careless IdP that accepts its codes more than once.
    pub reusable_codes: RefCell<bool>,
    pub jwks_requests: RefCell<usize>,
}

pub fn rsa_key(pem: &str) -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_pem(pem).unwrap()
}

pub fn jwks_for(key: &RsaPrivateKey, kid: &str) -> String {
    let public = key.to_public_key();
    let mut jwk = serde_json::to_value(JsonWebKey::from(&public)).unwrap();
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    json!({ "keys": [jwk] }).to_string()
}

/// Signs `claims` with RS256 (header `kid`).
pub fn sign(key: &RsaPrivateKey, kid: &str, claims: Value) -> String {
    let header = Header::empty().with_key_id(kid);
    Rsa::rs256().token(&header, &Claims::new(claims), key).unwrap()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn respond(status: u16, body: Value) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .unwrap()
}

impl FakeIdp {
    pub fn mount(http: &MemoryHttp, clock: VirtualClock) -> Rc<Self> {
        let idp = Rc::new(FakeIdp {
            clock,
            key: RefCell::new(rsa_key(include_str!("../fixtures/upstream-test-key.pem"))),
            kid: RefCell::new("up-1".into()),
            codes: RefCell::default(),
            tamper: RefCell::new(Box::new(|_| {})),
            userinfo_sub: RefCell::new(None),
            token_requests: RefCell::new(0),
            reusable_codes: RefCell::new(false),
            jwks_requests: RefCell::new(0),
        });
        let handler = idp.clone();
        http.mount(IDP, move |req| handler.serve(req));
        idp
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match req.uri().path() {
            "/.well-known/openid-configuration" => respond(
                200,
                json!({
                    "issuer": IDP,
                    "authorization_endpoint": format!("{IDP}/auth"),
                    "token_endpoint": format!("{IDP}/token"),
                    "jwks_uri": format!("{IDP}/jwks"),
                    "userinfo_endpoint": format!("{IDP}/userinfo"),
                }),
            ),
            "/jwks" => {
                *self.jwks_requests.borrow_mut() += 1;
                let body = jwks_for(&self.key.borrow(), &self.kid.borrow());
                http::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(body.into_bytes())
                    .unwrap()
            }
            "/token" => self.token(req),
            "/userinfo" => {
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let Some(user) = auth.strip_prefix("Bearer at-") else {
                    return respond(401, json!({"error": "invalid_token"}));
                };
                let sub = self.userinfo_sub.borrow().clone().unwrap_or_else(|| format!("sub-{user}"));
                respond(
                    200,
                    json!({ "sub": sub, "email": format!("{user}@example.com"), "email_verified": true,
                    "preferred_username": user, "given_name": "Given", "family_name": "Family",
                    "phone_number": "+1 555 0100", "phone_number_verified": true,
                    "address": { "country": "NL", "locality": "Delft" } }),
                )
            }
            _ => respond(404, json!({"error": "not_found"})),
        }
    }

    fn token(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        use base64::Engine;
        *self.token_requests.borrow_mut() += 1;
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("keyedge-at-idp:{}", super::IDP_SECRET));
        if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Basic {expected}")) {
            return respond(401, json!({"error": "invalid_client"}));
        }
        let f = form(req.body());
        let reusable = *self.reusable_codes.borrow();
        let issued = f.get("code").and_then(|c| {
            let mut codes = self.codes.borrow_mut();
            if reusable {
                codes.get(c).cloned()
            } else {
                codes.remove(c)
            }
        });
        let Some(issued) = issued else {
            return respond(400, json!({"error": "invalid_grant", "error_description": "unknown code"}));
        };
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        if keyedge::core::b64url(&Sha256::digest(verifier.as_bytes())) != issued.challenge {
            return respond(400, json!({"error": "invalid_grant", "error_description": "PKCE"}));
        }
        if f.get("redirect_uri") != Some(&issued.redirect_uri) {
            return respond(400, json!({"error": "invalid_grant", "error_description": "redirect_uri"}));
        }
        let access_token = format!("at-{}", issued.user);
        let now = self.clock.now();
        let mut claims = json!({
            "iss": IDP, "sub": format!("sub-{}", issued.user), "aud": "keyedge-at-idp",
            "iat": now, "exp": now + 300, "nonce": issued.nonce,
            "at_hash": keyedge::core::jose::half_hash(&access_token),
        });
        (self.tamper.borrow())(&mut claims);
        let id_token = sign(&self.key.borrow(), &self.kid.borrow(), claims);
        respond(
            200,
            json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token }),
        )
    }

    /// The IdP rotates its signing key: new key, new `kid`, old one no longer published.
    pub fn rotate_key(&self, pem: &str, kid: &str) {
        *self.key.borrow_mut() = rsa_key(pem);
        *self.kid.borrow_mut() = kid.to_owned();
    }

    /// The user signs in at the IdP's authorization endpoint; returns the callback URL.
    pub fn authorize(&self, auth_url: &str, user: &str) -> String {
        let url = url::Url::parse(auth_url).unwrap();
        assert!(auth_url.starts_with(&format!("{IDP}/auth?")), "sent to {auth_url}");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "keyedge-at-idp");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["code_challenge_method"], "S256");
        let code = format!("code-{}-{}", user, self.codes.borrow().len());
        self.codes.borrow_mut().insert(
            code.clone(),
            IssuedCode {
                nonce: q["nonce"].clone(),
                challenge: q["code_challenge"].clone(),
                user: user.to_owned(),
                redirect_uri: q["redirect_uri"].clone(),
            },
        );
        let mut cb = url::Url::parse(&q["redirect_uri"]).unwrap();
        cb.query_pairs_mut().append_pair("code", &code).append_pair("state", &q["state"]).append_pair("iss", IDP);
        cb.to_string()
    }
}
