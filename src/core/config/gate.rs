//! The static-site gate: which paths need whom.

use serde::Deserialize;
use url::Url;

use super::{domains, err, parse_url, ConfigError};
use crate::core::site_path::SitePath;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGate {
    /// `assets` (the Worker's static assets) or an origin URL.
    upstream: String,
    #[serde(default)]
    identity_headers: bool,
    #[serde(default)]
    case_insensitive_paths: bool,
    #[serde(default = "default_session_check_interval")]
    session_check_interval: u64,
    #[serde(default)]
    rules: Vec<RawGateRule>,
}

fn default_session_check_interval() -> u64 {
    DEFAULT_SESSION_CHECK_INTERVAL
}

/// How long a page view may rely on the last check of its session (seconds): a session ended
/// anywhere stops opening pages everywhere within this time.
pub const DEFAULT_SESSION_CHECK_INTERVAL: u64 = 30;

/// The longest `session_check_interval` keyedge accepts: KV's own staleness bound, beyond
/// which the pass would promise less than a plain KV read.
pub const MAX_SESSION_CHECK_INTERVAL: u64 = 60;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateRule {
    path: String,
    #[serde(default)]
    allow: Option<String>,
    #[serde(default)]
    require_roles: Vec<String>,
    #[serde(default)]
    require_email_domains: Vec<String>,
}

/// Where the protected site comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteUpstream {
    /// Workers Static Assets of this Worker (`[assets]` with `binding = "ASSETS"`).
    Assets,
    /// Another origin, e.g. `https://origin.example.com`: the path and query are appended.
    Origin(Url),
}

/// One gate rule: a path pattern and who may enter.
#[derive(Debug, Clone)]
pub struct GateRule {
    /// `/exact` or `/prefix/*`.
    pub path: String,
    /// Anyone, signed in or not.
    pub public: bool,
    /// Signed-in users with at least one of these roles (when not empty).
    pub require_roles: Vec<String>,
    /// Signed-in users with a verified email at one of these domains (when not empty).
    pub require_email_domains: Vec<String>,
    /// The path (without the `*`) as matched: [`SitePath::match_key`] of the canonical path.
    key: String,
}

impl GateRule {
    /// Whether the rule covers a request path, given as its [`SitePath::match_key`]. A prefix
    /// rule `/dir/*` covers `/dir` too.
    ///
    /// An exact rule that restricts access covers every address a site may serve the same
    /// page at: `/q3.html` also `/q3`, `/q3/` and `/q3/index.html` (Workers assets serve
    /// `q3.html` at `/q3`; nginx `try_files` and most static hosts do alike), and a file's
    /// `PATH_INFO` addresses (`/admin.php/x`). An exact public rule stays exact, so it never
    /// opens more than it names.
    pub fn matches(&self, key: &str) -> bool {
        if self.path.ends_with('*') {
            key.starts_with(&self.key) || self.key.strip_suffix('/').is_some_and(|dir| !dir.is_empty() && key == dir)
        } else if self.public {
            key == self.key
        } else {
            key == self.key || page_of(key) == page_of(&self.key) || under_script(key, &self.key)
        }
    }

    /// Whether the rule covers every address in the tree at `key` (a folder and all in it): a
    /// prefix rule at or above it.
    pub fn covers_tree(&self, key: &str) -> bool {
        self.path.ends_with('*') && self.matches(key) && tree(key).starts_with(&self.key)
    }

    /// Whether the rule names an address in the tree at `key`, as [`Self::matches`] reads
    /// it: an exact restricting rule on a page also covers the page's folder spelling
    /// (`/team.html`: `/team/index.html`).
    pub fn lies_under(&self, key: &str) -> bool {
        let root = tree(key);
        self.key.starts_with(&*root)
            || (!self.path.ends_with('*') && !self.public && tree(page_of(&self.key)).starts_with(&*root))
    }
}

/// The tree at `key`: the key as a folder, with its `/`.
fn tree(key: &str) -> std::borrow::Cow<'_, str> {
    if key.ends_with('/') {
        key.into()
    } else {
        format!("{key}/").into()
    }
}

/// Whether `key` is an address below the file `rule` names (`/admin.php/x` below
/// `/admin.php`), which PHP and CGI servers answer with that file (`PATH_INFO`).
fn under_script(key: &str, rule: &str) -> bool {
    let file = rule.rsplit('/').next().unwrap_or("");
    file.contains('.') && key.strip_prefix(rule).is_some_and(|rest| rest.starts_with('/'))
}

/// The page an address names, whatever way a static host spells it: without a trailing
/// `index.html` (or `index`), `.html` and `/`. `/q3.html`, `/q3`, `/q3/` and `/q3/index.html`
/// are one page; `/`, `/index.html` another.
fn page_of(key: &str) -> &str {
    let key = key
        .strip_suffix("index.html")
        .or_else(|| key.strip_suffix("index"))
        .filter(|k| k.ends_with('/'))
        .unwrap_or(key);
    let key = key.strip_suffix(".html").unwrap_or(key);
    match key.strip_suffix('/') {
        Some("") | None => key,
        Some(dir) => dir,
    }
}

