//! The in-memory harness: a relying party's view of keyedge, keyedge itself on in-memory
//! ports with a virtual clock, and a scriptable upstream OpenID Provider ("idp.test").
#![allow(dead_code)]

pub mod fake_idp;

use http::Response;
use keyedge::core::ports::kv_model::KvModel;
use keyedge::core::ports::memory::{MemoryHttp, MemoryOnce, SeededRng, VirtualClock};
use keyedge::core::ports::rate_limit::MemoryRateLimit;
use keyedge::core::ports::{Job, Jobs, Ports, Sleep};
use keyedge::core::Keyedge;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

pub use fake_idp::FakeIdp;

pub const ISSUER: &str = "https://keyedge.test";
pub const APP_REDIRECT: &str = "https://app.test/cb";
pub const APP_SECRET: &str = "app-secret-0123456789";
pub const IDP_SECRET: &str = "idp-secret-0123456789";
/// A client secret with the characters form encoding changes (`+`, `%`, space, `&`, `:`).
pub const ODD_SECRET: &str = "s3cr+t%2F va:lue&x";
pub const MACHINE_SECRET: &str = "machine-secret-0123456789";
pub const IDP2_SECRET: &str = "idp2-secret-0123456789";
pub const ADMIN_TOKEN: &str = "admin-token-0123456789-0123456789-0123456789";
pub const START: i64 = 1_800_000_000;

pub fn config_text() -> String {
    format!(
        r#"
issuer = "{ISSUER}"

[[clients]]
client_id = "app"
client_secret_env = "APP_SECRET"
redirect_uris = ["{APP_REDIRECT}", "https://app.test/other?keep=1"]
post_logout_redirect_uris = ["https://app.test/bye"]
backchannel_logout_uri = "https://app.test/backchannel"

[[clients]]
client_id = "spa"
redirect_uris = ["https://spa.test/cb"]

[[clients]]
client_id = "machine"
client_secret_env = "MACHINE_SECRET"
grant_types = ["client_credentials"]
allowed_scopes = ["reports"]

[[identity_providers]]
alias = "up"
display_name = "Upstream"
kind = "oidc"
issuer = "https://idp.test"
client_id = "keyedge-at-idp"
client_secret_env = "IDP_SECRET"
"#
    )
}

pub fn secrets(name: &str) -> Option<String> {
    match name {
        "SIGNING_KEY" => Some(include_str!("../../fixtures/keyedge-test-key.pem").to_owned()),
        "APP_SECRET" => Some(APP_SECRET.to_owned()),
        "IDP_SECRET" => Some(IDP_SECRET.to_owned()),
        "MACHINE_SECRET" => Some(MACHINE_SECRET.to_owned()),
        "IDP2_SECRET" => Some(IDP2_SECRET.to_owned()),
        "ADMIN_TOKEN" => Some(ADMIN_TOKEN.to_owned()),
        "ODD_SECRET" => Some(ODD_SECRET.to_owned()),
        // 32 test bytes, base64.
        "ENCRYPTION_KEY" => Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        _ => None,
    }
}

pub struct World {
    pub clock: VirtualClock,
    /// Workers KV as the platform behaves (a cache per location, 60 s staleness, one write
    /// per second to a key); `KEYEDGE_KV=strong` runs the suite on the strongly consistent twin.
    pub store: KvModel,
    pub once: MemoryOnce,
    pub http: MemoryHttp,
    pub rng: SeededRng,
    pub app: Keyedge,
    pub idp: Rc<FakeIdp>,
    pub log: RefCell<Vec<String>>,
    /// Stands in for WebCrypto: RS256 signatures made outside the core.
    pub rsa: ExternalRsa,
    pub sleep: VirtualSleep,
    /// Background jobs run, and whether each succeeded.
    pub jobs_done: RefCell<Vec<(Job, bool)>>,
    /// The Worker's static assets, as the gate sees them (mount handlers on it).
    pub site: MemoryHttp,
    /// The rate-limiting bindings: none bound unless a test sets budgets.
    pub limits: MemoryRateLimit,
    /// Per request (path, storage round trips waited for one after another).
    pub round_trips: RefCell<Vec<(String, usize)>>,
    /// Requests answered at once, without any storage call ([`Keyedge::answer_at_once`]).
    pub at_once: std::cell::Cell<usize>,
}

/// Counts how often a future is pending: with the in-memory storage pending once per call,
/// that is the number of storage round trips a request waits for in sequence.
struct CountPending<'a, F>(std::pin::Pin<Box<F>>, &'a std::cell::Cell<usize>);

impl<F: std::future::Future> std::future::Future for CountPending<'_, F> {
    type Output = F::Output;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        let poll = self.0.as_mut().poll(cx);
        if poll.is_pending() {
            self.1.set(self.1.get() + 1);
        }
        poll
    }
}

/// An RS256 signer outside the core, as WebCrypto is in the Worker: it gets the key as
/// PKCS#8 DER and the JWS signing input, and counts its calls.
#[derive(Default)]
pub struct ExternalRsa {
    pub calls: std::cell::Cell<usize>,
    pub verifications: std::cell::Cell<usize>,
    pub es256_calls: std::cell::Cell<usize>,
    pub es256_verifications: std::cell::Cell<usize>,
    pub es384_verifications: std::cell::Cell<usize>,
    /// RSA checks of every RSA algorithm (RS256 too).
    pub rsa_verifications: std::cell::Cell<usize>,
    pub ed25519_calls: std::cell::Cell<usize>,
    pub ed25519_publics: std::cell::Cell<usize>,
    pub p256_publics: std::cell::Cell<usize>,
    pub ed25519_verifications: std::cell::Cell<usize>,
}

