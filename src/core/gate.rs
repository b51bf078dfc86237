//! The static-site gate: keyedge in front of a site. Every path that is not keyedge's own goes
//! through the `[gate]` rules: public paths are served to anyone; the rest needs a keyedge
//! session (else the login page, then back to the very page asked for) and, per rule, a role
//! or an email domain (else a readable "no access" page). The site comes from the Worker's
//! static assets or from an origin, which can be given signed identity headers.

use http::header::{LOCATION, SET_COOKIE};
use http::{HeaderName, HeaderValue, StatusCode};
use serde::Serialize;

use super::app::Keyedge;
use super::broker::session::{self, Pass};
use super::broker::users::{self, User};
use super::config::{Gate, GateRule, OriginAddresses, SiteUpstream};
use super::error::{Failure, Outcome, PageError};
use super::jose::Alg;
use super::ports::{PortError, Ports};
use super::site_path::SitePath;
use super::web::{self, Request, Response};

/// Paths that are keyedge's own and never the site's.
pub fn is_keyedge_path(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "/authorize",
        "/token",
        "/userinfo",
        "/jwks",
        "/introspect",
        "/revoke",
        "/login",
        "/login/discover",
        "/logout",
        "/logout/done",
        "/account",
        "/dev/inbox",
        "/dev/conformance",
        "/dev/faults",
        crate::core::mount::BACKCHANNEL_LOGOUT,
    ];
    const PREFIXES: &[&str] =
        &["/.well-known/", "/broker/", "/admin/", "/first-login/", "/account/", "/static/keyedge."];
    EXACT.contains(&path) || PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Headers an origin behind the gate can rely on; anything the browser sent under these names
/// is removed first.
const IDENTITY_HEADERS: &[&str] =
    &["x-keyedge-user", "x-keyedge-username", "x-keyedge-email", "x-keyedge-roles", "x-keyedge-assertion"];

/// Headers by which some origins take the path (or method) from the request instead of its
/// request line (IIS URL Rewrite, Symfony and Zend trust `X-Original-URL`/`X-Rewrite-URL`;
/// proxies add others). keyedge checked the request line, so these never reach the site.
const PATH_OVERRIDE_HEADERS: &[&str] = &[
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-original-path",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-forwarded-prefix",
    "x-envoy-original-path",
    "x-override-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    // Flask's much-copied `ReverseProxied` cuts this prefix off the path it routes.
    "x-script-name",
];

/// The methods a site is sent. Others (WebDAV's `MOVE`, `COPY`, `PROPPATCH`…, `TRACE`) are
/// refused: `MOVE` and `COPY` name a second path in `Destination` that no rule checked, and
/// `TRACE` echoes the request, cookies and all.
const SITE_METHODS: &[http::Method] = &[
    http::Method::GET,
    http::Method::HEAD,
    http::Method::POST,
    http::Method::PUT,
    http::Method::PATCH,
    http::Method::DELETE,
    http::Method::OPTIONS,
];

/// [`SITE_METHODS`] as `Allow` lists them.
const SITE_ALLOW: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Headers by which origins (Express with `trust proxy`, Django, Rails, Spring…) take the
/// host, scheme or port they write into absolute addresses, redirects among them. A browser's
/// never reach the site: the gate's redirects go to the browser, and a cache in front of the
/// origin would keep one pointing at the browser's choice of host for everyone. An origin is
/// sent keyedge's own instead (`X-Forwarded-Host`, `X-Forwarded-Proto`).
const FORWARDING_HEADERS: &[&str] = &[
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-scheme",
    "x-forwarded-ssl",
    "x-host",
    "x-url-scheme",
    "forwarded",
    "front-end-https",
];

/// Lifetime of the identity assertion handed to the origin.
const ASSERTION_LIFETIME: u64 = 60;

/// The identity assertion: on a protected page it names the user; on a public page it has no
/// user claims and only proves that keyedge sent the request (so an origin can refuse
/// everything that did not come through the gate).
#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    aud: &'a str,
    /// The request it was made for: an assertion cannot be replayed on another page.
    htu: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    user: Option<AssertedUser<'a>>,
}

