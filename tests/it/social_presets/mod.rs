//! Social login presets (issue 17): `kind = "github"`, `"google"`, `"gitlab"` with a client id
//! and secret are working providers. Each logs a user in through a local stand-in that speaks
//! its provider's wire format (paths, parameter names, answers and errors from the provider's
//! public docs, linked in each stand-in), overriding only the base URL or issuer; the login
//! page, the configuration's refusals and the Keycloak import are checked here.

mod apple;
mod bitbucket;
mod discord;
mod facebook;
mod github;
mod gitlab;
pub(crate) mod google;
mod linkedin;
mod microsoft;
mod stackoverflow;
mod x;

use crate::common::*;
use keyedge::core::config::{Config, ProviderKind, UpstreamClientAuth};
use keyedge::core::upstream::presets::Preset;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

/// The test world with one more `[[identity_providers]]` table (its options in `idp`).
pub fn world_with(idp: &str) -> World {
    World::with("", "", &format!("[[identity_providers]]\n{idp}"))
}

/// The query of a URL, as a map.
pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// The application's authorization request with `kc_idp_hint=alias`, through keyedge to the
/// provider: the URL the browser is sent to there, and the request (to redeem its code).
pub fn to_provider(world: &World, browser: &mut Browser, alias: &str) -> (String, RpRequest) {
    let rp = request_with(&[("kc_idp_hint", alias)]);
    let to_broker = browser.get(world, &format!("/authorize?{}", rp.query));
    assert!(location(&to_broker).starts_with(&format!("/broker/{alias}/login?")), "{}", location(&to_broker));
    let to_provider = browser.get(world, &location(&to_broker));
    assert_eq!(to_provider.status(), 302, "{}", body(&to_provider));
    (location(&to_provider), rp)
}

/// What a user does at a provider's stand-in.
pub trait StandIn {
    /// `user` signs in there and approves keyedge's request at `authorize_url`; the URL the
    /// provider sends the browser back to.
    fn approve(&self, authorize_url: &str, user: &str) -> String;
}

/// A login of `user` at the provider `alias` for the application: keyedge's answer to the
/// provider's redirect back, and the application's request.
pub fn sign_in(
    world: &World,
    provider: &impl StandIn,
    browser: &mut Browser,
    alias: &str,
    user: &str,
) -> (http::Response<Vec<u8>>, RpRequest) {
    let (at_provider, rp) = to_provider(world, browser, alias);
    (browser.get(world, &provider.approve(&at_provider, user)), rp)
}

/// The provider's redirect back to keyedge for the request at `authorize_url`: its
/// `redirect_uri` with `params` and the request's `state`.
pub fn redirect_back(authorize_url: &str, params: &[(&str, &str)]) -> String {
    let q = query(authorize_url);
    let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
    back.query_pairs_mut().extend_pairs(params).append_pair("state", &q["state"]);
    back.to_string()
}

/// A JSON answer, as the providers send them.
pub fn answer(status: u16, body: serde_json::Value) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string().into_bytes())
        .unwrap()
}

/// The claims of the ID token keyedge issues for `code`.
pub fn claims_for(world: &World, code: &str, rp: &RpRequest) -> serde_json::Value {
    id_claims(&json(&redeem(world, code, &rp.verifier)))
}

/// The provider options that store its tokens for applications to read.
pub const STORES_TOKENS: &str = "store_tokens = true\nstored_tokens_readable = true";
/// An application that reads them, its keyedge access token outliving the clock's jumps
/// past the provider's `expires_in` (a week at Discord).
pub const READS_TOKENS: &str = "read_broker_tokens = true\naccess_token_lifetime = 3000000";

/// The test world with one more `[[identity_providers]]` table, and the app's options.
pub fn world_with_app(idp: &str, app: &str) -> World {
    World::with("", app, &format!("[[identity_providers]]\n{idp}"))
}

/// The refresh tokens a stand-in issued, and whether its provider takes them.
#[derive(Default)]
pub struct Refreshes {
    /// Live refresh tokens: the user each is for.
    live: RefCell<HashMap<String, String>>,
    /// The provider refuses every refresh grant (the user revoked the app there).
    pub refuse: RefCell<bool>,
    /// Refresh grants answered.
    pub granted: RefCell<usize>,
}

