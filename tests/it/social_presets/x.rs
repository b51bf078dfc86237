//! `kind = "x"` against a stand-in for X at `https://x.test` (`base_url`; the API under
//! `/api`), speaking X's wire format:
//!
//! - `/i/oauth2/authorize` with PKCE (`code_challenge_method=S256` required), the code
//!   exchange `POST /2/oauth2/token` with a confidential client's id and secret in HTTP Basic
//!   (`unauthorized_client` without it) and `code_verifier`, the answer
//!   `{"token_type": "bearer", "expires_in": 7200, "access_token", "scope"}` (+ `refresh_token`
//!   with `offline.access`), the user's refusal `error=access_denied`:
//!   https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code
//! - The refresh grant on the same endpoint (`grant_type=refresh_token`, the client in HTTP
//!   Basic; a new access token for two hours and a new refresh token, the old one spent; a
//!   spent or revoked one `invalid_request`, "Value passed for the token was invalid."):
//!   https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token
//! - `GET /2/users/me?user.fields=…` answering `{"data": {"id", "name", "username",
//!   "profile_image_url"}}`; a refused token `401 {"title": "Unauthorized", "type":
//!   "about:blank", "status": 401, "detail": "Unauthorized"}`:
//!   https://docs.x.com/x-api/users/user-lookup-me and
//!   https://docs.x.com/x-api/fundamentals/response-codes-and-errors

use super::*;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::rc::Rc;

const X: &str = "https://x.test";

/// What a code stands for: the user, the redirect URI, the S256 challenge, the scopes.
type Issued = (String, String, String, String);

#[derive(Default)]
struct XStandIn {
    codes: RefCell<HashMap<String, Issued>>,
    /// The last authorization request's query.
    last_authorize: RefCell<HashMap<String, String>>,
    api_down: RefCell<bool>,
    /// Token requests refused, with X's `error`.
    refused: RefCell<Vec<String>>,
    refreshes: Refreshes,
}

impl XStandIn {
    fn mount(world: &World) -> Rc<XStandIn> {
        let x = Rc::new(XStandIn::default());
        let handler = x.clone();
        world.http.mount(X, move |req| handler.serve(req));
        x
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match (req.method().as_str(), req.uri().path()) {
            ("POST", "/api/2/oauth2/token") => self.token(&req),
            ("GET", "/api/2/users/me") => {
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let user = auth.strip_prefix("Bearer x-at-").filter(|_| !*self.api_down.borrow());
                let Some(user) = user else {
                    return answer(
                        401,
                        json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
                    );
                };
                let q = query(&req.uri().to_string().replace("/api/", "https://x.test/api/"));
                assert_eq!(q["user.fields"], "profile_image_url,name,username");
                let id = if user == "alice" { "1263427710960652288" } else { "2244994945" };
                answer(
                    200,
                    json!({"data": {"id": id, "name": format!("{user} on X"), "username": user,
                        "profile_image_url": format!("https://pbs.twimg.test/profile_images/{id}/normal.jpg")}}),
                )
            }
            _ => answer(
                404,
                json!({"title": "Not Found Error", "type": "https://api.x.com/2/problems/resource-not-found", "detail": "Not Found"}),
            ),
        }
    }

