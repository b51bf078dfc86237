//! `kind = "stackoverflow"` against a stand-in for Stack Exchange at `https://so.test`
//! (`base_url`; the API under `/api`), speaking Stack Exchange's wire format:
//!
//! - `/oauth` (`client_id`, `scope`, `redirect_uri`, `state`), the user's refusal
//!   (`error=access_denied`), the code exchange `POST /oauth/access_token/json` with
//!   `client_id`, `client_secret`, `code`, `redirect_uri` in the body, answered
//!   `{"access_token", "expires"}` (no `token_type`):
//!   https://api.stackexchange.com/docs/authentication
//! - `GET /2.3/me?site=…&key=…&access_token=…` (the token a query parameter), answered in the
//!   common wrapper `{"items": [{"user_id", "display_name", "profile_image", "link", …}],
//!   "has_more", "quota_max", "quota_remaining"}`: https://api.stackexchange.com/docs/me and
//!   https://api.stackexchange.com/docs/wrapper
//! - Errors, HTTP 400 `{"error_id", "error_name", "error_message"}` (`key_required`,
//!   `access_token_required`, `invalid_access_token`, `no_method`):
//!   https://api.stackexchange.com/docs/error-handling
//! - No refresh test: Stack Exchange issues no refresh token (a token lasts a day, or for
//!   good with `no_expiry`): https://api.stackexchange.com/docs/authentication

use super::*;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const SO: &str = "https://so.test";
const KEY: &str = "U4DMV*8nvpm3EOpvf69Rxw((";

#[derive(Default)]
struct StackExchange {
    /// Codes: the user, the redirect URI.
    codes: RefCell<HashMap<String, (String, String)>>,
    /// The queries of `/me`.
    me_calls: RefCell<Vec<HashMap<String, String>>>,
    tokens_revoked: RefCell<bool>,
}

fn se_error(id: u16, name: &str, message: &str) -> http::Response<Vec<u8>> {
    answer(400, json!({"error_id": id, "error_message": message, "error_name": name}))
}

impl StackExchange {
    fn mount(world: &World) -> Rc<StackExchange> {
        let se = Rc::new(StackExchange::default());
        let handler = se.clone();
        world.http.mount(SO, move |req| handler.serve(req));
        se
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let url = url::Url::parse(&req.uri().to_string()).unwrap();
        match (req.method().as_str(), url.path()) {
            ("POST", "/oauth/access_token/json") => {
                let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
                if f.get("client_id").map(String::as_str) != Some("31337")
                    || f.get("client_secret").map(String::as_str) != Some(IDP2_SECRET)
                {
                    return answer(
                        400,
                        json!({"error": {"type": "invalid_request", "message": "client_secret not valid for client_id"}}),
                    );
                }
                let Some((user, redirect_uri)) = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c)) else {
                    return answer(400, json!({"error": {"type": "invalid_request", "message": "code not valid"}}));
                };
                assert_eq!(f.get("redirect_uri"), Some(&redirect_uri));
                answer(200, json!({"access_token": format!("se({user})tok"), "expires": 86399}))
            }
            ("GET", "/api/2.3/me") => {
                let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
                self.me_calls.borrow_mut().push(q.clone());
                if q.get("key").map(String::as_str) != Some(KEY) {
                    return se_error(405, "key_required", "key is required for this method");
                }
                let Some(token) = q.get("access_token") else {
                    return se_error(401, "access_token_required", "`key` and `access_token` must be passed");
                };
                let user = token.strip_prefix("se(").and_then(|t| t.strip_suffix(")tok"));
                let Some(user) = user.filter(|_| !*self.tokens_revoked.borrow()) else {
                    return se_error(402, "invalid_access_token", "No matching access token found");
                };
                let site = q.get("site").map(String::as_str).unwrap_or("");
                let Some(base) = [("stackoverflow", 22656u64), ("superuser", 4000u64)].iter().find(|(s, _)| *s == site)
                else {
                    return se_error(400, "bad_parameter", "site is required");
                };
                let id = base.1 + user.len() as u64;
                answer(
                    200,
                    json!({"items": [{"badge_counts": {"bronze": 9, "silver": 8, "gold": 7}, "account_id": 11683,
                        "is_employee": false, "reputation": 1454978, "user_type": "registered", "user_id": id,
                        "link": format!("https://{site}.test/users/{id}/{user}"),
                        "profile_image": format!("https://i.sstatic.test/{user}.jpg?s=256"),
                        "display_name": format!("{user} skeet")}],
                        "has_more": false, "quota_max": 10000, "quota_remaining": 9996}),
                )
            }
            _ => se_error(404, "no_method", "no method found with this name"),
        }
    }

    fn deny(&self, auth_url: &str) -> String {
        redirect_back(auth_url, &[("error", "access_denied"), ("error_description", "user denied access")])
    }
}

