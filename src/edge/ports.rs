//! Port adapters over Workers bindings, and conversion between worker and `http` types.

use crate::core::ports::once_protocol::{
    Claimed, Counted, Done, FamilyReply, FamilySpec, ItemSpec, Marked, MarkerSpec, OnceOp, RecordReply, RotateReply,
    Stored, Swapped, TakeReply,
};
use async_trait::async_trait;
use worker::{web_sys, Env, ObjectNamespace, Request, Result};

use crate::core::gate::Forward;
use crate::core::header_lines;
use crate::core::ports::{
    once_then_store_key, timed_out, Clock, Family, Http, Jobs, Marker, NewFamily, NewItem, Once, OnceKey, PortError,
    Ports, Rng, Rotation, RotationGrace, Sleep, Store, Taken, Timeout,
};
use crate::core::web::{self, UnreadableHeader};

const KV_BINDING: &str = "KEYEDGE_KV";
const ONCE_BINDING: &str = "KEYEDGE_ONCE";
const ASSETS_BINDING: &str = "ASSETS";

fn port_err(e: impl std::fmt::Display) -> PortError {
    PortError(e.to_string())
}

fn js_error(what: &str, e: wasm_bindgen::JsValue) -> worker::Error {
    worker::Error::RustError(format!("{what}: {e:?}"))
}

pub(super) fn js_port_error(what: &str, e: wasm_bindgen::JsValue) -> PortError {
    PortError(format!("{what}: {e:?}"))
}

/// The incoming request's head, without its body ([`read_body`] reads that, once its route's
/// limit is known), from what the Worker's JavaScript read of it in one go (`src/edge/worker.mjs`):
/// its method, URL and header pairs ([header lines](crate::core::header_lines), read with
/// [`header_lines::read`]). A header `http` cannot hold comes back as an [`UnreadableHeader`].
pub fn request_head(
    method: &str,
    url: &str,
    pairs: &[(&str, &str)],
) -> Result<std::result::Result<http::Request<Vec<u8>>, Box<UnreadableHeader>>> {
    let uri = url.parse::<http::Uri>().map_err(|e| worker::Error::RustError(e.to_string()))?;
    let method = self::method(method).map_err(|e| worker::Error::RustError(e.0))?;
    Ok(web::request_head(method, uri, pairs))
}

/// The request head from what the Worker's JavaScript read of it in one go (`AtOnce.plan`):
/// its method, URL (parsed) and its headers as [header lines](crate::core::header_lines).
/// `None` for malformed lines or a header keyedge cannot read: the full path then reads the
/// request again, and answers the latter with its refusal.
pub fn request_head_from(method: &str, uri: http::Uri, lines: &str) -> Option<http::Request<Vec<u8>>> {
    let pairs = header_lines::read(lines)?;
    web::request_head(self::method(method).ok()?, uri, &pairs).ok()
}

/// The runtime's method (a token, by the Fetch standard) as `http`'s.
fn method(method: &str) -> std::result::Result<http::Method, PortError> {
    http::Method::from_bytes(method.as_bytes()).map_err(|_| PortError(format!("method: {method:?}")))
}

