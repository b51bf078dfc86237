//! `kind = "bitbucket"` against a stand-in for Bitbucket Cloud at `https://bitbucket.test`
//! (`base_url`; the API at `{base_url}/api`), speaking Bitbucket's wire format:
//!
//! - `/site/oauth2/authorize`, `/site/oauth2/access_token` with the consumer in HTTP Basic;
//!   `access_denied` on the redirect, `invalid_grant` / `unauthorized_client` at the token
//!   endpoint: https://developer.atlassian.com/cloud/bitbucket/oauth-2/
//! - The refresh grant (`grant_type=refresh_token`, the consumer in HTTP Basic; a new access
//!   token for two hours, the same refresh token, which does not expire):
//!   https://developer.atlassian.com/cloud/bitbucket/oauth-2/#refresh-tokens
//! - `GET /2.0/user` (`uuid`, `account_id`, `nickname`, `display_name`, `links.avatar.href`)
//!   and `GET /2.0/user/emails` (a page of `{email, is_primary, is_confirmed}`; a missing
//!   `email` scope is a 403 error object):
//!   https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/
//! - Pages of addresses: `{"values", "next", "pagelen", "page"}`, the next page's full URL in
//!   `next`: https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination

use super::*;
use base64::Engine;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const BITBUCKET: &str = "https://bitbucket.test";

struct Bitbucket {
    /// Codes: the user, the redirect URI.
    codes: RefCell<HashMap<String, (String, String)>>,
    /// Whether the primary address is confirmed.
    confirmed: RefCell<bool>,
    /// The consumer lacks the `email` permission.
    no_email_scope: RefCell<bool>,
    refreshes: Refreshes,
    /// The first page of addresses names this `next` page, and the primary address is there.
    next_page: RefCell<Option<String>>,
}

fn uuid_of(user: &str) -> &'static str {
    if user == "alice" {
        "{a1b2c3d4-0000-4000-8000-00000000a11c}"
    } else {
        "{d9b0e9f2-6a4c-4b0b-9a6a-3b7e5b1f0ada}"
    }
}

impl Bitbucket {
    fn mount(world: &World) -> Rc<Bitbucket> {
        let b = Rc::new(Bitbucket {
            codes: RefCell::default(),
            confirmed: RefCell::new(true),
            no_email_scope: RefCell::new(false),
            refreshes: Refreshes::default(),
            next_page: RefCell::default(),
        });
        let handler = b.clone();
        world.http.mount(BITBUCKET, move |req| handler.serve(req));
        b
    }