#[derive(Serialize)]
struct AssertedUser<'a> {
    sub: &'a str,
    email: Option<&'a str>,
    email_verified: bool,
    preferred_username: &'a str,
    roles: &'a [String],
}

/// Why a signed-in user may not enter, if they may not.
fn refusal(rule: &GateRule, user: &User) -> Option<String> {
    if !rule.require_roles.is_empty() && !rule.require_roles.iter().any(|r| user.has_role(r)) {
        return Some(format!("This page needs the role {}.", rule.require_roles.join(" or ")));
    }
    if !rule.require_email_domains.is_empty() {
        let domain =
            user.profile.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_ascii_lowercase());
        let ok = user.profile.email_verified && domain.is_some_and(|d| rule.require_email_domains.contains(&d));
        if !ok {
            return Some(format!(
                "This page is for people with a verified email address at {}.",
                rule.require_email_domains.join(", ")
            ));
        }
    }
    None
}

/// How far the gate gets with a request before any storage read or signature ([`decide`]).
pub enum Decision<'r> {
    /// The answer: the site's page, the way to the login page, keyedge's own spelling of one
    /// of its paths, or why the request is refused.
    Done(Result<Reply, Failure>),
    /// The rest waits on storage or a signature; [`handle`] carries it on.
    Wait(Waiting<'r>),
}

/// What the gate waits on, with what it has checked so far. Each step holds what the step
/// before proved: a [`Waiting::User`] only exists for a live session or a fresh pass.
pub enum Waiting<'r> {
    /// The site's page once the identity assertion (without a user) is signed for it.
    Assertion(Box<Forward>),
    /// A session cookie without a fresh gate pass: the session decides.
    Session { cookie: &'r str, page: Protected<'r> },
    /// A signed-in visitor on a page whose rule (or the origin's identity headers) needs the
    /// user's record.
    User(ForUser<'r>),
}

/// A page behind a sign-in: its canonical address (with the query as it came) and its rule.
pub struct Protected<'r> {
    here: String,
    rule: Option<&'r GateRule>,
    /// For a `DELETE`, the rules in the tree it deletes.
    below: Vec<&'r GateRule>,
}

impl Protected<'_> {
    /// Every rule the visitor must pass.
    fn rules(&self) -> impl Iterator<Item = &GateRule> {
        self.rule.into_iter().chain(self.below.iter().copied())
    }
}

/// A signed-in visitor (a live session or a fresh pass proved it) whose user's record is to be read.
pub struct ForUser<'r> {
    user_id: String,
    page: Protected<'r>,
}

/// A signed-in visitor's way on: the page, or the user's record first.
enum Entered<'r> {
    Page(Result<Reply, Failure>),
    User(ForUser<'r>),
}