#[async_trait::async_trait(?Send)]
impl keyedge::core::ports::PlatformCrypto for ExternalRsa {
    async fn sign_rs256(
        &self,
        _kid: &str,
        der: &[u8],
        message: &[u8],
    ) -> Result<Vec<u8>, keyedge::core::ports::PortError> {
        use rsa::pkcs8::DecodePrivateKey;
        use sha2::{Digest, Sha256};
        self.calls.set(self.calls.get() + 1);
        let key =
            rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| keyedge::core::ports::PortError(e.to_string()))?;
        key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
            .map_err(|e| keyedge::core::ports::PortError(e.to_string()))
    }
    async fn sign_es256(
        &self,
        _kid: &str,
        der: &[u8],
        message: &[u8],
    ) -> Result<Vec<u8>, keyedge::core::ports::PortError> {
        use p256::ecdsa::signature::Signer;
        use p256::pkcs8::DecodePrivateKey;
        self.es256_calls.set(self.es256_calls.get() + 1);
        let key =
            p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| keyedge::core::ports::PortError(e.to_string()))?;
        let signature: p256::ecdsa::Signature = key.sign(message);
        Ok(signature.to_bytes().to_vec())
    }
    /// WebCrypto's Ed25519, as the Worker asks for it: the key as PKCS#8 DER.
    async fn sign_ed25519(
        &self,
        _kid: &str,
        der: &[u8],
        message: &[u8],
    ) -> Result<Vec<u8>, keyedge::core::ports::PortError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        use ed25519_dalek::Signer;
        self.ed25519_calls.set(self.ed25519_calls.get() + 1);
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map_err(|e| keyedge::core::ports::PortError(e.to_string()))?;
        Ok(key.sign(message).to_bytes().to_vec())
    }
    /// WebCrypto's import and JWK export of the key: its `x`.
    async fn ed25519_public(&self, der: &[u8]) -> Result<[u8; 32], keyedge::core::ports::PortError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        self.ed25519_publics.set(self.ed25519_publics.get() + 1);
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map_err(|e| keyedge::core::ports::PortError(e.to_string()))?;
        Ok(key.verifying_key().to_bytes())
    }
    /// WebCrypto's import and JWK export of the key: its `x` and `y`, derived from the scalar.
    async fn p256_public(&self, der: &[u8]) -> Result<[u8; 65], keyedge::core::ports::PortError> {
        // From the scalar alone, as BoringSSL computes it (p256's PKCS#8 reader would also
        // check the written point, and so hide keyedge's own check).
        use p256::pkcs8::der::Decode;
        let err = |e: p256::pkcs8::der::Error| keyedge::core::ports::PortError(e.to_string());
        self.p256_publics.set(self.p256_publics.get() + 1);
        let info = p256::pkcs8::PrivateKeyInfo::from_der(der).map_err(err)?;
        let ec = sec1::EcPrivateKey::from_der(info.private_key).map_err(err)?;
        let key = p256::ecdsa::SigningKey::from_slice(ec.private_key)
            .map_err(|e| keyedge::core::ports::PortError(e.to_string()))?;
        let point = key.verifying_key().to_encoded_point(false);
        point.as_bytes().try_into().map_err(|_| keyedge::core::ports::PortError("not a P-256 point".into()))
    }
    async fn verify(
        &self,
        alg: keyedge::core::ports::SignatureAlg,
        spki: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, keyedge::core::ports::PortError> {
        use rsa::pkcs8::DecodePublicKey;
        use sha2::{Digest, Sha256};
        let err = |e: &dyn std::fmt::Display| keyedge::core::ports::PortError(e.to_string());
        self.verifications.set(self.verifications.get() + 1);
        use keyedge::core::ports::SignatureAlg;
        let rsa_key = || rsa::RsaPublicKey::from_public_key_der(spki).map_err(|e| err(&e));
        let pkcs1 = |scheme: rsa::Pkcs1v15Sign, digest: &[u8]| -> Result<bool, keyedge::core::ports::PortError> {
            self.rsa_verifications.set(self.rsa_verifications.get() + 1);
            Ok(rsa_key()?.verify(scheme, digest, signature).is_ok())
        };
        match alg {
            SignatureAlg::Rs256 => pkcs1(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message)),
            SignatureAlg::Rs384 => pkcs1(rsa::Pkcs1v15Sign::new::<sha2::Sha384>(), &sha2::Sha384::digest(message)),
            SignatureAlg::Rs512 => pkcs1(rsa::Pkcs1v15Sign::new::<sha2::Sha512>(), &sha2::Sha512::digest(message)),
            // WebCrypto's RSA-PSS with SHA-256 and a 32-byte salt, as the Worker asks for it.
            SignatureAlg::Ps256 => {
                self.rsa_verifications.set(self.rsa_verifications.get() + 1);
                let scheme = rsa::Pss::new_with_salt::<Sha256>(32);
                Ok(rsa_key()?.verify(scheme, &Sha256::digest(message), signature).is_ok())
            }
            SignatureAlg::Es256 => {
                use p256::ecdsa::signature::Verifier;
                self.es256_verifications.set(self.es256_verifications.get() + 1);
                let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|e| err(&e))?;
                let Ok(signature) = p256::ecdsa::Signature::from_slice(signature) else { return Ok(false) };
                Ok(key.verify(message, &signature).is_ok())
            }
            // WebCrypto's ECDSA P-384 / SHA-384, as the Worker asks for it.
            SignatureAlg::EdDsa => {
                use ed25519_dalek::Verifier;
                self.ed25519_verifications.set(self.ed25519_verifications.get() + 1);
                let key = ed25519_dalek::VerifyingKey::from_public_key_der(spki).map_err(|e| err(&e))?;
                let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else { return Ok(false) };
                Ok(key.verify(message, &signature).is_ok())
            }
            SignatureAlg::Es384 => {
                use p384::ecdsa::signature::Verifier;
                self.es384_verifications.set(self.es384_verifications.get() + 1);
                let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|e| err(&e))?;
                let Ok(signature) = p384::ecdsa::Signature::from_slice(signature) else { return Ok(false) };
                Ok(key.verify(message, &signature).is_ok())
            }
        }
    }
}