    fn user_of(req: &http::Request<Vec<u8>>) -> Option<String> {
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok())?;
        auth.strip_prefix("Bearer bb-").map(str::to_owned)
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let unauthorized = || answer(401, json!({"type": "error", "error": {"message": "Access token expired."}}));
        match req.uri().path() {
            "/site/oauth2/access_token" => self.token(&req),
            "/api/2.0/user" => {
                let Some(user) = Self::user_of(&req) else { return unauthorized() };
                answer(
                    200,
                    json!({"type": "user", "uuid": uuid_of(&user), "account_id": "557058:0d1f1b3c-1234-4c3d-9f1e-5a6b7c8d9e0f",
                        "nickname": user, "display_name": "Ada Lovelace", "created_on": "2019-04-01T09:00:00.000000+00:00",
                        "is_staff": false, "account_status": "active", "has_2fa_enabled": null,
                        "links": {"avatar": {"href": format!("https://avatar-management.test/{user}.png")},
                            "html": {"href": format!("{BITBUCKET}/%7B{user}%7D/")}}}),
                )
            }
            "/api/2.0/user/emails" => {
                let Some(user) = Self::user_of(&req) else { return unauthorized() };
                let page = match req.uri().query() {
                    Some("pagelen=100") => 1,
                    Some("pagelen=100&page=2") => 2,
                    other => panic!("{other:?}"),
                };
                if *self.no_email_scope.borrow() {
                    return answer(
                        403,
                        json!({"type": "error", "error": {"message": "Your credentials lack one or more required privilege scopes.",
                            "detail": {"granted": ["account"], "required": ["email"]}}}),
                    );
                }
                let former = json!({"is_primary": false, "is_confirmed": true, "type": "email", "email": format!("{user}@former.example"), "links": {}});
                let primary = json!({"is_primary": true, "is_confirmed": *self.confirmed.borrow(), "type": "email", "email": format!("{user}@example.com"), "links": {}});
                match (self.next_page.borrow().clone(), page) {
                    (None, _) => {
                        answer(200, json!({"pagelen": 100, "page": 1, "size": 2, "values": [former, primary]}))
                    }
                    (Some(next), 1) => {
                        answer(200, json!({"pagelen": 1, "page": 1, "size": 2, "values": [former], "next": next}))
                    }
                    (Some(_), _) => answer(200, json!({"pagelen": 1, "page": 2, "size": 2, "values": [primary]})),
                }
            }
            _ => answer(404, json!({"type": "error", "error": {"message": "Resource not found"}})),
        }
    }

    fn token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        let expected = base64::engine::general_purpose::STANDARD.encode(format!("bb-key:{IDP2_SECRET}"));
        let header = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if header != Some(&format!("Basic {expected}")) || f.contains_key("client_secret") {
            return answer(
                400,
                json!({"error": "unauthorized_client", "error_description": "Client credentials missing; this request needs to be authenticated with the OAuth client id and secret"}),
            );
        }
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            let Some(user) = self.refreshes.redeem(&f, false) else {
                return answer(400, json!({"error": "invalid_grant", "error_description": "Invalid refresh_token"}));
            };
            return answer(
                200,
                json!({"access_token": format!("bb-{user}~{}", *self.refreshes.granted.borrow()), "scopes": "account email",
                    "token_type": "bearer", "expires_in": 7200, "state": "refresh_token", "refresh_token": f["refresh_token"]}),
            );
        }
        let Some((user, redirect_uri)) = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c)) else {
            return answer(
                400,
                json!({"error": "invalid_grant", "error_description": "The specified code is not valid."}),
            );
        };
        assert_eq!(f.get("redirect_uri"), Some(&redirect_uri));
        answer(
            200,
            json!({"access_token": format!("bb-{user}"), "scopes": "account email", "token_type": "bearer",
                "expires_in": 7200, "state": "authorization_code", "refresh_token": self.refreshes.issue("bbr-", &user)}),
        )
    }

    fn deny(&self, auth_url: &str) -> String {
        redirect_back(
            auth_url,
            &[
                ("error", "access_denied"),
                ("error_description", "The resource owner or authorization server denied the request."),
            ],
        )
    }
}

impl StandIn for Bitbucket {
    fn approve(&self, auth_url: &str, user: &str) -> String {
        assert!(auth_url.starts_with(&format!("{BITBUCKET}/site/oauth2/authorize?")), "{auth_url}");
        let q = query(auth_url);
        assert_eq!((q["client_id"].as_str(), q["scope"].as_str()), ("bb-key", "account email"));
        let code = format!("bbcode{}", self.codes.borrow().len());
        self.codes.borrow_mut().insert(code.clone(), (user.to_owned(), q["redirect_uri"].clone()));
        redirect_back(auth_url, &[("code", &code)])
    }
}

fn bitbucket_world() -> (World, Rc<Bitbucket>) {
    bitbucket_world_with("", "")
}

fn bitbucket_world_with(options: &str, app: &str) -> (World, Rc<Bitbucket>) {
    let world = world_with_app(
        &format!(
            "alias = \"bitbucket\"\nkind = \"bitbucket\"\nbase_url = \"{BITBUCKET}\"\nclient_id = \"bb-key\"\nclient_secret_env = \"IDP2_SECRET\"\n{options}\n"
        ),
        app,
    );
    let b = Bitbucket::mount(&world);
    (world, b)
}

fn sign_in(world: &World, b: &Bitbucket, browser: &mut Browser, user: &str) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, b, browser, "bitbucket", user)
}

#[test]
fn a_bitbucket_login_takes_the_uuid_the_primary_confirmed_address_and_the_avatar() {
    let (world, b) = bitbucket_world();
    let mut browser = Browser::default();
    let page = body(&browser.get(&world, "/login?return_to=%2Faccount"));
    assert!(page.contains("Sign in with Bitbucket"), "{page}");
    let (res, rp) = sign_in(&world, &b, &mut browser, "ada");
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Ada"), Some("Lovelace")));
    // The primary address, confirmed — not the other confirmed one.
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("ada@example.com"), Some(true)));
    assert_eq!(claims["picture"], "https://avatar-management.test/ada.png");
    assert!(user_of_link(&world, "bitbucket", "{d9b0e9f2-6a4c-4b0b-9a6a-3b7e5b1f0ada}").is_some());
}