/// The gate's decision on `req` at `now` as far as it goes without I/O. Rules are matched
/// against the canonical form of the path, and that form is what the site is sent
/// ([`SitePath`]); a path without one is refused. The Worker answers a [`Decision::Done`] at
/// once (`Keyedge::answer_at_once`); [`handle`] goes on from a [`Decision::Wait`].
pub fn decide<'r>(app: &Keyedge, gate: &'r Gate, req: &'r Request, now: i64) -> Decision<'r> {
    if !SITE_METHODS.contains(req.method()) {
        let message = format!("This site does not take {} requests.", req.method());
        let page = PageError::method_not_allowed(app.ui(req), "Method not allowed", message, SITE_ALLOW);
        return Decision::Done(Ok(Reply::Page(page)));
    }
    let path = match SitePath::parse(req.uri().path()) {
        Ok(path) => path,
        Err(e) => {
            let refused =
                PageError::bad_request("Bad address", format!("This is not a valid address: {e}.")).with_retry("/");
            return Decision::Done(Err(refused.into()));
        }
    };
    let here = match req.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    if !app.is_site_path(app.config.mount.internal(path.as_str())) {
        // keyedge's own pages have one spelling; another one is theirs too, never the site's.
        // Under an issuer with a path, that is every path under it, and nothing outside it.
        let mut res = web::redirect(&here);
        *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
        return Decision::Done(Ok(Reply::Page(res)));
    }
    let key = path.match_key(gate.case_insensitive_paths);
    let rule = gate.rules.iter().find(|r| r.matches(&key));
    // A `DELETE` of a folder deletes everything in it (WebDAV): every rule in it counts too,
    // and it is public only where one public prefix rule covers the whole of it.
    let deletes = *req.method() == http::Method::DELETE;
    let below: Vec<&GateRule> =
        if deletes { gate.rules.iter().filter(|r| r.lies_under(&key)).collect() } else { Vec::new() };
    let public =
        rule.is_some_and(|r| r.public && (!deletes || (r.covers_tree(&key) && below.iter().all(|b| b.public))));
    if public {
        return match forward(app, gate, req, &here, false) {
            Ok(page) if asserts_identity(gate) => Decision::Wait(Waiting::Assertion(Box::new(page))),
            page => Decision::Done(page.map(|page| Reply::Forward(Box::new(page)))),
        };
    }
    let jar = app.cookies();
    let Some(cookie) = jar.get(req, session::COOKIE) else {
        return Decision::Done(Ok(to_login(app, &here)));
    };
    let page = Protected { here, rule, below };
    // A pass checked within the interval stands for the session; else the session is checked
    // (and a new pass goes with the page).
    let pass = jar
        .get(req, session::PASS_COOKIE)
        .and_then(|sealed| Pass::open_fresh(&app.sealer, cookie, sealed, now, gate.session_check_interval));
    match pass {
        Some(pass) => match signed_in(app, gate, req, page, pass.uid) {
            Entered::Page(reply) => Decision::Done(reply),
            Entered::User(for_user) => Decision::Wait(Waiting::User(for_user)),
        },
        None => Decision::Wait(Waiting::Session { cookie, page }),
    }
}

/// Serves `req` to whoever may see it: [`decide`], then what it waits on.
pub async fn handle(app: &Keyedge, ports: &Ports<'_>, gate: &Gate, req: &Request) -> Result<Reply, Failure> {
    let now = ports.clock.now();
    let (for_user, renewed) = match decide(app, gate, req, now) {
        Decision::Done(reply) => return reply,
        Decision::Wait(Waiting::Assertion(page)) => return asserted(app, ports, gate, *page, None).await,
        Decision::Wait(Waiting::User(for_user)) => (for_user, None),
        Decision::Wait(Waiting::Session { cookie, page }) => {
            let Some(session) = session::by_cookie(ports, cookie).await? else {
                return Ok(to_login(app, &page.here));
            };
            let interval = gate.session_check_interval;
            let renewed = (interval > 0).then(|| {
                let sealed = Pass::of(&session, now).seal(&app.sealer, ports.rng, cookie);
                app.cookies().set(session::PASS_COOKIE, &sealed, (session.expires_at - now).max(0) as u64)
            });
            match signed_in(app, gate, req, page, session.user_id) {
                Entered::Page(reply) => return reply.map(|reply| with_pass(reply, renewed)),
                Entered::User(for_user) => (for_user, renewed),
            }
        }
    };
    let ForUser { user_id, page } = for_user;
    let Some(user) = users::load(ports, &user_id).await? else {
        return Ok(to_login(app, &page.here));
    };
    if let Some(reason) = page.rules().find_map(|rule| refusal(rule, &user)) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "No access",
            format!("{reason} You are signed in as {}; sign out to use another account.", user.username),
        )
        .with_retry("/logout")
        .into());
    }
    let site_page = forward(app, gate, req, &page.here, true)?;
    asserted(app, ports, gate, site_page, Some(&user)).await.map(|reply| with_pass(reply, renewed))
}

/// The way to the login page, and back to `here` after it.
fn to_login(app: &Keyedge, here: &str) -> Reply {
    Reply::Page(web::redirect(&web::path_with_query(&app.config.path("/login"), &[("return_to", here)])))
}

