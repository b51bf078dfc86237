//! The application: configuration, keys and caches built once per isolate, and the route
//! table that sends each request to its handler.

use crate::core::vocab::PromptValue;
use http::{Method, StatusCode};
use std::fmt;

use super::broker::{
    account, callback, first_login, form_post, login, logout, session, stored_tokens, upstream_session,
};
use super::config::{Config, ConfigError, IdentityProvider, MailSender, ProviderKind};
use super::csrf::{self, Checked, CsrfKey, PendingLoginCookie, Refusal, SessionCookie};
use super::error::{self, ErrorCode, Failure, OAuthError, Outcome, PageError};
pub use super::gate::Reply;
use super::jose::{KeyError, Keyring, SigningKey};
use super::limits::{self, BodyLimit, TooLarge};
use super::op::authorize::{AuthorizationRequest, AuthorizeError};
use super::op::refresh::SuccessorKey;
use super::op::{code, discovery, introspect, token, userinfo};
use super::pages;
#[cfg(keyedge_faults)]
use super::ports::faulty::{DevFaults, FaultyOnce, FaultyStore};
use super::ports::no_io;
use super::ports::{Clock, Jobs, Ports, Rng};
use super::seal::Sealer;
use super::upstream::oidc::MetadataCache;
use super::web::{self, CookieJar, Params, Request, Response};

/// Why keyedge cannot start: shown by `wrangler dev` and in the Worker's logs.
#[derive(Debug)]
pub enum StartError {
    Config(ConfigError),
    /// A signing key could not be used; names the config field of its secret.
    Key(String, KeyError),
    /// Another secret is unusable: the config field that names it, and why.
    Secret(String, String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => e.fmt(f),
            StartError::Key(field, e) => write!(f, "invalid configuration: {field}: {e}"),
            StartError::Secret(field, e) => write!(f, "invalid configuration: {field}: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The endpoints a browser application calls directly (OIDC Discovery, JWKS, token,
/// userinfo): they answer CORS requests from any origin, without credentials. No other
/// endpoint does.
/// `req` with its path replaced by `path` (scheme, host and query kept).
fn with_path(req: &Request, path: &str) -> Request {
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    let mut moved = http::Request::new(req.body().clone());
    *moved.method_mut() = req.method().clone();
    *moved.uri_mut() = http::Uri::from_parts(parts).unwrap_or_default();
    *moved.version_mut() = req.version();
    *moved.headers_mut() = req.headers().clone();
    moved
}

/// The endpoints a browser application calls across origins: discovery, keys, tokens,
/// userinfo, and revocation (a single-page app revokes its tokens at sign-out, RFC 7009).
const CORS_PATHS: &[&str] = &["/.well-known/openid-configuration", "/jwks", "/token", "/userinfo", "/revoke"];

/// keyedge's own paths of the documents made from the configuration and the keys alone (the
/// discovery document, the JWKS): answered at once, and the same for every bodiless request.
const DOCUMENTS: [&str; 2] = ["/.well-known/openid-configuration", "/jwks"];

/// What a request worth answering at once is ([`Keyedge::answers_at_once`]), worked out once
/// from its method and path.
#[derive(Clone, Copy)]
enum AtOnceRoute {
    /// A GET or HEAD of the discovery document or the JWKS.
    Document,
    /// A gated site's page.
    SitePage,
    /// A GET or HEAD of a sign-in page (`/authorize`, `/login`, `/login/discover`): the login
    /// page waits on nothing unless the browser has a session.
    SignIn,
}

pub struct Keyedge {
    pub config: Config,
    pub keys: Keyring,
    pub sealer: Sealer,
    pub metadata: MetadataCache,
    /// SAML IdPs' metadata read from their URLs.
    #[cfg(keyedge_saml)]
    pub saml_metadata: crate::core::upstream::saml::flow::SamlMetadataCache,
    /// The key of the CSRF tokens of keyedge's forms (derived from `ENCRYPTION_KEY`).
    pub csrf: CsrfKey,
    /// The key that derives each refresh token's successor (from `ENCRYPTION_KEY`).
    pub successors: SuccessorKey,
    /// The issuer's origin (`https://login.example.com`): where keyedge's forms come from.
    origin: String,
    discovery: String,
    /// The stylesheet's path among keyedge's own, and its URL path.
    css_path: String,
    css_url: String,
    /// Storage faults planned through `POST /dev/faults` (`[dev] fault_injection`).
    #[cfg(keyedge_faults)]
    dev_faults: DevFaults,
}

/// A route's future behind a pointer, so that its code is not inlined into the router's: V8
/// compiles a wasm function whole on its first call, and the router's future held every
/// route's code (~250 KB), compiled on an isolate's first request whatever it asked for.
fn apart<'a, T>(
    f: impl std::future::Future<Output = T> + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>> {
    Box::pin(f)
}

/// A route's answer to come ([`Keyedge::pick`]).
type Routed<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + 'a>>;

/// A route whose answer is already known, as a [`Routed`].
fn done<'a>(outcome: Outcome) -> Routed<'a> {
    Box::pin(std::future::ready(outcome))
}

/// `then`'s route for a request the browser made as a top-level navigation (see
/// [`navigation`]), else its refusal.
fn navigating<'a>(req: &Request, then: impl FnOnce() -> Routed<'a>) -> Routed<'a> {
    match navigation(req) {
        Ok(()) => then(),
        Err(refused) => done(Err(refused)),
    }
}

impl Keyedge {
    pub fn new(config: Config) -> Result<Self, StartError> {
        let parse = |field: &str, secret: &crate::core::secret::Secret| {
            SigningKey::from_pem(secret.expose()).map_err(|e| StartError::Key(field.to_owned(), e))
        };
        let mut active = Vec::new();
        for (field, alg, secret) in &config.signing_keys {
            let key = parse(field, secret)?;
            if key.alg() != *alg {
                let e = KeyError::Unreadable(format!("expected a {} key, found {}", alg.name(), key.alg().name()));
                return Err(StartError::Key(field.clone(), e));
            }
            active.push(key);
        }
        let others = config.other_signing_keys.iter().map(|(f, s)| parse(f, s)).collect::<Result<Vec<_>, _>>()?;
        let keys = Keyring::new(active, others);
        let encryption_key = crate::core::seal::key_from_base64(config.encryption_key.expose())
            .map_err(|e| StartError::Secret("encryption_key_env".into(), e))?;
        let mut sealer = Sealer::from_base64(config.encryption_key.expose())
            .map_err(|e| StartError::Secret("encryption_key_env".into(), e))?;
        for (field, key) in &config.previous_encryption_keys {
            sealer = sealer.with_previous(key.expose()).map_err(|e| StartError::Secret(field.clone(), e))?;
        }
        let origin = url::Url::parse(&config.issuer).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
        Ok(Self {
            discovery: discovery::document(&config, &keys),
            css_path: pages::css_path(),
            css_url: config.path(&pages::css_path()),
            metadata: MetadataCache::default(),
            #[cfg(keyedge_saml)]
            saml_metadata: Default::default(),
            csrf: CsrfKey::derive(&encryption_key),
            successors: SuccessorKey::derive(&encryption_key),
            origin,
            keys,
            sealer,
            config,
            #[cfg(keyedge_faults)]
            dev_faults: DevFaults::default(),
        })
    }