/// Sleeping advances the virtual clock instead of waiting.
pub struct VirtualSleep(VirtualClock);

#[async_trait::async_trait(?Send)]
impl Sleep for VirtualSleep {
    async fn sleep(&self, millis: u64) {
        self.0.advance((millis / 1000) as i64);
    }
}

/// The KV the tests run on: the platform's model, one write per second to a key included
/// (`KEYEDGE_KV=strong`: the strongly consistent twin, without the limit).
fn kv_for_tests(clock: VirtualClock) -> KvModel {
    match std::env::var("KEYEDGE_KV").as_deref() {
        Ok("strong") => KvModel::strong(clock),
        _ => KvModel::new(clock),
    }
}

impl World {
    pub fn new() -> Self {
        let clock = VirtualClock::at(START);
        let http = MemoryHttp::default();
        let idp = FakeIdp::mount(&http, clock.clone());
        let app = Keyedge::from_config_text(&config_text(), &secrets).expect("test config is valid");
        World {
            store: kv_for_tests(clock.clone()),
            once: MemoryOnce::new(clock.clone()),
            rng: SeededRng::new(7),
            clock: clock.clone(),
            http,
            app,
            idp,
            log: RefCell::default(),
            rsa: ExternalRsa::default(),
            sleep: VirtualSleep(clock.clone()),
            jobs_done: RefCell::default(),
            site: MemoryHttp::default(),
            round_trips: RefCell::default(),
            at_once: std::cell::Cell::new(0),
            limits: MemoryRateLimit::new(clock.clone(), &[]),
        }
    }

    /// The test world with `up_options` added to the `up` IdP, `app_options` to the `app`
    /// client, and `extra` appended to the configuration.
    /// The test configuration with `up_options` added to the `up` IdP (its keys, and
    /// `[[identity_providers.mappers]]` tables), `app_options` to the `app` client, and
    /// `extra` to the whole file (more `[[clients]]` or `[[identity_providers]]`, `[gate]`, …).
    pub fn with(up_options: &str, app_options: &str, extra: &str) -> Self {
        let mut world = World::new();
        let text = ConfigBuilder::new().up(up_options).app(app_options).extra(extra).build();
        world.app = Keyedge::from_config_text(&text, &secrets).expect("test config is valid");
        world
    }

    /// One request; the jobs it queued run right after it, as `waitUntil` would run them.
    pub fn ports<'a>(&'a self, log: &'a dyn Fn(&str), jobs: &'a Jobs) -> Ports<'a> {
        Ports {
            store: &self.store,
            once: &self.once,
            http: &self.http,
            clock: &self.clock,
            rng: &self.rng,
            log,
            jobs,
            crypto: Some(&self.rsa),
            site: Some(&self.site),
            limits: &self.limits,
        }
    }

    /// keyedge's answer as the Worker gets it (`Keyedge::respond`): a page the gate lets
    /// through is not sent yet, it comes back as a `Reply::Forward`.
    pub fn respond(&self, req: http::Request<Vec<u8>>) -> keyedge::core::gate::Reply {
        self.store.next_request();
        let log = |line: &str| self.log.borrow_mut().push(line.to_owned());
        let jobs = Jobs::default();
        futures::executor::block_on(self.app.respond(&req, &self.ports(&log, &jobs)))
    }

    pub fn send(&self, req: http::Request<Vec<u8>>) -> Response<Vec<u8>> {
        self.store.next_request();
        let log = |line: &str| self.log.borrow_mut().push(line.to_owned());
        let jobs = Jobs::default();
        let ports = self.ports(&log, &jobs);
        let path = req.uri().path().to_owned();
        let pending = std::cell::Cell::new(0);
        // As the Worker serves it: a gated site's page at once when it needs no storage.
        let res = match self.app.answer_at_once(&req, &self.clock, &self.rng, &log) {
            Some(reply) => {
                self.at_once.set(self.at_once.get() + 1);
                futures::executor::block_on(CountPending(Box::pin(self.app.deliver(&req, reply, &ports)), &pending))
            }
            None => futures::executor::block_on(CountPending(Box::pin(self.app.handle(req, &ports)), &pending)),
        };
        self.round_trips.borrow_mut().push((path, pending.get()));
        for job in jobs.take() {
            let done = futures::executor::block_on(keyedge::core::jobs::run(&job, &self.http, &self.sleep, &log));
            self.jobs_done.borrow_mut().push((job, done));
        }
        res
    }

    /// Several requests at once, as several isolates would serve them: each storage call
    /// yields, so their steps interleave (jobs are not run).
    pub fn send_all(&self, reqs: Vec<http::Request<Vec<u8>>>) -> Vec<Response<Vec<u8>>> {
        self.send_staggered(reqs.into_iter().map(|req| (0, req)).collect())
    }

    /// [`World::send_all`] with each request started `delay` storage round trips after the
    /// first: every interleaving of two requests' calls can be tried.
    pub fn send_staggered(&self, reqs: Vec<(usize, http::Request<Vec<u8>>)>) -> Vec<Response<Vec<u8>>> {
        // At once: their KV writes count together against KV's one write per second to a key.
        self.store.next_request();
        let log = |line: &str| self.log.borrow_mut().push(line.to_owned());
        let jobs = Jobs::default();
        let ports = self.ports(&log, &jobs);
        let ports = &ports;
        let answers = reqs.into_iter().map(|(delay, req)| async move {
            for _ in 0..delay {
                keyedge::core::ports::memory::RoundTrip::default().await;
            }
            self.app.handle(req, ports).await
        });
        futures::executor::block_on(futures::future::join_all(answers))
    }

    pub fn post_form(&self, path: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Response<Vec<u8>> {
        self.send(form_request(path, form, basic))
    }
}

