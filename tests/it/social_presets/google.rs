//! `kind = "google"` against a stand-in for Google's OpenID Provider at `https://google.test`
//! (`issuer`), speaking Google's wire format:
//!
//! - Discovery, endpoints and ID token claims (`azp`, `hd`, `email_verified`; `iss` either
//!   `https://accounts.google.com` or the legacy `accounts.google.com`):
//!   https://developers.google.com/identity/openid-connect/reference and
//!   https://developers.google.com/identity/openid-connect/openid-connect
//! - `hd`, `prompt` (`consent`, `select_account`), `access_type=offline` and the refresh token
//!   issued on consent only, the refresh grant's answer (no new refresh token):
//!   https://developers.google.com/identity/protocols/oauth2/web-server
//! - Errors: `error=access_denied` on the redirect; `{"error": "invalid_grant",
//!   "error_description": "Bad Request"}` from the token endpoint.

use super::*;
use crate::common::fake_idp::{jwks_for, rsa_key, sign};
use keyedge::core::ports::Clock;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

const GOOGLE: &str = "https://google.test";
const CLIENT: &str = "1234-abc.apps.googleusercontent.com";

/// A Google account: its `sub`, address and hosted domain (Workspace accounts only).
#[derive(Clone)]
struct Account {
    sub: &'static str,
    email: &'static str,
    verified: bool,
    hd: Option<&'static str>,
}

fn account(name: &str) -> Account {
    match name {
        "ada" => {
            Account { sub: "110169484474386276334", email: "ada@example.com", verified: true, hd: Some("example.com") }
        }
        "bob" => Account {
            sub: "110248495921238986420",
            email: "bob@other.example",
            verified: true,
            hd: Some("other.example"),
        },
        // Says alice's address is hers, but Google has not verified it.
        "mallory" => Account { sub: "117000000000000000666", email: "alice@example.com", verified: false, hd: None },
        // A personal Google account made with a company address: Google checked the mailbox
        // once, at sign-up, and says "verified" for good, even after eve left the company.
        "eve" => Account { sub: "105000000000000000777", email: "eve@corp.example", verified: true, hd: None },
        _ => Account { sub: "104455226587361237834", email: "carol@gmail.com", verified: true, hd: None },
    }
}

/// What a code stands for.
struct IssuedCode {
    account: Account,
    nonce: String,
    challenge: Option<String>,
    redirect_uri: String,
    /// Whether its token response carries a refresh token.
    refresh: bool,
}

pub(crate) struct Google {
    clock: keyedge::core::ports::memory::VirtualClock,
    key: jwt_compact::alg::RsaPrivateKey,
    codes: RefCell<HashMap<String, IssuedCode>>,
    /// Access tokens: the account.
    tokens: RefCell<HashMap<String, Account>>,
    refresh_tokens: RefCell<HashMap<String, Account>>,
    /// Accounts that granted offline access already: Google issues their refresh token again
    /// only with `prompt=consent`.
    offline_granted: RefCell<HashSet<&'static str>>,
    last_authorize: RefCell<HashMap<String, String>>,
    /// `iss` of the ID tokens (default: the issuer).
    iss: RefCell<String>,
    token_error: RefCell<Option<(u16, &'static str, &'static str)>>,
    token_requests: RefCell<usize>,
}

