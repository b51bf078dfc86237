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

/// Another signing key of the IdP (another algorithm than RS256): it signs the ID tokens and
/// `jwks` is what the JWKS endpoint publishes.
pub struct OtherKey {
    pub sign: Box<dyn Fn(Value) -> String>,
    pub jwks: String,
}

/// How one of the IdP's endpoints fails.
#[derive(Clone, Copy, Debug)]
pub enum Broken {
    /// It answers with this HTTP status (and a JSON error body).
    Status(u16),
    /// It answers 200 with a body that is not JSON (a proxy's HTML page).
    NotJson,
}

#[derive(Clone)]
pub struct IssuedCode {
    nonce: String,
    challenge: Option<String>,
    user: String,
    redirect_uri: String,
    /// When the user authenticated at the IdP (the ID token's `auth_time`).
    auth_time: i64,
}

pub struct FakeIdp {
    clock: VirtualClock,
    /// Issuer and base URL, e.g. `https://idp.test`.
    pub base: String,
    /// keyedge's client id and secret at this IdP.
    pub client_id: String,
    pub secret: String,
    /// How keyedge must authenticate: client_secret_basic (default), client_secret_post,
    /// client_secret_jwt or private_key_jwt (checked against keyedge's test key).
    pub auth_method: RefCell<&'static str>,
    /// `expires_in` of access tokens.
    pub access_lifetime: RefCell<i64>,
    /// Refresh tokens issued, by value: the user. Rotated on use.
    pub refresh_tokens: RefCell<HashMap<String, String>>,
    /// Refuse refresh grants (`invalid_grant`), as after a revocation at the IdP.
    pub refuse_refresh: RefCell<bool>,
    /// Issue no refresh tokens.
    pub no_refresh_tokens: RefCell<bool>,
    /// `email_verified` in userinfo.
    pub email_verified: RefCell<bool>,
    /// `given_name` in userinfo.
    pub given_name: RefCell<String>,
    /// Accept authorization requests without PKCE.
    pub pkce_optional: RefCell<bool>,
    /// The last authorization request's query.
    pub last_authorize: RefCell<HashMap<String, String>>,
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
    /// The IdP answers from a session authenticated at this time instead of signing the user
    /// in again, whatever `prompt` or `max_age` say (`None`: every login is a fresh one).
    pub session_since: RefCell<Option<i64>>,
    /// Endpoints (by path: `/token`, `/jwks`, …) that fail, and how.
    pub broken: RefCell<HashMap<&'static str, Broken>>,
    /// Applied to the discovery document before it is served.
    pub discovery_tamper: RefCell<Tamper>,
    /// The queries of the GETs of its end-session endpoint (RP-Initiated Logout, or
    /// Keycloak's server-to-server "backchannel logout").
    pub end_session_calls: RefCell<Vec<HashMap<String, String>>>,
    /// Signs with this key instead of the RS256 fixture key.
    pub other_key: RefCell<Option<OtherKey>>,
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
        Self::mount_at(http, clock, IDP, "keyedge-at-idp", super::IDP_SECRET)
    }

    /// Another IdP at `base`, where keyedge is client `client_id` with `secret`.
    pub fn mount_at(http: &MemoryHttp, clock: VirtualClock, base: &str, client_id: &str, secret: &str) -> Rc<Self> {
        let idp = Rc::new(FakeIdp {
            clock,
            base: base.to_owned(),
            client_id: client_id.to_owned(),
            secret: secret.to_owned(),
            auth_method: RefCell::new("client_secret_basic"),
            access_lifetime: RefCell::new(300),
            refresh_tokens: RefCell::default(),
            refuse_refresh: RefCell::new(false),
            no_refresh_tokens: RefCell::new(false),
            email_verified: RefCell::new(true),
            given_name: RefCell::new("Given".into()),
            pkce_optional: RefCell::new(false),
            last_authorize: RefCell::default(),
            key: RefCell::new(rsa_key(include_str!("../../fixtures/upstream-test-key.pem"))),
            kid: RefCell::new("up-1".into()),
            codes: RefCell::default(),
            tamper: RefCell::new(Box::new(|_| {})),
            userinfo_sub: RefCell::new(None),
            token_requests: RefCell::new(0),
            reusable_codes: RefCell::new(false),
            jwks_requests: RefCell::new(0),
            session_since: RefCell::new(None),
            broken: RefCell::default(),
            discovery_tamper: RefCell::new(Box::new(|_| {})),
            end_session_calls: RefCell::default(),
            other_key: RefCell::new(None),
        });
        let handler = idp.clone();
        http.mount(base, move |req| handler.serve(req));
        idp
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let base = &self.base;
        match self.broken.borrow().get(req.uri().path()) {
            Some(Broken::Status(status)) => return respond(*status, json!({"error": "server_error"})),
            Some(Broken::NotJson) => {
                return http::Response::builder()
                    .status(200)
                    .header("content-type", "text/html")
                    .body(b"<html><body>Bad gateway</body></html>".to_vec())
                    .unwrap()
            }
            None => {}
        }
        match req.uri().path() {
            "/.well-known/openid-configuration" => {
                let mut doc = json!({
                    "issuer": base,
                    "authorization_endpoint": format!("{base}/auth"),
                    "token_endpoint": format!("{base}/token"),
                    "jwks_uri": format!("{base}/jwks"),
                    "userinfo_endpoint": format!("{base}/userinfo"),
                    "end_session_endpoint": format!("{base}/session/end"),
                });
                (self.discovery_tamper.borrow())(&mut doc);
                respond(200, doc)
            }
            "/jwks" => {
                *self.jwks_requests.borrow_mut() += 1;
                let body = match &*self.other_key.borrow() {
                    Some(other) => other.jwks.clone(),
                    None => jwks_for(&self.key.borrow(), &self.kid.borrow()),
                };
                http::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(body.into_bytes())
                    .unwrap()
            }
            // `/v2/token`: where a test moves the token endpoint (`discovery_tamper`).
            "/token" | "/v2/token" => self.token(req),
            "/session/end" => {
                let query =
                    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
                self.end_session_calls.borrow_mut().push(query);
                respond(200, json!({}))
            }
            "/userinfo" => {
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let Some(user) = auth.strip_prefix("Bearer at-").map(|u| u.split('~').next().unwrap_or(u)) else {
                    return respond(401, json!({"error": "invalid_token"}));
                };
                let user = percent_encoding::percent_decode_str(user).decode_utf8_lossy();
                let sub = self.userinfo_sub.borrow().clone().unwrap_or_else(|| format!("sub-{user}"));
                respond(
                    200,
                    json!({ "sub": sub, "email": format!("{user}@example.com"),
                    "email_verified": *self.email_verified.borrow(),
                    "preferred_username": user, "given_name": *self.given_name.borrow(), "family_name": "Family",
                    "phone_number": "+1 555 0100", "phone_number_verified": true,
                    "address": { "country": "NL", "locality": "Delft" } }),
                )
            }
            _ => respond(404, json!({"error": "not_found"})),
        }
    }

    /// Checks keyedge's client authentication the configured way.
    fn client_authenticated(&self, req: &http::Request<Vec<u8>>, f: &HashMap<String, String>) -> bool {
        use base64::Engine;
        let header = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        let field = |k: &str| f.get(k).map(String::as_str);
        match *self.auth_method.borrow() {
            "client_secret_basic" => {
                let expected =
                    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.client_id, self.secret));
                header == Some(&format!("Basic {expected}")) && field("client_secret").is_none()
            }
            "client_secret_post" => {
                header.is_none()
                    && field("client_id") == Some(&self.client_id)
                    && field("client_secret") == Some(&self.secret)
            }
            method => {
                if header.is_some()
                    || field("client_secret").is_some()
                    || field("client_assertion_type") != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                {
                    return false;
                }
                let Some(assertion) = field("client_assertion") else { return false };
                let Ok(token) = jwt_compact::UntrustedToken::new(assertion) else { return false };
                let claims: Result<jwt_compact::Token<Value>, _> = if method == "client_secret_jwt" {
                    use jwt_compact::alg::{Hs256, Hs256Key};
                    Hs256.validator(&Hs256Key::new(self.secret.as_bytes())).validate(&token)
                } else {
                    let key = rsa_key(include_str!("../../fixtures/keyedge-test-key.pem")).to_public_key();
                    Rsa::rs256().validator(&key).validate(&token)
                };
                let Ok(claims) = claims else { return false };
                let c = &claims.claims().custom;
                let exp_ok = claims.claims().expiration.is_some_and(|e| e.timestamp() >= self.clock.now());
                exp_ok
                    && c["iss"] == json!(self.client_id)
                    && c["sub"] == json!(self.client_id)
                    && c["aud"] == json!(format!("{}/token", self.base))
                    && c["jti"].is_string()
            }
        }
    }

    fn token(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        *self.token_requests.borrow_mut() += 1;
        let f = form(req.body());
        if !self.client_authenticated(&req, &f) {
            return respond(401, json!({"error": "invalid_client"}));
        }
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            let presented = f.get("refresh_token").cloned().unwrap_or_default();
            let user = self.refresh_tokens.borrow_mut().remove(&presented);
            return match user {
                Some(user) if !*self.refuse_refresh.borrow() => self.issue(&user, None),
                _ => respond(400, json!({"error": "invalid_grant", "error_description": "refresh token revoked"})),
            };
        }
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
        let verifier = f.get("code_verifier").cloned();
        let pkce_ok = match (&issued.challenge, verifier) {
            (Some(challenge), Some(v)) => keyedge::core::b64url(&Sha256::digest(v.as_bytes())) == *challenge,
            (None, None) => true,
            _ => false,
        };
        if !pkce_ok {
            return respond(400, json!({"error": "invalid_grant", "error_description": "PKCE"}));
        }
        if f.get("redirect_uri") != Some(&issued.redirect_uri) {
            return respond(400, json!({"error": "invalid_grant", "error_description": "redirect_uri"}));
        }
        self.issue(&issued.user, Some((&issued.nonce, issued.auth_time)))
    }

    /// A token response for `user`: with an ID token carrying `nonce` and `auth_time` for a
    /// code, without them for a refresh (OIDC Core §12.2).
    fn issue(&self, user: &str, code: Option<(&str, i64)>) -> http::Response<Vec<u8>> {
        let nonce = code.map(|(nonce, _)| nonce);
        let n = *self.token_requests.borrow();
        // The user percent-encoded: an access token is ASCII (a user may be `josé`).
        let user_in_token = percent_encoding::utf8_percent_encode(user, percent_encoding::NON_ALPHANUMERIC);
        let access_token =
            if nonce.is_some() { format!("at-{user_in_token}") } else { format!("at-{user_in_token}~{n}") };
        let now = self.clock.now();
        let mut claims = json!({
            "iss": self.base, "sub": format!("sub-{user}"), "aud": self.client_id,
            "iat": now, "exp": now + 300, "sid": format!("sid-{user}"),
            "at_hash": keyedge::core::jose::half_hash(&access_token),
        });
        if let Some((nonce, auth_time)) = code {
            // An authorization request without a nonce gets an ID token without one.
            if !nonce.is_empty() {
                claims["nonce"] = json!(nonce);
            }
            claims["auth_time"] = json!(auth_time);
        }
        (self.tamper.borrow())(&mut claims);
        let id_token = match &*self.other_key.borrow() {
            Some(other) => (other.sign)(claims),
            None => sign(&self.key.borrow(), &self.kid.borrow(), claims),
        };
        let mut body = json!({
            "access_token": access_token, "token_type": "Bearer",
            "expires_in": *self.access_lifetime.borrow(), "id_token": id_token,
        });
        if !*self.no_refresh_tokens.borrow() {
            let rt = format!("rt-{user}-{n}");
            self.refresh_tokens.borrow_mut().insert(rt.clone(), user.to_owned());
            body["refresh_token"] = json!(rt);
        }
        respond(200, body)
    }

    /// A Back-Channel Logout token for `user`'s session, signed with the IdP's key;
    /// `tamper` changes its claims first.
    pub fn logout_token(&self, user: &str, tamper: impl Fn(&mut Value)) -> String {
        let now = self.clock.now();
        let mut claims = json!({
            "iss": self.base, "aud": self.client_id, "sub": format!("sub-{user}"), "sid": format!("sid-{user}"),
            "iat": now, "exp": now + 120, "jti": format!("jti-{user}-{now}"),
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        });
        tamper(&mut claims);
        sign(&self.key.borrow(), &self.kid.borrow(), claims)
    }

    /// The IdP answers an authorization request with `error` (e.g. `login_required` for
    /// `prompt=none` without a session there); returns the callback URL.
    pub fn deny(&self, auth_url: &str, error: &str) -> String {
        let url = url::Url::parse(auth_url).unwrap();
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        *self.last_authorize.borrow_mut() = q.clone();
        let mut cb = url::Url::parse(&q["redirect_uri"]).unwrap();
        cb.query_pairs_mut().append_pair("error", error).append_pair("state", &q["state"]);
        cb.to_string()
    }

    /// The IdP rotates its signing key: new key, new `kid`, old one no longer published.
    pub fn rotate_key(&self, pem: &str, kid: &str) {
        *self.key.borrow_mut() = rsa_key(pem);
        *self.kid.borrow_mut() = kid.to_owned();
    }

    /// The user signs in at the IdP's authorization endpoint; returns the callback URL.
    pub fn authorize(&self, auth_url: &str, user: &str) -> String {
        let url = url::Url::parse(auth_url).unwrap();
        assert!(auth_url.starts_with(&format!("{}/auth?", self.base)), "sent to {auth_url}");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        *self.last_authorize.borrow_mut() = q.clone();
        assert_eq!(q["client_id"], self.client_id);
        assert_eq!(q["response_type"], "code");
        if !*self.pkce_optional.borrow() {
            assert_eq!(q["code_challenge_method"], "S256");
        }
        let code = format!("code-{}-{}", user, self.codes.borrow().len());
        self.codes.borrow_mut().insert(
            code.clone(),
            IssuedCode {
                nonce: q.get("nonce").cloned().unwrap_or_default(),
                challenge: q.get("code_challenge").cloned(),
                user: user.to_owned(),
                redirect_uri: q["redirect_uri"].clone(),
                auth_time: self.session_since.borrow().unwrap_or_else(|| self.clock.now()),
            },
        );
        let mut cb = url::Url::parse(&q["redirect_uri"]).unwrap();
        cb.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &q["state"])
            .append_pair("iss", &self.base);
        cb.to_string()
    }
}
