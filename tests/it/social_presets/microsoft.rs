//! `kind = "microsoft"` against a stand-in for the Microsoft identity platform at
//! `https://login.microsoftonline.test` (`base_url`), speaking its wire format:
//!
//! - `/{tenant}/oauth2/v2.0/authorize`, `/{tenant}/oauth2/v2.0/token`,
//!   `/{tenant}/discovery/v2.0/keys`; errors on the redirect (`access_denied` with an
//!   `AADSTS65004` description) and at the token endpoint (`invalid_client` with
//!   `error_codes`, `trace_id`, `correlation_id`):
//!   https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
//! - The ID token (v2.0: `iss` = `https://login.microsoftonline.com/{tid}/v2.0`, `tid`, `oid`,
//!   `preferred_username`, `name`, optional `email`; personal accounts have tenant
//!   `9188040d-6c67-4c5b-b112-36a304b66dad`):
//!   https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference
//! - A refresh token only with `offline_access`; the refresh grant (the client in the body)
//!   answers a new access token, ID token and refresh token; the old refresh token is not
//!   revoked, but to be discarded; a revoked one is `invalid_grant` (`AADSTS70000`):
//!   https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token

use super::*;
use crate::common::fake_idp::{jwks_for, rsa_key, sign};
use keyedge::core::ports::Clock;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const MS: &str = "https://login.microsoftonline.test";
const CONTOSO: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const FABRIKAM: &str = "0b5b1b8a-2f7c-4c43-9b1b-5d6f0c1a2e3f";
const CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// A Microsoft account: its pairwise `sub`, its tenant, its address.
struct Account {
    sub: &'static str,
    tid: &'static str,
    email: &'static str,
    name: &'static str,
}

fn account(user: &str) -> Account {
    match user {
        "ada" => Account {
            sub: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            tid: CONTOSO,
            email: "ada@contoso.example",
            name: "Ada Lovelace",
        },
        // A personal Microsoft account.
        "pat" => Account {
            sub: "AAAAAAAAAAAAAAAAAAAAAPersonalAccount00000",
            tid: CONSUMERS,
            email: "pat@outlook.example",
            name: "Pat Doe",
        },
        // An account of another tenant whose admin set alice's address on it.
        "alice" => Account {
            sub: "AAAAAAAAAAAAAAAAAAAAAFabrikamAlice0000000",
            tid: FABRIKAM,
            email: "alice@example.com",
            name: "Alice Liddell",
        },
        other => panic!("no account {other}"),
    }
}

struct Microsoft {
    clock: keyedge::core::ports::memory::VirtualClock,
    key: jwt_compact::alg::RsaPrivateKey,
    /// Codes: the user, the nonce, the redirect URI, whether `offline_access` was granted.
    codes: RefCell<HashMap<String, (String, String, String, bool)>>,
    /// The tenant path segment of the last request, per endpoint.
    paths: RefCell<Vec<String>>,
    /// The issuer the next tokens name instead of their own tenant's.
    forged_iss: RefCell<Option<String>>,
    /// Claims added to the next tokens (a tenant's claims-mapping policy can add any claim).
    extra: RefCell<serde_json::Value>,
    refuse_client: RefCell<bool>,
    refreshes: Refreshes,
}

impl Microsoft {
    fn mount(world: &World) -> Rc<Microsoft> {
        let ms = Rc::new(Microsoft {
            clock: world.clock.clone(),
            key: rsa_key(include_str!("../../fixtures/upstream-test-key.pem")),
            codes: RefCell::default(),
            paths: RefCell::default(),
            forged_iss: RefCell::default(),
            extra: RefCell::new(json!({})),
            refuse_client: RefCell::new(false),
            refreshes: Refreshes::default(),
        });
        let handler = ms.clone();
        world.http.mount(MS, move |req| handler.serve(req));
        ms
    }

    fn serve(&self, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let path = req.uri().path().to_owned();
        self.paths.borrow_mut().push(path.clone());
        let rest = path.trim_start_matches('/').split_once('/').map_or("", |(_, r)| r);
        match rest {
            "discovery/v2.0/keys" => answer(200, serde_json::from_str(&jwks_for(&self.key, "ms-1")).unwrap()),
            "oauth2/v2.0/token" => self.token(&req),
            _ => answer(
                404,
                json!({"error": "invalid_request", "error_description": "AADSTS900561: The endpoint only accepts POST requests.", "error_codes": [900561]}),
            ),
        }
    }

