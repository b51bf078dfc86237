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
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub review_title: &'static str,
    pub review_intro: &'static str,
    pub save_continue: &'static str,
    pub confirm_title: &'static str,
    pub confirm_text: &'static str,
    pub confirm_question: &'static str,
    pub link_existing: &'static str,
    pub review_profile: &'static str,
    pub email_sent_title: &'static str,
    pub email_sent_text: &'static str,
    pub or_reauthenticate: &'static str,
    pub reauth_title: &'static str,
    pub reauth_text: &'static str,
    pub mail_subject: &'static str,
    pub mail_body: &'static str,
    pub mail_ignore: &'static str,
    pub unlink: &'static str,
    pub sessions: &'static str,
    pub device: &'static str,
    pub signed_in_at: &'static str,
    pub this_session: &'static str,
    pub end_session: &'static str,
    pub roles: &'static str,
    pub last_seen: &'static str,
    /// In the verification mail: `{}` is the account's username (and address).
    pub mail_account: &'static str,
    /// In the verification mail: `{}` is the upstream username and the identity provider.
    pub mail_identity: &'static str,
    pub email_sent_account: &'static str,
    pub email_already_sent: &'static str,
    pub mail_limited_title: &'static str,
    pub mail_limited_text: &'static str,
    pub link_confirm_title: &'static str,
    /// `{}` is the application's name.
    pub link_confirm_text: &'static str,
    pub link_confirm_note: &'static str,
    pub cancel: &'static str,
    /// On an error page, before the reference of the log line that tells more.
    pub reference: &'static str,
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
    first_name: "First name",
    last_name: "Last name",
    review_title: "Check your profile",
    review_intro: "This is the first time you sign in with {}. Check what keyedge will keep about you.",
    save_continue: "Save and continue",
    confirm_title: "Account already exists",
    confirm_text: "An account with the same {} already exists:",
    confirm_question: "Add your {} identity to it? You will confirm that the account is yours first.",
    link_existing: "Add to existing account",
    review_profile: "Review profile",
    email_sent_title: "Check your email",
    email_sent_text: "We sent a link to {}. Open it in this browser within 10 minutes to add your identity to the account.",
    or_reauthenticate: "Or confirm by signing in with an identity provider the account already uses:",
    reauth_title: "Confirm it is your account",
    reauth_text: "Sign in with an identity provider the existing account already uses; then your {} identity is added to it.",
    mail_subject: "Add {} to your keyedge account",
    mail_body: "Someone, hopefully you, signed in with {} and asked to add it to your keyedge account. To confirm, open this link in the same browser within 10 minutes:",
    mail_ignore: "If this was not you, ignore this mail: nothing changes.",
    unlink: "Unlink",
    sessions: "Sessions",
    device: "Device",
    signed_in_at: "Signed in",
    this_session: "this session",
    end_session: "End",
    roles: "Roles",
    last_seen: "Last seen",
    mail_account: "Account: {}",
    mail_identity: "Identity to add: {}",
    email_sent_account: "We sent a link to the email address of that account. Open it in this browser within 10 minutes to add your identity to the account.",
    email_already_sent: "A link for this sign-in was already sent, so no other mail was sent. Open that link in this browser within 10 minutes of its sending.",
    mail_limited_title: "No link sent",
    mail_limited_text: "Too many links were asked for this account recently, so no mail was sent. Please try again later.",
    link_confirm_title: "Link another sign-in?",
    link_confirm_text: "{} asks to add a sign-in to your account:",
    link_confirm_note: "Next you sign in at that identity provider; nothing is linked unless you do.",
    cancel: "Cancel",
    reference: "Reference for the operator",
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
    first_name: "Vorname",
    last_name: "Nachname",
    review_title: "Profil prüfen",
    review_intro: "Sie melden sich zum ersten Mal mit {} an. Prüfen Sie, was keyedge über Sie speichert.",
    save_continue: "Speichern und weiter",
    confirm_title: "Konto existiert bereits",
    confirm_text: "Es gibt bereits ein Konto mit derselben Angabe ({}):",
    confirm_question: "Ihre Identität bei {} hinzufügen? Sie bestätigen zuerst, dass das Konto Ihnen gehört.",
    link_existing: "Zum bestehenden Konto hinzufügen",
    review_profile: "Profil bearbeiten",
    email_sent_title: "Prüfen Sie Ihre E-Mails",
    email_sent_text: "Wir haben einen Link an {} gesendet. Öffnen Sie ihn innerhalb von 10 Minuten in diesem Browser, um Ihre Identität dem Konto hinzuzufügen.",
    or_reauthenticate: "Oder bestätigen Sie, indem Sie sich bei einem Identitätsanbieter anmelden, den das Konto bereits nutzt:",
    reauth_title: "Bestätigen Sie, dass es Ihr Konto ist",
    reauth_text: "Melden Sie sich bei einem Identitätsanbieter an, den das bestehende Konto bereits nutzt; danach wird Ihre Identität bei {} hinzugefügt.",
    mail_subject: "{} zu Ihrem keyedge-Konto hinzufügen",
    mail_body: "Jemand, hoffentlich Sie, hat sich mit {} angemeldet und möchte es Ihrem keyedge-Konto hinzufügen. Öffnen Sie zur Bestätigung innerhalb von 10 Minuten diesen Link im selben Browser:",
    mail_ignore: "Wenn Sie das nicht waren, ignorieren Sie diese E-Mail: Es ändert sich nichts.",
    unlink: "Trennen",
    sessions: "Sitzungen",
    device: "Gerät",
    signed_in_at: "Angemeldet",
    this_session: "diese Sitzung",
    end_session: "Beenden",
    roles: "Rollen",
    last_seen: "Zuletzt aktiv",
    mail_account: "Konto: {}",
    mail_identity: "Hinzuzufügende Identität: {}",
    email_sent_account: "Wir haben einen Link an die E-Mail-Adresse dieses Kontos gesendet. Öffnen Sie ihn innerhalb von 10 Minuten in diesem Browser, um Ihre Identität dem Konto hinzuzufügen.",
    email_already_sent: "Für diese Anmeldung wurde bereits ein Link gesendet, daher wurde keine weitere E-Mail verschickt. Öffnen Sie diesen Link innerhalb von 10 Minuten nach dem Versand in diesem Browser.",
    mail_limited_title: "Kein Link gesendet",
    mail_limited_text: "Für dieses Konto wurden in letzter Zeit zu viele Links angefordert, daher wurde keine E-Mail gesendet. Bitte versuchen Sie es später erneut.",
    link_confirm_title: "Weitere Anmeldung verknüpfen?",
    link_confirm_text: "{} möchte Ihrem Konto eine Anmeldung hinzufügen:",
    link_confirm_note: "Als Nächstes melden Sie sich bei diesem Identitätsanbieter an; verknüpft wird nur, wenn Sie das tun.",
    cancel: "Abbrechen",
    reference: "Referenz für den Betreiber",
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