impl Google {
    fn mount(world: &World) -> Rc<Google> {
        let google = Rc::new(Google {
            clock: world.clock.clone(),
            key: rsa_key(include_str!("../../fixtures/upstream-test-key.pem")),
            codes: RefCell::default(),
            tokens: RefCell::default(),
            refresh_tokens: RefCell::default(),
            offline_granted: RefCell::default(),
            last_authorize: RefCell::default(),
            iss: RefCell::new(GOOGLE.to_owned()),
            token_error: RefCell::new(None),
            token_requests: RefCell::new(0),
        });
        let handler = google.clone();
        world.http.mount(GOOGLE, move |req| handler.serve(req));
        google
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match req.uri().path() {
            "/.well-known/openid-configuration" => answer(
                200,
                json!({
                    "issuer": GOOGLE,
                    "authorization_endpoint": format!("{GOOGLE}/o/oauth2/v2/auth"),
                    "device_authorization_endpoint": format!("{GOOGLE}/device/code"),
                    "token_endpoint": format!("{GOOGLE}/token"),
                    "userinfo_endpoint": format!("{GOOGLE}/v1/userinfo"),
                    "revocation_endpoint": format!("{GOOGLE}/revoke"),
                    "jwks_uri": format!("{GOOGLE}/oauth2/v3/certs"),
                    "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "scopes_supported": ["openid", "email", "profile"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                    "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture", "sub"],
                    "code_challenge_methods_supported": ["plain", "S256"],
                    "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
                }),
            ),
            "/oauth2/v3/certs" => answer(200, serde_json::from_str(&jwks_for(&self.key, "g-1")).unwrap()),
            "/token" => self.token(&req),
            "/v1/userinfo" => {
                let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                let account = auth.strip_prefix("Bearer ").and_then(|t| self.tokens.borrow().get(t).cloned());
                let Some(a) = account else {
                    return answer(
                        401,
                        json!({"error": "invalid_request", "error_description": "Invalid Credentials"}),
                    );
                };
                let mut info = json!({"sub": a.sub, "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
                    "picture": "https://lh3.googleusercontent.com/a/photo", "email": a.email, "email_verified": a.verified});
                if let Some(hd) = a.hd {
                    info["hd"] = json!(hd);
                }
                answer(200, info)
            }
            _ => answer(404, json!({"error": "not_found"})),
        }
    }

    fn token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        *self.token_requests.borrow_mut() += 1;
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        if f.get("client_id").map(String::as_str) != Some(CLIENT)
            || f.get("client_secret").map(String::as_str) != Some(IDP2_SECRET)
        {
            return answer(401, json!({"error": "invalid_client", "error_description": "Unauthorized"}));
        }
        if let Some((status, error, description)) = *self.token_error.borrow() {
            return answer(status, json!({"error": error, "error_description": description}));
        }
        let bad = || answer(400, json!({"error": "invalid_grant", "error_description": "Bad Request"}));
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            let Some(a) = f.get("refresh_token").and_then(|t| self.refresh_tokens.borrow().get(t).cloned()) else {
                return bad();
            };
            // The refresh token stays valid; none is issued again.
            return self.issue(&a, None, false);
        }
        let Some(IssuedCode { account: a, nonce, challenge, redirect_uri, refresh }) =
            f.get("code").and_then(|c| self.codes.borrow_mut().remove(c))
        else {
            return bad();
        };
        use sha2::{Digest, Sha256};
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        if f.get("redirect_uri") != Some(&redirect_uri)
            || challenge.is_some_and(|c| c != keyedge::core::b64url(&Sha256::digest(verifier.as_bytes())))
        {
            return bad();
        }
        self.issue(&a, Some(&nonce), refresh)
    }

    fn issue(&self, a: &Account, nonce: Option<&str>, refresh: bool) -> http::Response<Vec<u8>> {
        let n = self.tokens.borrow().len();
        let access_token = format!("ya29.{}-{n}", a.sub);
        self.tokens.borrow_mut().insert(access_token.clone(), a.clone());
        let now = self.clock.now();
        let mut claims = json!({
            "iss": *self.iss.borrow(), "azp": CLIENT, "aud": CLIENT, "sub": a.sub,
            "email": a.email, "email_verified": a.verified,
            "at_hash": keyedge::core::jose::half_hash(&access_token),
            "name": "Ada Lovelace", "picture": "https://lh3.googleusercontent.com/a/photo",
            "given_name": "Ada", "family_name": "Lovelace", "iat": now, "exp": now + 3599,
        });
        if let Some(hd) = a.hd {
            claims["hd"] = json!(hd);
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let mut body = json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer",
            "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
            "id_token": sign(&self.key, "g-1", claims)});
        if refresh {
            let rt = format!("1//0g{}-{n}", a.sub);
            self.refresh_tokens.borrow_mut().insert(rt.clone(), a.clone());
            body["refresh_token"] = json!(rt);
        }
        answer(200, body)
    }
}