/// The static-site gate: keyedge in front of a site.
#[derive(Debug, Clone)]
pub struct Gate {
    pub upstream: SiteUpstream,
    /// Add signed identity headers to requests passed to an origin.
    pub identity_headers: bool,
    /// The site ignores the case of paths: rules match whatever the case.
    pub case_insensitive_paths: bool,
    /// How long a page view may rely on the last check of its session (the gate pass); `0`:
    /// every protected page view checks the session.
    pub session_check_interval: u64,
    /// First match wins; a path no rule matches needs a signed-in user.
    pub rules: Vec<GateRule>,
    /// For an origin upstream: its address and keyedge's, read once from the configuration.
    pub addresses: Option<OriginAddresses>,
}

/// The two addresses a gate in front of an origin tells apart: the origin's own, and keyedge's
/// (the issuer's origin), where the visitor asked for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginAddresses {
    /// The origin's scheme, host and port (`https://origin.example.com`): the identity
    /// assertion's audience, and what the site's redirects are read against.
    pub origin: String,
    /// keyedge's scheme, host and port, which the browser is sent instead.
    pub public: String,
    /// keyedge's host (and port) and scheme, for the origin's `X-Forwarded-Host`/`-Proto`.
    pub public_host: String,
    pub public_scheme: String,
}

pub(super) fn gate(g: RawGate, issuer: &str) -> Result<Gate, ConfigError> {
    let upstream = match g.upstream.as_str() {
        "assets" => SiteUpstream::Assets,
        url => {
            let url = parse_url(url).map_err(|m| err("gate.upstream", format!("{m} (or \"assets\")")))?;
            if url.path() != "/" || url.query().is_some() {
                return Err(err(
                    "gate.upstream",
                    "an origin is a scheme and host only, such as https://origin.example.com",
                ));
            }
            SiteUpstream::Origin(url)
        }
    };
    if g.identity_headers && upstream == SiteUpstream::Assets {
        return Err(err("gate.identity_headers", "applies to an origin upstream only"));
    }
    if g.session_check_interval > MAX_SESSION_CHECK_INTERVAL {
        return Err(err(
            "gate.session_check_interval",
            format!("at most {MAX_SESSION_CHECK_INTERVAL} seconds (a session ended elsewhere must stop opening pages within it)"),
        ));
    }
    let mut rules = Vec::new();
    for (i, r) in g.rules.into_iter().enumerate() {
        let path = format!("gate.rules[{i}]");
        let star = r.path.find('*');
        if !r.path.starts_with('/') || star.is_some_and(|s| s != r.path.len() - 1) {
            return Err(err(format!("{path}.path"), "a path such as `/docs/*` (a `*` only at the end) or `/exact`"));
        }
        let key = gate_rule_key(&r.path, g.case_insensitive_paths).map_err(|m| err(format!("{path}.path"), m))?;
        let public = match r.allow.as_deref() {
            None | Some("signed_in") => false,
            Some("anyone") => true,
            Some(other) => return Err(err(format!("{path}.allow"), format!("`{other}`: use anyone or signed_in"))),
        };
        if public && (!r.require_roles.is_empty() || !r.require_email_domains.is_empty()) {
            return Err(err(format!("{path}.allow"), "a rule for anyone cannot require roles or email domains"));
        }
        let require_email_domains = domains(&r.require_email_domains, &format!("{path}.require_email_domains"))?;
        rules.push(GateRule { path: r.path, public, require_roles: r.require_roles, require_email_domains, key });
    }
    let addresses = match (&upstream, Url::parse(issuer)) {
        (SiteUpstream::Origin(origin), Ok(public)) => Some(OriginAddresses {
            origin: origin.origin().ascii_serialization(),
            public: public.origin().ascii_serialization(),
            public_host: match public.port() {
                Some(port) => format!("{}:{port}", public.host_str().unwrap_or("")),
                None => public.host_str().unwrap_or("").to_owned(),
            },
            public_scheme: public.scheme().to_owned(),
        }),
        _ => None,
    };
    Ok(Gate {
        addresses,
        upstream,
        identity_headers: g.identity_headers,
        case_insensitive_paths: g.case_insensitive_paths,
        session_check_interval: g.session_check_interval,
        rules,
    })
}

/// The match key of a rule path, which must be written in canonical form: requests are
/// matched in that form, so another spelling would never match what it seems to.
fn gate_rule_key(rule: &str, case_insensitive: bool) -> Result<String, String> {
    let written = rule.strip_suffix('*').unwrap_or(rule);
    let star = if written.len() < rule.len() { "*" } else { "" };
    if written.contains(';') {
        return Err(format!("`{rule}`: path parameters (`;`) are not matched; leave them out"));
    }
    match SitePath::parse(written) {
        Err(e) => Err(format!("`{rule}` is not a canonical path: {e}")),
        Ok(canonical) if canonical.as_str() != written => {
            Err(format!("`{rule}` is not in canonical form (requests are matched as `{canonical}{star}`): write that"))
        }
        Ok(canonical) => Ok(canonical.match_key(case_insensitive)),
    }
}