/// The request's body, read chunk by chunk from its stream and at most `max` bytes of it:
/// `None` as soon as it runs past `max`, and the rest of the stream is cancelled unread, so a
/// body never takes more of the isolate's memory than its route allows, whatever its
/// `Content-Length` said (or without one, chunked).
pub async fn read_body(req: &web_sys::Request, max: usize) -> Result<Option<Vec<u8>>> {
    use wasm_bindgen::JsCast;
    // No body (a GET, most requests): nothing to wait for, so no promise is made.
    if req.body().is_none() {
        return Ok(Some(Vec::new()));
    }
    // The chunks are gathered in JavaScript: one crossing into wasm for the whole body
    // instead of a promise, a waker and two property reads per chunk.
    let read = super::settle::settled(read_limited(req, max as f64)).await.map_err(|e| js_error("request body", e))?;
    if read.is_null() {
        return Ok(None);
    }
    let bytes: js_sys::Uint8Array = read.dyn_into().map_err(|e| js_error("request body", e))?;
    Ok((bytes.length() as usize <= max).then(|| bytes.to_vec()))
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/edge/read_limited.js")]
extern "C" {
    /// The body of `request` as one `Uint8Array`, or `null` once it runs over `max` bytes.
    #[wasm_bindgen(js_name = readLimited)]
    fn read_limited(request: &web_sys::Request, max: f64) -> js_sys::Promise;
}

/// keyedge's answer as the Worker's JavaScript makes it into a `Response` (`AtOnce.plan`):
/// `[status, its header lines, body bytes or null, the request id for its `x-request-id`,
/// whether the shell may give it again]` ([`Keyedge::reusable`](crate::core::app::Keyedge::reusable)),
/// five values in one array.
pub fn answer_parts(res: http::Response<Vec<u8>>, request_id: &str, reusable: bool) -> wasm_bindgen::JsValue {
    let [status, headers, body] = status_lines_body(&res);
    js_sys::Array::of5(&status, &headers, &body, &request_id.into(), &reusable.into()).into()
}

/// An answer the shell keeps from the isolate's start (`AtOnce.atStart`): `[method, path,
/// status, its header lines, body bytes or null]`.
pub fn kept_parts(method: &str, path: &str, res: &http::Response<Vec<u8>>) -> wasm_bindgen::JsValue {
    let [status, headers, body] = status_lines_body(res);
    js_sys::Array::of5(&method.into(), &path.into(), &status, &headers, &body).into()
}

/// An answer's status, header lines and body (bytes, or null for none) as JavaScript values.
fn status_lines_body(res: &http::Response<Vec<u8>>) -> [wasm_bindgen::JsValue; 3] {
    let status = wasm_bindgen::JsValue::from(res.status().as_u16());
    let headers = wasm_bindgen::JsValue::from(header_lines::write(res.headers()));
    let body = res.body();
    let body =
        if body.is_empty() { wasm_bindgen::JsValue::NULL } else { js_sys::Uint8Array::from(body.as_slice()).into() };
    [status, headers, body]
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/edge/header_lines.mjs")]
extern "C" {
    /// The runtime's `Request` for a gated site's page, made in one call: its headers as
    /// header lines, a redirect never followed, the body a stream, bytes or none.
    #[wasm_bindgen(catch, js_name = siteRequest)]
    fn js_site_request(
        method: &str,
        url: &str,
        lines: &str,
        body: &wasm_bindgen::JsValue,
    ) -> std::result::Result<web_sys::Request, wasm_bindgen::JsValue>;

    /// A gated site's answer's headers as header lines, each `Set-Cookie` on its own.
    #[wasm_bindgen(catch, js_name = siteHeaderLines)]
    fn js_site_header_lines(res: &web_sys::Response) -> std::result::Result<String, wasm_bindgen::JsValue>;

    /// The site's answer as the browser gets it: its status, status text and body stream,
    /// with the headers of header lines, made in one call.
    #[wasm_bindgen(catch, js_name = siteAnswer)]
    fn js_site_answer(
        res: &web_sys::Response,
        lines: &str,
    ) -> std::result::Result<web_sys::Response, wasm_bindgen::JsValue>;

    /// The runtime's `Response` of a status, header lines and body bytes, made in one call.
    #[wasm_bindgen(catch, js_name = answer)]
    fn js_answer(
        status: u16,
        lines: &str,
        body: Option<&[u8]>,
    ) -> std::result::Result<web_sys::Response, wasm_bindgen::JsValue>;
}

/// The runtime's `Response` for keyedge's answer: one call, its headers as header lines
/// (src/edge/header_lines.mjs, `answer`).
pub fn from_http_response(res: http::Response<Vec<u8>>) -> Result<web_sys::Response> {
    let lines = header_lines::write(res.headers());
    let body = res.body();
    js_answer(res.status().as_u16(), &lines, (!body.is_empty()).then_some(body.as_slice()))
        .map_err(|e| js_error("response", e))
}

/// The `KEYEDGE_KV` namespace, called directly: a request that never touches KV pays nothing
/// for it (the `worker` crate's `KvStore` looks up five methods whenever it is made), and
/// each operation is one call and one promise.
pub struct KvPort(KvNamespace);

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A Workers KV namespace binding.
    #[wasm_bindgen(extends = js_sys::Object)]
    type KvNamespace;

    /// `get(key, "text")`: the value, or null.
    #[wasm_bindgen(method, catch, js_name = get)]
    fn get_text(
        this: &KvNamespace,
        key: &str,
        kind: &str,
    ) -> std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>;

    #[wasm_bindgen(method, catch)]
    fn put(
        this: &KvNamespace,
        key: &str,
        value: &str,
        options: &wasm_bindgen::JsValue,
    ) -> std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>;

    #[wasm_bindgen(method, catch)]
    fn delete(this: &KvNamespace, key: &str) -> std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>;

    #[wasm_bindgen(method, catch)]
    fn list(
        this: &KvNamespace,
        options: &wasm_bindgen::JsValue,
    ) -> std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>;
}

/// `put`'s options, as KV names them (`expirationTtl`, `metadata`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PutOptions<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_ttl: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
}

