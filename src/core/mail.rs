//! Outgoing mail (account verification links), through the configured sender.

use serde_json::json;

use super::config::MailSender;
use super::keys;
use super::ports::{get_json, put_json, PortError, Ports};

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// How long the dev inbox keeps mails.
const DEV_INBOX_TTL: u64 = 3600;

/// Sends `mail`. The dev inbox keeps it in KV (and notes it in the log without its link);
/// the HTTP sender POSTs it to the mail API.
pub async fn send(sender: &MailSender, ports: &Ports<'_>, mail: &Mail) -> Result<(), PortError> {
    match sender {
        MailSender::DevInbox => {
            let key = keys::dev_inbox(&mail.to);
            let mut inbox: Vec<Mail> = get_json(ports.store, &key).await?.unwrap_or_default();
            inbox.push(mail.clone());
            put_json(ports.store, &key, &inbox, Some(DEV_INBOX_TTL)).await?;
            (ports.log)(&format!("dev inbox: mail to {} ({}); read it at /dev/inbox?to=…", mail.to, mail.subject));
            Ok(())
        }
        MailSender::Http { url, api_key, from } => {
            let body = json!({ "from": from, "to": mail.to, "subject": mail.subject, "text": mail.text });
            let req = http::Request::post(url.as_str())
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {}", api_key.expose()))
                .body(body.to_string().into_bytes())
                .map_err(|e| PortError(format!("mail request: {e}")))?;
            let res = ports.http.send(req).await?;
            if res.status().is_success() {
                Ok(())
            } else {
                Err(PortError(format!("the mail API answered HTTP {}", res.status().as_u16())))
            }
        }
    }
}

/// The dev inbox of `to` as JSON (newest last).
pub async fn dev_inbox(ports: &Ports<'_>, to: &str) -> Result<String, PortError> {
    Ok(ports.store.get(&keys::dev_inbox(to)).await?.unwrap_or_else(|| "[]".into()))
}