impl Refreshes {
    /// A new refresh token for `user`: `prefix`, the user, a serial.
    pub fn issue(&self, prefix: &str, user: &str) -> String {
        let token = format!("{prefix}{user}-{}", *self.granted.borrow());
        self.live.borrow_mut().insert(token.clone(), user.to_owned());
        token
    }

    /// The user of a refresh grant (`form`) whose token is live; with `rotate`, the token is
    /// spent (a provider that issues a new refresh token with each refresh). `None` is the
    /// provider's `invalid_grant`.
    pub fn redeem(&self, form: &HashMap<String, String>, rotate: bool) -> Option<String> {
        if *self.refuse.borrow() || form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return None;
        }
        let token = form.get("refresh_token")?;
        let user = if rotate { self.live.borrow_mut().remove(token)? } else { self.live.borrow().get(token)?.clone() };
        *self.granted.borrow_mut() += 1;
        Some(user)
    }
}

/// keyedge's `GET /broker/{alias}/token` for the holder of keyedge's access token `access`.
pub fn broker_token(world: &World, alias: &str, access: &str) -> http::Response<Vec<u8>> {
    let req = http::Request::get(format!("{ISSUER}/broker/{alias}/token"))
        .header("authorization", format!("Bearer {access}"))
        .body(vec![])
        .unwrap();
    world.send(req)
}

/// The stored tokens of `alias` once the provider's access token expired (`expires_in`
/// seconds on): refreshed upstream by keyedge, and stored (read again, they are the same,
/// without another refresh grant).
pub fn after_expiry(world: &World, alias: &str, access: &str, expires_in: i64, granted: &RefCell<usize>) -> Value {
    world.clock.advance(expires_in + 1);
    let before = *granted.borrow();
    let res = broker_token(world, alias, access);
    assert_eq!(res.status(), 200, "{}", body(&res));
    let fresh = json(&res);
    assert_eq!(*granted.borrow(), before + 1, "refreshed upstream: {fresh}");
    assert_eq!(json(&broker_token(world, alias, access)), fresh);
    assert_eq!(*granted.borrow(), before + 1, "then read as stored");
    fresh
}

/// Once expired, a refresh the provider refuses (with its `error`, `invalid_grant` at most):
/// keyedge's 409 `token_refresh_failed`, the provider's error in the log, and what was stored
/// kept.
pub fn refused_refresh(world: &World, alias: &str, sub: &str, access: &str, expires_in: i64, error: &str) {
    let key = keyedge::core::keys::stored_tokens(alias, sub);
    let before = world.kv(&key);
    assert!(before.is_some(), "tokens stored for {alias} {sub}");
    world.clock.advance(expires_in + 1);
    let res = broker_token(world, alias, access);
    assert_eq!(res.status(), 409, "{}", body(&res));
    let e = json(&res);
    assert_eq!(e["error"], "token_refresh_failed");
    let line = world.logged_for(e["error_description"].as_str().unwrap());
    assert!(line.contains(error), "{line}");
    assert_eq!(world.kv(&key), before);
}

/// How many keyedge accounts exist.
pub fn accounts(world: &World) -> usize {
    world.store.keys().iter().filter(|k| k.starts_with("user:")).count()
}

