//! Running background jobs, with retries that never hold up the user.

use crate::core::ports::{Http, Job, Sleep, Timeout};

/// Delays before the second and third attempts.
pub const RETRY_DELAYS_MS: [u64; 2] = [1_000, 5_000];

/// Runs `job`, retrying failed deliveries; returns whether it succeeded.
pub async fn run(job: &Job, http: &dyn Http, sleep: &dyn Sleep, log: &dyn Fn(&str)) -> bool {
    let (what, request): (String, &dyn Fn() -> Option<http::Request<Vec<u8>>>) = match job {
        Job::BackchannelLogout { client_id, uri, logout_token } => {
            (format!("back-channel logout to {client_id}"), &move || {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("logout_token", logout_token)
                    .finish();
                http::Request::post(uri.as_str())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.into_bytes())
                    .ok()
            })
        }
        Job::UpstreamLogout { alias, url, timeout } => {
            (format!("back-channel logout at identity provider {alias}"), &move || {
                let mut req = http::Request::get(url.as_str()).body(Vec::new()).ok()?;
                req.extensions_mut().insert(Timeout(*timeout));
                Some(req)
            })
        }
    };
    for attempt in 0..=RETRY_DELAYS_MS.len() {
        if attempt > 0 {
            sleep.sleep(RETRY_DELAYS_MS[attempt - 1]).await;
        }
        let Some(req) = request() else {
            return false;
        };
        // Back-Channel Logout §2.8: the RP answers 200 (or 204) when it logged the session
        // out; an IdP's end-session endpoint answers 2xx (or redirects, which fetch follows).
        match http.send(req).await {
            Ok(res) if res.status().is_success() => return true,
            Ok(res) => log(&format!("{what}: HTTP {} (attempt {})", res.status().as_u16(), attempt + 1)),
            Err(e) => log(&format!("{what}: {e} (attempt {})", attempt + 1)),
        }
    }
    false
}