/// A form POST to `path`, with HTTP Basic client authentication when `basic` is given: for
/// [`World::send_all`], which sends requests at once.
pub fn form_request(path: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> http::Request<Vec<u8>> {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut req =
        http::Request::post(format!("{ISSUER}{path}")).header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        use base64::Engine;
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", format!("Basic {creds}"));
    }
    req.body(body.into_bytes()).unwrap()
}

/// A second OpenID Connect IdP at [`IDP2`] (alias `second`), with extra `options`; mount its
/// [`FakeIdp`] with [`World::mount_second_idp`].
pub const IDP2: &str = "https://idp2.test";

pub fn second_idp(options: &str) -> String {
    format!(
        r#"
[[identity_providers]]
alias = "second"
display_name = "Second IdP"
kind = "oidc"
issuer = "{IDP2}"
client_id = "keyedge-at-idp2"
client_secret_env = "IDP2_SECRET"
{options}
"#
    )
}

impl World {
    pub fn mount_second_idp(&self) -> Rc<FakeIdp> {
        FakeIdp::mount_at(&self.http, self.clock.clone(), IDP2, "keyedge-at-idp2", IDP2_SECRET)
    }

    /// A KV value, read directly.
    pub fn kv(&self, key: &str) -> Option<String> {
        futures::executor::block_on(keyedge::core::ports::Store::get(&self.store, key)).unwrap()
    }
}

/// A browser: a cookie jar for keyedge's origin, and the last page keyedge showed it (forms
/// are submitted from that page, with their hidden fields, as a browser would).
#[derive(Default, Clone)]
pub struct Browser {
    pub cookies: HashMap<String, String>,
    /// The last HTML page keyedge answered with.
    pub page: String,
    /// The last CSRF token (hidden `csrf` field) seen on a page: a user may post from an
    /// earlier tab of the same session or pending login.
    pub csrf: Option<String>,
    /// Where keyedge's last answer redirected on its own origin, not followed yet: a browser
    /// would show that page, so a form is looked for there when the last page lacks it.
    pub follow: Option<String>,
}

impl Browser {
    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn get(&mut self, world: &World, url: &str) -> Response<Vec<u8>> {
        let url = if url.starts_with('/') { format!("{ISSUER}{url}") } else { url.to_owned() };
        let req = http::Request::get(url).header("cookie", self.cookie_header()).body(Vec::new()).unwrap();
        let res = world.send(req);
        self.remember(&res);
        res
    }

    /// Presses the button of the form whose action is `path` on the last page (no fields of
    /// its own): [`Browser::submit`] with none.
    pub fn post(&mut self, world: &World, path: &str) -> Response<Vec<u8>> {
        self.submit(world, path, &[])
    }

    /// Submits the form whose action is `action` on the last page, as a browser does: its
    /// hidden fields (the CSRF token among them) with `fields` filled in, from keyedge's own
    /// origin (`Origin`, `Sec-Fetch-*` of a top-level form post). When keyedge's last answer
    /// was a redirect on its origin (to `/account`, say) and the last page lacks the form, the
    /// page redirected to is loaded first, as a browser would have; when no page has the
    /// form, the last CSRF token seen goes with `fields`.
    pub fn submit(&mut self, world: &World, action: &str, fields: &[(&str, &str)]) -> Response<Vec<u8>> {
        if !forms(&self.page).iter().any(|(a, _)| a == action) {
            if let Some(next) = self.follow.take() {
                self.get(world, &next);
            }
        }
        let res = world.send(self.form_request(action, fields));
        self.remember(&res);
        res
    }

    /// The request [`Browser::submit`] sends (without following a redirect first).
    pub fn form_request(&self, action: &str, fields: &[(&str, &str)]) -> http::Request<Vec<u8>> {
        let mut form = self.hidden_fields(action);
        for (k, v) in fields {
            form.retain(|(name, _)| name != k);
            form.push((k.to_string(), v.to_string()));
        }
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
        http::Request::post(format!("{ISSUER}{action}"))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            // What Chromium sends from a page served with `Referrer-Policy: no-referrer`, as
            // keyedge's pages are: the origin is withheld, Sec-Fetch-Site tells.
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-dest", "document")
            .body(body.into_bytes())
            .unwrap()
    }