    /// Reads every private key whole, as its first use in Rust would (`keyedge check`): at
    /// start-up only their shape and public halves are read (see `jose::private`). Natively
    /// only: the Worker has no RSA or Ed25519 arithmetic of its own to do it with.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn check_private_keys(&self) -> Result<(), StartError> {
        let fields = self
            .config
            .signing_keys
            .iter()
            .map(|(f, _, _)| f)
            .chain(self.config.other_signing_keys.iter().map(|(f, _)| f));
        for (field, key) in fields.zip(self.keys.all()) {
            key.check().map_err(|e| StartError::Key(field.clone(), e))?;
        }
        for (i, idp) in self.config.identity_providers.iter().enumerate() {
            let at = |field: &str| format!("identity_providers[{i}].{field}");
            let auth = match &idp.kind {
                crate::core::config::ProviderKind::Oidc(p) => Some(&p.client_auth),
                #[cfg(keyedge_oauth2)]
                crate::core::config::ProviderKind::OAuth2(p) => Some(&p.client_auth),
                #[cfg(keyedge_saml)]
                crate::core::config::ProviderKind::Saml(p) => {
                    if let Some((credentials, _)) = &p.signing {
                        credentials
                            .key
                            .check()
                            .map_err(|e| StartError::Secret(at("sp_signing_key_env"), e.to_string()))?;
                    }
                    if let Some(decryption) = &p.decryption {
                        decryption
                            .key
                            .check()
                            .map_err(|e| StartError::Secret(at(decryption.key_field), e.to_string()))?;
                    }
                    None
                }
            };
            if let Some(crate::core::upstream::client_config::UpstreamClientAuth::SignedSecret(s)) = auth {
                s.key.check().map_err(|e| StartError::Key(at("private_key_env"), e))?;
            }
        }
        Ok(())
    }

    /// Parses the config text, resolves its secrets and loads the signing key.
    pub fn from_config_text(text: &str, secret: &dyn Fn(&str) -> Option<String>) -> Result<Self, StartError> {
        Self::new(Config::load(text, secret).map_err(StartError::Config)?)
    }

    /// The stylesheet's URL path (under the issuer's path).
    pub fn css(&self) -> &str {
        &self.css_url
    }

