//! The words on keyedge's pages, per language. English is the default; the language comes
//! from the client's `ui_locales` (OIDC Core §3.1.2.1), else the browser's `Accept-Language`.
//! A language is one [`Messages`] value here plus a line in [`LANGUAGES`]; the compiler
//! refuses a table that misses a string.

/// Every string the page templates show.
#[derive(Debug)]
pub struct Messages {
    /// The BCP 47 language tag (the page's `lang`).
    pub lang: &'static str,
    pub sign_in: &'static str,
    /// `{}` is the application's name.
    pub to_continue_to: &'static str,
    pub work_email: &'static str,
    pub continue_: &'static str,
    pub no_providers: &'static str,
    pub identity_providers: &'static str,
    /// `{}` is the identity provider's name.
    pub sign_in_with: &'static str,
    pub welcome: &'static str,
    pub welcome_text: &'static str,
    pub your_account: &'static str,
    pub username: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub verified: &'static str,
    pub user_id: &'static str,
    pub signed_in_with: &'static str,
    pub linked_identities: &'static str,
    pub identity_provider: &'static str,
    pub upstream_username: &'static str,
    pub linked: &'static str,
    pub link_another: &'static str,
    /// `{}` is the identity provider's name.
    pub link_with: &'static str,
    pub sign_out: &'static str,
    pub sign_out_question: &'static str,
    pub sign_out_text: &'static str,
    pub signed_out: &'static str,
    pub try_again: &'static str,
    pub back_to_start: &'static str,
    pub continuing: &'static str,
}

pub static EN: Messages = Messages {
    lang: "en",
    sign_in: "Sign in",
    to_continue_to: "to continue to {}",
    work_email: "Work email",
    continue_: "Continue",
    no_providers: "No identity provider is available for this application.",
    identity_providers: "Identity providers",
    sign_in_with: "Sign in with {}",
    welcome: "Welcome",
    welcome_text: "keyedge is an identity broker: sign in with one of the configured identity providers.",
    your_account: "Your account",
    username: "Username",
    name: "Name",
    email: "Email",
    verified: "verified",
    user_id: "User ID",
    signed_in_with: "Signed in with",
    linked_identities: "Linked identities",
    identity_provider: "Identity provider",
    upstream_username: "Upstream username",
    linked: "Linked",
    link_another: "Link another identity provider",
    link_with: "Link {}",
    sign_out: "Sign out",
    sign_out_question: "Sign out?",
    sign_out_text: "You will be signed out of keyedge and of the applications you used through it.",
    signed_out: "You are signed out",
    try_again: "Try again",
    back_to_start: "Back to the start page",
    continuing: "Continuing to the application…",
};

pub static DE: Messages = Messages {
    lang: "de",
    sign_in: "Anmelden",
    to_continue_to: "um mit {} fortzufahren",
    work_email: "Geschäftliche E-Mail-Adresse",
    continue_: "Weiter",
    no_providers: "Für diese Anwendung ist kein Identitätsanbieter verfügbar.",
    identity_providers: "Identitätsanbieter",
    sign_in_with: "Mit {} anmelden",
    welcome: "Willkommen",
    welcome_text:
        "keyedge ist ein Identity Broker: Melden Sie sich bei einem der eingerichteten Identitätsanbieter an.",
    your_account: "Ihr Konto",
    username: "Benutzername",
    name: "Name",
    email: "E-Mail",
    verified: "bestätigt",
    user_id: "Benutzer-ID",
    signed_in_with: "Angemeldet mit",
    linked_identities: "Verknüpfte Identitäten",
    identity_provider: "Identitätsanbieter",
    upstream_username: "Benutzername beim Anbieter",
    linked: "Verknüpft",
    link_another: "Weiteren Identitätsanbieter verknüpfen",
    link_with: "{} verknüpfen",
    sign_out: "Abmelden",
    sign_out_question: "Abmelden?",
    sign_out_text: "Sie werden von keyedge und den Anwendungen abgemeldet, die Sie darüber genutzt haben.",
    signed_out: "Sie sind abgemeldet",
    try_again: "Erneut versuchen",
    back_to_start: "Zurück zur Startseite",
    continuing: "Weiter zur Anwendung …",
};

/// The languages keyedge speaks.
pub static LANGUAGES: &[&Messages] = &[&EN, &DE];

impl Messages {
    /// `pattern` with its `{}` replaced by `value`.
    pub fn fill(&self, pattern: &str, value: &str) -> String {
        pattern.replacen("{}", value, 1)
    }

    /// The part of `pattern` before its `{}` (for markup around the value).
    pub fn before<'p>(&self, pattern: &'p str) -> &'p str {
        pattern.split_once("{}").map_or(pattern, |(b, _)| b)
    }

    /// The part of `pattern` after its `{}`.
    pub fn after<'p>(&self, pattern: &'p str) -> &'p str {
        pattern.split_once("{}").map_or("", |(_, a)| a)
    }
}

/// The table for the language of tag `tag` (`de`, `de-CH`, `DE_at`…), if keyedge has it.
pub fn by_tag(tag: &str) -> Option<&'static Messages> {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
    LANGUAGES.iter().copied().find(|m| m.lang.eq_ignore_ascii_case(primary))
}

/// The best language for `ui_locales` (space-separated, in order of preference), then an
/// `Accept-Language` header (q-values honoured); English when nothing matches.
pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>) -> &'static Messages {
    if let Some(m) = ui_locales.into_iter().flat_map(|l| l.split(' ')).find_map(by_tag) {
        return m;
    }
    let mut ranked: Vec<(f32, &str)> = accept_language
        .unwrap_or("")
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, tag))
        })
        .collect();
    // Stable: equal q-values keep the header's order.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.iter().find_map(|(_, tag)| by_tag(tag)).unwrap_or(&EN)
}
