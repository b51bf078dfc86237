//! `kind = "apple"` against a stand-in for Sign in with Apple at `https://apple.test`
//! (`issuer`), speaking Apple's wire format:
//!
//! - The authorization request (`response_mode=form_post` when `name` or `email` is asked
//!   for, `nonce`) and the answer posted to the redirect URI: `code`, `state`, and on the
//!   user's first authorization only `user`, `{"name":{"firstName":…,"lastName":…},"email":…}`;
//!   `error=user_cancelled_authorize` when the user cancels:
//!   https://developer.apple.com/documentation/sign_in_with_apple/request_an_authorization_to_the_sign_in_with_apple_server
//!   and https://developer.apple.com/documentation/sign_in_with_apple/incorporating-sign-in-with-apple-into-other-platforms
//! - The token request (`client_id`, `client_secret`, `code`, `grant_type`, `redirect_uri`, and
//!   `code_verifier` when the authorization request had a PKCE challenge:
//!   https://github.com/a-tokyo/apple-signin-auth/issues/180),
//!   its answer and errors (`{"error":"invalid_client"}`, `invalid_grant`):
//!   https://developer.apple.com/documentation/sign_in_with_apple/generate_and_validate_tokens
//!   and https://developer.apple.com/documentation/sign_in_with_apple/errorresponse
//! - The client secret: an ES256 JWT, `kid` the Key ID, `iss` the Team ID, `sub` the Services
//!   ID, `aud` `https://appleid.apple.com`, `exp` at most 15777000 s (six months) after `iat`:
//!   https://developer.apple.com/documentation/accountorganizationaldatasharing/creating-a-client-secret
//! - The ID token (RS256 from `/auth/keys`; `email_verified` and `is_private_email` as the
//!   strings "true"/"false"; `nonce`, `nonce_supported`, `real_user_status`):
//!   https://developer.apple.com/documentation/sign_in_with_apple/authenticating-users-with-sign-in-with-apple
//! - The refresh grant (`client_id`, the signed `client_secret`, `grant_type=refresh_token`,
//!   `refresh_token`): a new access token and ID token, no new refresh token (the one from
//!   the code exchange stays); a revoked one `{"error":"invalid_grant"}`:
//!   https://developer.apple.com/documentation/sign_in_with_apple/generate_and_validate_tokens

use super::*;
use crate::common::fake_idp::{jwks_for, rsa_key, sign};
use jwt_compact::{alg::Es256, AlgorithmExt, UntrustedToken};
use keyedge::core::app::Keyedge;
use keyedge::core::ports::Clock;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;

const APPLE: &str = "https://apple.test";
const CLIENT: &str = "com.example.signin";
const TEAM: &str = "A1B2C3D4E5";
const KEY_ID: &str = "KEY0123456";

/// A P-256 key as the `.p8` file Apple hands out (PKCS#8 PEM), made here.
fn p8() -> (String, p256::ecdsa::VerifyingKey) {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    (pem, *p256::ecdsa::SigningKey::from(key).verifying_key())
}

/// An Apple account: its `sub` and address (a private relay address or the real one).
fn account(name: &str) -> (&'static str, &'static str) {
    match name {
        "ada" => ("001234.8f5a1b2c3d4e4f5a6b7c8d9e0f1a2b3c.1234", "x7kq2m9p4t@privaterelay.appleid.com"),
        _ => ("000987.0a1b2c3d4e5f60718293a4b5c6d7e8f9.0987", "bob@example.com"),
    }
}

