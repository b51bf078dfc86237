//! Running background jobs, with retries that never hold up the user.

use crate::core::ports::{Http, Job, Sleep};

/// Delays before the second and third attempts.
pub const RETRY_DELAYS_MS: [u64; 2] = [1_000, 5_000];

/// Runs `job`, retrying failed deliveries; returns whether it succeeded.
pub async fn run(job: &Job, http: &dyn Http, sleep: &dyn Sleep, log: &dyn Fn(&str)) -> bool {
    match job {
        Job::BackchannelLogout { client_id, uri, logout_token } => {
            let body =
                url::form_urlencoded::Serializer::new(String::new()).append_pair("logout_token", logout_token).finish();
            for attempt in 0..=RETRY_DELAYS_MS.len() {
                if attempt > 0 {
                    sleep.sleep(RETRY_DELAYS_MS[attempt - 1]).await;
                }
                let Ok(req) = http::Request::post(uri.as_str())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.clone().into_bytes())
                else {
                    return false;
                };
                // §2.8: the RP answers 200 (or 204) when it logged the session out.
                match http.send(req).await {
                    Ok(res) if res.status().is_success() => return true,
                    Ok(res) => log(&format!(
                        "back-channel logout to {client_id}: HTTP {} (attempt {})",
                        res.status().as_u16(),
                        attempt + 1
                    )),
                    Err(e) => log(&format!("back-channel logout to {client_id}: {e} (attempt {})", attempt + 1)),
                }
            }
            false
        }
    }
}
