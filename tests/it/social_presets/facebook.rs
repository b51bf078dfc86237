//! `kind = "facebook"` against a stand-in for Facebook at `https://facebook.test` (`base_url`;
//! the Graph API under `/graph`), speaking Facebook's wire format:
//!
//! - The login dialog `/{version}/dialog/oauth`, the user's refusal
//!   (`error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied`)
//!   and the code exchange `GET|POST /{version}/oauth/access_token` answering
//!   `{"access_token", "token_type": "bearer", "expires_in"}`:
//!   https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
//! - `GET /{version}/me?fields=id,name,email,first_name,last_name,picture` (`picture` as
//!   `{"data": {"height", "is_silhouette", "url", "width"}}`):
//!   https://developers.facebook.com/docs/graph-api/reference/user
//! - With "Require App Secret" on, a Graph call without `appsecret_proof` (hex HMAC-SHA256 of
//!   the token keyed with the app secret) or with a wrong one is refused:
//!   https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof
//! - Graph errors `{"error": {"message", "type", "code", "fbtrace_id"}}` with HTTP 400:
//!   https://developers.facebook.com/docs/graph-api/guides/error-handling
//! - No refresh test: Facebook issues no refresh token (a token is made long-lived by an
//!   exchange, not refreshed):
//!   https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived

use super::*;
use hmac::{Hmac, Mac};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const FB: &str = "https://facebook.test";

#[derive(Default)]
struct Facebook {
    /// Codes: the user, the redirect URI.
    codes: RefCell<HashMap<String, (String, String)>>,
    /// Every Graph call: its path and query.
    graph_calls: RefCell<Vec<(String, HashMap<String, String>)>>,
    /// The user's address (None: the user has none, or did not grant `email`).
    emails: RefCell<HashMap<String, String>>,
    /// `/me` refuses the token.
    token_expired: RefCell<bool>,
}

/// Facebook's Graph error.
fn graph_error(message: &str, kind: &str, code: u16) -> http::Response<Vec<u8>> {
    answer(400, json!({"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AWqBD1T3fAbC"}}))
}

/// The proof Facebook expects, computed here with the app secret the stand-in was given.
fn proof_of(token: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(IDP2_SECRET.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

impl Facebook {
    fn mount(world: &World) -> Rc<Facebook> {
        let fb = Rc::new(Facebook::default());
        fb.emails.borrow_mut().insert("ada".into(), "ada@example.com".into());
        let handler = fb.clone();
        world.http.mount(FB, move |req| handler.serve(req));
        fb
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let url = url::Url::parse(&req.uri().to_string()).unwrap();
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let path = req.uri().path().to_owned();
        self.graph_calls.borrow_mut().push((path.clone(), q.clone()));
        let Some((version, call)) = path.strip_prefix("/graph/").and_then(|p| p.split_once('/')) else {
            return graph_error("Unknown path components", "OAuthException", 2500);
        };
        assert!(version.starts_with('v'), "{path}");
        match call {
            "oauth/access_token" => {
                let mut f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
                f.extend(q);
                if f.get("client_id").map(String::as_str) != Some("fb-app")
                    || f.get("client_secret").map(String::as_str) != Some(IDP2_SECRET)
                {
                    return graph_error("Error validating client secret.", "OAuthException", 1);
                }
                let Some((user, redirect_uri)) = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c)) else {
                    return graph_error("Invalid verification code format.", "OAuthException", 100);
                };
                assert_eq!(f.get("redirect_uri"), Some(&redirect_uri));
                answer(
                    200,
                    json!({"access_token": format!("EAAfb{user}"), "token_type": "bearer", "expires_in": 5183944}),
                )
            }
            "me" => {
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let token = auth.strip_prefix("Bearer ").or(q.get("access_token").map(String::as_str));
                let Some(user) = token.and_then(|t| t.strip_prefix("EAAfb")).filter(|_| !*self.token_expired.borrow())
                else {
                    return graph_error(
                        "Error validating access token: Session has expired on Tuesday, 10-Dec-24 08:00:00 PST.",
                        "OAuthException",
                        190,
                    );
                };
                match q.get("appsecret_proof") {
                    None => {
                        return graph_error(
                            "API calls from the server require an appsecret_proof argument",
                            "GraphMethodException",
                            100,
                        )
                    }
                    Some(p) if *p != proof_of(&format!("EAAfb{user}")) => {
                        return graph_error(
                            "Invalid appsecret_proof provided in the API argument",
                            "GraphMethodException",
                            100,
                        )
                    }
                    Some(_) => {}
                }
                let fields = q.get("fields").map(String::as_str).unwrap_or("id,name");
                let mut me = json!({"id": if user == "ada" { "10158426510345672" } else { "4321098765432109" },
                    "name": format!("{} Lovelace", capitalised(user)), "first_name": capitalised(user), "last_name": "Lovelace",
                    "picture": {"data": {"height": 50, "is_silhouette": false,
                        "url": format!("https://platform-lookaside.fbsbx.test/platform/profilepic/?asid={user}"), "width": 50}}});
                if let Some(email) = self.emails.borrow().get(user) {
                    me["email"] = json!(email);
                }
                // Only the fields asked for, as the Graph API answers.
                let me: serde_json::Map<String, serde_json::Value> = me
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| fields.split(',').any(|f| f == k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                answer(200, serde_json::Value::Object(me))
            }
            _ => graph_error("Unknown path components", "OAuthException", 2500),
        }
    }

    /// The user clicks "Cancel" in the login dialog.
    fn deny(&self, auth_url: &str) -> String {
        redirect_back(
            auth_url,
            &[
                ("error", "access_denied"),
                ("error_code", "200"),
                ("error_description", "Permissions error"),
                ("error_reason", "user_denied"),
            ],
        )
    }
}

fn capitalised(user: &str) -> String {
    let mut c = user.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

impl StandIn for Facebook {
    fn approve(&self, auth_url: &str, user: &str) -> String {
        assert!(auth_url.starts_with(&format!("{FB}/v")) && auth_url.contains("/dialog/oauth?"), "{auth_url}");
        let q = query(auth_url);
        assert_eq!(q["client_id"], "fb-app");
        let code = format!("AQD{}", self.codes.borrow().len());
        self.codes.borrow_mut().insert(code.clone(), (user.to_owned(), q["redirect_uri"].clone()));
        redirect_back(auth_url, &[("code", &code)])
    }
}

fn facebook_world(options: &str) -> (World, Rc<Facebook>) {
    let world = world_with(&format!(
        "alias = \"facebook\"\nkind = \"facebook\"\nbase_url = \"{FB}\"\nclient_id = \"fb-app\"\nclient_secret_env = \"IDP2_SECRET\"\n{options}\n"
    ));
    let fb = Facebook::mount(&world);
    (world, fb)
}

fn sign_in(world: &World, fb: &Facebook, browser: &mut Browser, user: &str) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, fb, browser, "facebook", user)
}