/// A signed-in visitor (of `user_id`) on `page`: a live session is enough for a page that only
/// asks for a sign-in; the user's record is read for roles, email domains and identity headers.
fn signed_in<'r>(app: &Keyedge, gate: &Gate, req: &Request, page: Protected<'r>, user_id: String) -> Entered<'r> {
    let needs_user = page.rules().any(|r| !r.require_roles.is_empty() || !r.require_email_domains.is_empty())
        || asserts_identity(gate);
    if needs_user {
        return Entered::User(ForUser { user_id, page });
    }
    Entered::Page(forward(app, gate, req, &page.here, true).map(|site_page| Reply::Forward(Box::new(site_page))))
}

/// Whether the site is sent who asks (identity headers and a signed assertion): only an origin.
fn asserts_identity(gate: &Gate) -> bool {
    gate.identity_headers && gate.addresses.is_some()
}

/// `reply` with a renewed gate pass, if there is one, for the browser.
fn with_pass(reply: Reply, renewed: Option<String>) -> Reply {
    match (reply, renewed) {
        (Reply::Forward(mut forward), Some(cookie)) => {
            forward.set_cookie = Some(cookie);
            Reply::Forward(forward)
        }
        (reply, _) => reply,
    }
}

/// Whether the browser's header `name` (lower case) is one the site never gets from it.
/// `Proxy` too: CGI and FastCGI hand it to a site as `HTTP_PROXY`, which many HTTP clients
/// take for their proxy (httpoxy).
fn kept_from_the_site(name: &str) -> bool {
    IDENTITY_HEADERS.contains(&name)
        || PATH_OVERRIDE_HEADERS.contains(&name)
        || FORWARDING_HEADERS.contains(&name)
        || name == "host"
        || name == "proxy"
}

/// `name` as servers that hand headers to a site as variables read it: every character but a
/// letter or digit is `-` (a name already so spelled is itself). CGI, FastCGI and IIS make `X_Original_URL` and `X-Original-URL` the
/// same `HTTP_X_ORIGINAL_URL`; lighttpd and Apache 2.2 fold every other character into it,
/// and PHP folds `.` and spaces (`X.Keyedge.User`).
fn as_servers_read(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return std::borrow::Cow::Borrowed(name);
    }
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>().into()
}

/// The site's request for the page at `path_and_query` (the canonical path, the query as it
/// came): the browser's headers, without keyedge's cookies and without the headers by which a
/// site would take its path, host or the visitor's identity from the browser. For a protected
/// page the answer is marked private, so no shared cache keeps it for others.
fn forward(
    app: &Keyedge,
    gate: &Gate,
    req: &Request,
    path_and_query: &str,
    protected: bool,
) -> Result<Forward, Failure> {
    let mut forward = http::Request::builder().method(req.method().clone());
    let (target, via_origin) = match &gate.upstream {
        SiteUpstream::Assets => (app.config.endpoint(path_and_query), false),
        SiteUpstream::Origin(origin) => (format!("{}{}", origin.as_str().trim_end_matches('/'), path_and_query), true),
    };
    forward = forward.uri(&target);
    for (name, value) in req.headers() {
        let n = name.as_str();
        if kept_from_the_site(&as_servers_read(n)) {
            continue;
        }
        if n == "cookie" {
            // keyedge's own cookies stay with keyedge.
            let kept = strip_keyedge_cookies(value.to_str().unwrap_or(""));
            if let Some(v) = kept.and_then(|k| HeaderValue::from_str(&k).ok()) {
                forward = forward.header("cookie", v);
            }
            continue;
        }
        forward = forward.header(name, value);
    }
    if let Some(addresses) = &gate.addresses {
        // The address the visitor asked for is keyedge's: an origin that trusts these writes
        // its redirects and links on it.
        for (name, value) in
            [("x-forwarded-host", &addresses.public_host), ("x-forwarded-proto", &addresses.public_scheme)]
        {
            if let Ok(v) = HeaderValue::from_str(value) {
                forward = forward.header(name, v);
            }
        }
    }
    let forward = forward.body(req.body().clone()).map_err(|e| Failure::internal(format!("the site request: {e}")))?;
    let (parts, body) = forward.into_parts();
    Ok(Forward {
        method: parts.method,
        url: target,
        headers: parts.headers,
        body,
        to_assets: !via_origin,
        protected,
        set_cookie: None,
        // The origin's own address in a redirect is keyedge's to the browser (the origin may
        // build absolute addresses from the host it was sent, which is its own).
        addresses: gate.addresses.clone(),
    })
}