/// What a code stands for: the account, and the request's nonce, redirect URI and PKCE challenge.
type IssuedCode = (&'static str, String, String, Option<String>);

struct Apple {
    clock: keyedge::core::ports::memory::VirtualClock,
    key: jwt_compact::alg::RsaPrivateKey,
    /// The public half of the key registered for the Services ID, under [`KEY_ID`].
    registered: p256::ecdsa::VerifyingKey,
    codes: RefCell<HashMap<String, IssuedCode>>,
    /// Accounts that authorized the app already: the `user` field is not sent again.
    authorized: RefCell<Vec<&'static str>>,
    last_authorize: RefCell<HashMap<String, String>>,
    /// The claims of the last client secret Apple accepted.
    last_secret: RefCell<Option<(Value, Value)>>,
    token_requests: RefCell<usize>,
    refreshes: Refreshes,
}

impl Apple {
    fn mount(world: &World, registered: p256::ecdsa::VerifyingKey) -> Rc<Apple> {
        let apple = Rc::new(Apple {
            clock: world.clock.clone(),
            key: rsa_key(include_str!("../../fixtures/upstream-test-key.pem")),
            registered,
            codes: RefCell::default(),
            authorized: RefCell::default(),
            last_authorize: RefCell::default(),
            last_secret: RefCell::new(None),
            token_requests: RefCell::new(0),
            refreshes: Refreshes::default(),
        });
        let handler = apple.clone();
        world.http.mount(APPLE, move |req| handler.serve(req));
        apple
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match req.uri().path() {
            "/auth/keys" => answer(200, serde_json::from_str(&jwks_for(&self.key, "W6WcOKB")).unwrap()),
            "/auth/token" => self.token(&req),
            _ => answer(404, json!({"error": "not_found"})),
        }
    }

    /// The client secret's checks: Apple answers `invalid_client` to any failing one.
    fn client_secret_ok(&self, secret: &str) -> bool {
        let Ok(token) = UntrustedToken::new(secret) else { return false };
        let header = (token.algorithm().to_owned(), token.header().key_id.clone());
        if header != ("ES256".to_owned(), Some(KEY_ID.to_owned())) {
            return false;
        }
        let Ok(valid) = Es256.validator::<Value>(&self.registered).validate(&token) else { return false };
        let claims = valid.claims();
        let (iat, exp) = (claims.issued_at.map(|t| t.timestamp()), claims.expiration.map(|t| t.timestamp()));
        let now = self.clock.now();
        let c = &claims.custom;
        let ok = c["iss"] == TEAM
            && c["sub"] == CLIENT
            && c["aud"] == APPLE
            && iat.is_some_and(|iat| iat <= now)
            && exp.is_some_and(|exp| exp > now && exp - iat.unwrap_or(0) <= 15_777_000);
        if ok {
            let header = json!({"alg": token.algorithm(), "kid": token.header().key_id});
            *self.last_secret.borrow_mut() = Some((header, c.clone()));
        }
        ok
    }

    fn token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        *self.token_requests.borrow_mut() += 1;
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        let secret = f.get("client_secret").map(String::as_str).unwrap_or("");
        if f.get("client_id").map(String::as_str) != Some(CLIENT) || !self.client_secret_ok(secret) {
            return answer(400, json!({"error": "invalid_client"}));
        }
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            let Some(name) = self.refreshes.redeem(&f, false) else {
                return answer(400, json!({"error": "invalid_grant"}));
            };
            return self.issue(&name, None);
        }
        let code = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c));
        let Some((name, nonce, redirect_uri, challenge)) = code else {
            return answer(400, json!({"error": "invalid_grant"}));
        };
        use sha2::{Digest, Sha256};
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        // A code issued with a PKCE challenge is redeemed only with its verifier.
        if f.get("grant_type").map(String::as_str) != Some("authorization_code")
            || f.get("redirect_uri") != Some(&redirect_uri)
            || challenge.is_some_and(|c| c != keyedge::core::b64url(&Sha256::digest(verifier.as_bytes())))
        {
            return answer(400, json!({"error": "invalid_grant"}));
        }
        self.issue(name, Some(&nonce))
    }

    /// Tokens for `name`: with the code's `nonce`, a refresh token too; without (a refresh),
    /// none.
    fn issue(&self, name: &str, nonce: Option<&str>) -> http::Response<Vec<u8>> {
        let (sub, email) = account(name);
        let now = self.clock.now();
        let n = *self.refreshes.granted.borrow();
        let access_token = if n == 0 { format!("a1b2c3.0.{sub}") } else { format!("a1b2c3.{n}.{sub}") };
        let mut claims = json!({
            "iss": APPLE, "aud": CLIENT, "exp": now + 86400, "iat": now, "sub": sub,
            "nonce_supported": true, "at_hash": keyedge::core::jose::half_hash(&access_token),
            "email": email, "email_verified": "true",
            "is_private_email": if email.ends_with("@privaterelay.appleid.com") { "true" } else { "false" },
            "auth_time": now - 5, "real_user_status": 2,
        });
        let Some(nonce) = nonce else {
            let id_token = sign(&self.key, "W6WcOKB", claims);
            return answer(
                200,
                json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600, "id_token": id_token}),
            );
        };
        claims["nonce"] = json!(nonce);
        answer(
            200,
            json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": self.refreshes.issue("r1b2c3.0.", name), "id_token": sign(&self.key, "W6WcOKB", claims)}),
        )
    }

    /// `name` signs in and approves: the form Apple's page posts to the redirect URI (its
    /// action and fields), with `user` on the first authorization of the app only.
    fn approve(&self, auth_url: &str, name: &'static str) -> (String, Vec<(String, String)>) {
        assert!(auth_url.starts_with(&format!("{APPLE}/auth/authorize?")), "{auth_url}");
        let q = query(auth_url);
        *self.last_authorize.borrow_mut() = q.clone();
        assert_eq!((q["client_id"].as_str(), q["response_type"].as_str()), (CLIENT, "code"));
        // Apple refuses `name` or `email` without the form post, at its own page.
        assert_eq!(q["response_mode"], "form_post");
        let code = format!("c{}.0.ndxz.{}", self.codes.borrow().len(), name.len());
        let issued = (name, q["nonce"].clone(), q["redirect_uri"].clone(), q.get("code_challenge").cloned());
        self.codes.borrow_mut().insert(code.clone(), issued);
        let mut fields = vec![("state".to_owned(), q["state"].clone()), ("code".to_owned(), code)];
        if !self.authorized.borrow().contains(&name) {
            self.authorized.borrow_mut().push(name);
            let user = json!({"name": {"firstName": "Ada", "lastName": "Lovelace"}, "email": account(name).1});
            fields.push(("user".to_owned(), user.to_string()));
        }
        (q["redirect_uri"].clone(), fields)
    }

    fn cancel(&self, auth_url: &str) -> (String, Vec<(String, String)>) {
        let q = query(auth_url);
        let fields =
            vec![("error".to_owned(), "user_cancelled_authorize".to_owned()), ("state".to_owned(), q["state"].clone())];
        (q["redirect_uri"].clone(), fields)
    }
}