    /// Page chrome in the language the browser prefers (`Accept-Language`).
    pub fn ui(&self, req: &Request) -> pages::Ui<'_> {
        self.ui_for(req, None)
    }

    /// Page chrome in the language of `ui_locales` (a client's request), else the browser's.
    pub fn ui_for(&self, req: &Request, ui_locales: Option<&str>) -> pages::Ui<'_> {
        let accept = req.headers().get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        pages::Ui { css: &self.css_url, root: self.config.mount.base(), t: super::i18n::negotiate(ui_locales, accept) }
    }

    pub fn cookies(&self) -> CookieJar<'_> {
        CookieJar { secure: self.config.secure_cookies, realm: self.config.mount.cookie_suffix() }
    }

    /// The redirect URI registered at upstream IdPs: Keycloak's `/broker/{alias}/endpoint`.
    pub fn broker_endpoint(&self, alias: &str) -> String {
        self.config.endpoint(&format!("/broker/{alias}/endpoint"))
    }

    /// keyedge's answer to `req`, pages the gate lets through included (sent through the ports).
    pub async fn handle(&self, req: Request, ports: &Ports<'_>) -> Response {
        let reply = self.respond(&req, ports).await;
        self.deliver(&req, reply, ports).await
    }

    /// The answer to `req` for `reply`: its page, or the gated site's page sent through the
    /// ports.
    pub async fn deliver(&self, req: &Request, reply: Reply, ports: &Ports<'_>) -> Response {
        match reply {
            Reply::Page(res) => res,
            Reply::Forward(forward) => match forward.send(ports).await {
                Ok(res) => res,
                Err(failure) => self.failure_response(req, ports, failure),
            },
        }
    }

    /// keyedge's answer to `req`, except that a page the gate lets through comes back as a
    /// [`Reply::Forward`], for the host to send (with the site's own headers).
    pub async fn respond(&self, req: &Request, ports: &Ports<'_>) -> Reply {
        // Compiled into the Worker only for a configuration with `[dev] fault_injection` (build.rs).
        #[cfg(keyedge_faults)]
        if self.config.fault_injection {
            let store = FaultyStore { inner: ports.store, plan: &self.dev_faults.kv };
            let once = FaultyOnce { inner: ports.once, plan: &self.dev_faults.once };
            return self.respond_with(req, &Ports { store: &store, once: &once, ..*ports }).await;
        }
        self.respond_with(req, ports).await
    }

    /// `POST /dev/faults` (`store=kv|durable_object&fail_after=N`): the store's operation after
    /// the next `N` fails, once (`fail_after=never`: none) (for the end-to-end fault tests under `wrangler dev`). Both
    /// methods answer whether a planned fault is still to come.
    #[cfg(keyedge_faults)]
    fn dev_faults(&self, req: &Request, post: bool) -> Outcome {
        if post {
            let params = Params::from_form(req);
            let bad = |m: &str| Failure::Json(StatusCode::BAD_REQUEST, OAuthError::invalid_request(m));
            let plan = match params.get("store") {
                Some("kv") => &self.dev_faults.kv,
                Some("durable_object") => &self.dev_faults.once,
                _ => return Err(bad("store must be `kv` or `durable_object`")),
            };
            match params.get("fail_after") {
                Some("never") => plan.clear(),
                n => plan.fail_after(n.and_then(|n| n.parse().ok()).ok_or_else(|| bad("fail_after must be a number"))?),
            }
        }
        let pending = serde_json::json!({
            "kv": self.dev_faults.kv.pending(),
            "durable_object": self.dev_faults.once.pending(),
        });
        Ok(web::json_no_store(StatusCode::OK, pending.to_string()))
    }

    /// `req` answered at once, by the same code as [`Keyedge::respond`] but with ports that
    /// never answer ([`no_io`](super::ports::no_io)), when it is one of the requests worth
    /// trying so ([`Keyedge::answers_at_once`]): `Some` when the answer needed no storage,
    /// upstream or platform call (a site page on a fresh gate pass, a public page, the way to
    /// the login page, the discovery document, the JWKS once its keys are ready, the login
    /// page for a browser without a session), `None` when it would have waited on one (a
    /// session to check, a user's record to read, an assertion to sign, a key's public half
    /// to derive, an `id_token_hint` to verify) or is not worth trying; the host then answers
    /// it with [`Keyedge::respond`]. Nothing was sent or written either way. The Worker tries
    /// every such request this way first (src/edge, `AtOnce`).
    pub fn answer_at_once(&self, req: &Request, clock: &dyn Clock, rng: &dyn Rng, log: &dyn Fn(&str)) -> Option<Reply> {
        match self.at_once_route(req.method().as_str(), req.uri().path(), !req.body().is_empty())? {
            AtOnceRoute::Document => {
                if let Some(document) = self.document_at_once(req) {
                    return Some(Reply::Page(document));
                }
            }
            #[cfg(keyedge_gate)]
            AtOnceRoute::SitePage => return self.site_page_at_once(req, clock, rng, log),
            // A configuration with a `[gate]` builds the gate in (build.rs): not reached.
            #[cfg(not(keyedge_gate))]
            AtOnceRoute::SitePage => {}
            // A browser with a session: its page reads the session first, so it would only do
            // its first steps twice.
            AtOnceRoute::SignIn if self.cookies().get(req, session::COOKIE).is_some() => return None,
            AtOnceRoute::SignIn => {}
        }
        let jobs = Jobs::default();
        let ports = no_io::ports(clock, rng, log, &jobs);
        let reply = no_io::at_once(self.respond_with(req, &ports))?;
        // Work queued for after the answer is for the full path, which runs it.
        jobs.take().is_empty().then_some(reply)
    }

    /// Whether `reply`, [`Keyedge::answer_at_once`]'s answer to `req`, is keyedge's answer to
    /// every request of the same method and path (whatever its query, host or other headers)
    /// that has no body and declares no length, for as long as this app lives: the discovery
    /// document and the JWKS, made once from the configuration and the keys. The Worker's shell
    /// keeps such an answer and gives it again without calling into wasm (src/edge/reuse.mjs);
    /// `tests/it/pkce_and_keys.rs` holds the answers to that promise.
    pub fn reusable(&self, req: &Request, reply: &Reply) -> bool {
        matches!(reply, Reply::Page(res) if res.status() == StatusCode::OK)
            && req.body().is_empty()
            && !req.headers().contains_key(http::header::CONTENT_LENGTH)
            && matches!(self.at_once_route(req.method().as_str(), req.uri().path(), false), Some(AtOnceRoute::Document))
    }

    /// The answers [`Keyedge::reusable`] marks that can be made before any request, as
    /// `(method, path, answer)`: a GET and a HEAD of the discovery document at its path under
    /// the mount, and of the JWKS where its keys' public halves are already known (they are
    /// derived on first use, so not when the isolate starts). Each is [`Keyedge::answer_at_once`]'s
    /// answer to a bodiless request of that method and path with no headers, made by the same
    /// code and checked by [`Keyedge::reusable`] like any other. The Worker's shell keeps them
    /// while the isolate starts, so that its first request for one runs no wasm
    /// (docs/performance.md, *Cold start*). No clock, randomness or I/O is used.
    pub fn documents_at_start(&self) -> Vec<(&'static str, String, Response)> {
        let mut made = Vec::new();
        for path in DOCUMENTS.into_iter().flat_map(|own| self.config.mount.spellings(own)) {
            for method in ["GET", "HEAD"] {
                let Ok(req) = http::Request::builder().method(method).uri(path.as_str()).body(Vec::new()) else {
                    continue;
                };
                // Not for a request of another route (a gated site's page): `reusable` says so.
                let Some(reply) = self.document_at_once(&req).map(Reply::Page) else { continue };
                if let (true, Reply::Page(res)) = (self.reusable(&req, &reply), reply) {
                    made.push((method, path.clone(), res));
                }
            }
        }
        made
    }

    /// The discovery document or the JWKS as [`Keyedge::respond`] answers `req`, made
    /// without the router's future: an isolate's first request compiles the code it runs, and
    /// the router's future is the largest function on that path (docs/performance.md, *Cold
    /// start*). For a request of [`AtOnceRoute::Document`]; `None` for one whose body is over
    /// its route's limit and for the JWKS until its keys' public halves are known: the router
    /// answers those.
    fn document_at_once(&self, req: &Request) -> Option<Response> {
        let own = self.config.mount.internal(req.uri().path())?;
        if self.oversized(req).is_some() {
            return None;
        }
        let mut res = match own {
            "/.well-known/openid-configuration" => self.discovery_document(),
            "/jwks" => self.jwks_document(self.keys.jwks_if_ready()?),
            _ => return None,
        };
        // As [`Keyedge::answer`] and [`Keyedge::respond_with`] finish an answer.
        if CORS_PATHS.contains(&own) {
            web::allow_any_origin(&mut res);
        }
        Some(self.harden(res))
    }

    /// A gated site's page as [`Keyedge::respond`] answers `req`, by the gate's decision
    /// without I/O ([`gate::decide`](super::gate::decide)) and without the router's or the
    /// gate's futures, for a request of [`AtOnceRoute::SitePage`]: `None` when the gate waits
    /// on storage or a signature (the full path answers).
    #[cfg(keyedge_gate)]
    fn site_page_at_once(&self, req: &Request, clock: &dyn Clock, rng: &dyn Rng, log: &dyn Fn(&str)) -> Option<Reply> {
        let gate = self.config.gate.as_ref()?;
        let reply = match super::gate::decide(self, gate, req, clock.now()) {
            super::gate::Decision::Wait(_) => return None,
            super::gate::Decision::Done(Ok(reply)) => reply,
            super::gate::Decision::Done(Err(failure)) => {
                let jobs = Jobs::default();
                Reply::Page(self.failure_response(req, &no_io::ports(clock, rng, log, &jobs), failure))
            }
        };
        Some(self.hardened(reply))
    }

    fn discovery_document(&self) -> Response {
        web::json_public(self.discovery.clone())
    }

    fn jwks_document(&self, jwks: std::borrow::Cow<'_, str>) -> Response {
        web::json_public(jwks.into_owned())
    }

    async fn respond_with(&self, req: &Request, ports: &Ports<'_>) -> Reply {
        self.hardened(self.answer(req, ports).await)
    }

    /// `reply` as every answer leaves: a page of keyedge's own with [`Self::harden`]'s headers;
    /// a site's page as the site makes it.
    fn hardened(&self, reply: Reply) -> Reply {
        match reply {
            Reply::Page(res) => Reply::Page(self.harden(res)),
            forward => forward,
        }
    }

    /// The headers every answer of keyedge's own carries: `X-Content-Type-Options: nosniff`
    /// (a JSON or text answer is never run as a script or page), and over https
    /// `Strict-Transport-Security` (a year; not for subdomains, which keyedge does not own).
    /// Pages add their own (CSP, `frame-ancestors`, `Referrer-Policy`, see `web::html`).
    pub fn harden(&self, mut res: Response) -> Response {
        let h = res.headers_mut();
        h.insert(http::header::X_CONTENT_TYPE_OPTIONS, http::HeaderValue::from_static("nosniff"));
        if self.config.issuer.starts_with("https://") {
            h.insert(http::header::STRICT_TRANSPORT_SECURITY, http::HeaderValue::from_static("max-age=31536000"));
        }
        res
    }

    async fn answer(&self, req: &Request, ports: &Ports<'_>) -> Reply {
        let own = self.config.mount.internal(req.uri().path());
        // The gate is compiled into the Worker only for a configuration with a `[gate]` (build.rs).
        #[cfg(keyedge_gate)]
        if let Some(gate) = self.config.gate.as_ref().filter(|_| self.is_site_path(own)) {
            // A gated site's page: its body streams on unread (no body limit applies).
            return match apart(super::gate::handle(self, ports, gate, req)).await {
                Ok(reply) => reply,
                Err(failure) => Reply::Page(self.failure_response(req, ports, failure)),
            };
        }
        let Some(own) = own else {
            return Reply::Page(self.failure_response(req, ports, no_page().into()));
        };
        // Handlers know keyedge's pages by its own paths (`/login`, not `/realms/acme/login`);
        // the limits and failures go by the path as requested (`raw`).
        let raw = req;
        let moved;
        let req = if own == req.uri().path() {
            req
        } else {
            moved = with_path(req, own);
            &moved
        };
        let cors = CORS_PATHS.contains(&own);
        if cors && req.method() == Method::OPTIONS {
            return Reply::Page(web::cors_preflight());
        }
        // The Worker never reads a body past its route's limit; one handed over anyway is
        // refused here, before any handler sees it.
        let mut res = match self.oversized(raw) {
            Some(refused) => refused,
            None => match self.route(req, ports).await {
                Ok(res) => res,
                Err(failure) => self.failure_response(raw, ports, failure),
            },
        };
        if cors {
            web::allow_any_origin(&mut res);
        }
        Reply::Page(res)
    }

    /// Whether a request for keyedge's own path `own` (`None`: a path outside the issuer's)
    /// is a gated site's page: outside the issuer's path, or, under an issuer without one, a
    /// path keyedge does not serve.
    pub(crate) fn is_site_path(&self, own: Option<&str>) -> bool {
        match own {
            None => true,
            Some(own) => self.config.mount.base().is_empty() && !super::gate::is_keyedge_path(own),
        }
    }

    /// Whether a request for `method path` (as requested), with a body or not, is worth
    /// answering at once ([`Keyedge::answer_at_once`]): a gated site's page, or a GET without
    /// a body of a document made from the configuration alone (discovery, the JWKS) or of a
    /// sign-in page (the login page). Other requests wait on storage, a rate limit or their
    /// body first, so trying them at once would only do their first steps twice. A body on
    /// one of those GETs is read by the full path (and refused past its limit, which a body
    /// sent in chunks announces nowhere in the head), so such a request is not tried at once.
    pub fn answers_at_once(&self, method: &str, path: &str, has_body: bool) -> bool {
        self.at_once_route(method, path, has_body).is_some()
    }

    /// What `method path` (as requested), with a body or not, is, if it is worth answering at
    /// once.
    fn at_once_route(&self, method: &str, path: &str, has_body: bool) -> Option<AtOnceRoute> {
        if self.serves_site_page(path) {
            // An origin sent identity headers gets a signed assertion with every page, and a
            // signed-in visitor's page reads the user: nearly every page would wait, and
            // trying it at once first would do its first steps twice.
            let waits = self.config.gate.as_ref().is_some_and(|g| g.identity_headers);
            return (!waits).then_some(AtOnceRoute::SitePage);
        }
        // A site page's body goes to the site; these never read theirs, which the full path
        // reads and refuses past its limit.
        if !matches!(method, "GET" | "HEAD") || has_body {
            return None;
        }
        match self.config.mount.internal(path)? {
            own if DOCUMENTS.contains(&own) => Some(AtOnceRoute::Document),
            // Not the way to an IdP (`/broker/{alias}/login`): it waits on its per-IP rate limit.
            "/authorize" | "/login" | "/login/discover" => Some(AtOnceRoute::SignIn),
            _ => None,
        }
    }

    /// Whether `path` (as requested) is a gated site's page.
    pub fn serves_site_page(&self, path: &str) -> bool {
        self.config.gate.is_some() && self.is_site_path(self.config.mount.internal(path))
    }

    /// What `method path` does with a request body, and its limit ([`limits`]).
    pub fn body_limit(&self, method: &Method, path: &str) -> BodyLimit {
        if self.serves_site_page(path) {
            return BodyLimit::Stream;
        }
        let own = self.config.mount.internal(path);
        // Outside the issuer's path (no gate): nothing of keyedge's, a form's limit at most.
        limits::body_limit(method, own.unwrap_or(""), false)
    }

    /// The `413` for `req` when its body, or the `Content-Length` it announces, is over its
    /// route's limit; the Worker asks before reading the body.
    pub fn oversized(&self, req: &Request) -> Option<Response> {
        let BodyLimit::Read { max, .. } = self.body_limit(req.method(), req.uri().path()) else { return None };
        (req.body().len() > max || limits::declared_over(req.headers(), max)).then(|| self.too_large(req))
    }

    /// The `413` of `req`'s route: an OAuth error for the endpoints applications call, a page
    /// for browsers' forms. Nothing was done with the request.
    pub fn too_large(&self, req: &Request) -> Response {
        let (max, answer) = match self.body_limit(req.method(), req.uri().path()) {
            BodyLimit::Read { max, answer } => (max, answer),
            BodyLimit::Stream => (limits::FORM_BODY_LIMIT, TooLarge::Page),
        };
        let limit = limits::describe(max);
        let failure = match answer {
            TooLarge::Json => Failure::Json(
                StatusCode::PAYLOAD_TOO_LARGE,
                OAuthError::invalid_request(format!("the request body is larger than {limit}, this endpoint's limit")),
            ),
            TooLarge::Page => PageError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request too large",
                format!("The form sent more than keyedge accepts ({limit}). Nothing was changed; please go back and try again."),
            )
            .into(),
        };
        self.refusal(req, failure)
    }

    /// The refusal of a request with headers keyedge cannot read ([`web::UnreadableHeader`]):
    /// `400` for a control character, `431` for more headers than it holds; an OAuth
    /// `invalid_request` for the endpoints applications call, a page for the others (a gated
    /// site's pages too). Nothing was done with the request.
    pub fn unreadable_header(&self, refused: &web::UnreadableHeader) -> Response {
        let req = &refused.head;
        let (status, problem) = match &refused.why {
            web::Unreadable::ControlCharacter(name) => {
                // A name as sent (a token, but not necessarily one): shown only when it is one,
                // lowercased as `http` would (not through its `Display`, whose table of the
                // standard names would weigh 1.4 KB in the module for this page alone).
                let header = match http::HeaderName::from_bytes(name.as_bytes()) {
                    Ok(_) => format!("the header {}", name.to_ascii_lowercase()),
                    Err(_) => "a header".to_owned(),
                };
                (StatusCode::BAD_REQUEST, format!("{header} holds a control character, which HTTP does not allow"))
            }
            web::Unreadable::TooMany => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request has more headers than keyedge reads".to_owned(),
            ),
        };
        let own = self.config.mount.internal(req.uri().path());
        let failure = if own.is_some_and(limits::called_by_applications) {
            Failure::Json(status, OAuthError::invalid_request(problem))
        } else {
            PageError::new(status, "Bad request", format!("The request was refused: {problem}. Nothing was changed."))
                .into()
        };
        self.refusal(req, failure)
    }

    /// `failure` as keyedge's answer to `req` before it did anything with it: readable by any
    /// origin on the endpoints that are, and hardened.
    fn refusal(&self, req: &Request, failure: Failure) -> Response {
        let mut res = failure.into_response(self.ui(req));
        let own = self.config.mount.internal(req.uri().path());
        if own.is_some_and(|own| CORS_PATHS.contains(&own)) {
            web::allow_any_origin(&mut res);
        }
        self.harden(res)
    }

    /// The page (or OAuth error) for a failure. Storage and network failures, and failures
    /// whose details are the operator's, are logged under a reference the visitor sees.
    pub fn failure_response(&self, req: &Request, ports: &Ports<'_>, failure: Failure) -> Response {
        let (method, path) = (req.method(), req.uri().path());
        let detail = match &failure {
            Failure::Port(e) => Some(format!("storage or network failure on {method} {path}: {e}")),
            Failure::Internal(detail) => Some(format!("internal error on {method} {path}: {detail}")),
            Failure::Logged { detail, .. } => Some(format!("{method} {path}: {detail}")),
            _ => None,
        };
        // `path` as requested: one outside the issuer's path is a site's page, never JSON.
        let json = self.config.mount.internal(path).is_some_and(limits::called_by_applications);
        let failure = if json { failure.as_json() } else { failure };
        let failure = match detail {
            Some(detail) => {
                let reference = error::new_reference(ports.rng);
                (ports.log)(&error::reference_line(&reference, &detail));
                failure.with_reference(&reference)
            }
            None => failure,
        };
        failure.into_response(self.ui(req))
    }

    async fn route(&self, req: &Request, ports: &Ports<'_>) -> Outcome {
        super::throttle::by_ip(ports, req).await?;
        self.pick(req, ports).await
    }

    /// The route for `req`, as a future of its own, picked without awaiting anything: the
    /// router is one small function and one await instead of a state machine with a state per
    /// route, whose code every isolate's first request compiled whole (docs/performance.md,
    /// *Cold start*).
    ///
    /// The sign-in pages are picked first, by a function of their own: an isolate whose first
    /// request is an app's user's (the login page, answered at once) compiles only these arms,
    /// not the whole router (11 KB of wasm; docs/performance.md, *What changed*).
    fn pick<'a>(&'a self, req: &'a Request, ports: &'a Ports<'a>) -> Routed<'a> {
        let method = req.method();
        let get = method == Method::GET || method == Method::HEAD;
        match req.uri().path() {
            "/authorize" if get || method == Method::POST => apart(self.authorize(req, ports)),
            "/login" if get => apart(self.login(req, ports)),
            "/login/discover" if get => done(login::discover(self, req)),
            _ => self.pick_other(req, ports),
        }
    }

    /// Every route but the sign-in pages' ([`Self::pick`]).
    #[inline(never)]
    fn pick_other<'a>(&'a self, req: &'a Request, ports: &'a Ports<'a>) -> Routed<'a> {
        let path = req.uri().path();
        let method = req.method();
        let get = method == Method::GET || method == Method::HEAD;
        let post = method == Method::POST;
        if let Some(rest) = path.strip_prefix("/admin/") {
            return apart(self.admin(ports, req, rest));
        }
        if let Some(rest) = path.strip_prefix("/broker/") {
            return match rest.split_once('/') {
                Some((alias, "login")) if get => apart(login::begin(self, ports, req, alias)),
                Some((alias, "endpoint")) if get => apart(callback::endpoint(self, ports, req, alias)),
                Some((alias, "endpoint")) if post => apart(form_post::receive(self, ports, req, alias)),
                #[cfg(keyedge_saml)]
                Some((alias, "endpoint/descriptor")) if get => match self.config.provider(alias) {
                    Some(idp @ IdentityProvider { kind: ProviderKind::Saml(cfg), .. }) => {
                        done(crate::core::broker::saml::descriptor(self, idp, cfg))
                    }
                    _ => done(not_found()),
                },
                Some((alias, "link")) if post => match self.session_form(req) {
                    Ok(form) => apart(login::begin_link(self, ports, req, form, alias)),
                    Err(answer) => done(*answer),
                },
                Some((alias, "link")) if get => {
                    navigating(req, || apart(login::begin_client_link(self, ports, req, alias)))
                }
                Some((alias, "link/confirm")) if post => match self.session_form(req) {
                    Ok(form) => apart(login::confirm_client_link(self, ports, req, form, alias)),
                    Err(answer) => done(*answer),
                },
                Some((alias, "token")) if get => apart(stored_tokens::token_endpoint(self, ports, req, alias)),
                Some((_, "token")) if method == Method::OPTIONS => done(Ok(web::cors_preflight())),
                Some((alias, "backchannel_logout")) if post => {
                    apart(upstream_session::backchannel_logout(self, ports, req, alias))
                }
                Some((_, "logout_response")) if get => done(upstream_session::logout_response(self, req)),
                _ => done(not_found()),
            };
        }
        match path {
            "/" if get => apart(account::home(self, ports, req)),
            "/.well-known/openid-configuration" if get => done(Ok(self.discovery_document())),
            "/jwks" if get => apart(async move {
                self.keys.ready(ports.crypto).await?;
                Ok(self.jwks_document(self.keys.jwks_json()))
            }),
            "/token" if post => apart(token::token(self, ports, req)),
            "/introspect" if post => apart(introspect::introspect(self, ports, req)),
            "/revoke" if post => apart(introspect::revoke(self, ports, req)),
            "/token" | "/introspect" | "/revoke" => done(Err(method_not_allowed())),

            "/userinfo" if get || post => apart(userinfo::userinfo(self, ports, req)),
            "/account" if get => navigating(req, || apart(account::account(self, ports, req))),
            "/first-login/review" if post => match self.pending_form(req) {
                Ok(form) => apart(first_login::review(self, ports, req, form)),
                Err(answer) => done(*answer),
            },
            "/first-login/confirm" if post => match self.pending_form(req) {
                Ok(form) => apart(first_login::confirm(self, ports, req, form)),
                Err(answer) => done(*answer),
            },
            "/first-login/verify-email" if get => {
                navigating(req, || apart(first_login::verify_email(self, ports, req)))
            }
            "/dev/inbox" if get && matches!(self.config.mail, Some(MailSender::DevInbox)) => apart(async move {
                let to = Params::from_query(req).get("to").unwrap_or("").to_owned();
                Ok(web::json_no_store(StatusCode::OK, crate::core::mail::dev_inbox(ports, &to).await?))
            }),
            #[cfg(keyedge_faults)]
            "/dev/faults" if self.config.fault_injection && (get || post) => done(self.dev_faults(req, post)),
            #[cfg(any(not(target_arch = "wasm32"), keyedge_storage_conformance))]
            "/dev/conformance" if post && self.config.storage_conformance => apart(async move {
                let subject = super::ports::conformance::Subject {
                    once: ports.once,
                    store: ports.store,
                    rng: ports.rng,
                    // The Durable Object's clock moves for the run (a dev build's adapter);
                    // KV's expiry is the platform's and cannot.
                    once_clock: ports.once.time_travel(),
                    store_clock: None,
                };
                let report = serde_json::to_string(&super::ports::conformance::run(&subject).await)
                    .map_err(|e| Failure::internal(format!("the conformance report does not serialise: {e}")))?;
                Ok(web::json_no_store(StatusCode::OK, report))
            }),
            p if post && p.starts_with("/account/unlink/") => match self.session_form(req) {
                Ok(form) => apart(account::unlink(self, ports, form, &p["/account/unlink/".len()..])),
                Err(answer) => done(*answer),
            },
            p if post && p.starts_with("/account/sessions/") && p.ends_with("/end") => {
                let sid = &p["/account/sessions/".len()..p.len() - "/end".len()];
                match self.session_form(req) {
                    Ok(form) => apart(account::end_session(self, ports, form, sid)),
                    Err(answer) => done(*answer),
                }
            }
            p if get && p.starts_with("/first-login/reauthenticate/") => navigating(req, || {
                apart(first_login::reauthenticate(self, ports, req, &p["/first-login/reauthenticate/".len()..]))
            }),
            // Also the RP-initiated logout endpoint, which other sites may post to: a post
            // without the form's token asks the user, as a GET does. Never to a script: the
            // question carries the session's token (`logout` asks only top-level navigations).
            "/logout" if get || post => {
                let form = if post { self.session_form(req).ok() } else { None };
                apart(logout::logout(self, ports, req, form))
            }
            logout::DONE_PATH if get => done(Ok(logout::done(self, req))),
            super::mount::BACKCHANNEL_LOGOUT if post => {
                apart(upstream_session::realm_backchannel_logout(self, ports, req))
            }
            p if get && p == self.css_path => done(Ok(web::static_asset("text/css; charset=utf-8", pages::CSS))),
            _ => done(not_found()),
        }
    }

    /// `/admin/{rest}`: the admin API, compiled into the Worker only for a configuration that
    /// enables it (`admin_token_env`, build.rs); natively always.
    #[cfg(keyedge_admin)]
    async fn admin(&self, ports: &Ports<'_>, req: &Request, rest: &str) -> Outcome {
        apart(super::admin::handle(self, ports, req, rest)).await
    }

    /// `/admin/{rest}` in a Worker whose configuration has no admin API: not enabled.
    #[cfg(not(keyedge_admin))]
    async fn admin(&self, _: &Ports<'_>, _: &Request, _: &str) -> Outcome {
        Err(super::admin::not_enabled())
    }

    /// The guard of the forms of a signed-in user (CSRF, see [`csrf`]). `Err` is the answer
    /// instead: a refusal, or, when the browser has no session, the way to sign in.
    fn session_form<'r>(&self, req: &'r Request) -> Result<Checked<'r, SessionCookie>, Box<Outcome>> {
        let cookie = self.cookies().get(req, session::COOKIE);
        csrf::check(&self.csrf, &self.origin, req, cookie).map_err(|refusal| match refusal {
            Refusal::NoCookie => Box::new(Ok(web::redirect(&self.config.sign_in_to_account()))),
            refusal => Box::new(Err(refused(refusal, Some("/account")))),
        })
    }

    /// The guard of the first-login forms (CSRF, see [`csrf`]). `Err` is the answer instead:
    /// a refusal, or, when the browser has no pending login, "sign-in expired".
    fn pending_form<'r>(&self, req: &'r Request) -> Result<Checked<'r, PendingLoginCookie>, Box<Outcome>> {
        let cookie = self.cookies().get(req, first_login::PENDING_COOKIE);
        csrf::check(&self.csrf, &self.origin, req, cookie).map_err(|refusal| match refusal {
            Refusal::NoCookie => Box::new(Err(first_login::expired())),
            refusal => Box::new(Err(refused(refusal, None))),
        })
    }

    /// `/authorize` (OIDC Core §3.1.2): validate, then either finish at once from the
    /// session, or show the login page.
    async fn authorize(&self, req: &Request, ports: &Ports<'_>) -> Outcome {
        let params = if req.method() == Method::POST { Params::from_form(req) } else { Params::from_query(req) };
        let issuer = &self.config.issuer;
        let (request, client) = match AuthorizationRequest::validate(&self.config, &params) {
            Ok(ok) => ok,
            Err(AuthorizeError::Page(p)) => return Err(p.into()),
            Err(AuthorizeError::Redirect { target, error }) => return Ok(target.error(issuer, &self.css_url, &error)),
        };
        let target = request.target();
        let now = ports.clock.now();
        // A hint that does not verify is an invalid request; one about another user means the
        // current session cannot answer it (OIDC Core §3.1.2.1, id_token_hint).
        let hinted_sub = match &request.id_token_hint {
            Some(hint) => match self.keys.verify_id_token_hint_with::<IdTokenSubject>(ports.crypto, hint).await {
                Ok(h) if h.iss == *issuer => Some(h.sub),
                _ => {
                    let e = OAuthError::invalid_request("id_token_hint is not an ID token issued by keyedge");
                    return Ok(target.error(issuer, &self.css_url, &e));
                }
            },
            None => None,
        };
        let session = session::current(ports, self.cookies(), req)
            .await?
            .filter(|s| request.max_age.is_none_or(|max| now - s.auth_time <= max as i64))
            .filter(|s| hinted_sub.as_ref().is_none_or(|sub| *sub == s.user_id))
            .filter(|s| client.allows_idp(&s.idp));
        let fresh_login_required =
            request.has_prompt(PromptValue::Login) || request.has_prompt(PromptValue::SelectAccount);
        match session {
            Some(s) if !fresh_login_required => {
                // Without a marker the code is always stored.
                let code::Issued::Sent(res) = code::issue(self, ports, &request, &s, None).await? else {
                    return Err(Failure::internal("a code without an upstream marker was not stored"));
                };
                session::seen(ports, &s).await?;
                return Ok(res);
            }
            _ => {}
        }
        // kc_idp_hint (or a client with a single allowed, default IdP): skip the login page.
        let usable = |p: &IdentityProvider| p.enabled && !p.link_only && client.allows_idp(&p.alias);
        let hint = request.kc_idp_hint.as_deref().and_then(|h| self.config.provider(h)).filter(|p| usable(p));
        let direct =
            hint.or_else(|| self.config.identity_providers.iter().find(|p| usable(p) && p.authenticate_by_default));
        if request.has_prompt(PromptValue::None) {
            // Only an IdP that accepts a forwarded `prompt=none` can answer without the user.
            let forwards =
                |p: &&IdentityProvider| matches!(&p.kind, ProviderKind::Oidc(c) if c.accepts_prompt_none_forward);
            if direct.filter(forwards).is_none() {
                let e = OAuthError::new(ErrorCode::LoginRequired, "the user must sign in");
                return Ok(target.error(issuer, &self.css_url, &e));
            }
        }
        let direct = direct.map(|p| p.alias.clone());
        let continuation = login::Continuation::Authorize { request: Box::new(request) };
        if let Some(alias) = direct {
            return Ok(web::redirect(&continuation.start_url(self, &alias)));
        }
        login::login_page(self, req, Some(client), &continuation)
    }

    /// `/login?return_to=…`: sign in to keyedge itself (the account page).
    async fn login(&self, req: &Request, ports: &Ports<'_>) -> Outcome {
        let params = Params::from_query(req);
        let path = login::safe_return_to(self, params.get("return_to"));
        if session::current(ports, self.cookies(), req).await?.is_some() {
            return Ok(web::redirect(&path));
        }
        login::login_page(self, req, None, &login::Continuation::ReturnTo { path })
    }
}