/// Every hidden-from-nobody word of an HTML fragment: its text without tags, and without
/// elements marked `aria-hidden="true"` — what a screen reader announces.
fn accessible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tag_end = rest[start..].find('>').map_or(rest.len(), |e| start + e + 1);
        let tag = &rest[start..tag_end];
        rest = &rest[tag_end..];
        if tag.contains("aria-hidden=\"true\"") {
            let name: String = tag[1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            let close = format!("</{name}>");
            rest = rest.find(&close).map_or("", |e| &rest[e + close.len()..]);
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The login page's button for `alias`: the `<a>` element's markup.
fn button(page: &str, alias: &str) -> String {
    let start = page.find(&format!("href=\"/broker/{alias}/login")).expect("the login page links the provider");
    let open = page[..start].rfind("<a ").unwrap();
    let end = page[start..].find("</a>").unwrap() + start + 4;
    page[open..end].to_owned()
}

const THREE: &str = r#"
[[identity_providers]]
alias = "github"
kind = "github"
client_id = "gh"
client_secret_env = "IDP2_SECRET"
gui_order = 1

[[identity_providers]]
alias = "google"
kind = "google"
client_id = "g"
client_secret_env = "IDP2_SECRET"
gui_order = 2

[[identity_providers]]
alias = "work"
kind = "gitlab"
display_name = "Company GitLab"
base_url = "https://gitlab.example.com"
client_id = "gl"
client_secret_env = "IDP2_SECRET"
gui_order = 3
"#;

#[test]
fn each_preset_has_its_label_and_inline_brand_icon_and_the_buttons_keep_their_order() {
    let world = World::with("", "", THREE);
    let page = body(&Browser::default().get(&world, "/login?return_to=%2Faccount"));
    for (alias, label, colour) in [
        ("github", "Sign in with GitHub", "#1f2328"),
        ("google", "Sign in with Google", "#4285f4"),
        // The operator's label replaces the preset's.
        ("work", "Sign in with Company GitLab", "#fc6d26"),
    ] {
        let b = button(&page, alias);
        // The icon is the preset's own SVG, inline: no request, no image to describe.
        assert!(b.contains("<svg") && b.contains(colour), "{b}");
        assert!(b.contains("aria-hidden=\"true\"") && b.contains("focusable=\"false\""), "{b}");
        // A screen reader announces the label and nothing else.
        assert_eq!(accessible_text(&b), label, "{b}");
    }
    // gui_order: `up` (0), then github, google, work.
    let at = |alias: &str| page.find(&format!("/broker/{alias}/login")).unwrap();
    assert!(at("up") < at("github") && at("github") < at("google") && at("google") < at("work"));
    // Nothing on the page comes from another origin.
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"), "{page}");
}

#[test]
fn the_operators_icon_replaces_the_presets() {
    let world = World::with(
        "",
        "",
        "[[identity_providers]]\nalias = \"gh\"\nkind = \"github\"\nclient_id = \"gh\"\nclient_secret_env = \"IDP2_SECRET\"\nicon = \"/static/gh.png\"\n",
    );
    let b = button(&body(&Browser::default().get(&world, "/login?return_to=%2Faccount")), "gh");
    assert!(b.contains("<img src=\"/static/gh.png\" alt=\"\"") && !b.contains("<svg"), "{b}");
    assert_eq!(accessible_text(&b), "Sign in with GitHub");
}

#[test]
fn brand_icons_are_self_contained_and_hidden_from_screen_readers() {
    for preset in Preset::ALL {
        let svg = keyedge::core::pages::brand_icon(preset);
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(svg.contains("aria-hidden=\"true\"") && svg.contains("focusable=\"false\""), "{svg}");
        // No reference to anything outside the markup (CSP: no request, no script, no style).
        let outside = ["href", "url(", "<script", "<style", "style=", "<image", "<title"];
        assert!(outside.iter().all(|w| !svg.contains(w)), "{svg}");
        assert_eq!(svg.matches("http").count(), 1, "only the SVG namespace: {svg}");
    }
}

fn load(idp: &str) -> Result<Config, String> {
    let text = ConfigBuilder::new().extra(&format!("[[identity_providers]]\nalias = \"p\"\n{idp}")).build();
    Config::load(&text, &secrets).map_err(|e| e.to_string())
}

#[test]
fn a_preset_needs_only_an_id_and_a_secret_and_gets_the_providers_endpoints() {
    let config = load("kind = \"github\"\nclient_id = \"gh\"\nclient_secret_env = \"IDP2_SECRET\"").unwrap();
    let p = config.provider("p").unwrap();
    assert_eq!((p.display_name.as_str(), p.preset), ("GitHub", Some(Preset::GitHub)));
    let ProviderKind::OAuth2(gh) = &p.kind else { panic!("GitHub is plain OAuth 2.0") };
    assert_eq!(gh.authorization_url.as_str(), "https://github.com/login/oauth/authorize");
    assert_eq!(gh.token_url.as_str(), "https://github.com/login/oauth/access_token");
    assert_eq!(gh.userinfo_url.as_str(), "https://api.github.com/user");
    assert_eq!(gh.email_list_url.as_ref().unwrap().as_str(), "https://api.github.com/user/emails?per_page=100");
    assert_eq!(gh.default_scopes, "read:user user:email");
    assert!(matches!(&gh.client_auth, UpstreamClientAuth::SecretPost(s) if s.expose() == IDP2_SECRET));

    let config = load("kind = \"google\"\nclient_id = \"g\"\nclient_secret_env = \"IDP2_SECRET\"").unwrap();
    let ProviderKind::Oidc(g) = &config.provider("p").unwrap().kind else { panic!("Google is OpenID Connect") };
    assert_eq!((g.issuer.as_str(), g.default_scopes.as_str()), ("https://accounts.google.com", "openid email profile"));
    assert_eq!(g.issuer_aliases, ["accounts.google.com"]);

    let config = load("kind = \"gitlab\"\nclient_id = \"g\"\nclient_secret_env = \"IDP2_SECRET\"").unwrap();
    let ProviderKind::Oidc(g) = &config.provider("p").unwrap().kind else { panic!("GitLab is OpenID Connect") };
    assert_eq!(g.issuer, "https://gitlab.com");
    let config = load("kind = \"gitlab\"\nbase_url = \"https://git.example.com/\"\nclient_id = \"g\"\nclient_secret_env = \"IDP2_SECRET\"").unwrap();
    let ProviderKind::Oidc(g) = &config.provider("p").unwrap().kind else { panic!() };
    assert_eq!(g.issuer, "https://git.example.com");

    let config = load("kind = \"microsoft\"\nclient_id = \"m\"\nclient_secret_env = \"IDP2_SECRET\"").unwrap();
    let ProviderKind::Oidc(m) = &config.provider("p").unwrap().kind else { panic!("Microsoft is OpenID Connect") };
    let url = |u: &Option<url::Url>| u.as_ref().unwrap().to_string();
    assert_eq!(url(&m.authorization_url), "https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
    assert_eq!(url(&m.token_url), "https://login.microsoftonline.com/common/oauth2/v2.0/token");
    assert_eq!(url(&m.jwks_url), "https://login.microsoftonline.com/common/discovery/v2.0/keys");
    assert!(m.email_evidence == keyedge::core::upstream::oidc::config::EmailEvidence::Never && m.disable_userinfo);

    let config =
        load("kind = \"linkedin\"\nclient_id = \"l\"\nclient_secret_env = \"IDP2_SECRET\"\npkce_enabled = true")
            .unwrap();
    let p = config.provider("p").unwrap();
    let ProviderKind::Oidc(l) = &p.kind else { panic!("LinkedIn is OpenID Connect") };
    assert_eq!(
        (l.issuer.as_str(), l.default_scopes.as_str()),
        ("https://www.linkedin.com/oauth", "openid profile email")
    );
    assert!(l.nonce_unsupported && !p.pkce_enabled);

    let config = load("kind = \"discord\"\nclient_id = \"d\"\nclient_secret_env = \"IDP2_SECRET\"").unwrap();
    let ProviderKind::OAuth2(d) = &config.provider("p").unwrap().kind else { panic!("Discord is plain OAuth 2.0") };
    assert_eq!(d.authorization_url.as_str(), "https://discord.com/oauth2/authorize");
    assert_eq!(d.token_url.as_str(), "https://discord.com/api/oauth2/token");
    assert_eq!(d.userinfo_url.as_str(), "https://discord.com/api/users/@me");
    assert_eq!((d.default_scopes.as_str(), d.email_verified_claim.as_deref()), ("identify email", Some("verified")));

    let config = load("kind = \"bitbucket\"\nclient_id = \"b\"\nclient_secret_env = \"IDP2_SECRET\"").unwrap();
    let ProviderKind::OAuth2(b) = &config.provider("p").unwrap().kind else { panic!("Bitbucket is plain OAuth 2.0") };
    assert_eq!(b.authorization_url.as_str(), "https://bitbucket.org/site/oauth2/authorize");
    assert_eq!(b.token_url.as_str(), "https://bitbucket.org/site/oauth2/access_token");
    assert_eq!(b.userinfo_url.as_str(), "https://api.bitbucket.org/2.0/user");
    assert_eq!(b.email_list_url.as_ref().unwrap().as_str(), "https://api.bitbucket.org/2.0/user/emails?pagelen=100");
    assert!(matches!(&b.client_auth, UpstreamClientAuth::SecretBasic(s) if s.expose() == IDP2_SECRET));
}

#[test]
fn what_a_preset_does_not_take_is_refused_naming_the_field() {
    let base = "client_id = \"x\"\nclient_secret_env = \"IDP2_SECRET\"";
    for (kind, option, field, says) in [
        ("github", "token_url = \"https://gh.example/t\"", "token_url", "kind = \"github\" sets this itself"),
        ("github", "user_id_claim = \"login\"", "user_id_claim", "kind = \"github\" sets this itself"),
        ("github", "client_auth_method = \"client_secret_basic\"", "client_auth_method", "sets this itself"),
        ("github", "hd = \"example.com\"", "hd", "unknown field `hd`"),
        ("github", "issuer = \"https://gh.example\"", "issuer", "applies to kind = \"oidc\" only"),
        ("google", "prompt = \"login\"", "prompt", "kind = \"google\" sets this itself"),
        ("google", "base_url = \"https://g.example\"", "base_url", "unknown field `base_url`"),
        ("google", "hd = \"example\"", "hd", "a domain such as `example.com`"),
        ("google", "default_scopes = \"email\"", "default_scopes", "`openid`"),
        ("gitlab", "jwks_url = \"https://gl.example/k\"", "jwks_url", "kind = \"gitlab\" sets this itself"),
        ("gitlab", "base_url = \"http://gitlab.example.com\"", "base_url", "must use https"),
        ("github", "default_scopes = \"read:user\"", "default_scopes", "needs `user:email`"),
        ("github", "trust_email = true", "trust_email", "counts only the addresses GitHub says it verified"),
        ("microsoft", "tenant = \"contoso.onmicrosoft.com\"", "tenant", "the Directory (tenant) ID, a GUID"),
        (
            "microsoft",
            "issuer = \"https://login.microsoftonline.com/common/v2.0\"",
            "issuer",
            "kind = \"microsoft\" sets this itself",
        ),
        ("microsoft", "hd = \"example.com\"", "hd", "unknown field `hd`"),
        ("microsoft", "base_url = \"http://login.microsoftonline.us\"", "base_url", "must use https"),
        ("linkedin", "prompt = \"login\"", "prompt", "kind = \"linkedin\" sets this itself"),
        ("linkedin", "issuer = \"https://www.linkedin.com/oauth/\"", "issuer", "no query, fragment or trailing slash"),
        ("linkedin", "tenant = \"common\"", "tenant", "unknown field `tenant`"),
        ("discord", "userinfo_url = \"https://d.example/u\"", "userinfo_url", "kind = \"discord\" sets this itself"),
        ("discord", "default_scopes = \"email\"", "default_scopes", "needs `identify`"),
        ("discord", "trust_email = true", "trust_email", "counts only the addresses Discord says it verified"),
        ("bitbucket", "email_list_url = \"https://b.example/e\"", "email_list_url", "unknown field"),
        ("bitbucket", "name_claim = \"nickname\"", "name_claim", "kind = \"bitbucket\" sets this itself"),
        ("bitbucket", "default_scopes = \"account\"", "default_scopes", "needs `email`"),
        ("bitbucket", "trust_email = true", "trust_email", "counts only the addresses Bitbucket says it verified"),
        ("microsoft", "trust_email = true", "trust_email", "counts no Microsoft address as verified"),
        ("google", "trust_email = true", "trust_email", "counts only the addresses Google says it verified"),
        ("facebook", "graph_api_version = \"19.0\"", "graph_api_version", "a Graph API version such as `v19.0`"),
        ("facebook", "graph_api_version = \"v19\"", "graph_api_version", "a Graph API version"),
        ("facebook", "default_scopes = \"email\"", "default_scopes", "needs `public_profile`"),
        ("facebook", "userinfo_url = \"https://f.example/me\"", "userinfo_url", "kind = \"facebook\" sets this itself"),
        ("x", "pkce_enabled = false", "pkce_enabled", "X requires PKCE"),
        ("x", "default_scopes = \"tweet.read\"", "default_scopes", "needs `users.read` and `tweet.read`"),
        ("x", "trust_email = true", "trust_email", "gets no email address from X"),
        ("twitter", "trust_email = true", "trust_email", "kind = \"x\" gets no email address from X"),
        (
            "stackoverflow",
            "key = \"k\"\ntrust_email = true",
            "trust_email",
            "gets no email address from Stack Overflow",
        ),
        ("stackoverflow", "key = \"k\"\nsite = \"Stack Overflow\"", "site", "a site's API name"),
        ("stackoverflow", "key = \"a b\"", "key", "without spaces"),
        ("stackoverflow", "site = \"superuser\"", "key", "is required"),
    ] {
        let e = load(&format!("kind = \"{kind}\"\n{base}\n{option}")).unwrap_err();
        let path = format!("identity_providers[1].{field}: ");
        assert!(e.contains(&path) && e.contains(says), "{kind} {option}: {e}");
    }
    let e = load("kind = \"github\"\nclient_id = \"x\"").unwrap_err();
    assert!(e.contains("identity_providers[1].client_secret_env: is required"), "{e}");
    let e = load("kind = \"google\"\nclient_secret_env = \"IDP2_SECRET\"").unwrap_err();
    assert!(e.contains("identity_providers[1].client_id: is required"), "{e}");
}

#[test]
fn facebook_x_and_stack_overflow_get_their_providers_endpoints() {
    let config =
        load("kind = \"facebook\"\nclient_id = \"f\"\nclient_secret_env = \"IDP2_SECRET\"\ntrust_email = true")
            .unwrap();
    let p = config.provider("p").unwrap();
    assert_eq!((p.display_name.as_str(), p.preset, p.trust_email), ("Facebook", Some(Preset::Facebook), true));
    let ProviderKind::OAuth2(f) = &p.kind else { panic!("Facebook is plain OAuth 2.0") };
    assert_eq!(f.authorization_url.as_str(), "https://www.facebook.com/v19.0/dialog/oauth");
    assert_eq!(f.token_url.as_str(), "https://graph.facebook.com/v19.0/oauth/access_token");
    assert_eq!(
        f.userinfo_url.as_str(),
        "https://graph.facebook.com/v19.0/me?fields=id,name,email,first_name,last_name,picture"
    );
    assert_eq!(f.default_scopes, "email public_profile");

    for kind in ["x", "twitter"] {
        let config =
            load(&format!("kind = \"{kind}\"\nclient_id = \"x\"\nclient_secret_env = \"IDP2_SECRET\"")).unwrap();
        let p = config.provider("p").unwrap();
        assert_eq!((p.display_name.as_str(), p.preset, p.pkce_enabled), ("X", Some(Preset::X), true));
        let ProviderKind::OAuth2(x) = &p.kind else { panic!("X is plain OAuth 2.0") };
        assert_eq!(x.authorization_url.as_str(), "https://x.com/i/oauth2/authorize");
        assert_eq!(x.token_url.as_str(), "https://api.x.com/2/oauth2/token");
        assert_eq!(x.userinfo_url.as_str(), "https://api.x.com/2/users/me?user.fields=profile_image_url,name,username");
        assert_eq!(x.default_scopes, "users.read tweet.read");
        assert!(matches!(&x.client_auth, UpstreamClientAuth::SecretBasic(s) if s.expose() == IDP2_SECRET));
    }

    let config =
        load("kind = \"stackoverflow\"\nkey = \"k((\"\nclient_id = \"1\"\nclient_secret_env = \"IDP2_SECRET\"")
            .unwrap();
    let p = config.provider("p").unwrap();
    assert_eq!((p.display_name.as_str(), p.preset), ("Stack Overflow", Some(Preset::StackOverflow)));
    let ProviderKind::OAuth2(so) = &p.kind else { panic!("Stack Overflow is plain OAuth 2.0") };
    assert_eq!(so.authorization_url.as_str(), "https://stackoverflow.com/oauth");
    assert_eq!(so.token_url.as_str(), "https://stackoverflow.com/oauth/access_token/json");
    assert_eq!(so.userinfo_url.as_str(), "https://api.stackexchange.com/2.3/me?site=stackoverflow&key=k%28%28");
    assert_eq!(so.default_scopes, "");
}

#[test]
fn keycloaks_facebook_twitter_and_stackoverflow_providers_become_presets() {
    let export = r#"{ "realm": "social", "identityProviders": [
      { "alias": "facebook", "providerId": "facebook", "enabled": true, "trustEmail": true,
        "config": { "clientId": "fb", "clientSecret": "**********", "fetchedFields": "birthday", "defaultScope": "email public_profile" } },
      { "alias": "twitter", "providerId": "twitter", "enabled": true, "trustEmail": true,
        "config": { "clientId": "consumer-key", "clientSecret": "**********" } },
      { "alias": "so", "providerId": "stackoverflow", "enabled": true,
        "config": { "clientId": "31337", "clientSecret": "**********", "key": "U4DMV*8nvpm3EOpvf69Rxw((" } } ] }"#;
    let c = keyedge::tools::keycloak::convert(export).unwrap();
    let text = format!("issuer = \"https://login.example\"\n{}", c.toml);
    let secrets = |name: &str| secrets(name).or_else(|| Some(format!("secret-of-{name}")));
    let config = Config::load(&text, &secrets).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let fb = config.provider("facebook").unwrap();
    assert_eq!((fb.preset, fb.trust_email), (Some(Preset::Facebook), true), "Facebook's trust email carried over");
    let x = config.provider("twitter").unwrap();
    assert_eq!((x.preset, x.trust_email), (Some(Preset::X), false));
    let so = config.provider("so").unwrap();
    assert_eq!(so.preset, Some(Preset::StackOverflow));
    let ProviderKind::OAuth2(s) = &so.kind else { panic!("oauth2") };
    assert!(s.userinfo_url.as_str().ends_with("&key=U4DMV*8nvpm3EOpvf69Rxw%28%28"), "{}", s.userinfo_url);
    let report = c.report.join("\n");
    for expected in [
        "`facebook`: fetched fields `birthday` are not carried over",
        "`twitter`: trust email is left off: kind = \"x\" gets no email address from X",
        "`twitter`: Keycloak signs in to Twitter with OAuth 1.0a; kind = \"x\" uses OAuth 2.0",
    ] {
        assert!(report.contains(expected), "missing `{expected}` in:\n{report}");
    }
    assert!(!report.contains("`so`"), "{report}");
    // Without its key, the report says to set one.
    let c = keyedge::tools::keycloak::convert(&export.replace(r#", "key": "U4DMV*8nvpm3EOpvf69Rxw((""#, "")).unwrap();
    assert!(c.report.join("\n").contains("`so`: no `key`: set key to the app's Key from Stack Apps"), "{:?}", c.report);
}

/// A realm export with Keycloak's social providers (provider ids and config keys of Keycloak's
/// GoogleIdentityProviderFactory, GitHubIdentityProviderFactory and GitLabIdentityProviderFactory).
const SOCIAL_EXPORT: &str = r#"{
  "realm": "social",
  "identityProviders": [
    { "alias": "google", "providerId": "google", "enabled": true, "storeToken": true,
      "config": { "clientId": "g.apps.googleusercontent.com", "clientSecret": "**********",
        "hostedDomain": "example.com,example.org", "offlineAccess": "true", "defaultScope": "email profile",
        "useJwksUrl": "true", "syncMode": "IMPORT" } },
    { "alias": "ghe", "displayName": "Company GitHub", "providerId": "github", "enabled": true, "trustEmail": true,
      "config": { "clientId": "Iv1.abc", "clientSecret": "**********", "baseUrl": "https://github.example.com",
        "apiUrl": "https://github.example.com/api/v3", "defaultScope": "read:user", "clientAuthMethod": "client_secret_post" } },
    { "alias": "gitlab", "providerId": "gitlab", "enabled": true,
      "config": { "clientId": "gl", "clientSecret": "**********", "guiOrder": "3",
        "authorizationUrl": "https://gitlab.com/oauth/authorize" } }
  ]
}"#;

#[test]
fn keycloak_social_providers_become_presets() {
    let c = keyedge::tools::keycloak::convert(SOCIAL_EXPORT).unwrap();
    let text = format!("issuer = \"https://login.example\"\n{}", c.toml);
    let secrets = |name: &str| secrets(name).or_else(|| Some(format!("secret-of-{name}")));
    let config = Config::load(&text, &secrets).unwrap_or_else(|e| panic!("{e}\n{text}"));

    let google = config.provider("google").unwrap();
    assert_eq!(google.preset, Some(Preset::Google));
    let ProviderKind::Oidc(g) = &google.kind else { panic!("oidc") };
    assert_eq!(g.hosted_domain.as_deref(), Some("example.com"));
    assert_eq!(g.default_scopes, "openid email profile");
    assert!(google.store_tokens && g.authorization_params.contains(&("access_type", "offline".to_owned())));

    let ghe = config.provider("ghe").unwrap();
    assert_eq!(
        (ghe.preset, ghe.display_name.as_str(), ghe.trust_email),
        (Some(Preset::GitHub), "Company GitHub", false)
    );
    let ProviderKind::OAuth2(gh) = &ghe.kind else { panic!("oauth2") };
    assert_eq!(gh.userinfo_url.as_str(), "https://github.example.com/api/v3/user");
    assert_eq!(gh.default_scopes, "read:user user:email");

    let gitlab = config.provider("gitlab").unwrap();
    assert_eq!((gitlab.preset, gitlab.gui_order), (Some(Preset::GitLab), 3));

    let report = c.report.join("\n");
    for expected in [
        "`google`: hosted domains `example.com,example.org`",
        "`ghe`: trust email is left off",
        "`gitlab`: `authorizationUrl` is not carried over: kind = \"gitlab\" sets it",
    ] {
        assert!(report.contains(expected), "missing `{expected}` in:\n{report}");
    }
    assert!(!report.contains("offlineAccess") && !report.contains("apiUrl"), "{report}");
    assert_eq!(c.secrets, ["IDP_GOOGLE_SECRET", "IDP_GHE_SECRET", "IDP_GITLAB_SECRET"]);
}

#[test]
fn keycloaks_microsoft_linkedin_discord_and_bitbucket_providers_become_presets() {
    let export = r#"{ "realm": "social", "identityProviders": [
      { "alias": "microsoft", "providerId": "microsoft", "enabled": true, "trustEmail": true,
        "config": { "clientId": "ms", "clientSecret": "**********", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47" } },
      { "alias": "linkedin", "providerId": "linkedin-openid-connect", "enabled": true, "config": { "clientId": "li", "clientSecret": "**********" } },
      { "alias": "discord", "providerId": "discord", "enabled": true, "config": { "clientId": "dc", "clientSecret": "**********" } },
      { "alias": "bitbucket", "providerId": "bitbucket", "enabled": true, "config": { "clientId": "bb", "clientSecret": "**********" } },
      { "alias": "msa", "providerId": "microsoft", "enabled": true, "config": { "clientId": "ms2", "clientSecret": "**********" } } ] }"#;
    let c = keyedge::tools::keycloak::convert(export).unwrap();
    let text = format!("issuer = \"https://login.example\"\n{}", c.toml);
    let secrets = |name: &str| secrets(name).or_else(|| Some(format!("secret-of-{name}")));
    let config = Config::load(&text, &secrets).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let ms = config.provider("microsoft").unwrap();
    assert_eq!((ms.preset, ms.trust_email), (Some(Preset::Microsoft), false));
    let ProviderKind::Oidc(m) = &ms.kind else { panic!("oidc") };
    assert!(m.token_url.as_ref().unwrap().as_str().contains("/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"));
    let ProviderKind::Oidc(m) = &config.provider("msa").unwrap().kind else { panic!("oidc") };
    assert!(m.token_url.as_ref().unwrap().as_str().contains("/common/oauth2/v2.0/token"));
    assert!(
        c.report.join("\n").contains(
            "`microsoft`: trust email is left off: kind = \"microsoft\" counts no Microsoft address as verified"
        ),
        "{:?}",
        c.report
    );
    assert_eq!(config.provider("linkedin").unwrap().preset, Some(Preset::LinkedIn));
    assert_eq!(config.provider("discord").unwrap().preset, Some(Preset::Discord));
    assert_eq!(config.provider("bitbucket").unwrap().preset, Some(Preset::Bitbucket));
}

/// A first login that landed on the review form (the provider gave no verified address): the
/// form, then, sent with these fields; keyedge's answer.
pub fn review(
    world: &World,
    browser: &mut Browser,
    page: &http::Response<Vec<u8>>,
    fields: [&str; 4],
) -> http::Response<Vec<u8>> {
    assert!(forms(&body(page)).iter().any(|(action, _)| action == "/first-login/review"), "{}", body(page));
    let [username, email, given_name, family_name] = fields;
    let form = [("username", username), ("email", email), ("given_name", given_name), ("family_name", family_name)];
    browser.submit(world, "/first-login/review", &form)
}