/// Apple's page posting its form to keyedge: a cross-site POST, so without keyedge's
/// `SameSite=Lax` cookies.
fn cross_site_post(
    world: &World,
    browser: &mut Browser,
    (action, fields): (String, Vec<(String, String)>),
) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
    let req = http::Request::post(action)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://appleid.apple.com")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .body(body.into_bytes())
        .unwrap();
    let res = world.send(req);
    browser.remember(&res);
    res
}

type Response = http::Response<Vec<u8>>;

/// A world with an Apple provider whose key, `pem`, is in the secret `APPLE_KEY` under `key_id`.
fn apple_world(key_id: &str, options: &str, pem: &str) -> World {
    apple_world_with(key_id, options, pem, "")
}

/// The same, with the application's options `app`.
fn apple_world_with(key_id: &str, options: &str, pem: &str, app: &str) -> World {
    let idp = format!(
        "[[identity_providers]]\nalias = \"apple\"\nkind = \"apple\"\nissuer = \"{APPLE}\"\nclient_id = \"{CLIENT}\"\nteam_id = \"{TEAM}\"\nkey_id = \"{key_id}\"\nprivate_key_env = \"APPLE_KEY\"\n{options}"
    );
    let mut world = World::new();
    let text = ConfigBuilder::new().app(app).extra(&idp).build();
    let pem = pem.to_owned();
    let secrets = move |name: &str| if name == "APPLE_KEY" { Some(pem.clone()) } else { secrets(name) };
    world.app = Keyedge::from_config_text(&text, &secrets).unwrap_or_else(|e| panic!("{e}"));
    world
}

