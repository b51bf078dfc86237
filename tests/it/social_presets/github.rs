//! `kind = "github"` against a stand-in for GitHub Enterprise Server at `https://ghe.test`
//! (`base_url`; the API under `/api/v3`), speaking GitHub's wire format:
//!
//! - Authorization (`/login/oauth/authorize`), code exchange (`POST /login/oauth/access_token`,
//!   JSON only when asked with `Accept: application/json`) and the user's refusal
//!   (`error=access_denied&error_description=…&error_uri=…`):
//!   https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps and
//!   https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-authorization-request-errors
//! - Token errors, answered with `200 OK` and an error object (`bad_verification_code`,
//!   `incorrect_client_credentials`):
//!   https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors
//! - `GET /user`: https://docs.github.com/en/rest/users/users#get-the-authenticated-user
//! - `GET /user/emails` (scope `user:email`; private addresses included):
//!   https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user
//!   in pages (`per_page`, 30 by default, at most 100; `page`; the next page in `Link`):
//!   https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
//! - API errors (`{"message": "Bad credentials", "documentation_url": …}`) and the required
//!   `User-Agent`: https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
//! - No refresh test: an OAuth app's token does not expire and comes with no refresh token
//!   (only GitHub Apps with expiring user tokens refresh):
//!   https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens

use super::*;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;

const GHE: &str = "https://ghe.test";

/// A GitHub user and their addresses: `(email, primary, verified, visibility)`.
#[derive(Clone)]
struct GitHubUser {
    id: u64,
    login: &'static str,
    name: Option<&'static str>,
    /// The public profile address (`email` of `/user`; `null` when private).
    public_email: Option<&'static str>,
    emails: Vec<(&'static str, bool, bool, Option<&'static str>)>,
}

fn mona() -> GitHubUser {
    GitHubUser {
        id: 583231,
        login: "octocat",
        name: Some("Mona Lisa Octocat"),
        public_email: None,
        emails: vec![
            ("octocat@users.noreply.github.com", false, true, None),
            ("mona@private.example", true, true, Some("private")),
        ],
    }
}

/// What a code stands for.
struct IssuedCode {
    user: String,
    challenge: Option<String>,
    redirect_uri: String,
    /// The scopes granted, comma-separated as GitHub writes them.
    scopes: String,
}

#[derive(Default)]
struct GitHub {
    users: RefCell<HashMap<String, GitHubUser>>,
    codes: RefCell<HashMap<String, IssuedCode>>,
    /// Access tokens: the user and the scopes granted.
    tokens: RefCell<HashMap<String, (String, String)>>,
    /// The last authorization request's query.
    last_authorize: RefCell<HashMap<String, String>>,
    /// Answers the code exchange with this error (GitHub: in a `200 OK`).
    token_error: RefCell<Option<&'static str>>,
    /// The API's status for `/user` or `/user/emails` (None: 200).
    user_status: RefCell<Option<u16>>,
    emails_status: RefCell<Option<u16>>,
    requests: RefCell<Vec<String>>,
}

/// The page of a list answer `all` that `req` asks for (`per_page`, `page`), with GitHub's
/// `Link` header when more pages follow.
fn page_of(req: &http::Request<Vec<u8>>, all: http::Response<Vec<u8>>) -> http::Response<Vec<u8>> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(all.body()) else { return all };
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let per = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30usize).min(100);
    let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1usize).max(1);
    let slice: Vec<Value> = items.iter().skip((page - 1) * per).take(per).cloned().collect();
    let mut res = answer(200, Value::Array(slice));
    let last = items.len().div_ceil(per);
    if page < last {
        let at = |n: usize| format!("<{GHE}/api/v3/user/emails?per_page={per}&page={n}>");
        let link = format!("{}; rel=\"next\", {}; rel=\"last\"", at(page + 1), at(last));
        res.headers_mut().insert("link", link.parse().unwrap());
    }
    res
}

