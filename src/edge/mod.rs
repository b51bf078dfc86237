//! The Worker shell: the fetch entry point, and adapters from the core's ports to Workers
//! KV, the `Once` Durable Object and `fetch`. No decisions are made here.

mod once;
mod ports;
mod rate_limit;
mod settle;
mod webcrypto;

use crate::core::gate::Reply;
use std::cell::OnceCell;
use std::rc::Rc;
use worker::{event, web_sys, Context, Env, Result};

use crate::core::error;
use crate::core::limits::BodyLimit;
use crate::core::logging;
use crate::core::ports::Jobs;
use crate::core::Keyedge;

thread_local! {
    // Built when the isolate starts (below), else on its first request; config and keys are
    // immutable afterwards.
    static APP: OnceCell<Result<Rc<Keyedge>, String>> = const { OnceCell::new() };
    // Whether requests may be answered at once (`AtOnce::plan`): the app was built at start
    // and the bindings every other request needs are there. A Worker deployed without them
    // answers every request with the same error page (`fetch`), not only those that use them.
    static AT_ONCE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn build(env: &Env) -> std::result::Result<Rc<Keyedge>, String> {
    let secret =
        |name: &str| env.secret(name).ok().map(|s| s.to_string()).or_else(|| env.var(name).ok().map(|v| v.to_string()));
    Keyedge::from_config_text(crate::EMBEDDED_CONFIG, &secret).map(Rc::new).map_err(|e| e.to_string())
}

fn app(env: &Env) -> std::result::Result<Rc<Keyedge>, String> {
    APP.with(|cell| cell.get_or_init(|| build(env)).clone())
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "cloudflare:workers")]
extern "C" {
    /// The Worker's bindings outside any request: its vars and secrets can be read while the
    /// isolate starts (no I/O is allowed then, and building the app does none).
    #[wasm_bindgen(thread_local_v2, js_name = env)]
    static START_ENV: wasm_bindgen::JsValue;
}

/// Runs once, while the Worker's module is evaluated (before its first request; Cloudflare
/// starts an isolate during the TLS handshake that precedes that request).
#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
    settle::install();
    // The configuration is read and the keys decoded here, so that a visitor's first request
    // does not wait for them. Only a success is kept: a failure is left for the first request,
    // which builds again with its own `env` and logs what is wrong under its request id.
    let env = START_ENV.with(|env| env.is_object().then(|| wasm_bindgen::JsCast::unchecked_into::<Env>(env.clone())));
    if let Some(env) = env {
        if let Ok(app) = build(&env) {
            let bound = ports::EdgePorts::new(&env, from_assets(&app)).is_ok();
            APP.with(|cell| {
                let _ = cell.set(Ok(app));
            });
            AT_ONCE.with(|at_once| at_once.set(bound));
        }
    }
    prime_conversions();
}

/// The shell's conversions that every request runs (the request head, as the shell read it,
/// into `http`, keyedge's answer into the runtime's `Response`), once on a made-up request and
/// answer: V8 compiles a wasm function on its first call, so their code is compiled while the
/// isolate starts instead of during a visitor's first request. Nothing is sent or kept;
/// creating responses is allowed outside a request, I/O is not (and none is done).
fn prime_conversions() {
    if let Some(pairs) = crate::core::header_lines::read("accept\ntext/html\n") {
        let _ = ports::request_head("GET", "http://localhost/", &pairs);
    }
    let answer = http::Response::builder().header(http::header::CONTENT_TYPE, "text/plain").body(Vec::new());
    if let Ok(answer) = answer {
        let _ = ports::from_http_response(answer);
    }
}

/// The Worker's `fetch` for every request not answered at once: `src/edge/worker.mjs` calls
/// [`FullPath::serve`] with its promise's `resolve` and `reject`. (A class, so that the function
/// is the shell's to call and not a method of the Worker's entrypoint, which another Worker
/// bound to this one could call over RPC.)
#[wasm_bindgen::prelude::wasm_bindgen]
pub struct FullPath;