fn mounted(options: &str) -> (World, Rc<Apple>) {
    let (pem, public) = p8();
    let world = apple_world(KEY_ID, options, &pem);
    let apple = Apple::mount(&world, public);
    (world, apple)
}

/// A login of `name` at Apple through the form post: keyedge's answer to the post (a `303`
/// to its own endpoint), then to the browser's GET of it, and the application's request.
fn sign_in(world: &World, apple: &Apple, browser: &mut Browser, name: &'static str) -> (Response, Response, RpRequest) {
    let (at_apple, rp) = to_provider(world, browser, "apple");
    let posted = cross_site_post(world, browser, apple.approve(&at_apple, name));
    let res = browser.get(world, &location(&posted));
    (posted, res, rp)
}

#[test]
fn an_apple_login_is_posted_back_and_the_name_of_the_first_authorization_stays() {
    let (world, apple) = mounted("sync_mode = \"force\"");
    let (posted, res, rp) = sign_in(&world, &apple, &mut Browser::default(), "ada");
    let q = apple.last_authorize.borrow().clone();
    assert_eq!(q["scope"], "openid name email");
    assert!(q.contains_key("nonce") && q["code_challenge_method"] == "S256", "{q:?}");
    // The post is answered with a GET of the same endpoint on keyedge's origin; the code and
    // the name are not in its URL.
    assert_eq!(posted.status(), 303, "{}", body(&posted));
    let to = location(&posted);
    assert!(
        to.starts_with("/broker/apple/endpoint?form_post=") && !to.contains("code=") && !to.contains("Ada"),
        "{to}"
    );
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Ada"), Some("Lovelace")));
    // A relay address Apple verified (`email_verified` is the string "true").
    let relay = "x7kq2m9p4t@privaterelay.appleid.com";
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some(relay), Some(true)));
    assert!(user_of_link(&world, "apple", account("ada").0).is_some());
    // Later logins carry no `user` field; with sync_mode = "force" the name stays all the same.
    let (_, res, rp) = sign_in(&world, &apple, &mut Browser::default(), "ada");
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Ada"), Some("Lovelace")));
    assert_eq!((accounts(&world), *apple.token_requests.borrow()), (1, 2));
}

#[test]
fn apples_client_secret_is_an_es256_jwt_of_the_operators_key() {
    let (world, apple) = mounted("");
    let (_, res, _) = sign_in(&world, &apple, &mut Browser::default(), "bob");
    assert!(location(&res).starts_with(APP_REDIRECT), "{}: {}", res.status(), body(&res));
    let (header, claims) = apple.last_secret.borrow().clone().expect("Apple checked a client secret");
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("ES256"), Some(KEY_ID)));
    assert_eq!(
        (claims["iss"].as_str(), claims["sub"].as_str(), claims["aud"].as_str()),
        (Some(TEAM), Some(CLIENT), Some(APPLE))
    );
    // Another key than the one registered under the Key ID, or another Key ID: `invalid_client`.
    for (key_id, registered_key) in [(KEY_ID, false), ("KEY9999999", true)] {
        let ((pem, public), (other, _)) = (p8(), p8());
        let world = apple_world(key_id, "", if registered_key { &pem } else { &other });
        let apple = Apple::mount(&world, public);
        let (_, res, _) = sign_in(&world, &apple, &mut Browser::default(), "bob");
        assert_eq!(res.status(), 502, "{key_id}");
        assert!(body(&res).contains("refused to complete the sign-in"), "{}", body(&res));
        assert!(world.logged_for(&body(&res)).contains("invalid_client"), "{key_id}");
        assert_eq!(accounts(&world), 0);
    }
}

