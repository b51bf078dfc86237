//! Port adapters over Workers bindings, and conversion between worker and `http` types.

use async_trait::async_trait;
use worker::{kv::KvStore, Env, Headers, Method, ObjectNamespace, Request, RequestInit, Response, Result};

use crate::core::ports::{
    Clock, Family, Http, Jobs, NewFamily, Once, PortError, Ports, Rng, Rotation, Sleep, Store, Taken,
};

const KV_BINDING: &str = "KEYEDGE_KV";
const ONCE_BINDING: &str = "KEYEDGE_ONCE";
const ASSETS_BINDING: &str = "ASSETS";

fn port_err(e: impl std::fmt::Display) -> PortError {
    PortError(e.to_string())
}

pub async fn to_http_request(mut req: Request) -> Result<http::Request<Vec<u8>>> {
    let body = match req.method() {
        Method::Get | Method::Head => Vec::new(),
        _ => req.bytes().await?,
    };
    let mut builder = http::Request::builder().method(req.method().as_ref()).uri(req.url()?.as_str());
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    builder.body(body).map_err(|e| worker::Error::RustError(e.to_string()))
}

pub fn from_http_response(res: http::Response<Vec<u8>>) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in res.headers() {
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    let status = res.status().as_u16();
    Ok(Response::from_bytes(res.into_body())?.with_status(status).with_headers(headers))
}

pub struct KvPort(KvStore);

#[async_trait(?Send)]
impl Store for KvPort {
    async fn get(&self, key: &str) -> std::result::Result<Option<String>, PortError> {
        self.0.get(key).text().await.map_err(port_err)
    }
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> std::result::Result<(), PortError> {
        let mut put = self.0.put(key, value).map_err(port_err)?;
        if let Some(ttl) = ttl {
            // KV refuses expirations under 60 seconds.
            put = put.expiration_ttl(ttl.max(60));
        }
        put.execute().await.map_err(port_err)
    }
    async fn delete(&self, key: &str) -> std::result::Result<(), PortError> {
        self.0.delete(key).await.map_err(port_err)
    }
    async fn list(&self, prefix: &str) -> std::result::Result<Vec<String>, PortError> {
        let listed = self.0.list().prefix(prefix.to_owned()).limit(1000).execute().await.map_err(port_err)?;
        Ok(listed.keys.into_iter().map(|k| k.name).collect())
    }
}

pub struct OncePort(ObjectNamespace);

impl OncePort {
    /// Items are spread over 64 objects by a hash of their routing part (before `|`, or the
    /// whole key), so no single object is a global bottleneck while keys that must change
    /// together (a code and its refresh family) land in the same object.
    fn shard(key: &str) -> String {
        let route = key.split_once('|').map_or(key, |(r, _)| r);
        let h = route.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        format!("once-{}", h % 64)
    }

    async fn call(&self, key: &str, body: serde_json::Value) -> std::result::Result<serde_json::Value, PortError> {
        let stub = self.0.get_by_name(&Self::shard(key)).map_err(port_err)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.to_string().into()));
        let req = Request::new_with_init("https://once/", &init).map_err(port_err)?;
        let mut res = stub.fetch_with_request(req).await.map_err(port_err)?;
        if res.status_code() != 200 {
            return Err(PortError(format!("once store answered {}", res.status_code())));
        }
        res.json().await.map_err(port_err)
    }
}