    /// The hidden fields of the form on the last page whose action is `action`; without
    /// one, the last CSRF token seen.
    pub fn hidden_fields(&self, action: &str) -> Vec<(String, String)> {
        match forms(&self.page).into_iter().find(|(a, _)| a == action) {
            Some((_, hidden)) => hidden,
            None => self.csrf.iter().map(|t| ("csrf".to_owned(), t.clone())).collect(),
        }
    }

    /// Keeps the answer's cookies, and its page when it is one.
    pub fn remember(&mut self, res: &Response<Vec<u8>>) {
        for v in res.headers().get_all("set-cookie") {
            let line = v.to_str().unwrap();
            let pair = line.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let target = location(res);
        self.follow =
            (res.status().is_redirection() && target.starts_with('/') && !target.starts_with("//")).then_some(target);
        let is_html =
            res.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"));
        if is_html {
            self.page = body(res);
            if let Some(token) = forms(&self.page).into_iter().flat_map(|(_, h)| h).find(|(k, _)| k == "csrf") {
                self.csrf = Some(token.1);
            }
        }
    }
}

/// The forms of an HTML page: each one's action and hidden fields (names and values
/// unescaped).
pub fn forms(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut found = Vec::new();
    for part in html.split("<form").skip(1) {
        let Some((tag, rest)) = part.split_once('>') else { continue };
        let inner = rest.split("</form>").next().unwrap_or("");
        let hidden = inner
            .split("<input")
            .skip(1)
            .filter_map(|input| input.split_once('>').map(|(attrs, _)| attrs))
            .filter(|attrs| attribute(attrs, "type").as_deref() == Some("hidden"))
            .filter_map(|attrs| Some((attribute(attrs, "name")?, attribute(attrs, "value").unwrap_or_default())))
            .collect();
        found.push((attribute(tag, "action").unwrap_or_default(), hidden));
    }
    found
}

/// An attribute's value in a tag's text (`name="value"`), unescaped.
fn attribute(attrs: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = format!(" {attrs}").find(&needle)? + needle.len() - 1;
    let value = attrs[start..].split('"').next()?;
    Some(
        value
            .replace("&#34;", "\"")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&#60;", "<")
            .replace("&gt;", ">")
            .replace("&#62;", ">")
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

pub fn location(res: &Response<Vec<u8>>) -> String {
    res.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

pub fn body(res: &Response<Vec<u8>>) -> String {
    String::from_utf8_lossy(res.body()).into_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub fn json(res: &Response<Vec<u8>>) -> serde_json::Value {
    serde_json::from_slice(res.body()).unwrap_or(serde_json::Value::Null)
}

/// A standard authorization request of the confidential client, with PKCE.
pub struct RpRequest {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub query: String,
}

/// `act` with the Durable Object's call `n`, counted from now, failing: its answer, or `None`
/// when `act` made no more calls than that, so every point of failure has been tried. The
/// fault is cleared after.
pub fn with_once_fault<T>(world: &World, n: usize, act: impl FnOnce() -> T) -> Option<T> {
    let once = &world.once;
    planned(|| once.fail_after(n), || once.fault_pending(), || once.fail_after(usize::MAX), act)
}

/// [`with_once_fault`] for KV's call `n`.
pub fn with_kv_fault<T>(world: &World, n: usize, act: impl FnOnce() -> T) -> Option<T> {
    let kv = &world.store;
    planned(|| kv.fail_after(n), || kv.fault_pending(), || kv.fail_after(usize::MAX), act)
}

/// [`with_once_fault`] with KV's write `n` made but its answer lost.
pub fn with_lost_kv_answer<T>(world: &World, n: usize, act: impl FnOnce() -> T) -> Option<T> {
    let kv = &world.store;
    planned(|| kv.lose_write_answer_after(n), || kv.fault_pending(), || kv.keep_answers(), act)
}

/// [`with_once_fault`] with the Durable Object's call `n` made but its answer lost.
pub fn with_lost_answer<T>(world: &World, n: usize, act: impl FnOnce() -> T) -> Option<T> {
    let once = &world.once;
    planned(|| once.lose_answer_after(n), || once.fault_pending(), || once.keep_answers(), act)
}

/// `act` with a fault `plan`ned; its answer if the fault was met (no longer `pending`), and the
/// fault dropped (`clear`) either way.
fn planned<T>(
    plan: impl FnOnce(),
    pending: impl FnOnce() -> bool,
    clear: impl FnOnce(),
    act: impl FnOnce() -> T,
) -> Option<T> {
    plan();
    let answer = act();
    let met = !pending();
    clear();
    met.then_some(answer)
}

/// A browser signed in through `up` as `user`, on the account page.
pub fn on_the_account_page_as(world: &World, user: &str) -> Browser {
    let mut browser = Browser::default();
    let at_idp = location(&browser.get(world, "/broker/up/login?return_to=%2Faccount"));
    let done = browser.get(world, &world.idp.authorize(&at_idp, user));
    assert_eq!(location(&done), "/account", "{}", body(&done));
    browser
}

/// The issuer of the third IdP of [`three_idps`].
pub const IDP3: &str = "https://idp3.test";

/// A world with the `up`, `second` and `third` IdPs: the second's and third's fakes.
pub fn three_idps() -> (World, Rc<fake_idp::FakeIdp>, Rc<fake_idp::FakeIdp>) {
    let third = format!(
        "\n[[identity_providers]]\nalias = \"third\"\ndisplay_name = \"Third IdP\"\nkind = \"oidc\"\nissuer = \"{IDP3}\"\nclient_id = \"keyedge-at-idp3\"\nclient_secret_env = \"IDP2_SECRET\"\n"
    );
    let world = World::with("", "", &format!("{}{third}", second_idp("")));
    let idp2 = world.mount_second_idp();
    let idp3 = fake_idp::FakeIdp::mount_at(&world.http, world.clock.clone(), IDP3, "keyedge-at-idp3", IDP2_SECRET);
    (world, idp2, idp3)
}

/// An upstream login of alice through `app` completed by `browser`, which redeemed its code
/// (`tokens`), with `second` a copy of the browser from before the callback, ready to complete
/// the same login again at an IdP that accepts its code twice.
pub struct TwoCompletions {
    pub browser: Browser,
    pub second: Browser,
    pub callback: String,
    pub tokens: serde_json::Value,
}

/// See [`TwoCompletions`].
pub fn completed_once_of_two(world: &World) -> TwoCompletions {
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login(world, &mut browser, &rp.query);
    let callback = world.idp.authorize(&at_idp, "alice");
    let second = browser.clone();
    *world.idp.reusable_codes.borrow_mut() = true;
    let won = browser.get(world, &callback);
    let code = query_param(&location(&won), "code").expect("the first completion issues a code");
    let tokens = json(&redeem(world, &code, &rp.verifier));
    TwoCompletions { browser, second, callback, tokens }
}

/// Signs alice in through the confidential client `app`: the browser, the token response.
pub fn signed_in_with_tokens(world: &World) -> (Browser, serde_json::Value) {
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(world, &mut browser, &rp.query, "alice")), "code").unwrap();
    (browser, json(&redeem(world, &code, &rp.verifier)))
}

pub fn rp_request(client_id: &str, redirect_uri: &str) -> RpRequest {
    use sha2::{Digest, Sha256};
    let verifier = format!("verifier-{}-0123456789012345678901234567890123456789", rand::random::<u32>());
    let challenge = keyedge::core::b64url(&Sha256::digest(verifier.as_bytes()));
    let state = format!("st-{}", rand::random::<u32>());
    let nonce = format!("nn-{}", rand::random::<u32>());
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", "openid email profile"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    RpRequest { state, nonce, verifier, query }
}

/// From `/authorize` through the login page to the upstream IdP's authorization endpoint.
/// Returns the URL keyedge sent the browser to at the IdP.
pub fn start_login(world: &World, browser: &mut Browser, authorize_query: &str) -> String {
    start_login_via(world, browser, authorize_query, "up")
}

/// The login page's link to sign in with the IdP `alias` (`/broker/{alias}/login?…`), unescaped.
pub fn idp_link(html: &str, alias: &str) -> String {
    let start = html.find(&format!("href=\"/broker/{alias}/login")).expect("the login page links the IdP") + 6;
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&#38;", "&").replace("&amp;", "&")
}

/// [`start_login`] choosing the IdP `alias` on the login page.
pub fn start_login_via(world: &World, browser: &mut Browser, authorize_query: &str, alias: &str) -> String {
    let page = browser.get(world, &format!("/authorize?{authorize_query}"));
    assert_eq!(page.status(), 200, "login page: {}", body(&page));
    let to_idp = browser.get(world, &idp_link(&body(&page), alias));
    assert_eq!(to_idp.status(), 302, "{}", body(&to_idp));
    location(&to_idp)
}

/// A complete login of `user` at the upstream; returns keyedge's final response (normally
/// the redirect to the client with a code).
pub fn login(world: &World, browser: &mut Browser, authorize_query: &str, user: &str) -> Response<Vec<u8>> {
    let at_idp = start_login(world, browser, authorize_query);
    let callback = world.idp.authorize(&at_idp, user);
    browser.get(world, &callback)
}

/// Redeems a code at /token as the confidential client.
/// Signs in from a login page (`/login?return_to=…`, where the gate sends a browser) with
/// the `up` IdP; returns where keyedge went next.
pub fn sign_in_from_login_page(world: &World, browser: &mut Browser, login_url: &str, user: &str) -> String {
    let page = browser.get(world, login_url);
    assert_eq!(page.status(), 200, "{}", body(&page));
    let at_idp = location(&browser.get(world, &idp_link(&body(&page), "up")));
    location(&browser.get(world, &world.idp.authorize(&at_idp, user)))
}

pub fn redeem(world: &World, code: &str, verifier: &str) -> Response<Vec<u8>> {
    world.post_form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", APP_REDIRECT),
            ("code_verifier", verifier),
        ],
        Some(("app", APP_SECRET)),
    )
}

/// Logs alice in through the confidential client and returns the token response.
pub fn tokens_for_alice(world: &World, scope: &str) -> serde_json::Value {
    let rp = rp_request("app", APP_REDIRECT);
    let query = rp.query.replace("scope=openid+email+profile", &format!("scope={}", scope.replace(' ', "+")));
    let code = query_param(&location(&login(world, &mut Browser::default(), &query, "alice")), "code").unwrap();
    json(&redeem(world, &code, &rp.verifier))
}

pub fn refresh(world: &World, refresh_token: &str) -> Response<Vec<u8>> {
    world.post_form(
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        Some(("app", APP_SECRET)),
    )
}

pub fn userinfo_status(world: &World, access_token: &str) -> u16 {
    let req = http::Request::get(format!("{ISSUER}/userinfo"))
        .header("authorization", format!("Bearer {access_token}"))
        .body(vec![])
        .unwrap();
    world.send(req).status().as_u16()
}

/// An authorization request of the confidential client with PKCE and `extra` parameters
/// (a parameter given in `extra` replaces the default one).
pub fn request_with(extra: &[(&str, &str)]) -> RpRequest {
    let mut rp = rp_request("app", APP_REDIRECT);
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(rp.query.as_bytes()).into_owned().collect();
    for (k, v) in extra {
        pairs.retain(|(n, _)| n != k);
        if !v.is_empty() {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    rp.query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    rp
}

/// The ID token's payload as JSON, every claim included (signature not checked here).
pub fn id_claims(tokens: &serde_json::Value) -> serde_json::Value {
    payload(tokens["id_token"].as_str().unwrap())
}

pub fn payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The reference an error page or JSON error shows (10 hex digits after "reference"): its log
/// line has what went wrong.
pub fn reference_in(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("reference").unwrap_or_else(|| panic!("no reference in {text}"));
    text[at..]
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 10)
        .unwrap_or_else(|| panic!("no reference id in {text}"))
        .to_owned()
}

/// The one log line with `reference`.
pub fn logged(log: &[String], reference: &str) -> String {
    let lines: Vec<&String> = log.iter().filter(|l| l.contains(reference)).collect();
    assert_eq!(lines.len(), 1, "one log line with {reference}: {log:?}");
    lines[0].clone()
}

impl World {
    /// The log line behind the reference that `page` (an error page or JSON error) shows.
    pub fn logged_for(&self, page: &str) -> String {
        logged(&self.log.borrow(), &reference_in(page))
    }
}

/// The user a linked identity `(alias, sub)` belongs to, from its KV link record.
pub fn user_of_link(world: &World, alias: &str, sub: &str) -> Option<String> {
    world.kv(&keyedge::core::keys::link(alias, sub))
}

/// Starts a login of `user` through `alias` at `idp` for the `app` client; returns keyedge's
/// answer to the upstream callback and the request (for redeeming a code later).
pub fn callback(
    world: &World,
    browser: &mut Browser,
    alias: &str,
    idp: &FakeIdp,
    user: &str,
) -> (Response<Vec<u8>>, RpRequest) {
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login_via(world, browser, &rp.query, alias);
    (browser.get(world, &idp.authorize(&at_idp, user)), rp)
}

/// The authorization code of a redirect to the application.
pub fn code_of(res: &Response<Vec<u8>>) -> String {
    query_param(&location(res), "code").unwrap_or_else(|| panic!("no code ({}): {}", res.status(), body(res)))
}

/// The `sub` of the ID token the code is redeemed for.
pub fn sub_of(world: &World, code: &str, rp: &RpRequest) -> String {
    id_claims(&json(&redeem(world, code, &rp.verifier)))["sub"].as_str().unwrap().to_owned()
}

/// A mapper giving the `staff` role to members of the upstream `staff` group.
pub const STAFF_MAPPER: &str = r#"
[[identity_providers.mappers]]
name = "staff"
kind = "claim_to_role"
claim = "groups"
value = "staff"
role = "staff"
"#;

/// The HTTP mail API of [`MAIL`].
pub const MAIL_API: &str = "https://mail.test";

/// A `[mail]` section sending through an HTTP API at [`MAIL_API`].
pub const MAIL: &str = r#"
[mail]
sender = "http"
url = "https://mail.test/emails"
api_key_env = "IDP2_SECRET"
from = "keyedge@keyedge.test"
"#;

/// A world with a second OIDC IdP (`second`) and an HTTP mail API that keeps what it gets.
pub struct Accounts {
    pub world: World,
    pub idp2: Rc<FakeIdp>,
    pub outbox: Rc<RefCell<Vec<serde_json::Value>>>,
}

/// [`Accounts`] with `up_options` for `up`, `app_options` for the `app` client, `second` for
/// the second IdP and `extra` config (e.g. [`MAIL`]).
pub fn accounts_world(up_options: &str, app_options: &str, second: &str, extra: &str) -> Accounts {
    let world = World::with(up_options, app_options, &format!("{}{extra}", second_idp(second)));
    let idp2 = world.mount_second_idp();
    let outbox = Rc::new(RefCell::new(Vec::new()));
    let sink = outbox.clone();
    world.http.mount(MAIL_API, move |req| {
        assert_eq!(req.headers()["authorization"], format!("Bearer {IDP2_SECRET}"));
        sink.borrow_mut().push(serde_json::from_slice(req.body()).unwrap_or(serde_json::Value::Null));
        http::Response::builder().status(200).body(b"{}".to_vec()).unwrap()
    });
    Accounts { world, idp2, outbox }
}

impl Accounts {
    /// The mails sent to `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<serde_json::Value> {
        self.outbox.borrow().iter().filter(|m| m["to"] == to).cloned().collect()
    }
}

/// The test configuration as a TOML table, added to by fragments: each fragment is parsed and
/// merged where it belongs, so an option can never land in the wrong table (or nowhere).
pub struct ConfigBuilder(toml::Table);

impl ConfigBuilder {
    pub fn new() -> Self {
        ConfigBuilder(config_text().parse().expect("the test configuration is TOML"))
    }