impl StandIn for Google {
    /// `name` picks an account at Google's account chooser and consents; the callback URL,
    /// with the extra parameters Google adds to it.
    fn approve(&self, auth_url: &str, name: &str) -> String {
        assert!(auth_url.starts_with(&format!("{GOOGLE}/o/oauth2/v2/auth?")), "{auth_url}");
        let q = query(auth_url);
        *self.last_authorize.borrow_mut() = q.clone();
        assert_eq!((q["client_id"].as_str(), q["response_type"].as_str()), (CLIENT, "code"));
        // Google knows these three; another value is an `invalid_request` shown at Google,
        // and the user never comes back.
        let known = ["none", "consent", "select_account"];
        assert!(q.get("prompt").is_none_or(|p| p.split(' ').all(|v| known.contains(&v))), "{q:?}");
        let a = account(name);
        let offline = q.get("access_type").map(String::as_str) == Some("offline");
        let consent = q.get("prompt").is_some_and(|p| p.split(' ').any(|v| v == "consent"));
        // A refresh token comes with the first offline grant, and later only on consent.
        let refresh = offline && (self.offline_granted.borrow_mut().insert(a.sub) || consent);
        let code = format!("4/0A{}", self.codes.borrow().len());
        let entry = IssuedCode {
            account: a.clone(),
            nonce: q["nonce"].clone(),
            challenge: q.get("code_challenge").cloned(),
            redirect_uri: q["redirect_uri"].clone(),
            refresh,
        };
        self.codes.borrow_mut().insert(code.clone(), entry);
        let mut params = vec![
            ("iss", GOOGLE),
            ("code", &code),
            ("scope", "email profile openid https://www.googleapis.com/auth/userinfo.email"),
            ("authuser", "0"),
            ("prompt", if consent { "consent" } else { "none" }),
        ];
        params.extend(a.hd.map(|hd| ("hd", hd)));
        redirect_back(auth_url, &params)
    }
}

impl Google {
    fn deny(&self, auth_url: &str) -> String {
        redirect_back(auth_url, &[("error", "access_denied")])
    }
}

pub(crate) fn google_world(options: &str, app: &str) -> (World, Rc<Google>) {
    let idp = format!(
        "[[identity_providers]]\nalias = \"google\"\nkind = \"google\"\nissuer = \"{GOOGLE}\"\nclient_id = \"{CLIENT}\"\nclient_secret_env = \"IDP2_SECRET\"\n{options}"
    );
    let world = World::with("", app, &idp);
    let google = Google::mount(&world);
    (world, google)
}

pub(crate) fn sign_in(
    world: &World,
    google: &Google,
    browser: &mut Browser,
    name: &str,
) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, google, browser, "google", name)
}

#[test]
fn a_google_login_asks_to_select_an_account_and_takes_the_verified_email() {
    let (world, google) = google_world("", "");
    let (res, rp) = sign_in(&world, &google, &mut Browser::default(), "carol");
    let q = google.last_authorize.borrow().clone();
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["prompt"], "select_account");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(!q.contains_key("access_type") && !q.contains_key("hd"), "{q:?}");
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("carol@gmail.com"), Some(true)));
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Ada"), Some("Lovelace")));
    assert!(user_of_link(&world, "google", "104455226587361237834").is_some());
}

#[test]
fn consent_denied_at_google_signs_no_one_in() {
    let (world, google) = google_world("", "");
    let mut browser = Browser::default();
    let (at_google, _) = to_provider(&world, &mut browser, "google");
    let res = browser.get(&world, &google.deny(&at_google));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert_eq!((*google.token_requests.borrow(), accounts(&world)), (0, 0));
}

#[test]
fn an_unverified_google_address_is_never_linked_by_email() {
    let (world, google) = google_world("", "");
    // alice has an account with alice@example.com, verified (through `up`).
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    let (res, _) = sign_in(&world, &google, &mut Browser::default(), "mallory");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("This email address belongs to another account"), "{page}");
    assert_eq!((accounts(&world), user_of_link(&world, "google", "117000000000000000666")), (1, None));
}

#[test]
fn with_hd_only_accounts_of_that_workspace_get_in() {
    let (world, google) = google_world("hd = \"example.com\"", "");
    let (res, rp) = sign_in(&world, &google, &mut Browser::default(), "ada");
    assert_eq!(google.last_authorize.borrow()["hd"], "example.com", "the account chooser is limited to it");
    assert_eq!(claims_for(&world, &code_of(&res), &rp)["email"], "ada@example.com");
    // Another Workspace, and a personal account (no `hd` claim): refused, whatever `hd` was sent.
    for (name, logged) in [("bob", "hosted domain `other.example` is not `example.com`"), ("carol", "no hd claim")] {
        let (res, _) = sign_in(&world, &google, &mut Browser::default(), name);
        assert_eq!(res.status(), 502, "{name}");
        assert!(body(&res).contains("does not belong to the organisation"), "{}", body(&res));
        assert!(world.logged_for(&body(&res)).contains(logged), "{name}");
    }
    assert_eq!(accounts(&world), 1);
}

