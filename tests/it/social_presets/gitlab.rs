//! `kind = "gitlab"` against a stand-in for a self-managed GitLab at `https://gitlab.test`
//! (`base_url`), speaking GitLab's wire format (Doorkeeper and doorkeeper-openid_connect):
//!
//! - Discovery, the endpoints under `/oauth/…`, the ID token and userinfo claims (`nickname`,
//!   `preferred_username`, `email_verified`, `groups`):
//!   https://docs.gitlab.com/integration/openid_connect_provider/
//! - The authorization code flow and its errors (`access_denied` on the redirect;
//!   `invalid_grant`/`invalid_client` with Doorkeeper's descriptions at the token endpoint):
//!   https://docs.gitlab.com/api/oauth2/
//! - The refresh grant (`grant_type=refresh_token`, the client in the body; a new access token
//!   for two hours and a new refresh token, the old one revoked):
//!   https://docs.gitlab.com/api/oauth2/#authorization-code-with-proof-key-for-code-exchange-pkce

use super::*;
use crate::common::fake_idp::{jwks_for, rsa_key, sign};
use keyedge::core::ports::Clock;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const GITLAB: &str = "https://gitlab.test";

struct GitLab {
    clock: keyedge::core::ports::memory::VirtualClock,
    key: jwt_compact::alg::RsaPrivateKey,
    /// Codes: the user, the nonce, the redirect URI.
    codes: RefCell<HashMap<String, (String, String, String)>>,
    email_verified: RefCell<bool>,
    refuse_client: RefCell<bool>,
    refreshes: Refreshes,
}

/// `user`'s GitLab id and address.
fn who(user: &str) -> (&'static str, String) {
    (if user == "alice" { "4242" } else { "1337" }, format!("{user}@example.com"))
}

impl GitLab {
    fn mount(world: &World) -> Rc<GitLab> {
        let gitlab = Rc::new(GitLab {
            clock: world.clock.clone(),
            key: rsa_key(include_str!("../../fixtures/upstream-test-key.pem")),
            codes: RefCell::default(),
            email_verified: RefCell::new(true),
            refuse_client: RefCell::new(false),
            refreshes: Refreshes::default(),
        });
        let handler = gitlab.clone();
        world.http.mount(GITLAB, move |req| handler.serve(req));
        gitlab
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match req.uri().path() {
            "/.well-known/openid-configuration" => answer(
                200,
                json!({
                    "issuer": GITLAB,
                    "authorization_endpoint": format!("{GITLAB}/oauth/authorize"),
                    "token_endpoint": format!("{GITLAB}/oauth/token"),
                    "revocation_endpoint": format!("{GITLAB}/oauth/revoke"),
                    "introspection_endpoint": format!("{GITLAB}/oauth/introspect"),
                    "userinfo_endpoint": format!("{GITLAB}/oauth/userinfo"),
                    "jwks_uri": format!("{GITLAB}/oauth/discovery/keys"),
                    "scopes_supported": ["api", "read_api", "read_user", "openid", "profile", "email"],
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                    "claims_supported": ["iss", "sub", "aud", "exp", "iat", "sub_legacy", "name", "nickname", "preferred_username", "email", "email_verified", "website", "profile", "picture", "groups", "groups_direct"],
                }),
            ),
            "/oauth/discovery/keys" => answer(200, serde_json::from_str(&jwks_for(&self.key, "gl-1")).unwrap()),
            "/oauth/token" => self.token(&req),
            "/oauth/userinfo" => {
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let Some(user) = auth.strip_prefix("Bearer glpat-") else {
                    return answer(
                        401,
                        json!({"error": "invalid_token", "error_description": "The access token is invalid"}),
                    );
                };
                let (sub, email) = who(user);
                answer(
                    200,
                    json!({"sub": sub, "sub_legacy": "2d1f…", "name": "Ada Lovelace", "nickname": user,
                        "preferred_username": user, "email": email, "email_verified": *self.email_verified.borrow(),
                        "website": "", "profile": format!("{GITLAB}/{user}"), "picture": format!("{GITLAB}/uploads/{user}.png"),
                        "groups": ["staff", "staff/infra"]}),
                )
            }
            _ => answer(404, json!({"error": "404 Not Found"})),
        }
    }

    fn token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        if *self.refuse_client.borrow()
            || f.get("client_id").map(String::as_str) != Some("gl-app")
            || f.get("client_secret").map(String::as_str) != Some(IDP2_SECRET)
        {
            return answer(
                401,
                json!({"error": "invalid_client", "error_description": "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."}),
            );
        }
        let invalid_grant = || {
            answer(
                400,
                json!({"error": "invalid_grant", "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}),
            )
        };
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            // GitLab revokes the refresh token it was given and issues a new one.
            let Some(user) = self.refreshes.redeem(&f, true) else { return invalid_grant() };
            return answer(
                200,
                json!({"access_token": format!("glpat-{user}~{}", *self.refreshes.granted.borrow()), "token_type": "Bearer",
                    "expires_in": 7200, "refresh_token": self.refreshes.issue("glrt-", &user),
                    "scope": "openid profile email", "created_at": self.clock.now()}),
            );
        }
        let Some((user, nonce, redirect_uri)) = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c)) else {
            return invalid_grant();
        };
        assert_eq!(f.get("redirect_uri"), Some(&redirect_uri));
        let (sub, email) = who(&user);
        let now = self.clock.now();
        let access_token = format!("glpat-{user}");
        let claims = json!({"iss": GITLAB, "sub": sub, "aud": "gl-app", "exp": now + 120, "iat": now, "auth_time": now,
            "sub_legacy": "2d1f…", "email": email, "email_verified": *self.email_verified.borrow(), "nonce": nonce,
            "groups_direct": ["staff"]});
        answer(
            200,
            json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 7200,
                "refresh_token": self.refreshes.issue("glrt-", &user), "scope": "openid profile email", "created_at": now,
                "id_token": sign(&self.key, "gl-1", claims)}),
        )
    }
}

