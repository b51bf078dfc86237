//! `kind = "linkedin"` against a stand-in for LinkedIn at `https://www.linkedin.test/oauth`
//! (`issuer`), speaking LinkedIn's wire format:
//!
//! - Discovery at `/oauth/.well-known/openid-configuration`, the endpoints
//!   `/oauth/v2/authorization`, `/oauth/v2/accessToken`, `/oauth/openid/jwks` (keys without
//!   `use`), userinfo at `api.linkedin.com/v2/userinfo` with `locale` an object; the ID
//!   token's claims, without `nonce`:
//!   https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2
//! - The redirect's errors (`user_cancelled_login`, `user_cancelled_authorize`) and the token
//!   endpoint's (`invalid_client`, `invalid_request`); PKCE only for native apps:
//!   https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow
//!   https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow-native
//! - No refresh test: LinkedIn issues refresh tokens only to approved Marketing partners,
//!   not to Sign In with LinkedIn using OpenID Connect apps:
//!   https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens

use super::*;
use crate::common::fake_idp::{rsa_key, sign};
use keyedge::core::ports::Clock;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const LINKEDIN: &str = "https://www.linkedin.test";
const ISSUER: &str = "https://www.linkedin.test/oauth";
const API: &str = "https://api.linkedin.test";

struct LinkedIn {
    clock: keyedge::core::ports::memory::VirtualClock,
    key: jwt_compact::alg::RsaPrivateKey,
    /// Codes: the user, the redirect URI.
    codes: RefCell<HashMap<String, (String, String)>>,
    email_verified: RefCell<bool>,
    refuse_client: RefCell<bool>,
    userinfo_calls: RefCell<usize>,
}

/// `user`'s LinkedIn member id and address.
fn who(user: &str) -> (&'static str, String) {
    (if user == "alice" { "y2E5N-Ep5H" } else { "782bbtaQ" }, format!("{user}@example.com"))
}

impl LinkedIn {
    fn mount(world: &World) -> Rc<LinkedIn> {
        let li = Rc::new(LinkedIn {
            clock: world.clock.clone(),
            key: rsa_key(include_str!("../../fixtures/upstream-test-key.pem")),
            codes: RefCell::default(),
            email_verified: RefCell::new(true),
            refuse_client: RefCell::new(false),
            userinfo_calls: RefCell::new(0),
        });
        let handler = li.clone();
        world.http.mount(LINKEDIN, move |req| handler.serve(req));
        let handler = li.clone();
        world.http.mount(API, move |req| handler.serve(req));
        li
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match req.uri().path() {
            "/oauth/.well-known/openid-configuration" => answer(
                200,
                json!({
                    "issuer": ISSUER,
                    "authorization_endpoint": format!("{ISSUER}/v2/authorization"),
                    "token_endpoint": format!("{ISSUER}/v2/accessToken"),
                    "userinfo_endpoint": format!("{API}/v2/userinfo"),
                    "jwks_uri": format!("{ISSUER}/openid/jwks"),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "scopes_supported": ["openid", "profile", "email"],
                    "claims_supported": ["iss", "aud", "iat", "exp", "sub", "name", "given_name", "family_name", "picture", "email", "email_verified", "locale"],
                }),
            ),
            "/oauth/openid/jwks" => {
                // LinkedIn's keys say `kty`, `kid`, `alg`, `n`, `e` — no `use`.
                let mut jwks: serde_json::Value =
                    serde_json::from_str(&crate::common::fake_idp::jwks_for(&self.key, "li-1")).unwrap();
                for k in jwks["keys"].as_array_mut().unwrap() {
                    k.as_object_mut().unwrap().remove("use");
                }
                answer(200, jwks)
            }
            "/oauth/v2/accessToken" => self.token(&req),
            "/v2/userinfo" => {
                *self.userinfo_calls.borrow_mut() += 1;
                let (sub, email) = who("ada");
                answer(
                    200,
                    json!({"sub": sub, "email_verified": true, "name": "Ada Lovelace", "locale": {"country": "US", "language": "en"},
                        "given_name": "Ada", "family_name": "Lovelace", "email": email, "picture": "https://media.licdn.test/ada.jpg"}),
                )
            }
            _ => answer(404, json!({"serviceErrorCode": 0, "message": "Resource not found", "status": 404})),
        }
    }