#[test]
fn with_stored_tokens_google_is_asked_for_offline_access_and_they_refresh() {
    let options = "store_tokens = true\nstored_tokens_readable = true";
    let (world, google) = google_world(options, "read_broker_tokens = true\naccess_token_lifetime = 7200");
    let (res, rp) = sign_in(&world, &google, &mut Browser::default(), "carol");
    let q = google.last_authorize.borrow().clone();
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent select_account");
    let tokens = json(&redeem(&world, &code_of(&res), &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    // A second login: Google issues the refresh token again only because of `prompt=consent`,
    // and the stored tokens (replaced by this login's) stay refreshable.
    let (res, rp) = sign_in(&world, &google, &mut Browser::default(), "carol");
    let access2 = json(&redeem(&world, &code_of(&res), &rp.verifier))["access_token"].as_str().unwrap().to_owned();
    world.clock.advance(3600);
    let before = *google.token_requests.borrow();
    for token in [&access, &access2] {
        let req = http::Request::get(format!("{ISSUER}/broker/google/token"))
            .header("authorization", format!("Bearer {token}"))
            .body(vec![])
            .unwrap();
        let res = world.send(req);
        assert_eq!(res.status(), 200, "{}", body(&res));
        let stored = json(&res);
        assert!(stored["refresh_token"].as_str().unwrap().starts_with("1//0g"));
        assert_eq!(stored["expires_in"], 3599);
    }
    assert_eq!(*google.token_requests.borrow(), before + 1, "refreshed once, then read as stored");
}

#[test]
fn a_clients_prompt_login_reaches_google_as_max_age_alone() {
    let (world, google) = google_world("", "");
    let mut browser = Browser::default();
    let rp = request_with(&[("kc_idp_hint", "google"), ("prompt", "login")]);
    let to_broker = browser.get(&world, &format!("/authorize?{}", rp.query));
    let at_google = location(&browser.get(&world, &location(&to_broker)));
    let res = browser.get(&world, &google.approve(&at_google, "carol"));
    let q = google.last_authorize.borrow().clone();
    assert_eq!((q["prompt"].as_str(), q["max_age"].as_str()), ("select_account", "0"));
    assert!(location(&res).starts_with(APP_REDIRECT), "{}: {}", res.status(), body(&res));
}

#[test]
fn google_s_legacy_issuer_spelling_is_accepted_and_nothing_else() {
    let (world, google) = google_world("", "");
    *google.iss.borrow_mut() = "google.test".into();
    let (res, _) = sign_in(&world, &google, &mut Browser::default(), "carol");
    assert_eq!(res.status(), 302, "{}", body(&res));
    assert!(location(&res).starts_with(APP_REDIRECT));
    *google.iss.borrow_mut() = "https://evil.test".into();
    let (res, _) = sign_in(&world, &google, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
}

#[test]
fn a_token_endpoint_error_fails_the_login_with_googles_words_in_the_log() {
    let (world, google) = google_world("", "");
    *google.token_error.borrow_mut() = Some((400, "invalid_grant", "Bad Request"));
    let (res, _) = sign_in(&world, &google, &mut Browser::default(), "carol");
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("refused to complete the sign-in"));
    assert!(world.logged_for(&body(&res)).contains("invalid_grant (Bad Request)"));
    assert_eq!(accounts(&world), 0);
}

/// Found by the outside review of issue 17: Google is authoritative for `@gmail.com` addresses
/// and for Workspace accounts (`hd`) only. Another address of a personal account is not
/// verified, whatever `email_verified` says; a Gmail address and a Workspace one are.
#[test]
fn google_is_not_authoritative_for_a_non_gmail_address_without_hd() {
    let (world, google) = google_world("", "");
    let (res, rp) = sign_in(&world, &google, &mut Browser::default(), "eve");
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!(claims["email"].as_str(), Some("eve@corp.example"));
    assert_ne!(claims["email_verified"].as_bool(), Some(true), "{claims}");
    for (user, email) in [("carol", "carol@gmail.com"), ("ada", "ada@example.com")] {
        let (res, rp) = sign_in(&world, &google, &mut Browser::default(), user);
        let claims = claims_for(&world, &code_of(&res), &rp);
        assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some(email), Some(true)), "{user}");
    }
}