/// The part of `list`'s answer keyedge reads: the keys' names and metadata.
#[derive(serde::Deserialize)]
struct Listed {
    keys: Vec<ListedKey>,
}

#[derive(serde::Deserialize)]
struct ListedKey {
    name: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

impl KvPort {
    /// The namespace bound as `binding`, or an error naming it.
    fn bound(env: &Env, binding: &str) -> Result<Self> {
        use wasm_bindgen::JsCast;
        let namespace = js_sys::Reflect::get(env.as_ref(), &binding.into()).map_err(|e| js_error(binding, e))?;
        if !namespace.is_object() {
            return Err(worker::Error::RustError(format!("no KV namespace is bound as {binding}")));
        }
        Ok(KvPort(namespace.unchecked_into()))
    }

    async fn settle(
        what: &str,
        promise: std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>,
    ) -> std::result::Result<wasm_bindgen::JsValue, PortError> {
        let promise = promise.map_err(|e| js_port_error(what, e))?;
        super::settle::settled(promise).await.map_err(|e| js_port_error(what, e))
    }

    async fn put_with(&self, key: &str, value: &str, options: PutOptions<'_>) -> std::result::Result<(), PortError> {
        let options = js_sys::JSON::parse(&serde_json::to_string(&options).map_err(port_err)?)
            .map_err(|e| js_port_error("KV put options", e))?;
        Self::settle("KV put", self.0.put(key, value, &options)).await.map(|_| ())
    }

    async fn listed(&self, prefix: &str) -> std::result::Result<Listed, PortError> {
        let options = js_sys::JSON::parse(&serde_json::json!({ "prefix": prefix, "limit": 1000 }).to_string())
            .map_err(|e| js_port_error("KV list options", e))?;
        let listed = Self::settle("KV list", self.0.list(&options)).await?;
        let json = js_sys::JSON::stringify(&listed).map_err(|e| js_port_error("KV list", e))?;
        serde_json::from_str(&String::from(json)).map_err(port_err)
    }
}

#[async_trait(?Send)]
impl Store for KvPort {
    async fn get(&self, key: &str) -> std::result::Result<Option<String>, PortError> {
        Ok(Self::settle("KV get", self.0.get_text(key, "text")).await?.as_string())
    }
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> std::result::Result<(), PortError> {
        // KV refuses expirations under 60 seconds.
        self.put_with(key, value, PutOptions { expiration_ttl: ttl.map(|t| t.max(60)), metadata: None }).await
    }
    async fn delete(&self, key: &str) -> std::result::Result<(), PortError> {
        Self::settle("KV delete", self.0.delete(key)).await.map(|_| ())
    }
    async fn list(&self, prefix: &str) -> std::result::Result<Vec<String>, PortError> {
        Ok(self.listed(prefix).await?.keys.into_iter().map(|k| k.name).collect())
    }
    async fn put_with_metadata(
        &self,
        key: &str,
        value: &str,
        metadata: &str,
        ttl: Option<u64>,
    ) -> std::result::Result<(), PortError> {
        let options = PutOptions { expiration_ttl: ttl.map(|t| t.max(60)), metadata: Some(metadata) };
        self.put_with(key, value, options).await
    }
    async fn list_metadata(&self, prefix: &str) -> std::result::Result<Vec<(String, Option<String>)>, PortError> {
        Ok(self
            .listed(prefix)
            .await?
            .keys
            .into_iter()
            .map(|k| {
                let metadata = match k.metadata {
                    Some(serde_json::Value::String(s)) => Some(s),
                    _ => None,
                };
                (k.name, metadata)
            })
            .collect())
    }
}

pub struct OncePort {
    namespace: ObjectNamespace,
    /// Seconds the storage conformance run has moved the Durable Object's clock forward
    /// ([`Once::time_travel`]); sent with each operation while it is not zero. Development
    /// builds only (`[dev] storage_conformance`): no other Worker can move the clock.
    #[cfg(keyedge_storage_conformance)]
    skew: std::cell::Cell<u64>,
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A stub of the `OnceStore` Durable Object, seen through its RPC method.
    #[wasm_bindgen(extends = js_sys::Object)]
    type OnceRpc;

