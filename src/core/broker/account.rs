//! `/account` and the start page.

use http::StatusCode;

use super::{session, users};
use crate::core::app::Keyedge;
use crate::core::error::Outcome;
use crate::core::pages::{self, LinkRow};
use crate::core::ports::Ports;
use crate::core::web::{self, Request};

pub async fn home(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let signed_in = session::current(ports, app.cookies(), req).await?.is_some();
    Ok(web::html(StatusCode::OK, pages::home(app.css(), signed_in)))
}

pub async fn account(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let sign_in = || web::redirect("/login?return_to=%2Faccount");
    let Some(session) = session::current(ports, app.cookies(), req).await? else {
        return Ok(sign_in());
    };
    let Some(user) = users::load(ports, &session.user_id).await? else {
        return Ok(sign_in());
    };
    let provider_name = |alias: &str| {
        app.config
            .identity_providers
            .iter()
            .find(|p| p.alias == alias)
            .map_or(alias.to_owned(), |p| p.display_name.clone())
    };
    let links: Vec<LinkRow> = user
        .links
        .iter()
        .map(|l| LinkRow {
            provider: provider_name(&l.alias),
            username: l.username.clone(),
            linked_at: chrono::DateTime::from_timestamp(l.linked_at, 0).map(|d| d.to_rfc3339()).unwrap_or_default(),
        })
        .collect();
    Ok(web::html(StatusCode::OK, pages::account(app.css(), &user, &provider_name(&session.idp), &links)))
}