    fn token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        // A web application's `code_verifier` is refused like a wrong secret.
        if *self.refuse_client.borrow()
            || f.contains_key("code_verifier")
            || f.get("client_id").map(String::as_str) != Some("li-app")
            || f.get("client_secret").map(String::as_str) != Some(IDP2_SECRET)
        {
            return answer(
                401,
                json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
            );
        }
        let Some((user, redirect_uri)) = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c)) else {
            return answer(
                400,
                json!({"error": "invalid_request", "error_description": "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists"}),
            );
        };
        assert_eq!(f.get("redirect_uri"), Some(&redirect_uri));
        let (sub, email) = who(&user);
        let now = self.clock.now();
        let claims = json!({"iss": ISSUER, "aud": "li-app", "iat": now, "exp": now + 3600, "sub": sub,
            "name": format!("{} Lovelace", if user == "ada" { "Ada" } else { "Alice" }),
            "given_name": if user == "ada" { "Ada" } else { "Alice" }, "family_name": "Lovelace",
            "picture": format!("https://media.licdn.test/{user}.jpg"), "email": email,
            "email_verified": *self.email_verified.borrow(), "locale": "en-US"});
        answer(
            200,
            json!({"access_token": format!("AQU{user}"), "expires_in": 5183999, "scope": "email,openid,profile",
                "token_type": "Bearer", "id_token": sign(&self.key, "li-1", claims)}),
        )
    }

    fn cancel(&self, auth_url: &str) -> String {
        redirect_back(
            auth_url,
            &[("error", "user_cancelled_authorize"), ("error_description", "The user cancelled the authorization")],
        )
    }
}

impl StandIn for LinkedIn {
    fn approve(&self, auth_url: &str, user: &str) -> String {
        assert!(auth_url.starts_with(&format!("{ISSUER}/v2/authorization?")), "{auth_url}");
        let q = query(auth_url);
        assert_eq!((q["client_id"].as_str(), q["scope"].as_str()), ("li-app", "openid profile email"));
        let code = format!("AQT{}", self.codes.borrow().len());
        self.codes.borrow_mut().insert(code.clone(), (user.to_owned(), q["redirect_uri"].clone()));
        redirect_back(auth_url, &[("code", &code)])
    }
}

fn linkedin_world() -> (World, Rc<LinkedIn>) {
    let world = world_with(&format!(
        "alias = \"linkedin\"\nkind = \"linkedin\"\nissuer = \"{ISSUER}\"\nclient_id = \"li-app\"\nclient_secret_env = \"IDP2_SECRET\"\n"
    ));
    let li = LinkedIn::mount(&world);
    (world, li)
}

fn sign_in(world: &World, li: &LinkedIn, browser: &mut Browser, user: &str) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, li, browser, "linkedin", user)
}

#[test]
fn a_linkedin_login_without_nonce_or_pkce_takes_the_verified_email() {
    let (world, li) = linkedin_world();
    let mut browser = Browser::default();
    let page = body(&browser.get(&world, "/login?return_to=%2Faccount"));
    assert!(page.contains("Sign in with LinkedIn"), "{page}");
    let (at_li, rp) = to_provider(&world, &mut browser, "linkedin");
    // LinkedIn ignores `nonce` and refuses PKCE from web apps; it knows no `prompt`.
    let q = query(&at_li);
    assert!(!q.contains_key("nonce") && !q.contains_key("code_challenge") && !q.contains_key("prompt"), "{at_li}");
    let res = browser.get(&world, &li.approve(&at_li, "ada"));
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Ada"), Some("Lovelace")));
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("ada@example.com"), Some(true)));
    assert!(user_of_link(&world, "linkedin", "782bbtaQ").is_some());
    // The ID token has every claim; userinfo (its `locale` an object) is not asked.
    assert_eq!(*li.userinfo_calls.borrow(), 0);
}

#[test]
fn a_client_asking_for_a_fresh_login_sends_no_prompt_linkedin_does_not_know() {
    let (world, _li) = linkedin_world();
    let rp = request_with(&[("kc_idp_hint", "linkedin"), ("prompt", "login")]);
    let mut browser = Browser::default();
    let to_broker = browser.get(&world, &format!("/authorize?{}", rp.query));
    let at_li = location(&browser.get(&world, &location(&to_broker)));
    assert!(at_li.starts_with(ISSUER) && !query(&at_li).contains_key("prompt"), "{at_li}");
}

#[test]
fn a_cancelled_linkedin_login_signs_no_one_in() {
    let (world, li) = linkedin_world();
    let mut browser = Browser::default();
    let (at_li, _) = to_provider(&world, &mut browser, "linkedin");
    let res = browser.get(&world, &li.cancel(&at_li));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The identity provider reported an error."), "{}", body(&res));
    assert!(world.logged_for(&body(&res)).contains("user_cancelled_authorize"));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn an_unverified_linkedin_address_is_never_linked_by_email() {
    let (world, li) = linkedin_world();
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    *li.email_verified.borrow_mut() = false;
    let (res, _) = sign_in(&world, &li, &mut Browser::default(), "alice");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("This email address belongs to another account"), "{page}");
    assert_eq!((accounts(&world), user_of_link(&world, "linkedin", "y2E5N-Ep5H")), (1, None));
}

#[test]
fn a_refused_client_fails_the_login_with_linkedins_error_in_the_log() {
    let (world, li) = linkedin_world();
    *li.refuse_client.borrow_mut() = true;
    let (res, _) = sign_in(&world, &li, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("invalid_client"));
    assert_eq!(accounts(&world), 0);
}