#[wasm_bindgen::prelude::wasm_bindgen]
impl FullPath {
    /// Answers `req`, whose `method`, `url` and headers (as header lines, `name\nvalue\n…`) the
    /// shell has read in one go, as for [`AtOnce::plan`]: its future runs on [`settle::Task`],
    /// polled where the promises it awaits settle, instead of on `wasm-bindgen-futures`'
    /// executor. What the `worker` crate's `#[event(fetch)]` made of an error, this makes too:
    /// the error logged and a bare 500.
    #[allow(clippy::too_many_arguments)]
    pub fn serve(
        req: web_sys::Request,
        method: String,
        url: String,
        headers: String,
        env: Env,
        ctx: worker::worker_sys::Context,
        resolve: js_sys::Function,
        reject: js_sys::Function,
    ) {
        settle::Task::spawn(async move {
            let read = Read { method, url, headers };
            let answer = fetch(req, read, env, Context::new(ctx)).await.or_else(|e| {
                worker::console_error!("{e}");
                let init = web_sys::ResponseInit::new();
                init.set_status(500);
                web_sys::Response::new_with_opt_str_and_init(Some("INTERNAL SERVER ERROR"), &init)
            });
            let _ = match answer {
                Ok(page) => resolve.call1(&wasm_bindgen::JsValue::UNDEFINED, &page),
                Err(e) => reject.call1(&wasm_bindgen::JsValue::UNDEFINED, &e),
            };
        });
    }
}

/// What the shell read of a request in one go: its method, URL and headers as header lines.
struct Read {
    method: String,
    url: String,
    headers: String,
}

async fn fetch(req: web_sys::Request, read: Read, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let started = js_sys::Date::now();
    // The shell writes the lines (`headerLines`): they are never malformed unless it is wrong.
    let pairs = crate::core::header_lines::read(&read.headers);
    let request_id = request_id_for(pairs.as_ref().and_then(|pairs| ray(pairs)));
    let log_error = |line: &str| worker::console_error!("{}", logging::event(&request_id, "error", line));
    // What went wrong (a start-up error names config fields and secrets) is for the log; the
    // visitor gets a general page with the reference of that log line.
    let page = match app(&env) {
        Ok(app) => match serve(&app, &req, &read, pairs.as_deref(), &env, ctx, &request_id).await {
            Ok(page) => page,
            Err(e) => {
                let detail = format!("{} {}: {e}", read.method, url_path(&read.url));
                ports::from_http_response(error::cannot_serve(&detail, &ports::CryptoRng, &log_error))?
            }
        },
        Err(message) => {
            let detail = format!("keyedge cannot start: {message}");
            ports::from_http_response(error::cannot_serve(&detail, &ports::CryptoRng, &log_error))?
        }
    };
    Ok(stamped(page, &read.method, &read.url, &request_id, started))
}

/// Cloudflare's ray id among a request's header pairs (the first), so keyedge's lines match
/// the platform's.
fn ray(pairs: &[(&str, &str)]) -> Option<String> {
    pairs.iter().find(|(name, _)| name.eq_ignore_ascii_case("cf-ray")).map(|(_, value)| (*value).to_owned())
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's random UUID: one call, where `getrandom`'s first draw in an isolate sets
    /// up its source and an encoding runs after it. Only within a request: workerd throws
    /// when random values are asked for at the module's global scope (never call it from
    /// `start` or `prime_conversions`).
    #[wasm_bindgen(js_namespace = crypto, js_name = randomUUID)]
    fn random_uuid() -> String;
}

/// The request id for a request whose `cf-ray` header is `ray`: that, else a random UUID
/// (a request without one is a local one: Cloudflare gives every request its ray).
fn request_id_for(ray: Option<String>) -> String {
    ray.unwrap_or_else(random_uuid)
}

/// `page` with its request id; a failed one is logged.
fn stamped(page: web_sys::Response, method: &str, url: &str, request_id: &str, started: f64) -> web_sys::Response {
    let _ = page.headers().set("x-request-id", request_id);
    logged(page.status(), method, url, request_id, started);
    page
}

/// Cloudflare records every request itself (Workers Logs); keyedge adds a line only for the
/// ones that failed, where its request id ties the user's error page to the events.
/// (The check is inlined where it is called: a request that did not fail does not compile the
/// line's code on an isolate's first request.)
#[inline(always)]
fn logged(status: u16, method: &str, url: &str, request_id: &str, started: f64) {
    if status >= 500 {
        log_failed(status, method, url, request_id, started);
    }
}

#[inline(never)]
fn log_failed(status: u16, method: &str, url: &str, request_id: &str, started: f64) {
    let path = url_path(url);
    worker::console_error!("{}", logging::access(request_id, method, &path, status, js_sys::Date::now() - started));
}

/// A request the Worker's JavaScript shell (src/edge/worker.mjs) answers without a Rust
/// future: [`AtOnce::plan`] answers, in one call, a request that needs no storage, upstream or
/// platform call ([`Keyedge::answer_at_once`], the same code as every request's: a gated site's
/// page on a fresh pass, the discovery document, the JWKS, the login page for a browser
/// without a session). A site page comes back as an `AtOnce`: the shell fetches it and hands
/// the site's answer to [`AtOnce::finish`]. Every other request, and one of these that would
/// wait on I/O, takes [`FullPath::serve`] above.
#[wasm_bindgen::prelude::wasm_bindgen]
pub struct AtOnce {
    forward: Box<crate::core::gate::Forward>,
    /// The request to send to the site (the browser's body streams on in it).
    request: web_sys::Request,
    /// The browser's request, for the failure page.
    head: http::Request<Vec<u8>>,
    request_id: String,
    started: f64,
}