impl StandIn for GitLab {
    fn approve(&self, auth_url: &str, user: &str) -> String {
        assert!(auth_url.starts_with(&format!("{GITLAB}/oauth/authorize?")), "{auth_url}");
        let q = query(auth_url);
        assert_eq!((q["client_id"].as_str(), q["scope"].as_str()), ("gl-app", "openid profile email"));
        let code = format!("gl-code-{}", self.codes.borrow().len());
        self.codes.borrow_mut().insert(code.clone(), (user.to_owned(), q["nonce"].clone(), q["redirect_uri"].clone()));
        redirect_back(auth_url, &[("code", &code)])
    }
}

impl GitLab {
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

fn gitlab_world() -> (World, Rc<GitLab>) {
    gitlab_world_with("", "")
}

fn gitlab_world_with(options: &str, app: &str) -> (World, Rc<GitLab>) {
    let world = world_with_app(
        &format!(
            "alias = \"gitlab\"\nkind = \"gitlab\"\nbase_url = \"{GITLAB}\"\nclient_id = \"gl-app\"\nclient_secret_env = \"IDP2_SECRET\"\n{options}\n"
        ),
        app,
    );
    let gitlab = GitLab::mount(&world);
    (world, gitlab)
}

fn sign_in(world: &World, gitlab: &GitLab, browser: &mut Browser, user: &str) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, gitlab, browser, "gitlab", user)
}

#[test]
fn a_self_managed_gitlab_login_takes_the_username_and_verified_email() {
    let (world, gitlab) = gitlab_world();
    let mut browser = Browser::default();
    let page = body(&browser.get(&world, "/login?return_to=%2Faccount"));
    assert!(page.contains("Sign in with GitLab"), "{page}");
    let (res, rp) = sign_in(&world, &gitlab, &mut browser, "ada");
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!(claims["preferred_username"], "ada");
    // GitLab has one `name`: split, so the profile is complete without the review form.
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Ada"), Some("Lovelace")));
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("ada@example.com"), Some(true)));
    assert!(user_of_link(&world, "gitlab", "1337").is_some());
}

#[test]
fn consent_denied_at_gitlab_signs_no_one_in() {
    let (world, gitlab) = gitlab_world();
    let mut browser = Browser::default();
    let (at_gitlab, _) = to_provider(&world, &mut browser, "gitlab");
    let res = browser.get(&world, &gitlab.deny(&at_gitlab));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn an_unverified_gitlab_address_is_never_linked_by_email() {
    let (world, gitlab) = gitlab_world();
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    *gitlab.email_verified.borrow_mut() = false;
    let (res, _) = sign_in(&world, &gitlab, &mut Browser::default(), "alice");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("This email address belongs to another account"), "{page}");
    assert_eq!((accounts(&world), user_of_link(&world, "gitlab", "4242")), (1, None));
}

#[test]
fn a_refused_client_fails_the_login_with_gitlabs_error_in_the_log() {
    let (world, gitlab) = gitlab_world();
    *gitlab.refuse_client.borrow_mut() = true;
    let (res, _) = sign_in(&world, &gitlab, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("invalid_client"));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn stored_gitlab_tokens_refresh_and_the_rotated_refresh_token_is_kept() {
    let (world, gitlab) = gitlab_world_with(STORES_TOKENS, READS_TOKENS);
    let (res, rp) = sign_in(&world, &gitlab, &mut Browser::default(), "ada");
    let tokens = json(&redeem(&world, &code_of(&res), &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap();
    let granted = &gitlab.refreshes.granted;
    let fresh = after_expiry(&world, "gitlab", access, 7200, granted);
    assert_eq!((fresh["access_token"].as_str(), fresh["expires_in"].as_i64()), (Some("glpat-ada~1"), Some(7200)));
    assert_eq!(fresh["refresh_token"], "glrt-ada-1", "the rotated refresh token");
    // GitLab revoked `glrt-ada-0`: this refresh works only with the rotated one.
    let again = after_expiry(&world, "gitlab", access, 7200, granted);
    assert_eq!(
        (again["access_token"].as_str(), again["refresh_token"].as_str()),
        (Some("glpat-ada~2"), Some("glrt-ada-2"))
    );
    *gitlab.refreshes.refuse.borrow_mut() = true;
    refused_refresh(&world, "gitlab", "1337", access, 7200, "invalid_grant");
}