#[async_trait(?Send)]
impl Once for OncePort {
    async fn put(&self, key: &str, value: &str, ttl: u64) -> std::result::Result<(), PortError> {
        self.call(key, serde_json::json!({"op": "put", "key": key, "value": value, "ttl": ttl})).await.map(|_| ())
    }
    async fn take(&self, key: &str) -> std::result::Result<Taken, PortError> {
        let v = self.call(key, serde_json::json!({"op": "take", "key": key})).await?;
        let value = v.get("value").and_then(|v| v.as_str()).map(str::to_owned);
        Ok(match (v.get("state").and_then(|s| s.as_str()), value) {
            (Some("fresh"), Some(value)) => Taken::Fresh(value),
            (Some("replayed"), Some(value)) => Taken::Replayed(value),
            _ => Taken::Missing,
        })
    }
    async fn claim(&self, key: &str, owner: &str) -> std::result::Result<Option<String>, PortError> {
        let v = self.call(key, serde_json::json!({"op": "claim", "key": key, "owner": owner})).await?;
        Ok(v.get("existing").and_then(|e| e.as_str()).map(str::to_owned))
    }
    async fn unclaim(&self, key: &str, owner: &str) -> std::result::Result<(), PortError> {
        self.call(key, serde_json::json!({"op": "unclaim", "key": key, "owner": owner})).await?;
        Ok(())
    }
    async fn once_then_store(
        &self,
        marker: Option<(&str, u64)>,
        item: Option<(&str, &str, u64)>,
        family: Option<&NewFamily<'_>>,
    ) -> std::result::Result<bool, PortError> {
        let keys: Vec<&str> =
            marker.map(|m| m.0).into_iter().chain(item.map(|i| i.0)).chain(family.map(|f| f.key)).collect();
        let Some(first) = keys.first() else { return Ok(true) };
        if keys.iter().any(|k| Self::shard(k) != Self::shard(first)) {
            return Err(PortError(format!("{keys:?} do not route to one object")));
        }
        let op = serde_json::json!({
            "op": "once_then_store",
            "marker": marker.map(|(key, ttl)| serde_json::json!({"key": key, "ttl": ttl})),
            "item": item.map(|(key, value, ttl)| serde_json::json!({"key": key, "value": value, "ttl": ttl})),
            "family": family.map(|f| serde_json::json!({"key": f.key, "value": f.value, "current": f.current, "ttl": f.ttl_seconds})),
        });
        let v = self.call(first, op).await?;
        Ok(v.get("stored").and_then(|s| s.as_bool()).unwrap_or(false))
    }
    async fn family_rotate(&self, key: &str, presented: &str, next: &str) -> std::result::Result<Rotation, PortError> {
        let op = serde_json::json!({"op": "family_rotate", "key": key, "presented": presented, "next": next});
        let v = self.call(key, op).await?;
        let value = v.get("value").and_then(|v| v.as_str()).map(str::to_owned);
        Ok(match (v.get("state").and_then(|s| s.as_str()), value) {
            (Some("rotated"), Some(value)) => Rotation::Rotated(value),
            (Some("reused"), Some(value)) => Rotation::Reused(value),
            (Some("refused"), _) => Rotation::Refused,
            _ => Rotation::Missing,
        })
    }
    async fn family_revoke(&self, key: &str) -> std::result::Result<(), PortError> {
        self.call(key, serde_json::json!({"op": "family_revoke", "key": key})).await.map(|_| ())
    }
    async fn family_get(&self, key: &str) -> std::result::Result<Option<Family>, PortError> {
        let v = self.call(key, serde_json::json!({"op": "family_get", "key": key})).await?;
        let text = |name: &str| v.get(name).and_then(|x| x.as_str()).map(str::to_owned);
        Ok(match (text("value"), text("current")) {
            (Some(value), Some(current)) => {
                Some(Family { value, current, revoked: v.get("revoked").and_then(|r| r.as_bool()).unwrap_or(true) })
            }
            _ => None,
        })
    }
}

pub struct FetchPort;

#[async_trait(?Send)]
impl Http for FetchPort {
    async fn send(&self, request: http::Request<Vec<u8>>) -> std::result::Result<http::Response<Vec<u8>>, PortError> {
        let res = worker::Fetch::Request(to_worker_request(&request)?).send().await.map_err(port_err)?;
        from_worker_response(res).await
    }
}

/// The Worker's static assets (`[assets]` in wrangler.toml, `binding = "ASSETS"`).
pub struct AssetsPort(worker::Fetcher);

#[async_trait(?Send)]
impl Http for AssetsPort {
    async fn send(&self, request: http::Request<Vec<u8>>) -> std::result::Result<http::Response<Vec<u8>>, PortError> {
        let res = self.0.fetch_request(to_worker_request(&request)?).await.map_err(port_err)?;
        from_worker_response(res).await
    }
}

fn to_worker_request(request: &http::Request<Vec<u8>>) -> std::result::Result<Request, PortError> {
    let headers = Headers::new();
    for (name, value) in request.headers() {
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v).map_err(port_err)?;
        }
    }
    let method = Method::from(request.method().as_str().to_owned());
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if !request.body().is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(request.body().as_slice()).into()));
    }
    Request::new_with_init(&request.uri().to_string(), &init).map_err(port_err)
}

async fn from_worker_response(mut res: Response) -> std::result::Result<http::Response<Vec<u8>>, PortError> {
    let mut builder = http::Response::builder().status(res.status_code());
    for (name, value) in res.headers().entries() {
        builder = builder.header(name, value);
    }
    let body = res.bytes().await.map_err(port_err)?;
    builder.body(body).map_err(port_err)
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        (worker::Date::now().as_millis() / 1000) as i64
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

pub struct EdgePorts {
    kv: KvPort,
    once: OncePort,
    assets: Option<AssetsPort>,
}

impl EdgePorts {
    pub fn new(env: &Env, with_assets: bool) -> Result<Self> {
        Ok(Self {
            kv: KvPort(env.kv(KV_BINDING)?),
            once: OncePort(env.durable_object(ONCE_BINDING)?),
            assets: if with_assets { env.assets(ASSETS_BINDING).ok().map(AssetsPort) } else { None },
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
            rsa: Some(&super::webcrypto::WebCryptoRsa),
            site: self.assets.as_ref().map(|a| a as &dyn Http),
        }
    }
}

pub struct DelaySleep;

#[async_trait(?Send)]
impl Sleep for DelaySleep {
    async fn sleep(&self, millis: u64) {
        worker::Delay::from(std::time::Duration::from_millis(millis)).await;
    }
}