/// GitHub's REST API error shape.
fn api_error(status: u16, message: &str) -> http::Response<Vec<u8>> {
    answer(
        status,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

impl GitHub {
    fn mount(world: &World) -> Rc<GitHub> {
        let gh = Rc::new(GitHub::default());
        gh.users.borrow_mut().insert("mona".into(), mona());
        let handler = gh.clone();
        world.http.mount(GHE, move |req| handler.serve(req));
        gh
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        self.requests.borrow_mut().push(req.uri().path().to_owned());
        if req.uri().path().starts_with("/api/") && req.headers().get("user-agent").is_none() {
            // "Requests with no User-Agent header will be rejected."
            return api_error(
                403,
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            );
        }
        match (req.method().as_str(), req.uri().path()) {
            ("POST", "/login/oauth/access_token") => self.access_token(&req),
            ("GET", "/api/v3/user") => self.api(&req, *self.user_status.borrow(), |user, _| {
                json!({
                    "login": user.login, "id": user.id, "node_id": "MDQ6VXNlcjE=",
                    "avatar_url": format!("{GHE}/avatars/u/{}", user.id),
                    "html_url": format!("{GHE}/{}", user.login), "type": "User", "site_admin": false,
                    "name": user.name, "company": null, "blog": "", "location": null,
                    "email": user.public_email, "bio": null, "public_repos": 8,
                    "created_at": "2008-01-14T04:33:35Z",
                })
            }),
            ("GET", "/api/v3/user/emails") => {
                let status = *self.emails_status.borrow();
                let scopes_ok = |scopes: &str| scopes.split(',').any(|s| s == "user:email" || s == "user");
                let token = bearer(&req).unwrap_or_default();
                let granted = self.tokens.borrow().get(&token).map(|(_, s)| s.clone()).unwrap_or_default();
                if !scopes_ok(&granted) {
                    return api_error(404, "Not Found");
                }
                let all = self.api(&req, status, |user, _| {
                    Value::Array(
                        user.emails
                            .iter()
                            .map(|(email, primary, verified, visibility)| {
                                json!({"email": email, "primary": primary, "verified": verified, "visibility": visibility})
                            })
                            .collect(),
                    )
                });
                page_of(&req, all)
            }
            _ => api_error(404, "Not Found"),
        }
    }

    /// An API call with `Authorization: Bearer {token}`.
    fn api(
        &self,
        req: &http::Request<Vec<u8>>,
        status: Option<u16>,
        body: impl Fn(&GitHubUser, &str) -> Value,
    ) -> http::Response<Vec<u8>> {
        let Some((user, scopes)) = bearer(req).and_then(|t| self.tokens.borrow().get(&t).cloned()) else {
            return api_error(401, "Bad credentials");
        };
        if let Some(status) = status {
            return api_error(
                status,
                if status == 403 { "Resource not accessible by integration" } else { "Server Error" },
            );
        }
        let user = self.users.borrow()[&user].clone();
        answer(200, body(&user, &scopes))
    }

    fn access_token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        let wants_json =
            req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("").contains("application/json");
        let reply = |body: Value| {
            if wants_json {
                return answer(200, body);
            }
            // Without `Accept: application/json`, GitHub answers form-encoded.
            let pairs: Vec<(String, String)> = body
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect();
            let form = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            http::Response::builder()
                .status(200)
                .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
                .body(form.into_bytes())
                .unwrap()
        };
        let error = |code: &str, description: &str| {
            reply(json!({"error": code, "error_description": description,
                "error_uri": format!("/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#{}", code.replace('_', "-"))}))
        };
        if f.get("client_id").map(String::as_str) != Some("ghe-client")
            || f.get("client_secret").map(String::as_str) != Some(IDP2_SECRET)
        {
            return error("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.");
        }
        if let Some(code) = *self.token_error.borrow() {
            return error(code, "The code passed is incorrect or expired.");
        }
        let issued = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c));
        let Some(IssuedCode { user, challenge, redirect_uri, scopes }) = issued else {
            return error("bad_verification_code", "The code passed is incorrect or expired.");
        };
        if f.get("redirect_uri") != Some(&redirect_uri) {
            return error(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            );
        }
        use sha2::{Digest, Sha256};
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        if challenge.is_some_and(|c| c != keyedge::core::b64url(&Sha256::digest(verifier.as_bytes()))) {
            return error("bad_verification_code", "The code passed is incorrect or expired.");
        }
        let token = format!("gho_{user}{}", self.tokens.borrow().len());
        self.tokens.borrow_mut().insert(token.clone(), (user, scopes.clone()));
        // GitHub lists the granted scopes comma-separated.
        reply(json!({"access_token": token, "scope": scopes, "token_type": "bearer"}))
    }
}