    #[wasm_bindgen(method, catch)]
    fn call(this: &OnceRpc, op: &str) -> std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>;

    /// `call` on the object's clock moved `skew` seconds forward (`OnceStore::call`).
    #[cfg(keyedge_storage_conformance)]
    #[wasm_bindgen(method, catch, js_name = call)]
    fn call_skewed(this: &OnceRpc, op: &str, skew: f64) -> std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>;
}

impl OncePort {
    fn new(namespace: ObjectNamespace) -> Self {
        Self {
            namespace,
            #[cfg(keyedge_storage_conformance)]
            skew: std::cell::Cell::new(0),
        }
    }

    /// One operation on the object that owns `key` ([`OnceKey::object_name`]), over Durable
    /// Object RPC (`OnceStore::call`): a JSON string each way, no Request or Response objects;
    /// the answer is read as the reply type of that operation (`core::ports::once_protocol`).
    async fn call<R: serde::de::DeserializeOwned>(
        &self,
        key: &OnceKey,
        op: &OnceOp,
    ) -> std::result::Result<R, PortError> {
        let stub: OnceRpc = self.namespace.get_by_name(&key.object_name()).map_err(port_err)?.into_rpc();
        let body = serde_json::to_string(op).map_err(port_err)?;
        #[cfg(keyedge_storage_conformance)]
        let promise = match self.skew.get() {
            0 => stub.call(&body),
            skew => stub.call_skewed(&body, skew as f64),
        };
        #[cfg(not(keyedge_storage_conformance))]
        let promise = stub.call(&body);
        let promise = promise.map_err(|e| js_port_error("once store", e))?;
        let answer = super::settle::settled(promise).await.map_err(|e| js_port_error("once store", e))?;
        let answer = answer.as_string().ok_or_else(|| PortError("once store: the answer is not text".into()))?;
        serde_json::from_str(&answer).map_err(port_err)
    }
}

#[async_trait(?Send)]
impl Once for OncePort {
    #[cfg(keyedge_storage_conformance)]
    fn time_travel(&self) -> Option<&dyn crate::core::ports::conformance::TimeTravel> {
        Some(self)
    }
    async fn put(&self, key: &OnceKey, value: &str, ttl: u64) -> std::result::Result<(), PortError> {
        let op = OnceOp::Put { key: key.clone(), value: value.into(), ttl };
        self.call::<Done>(key, &op).await.map(|_| ())
    }
    async fn take(&self, key: &OnceKey) -> std::result::Result<Taken, PortError> {
        Ok(self.call::<TakeReply>(key, &OnceOp::Take { key: key.clone() }).await?.into())
    }
    async fn claim(&self, key: &OnceKey, owner: &str) -> std::result::Result<Option<String>, PortError> {
        let op = OnceOp::Claim { key: key.clone(), owner: owner.into() };
        Ok(self.call::<Claimed>(key, &op).await?.existing)
    }
    async fn unclaim(&self, key: &OnceKey, owner: &str) -> std::result::Result<(), PortError> {
        let op = OnceOp::Unclaim { key: key.clone(), owner: owner.into() };
        self.call::<Done>(key, &op).await.map(|_| ())
    }
    async fn once_then_store(
        &self,
        marker: Option<Marker<'_>>,
        item: Option<NewItem<'_>>,
        family: Option<NewFamily<'_>>,
    ) -> std::result::Result<bool, PortError> {
        let Some(first) = once_then_store_key(marker, item, family)? else { return Ok(true) };
        let op = OnceOp::OnceThenStore {
            marker: marker.map(MarkerSpec::from),
            item: item.map(ItemSpec::from),
            family: family.map(FamilySpec::from),
        };
        Ok(self.call::<Stored>(first, &op).await?.stored)
    }
    async fn family_rotate_within(
        &self,
        key: &OnceKey,
        presented: &str,
        next: &str,
        grace: RotationGrace,
    ) -> std::result::Result<Rotation, PortError> {
        let op = OnceOp::FamilyRotate {
            key: key.clone(),
            presented: presented.into(),
            next: next.into(),
            grace: grace.seconds,
            max_reuse: grace.max_reuse,
        };
        Ok(self.call::<RotateReply>(key, &op).await?.into())
    }
    async fn family_revoke(&self, key: &OnceKey) -> std::result::Result<(), PortError> {
        self.call::<Done>(key, &OnceOp::FamilyRevoke { key: key.clone() }).await.map(|_| ())
    }
    async fn family_get(&self, key: &OnceKey) -> std::result::Result<Option<Family>, PortError> {
        Ok(self.call::<FamilyReply>(key, &OnceOp::FamilyGet { key: key.clone() }).await?.into())
    }
    async fn record_get(&self, key: &OnceKey) -> std::result::Result<Option<String>, PortError> {
        Ok(self.call::<RecordReply>(key, &OnceOp::RecordGet { key: key.clone() }).await?.value)
    }
    async fn record_swap(
        &self,
        key: &OnceKey,
        expected: Option<&str>,
        value: &str,
    ) -> std::result::Result<bool, PortError> {
        let op = OnceOp::RecordSwap { key: key.clone(), expected: expected.map(str::to_owned), value: value.into() };
        Ok(self.call::<Swapped>(key, &op).await?.swapped)
    }
    async fn count_use(&self, key: &OnceKey, max: u32, window: u64) -> std::result::Result<bool, PortError> {
        let op = OnceOp::CountUse { key: key.clone(), max, window };
        Ok(self.call::<Counted>(key, &op).await?.counted)
    }
    async fn mark(&self, key: &OnceKey, ttl: u64) -> std::result::Result<(), PortError> {
        self.call::<Done>(key, &OnceOp::Mark { key: key.clone(), ttl }).await.map(|_| ())
    }
    async fn marked(&self, key: &OnceKey) -> std::result::Result<bool, PortError> {
        Ok(self.call::<Marked>(key, &OnceOp::Marked { key: key.clone() }).await?.marked)
    }
}

pub struct FetchPort;

/// The most bytes keyedge reads of one answer from elsewhere (an IdP's discovery document,
/// key set, token and userinfo answers, one entity's SAML metadata, a client's answer to a
/// logout notice — kilobytes, in practice): a larger one is refused unread past this, so an
/// endpoint cannot fill the isolate's memory (128 MB, shared by its requests).
const MAX_UPSTREAM_ANSWER: usize = 4 * 1024 * 1024;

#[async_trait(?Send)]
impl Http for FetchPort {
    async fn send(&self, request: http::Request<Vec<u8>>) -> std::result::Result<http::Response<Vec<u8>>, PortError> {
        send_whole(&js_sys::global(), &request, MAX_UPSTREAM_ANSWER).await
    }
}

/// The Worker's static assets (`[assets]` in wrangler.toml, `binding = "ASSETS"`).
pub struct AssetsPort(worker::Fetcher);

#[async_trait(?Send)]
impl Http for AssetsPort {
    async fn send(&self, request: http::Request<Vec<u8>>) -> std::result::Result<http::Response<Vec<u8>>, PortError> {
        // The site's own files: no limit beyond the runtime's.
        send_whole(self.0.as_ref(), &request, 0).await
    }
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/edge/fetch_whole.js")]
extern "C" {
    /// `target.fetch` of one request, its headers as header lines, answered whole (`[status,
    /// header lines, body]`), or null once `seconds` (when > 0) have passed without the whole
    /// answer.
    #[wasm_bindgen(js_name = fetchWhole)]
    fn fetch_whole(
        target: &wasm_bindgen::JsValue,
        url: &str,
        method: &str,
        lines: &str,
        body: &[u8],
        seconds: f64,
        max: f64,
    ) -> js_sys::Promise;
}

/// `request` through `target` (`fetch`, or a binding's), its answer read whole by the runtime:
/// one crossing and one promise. A request carrying a [`Timeout`] gets its answer, body
/// included, within that time, or is aborted and fails with [`timed_out`]; with `max` > 0 an
/// answer over `max` bytes fails, read no further.
async fn send_whole(
    target: &wasm_bindgen::JsValue,
    request: &http::Request<Vec<u8>>,
    max: usize,
) -> std::result::Result<http::Response<Vec<u8>>, PortError> {
    use wasm_bindgen::JsCast;
    // No time at all is no answer (as the native harness has it); `seconds` 0 below is no limit.
    let seconds = match request.extensions().get::<Timeout>() {
        Some(Timeout(0)) => return Err(timed_out(0)),
        Some(Timeout(seconds)) => *seconds,
        None => 0,
    };
    let lines = header_lines::write(request.headers());
    let url = request.uri().to_string();
    let (method, body) = (request.method().as_str(), request.body());
    let promise = fetch_whole(target, &url, method, &lines, body, seconds as f64, max as f64);
    let answer = super::settle::settled(promise).await.map_err(|e| js_port_error("fetch", e))?;
    if answer.is_null() {
        return Err(timed_out(seconds));
    }
    let answer: js_sys::Array = answer.dyn_into().map_err(|e| js_port_error("fetch answer", e))?;
    let status = answer.get(0).as_f64().filter(|s| (100.0..1000.0).contains(s));
    let status = status.ok_or_else(|| PortError("fetch answer: no status".into()))? as u16;
    let lines = answer.get(1).as_string().ok_or_else(|| PortError("fetch answer: no headers".into()))?;
    let pairs = header_lines::read(&lines).ok_or_else(|| PortError("fetch answer: malformed header lines".into()))?;
    let body: js_sys::Uint8Array = answer.get(2).dyn_into().map_err(|e| js_port_error("fetch answer body", e))?;
    let mut builder = http::Response::builder().status(status);
    for (name, value) in pairs {
        builder = builder.header(name, value);
    }
    builder.body(body.to_vec()).map_err(port_err)
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        (js_sys::Date::now() / 1000.0) as i64
    }
}

pub struct CryptoRng;

impl Rng for CryptoRng {
    fn fill(&self, buf: &mut [u8]) {
        // crypto.getRandomValues cannot fail for buffers under 64 KiB. If it ever did, going
        // on would hand out predictable codes and session ids: stop the request instead.
        if let Err(e) = getrandom::getrandom(buf) {
            panic!("no secure randomness available: {e}");
        }
    }
}

/// The request for a page the gate let through; `body` is the browser's request body, unread
/// (streamed on to the site).
pub fn site_request(
    forward: &Forward,
    body: Option<web_sys::ReadableStream>,
) -> std::result::Result<web_sys::Request, PortError> {
    let lines = header_lines::write(&forward.headers);
    // A redirect from the site goes to the browser as the site gave it, never followed here
    // (`siteRequest`): following would send the visitor's cookies and keyedge's identity
    // headers to wherever the site points, and serve that answer's body on keyedge's origin.
    let body = match body {
        Some(stream) => wasm_bindgen::JsValue::from(stream),
        None if !forward.body.is_empty() => js_sys::Uint8Array::from(forward.body.as_slice()).into(),
        None => wasm_bindgen::JsValue::UNDEFINED,
    };
    js_site_request(forward.method.as_str(), &forward.url, &lines, &body).map_err(|e| js_port_error("request", e))
}

/// The site's answer `res` to a page the gate let through, with the gate's header changes
/// (`Forward::answer_headers`: the site's `Set-Cookie`s naming keyedge's cookies dropped, its
/// redirect to the origin made one to keyedge's site, a protected page marked private, a
/// renewed gate pass added). Two calls: the site's headers read as header lines, the answer
/// made with the marked ones. Its body is handed on as the stream it is (never copied into wasm).
pub fn site_answer(forward: &Forward, res: web_sys::Response) -> std::result::Result<web_sys::Response, PortError> {
    let lines = js_site_header_lines(&res).map_err(|e| js_port_error("headers", e))?;
    let site =
        header_lines::read(&lines).ok_or_else(|| PortError("the site's answer: malformed header lines".into()))?;
    let marked = header_lines::write_pairs(&forward.answer_headers(site))
        .ok_or_else(|| PortError("the site's answer: a header with a line break".into()))?;
    js_site_answer(&res, &marked).map_err(|e| js_port_error("response", e))
}

pub struct EdgePorts {
    kv: KvPort,
    once: OncePort,
    assets: Option<AssetsPort>,
    limits: super::rate_limit::RateLimits,
}

impl EdgePorts {
    /// Sends a page the gate let through and hands the upstream's body on as the stream it is
    /// (never copied into wasm), with the gate's header changes.
    /// `body` is the browser's request body, unread (the gate's pages stream it to the site).
    pub async fn forward(
        &self,
        forward: &Forward,
        body: Option<web_sys::ReadableStream>,
    ) -> std::result::Result<web_sys::Response, PortError> {
        let req = Request::from(site_request(forward, body)?);
        let res = match (forward.to_assets, &self.assets) {
            (true, Some(assets)) => assets.0.fetch_request(req).await,
            (true, None) => return Err(Forward::no_assets()),
            (false, _) => worker::Fetch::Request(req).send().await,
        }
        .map_err(port_err)?;
        site_answer(forward, res.into())
    }