/// `page` as the site gets it: for an origin sent identity headers, with a signed assertion
/// that keyedge sent it (naming `user` on a protected page) and the user's headers.
async fn asserted(
    app: &Keyedge,
    ports: &Ports<'_>,
    gate: &Gate,
    mut page: Forward,
    user: Option<&User>,
) -> Result<Reply, Failure> {
    if let (Some(addresses), true) = (&gate.addresses, gate.identity_headers) {
        let assertion = Assertion {
            iss: &app.config.issuer,
            aud: &addresses.origin,
            htu: page.url.split('?').next().unwrap_or(""),
            user: user.map(|user| AssertedUser {
                sub: &user.id,
                email: user.profile.email.as_deref(),
                email_verified: user.profile.email_verified,
                preferred_username: &user.username,
                roles: &user.roles,
            }),
        };
        let signed = app
            .keys
            .sign(
                ports.crypto,
                Alg::RS256,
                Some("keyedge-identity+jwt"),
                &assertion,
                ports.clock.now(),
                ASSERTION_LIFETIME,
            )
            .await?;
        if let Ok(v) = HeaderValue::from_str(&signed) {
            page.headers.append(HeaderName::from_static("x-keyedge-assertion"), v);
        }
        if let Some(user) = user {
            let roles = user.roles.iter().map(|role| identity_value(role)).collect::<Vec<_>>().join(",");
            for (name, value) in [
                ("x-keyedge-user", identity_value(&user.id)),
                ("x-keyedge-username", identity_value(&user.username)),
                // Only a verified address: an origin reading the header as the user's email
                // must not get one the user merely typed or an IdP did not vouch for (the
                // assertion carries the address with `email_verified` either way).
                (
                    "x-keyedge-email",
                    identity_value(user.profile.email.as_deref().filter(|_| user.profile.email_verified).unwrap_or("")),
                ),
                ("x-keyedge-roles", roles),
            ] {
                // Always a valid value: `identity_value` leaves only visible ASCII.
                if let Ok(v) = HeaderValue::from_str(&value) {
                    page.headers.append(HeaderName::from_static(name), v);
                }
            }
        }
    }
    Ok(Reply::Forward(Box::new(page)))
}

/// What a plain identity header's value may hold as it is: what JavaScript's
/// `encodeURIComponent` leaves (letters, digits, `-_.!~*'()`) and `@`.
const IDENTITY_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'@');

/// `value` as a plain identity header carries it (`X-Keyedge-Username`, …): its UTF-8
/// percent-encoded, every other character as `%XX`, so a name or address in any script
/// arrives whole and the origin reads it back with `decodeURIComponent` (or
/// `urllib.parse.unquote`); a role's comma cannot split the list. A header value holds only
/// visible ASCII here: such a value was dropped before.
fn identity_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, IDENTITY_KEPT).to_string()
}

/// keyedge's answer to a request: a page of its own, or a page of the gated site to fetch.
#[derive(Debug)]
pub enum Reply {
    Page(Response),
    /// The Worker sends it and streams the site's answer to the browser, never copying the
    /// body into wasm (a site's images and downloads can be large); [`Keyedge::handle`] sends
    /// it through the ports.
    Forward(Box<Forward>),
}

/// A page the gate lets through: the request to make upstream, and how to mark the answer
/// ([`Reply::Forward`]).
#[derive(Debug, Clone)]
pub struct Forward {
    pub method: http::Method,
    pub url: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    /// The Worker's static assets (`ASSETS`), else the origin at `url`.
    pub to_assets: bool,
    protected: bool,
    /// keyedge's own `Set-Cookie` for the answer (a renewed gate pass).
    pub set_cookie: Option<String>,
    /// For an origin: its address and keyedge's, for the site's redirects.
    addresses: Option<OriginAddresses>,
}