    /// The first element of the array of tables `key` (`clients`, `identity_providers`).
    fn first(&mut self, key: &str) -> &mut toml::Table {
        match self.0.get_mut(key).and_then(toml::Value::as_array_mut).and_then(|a| a.first_mut()) {
            Some(toml::Value::Table(t)) => t,
            _ => panic!("the test configuration has no [[{key}]]"),
        }
    }

    /// Options of the `up` IdP; `[[identity_providers.x]]` tables in `fragment` are its own.
    pub fn up(mut self, fragment: &str) -> Self {
        let idp = self.first("identity_providers");
        for (key, value) in parse_fragment(fragment) {
            match (key.as_str(), value) {
                ("identity_providers", toml::Value::Table(own)) => merge(idp, own),
                (_, value) => merge(idp, toml::Table::from_iter([(key, value)])),
            }
        }
        self
    }

    /// Options of the `app` client.
    pub fn app(mut self, fragment: &str) -> Self {
        merge(self.first("clients"), parse_fragment(fragment));
        self
    }

    /// Anything else: arrays of tables are appended to, tables merged, other keys set.
    pub fn extra(mut self, fragment: &str) -> Self {
        merge(&mut self.0, parse_fragment(fragment));
        self
    }

    pub fn build(self) -> String {
        self.0.to_string()
    }
}

fn parse_fragment(fragment: &str) -> toml::Table {
    fragment.parse().unwrap_or_else(|e| panic!("a test config fragment is not TOML: {e}\n{fragment}"))
}

/// Merges `from` into `into`: arrays of tables are appended to, tables merged key by key, the
/// rest (plain arrays too) set.
fn merge(into: &mut toml::Table, from: toml::Table) {
    let tables = |a: &[toml::Value]| !a.is_empty() && a.iter().all(toml::Value::is_table);
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Array(old)), toml::Value::Array(new)) if tables(old) && tables(&new) => old.extend(new),
            (Some(toml::Value::Table(old)), toml::Value::Table(new)) => merge(old, new),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// The plain OAuth 2.0 IdP of [`oauth2_world`].