#[test]
fn consent_denied_at_bitbucket_signs_no_one_in() {
    let (world, b) = bitbucket_world();
    let mut browser = Browser::default();
    let (at_bitbucket, _) = to_provider(&world, &mut browser, "bitbucket");
    let res = browser.get(&world, &b.deny(&at_bitbucket));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn an_unconfirmed_primary_bitbucket_address_is_never_linked_by_email() {
    let (world, b) = bitbucket_world();
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    // alice@example.com is primary but unconfirmed (another address is confirmed).
    *b.confirmed.borrow_mut() = false;
    let (res, _) = sign_in(&world, &b, &mut Browser::default(), "alice");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("This email address belongs to another account"), "{page}");
    assert_eq!(
        (accounts(&world), user_of_link(&world, "bitbucket", "{a1b2c3d4-0000-4000-8000-00000000a11c}")),
        (1, None)
    );
}

#[test]
fn a_consumer_without_the_email_permission_fails_the_login_with_bitbuckets_error_in_the_log() {
    let (world, b) = bitbucket_world();
    *b.no_email_scope.borrow_mut() = true;
    let (res, _) = sign_in(&world, &b, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("403"), "{}", world.logged_for(&body(&res)));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn stored_bitbucket_tokens_refresh_with_the_consumer_in_basic_and_keep_the_refresh_token() {
    let (world, b) = bitbucket_world_with(STORES_TOKENS, READS_TOKENS);
    let (res, rp) = sign_in(&world, &b, &mut Browser::default(), "ada");
    let tokens = json(&redeem(&world, &code_of(&res), &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap();
    // The stand-in answers a refresh grant only with the consumer in HTTP Basic.
    let fresh = after_expiry(&world, "bitbucket", access, 7200, &b.refreshes.granted);
    assert_eq!((fresh["access_token"].as_str(), fresh["expires_in"].as_i64()), (Some("bb-ada~1"), Some(7200)));
    assert_eq!(fresh["refresh_token"], "bbr-ada-0", "Bitbucket's refresh token stays");
    let again = after_expiry(&world, "bitbucket", access, 7200, &b.refreshes.granted);
    assert_eq!(
        (again["access_token"].as_str(), again["refresh_token"].as_str()),
        (Some("bb-ada~2"), Some("bbr-ada-0"))
    );
    *b.refreshes.refuse.borrow_mut() = true;
    refused_refresh(&world, "bitbucket", "{d9b0e9f2-6a4c-4b0b-9a6a-3b7e5b1f0ada}", access, 7200, "invalid_grant");
}

#[test]
fn the_primary_bitbucket_address_on_the_next_page_is_found() {
    let (world, b) = bitbucket_world();
    *b.next_page.borrow_mut() = Some(format!("{BITBUCKET}/api/2.0/user/emails?pagelen=100&page=2"));
    let (res, rp) = sign_in(&world, &b, &mut Browser::default(), "ada");
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("ada@example.com"), Some(true)));
}

/// A `next` page on another host is not read: the token goes to Bitbucket's API only. The
/// login goes on without that page: no address from Bitbucket, so the profile form asks for
/// one, and none is verified.
#[test]
fn a_next_page_on_another_host_is_not_read_and_gets_no_token() {
    let (world, b) = bitbucket_world();
    let elsewhere = Rc::new(RefCell::new(Vec::new()));
    let seen = elsewhere.clone();
    world.http.mount("https://elsewhere.test", move |req| {
        seen.borrow_mut().push(req.headers().get("authorization").is_some());
        answer(200, json!({"values": []}))
    });
    *b.next_page.borrow_mut() = Some("https://elsewhere.test/api/2.0/user/emails?pagelen=100&page=2".into());
    let (res, _) = sign_in(&world, &b, &mut Browser::default(), "ada");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("name=\"email\" type=\"email\" value=\"\""), "{page}");
    assert!(elsewhere.borrow().is_empty(), "no request to another host");
    let log = world.log.borrow().join("\n");
    assert!(log.contains("next page `https://elsewhere.test/") && log.contains("not read"), "{log}");
    assert_eq!(accounts(&world), 0);
}