impl StandIn for StackExchange {
    fn approve(&self, auth_url: &str, user: &str) -> String {
        assert!(auth_url.starts_with(&format!("{SO}/oauth?")), "{auth_url}");
        let q = query(auth_url);
        assert_eq!(q["client_id"], "31337");
        let code = format!("Vs2ZmUdWi7fOvc8kIe9tYA(({})", self.codes.borrow().len());
        self.codes.borrow_mut().insert(code.clone(), (user.to_owned(), q["redirect_uri"].clone()));
        redirect_back(auth_url, &[("code", &code)])
    }
}

fn so_world(options: &str) -> (World, Rc<StackExchange>) {
    let world = world_with(&format!(
        "alias = \"so\"\nkind = \"stackoverflow\"\nbase_url = \"{SO}\"\nkey = \"{KEY}\"\nclient_id = \"31337\"\nclient_secret_env = \"IDP2_SECRET\"\n{options}\n"
    ));
    let se = StackExchange::mount(&world);
    (world, se)
}

fn sign_in(
    world: &World,
    se: &StackExchange,
    browser: &mut Browser,
    user: &str,
) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, se, browser, "so", user)
}

#[test]
fn a_stack_overflow_login_sends_key_site_and_token_in_the_query_and_reads_items_0() {
    let (world, se) = so_world("");
    let mut browser = Browser::default();
    let page = body(&browser.get(&world, "/login?return_to=%2Faccount"));
    assert!(page.contains("Sign in with Stack Overflow"), "{page}");
    let (at_so, rp) = to_provider(&world, &mut browser, "so");
    let q = query(&at_so);
    assert!(!q.contains_key("scope"), "no scope needed: {q:?}");
    assert_eq!(q["redirect_uri"], format!("{ISSUER}/broker/so/endpoint"));
    let res = browser.get(&world, &se.approve(&at_so, "jon"));
    let me = se.me_calls.borrow().last().cloned().unwrap();
    assert_eq!(
        (me["site"].as_str(), me["key"].as_str(), me["access_token"].as_str()),
        ("stackoverflow", KEY, "se(jon)tok")
    );
    // No address from Stack Exchange: the profile form asks for one.
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("value=\"jon skeet\""), "{page}");
    let done = browser.submit(
        &world,
        "/first-login/review",
        &[("username", "jon"), ("email", "jon@example.com"), ("given_name", "Jon"), ("family_name", "Skeet")],
    );
    let claims = claims_for(&world, &code_of(&done), &rp);
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("jon@example.com"), Some(false)));
    assert_eq!(claims["picture"], "https://i.sstatic.test/jon.jpg?s=256");
    assert!(user_of_link(&world, "so", "22659").is_some(), "linked by items[0].user_id");
}

#[test]
fn the_site_option_reads_that_sites_profile() {
    let (world, se) = so_world("site = \"superuser\"");
    let (res, _) = sign_in(&world, &se, &mut Browser::default(), "jon");
    assert!(forms(&body(&res)).iter().any(|(action, _)| action == "/first-login/review"), "{}", body(&res));
    assert_eq!(se.me_calls.borrow().last().unwrap()["site"], "superuser");
    assert!(body(&res).contains("value=\"jon skeet\""), "{}", body(&res));
}

#[test]
fn consent_denied_at_stack_overflow_signs_no_one_in() {
    let (world, se) = so_world("");
    let mut browser = Browser::default();
    let (at_so, _) = to_provider(&world, &mut browser, "so");
    let res = browser.get(&world, &se.deny(&at_so));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert!(se.me_calls.borrow().is_empty());
    assert_eq!(accounts(&world), 0);
}

#[test]
fn an_api_error_at_me_fails_the_login_with_stack_exchanges_message_in_the_log() {
    let (world, se) = so_world("");
    *se.tokens_revoked.borrow_mut() = true;
    let (res, _) = sign_in(&world, &se, &mut Browser::default(), "jon");
    assert_eq!(res.status(), 502);
    let line = world.logged_for(&body(&res));
    assert!(line.contains("userinfo answered HTTP 400: No matching access token found"), "{line}");
    assert!(!line.contains("se(jon)tok"), "the token is never logged: {line}");
    assert_eq!(accounts(&world), 0);
}

#[test]
fn a_stack_overflow_user_is_never_linked_to_an_existing_account() {
    let (world, se) = so_world("");
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    let mut browser = Browser::default();
    let (res, _) = sign_in(&world, &se, &mut browser, "alice");
    // The address the user types is theirs to prove: it never links to alice's account.
    let res = review(&world, &mut browser, &res, ["alice2", "alice@example.com", "Alice", "L"]);
    assert!(body(&res).contains("This email address belongs to another account"), "{}", body(&res));
    assert_eq!((accounts(&world), user_of_link(&world, "so", "22661")), (1, None));
}