    fn token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        let refuse = |error: &str, description: &str| {
            self.refused.borrow_mut().push(error.to_owned());
            answer(400, json!({"error": error, "error_description": description}))
        };
        let basic =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("x-client:{IDP2_SECRET}")));
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if auth != basic || f.contains_key("client_secret") {
            return refuse("unauthorized_client", "Missing valid authorization header");
        }
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            let Some(user) = self.refreshes.redeem(&f, true) else {
                return refuse("invalid_request", "Value passed for the token was invalid.");
            };
            return answer(
                200,
                json!({"token_type": "bearer", "expires_in": 7200, "access_token": format!("x-at-{user}~{}", *self.refreshes.granted.borrow()),
                    "scope": "users.read tweet.read offline.access", "refresh_token": self.refreshes.issue("x-rt-", &user)}),
            );
        }
        let Some((user, redirect_uri, challenge, scopes)) =
            f.get("code").and_then(|c| self.codes.borrow_mut().remove(c))
        else {
            return refuse("invalid_request", "Value passed for the authorization code was invalid.");
        };
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        if keyedge::core::b64url(&Sha256::digest(verifier.as_bytes())) != challenge {
            return refuse("invalid_request", "Value passed for the code verifier did not match the code challenge.");
        }
        assert_eq!((f["grant_type"].as_str(), f.get("redirect_uri")), ("authorization_code", Some(&redirect_uri)));
        let mut body = json!({"token_type": "bearer", "expires_in": 7200, "access_token": format!("x-at-{user}"), "scope": scopes});
        if scopes.split(' ').any(|s| s == "offline.access") {
            body["refresh_token"] = json!(self.refreshes.issue("x-rt-", &user));
        }
        answer(200, body)
    }

    fn deny(&self, auth_url: &str) -> String {
        redirect_back(auth_url, &[("error", "access_denied")])
    }
}

impl StandIn for XStandIn {
    fn approve(&self, auth_url: &str, user: &str) -> String {
        assert!(auth_url.starts_with(&format!("{X}/i/oauth2/authorize?")), "{auth_url}");
        let q = query(auth_url);
        *self.last_authorize.borrow_mut() = q.clone();
        assert_eq!((q["client_id"].as_str(), q["response_type"].as_str()), ("x-client", "code"));
        // X refuses an authorization request without an S256 (or plain) challenge.
        if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
            return redirect_back(auth_url, &[("error", "invalid_request")]);
        }
        let code = format!("VGNibzFWZWZMVG{}", self.codes.borrow().len());
        let issued = (user.to_owned(), q["redirect_uri"].clone(), q["code_challenge"].clone(), q["scope"].clone());
        self.codes.borrow_mut().insert(code.clone(), issued);
        redirect_back(auth_url, &[("code", &code)])
    }
}

fn x_world(options: &str) -> (World, Rc<XStandIn>) {
    x_world_with(options, "")
}

fn x_world_with(options: &str, app: &str) -> (World, Rc<XStandIn>) {
    let world = world_with_app(
        &format!(
            "alias = \"x\"\nkind = \"x\"\nbase_url = \"{X}\"\nclient_id = \"x-client\"\nclient_secret_env = \"IDP2_SECRET\"\n{options}\n"
        ),
        app,
    );
    let x = XStandIn::mount(&world);
    (world, x)
}

fn sign_in(world: &World, x: &XStandIn, browser: &mut Browser, user: &str) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, x, browser, "x", user)
}

#[test]
fn an_x_login_with_pkce_and_basic_reads_the_data_object_and_asks_for_the_missing_profile() {
    let (world, x) = x_world("");
    let mut browser = Browser::default();
    let page = body(&browser.get(&world, "/login?return_to=%2Faccount"));
    assert!(page.contains("Sign in with X"), "{page}");
    let (res, rp) = sign_in(&world, &x, &mut browser, "ada");
    let q = x.last_authorize.borrow().clone();
    assert_eq!(q["scope"], "users.read tweet.read");
    assert_eq!(q["redirect_uri"], format!("{ISSUER}/broker/x/endpoint"));
    assert!(x.refused.borrow().is_empty(), "{:?}", x.refused.borrow());
    // No address from X: the profile form asks for one, the handle already filled in.
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("name=\"username\" type=\"text\" value=\"ada\""), "{page}");
    assert!(page.contains("name=\"email\" type=\"email\" value=\"\""), "{page}");
    let done = browser.submit(
        &world,
        "/first-login/review",
        &[("username", "ada"), ("email", "ada@example.com"), ("given_name", "Ada"), ("family_name", "Lovelace")],
    );
    let claims = claims_for(&world, &code_of(&done), &rp);
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("ada@example.com"), Some(false)));
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!(claims["picture"], "https://pbs.twimg.test/profile_images/2244994945/normal.jpg");
    assert!(user_of_link(&world, "x", "2244994945").is_some(), "linked by data.id");
}

