//! Log lines: one JSON object per line, each with the request id, for Workers Logs / Logpush.
//! What is logged is listed in `docs/operations.md`. Never tokens, codes, cookies, secrets or
//! query strings (which carry codes and states): only the path.

use serde_json::json;

/// An event of one request (`level` is `info`, `warn` or `error`).
pub fn event(request_id: &str, level: &str, message: &str) -> String {
    json!({ "level": level, "request_id": request_id, "message": message }).to_string()
}

/// The access line written when a request is answered.
pub fn access(request_id: &str, method: &str, path: &str, status: u16, duration_ms: f64) -> String {
    let level = if status >= 500 { "error" } else { "info" };
    json!({
        "level": level,
        "request_id": request_id,
        "method": method,
        // The path only: query strings carry codes, states and hints.
        "path": path.split('?').next().unwrap_or(""),
        "status": status,
        "duration_ms": (duration_ms * 10.0).round() / 10.0,
    })
    .to_string()
}
