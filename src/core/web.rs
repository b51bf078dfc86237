//! The HTTP seam: owned request/response types, query/form parsing, cookies and the
//! response builders every handler uses.

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use std::collections::HashMap;

pub type Request = http::Request<Vec<u8>>;
pub type Response = http::Response<Vec<u8>>;

/// Parameters from a query string or an `application/x-www-form-urlencoded` body.
/// Repeated names are remembered so that RFC 6749 §3.1 ("parameters MUST NOT be included
/// more than once") can be enforced.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

impl Params {
    pub fn parse(encoded: &str) -> Self {
        let mut params = Params::default();
        for (k, v) in url::form_urlencoded::parse(encoded.as_bytes()) {
            if params.values.contains_key(k.as_ref()) {
                params.repeated.push(k.to_string());
            }
            params.values.insert(k.into_owned(), v.into_owned());
        }
        params
    }

    pub fn from_query(req: &Request) -> Self {
        Self::parse(req.uri().query().unwrap_or(""))
    }

    /// The body of a form POST; other content types yield no parameters.
    pub fn from_form(req: &Request) -> Self {
        let is_form = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
        if !is_form {
            return Params::default();
        }
        Self::parse(&String::from_utf8_lossy(req.body()))
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The first of `names` that occurs more than once.
    pub fn first_repeated<'a>(&self, names: &[&'a str]) -> Option<&'a str> {
        names.iter().copied().find(|n| self.repeated.iter().any(|r| r == n))
    }
}

/// A request the runtime passed with headers `http` cannot hold: a control character (other
/// than tab) in a value, which workerd lets through and RFC 9110 §5.5 does not allow, or more
/// headers than a `HeaderMap` takes. `head` is the request with what could be read, so that
/// its route can say how it refuses it
/// ([`Keyedge::unreadable_header`](super::app::Keyedge::unreadable_header)); nothing is done
/// with it.
#[derive(Debug)]
pub struct UnreadableHeader {
    pub head: Request,
    pub why: Unreadable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// The first header with a name or value `http` refuses, its name as sent.
    ControlCharacter(String),
    /// More headers than a `HeaderMap` holds (about 24,000 names; fewer that share a hash).
    TooMany,
}

/// keyedge's request head (an empty body) from the runtime's method, URL and header pairs,
/// in order, repeats kept. A header that is not a valid name and value is never dropped
/// silently: the head comes back as an [`UnreadableHeader`] instead.
pub fn request_head(
    method: http::Method,
    uri: http::Uri,
    headers: &[(&str, &str)],
) -> Result<Request, Box<UnreadableHeader>> {
    let mut map = http::HeaderMap::new();
    let mut unreadable = None;
    for &(name, value) in headers {
        match (http::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            (Ok(name), Ok(value)) => {
                // `append` panics where the map cannot grow; a request is not let do that.
                if map.try_append(name, value).is_err() {
                    unreadable.get_or_insert(Unreadable::TooMany);
                    break;
                }
            }
            _ => {
                unreadable.get_or_insert_with(|| Unreadable::ControlCharacter(name.to_owned()));
            }
        }
    }
    let mut head = Request::new(Vec::new());
    *head.method_mut() = method;
    *head.uri_mut() = uri;
    *head.headers_mut() = map;
    match unreadable {
        None => Ok(head),
        Some(why) => Err(Box::new(UnreadableHeader { head, why })),
    }
}

/// Reads a cookie from the request.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Cookie names and attributes. Over https every cookie is `__Host-` prefixed and `Secure`
/// (RFC 6265bis §4.1.3.2); for an http://localhost issuer (local development only) the
/// prefix and `Secure` are dropped because user agents may refuse them on plain http.
/// `__Host-` cookies have `Path=/`, so keyedges under two issuer paths of one host (two
/// realms) name theirs apart: `realm` is added to every name.
#[derive(Debug, Clone, Copy)]
pub struct CookieJar<'a> {
    pub secure: bool,
    /// `""`, or a suffix naming the issuer's path (`.realms.acme`).
    pub realm: &'a str,
}

impl CookieJar<'_> {
    pub fn name(&self, base: &str) -> String {
        let prefix = if self.secure { "__Host-" } else { "" };
        format!("{prefix}{base}{}", self.realm)
    }

    pub fn set(&self, base: &str, value: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", self.name(base))
    }

    pub fn clear(&self, base: &str) -> String {
        self.set(base, "", 0)
    }

    pub fn get<'a>(&self, req: &'a Request, base: &str) -> Option<&'a str> {
        cookie(req, &self.name(base)).filter(|v| !v.is_empty())
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    res
}