#[test]
fn cancelling_at_apple_signs_no_one_in() {
    let (world, apple) = mounted("");
    let mut browser = Browser::default();
    let (at_apple, _) = to_provider(&world, &mut browser, "apple");
    let posted = cross_site_post(&world, &mut browser, apple.cancel(&at_apple));
    let res = browser.get(&world, &location(&posted));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The identity provider reported an error."), "{}", body(&res));
    assert!(world.logged_for(&body(&res)).contains("user_cancelled_authorize"));
    assert_eq!((*apple.token_requests.borrow(), accounts(&world)), (0, 0));
}

/// The attack the form post invites: Apple's answer for one browser's login, posted by
/// another browser (login CSRF: the attacker's own code and state, posted from the victim's
/// browser; or a stolen answer replayed elsewhere). The post completes nothing, and the GET it
/// leads to needs the flow cookie of the browser that started the login.
#[test]
fn a_form_post_with_another_browsers_state_is_refused() {
    let (world, apple) = mounted("");
    let mut started = Browser::default();
    let (at_apple, rp) = to_provider(&world, &mut started, "apple");
    let answer = apple.approve(&at_apple, "ada");
    let mut other = Browser::default();
    let posted = cross_site_post(&world, &mut other, answer.clone());
    assert_eq!(posted.status(), 303);
    let res = other.get(&world, &location(&posted));
    assert_eq!(res.status(), 400, "{}", body(&res));
    assert!(body(&res).contains("started in another browser"), "{}", body(&res));
    assert_eq!((*apple.token_requests.borrow(), accounts(&world)), (0, 0));
    // The browser that started it completes it; the same answer cannot complete it twice.
    let posted = cross_site_post(&world, &mut started, answer.clone());
    let again = location(&posted);
    let res = started.get(&world, &again);
    assert!(location(&res).starts_with(APP_REDIRECT), "{}: {}", res.status(), body(&res));
    assert!(claims_for(&world, &code_of(&res), &rp)["sub"].is_string());
    assert_eq!(started.get(&world, &again).status(), 400);
}

#[test]
fn apples_endpoint_takes_only_a_sealed_recent_form_post() {
    let (world, apple) = mounted("");
    let mut browser = Browser::default();
    let (at_apple, _) = to_provider(&world, &mut browser, "apple");
    let (_, fields) = apple.approve(&at_apple, "ada");
    // The parameters in a query, as a redirect would carry them: not Apple's answer.
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = browser.get(&world, &keyedge::core::web::path_with_query("/broker/apple/endpoint", &pairs));
    assert_eq!(res.status(), 400);
    assert!(body(&res).contains("Apple answers with a form post"), "{}", body(&res));
    // A sealed answer five minutes old, or altered: refused too.
    let posted = cross_site_post(&world, &mut browser, (format!("{ISSUER}/broker/apple/endpoint"), fields));
    let to = location(&posted);
    let mut altered = to.clone().into_bytes();
    let i = altered.len() - 10;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    assert_eq!(browser.get(&world, &altered).status(), 400);
    world.clock.advance(301);
    assert_eq!(browser.get(&world, &to).status(), 400);
    assert_eq!(*apple.token_requests.borrow(), 0);
}

#[test]
fn a_provider_that_redirects_refuses_a_form_post() {
    let (world, _apple) = mounted("");
    let mut browser = Browser::default();
    let at_idp = start_login_via(&world, &mut browser, &rp_request("app", APP_REDIRECT).query, "up");
    let back = world.idp.authorize(&at_idp, "alice");
    let (action, query) = back.split_once('?').unwrap();
    let fields = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let res = cross_site_post(&world, &mut browser, (action.to_owned(), fields));
    assert_eq!((res.status().as_u16(), res.headers()["allow"].to_str().unwrap()), (405, "GET, HEAD"), "{}", body(&res));
    assert!(body(&res).contains("answers with a redirect, not a form post"), "{}", body(&res));
    // Its redirect still works.
    assert!(location(&browser.get(&world, &back)).starts_with(APP_REDIRECT));
}

