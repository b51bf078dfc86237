//! Running background jobs, with retries that never hold up the user.

use crate::core::ports::{Http, Job, Sleep, Timeout};

/// Delays before the second and third attempts.
pub const RETRY_DELAYS_MS: [u64; 2] = [1_000, 5_000];

/// Seconds a client's back-channel logout endpoint has to answer each attempt (an upstream
/// IdP's end-session call has the IdP's own `http_timeout`): a client that never answers
/// costs an attempt, not the rest of the Worker's `waitUntil` time.
pub const CLIENT_NOTICE_TIMEOUT: u64 = 5;

/// Builds a job's request afresh for each attempt.
type MakeRequest<'a> = dyn Fn() -> Option<http::Request<Vec<u8>>> + 'a;

/// Runs `job`, retrying failed deliveries; returns whether it succeeded.
pub async fn run(job: &Job, http: &dyn Http, sleep: &dyn Sleep, log: &dyn Fn(&str)) -> bool {
    // Where it goes: the upstream logout URL carries the IdP's ID token, so an error that
    // quotes it is logged without it.
    let (what, target, request): (String, &str, &MakeRequest) = match job {
        Job::BackchannelLogout { client_id, uri, logout_token } => {
            (format!("back-channel logout to {client_id}"), uri, &move || {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("logout_token", logout_token)
                    .finish();
                let mut req = http::Request::post(uri.as_str())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.into_bytes())
                    .ok()?;
                req.extensions_mut().insert(Timeout(CLIENT_NOTICE_TIMEOUT));
                Some(req)
            })
        }
        Job::UpstreamLogout { alias, url, timeout } => {
            (format!("back-channel logout at identity provider {alias}"), url, &move || {
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
            Err(e) => {
                let e = e.to_string().replace(target, "(its URL)");
                log(&format!("{what}: {e} (attempt {})", attempt + 1))
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::PortError;
    use async_trait::async_trait;
    use std::cell::RefCell;

    /// A runtime whose fetch errors quote the URL, as some do.
    struct QuotingFailure;

    #[async_trait(?Send)]
    impl Http for QuotingFailure {
        async fn send(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, PortError> {
            Err(PortError(format!("fetch to {} failed", req.uri())))
        }
    }

    struct NoWait;

    #[async_trait(?Send)]
    impl Sleep for NoWait {
        async fn sleep(&self, _millis: u64) {}
    }

    #[test]
    fn a_failed_upstream_logout_never_logs_the_id_token_in_its_url() {
        let url = "https://idp.test/logout?id_token_hint=eyJ.secret.sig&state=s".to_owned();
        let job = Job::UpstreamLogout { alias: "up".into(), url, timeout: 5 };
        let lines = RefCell::new(Vec::new());
        let log = |l: &str| lines.borrow_mut().push(l.to_owned());
        assert!(!futures::executor::block_on(run(&job, &QuotingFailure, &NoWait, &log)));
        let lines = lines.into_inner();
        assert_eq!(lines.len(), 3, "three attempts: {lines:?}");
        assert!(lines.iter().all(|l| !l.contains("eyJ.secret.sig") && l.contains("(its URL)")), "{lines:?}");
    }

    /// Records the time each request was given.
    struct Recording(RefCell<Vec<Option<Timeout>>>);

    #[async_trait(?Send)]
    impl Http for Recording {
        async fn send(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, PortError> {
            self.0.borrow_mut().push(req.extensions().get::<Timeout>().copied());
            Ok(http::Response::builder().status(200).body(Vec::new()).expect("response"))
        }
    }

    #[test]
    fn every_job_request_has_a_time_to_answer_in() {
        let jobs = [
            (
                Job::BackchannelLogout {
                    client_id: "app".into(),
                    uri: "https://app.test/bc".into(),
                    logout_token: "t".into(),
                },
                CLIENT_NOTICE_TIMEOUT,
            ),
            (Job::UpstreamLogout { alias: "up".into(), url: "https://idp.test/logout".into(), timeout: 7 }, 7),
        ];
        for (job, seconds) in jobs {
            let http = Recording(RefCell::new(Vec::new()));
            assert!(futures::executor::block_on(run(&job, &http, &NoWait, &|_| {})));
            assert_eq!(http.0.into_inner(), vec![Some(Timeout(seconds))], "{job:?}");
        }
    }
}