#[wasm_bindgen::prelude::wasm_bindgen]
impl AtOnce {
    /// For `req` (its `method`, `url`, its headers as header lines, `name\nvalue\n…`, read by
    /// the shell in one go, and whether it has a body): keyedge's answer as `[status, header
    /// lines, body, request id, reusable]` ([`ports::answer_parts`]) for the shell to make into
    /// a `Response` (the discovery document, the way to the login page, a path's canonical
    /// spelling…), an `AtOnce` to fetch from the gated
    /// site, or `undefined`: `req` is to take the full path ([`FullPath::serve`]). The request
    /// and the answer cross as these few values rather than through a call per property,
    /// header or setting of the runtime's objects.
    pub fn plan(
        req: &web_sys::Request,
        method: &str,
        url: &str,
        headers: &str,
        has_body: bool,
    ) -> wasm_bindgen::JsValue {
        let undefined = wasm_bindgen::JsValue::UNDEFINED;
        if !AT_ONCE.with(std::cell::Cell::get) {
            return undefined;
        }
        // The app borrowed where it is kept (no count of its `Rc` raised and dropped again).
        APP.with(|cell| {
            let Some(Ok(app)) = cell.get() else { return undefined };
            // The URL parsed once: for the route, then as the request head's.
            let Ok(uri) = url.parse::<http::Uri>() else { return undefined };
            if !app.answers_at_once(method, uri.path(), has_body) {
                return undefined;
            }
            let started = js_sys::Date::now();
            let Some(head) = ports::request_head_from(method, uri, headers) else { return undefined };
            // As the runtime gave it (a string, so UTF-8 here), as the full path reads it.
            let ray = head.headers().get("cf-ray").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let request_id = request_id_for(ray);
            let log = |line: &str| worker::console_error!("{}", logging::event(&request_id, "error", line));
            let Some(reply) = app.answer_at_once(&head, &ports::SystemClock, &ports::CryptoRng, &log) else {
                return undefined;
            };
            let reusable = app.reusable(&head, &reply);
            match reply {
                Reply::Page(page) => {
                    logged(page.status().as_u16(), method, url, &request_id, started);
                    ports::answer_parts(page, &request_id, reusable)
                }
                Reply::Forward(forward) => match ports::site_request(&forward, req.body()) {
                    Ok(request) => AtOnce { forward, request, head, request_id, started }.into(),
                    Err(_) => undefined,
                },
            }
        })
    }

    /// The answers the shell keeps from the isolate's start, before any request
    /// ([`Keyedge::documents_at_start`](crate::core::Keyedge::documents_at_start): the discovery
    /// document), each as `[method, path, status, header lines, body]` ([`ports::kept_parts`]);
    /// none unless requests may be answered at once. Called by the shell's module as it is
    /// evaluated, after `start`: no clock, randomness or I/O is used.
    #[wasm_bindgen(js_name = atStart)]
    pub fn at_start() -> js_sys::Array {
        let kept = js_sys::Array::new();
        if !AT_ONCE.with(std::cell::Cell::get) {
            return kept;
        }
        APP.with(|cell| {
            if let Some(Ok(app)) = cell.get() {
                for (method, path, res) in app.documents_at_start() {
                    kept.push(&ports::kept_parts(method, &path, &res));
                }
            }
        });
        kept
    }

    /// The request to send to the site.
    #[wasm_bindgen(getter)]
    pub fn request(&self) -> web_sys::Request {
        Clone::clone(&self.request)
    }

    /// Whether the site is the Worker's static assets (`ASSETS`), else `fetch` of its origin.
    #[wasm_bindgen(getter, js_name = toAssets)]
    pub fn to_assets(&self) -> bool {
        self.forward.to_assets
    }

    /// The page for the site's answer `res`, with the gate's header changes.
    pub fn finish(self, res: web_sys::Response) -> std::result::Result<web_sys::Response, wasm_bindgen::JsValue> {
        match ports::site_answer(&self.forward, res) {
            Ok(page) => Ok(stamped(
                page,
                self.head.method().as_str(),
                &self.head.uri().to_string(),
                &self.request_id,
                self.started,
            )),
            Err(e) => self.failure(e),
        }
    }