/// A header change on the upstream's answer: `(name, value, replace)`; `replace = false` adds.
pub type HeaderEdit = (&'static str, &'static str, bool);

impl Forward {
    /// Headers that tell a CDN how to cache a page whatever `Cache-Control` says (RFC 9213,
    /// Cloudflare's, Fastly's and Akamai's): taken off a protected page.
    const CDN_CACHE_HEADERS: [&'static str; 3] =
        ["cdn-cache-control", "cloudflare-cdn-cache-control", "surrogate-control"];

    /// A protected page must not be kept by a shared cache for others.
    pub fn header_edits(&self) -> &'static [HeaderEdit] {
        if self.protected {
            &[("cache-control", "private, no-cache", true), ("vary", "cookie", false)]
        } else {
            &[]
        }
    }

    /// Whether a `Set-Cookie` of the site's answer may reach the browser: not when it names one
    /// of keyedge's cookies, which the site (on keyedge's origin) could otherwise plant or
    /// clear. A nameless cookie (`=keyedge_session=x`, `keyedge_session`) counts by the name
    /// a server would read in it when the browser sends it back.
    pub fn passes_set_cookie(set_cookie: &str) -> bool {
        let pair = set_cookie.split(';').next().unwrap_or("").trim_start().trim_start_matches('=');
        !is_keyedge_cookie(pair.split('=').next().unwrap_or(""))
    }

    /// The site's answer's headers as the browser gets them, from `site`, the headers the site
    /// sent (`(name, value)`, each `Set-Cookie` on its own): its `Set-Cookie`s naming keyedge's
    /// cookies dropped ([`Self::passes_set_cookie`]), its redirect to the origin made one to
    /// keyedge's site ([`Self::browser_location`]), a protected page marked private
    /// ([`Self::header_edits`]) without a CDN's own caching headers, and a renewed gate pass
    /// added. The one place both hosts mark an answer: the native harness ([`Self::send`]) and
    /// the Worker (src/edge, `site_answer`, which hands the site's body on unread).
    pub fn answer_headers<'a>(&self, site: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = site
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .filter(|(name, value)| name != SET_COOKIE.as_str() || Self::passes_set_cookie(value))
            .filter(|(name, _)| !(self.protected && Self::CDN_CACHE_HEADERS.contains(&name.as_str())))
            .map(|(name, value)| (name, value.to_owned()))
            .collect();
        let location =
            headers.iter().find(|(name, _)| name == LOCATION.as_str()).and_then(|(_, l)| self.browser_location(l));
        let edits = location
            .map(|l| (LOCATION.as_str(), l, true))
            .into_iter()
            .chain(self.header_edits().iter().map(|(name, value, replace)| (*name, (*value).to_owned(), *replace)));
        for (name, value, replace) in edits {
            if replace {
                headers.retain(|(n, _)| n != name);
            }
            headers.push((name.to_owned(), value));
        }
        if let Some(cookie) = &self.set_cookie {
            headers.push((SET_COOKIE.as_str().to_owned(), cookie.clone()));
        }
        headers
    }

    /// The `Location` of the site's redirect as the browser gets it: an address on the origin
    /// itself (`https://origin.example.com/docs/`) becomes the same page on keyedge's site, as
    /// a reverse proxy does (nginx's `proxy_redirect default`); `None` leaves it as it is (a
    /// relative address, another site, or the Worker's static assets).
    pub fn browser_location(&self, location: &str) -> Option<String> {
        let OriginAddresses { origin, public, .. } = self.addresses.as_ref()?;
        // Only an absolute address (a scheme, or `//host`) can name the origin; a relative one
        // already stays on keyedge's site.
        let scheme = location.split_once(':').map(|(s, _)| s).filter(|s| {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        if scheme.is_none() && !location.starts_with("//") {
            return None;
        }
        // Read as the browser reads it (case, default port, `\`), then compared by origin.
        let to = url::Url::parse(origin).ok()?.join(location).ok()?;
        if to.origin().ascii_serialization() != *origin {
            return None;
        }
        let mut page = format!("{public}{}", to.path());
        if let Some(query) = to.query() {
            page = format!("{page}?{query}");
        }
        if let Some(fragment) = to.fragment() {
            page = format!("{page}#{fragment}");
        }
        Some(page)
    }

    /// The error for a gate configured with `upstream = "assets"` on a Worker without them.
    pub fn no_assets() -> PortError {
        PortError("gate.upstream = \"assets\" but no ASSETS binding".into())
    }

    pub fn request(&self) -> Result<http::Request<Vec<u8>>, PortError> {
        let mut req = http::Request::builder().method(self.method.clone()).uri(&self.url);
        if let Some(headers) = req.headers_mut() {
            headers.clone_from(&self.headers);
        }
        req.body(self.body.clone()).map_err(|e| PortError(e.to_string()))
    }

    /// Sends the request through the ports (the native harness; and any host that does not
    /// stream) and marks the answer.
    pub async fn send(&self, ports: &Ports<'_>) -> Outcome {
        let upstream = match (self.to_assets, ports.site) {
            (true, Some(site)) => site,
            (true, None) => return Err(Failure::Port(Self::no_assets())),
            (false, _) => ports.http,
        };
        let mut res: Response = upstream.send(self.request()?).await?;
        // Values as text (a byte past ASCII read as U+FFFD: the harness's sites send ASCII; the
        // Worker's round trip keeps the bytes).
        let site: Vec<(String, String)> = res
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let marked = self.answer_headers(site.iter().map(|(name, value)| (name.as_str(), value.as_str())));
        let headers = res.headers_mut();
        headers.clear();
        for (name, value) in marked {
            // As the Worker's `write_pairs` does, a marked header that cannot be sent fails the
            // page rather than leave it without the header.
            let unsendable =
                || Failure::Port(PortError(format!("the site's answer: the header {name} cannot be sent")));
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| unsendable())?;
            headers.append(header, HeaderValue::from_str(&value).map_err(|_| unsendable())?);
        }
        Ok(res)
    }
}