impl StandIn for GitHub {
    /// `user` authorizes the app at `authorize_url`; returns the callback URL.
    fn approve(&self, authorize_url: &str, user: &str) -> String {
        assert!(authorize_url.starts_with(&format!("{GHE}/login/oauth/authorize?")), "{authorize_url}");
        let q = query(authorize_url);
        *self.last_authorize.borrow_mut() = q.clone();
        assert_eq!(q["client_id"], "ghe-client");
        let code = format!("code-{}", self.codes.borrow().len());
        let scopes = q.get("scope").map(|s| s.split(' ').collect::<Vec<_>>().join(",")).unwrap_or_default();
        let challenge = q.get("code_challenge").cloned();
        let issued = IssuedCode { user: user.to_owned(), challenge, redirect_uri: q["redirect_uri"].clone(), scopes };
        self.codes.borrow_mut().insert(code.clone(), issued);
        redirect_back(authorize_url, &[("code", &code)])
    }
}

impl GitHub {
    /// The user clicks "Cancel" at GitHub.
    fn deny(&self, authorize_url: &str) -> String {
        redirect_back(
            authorize_url,
            &[
                ("error", "access_denied"),
                ("error_description", "The user has denied your application access."),
                (
                    "error_uri",
                    "/apps/building-integrations/setting-up-and-registering-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
                ),
            ],
        )
    }
}

fn bearer(req: &http::Request<Vec<u8>>) -> Option<String> {
    let auth = req.headers().get("authorization")?.to_str().ok()?;
    auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("token ")).map(str::to_owned)
}

const PRESET: &str = r#"
alias = "github"
kind = "github"
base_url = "https://ghe.test"
client_id = "ghe-client"
client_secret_env = "IDP2_SECRET"
"#;

fn github_world() -> (World, Rc<GitHub>) {
    let world = world_with(PRESET);
    let gh = GitHub::mount(&world);
    (world, gh)
}

/// A login of `user` at GitHub for the application; keyedge's answer to the callback.
fn sign_in(world: &World, gh: &GitHub, browser: &mut Browser, user: &str) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, gh, browser, "github", user)
}

#[test]
fn a_github_login_takes_the_primary_verified_private_address_and_splits_the_name() {
    let (world, gh) = github_world();
    let mut browser = Browser::default();
    let (at_github, rp) = to_provider(&world, &mut browser, "github");
    let q = query(&at_github);
    assert_eq!(q["scope"], "read:user user:email");
    assert_eq!(q["redirect_uri"], format!("{ISSUER}/broker/github/endpoint"));
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(!q.contains_key("nonce") && !q.contains_key("prompt"), "no OpenID Connect parameters: {q:?}");
    let res = browser.get(&world, &gh.approve(&at_github, "mona"));
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!(claims["email"], "mona@private.example", "the primary address, private as it is");
    assert_eq!(claims["email_verified"], true);
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Mona Lisa"), Some("Octocat")));
    assert_eq!(claims["name"], "Mona Lisa Octocat");
    assert_eq!(claims["preferred_username"], "octocat");
    assert_eq!(claims["picture"], format!("{GHE}/avatars/u/583231"));
    // The identity is GitHub's numeric id: the next login finds the same account.
    let user = user_of_link(&world, "github", "583231").expect("linked by GitHub's id");
    let (again, rp) = sign_in(&world, &gh, &mut Browser::default(), "mona");
    assert_eq!(claims_for(&world, &code_of(&again), &rp)["sub"], claims["sub"]);
    assert_eq!((accounts(&world), user_of_link(&world, "github", "583231")), (1, Some(user)));
    assert!(gh.requests.borrow().iter().any(|p| p == "/api/v3/user/emails"));
}

#[test]
fn consent_denied_at_github_signs_no_one_in() {
    let (world, gh) = github_world();
    let mut browser = Browser::default();
    let (at_github, _) = to_provider(&world, &mut browser, "github");
    let res = browser.get(&world, &gh.deny(&at_github));
    assert_eq!(res.status(), 502, "{}", body(&res));
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert!(!gh.requests.borrow().iter().any(|p| p.starts_with("/login/oauth/access_token")));
    assert_eq!(accounts(&world), 0);
}