/// Pages of the account and of the linking flows answer top-level navigations only.
pub(crate) fn navigation(req: &Request) -> Result<(), Failure> {
    csrf::navigation_only(req).map_err(|refusal| refused(refusal, None))
}

/// The page for a request the CSRF guard refused; nothing was changed.
fn refused(refusal: Refusal, retry: Option<&str>) -> Failure {
    let message = match refusal {
        Refusal::CrossOrigin => "This request came from another site, not from a keyedge page. Nothing was changed.",
        Refusal::NotNavigation => {
            "keyedge answers this page only when you open it yourself, not to a script. Nothing was changed."
        }
        Refusal::NoCookie | Refusal::BadToken => {
            "This form has expired or was not made for this browser. Nothing was changed: reload the page and try again."
        }
    };
    let page = PageError::new(StatusCode::FORBIDDEN, "Request refused", message);
    match retry {
        Some(url) => page.with_retry(url).into(),
        None => page.into(),
    }
}

fn not_found() -> Outcome {
    Err(no_page().into())
}

fn no_page() -> PageError {
    PageError::new(StatusCode::NOT_FOUND, "Not found", "There is no page at this address.")
}

fn method_not_allowed() -> Failure {
    Failure::Json(StatusCode::METHOD_NOT_ALLOWED, OAuthError::invalid_request("use POST"))
}

/// The claims of an `id_token_hint` keyedge looks at.
#[derive(Clone, serde::Deserialize)]
struct IdTokenSubject {
    iss: String,
    sub: String,
}