    pub fn new(env: &Env, with_assets: bool) -> Result<Self> {
        Ok(Self {
            kv: KvPort::bound(env, KV_BINDING)?,
            once: OncePort::new(env.durable_object(ONCE_BINDING)?),
            assets: if with_assets { env.assets(ASSETS_BINDING).ok().map(AssetsPort) } else { None },
            limits: super::rate_limit::RateLimits::new(env),
        })
    }

    pub fn ports<'a>(&'a self, log: &'a dyn Fn(&str), jobs: &'a Jobs) -> Ports<'a> {
        Ports {
            store: &self.kv,
            once: &self.once,
            http: &FetchPort,
            clock: &SystemClock,
            rng: &CryptoRng,
            log,
            jobs,
            crypto: Some(&super::webcrypto::WebCryptoRsa),
            site: self.assets.as_ref().map(|a| a as &dyn Http),
            limits: &self.limits,
        }
    }
}

#[cfg(keyedge_storage_conformance)]
impl crate::core::ports::conformance::TimeTravel for OncePort {
    /// Moves the clock of every object this adapter calls from now on (one conformance run's
    /// objects); the objects' clocks for every other caller stay where they are.
    fn pass(&self, seconds: u64) {
        self.skew.set(self.skew.get() + seconds);
    }

    fn fresh_second(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
        // Into the next second, a few milliseconds past its start.
        let wait = 1005.0 - js_sys::Date::now() % 1000.0;
        Box::pin(async move { worker::Delay::from(std::time::Duration::from_millis(wait as u64)).await })
    }
}

pub struct DelaySleep;

#[async_trait(?Send)]
impl Sleep for DelaySleep {
    async fn sleep(&self, millis: u64) {
        worker::Delay::from(std::time::Duration::from_millis(millis)).await;
    }
}