/// alice has a keyedge account with the verified address alice@example.com (from `up`).
fn alice_exists(world: &World) {
    login(world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    assert_eq!(accounts(world), 1);
}

#[test]
fn an_unverified_primary_address_is_never_linked_by_email_and_goes_to_the_review_form() {
    let (world, gh) = github_world();
    alice_exists(&world);
    gh.users.borrow_mut().get_mut("mona").unwrap().emails = vec![("alice@example.com", true, false, Some("private"))];
    let (res, _) = sign_in(&world, &gh, &mut Browser::default(), "mona");
    assert_eq!(res.status(), 200, "{}", body(&res));
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{page}");
    assert!(page.contains("This email address belongs to another account"), "{page}");
    assert!(!forms(&page).iter().any(|(action, _)| action == "/first-login/confirm"), "no link offered: {page}");
    assert_eq!((accounts(&world), user_of_link(&world, "github", "583231")), (1, None));
}

#[test]
fn a_verified_address_that_is_not_the_primary_one_is_never_taken() {
    let (world, gh) = github_world();
    alice_exists(&world);
    gh.users.borrow_mut().get_mut("mona").unwrap().emails =
        vec![("alice@example.com", false, true, None), ("mona@private.example", true, false, Some("private"))];
    let (res, rp) = sign_in(&world, &gh, &mut Browser::default(), "mona");
    // A new account, with the primary address, unverified; alice's is untouched.
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!(
        (claims["email"].as_str(), claims["email_verified"].as_bool()),
        (Some("mona@private.example"), Some(false))
    );
    assert_eq!(accounts(&world), 2);
}

#[test]
fn the_primary_verified_address_of_an_existing_account_offers_linking_it() {
    let (world, gh) = github_world();
    alice_exists(&world);
    gh.users.borrow_mut().get_mut("mona").unwrap().emails =
        vec![("mona@private.example", false, true, None), ("alice@example.com", true, true, Some("private"))];
    let (res, _) = sign_in(&world, &gh, &mut Browser::default(), "mona");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/confirm"), "{}: {page}", res.status());
}

#[test]
fn a_refused_code_is_githubs_error_not_a_broken_answer() {
    let (world, gh) = github_world();
    *gh.token_error.borrow_mut() = Some("bad_verification_code");
    let (res, _) = sign_in(&world, &gh, &mut Browser::default(), "mona");
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The identity provider refused to complete the sign-in."), "{}", body(&res));
    let line = world.logged_for(&body(&res));
    assert!(
        line.contains("bad_verification_code") && line.contains("The code passed is incorrect or expired."),
        "{line}"
    );
    assert_eq!(accounts(&world), 0);
}

#[test]
fn api_errors_at_user_or_user_emails_fail_the_login() {
    for (status_of, status) in [("user", 401), ("user", 500), ("emails", 403), ("emails", 500)] {
        let (world, gh) = github_world();
        *(if status_of == "user" { &gh.user_status } else { &gh.emails_status }).borrow_mut() = Some(status);
        let (res, _) = sign_in(&world, &gh, &mut Browser::default(), "mona");
        assert_eq!(res.status(), 502, "{status_of} {status}");
        let line = world.logged_for(&body(&res));
        let what = if status_of == "user" { "userinfo" } else { "email list" };
        assert!(line.contains(&format!("{what} answered HTTP {status}")), "{line}");
        assert_eq!(accounts(&world), 0);
    }
}

#[test]
fn a_single_word_name_is_a_given_name_and_the_profile_form_asks_for_the_rest() {
    let (world, gh) = github_world();
    gh.users.borrow_mut().get_mut("mona").unwrap().name = Some("Octocat");
    let (res, _) = sign_in(&world, &gh, &mut Browser::default(), "mona");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{page}");
    assert!(page.contains("value=\"Octocat\""), "{page}");
}

#[test]
fn the_primary_github_address_on_a_later_page_of_user_emails_is_found() {
    let (world, gh) = github_world();
    // 150 addresses, the primary one last: on the second page of 100.
    let mut emails: Vec<(&'static str, bool, bool, Option<&'static str>)> =
        (0..149).map(|n| (format!("old{n}@former.example").leak() as &str, false, true, None)).collect();
    emails.push(("mona@private.example", true, true, Some("private")));
    gh.users.borrow_mut().get_mut("mona").unwrap().emails = emails;
    let (res, rp) = sign_in(&world, &gh, &mut Browser::default(), "mona");
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!(
        (claims["email"].as_str(), claims["email_verified"].as_bool()),
        (Some("mona@private.example"), Some(true))
    );
    let pages = gh.requests.borrow().iter().filter(|p| *p == "/api/v3/user/emails").count();
    assert_eq!(pages, 2, "100 a page, then the `Link` header's next page");
}