pub const GH: &str = "https://gh.test";

/// A world with a plain OAuth 2.0 IdP `gh` (GitHub-like, at [`GH`]; `option` added to it):
/// it approves at once from its own session and never says when the user authenticated.
pub fn oauth2_world(option: &str) -> World {
    let extra = format!(
        r#"
[[identity_providers]]
alias = "gh"
kind = "oauth2"
authorization_url = "{GH}/authorize"
token_url = "{GH}/token"
userinfo_url = "{GH}/user"
client_id = "gh-client"
client_secret_env = "IDP2_SECRET"
user_id_claim = "id"
username_claim = "login"
first_login_flow = "no review"
{option}

[[first_login_flows]]
alias = "no review"
review_profile = "off"
"#
    );
    let world = World::with("", "", &extra);
    world.http.mount(GH, |req| {
        let body = match req.uri().path() {
            "/token" => serde_json::json!({"access_token": "gh-token", "token_type": "bearer"}),
            _ => serde_json::json!({"id": 7, "login": "octocat", "auth_time": 1}),
        };
        http::Response::builder()
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
            .unwrap()
    });
    world
}

/// A login through `gh` (it approves at once, from its own session).
pub fn via_gh(world: &World, browser: &mut Browser, extra: &[(&str, &str)]) -> (http::Response<Vec<u8>>, RpRequest) {
    let mut params = vec![("kc_idp_hint", "gh")];
    params.extend_from_slice(extra);
    let rp = request_with(&params);
    let to_broker = browser.get(world, &format!("/authorize?{}", rp.query));
    if location(&to_broker).starts_with(APP_REDIRECT) {
        // Answered from keyedge's own session.
        return (to_broker, rp);
    }
    let to_gh = browser.get(world, &location(&to_broker));
    let q: std::collections::HashMap<String, String> =
        url::Url::parse(&location(&to_gh)).unwrap().query_pairs().into_owned().collect();
    assert!(!q.contains_key("max_age") && !q.contains_key("prompt"), "no OIDC parameters to OAuth2: {q:?}");
    let mut cb = url::Url::parse(&q["redirect_uri"]).unwrap();
    cb.query_pairs_mut().append_pair("code", "gh-code").append_pair("state", &q["state"]);
    (browser.get(world, cb.as_str()), rp)
}

