//! `kind = "discord"` against a stand-in for Discord at `https://discord.test` (`base_url`),
//! speaking Discord's wire format:
//!
//! - `/oauth2/authorize`, `/api/oauth2/token` (form body; `invalid_grant` with
//!   `Invalid "code" in request.`, `invalid_client`), errors on the redirect
//!   (`access_denied`): https://discord.com/developers/docs/topics/oauth2
//! - The refresh grant (`grant_type=refresh_token`; the same answer as the code exchange, a
//!   week's `expires_in` and a new refresh token, the old one spent):
//!   https://discord.com/developers/docs/topics/oauth2#authorization-code-grant-refresh-token-exchange-example
//! - `GET /api/users/@me` (`id`, `username`, `global_name`, `avatar`, `discriminator`,
//!   `email`, `verified`; `401: Unauthorized` for a bad token):
//!   https://discord.com/developers/docs/resources/user#get-current-user

use super::*;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const DISCORD: &str = "https://discord.test";

struct Discord {
    /// Codes: the user, the redirect URI.
    codes: RefCell<HashMap<String, (String, String)>>,
    verified: RefCell<bool>,
    /// `/users/@me` refuses the token.
    api_down: RefCell<bool>,
    refreshes: Refreshes,
}

/// `user`'s snowflake.
fn id_of(user: &str) -> &'static str {
    if user == "alice" {
        "80351110224678912"
    } else {
        "1087783541293158400"
    }
}

impl Discord {
    fn mount(world: &World) -> Rc<Discord> {
        let d = Rc::new(Discord {
            codes: RefCell::default(),
            verified: RefCell::new(true),
            api_down: RefCell::new(false),
            refreshes: Refreshes::default(),
        });
        let handler = d.clone();
        world.http.mount(DISCORD, move |req| handler.serve(req));
        d
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match req.uri().path() {
            "/api/oauth2/token" => self.token(&req),
            "/api/users/@me" => {
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let user = auth.strip_prefix("Bearer dc-");
                match user.filter(|_| !*self.api_down.borrow()) {
                    Some(user) => answer(
                        200,
                        json!({"id": id_of(user), "username": user, "discriminator": "0", "global_name": format!("{user} the dev"),
                            "avatar": "8342729096ea3675442027381ff50dfe", "bot": false, "mfa_enabled": true, "locale": "en-US",
                            "flags": 64, "premium_type": 0, "public_flags": 64, "email": format!("{user}@example.com"),
                            "verified": *self.verified.borrow()}),
                    ),
                    None => answer(401, json!({"message": "401: Unauthorized", "code": 0})),
                }
            }
            _ => answer(404, json!({"message": "404: Not Found", "code": 0})),
        }
    }

    fn token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        if f.get("client_id").map(String::as_str) != Some("dc-app")
            || f.get("client_secret").map(String::as_str) != Some(IDP2_SECRET)
        {
            return answer(401, json!({"error": "invalid_client"}));
        }
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            let Some(user) = self.refreshes.redeem(&f, true) else {
                return answer(400, json!({"error": "invalid_grant"}));
            };
            return answer(
                200,
                json!({"access_token": format!("dc-{user}~{}", *self.refreshes.granted.borrow()), "token_type": "Bearer",
                    "expires_in": 604800, "refresh_token": self.refreshes.issue("dcr-", &user), "scope": "identify email"}),
            );
        }
        let Some((user, redirect_uri)) = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c)) else {
            return answer(400, json!({"error": "invalid_grant", "error_description": "Invalid \"code\" in request."}));
        };
        assert_eq!(f.get("redirect_uri"), Some(&redirect_uri));
        answer(
            200,
            json!({"access_token": format!("dc-{user}"), "token_type": "Bearer", "expires_in": 604800,
                "refresh_token": self.refreshes.issue("dcr-", &user), "scope": "identify email"}),
        )
    }

    fn deny(&self, auth_url: &str) -> String {
        redirect_back(
            auth_url,
            &[
                ("error", "access_denied"),
                ("error_description", "The resource owner or authorization server denied the request"),
            ],
        )
    }
}

impl StandIn for Discord {
    fn approve(&self, auth_url: &str, user: &str) -> String {
        assert!(auth_url.starts_with(&format!("{DISCORD}/oauth2/authorize?")), "{auth_url}");
        let q = query(auth_url);
        assert_eq!((q["client_id"].as_str(), q["scope"].as_str()), ("dc-app", "identify email"));
        let code = format!("NhhvTDYsFcdgNLnnLijcl7Ku7bEEeee{}", self.codes.borrow().len());
        self.codes.borrow_mut().insert(code.clone(), (user.to_owned(), q["redirect_uri"].clone()));
        redirect_back(auth_url, &[("code", &code)])
    }
}