    /// The page for a site that could not be reached: `error` is what `fetch` threw (as a
    /// string), or `undefined` when the `ASSETS` binding is missing.
    pub fn failed(self, error: Option<String>) -> std::result::Result<web_sys::Response, wasm_bindgen::JsValue> {
        let e = match error {
            None => crate::core::gate::Forward::no_assets(),
            Some(error) => crate::core::ports::PortError(format!("fetch: {error}")),
        };
        self.failure(e)
    }

    fn failure(
        self,
        e: crate::core::ports::PortError,
    ) -> std::result::Result<web_sys::Response, wasm_bindgen::JsValue> {
        let log = |line: &str| worker::console_error!("{}", logging::event(&self.request_id, "error", line));
        let page = APP.with(|cell| cell.get().and_then(|app| app.as_ref().ok().cloned())).map(|app| {
            let jobs = Jobs::default();
            let no_io = crate::core::ports::no_io::NoIo;
            let ports = crate::core::ports::Ports {
                store: &no_io,
                once: &no_io,
                http: &no_io,
                clock: &ports::SystemClock,
                rng: &ports::CryptoRng,
                log: &log,
                jobs: &jobs,
                crypto: None,
                site: None,
                limits: &no_io,
            };
            app.failure_response(&self.head, &ports, crate::core::error::Failure::Port(e))
        });
        // Without the app (it was there for the plan) or a page, the runtime's own error.
        let page = page.ok_or_else(|| wasm_bindgen::JsValue::from_str("keyedge: no app for the failure page"))?;
        let page = ports::from_http_response(page).map_err(wasm_bindgen::JsValue::from)?;
        Ok(stamped(page, self.head.method().as_str(), &self.head.uri().to_string(), &self.request_id, self.started))
    }
}

/// Whether the gate serves the site from the Worker's static assets: the `ASSETS` binding is
/// looked up only then.
fn from_assets(app: &Keyedge) -> bool {
    matches!(&app.config.gate, Some(g) if g.upstream == crate::core::config::SiteUpstream::Assets)
}

/// The path of a request URL, without its query (which carries codes and states).
fn url_path(url: &str) -> String {
    url.parse::<http::Uri>().map(|u| u.path().to_owned()).unwrap_or_default()
}

async fn serve(
    app: &Keyedge,
    req: &web_sys::Request,
    read: &Read,
    pairs: Option<&[(&str, &str)]>,
    env: &Env,
    ctx: Context,
    request_id: &str,
) -> Result<web_sys::Response> {
    let pairs = pairs.ok_or_else(|| worker::Error::RustError("request headers: malformed header lines".into()))?;
    let mut request = match ports::request_head(&read.method, &read.url, pairs)? {
        Ok(head) => head,
        // Headers `http` cannot hold: refused with its route's 400 or 431, the body unread.
        Err(unreadable) => return ports::from_http_response(app.unreadable_header(&unreadable)),
    };
    // The body, before anything else is done: read only up to its route's limit (a declared
    // length over it is refused unread), or left as a stream for a gated site's page.
    let mut site_body = None;
    let mut refused = None;
    match app.body_limit(request.method(), request.uri().path()) {
        BodyLimit::Stream => site_body = req.body(),
        BodyLimit::Read { max, .. } => match app.oversized(&request) {
            Some(res) => refused = Some(res),
            None => match ports::read_body(req, max).await? {
                Some(body) => *request.body_mut() = body,
                None => refused = Some(app.too_large(&request)),
            },
        },
    }
    let adapters = ports::EdgePorts::new(env, from_assets(app))?;
    let id = request_id.to_owned();
    let log = move |line: &str| worker::console_error!("{}", logging::event(&id, "error", line));
    let jobs = Jobs::default();
    let ports = adapters.ports(&log, &jobs);
    let reply = match refused {
        Some(res) => Reply::Page(res),
        None => app.respond(&request, &ports).await,
    };
    let page = match reply {
        Reply::Page(response) => ports::from_http_response(response)?,
        // A page the gate let through: its body streams from the site to the browser.
        Reply::Forward(forward) => match adapters.forward(&forward, site_body).await {
            Ok(forwarded) => forwarded,
            Err(e) => {
                ports::from_http_response(app.failure_response(&request, &ports, crate::core::error::Failure::Port(e)))?
            }
        },
    };
    let queued = jobs.take();
    if !queued.is_empty() {
        // After the response: a slow or failing client never holds up the user.
        let id = request_id.to_owned();
        ctx.wait_until(async move {
            let log = |line: &str| worker::console_error!("{}", logging::event(&id, "warn", line));
            for job in &queued {
                crate::core::jobs::run(job, &ports::FetchPort, &ports::DelaySleep, &log).await;
            }
        });
    }
    Ok(page)
}