#[test]
fn the_apple_preset_gets_apples_endpoints_and_button() {
    let (world, _) = mounted("");
    let p = world.app.config.provider("apple").unwrap();
    assert_eq!((p.display_name.as_str(), p.preset, p.pkce_enabled), ("Apple", Some(Preset::Apple), true));
    let (pem, _) = p8();
    let text = ConfigBuilder::new()
        .extra("[[identity_providers]]\nalias = \"a\"\nkind = \"apple\"\nclient_id = \"c\"\nteam_id = \"A1B2C3D4E5\"\nkey_id = \"KEY0123456\"\nprivate_key_env = \"K\"")
        .build();
    let config = Config::load(&text, &|n: &str| if n == "K" { Some(pem.clone()) } else { secrets(n) }).unwrap();
    let ProviderKind::Oidc(a) = &config.provider("a").unwrap().kind else { panic!("Apple is OpenID Connect") };
    let url = |u: &Option<url::Url>| u.as_ref().unwrap().to_string();
    assert_eq!((a.issuer.as_str(), a.default_scopes.as_str()), ("https://appleid.apple.com", "openid name email"));
    assert_eq!(url(&a.authorization_url), "https://appleid.apple.com/auth/authorize");
    assert_eq!(url(&a.token_url), "https://appleid.apple.com/auth/token");
    assert_eq!(url(&a.jwks_url), "https://appleid.apple.com/auth/keys");
    assert!(a.form_post && a.name_in_user_field && a.disable_userinfo);
    assert!(matches!(&a.client_auth, UpstreamClientAuth::SignedSecret(s) if s.issuer == TEAM && s.key_id == KEY_ID));
    let page = body(&Browser::default().get(&world, "/login?return_to=%2Faccount"));
    let b = button(&page, "apple");
    assert!(b.contains("<svg") && b.contains("#000"), "{b}");
    assert_eq!(accessible_text(&b), "Sign in with Apple");
}

#[test]
fn an_apple_provider_without_its_key_or_ids_is_refused_naming_the_field() {
    let (pem, _) = p8();
    let rsa = include_str!("../../fixtures/upstream-test-key.pem");
    let full = format!("client_id = \"c\"\nteam_id = \"{TEAM}\"\nkey_id = \"{KEY_ID}\"\nprivate_key_env = \"K\"");
    let without = |field: &str| full.lines().filter(|l| !l.starts_with(field)).collect::<Vec<_>>().join("\n");
    for (options, key, field, says) in [
        (without("team_id"), pem.as_str(), "team_id", "is required"),
        (without("key_id"), pem.as_str(), "key_id", "is required"),
        (without("private_key_env"), pem.as_str(), "private_key_env", "is required"),
        (without("client_id"), pem.as_str(), "client_id", "is required"),
        (full.clone(), "", "private_key_env", "secret `K` is not set"),
        (
            full.clone(),
            "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
            "private_key_env",
            "not a PEM private key",
        ),
        (full.clone(), "garbage", "private_key_env", "not a PEM private key"),
        (full.clone(), rsa, "private_key_env", "a RS256 key, not P-256 (ES256)"),
        (full.replace(TEAM, "A1B2"), pem.as_str(), "team_id", "ten letters or digits"),
        (format!("{full}\nclient_secret_env = \"IDP2_SECRET\""), pem.as_str(), "client_secret_env", "sets this itself"),
        (format!("{full}\ndefault_scopes = \"name email\""), pem.as_str(), "default_scopes", "`openid`"),
        (
            format!("{full}\ntrust_email = true"),
            pem.as_str(),
            "trust_email",
            "counts only the addresses Apple says it verified",
        ),
    ] {
        let text = ConfigBuilder::new()
            .extra(&format!("[[identity_providers]]\nalias = \"p\"\nkind = \"apple\"\n{options}"))
            .build();
        let key = key.to_owned();
        let e = Config::load(&text, &|n: &str| if n == "K" { Some(key.clone()) } else { secrets(n) })
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("identity_providers[1].{field}: ")) && e.contains(says), "{field}: {e}");
    }
    // The key's base64 body alone, as Keycloak's Apple provider keeps it, is taken.
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let text =
        ConfigBuilder::new().extra(&format!("[[identity_providers]]\nalias = \"p\"\nkind = \"apple\"\n{full}")).build();
    assert!(Config::load(&text, &|n: &str| if n == "K" { Some(body.clone()) } else { secrets(n) }).is_ok());
}