fn discord_world() -> (World, Rc<Discord>) {
    discord_world_with("", "")
}

fn discord_world_with(options: &str, app: &str) -> (World, Rc<Discord>) {
    let world = world_with_app(
        &format!(
            "alias = \"discord\"\nkind = \"discord\"\nbase_url = \"{DISCORD}\"\nclient_id = \"dc-app\"\nclient_secret_env = \"IDP2_SECRET\"\n{options}\n"
        ),
        app,
    );
    let d = Discord::mount(&world);
    (world, d)
}

fn sign_in(world: &World, d: &Discord, browser: &mut Browser, user: &str) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, d, browser, "discord", user)
}

#[test]
fn a_discord_login_takes_the_snowflake_username_and_verified_email() {
    let (world, d) = discord_world();
    let mut browser = Browser::default();
    let page = body(&browser.get(&world, "/login?return_to=%2Faccount"));
    assert!(page.contains("Sign in with Discord"), "{page}");
    let (res, rp) = sign_in(&world, &d, &mut browser, "ada");
    // A display name is no person's name: the profile form asks for given and family name,
    // with the verified address and the username already filled in.
    let page = body(&res);
    let form = forms(&page).into_iter().find(|(action, _)| action == "/first-login/review");
    let (_, fields) = form.unwrap_or_else(|| panic!("{}: {page}", res.status()));
    assert!(fields.iter().any(|(k, _)| k == "csrf"));
    assert!(page.contains("name=\"username\" type=\"text\" value=\"ada\""), "{page}");
    assert!(page.contains("value=\"ada@example.com\""), "{page}");
    assert!(page.contains("name=\"given_name\" type=\"text\" value=\"\""), "{page}");
    let done = browser.submit(
        &world,
        "/first-login/review",
        &[("username", "ada"), ("email", "ada@example.com"), ("given_name", "Ada"), ("family_name", "Lovelace")],
    );
    let claims = claims_for(&world, &code_of(&done), &rp);
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("ada@example.com"), Some(true)));
    assert!(user_of_link(&world, "discord", "1087783541293158400").is_some(), "linked by the snowflake");
}

#[test]
fn consent_denied_at_discord_signs_no_one_in() {
    let (world, d) = discord_world();
    let mut browser = Browser::default();
    let (at_discord, _) = to_provider(&world, &mut browser, "discord");
    let res = browser.get(&world, &d.deny(&at_discord));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn an_unverified_discord_address_is_never_linked_by_email() {
    let (world, d) = discord_world();
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    *d.verified.borrow_mut() = false;
    let mut browser = Browser::default();
    let (res, _) = sign_in(&world, &d, &mut browser, "alice");
    let res = review(&world, &mut browser, &res, ["alice2", "alice@example.com", "Alice", "Liddell"]);
    let page = body(&res);
    assert!(page.contains("This email address belongs to another account"), "{}: {page}", res.status());
    assert_eq!((accounts(&world), user_of_link(&world, "discord", "80351110224678912")), (1, None));
}

#[test]
fn an_api_error_at_users_me_fails_the_login_with_discords_answer_in_the_log() {
    let (world, d) = discord_world();
    *d.api_down.borrow_mut() = true;
    let (res, _) = sign_in(&world, &d, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("401"), "{}", world.logged_for(&body(&res)));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn stored_discord_tokens_refresh_and_the_rotated_refresh_token_is_kept() {
    let (world, d) = discord_world_with(STORES_TOKENS, READS_TOKENS);
    let mut browser = Browser::default();
    let (res, rp) = sign_in(&world, &d, &mut browser, "ada");
    let done = review(&world, &mut browser, &res, ["ada", "ada@example.com", "Ada", "Lovelace"]);
    let tokens = json(&redeem(&world, &code_of(&done), &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap();
    let week = 604800;
    let fresh = after_expiry(&world, "discord", access, week, &d.refreshes.granted);
    assert_eq!((fresh["access_token"].as_str(), fresh["expires_in"].as_i64()), (Some("dc-ada~1"), Some(week)));
    assert_eq!(fresh["refresh_token"], "dcr-ada-1", "the rotated refresh token");
    // `dcr-ada-0` is spent: this refresh works only with the rotated one.
    let again = after_expiry(&world, "discord", access, week, &d.refreshes.granted);
    assert_eq!(
        (again["access_token"].as_str(), again["refresh_token"].as_str()),
        (Some("dc-ada~2"), Some("dcr-ada-2"))
    );
    *d.refreshes.refuse.borrow_mut() = true;
    refused_refresh(&world, "discord", "1087783541293158400", access, week, "invalid_grant");
}