#[test]
fn an_x_user_with_an_existing_accounts_username_is_not_linked_to_it() {
    let (world, x) = x_world("");
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    let mut browser = Browser::default();
    let (res, _) = sign_in(&world, &x, &mut browser, "alice");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    // Keeping the name leads at most to "sign in to that account to link it", never to it.
    let res = browser.submit(
        &world,
        "/first-login/review",
        &[("username", "alice"), ("email", "alice@example.com"), ("given_name", "Alice"), ("family_name", "L")],
    );
    assert!(!location(&res).starts_with(APP_REDIRECT), "{}: {}", res.status(), body(&res));
    assert_eq!((accounts(&world), user_of_link(&world, "x", "1263427710960652288")), (1, None));
}

#[test]
fn consent_denied_at_x_signs_no_one_in() {
    let (world, x) = x_world("");
    let mut browser = Browser::default();
    let (at_x, _) = to_provider(&world, &mut browser, "x");
    let res = browser.get(&world, &x.deny(&at_x));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn an_api_error_at_users_me_fails_the_login_with_xs_answer_in_the_log() {
    let (world, x) = x_world("");
    *x.api_down.borrow_mut() = true;
    let (res, _) = sign_in(&world, &x, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
    let line = world.logged_for(&body(&res));
    assert!(line.contains("userinfo answered HTTP 401: Unauthorized"), "{line}");
    assert_eq!(accounts(&world), 0);
}

#[test]
fn with_stored_tokens_x_is_asked_for_offline_access() {
    let (world, x) = x_world("store_tokens = true");
    let (res, _) = sign_in(&world, &x, &mut Browser::default(), "ada");
    assert_eq!(x.last_authorize.borrow()["scope"], "users.read tweet.read offline.access");
    assert!(forms(&body(&res)).iter().any(|(action, _)| action == "/first-login/review"), "{}", body(&res));
    let (world, x) = x_world("");
    sign_in(&world, &x, &mut Browser::default(), "ada");
    assert_eq!(x.last_authorize.borrow()["scope"], "users.read tweet.read", "no refresh token unless stored");
}

#[test]
fn stored_x_tokens_refresh_with_basic_and_the_rotated_refresh_token_is_kept() {
    let (world, x) = x_world_with(STORES_TOKENS, READS_TOKENS);
    let mut browser = Browser::default();
    let (res, rp) = sign_in(&world, &x, &mut browser, "ada");
    let done = review(&world, &mut browser, &res, ["ada", "ada@example.com", "Ada", "Lovelace"]);
    let tokens = json(&redeem(&world, &code_of(&done), &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap();
    // The stand-in answers a refresh grant only with the client in HTTP Basic.
    let fresh = after_expiry(&world, "x", access, 7200, &x.refreshes.granted);
    assert_eq!((fresh["access_token"].as_str(), fresh["expires_in"].as_i64()), (Some("x-at-ada~1"), Some(7200)));
    assert_eq!(fresh["refresh_token"], "x-rt-ada-1", "the rotated refresh token");
    // `x-rt-ada-0` is spent: this refresh works only with the rotated one.
    let again = after_expiry(&world, "x", access, 7200, &x.refreshes.granted);
    assert_eq!(
        (again["access_token"].as_str(), again["refresh_token"].as_str()),
        (Some("x-at-ada~2"), Some("x-rt-ada-2"))
    );
    assert!(x.refused.borrow().is_empty(), "{:?}", x.refused.borrow());
    *x.refreshes.refuse.borrow_mut() = true;
    refused_refresh(&world, "x", "2244994945", access, 7200, "Value passed for the token was invalid.");
}