#[test]
fn keycloaks_apple_provider_becomes_the_apple_preset() {
    let export = r#"{ "realm": "social", "identityProviders": [
      { "alias": "apple", "providerId": "apple", "enabled": true, "trustEmail": true,
        "config": { "clientId": "com.example.signin", "clientSecret": "**********", "teamId": "A1B2C3D4E5",
          "keyId": "KEY0123456", "p8Content": "**********", "defaultScope": "name email" } } ] }"#;
    let c = keyedge::tools::keycloak::convert(export).unwrap();
    let text = format!("issuer = \"https://login.example\"\n{}", c.toml);
    let (pem, _) = p8();
    let secrets = |name: &str| {
        if name == "IDP_APPLE_KEY" {
            Some(pem.clone())
        } else {
            secrets(name).or_else(|| Some(format!("s-{name}")))
        }
    };
    let config = Config::load(&text, &secrets).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let apple = config.provider("apple").unwrap();
    assert_eq!((apple.preset, apple.trust_email), (Some(Preset::Apple), false));
    let ProviderKind::Oidc(a) = &apple.kind else { panic!("oidc") };
    assert_eq!((a.client_id.as_str(), a.default_scopes.as_str()), ("com.example.signin", "openid name email"));
    assert!(
        matches!(&a.client_auth, UpstreamClientAuth::SignedSecret(s) if s.issuer == "A1B2C3D4E5" && s.key_id == "KEY0123456")
    );
    assert_eq!(c.secrets, ["IDP_APPLE_KEY"]);
    let report = c.report.join("\n");
    assert!(
        report.contains("`apple`: the .p8 key (the extension's `p8Content`) goes in the secret IDP_APPLE_KEY"),
        "{report}"
    );
    assert!(!report.contains("teamId") && !report.contains("keyId"), "{report}");
}

#[test]
fn stored_apple_tokens_refresh_with_a_signed_client_secret_and_keep_the_refresh_token() {
    let (pem, public) = p8();
    let world = apple_world_with(KEY_ID, STORES_TOKENS, &pem, READS_TOKENS);
    let apple = Apple::mount(&world, public);
    let (_, res, rp) = sign_in(&world, &apple, &mut Browser::default(), "ada");
    let tokens = json(&redeem(&world, &code_of(&res), &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap();
    *apple.last_secret.borrow_mut() = None;
    let fresh = after_expiry(&world, "apple", access, 3600, &apple.refreshes.granted);
    let sub = account("ada").0;
    assert_eq!(
        (fresh["access_token"].as_str(), fresh["expires_in"].as_i64()),
        (Some(&*format!("a1b2c3.1.{sub}")), Some(3600))
    );
    // The refresh grant carried a client secret Apple accepted: ES256, the Team ID's.
    let (header, claims) = apple.last_secret.borrow().clone().expect("a signed client secret");
    assert_eq!((header["alg"].as_str(), claims["iss"].as_str()), (Some("ES256"), Some(TEAM)));
    // Apple issues no new refresh token: the code exchange's stays, and works again.
    assert_eq!(fresh["refresh_token"], "r1b2c3.0.ada-0");
    let again = after_expiry(&world, "apple", access, 3600, &apple.refreshes.granted);
    assert_eq!(
        (again["refresh_token"].as_str(), again["access_token"].as_str()),
        (Some("r1b2c3.0.ada-0"), Some(&*format!("a1b2c3.2.{sub}")))
    );
    assert!(again["id_token"].is_string() && again["id_token"] != fresh["id_token"], "{again}");
    *apple.refreshes.refuse.borrow_mut() = true;
    refused_refresh(&world, "apple", sub, access, 3600, "invalid_grant");
}
