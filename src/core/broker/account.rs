//! `/account` and the start page.

use http::StatusCode;

use super::{session, users};
use crate::core::app::Keyedge;
use crate::core::error::Outcome;
use crate::core::pages::{self, LinkRow, ProviderChoice};
use crate::core::ports::Ports;
use crate::core::web::{self, Request};

pub async fn home(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let signed_in = session::current(ports, app.cookies(), req).await?.is_some();
    Ok(web::html(StatusCode::OK, pages::home(app.ui(req), signed_in)))
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
    // Enabled IdPs the user has no identity at yet, including `link_only` ones.
    let linkable: Vec<ProviderChoice> = app
        .config
        .identity_providers
        .iter()
        .filter(|p| p.enabled && !p.hide_on_login_page && !user.links.iter().any(|l| l.alias == p.alias))
        .map(|p| ProviderChoice {
            display_name: p.display_name.clone(),
            href: format!("/broker/{}/link", p.alias),
            icon: p.icon.clone(),
        })
        .collect();
    let page = pages::account(app.ui(req), &user, &provider_name(&session.idp), &links, &linkable);
    Ok(web::html(StatusCode::OK, page))
}