/// `user` signed in through the login page (after a visit to `/account`).
pub fn signed_in(world: &World, user: &str) -> Browser {
    let mut browser = Browser::default();
    let to_login = location(&browser.get(world, "/account"));
    sign_in_from_login_page(world, &mut browser, &to_login, user);
    browser
}

/// A browser request for a raw path, sent as is (no client-side normalisation).
pub fn get_raw(world: &World, browser: &Browser, path: &str) -> http::Response<Vec<u8>> {
    send_raw(world, browser, "GET", path)
}

/// A browser's `method` request for a raw path, sent as is, with the browser's cookies.
pub fn send_raw(world: &World, browser: &Browser, method: &str, path: &str) -> http::Response<Vec<u8>> {
    let req = http::Request::builder().method(method).uri(format!("{ISSUER}{path}"));
    world.send(req.header("cookie", browser.cookie_header()).body(Vec::new()).unwrap())
}

/// The test world as `wrangler dev` runs it (an http issuer on localhost), with `extra` added
/// to the configuration (`[dev]` tools).
pub fn local_dev(extra: &str) -> World {
    let mut world = World::new();
    let text = config_text().replace(&format!("issuer = \"{ISSUER}\""), "issuer = \"http://localhost:8787\"");
    world.app = keyedge::core::Keyedge::from_config_text(&format!("{text}\n{extra}"), &secrets).expect("valid config");
    world
}