#[test]
fn a_facebook_login_reads_me_with_the_appsecret_proof_and_keeps_the_address_unverified() {
    let (world, fb) = facebook_world("");
    let mut browser = Browser::default();
    let page = body(&browser.get(&world, "/login?return_to=%2Faccount"));
    assert!(page.contains("Sign in with Facebook"), "{page}");
    let (at_facebook, rp) = to_provider(&world, &mut browser, "facebook");
    assert!(at_facebook.starts_with(&format!("{FB}/v19.0/dialog/oauth?")), "{at_facebook}");
    let q = query(&at_facebook);
    assert_eq!((q["scope"].as_str(), q["response_type"].as_str()), ("email public_profile", "code"));
    assert_eq!(q["redirect_uri"], format!("{ISSUER}/broker/facebook/endpoint"));
    let res = browser.get(&world, &fb.approve(&at_facebook, "ada"));
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("ada@example.com"), Some(false)));
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Ada"), Some("Lovelace")));
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["picture"], "https://platform-lookaside.fbsbx.test/platform/profilepic/?asid=ada");
    assert!(user_of_link(&world, "facebook", "10158426510345672").is_some(), "linked by the app-scoped id");
    // The Graph call carried the proof for its token, and asked for the fields keyedge reads.
    let calls = fb.graph_calls.borrow();
    let (_, me) = calls.iter().find(|(p, _)| p == "/graph/v19.0/me").expect("/me was called");
    assert_eq!(me["appsecret_proof"], proof_of("EAAfbada"));
    assert_eq!(me["fields"], "id,name,email,first_name,last_name,picture");
    assert!(calls.iter().any(|(p, _)| p == "/graph/v19.0/oauth/access_token"));
}

#[test]
fn the_graph_api_version_is_in_every_url() {
    let (world, fb) = facebook_world("graph_api_version = \"v21.0\"");
    let mut browser = Browser::default();
    let (at_facebook, rp) = to_provider(&world, &mut browser, "facebook");
    assert!(at_facebook.starts_with(&format!("{FB}/v21.0/dialog/oauth?")), "{at_facebook}");
    let res = browser.get(&world, &fb.approve(&at_facebook, "ada"));
    claims_for(&world, &code_of(&res), &rp);
    let paths: Vec<String> = fb.graph_calls.borrow().iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(paths, ["/graph/v21.0/oauth/access_token", "/graph/v21.0/me"]);
}

#[test]
fn trust_email_is_the_operators_choice_for_facebook() {
    let (world, fb) = facebook_world("trust_email = true");
    let (res, rp) = sign_in(&world, &fb, &mut Browser::default(), "ada");
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("ada@example.com"), Some(true)));
}

#[test]
fn consent_denied_at_facebook_signs_no_one_in() {
    let (world, fb) = facebook_world("");
    let mut browser = Browser::default();
    let (at_facebook, _) = to_provider(&world, &mut browser, "facebook");
    let res = browser.get(&world, &fb.deny(&at_facebook));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert!(fb.graph_calls.borrow().is_empty(), "no code exchange");
    assert_eq!(accounts(&world), 0);
}

#[test]
fn a_graph_error_at_me_fails_the_login_with_facebooks_message_in_the_log() {
    let (world, fb) = facebook_world("");
    *fb.token_expired.borrow_mut() = true;
    let (res, _) = sign_in(&world, &fb, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("reference"), "{}", body(&res));
    let line = world.logged_for(&body(&res));
    assert!(line.contains("userinfo answered HTTP 400: Error validating access token"), "{line}");
    assert_eq!(accounts(&world), 0);
}

#[test]
fn a_facebook_address_is_never_linked_by_email_without_trust_email() {
    let (world, fb) = facebook_world("");
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    fb.emails.borrow_mut().insert("alice".into(), "alice@example.com".into());
    let (res, _) = sign_in(&world, &fb, &mut Browser::default(), "alice");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("This email address belongs to another account"), "{page}");
    assert!(!forms(&page).iter().any(|(action, _)| action == "/first-login/confirm"), "no link offered: {page}");
    assert_eq!((accounts(&world), user_of_link(&world, "facebook", "4321098765432109")), (1, None));
}