/// An HTML page. Pages may carry personal data, so they are never cached, and they may not
/// be framed (clickjacking).
pub fn html(status: StatusCode, body: String) -> Response {
    let mut res = respond(status, "text/html; charset=utf-8", body.into_bytes());
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

/// A page a gated site's pages (which share keyedge's origin) must not reach through a window
/// they open: `Cross-Origin-Opener-Policy: same-origin` severs the opener. Only for pages
/// outside the sign-in flow, which applications may open in a popup.
pub fn isolated(mut res: Response) -> Response {
    res.headers_mut().insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    res
}

pub fn json(status: StatusCode, body: String) -> Response {
    respond(status, "application/json", body.into_bytes())
}

/// A JSON response that must not be cached: tokens, userinfo, token errors (RFC 6749 §5.1).
pub fn json_no_store(status: StatusCode, body: String) -> Response {
    let mut res = json(status, body);
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert("pragma", HeaderValue::from_static("no-cache"));
    res
}

/// A SAML metadata document (an SP descriptor), public.
pub fn saml_metadata(body: String) -> Response {
    let mut res = respond(StatusCode::OK, "application/samlmetadata+xml", body.into_bytes());
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    res
}

/// A public JSON document (discovery, JWKS) that browsers' apps may read cross-origin,
/// cached for an hour.
pub fn json_public(body: String) -> Response {
    let mut res = json(StatusCode::OK, body);
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res
}

/// CORS for public, credential-less endpoints: tokens travel in headers or bodies, never
/// in cookies, so any origin may call them.
pub fn allow_any_origin(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("WWW-Authenticate"));
}

pub fn cors_preflight() -> Response {
    let mut res = respond(StatusCode::NO_CONTENT, "text/plain; charset=utf-8", Vec::new());
    allow_any_origin(&mut res);
    let h = res.headers_mut();
    h.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST"));
    h.insert("access-control-allow-headers", HeaderValue::from_static("Authorization, Content-Type, DPoP"));
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    res
}

pub fn redirect(location: &str) -> Response {
    let mut res = respond(StatusCode::FOUND, "text/plain; charset=utf-8", Vec::new());
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(LOCATION, v);
    }
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub fn static_asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = respond(StatusCode::OK, content_type, body.as_bytes().to_vec());
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    res
}

pub fn with_cookie(mut res: Response, set_cookie: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&set_cookie) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    res
}

/// Appends query parameters to a URL that may already have a query (RFC 6749 §3.1.2:
/// the redirect URI's own query must be kept).
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        // A registered URI is returned exactly as registered (no dangling `?`).
        return base.to_owned();
    }
    match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => base.to_owned(),
    }
}

/// Builds a relative URL `path?k=v&…` with proper encoding.
pub fn path_with_query(path: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return path.to_owned();
    }
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("{path}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head_keeps_every_header_in_order_with_repeats() {
        let pairs = [
            ("accept", "text/html"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
            ("x-latin", "caf\u{e9}"),
            ("x-tab", "a\tb"),
        ];
        let head = request_head(http::Method::POST, "http://h/token?x=1".parse().unwrap(), &pairs).unwrap();
        assert_eq!(head.method(), http::Method::POST);
        assert_eq!(head.uri().path(), "/token");
        let cookies: Vec<_> = head.headers().get_all("cookie").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(head.headers().len(), 5);
        assert!(head.body().is_empty());
    }

    /// RFC 9110 §5.5: control characters other than tab are not in a field value. workerd
    /// passes them (tests/e2e/attacks.test.mjs sends one); the head names the header.
    #[test]
    fn rfc9110_5_5_a_header_with_a_control_character_is_named_not_dropped() {
        for value in ["a\u{1}b", "a\u{7f}b", "\u{1b}[31m", "a\rb"] {
            let pairs = [("accept", "text/html"), ("x-bad", value), ("cookie", "a=1"), ("x-worse", "\u{2}")];
            let refused = request_head(http::Method::GET, "http://h/login".parse().unwrap(), &pairs).unwrap_err();
            assert_eq!(refused.why, Unreadable::ControlCharacter("x-bad".into()), "{value:?}");
            assert_eq!(refused.head.uri().path(), "/login");
            // The head keeps what could be read, so that its route's refusal is in the
            // visitor's language and of the route's kind.
            assert_eq!(refused.head.headers().get("cookie").unwrap(), "a=1");
            assert!(refused.head.headers().get("x-bad").is_none());
        }
    }

    /// `HeaderMap::append` panics once the map cannot grow (about 24,000 distinct names, fewer
    /// that share a hash); such a request is refused, and the Worker does not panic.
    #[test]
    fn more_headers_than_a_header_map_holds_are_refused_not_a_panic() {
        let names: Vec<String> = (0..40_000).map(|i| format!("x-h{i}")).collect();
        let pairs: Vec<(&str, &str)> =
            std::iter::once(("accept-language", "fr")).chain(names.iter().map(|n| (n.as_str(), "1"))).collect();
        let refused = request_head(http::Method::GET, "http://h/login".parse().unwrap(), &pairs).unwrap_err();
        assert_eq!(refused.why, Unreadable::TooMany);
        assert_eq!(refused.head.headers()["accept-language"], "fr");
    }
}