    fn token(&self, req: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let f: HashMap<String, String> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        if *self.refuse_client.borrow()
            || f.get("client_id").map(String::as_str) != Some("ms-app")
            || f.get("client_secret").map(String::as_str) != Some(IDP2_SECRET)
        {
            return answer(
                401,
                json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                    "error_codes": [7000215], "timestamp": "2026-12-02 12:00:00Z", "trace_id": "0000", "correlation_id": "1111"}),
            );
        }
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            let Some(user) = self.refreshes.redeem(&f, false) else {
                return answer(
                    400,
                    json!({"error": "invalid_grant", "error_description": "AADSTS70000: The provided value for the 'refresh_token' is not valid.", "error_codes": [70000]}),
                );
            };
            return self.issue(&user, None, true);
        }
        let Some((user, nonce, redirect_uri, offline)) = f.get("code").and_then(|c| self.codes.borrow_mut().remove(c))
        else {
            return answer(
                400,
                json!({"error": "invalid_grant", "error_description": "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.", "error_codes": [70008]}),
            );
        };
        assert_eq!(f.get("redirect_uri"), Some(&redirect_uri));
        self.issue(&user, Some(&nonce), offline)
    }

    /// Tokens for `user` (the ID token with `nonce` if given), a refresh token with `offline`.
    fn issue(&self, user: &str, nonce: Option<&str>, offline: bool) -> http::Response<Vec<u8>> {
        let a = account(user);
        let now = self.clock.now();
        let iss = self.forged_iss.borrow().clone().unwrap_or_else(|| format!("{MS}/{}/v2.0", a.tid));
        let mut claims = json!({"ver": "2.0", "iss": iss, "sub": a.sub, "aud": "ms-app", "exp": now + 3600, "iat": now,
            "nbf": now, "tid": a.tid, "oid": "00000000-0000-0000-66f3-3332eca7ea81",
            "name": a.name, "preferred_username": a.email, "email": a.email, "aio": "Df2UVXL1ix!lMCWMSOJBcFatzcGfvFGhjKv8q5g0x732dR5MB5BisvGQO7YWByjd8iQDLq!eGbIDakyp5mnOrcdqHeYSnltepQmRp6AIZ8jY",
            "uti": "ZYpz3l6QvkCHQH2TD5mAAA", "rh": "0.AAAA"});
        if let (Some(c), Some(extra)) = (claims.as_object_mut(), self.extra.borrow().as_object()) {
            c.extend(extra.clone());
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let n = *self.refreshes.granted.borrow();
        let mut body = json!({"token_type": "Bearer", "scope": "openid profile email", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": format!("eyJ0eXAiOiJKV1Qi.{user}~{n}"), "id_token": sign(&self.key, "ms-1", claims)});
        if offline {
            body["scope"] = json!("openid profile email offline_access");
            body["refresh_token"] = json!(self.refreshes.issue("0.AAAA-", user));
        }
        answer(200, body)
    }

    fn deny(&self, auth_url: &str) -> String {
        redirect_back(
            auth_url,
            &[
                ("error", "access_denied"),
                ("error_description", "AADSTS65004: User declined to consent to access the app."),
            ],
        )
    }
}

impl StandIn for Microsoft {
    fn approve(&self, auth_url: &str, user: &str) -> String {
        assert!(auth_url.starts_with(MS) && auth_url.contains("/oauth2/v2.0/authorize?"), "{auth_url}");
        let q = query(auth_url);
        let offline = q["scope"] == "openid profile email offline_access";
        assert!(q["client_id"] == "ms-app" && (offline || q["scope"] == "openid profile email"), "{q:?}");
        let code = format!("M.C5{}", self.codes.borrow().len());
        let issued = (user.to_owned(), q["nonce"].clone(), q["redirect_uri"].clone(), offline);
        self.codes.borrow_mut().insert(code.clone(), issued);
        redirect_back(auth_url, &[("code", &code)])
    }
}

fn ms_world(options: &str) -> (World, Rc<Microsoft>) {
    ms_world_with(options, "")
}

fn ms_world_with(options: &str, app: &str) -> (World, Rc<Microsoft>) {
    let world = world_with_app(
        &format!(
            "alias = \"ms\"\nkind = \"microsoft\"\nbase_url = \"{MS}\"\nclient_id = \"ms-app\"\nclient_secret_env = \"IDP2_SECRET\"\n{options}\n"
        ),
        app,
    );
    let ms = Microsoft::mount(&world);
    (world, ms)
}

fn sign_in(world: &World, ms: &Microsoft, browser: &mut Browser, user: &str) -> (http::Response<Vec<u8>>, RpRequest) {
    super::sign_in(world, ms, browser, "ms", user)
}

#[test]
fn a_microsoft_login_through_common_takes_the_name_and_never_a_verified_email() {
    let (world, ms) = ms_world("");
    let mut browser = Browser::default();
    let page = body(&browser.get(&world, "/login?return_to=%2Faccount"));
    assert!(page.contains("Sign in with Microsoft"), "{page}");
    let (at_ms, rp) = to_provider(&world, &mut browser, "ms");
    assert!(at_ms.starts_with(&format!("{MS}/common/oauth2/v2.0/authorize?")), "{at_ms}");
    assert_eq!(query(&at_ms)["prompt"], "select_account");
    let res = browser.get(&world, &ms.approve(&at_ms, "ada"));
    let claims = claims_for(&world, &code_of(&res), &rp);
    assert_eq!(claims["preferred_username"], "ada@contoso.example");
    assert_eq!((claims["given_name"].as_str(), claims["family_name"].as_str()), (Some("Ada"), Some("Lovelace")));
    assert_eq!(
        (claims["email"].as_str(), claims["email_verified"].as_bool()),
        (Some("ada@contoso.example"), Some(false))
    );
    assert!(user_of_link(&world, "ms", "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ").is_some());
    // The keys of the tenant path configured; no discovery (`common`'s names no one issuer).
    let paths = ms.paths.borrow();
    assert!(paths.contains(&"/common/discovery/v2.0/keys".to_owned()), "{paths:?}");
    assert!(!paths.iter().any(|p| p.contains("openid-configuration")), "{paths:?}");
}

#[test]
fn consent_denied_at_microsoft_signs_no_one_in() {
    let (world, ms) = ms_world("");
    let mut browser = Browser::default();
    let (at_ms, _) = to_provider(&world, &mut browser, "ms");
    let res = browser.get(&world, &ms.deny(&at_ms));
    assert_eq!(res.status(), 502);
    assert!(body(&res).contains("The sign-in was cancelled or refused at the identity provider."));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn a_microsoft_address_is_never_linked_by_email_even_when_a_claim_says_verified() {
    let (world, ms) = ms_world("");
    login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
    // Another tenant's admin put alice's address on an account, and a claims-mapping policy
    // adds `email_verified: true`: still not evidence (the nOAuth class).
    *ms.extra.borrow_mut() = json!({"email_verified": true, "xms_edov": true});
    let (res, _) = sign_in(&world, &ms, &mut Browser::default(), "alice");
    let page = body(&res);
    assert!(forms(&page).iter().any(|(action, _)| action == "/first-login/review"), "{}: {page}", res.status());
    assert!(page.contains("This email address belongs to another account"), "{page}");
    assert_eq!((accounts(&world), user_of_link(&world, "ms", "AAAAAAAAAAAAAAAAAAAAAFabrikamAlice0000000")), (1, None));
}

#[test]
fn an_id_token_naming_another_tenants_issuer_is_refused() {
    let (world, ms) = ms_world("");
    // Signed by Microsoft's key, from tenant Fabrikam, claiming Contoso's issuer.
    *ms.forged_iss.borrow_mut() = Some(format!("{MS}/{CONTOSO}/v2.0"));
    let (res, _) = sign_in(&world, &ms, &mut Browser::default(), "alice");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains(&format!("is not the issuer of its tid `{FABRIKAM}`")));
    // An issuer that is no tenant's at all.
    *ms.forged_iss.borrow_mut() = Some(format!("{MS}/common/v2.0"));
    let (res, _) = sign_in(&world, &ms, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
    assert_eq!(accounts(&world), 0);
}

#[test]
fn with_a_tenant_id_only_that_tenants_accounts_get_in() {
    let (world, ms) = ms_world(&format!("tenant = \"{}\"", CONTOSO.to_uppercase()));
    let mut browser = Browser::default();
    let (at_ms, rp) = to_provider(&world, &mut browser, "ms");
    assert!(at_ms.starts_with(&format!("{MS}/{CONTOSO}/oauth2/v2.0/authorize?")), "{at_ms}");
    let res = browser.get(&world, &ms.approve(&at_ms, "ada"));
    assert_eq!(claims_for(&world, &code_of(&res), &rp)["name"], "Ada Lovelace");
    for user in ["alice", "pat"] {
        let (res, _) = sign_in(&world, &ms, &mut Browser::default(), user);
        assert_eq!(res.status(), 502, "{user}");
        assert!(body(&res).contains("does not belong to the organisation"), "{}", body(&res));
        assert!(world.logged_for(&body(&res)).contains("is not admitted by tenant"), "{user}");
    }
    assert_eq!(accounts(&world), 1);
}

#[test]
fn consumers_admits_personal_accounts_and_organizations_only_work_accounts() {
    let (world, ms) = ms_world("tenant = \"consumers\"");
    let (res, rp) = sign_in(&world, &ms, &mut Browser::default(), "pat");
    assert_eq!(claims_for(&world, &code_of(&res), &rp)["name"], "Pat Doe");
    let (res, _) = sign_in(&world, &ms, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);

    let (world, ms) = ms_world("tenant = \"organizations\"");
    let (res, rp) = sign_in(&world, &ms, &mut Browser::default(), "ada");
    assert_eq!(claims_for(&world, &code_of(&res), &rp)["name"], "Ada Lovelace");
    let (res, _) = sign_in(&world, &ms, &mut Browser::default(), "pat");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("is not admitted by tenant = `organizations`"));
}

#[test]
fn a_refused_client_fails_the_login_with_microsofts_error_in_the_log() {
    let (world, ms) = ms_world("");
    *ms.refuse_client.borrow_mut() = true;
    let (res, _) = sign_in(&world, &ms, &mut Browser::default(), "ada");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("AADSTS7000215"));
    assert_eq!(accounts(&world), 0);
}

#[test]
fn with_stored_tokens_microsoft_is_asked_for_offline_access_and_they_refresh() {
    let (world, ms) = ms_world_with(STORES_TOKENS, READS_TOKENS);
    let mut browser = Browser::default();
    let (at_ms, rp) = to_provider(&world, &mut browser, "ms");
    assert_eq!(query(&at_ms)["scope"], "openid profile email offline_access");
    let res = browser.get(&world, &ms.approve(&at_ms, "ada"));
    let tokens = json(&redeem(&world, &code_of(&res), &rp.verifier));
    let access = tokens["access_token"].as_str().unwrap();
    let fresh = after_expiry(&world, "ms", access, 3599, &ms.refreshes.granted);
    assert_eq!(
        (fresh["access_token"].as_str(), fresh["expires_in"].as_i64()),
        (Some("eyJ0eXAiOiJKV1Qi.ada~1"), Some(3599))
    );
    // The new refresh token replaces the old one (which Microsoft leaves valid).
    assert_eq!(fresh["refresh_token"], "0.AAAA-ada-1");
    let again = after_expiry(&world, "ms", access, 3599, &ms.refreshes.granted);
    assert_eq!(again["refresh_token"], "0.AAAA-ada-2");
    // Each refresh's ID token (no nonce) is verified and stored.
    assert!(again["id_token"].is_string() && again["id_token"] != fresh["id_token"], "{again}");
    *ms.refreshes.refuse.borrow_mut() = true;
    refused_refresh(&world, "ms", "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", access, 3599, "AADSTS70000");
    // Without store_tokens, no offline access is asked for.
    let (world, _) = ms_world("");
    let (at_ms, _) = to_provider(&world, &mut Browser::default(), "ms");
    assert_eq!(query(&at_ms)["scope"], "openid profile email");
}