/// Whether a cookie name is keyedge's: `keyedge_…`, `__Host-keyedge_…`, in any case (browsers
/// treat the `__Host-`/`__Secure-` prefixes case-insensitively) and with any `__Secure-`.
fn is_keyedge_cookie(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_prefix("__host-").or_else(|| name.strip_prefix("__secure-")).unwrap_or(&name);
    name.starts_with("keyedge_")
}

/// The Cookie header without keyedge's cookies (`None` when nothing is left).
fn strip_keyedge_cookies(header: &str) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|c| !is_keyedge_cookie(c.split('=').next().unwrap_or("")))
        .filter(|c| !c.is_empty())
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward_to(protected: bool, origin: bool, set_cookie: Option<&str>) -> Forward {
        Forward {
            method: http::Method::GET,
            url: "https://origin.example.com/docs/".into(),
            headers: http::HeaderMap::new(),
            body: Vec::new(),
            to_assets: !origin,
            protected,
            set_cookie: set_cookie.map(str::to_owned),
            addresses: origin.then(|| OriginAddresses {
                origin: "https://origin.example.com".into(),
                public: "https://site.example".into(),
                public_host: "site.example".into(),
                public_scheme: "https".into(),
            }),
        }
    }

    /// What a site's answer is marked with, on both hosts (the native harness and the Worker
    /// read the same function): keyedge's cookies never set by the site, however the name is
    /// spelled, every other `Set-Cookie` kept on its own; the origin's own redirect made one to
    /// keyedge's site; a protected page private, whatever the site said; the gate's pass added.
    #[test]
    fn a_sites_answer_is_marked_the_same_on_every_host() {
        let site = [
            ("Content-Type", "text/html"),
            ("set-cookie", "theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT"),
            ("Set-Cookie", "__Host-KEYEDGE_session=planted; Path=/"),
            ("set-cookie", "=keyedge_pass=x"),
            ("set-cookie", "lang=en"),
            ("cache-control", "public, max-age=600"),
            ("Cache-Control", "immutable"),
            ("vary", "accept-encoding"),
            ("location", "https://origin.example.com/docs/next?a=1#top"),
            ("CDN-Cache-Control", "max-age=86400"),
            ("cloudflare-cdn-cache-control", "max-age=86400"),
            ("Surrogate-Control", "max-age=86400"),
        ];
        let marked = forward_to(true, true, Some("__Host-keyedge_pass=renewed; Path=/")).answer_headers(site);
        let pairs: Vec<(&str, &str)> = marked.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("content-type", "text/html"),
                ("set-cookie", "theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT"),
                ("set-cookie", "lang=en"),
                ("vary", "accept-encoding"),
                ("location", "https://site.example/docs/next?a=1#top"),
                ("cache-control", "private, no-cache"),
                ("vary", "cookie"),
                ("set-cookie", "__Host-keyedge_pass=renewed; Path=/"),
            ]
        );
        // A public page from the assets: the site's headers as they were, but keyedge's cookies;
        // a redirect elsewhere, or relative, is not the origin's to rewrite.
        let site = [
            ("cache-control", "public"),
            ("location", "https://origin.example.com/x"),
            ("set-cookie", "keyedge_csrf=1"),
            ("cdn-cache-control", "max-age=60"),
        ];
        let marked = forward_to(false, false, None).answer_headers(site);
        assert_eq!(
            marked,
            [
                ("cache-control".to_owned(), "public".to_owned()),
                ("location".into(), "https://origin.example.com/x".into()),
                ("cdn-cache-control".into(), "max-age=60".into())
            ]
        );
        for other in ["/docs/", "https://elsewhere.example/docs/", "//elsewhere.example/"] {
            let marked = forward_to(false, true, None).answer_headers([("location", other)]);
            assert_eq!(marked, [("location".to_owned(), other.to_owned())], "{other}");
        }
    }

    #[test]
    fn allow_lists_the_methods_a_site_is_sent() {
        let listed: Vec<&str> = SITE_METHODS.iter().map(http::Method::as_str).collect();
        assert_eq!(SITE_ALLOW, listed.join(", "));
    }

    #[test]
    fn a_header_name_reads_as_servers_fold_it() {
        for name in ["x_keyedge_user", "x.keyedge.user", "x~keyedge~user", "x-keyedge-user"] {
            assert_eq!(as_servers_read(name), "x-keyedge-user", "{name}");
        }
        assert!(matches!(as_servers_read("accept-language"), std::borrow::Cow::Borrowed(_)));
    }

    /// An identity header's value is percent-encoded UTF-8, readable with `decodeURIComponent`:
    /// any script arrives whole, a comma cannot split the roles, a line break or `%` cannot
    /// pass as itself.
    #[test]
    fn an_identity_value_is_percent_encoded_utf8() {
        for (value, sent) in [
            ("alice", "alice"),
            ("alice@example.com", "alice@example.com"),
            ("first.last-1_(x)~!*'", "first.last-1_(x)~!*'"),
            ("José García", "Jos%C3%A9%20Garc%C3%ADa"),
            ("анна@пример.рф", "%D0%B0%D0%BD%D0%BD%D0%B0@%D0%BF%D1%80%D0%B8%D0%BC%D0%B5%D1%80.%D1%80%D1%84"),
            ("a,b", "a%2Cb"),
            ("x\r\ny: z", "x%0D%0Ay%3A%20z"),
            // Never a raw `+`, which PHP's `urldecode` and Python's `unquote_plus` read as a space.
            ("a+b@x", "a%2Bb@x"),
            ("100%41", "100%2541"),
            ("", ""),
        ] {
            let encoded = identity_value(value);
            assert_eq!(encoded, sent, "{value}");
            assert!(HeaderValue::from_str(&encoded).is_ok_and(|v| v.to_str().is_ok()), "{value}");
            let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8().unwrap();
            assert_eq!(decoded, value);
        }
    }
}
