//! The configuration of a SAML 2.0 identity provider (`kind = "saml"`): Keycloak's "SAML v2.0
//! Identity Providers" options under their snake_case names, checked, and the typed settings
//! the flow uses.

use serde::Deserialize;
use url::Url;

use std::sync::Arc;

use super::dsig::{SpKey, TrustedKey};
use super::enc::RsaOaepKey;
use super::metadata::{Binding, Endpoint, IdpDescriptor};
pub use crate::core::config::Landing;
use crate::core::config::{err, parse_url, ConfigError, KindOptions, Secrets};

/// The options only a SAML provider takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSaml {
    /// The IdP's metadata: an https URL (fetched when first needed, kept [`METADATA_TTL`]),
    /// or the `EntityDescriptor` XML itself.
    #[serde(default)]
    import_metadata: Option<String>,
    /// The IdP's entity id (`Issuer` of its responses); from the metadata when imported.
    #[serde(default)]
    idp_entity_id: Option<String>,
    #[serde(default)]
    single_sign_on_service_url: Option<String>,
    #[serde(default)]
    single_logout_service_url: Option<String>,
    #[serde(default)]
    backchannel_logout: bool,
    #[serde(default)]
    name_id_policy_format: NameIdFormat,
    #[serde(default)]
    principal_type: PrincipalType,
    #[serde(default)]
    principal_attribute: Option<String>,
    #[serde(default)]
    validating_x509_certificates: Vec<String>,
    #[serde(default)]
    want_authn_requests_signed: bool,
    #[serde(default)]
    signature_algorithm: SignatureAlgorithm,
    #[serde(default)]
    sp_signing_key_env: Option<String>,
    #[serde(default)]
    sp_certificate_env: Option<String>,
    #[serde(default)]
    force_authn: bool,
    #[serde(default = "default_true")]
    validate_signature: bool,
    #[serde(default = "default_true")]
    post_binding_response: bool,
    #[serde(default)]
    post_binding_authn_request: bool,
    #[serde(default)]
    post_binding_logout: bool,
    #[serde(default)]
    want_assertions_signed: bool,
    #[serde(default)]
    want_assertions_encrypted: bool,
    #[serde(default)]
    sp_encryption_key_env: Option<String>,
    #[serde(default)]
    sp_encryption_certificate_env: Option<String>,
    #[serde(default = "default_skew")]
    allowed_clock_skew: u64,
    #[serde(default)]
    attribute_consuming_service: Option<RawAttributeConsumingService>,
    #[serde(default)]
    idp_initiated_login: Option<RawLanding>,
    #[serde(default)]
    entity_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttributeConsumingService {
    index: u16,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLanding {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    return_to: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_skew() -> u64 {
    30
}

/// The longest `allowed_clock_skew`.
pub const MAX_CLOCK_SKEW: u64 = 300;

/// How long imported metadata is kept before it is fetched again.
pub const METADATA_TTL: i64 = 3600;

/// `name_id_policy_format`: the `NameIDPolicy Format` keyedge asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameIdFormat {
    #[default]
    Persistent,
    Transient,
    Email,
    Unspecified,
}

impl NameIdFormat {
    pub fn urn(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            NameIdFormat::Email => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            NameIdFormat::Unspecified => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        }
    }
}

/// `principal_type`: what identifies the user at the IdP (Keycloak's "Principal type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PrincipalType {
    #[default]
    Subject,
    Attribute,
    FriendlyAttribute,
}

/// Where the upstream user id comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The assertion's `Subject/NameID`.
    NameId,
    /// The first value of the attribute with this `Name`.
    Attribute(String),
    /// The first value of the attribute with this `FriendlyName`.
    FriendlyName(String),
}

/// `signature_algorithm`: how keyedge signs its requests (Keycloak's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum SignatureAlgorithm {
    #[default]
    RSA_SHA256,
    ECDSA_SHA256,
}

/// keyedge's key as the service provider, and its certificate for the descriptor.
#[derive(Clone)]
pub struct SpCredentials {
    pub key: SpKey,
    /// The certificate's DER, base64 (what `ds:X509Certificate` holds).
    pub certificate: String,
}

impl std::fmt::Debug for SpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpCredentials").field("certificate", &self.certificate).finish_non_exhaustive()
    }
}

/// keyedge's RSA key for encrypted assertions, and its certificate for the descriptor
/// (`KeyDescriptor use="encryption"`), which is what the IdP encrypts to.
#[derive(Clone)]
pub struct SpDecryption {
    pub key: Arc<RsaOaepKey>,
    /// The option the key came from: `sp_encryption_key_env`, or `sp_signing_key_env` when
    /// the signing key serves for both.
    pub key_field: &'static str,
    /// The certificate's DER, base64.
    pub certificate: String,
}

impl std::fmt::Debug for SpDecryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpDecryption").field("certificate", &self.certificate).finish_non_exhaustive()
    }
}

/// Where the IdP's facts (entity id, endpoints, certificates) come from.
#[derive(Debug, Clone)]
pub enum IdpSource {
    /// All configured (or imported from XML given in the configuration).
    Fixed(IdpDescriptor),
    /// Read from the IdP's metadata URL; what the configuration sets overrides it.
    Url { url: Url, overrides: Box<Overrides> },
}

/// What the configuration sets besides imported metadata (which it overrides).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub entity_id: Option<String>,
    pub sso: Option<Endpoint>,
    pub slo: Option<Endpoint>,
    pub certificates: Vec<TrustedKey>,
}

impl Overrides {
    /// The IdP's facts: the metadata's, with the configured ones in their place.
    pub fn apply(&self, mut d: IdpDescriptor) -> IdpDescriptor {
        if let Some(e) = &self.entity_id {
            d.entity_id = e.clone();
        }
        if let Some(sso) = &self.sso {
            d.sso = vec![sso.clone()];
        }
        if let Some(slo) = &self.slo {
            d.slo = vec![slo.clone()];
        }
        if !self.certificates.is_empty() {
            d.signing_keys = self.certificates.clone();
        }
        d
    }
}

#[derive(Debug, Clone)]
pub struct SamlProvider {
    pub idp: IdpSource,
    /// keyedge's entity id towards this IdP; `None`: keyedge's issuer (Keycloak: the realm).
    pub entity_id: Option<String>,
    pub name_id_policy_format: NameIdFormat,
    pub principal: Principal,
    /// How the AuthnRequest travels (`post_binding_authn_request`).
    pub authn_request_binding: Binding,
    /// The binding asked for in the AuthnRequest's `ProtocolBinding` (`post_binding_response`);
    /// the ACS takes a response by either binding, each checked as its binding requires.
    pub response_binding: Binding,
    /// How logout messages travel (`post_binding_logout`).
    pub logout_binding: Binding,
    /// keyedge signs its requests (`want_authn_requests_signed`) with this key.
    pub signing: Option<(SpCredentials, SignatureAlgorithm)>,
    /// keyedge's certificate, for the descriptor (signing), when it has one.
    pub sp_certificate: Option<String>,
    pub force_authn: bool,
    pub want_assertions_signed: bool,
    /// keyedge's decryption key, when it has one: an `EncryptedAssertion` is decrypted with it.
    pub decryption: Option<SpDecryption>,
    /// Only encrypted assertions are taken (`want_assertions_encrypted`; needs `decryption`).
    pub want_assertions_encrypted: bool,
    pub allowed_clock_skew: u64,
    /// `AttributeConsumingServiceIndex` sent in requests, and its service in the descriptor.
    pub attribute_consuming_service: Option<(u16, String)>,
    /// When a keyedge session from this IdP ends, send the IdP a `LogoutRequest` server to
    /// server (SOAP is not spoken: the Redirect binding's URL, fetched) instead of sending the
    /// browser there.
    pub backchannel_logout: bool,
    /// IdP-initiated login: off (`None`, an unsolicited response is refused), or where it lands.
    pub idp_initiated_login: Option<Landing>,
}

pub(crate) fn provider(options: KindOptions, secrets: &Secrets) -> Result<SamlProvider, ConfigError> {
    let path = options.path;
    let p: RawSaml = options.finish()?;
    let at = |f: &str| format!("{path}.{f}");
    if !p.validate_signature {
        return Err(err(
            at("validate_signature"),
            "keyedge never accepts an unsigned SAML response: anyone can write one in a browser. Have the IdP sign its responses or assertions",
        ));
    }
    if p.allowed_clock_skew > MAX_CLOCK_SKEW {
        return Err(err(at("allowed_clock_skew"), format!("must be at most {MAX_CLOCK_SKEW} seconds")));
    }
    let principal = match (p.principal_type, p.principal_attribute.clone()) {
        (PrincipalType::Subject, None) => Principal::NameId,
        (PrincipalType::Subject, Some(_)) => {
            return Err(err(
                at("principal_attribute"),
                "is used with principal_type = \"attribute\" or \"friendly_attribute\"",
            ))
        }
        (PrincipalType::Attribute, Some(a)) if !a.is_empty() => Principal::Attribute(a),
        (PrincipalType::FriendlyAttribute, Some(a)) if !a.is_empty() => Principal::FriendlyName(a),
        (_, _) => return Err(err(at("principal_attribute"), "names the attribute that identifies the user")),
    };
    let url = |v: &Option<String>, f: &str| -> Result<Option<Url>, ConfigError> {
        v.as_deref().map(|s| parse_url(s).map_err(|m| err(at(f), m))).transpose()
    };
    let binding = |post: bool| if post { Binding::Post } else { Binding::Redirect };
    let (authn_request_binding, logout_binding) =
        (binding(p.post_binding_authn_request), binding(p.post_binding_logout));
    let sso = url(&p.single_sign_on_service_url, "single_sign_on_service_url")?
        .map(|url| Endpoint { url, binding: authn_request_binding });
    let slo = url(&p.single_logout_service_url, "single_logout_service_url")?
        .map(|url| Endpoint { url, binding: logout_binding });
    let mut certificates = Vec::new();
    for (i, c) in p.validating_x509_certificates.iter().enumerate() {
        let key = TrustedKey::from_certificate(c)
            .map_err(|e| err(format!("{path}.validating_x509_certificates[{i}]"), e.to_string()))?;
        certificates.push(key);
    }
    let sp_certificate = match &p.sp_certificate_env {
        Some(name) => {
            let pem = secret_pem(secrets, at("sp_certificate_env"), name)?;
            Some(certificate_der_base64(&pem).map_err(|m| err(at("sp_certificate_env"), m))?)
        }
        None => None,
    };
    let key = match &p.sp_signing_key_env {
        Some(name) => {
            let pem = secret_pem(secrets, at("sp_signing_key_env"), name)?;
            Some(SpKey::from_pkcs8_pem(&pem).map_err(|e| err(at("sp_signing_key_env"), e.to_string()))?)
        }
        None => None,
    };
    let signing = match (p.want_authn_requests_signed, key, &sp_certificate) {
        (false, _, _) => None,
        (true, Some(key), Some(certificate)) => {
            let fits = matches!(
                (&key, p.signature_algorithm),
                (SpKey::Rsa(_), SignatureAlgorithm::RSA_SHA256) | (SpKey::P256(_), SignatureAlgorithm::ECDSA_SHA256)
            );
            if !fits {
                return Err(err(
                    at("signature_algorithm"),
                    "does not fit the key of sp_signing_key_env (RSA_SHA256 takes an RSA key, ECDSA_SHA256 a P-256 key)",
                ));
            }
            Some((SpCredentials { key, certificate: certificate.clone() }, p.signature_algorithm))
        }
        (true, _, _) => return Err(err(
            at("want_authn_requests_signed"),
            "needs sp_signing_key_env (a PKCS#8 PEM key) and sp_certificate_env (its certificate, for the descriptor)",
        )),
    };
    let decryption = decryption(&p, secrets, &at)?;
    if p.want_assertions_encrypted && decryption.is_none() {
        return Err(err(
            at("want_assertions_encrypted"),
            "needs keyedge's RSA key: sp_encryption_key_env and sp_encryption_certificate_env (or an RSA sp_signing_key_env with its sp_certificate_env)",
        ));
    }
    let idp = match p.import_metadata.as_deref().map(str::trim) {
        Some(xml) if xml.starts_with('<') => {
            let imported =
                IdpDescriptor::parse(xml).map_err(|m| err(at("import_metadata"), format!("IdP metadata: {m}")))?;
            let overrides = Overrides { entity_id: p.idp_entity_id.clone(), sso, slo, certificates };
            IdpSource::Fixed(overrides.apply(imported))
        }
        Some(u) => {
            let url = parse_url(u).map_err(|m| err(at("import_metadata"), m))?;
            IdpSource::Url {
                url,
                overrides: Box::new(Overrides { entity_id: p.idp_entity_id.clone(), sso, slo, certificates }),
            }
        }
        None => {
            let entity_id = p.idp_entity_id.clone().filter(|e| !e.is_empty()).ok_or_else(|| {
                err(at("idp_entity_id"), "is required without import_metadata (the Issuer of the IdP's responses)")
            })?;
            let sso =
                sso.ok_or_else(|| err(at("single_sign_on_service_url"), "is required without import_metadata"))?;
            if certificates.is_empty() {
                return Err(err(
                    at("validating_x509_certificates"),
                    "is required without import_metadata: the IdP's signing certificate(s), PEM or base64",
                ));
            }
            IdpSource::Fixed(IdpDescriptor {
                entity_id,
                sso: vec![sso],
                slo: slo.into_iter().collect(),
                signing_keys: certificates,
                want_authn_requests_signed: false,
            })
        }
    };
    if p.backchannel_logout && matches!(&idp, IdpSource::Fixed(d) if d.slo.is_empty()) {
        return Err(err(at("backchannel_logout"), "needs the IdP's single_logout_service_url"));
    }
    let idp_initiated_login = match p.idp_initiated_login {
        None => None,
        Some(RawLanding { client_id: Some(c), return_to: None }) if !c.is_empty() => {
            Some(Landing::Client { client_id: c })
        }
        Some(RawLanding { client_id: None, return_to: Some(path) }) => {
            let local = path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control());
            if !local {
                return Err(err(at("idp_initiated_login.return_to"), "must be a path on keyedge's origin, like `/`"));
            }
            Some(Landing::Page { path })
        }
        Some(_) => {
            return Err(err(
                at("idp_initiated_login"),
                "takes either client_id (the landing client) or return_to (a path on keyedge's origin)",
            ))
        }
    };
    let attribute_consuming_service = p.attribute_consuming_service.map(|a| {
        let name = a.name.unwrap_or_else(|| "keyedge".to_owned());
        (a.index, name)
    });
    Ok(SamlProvider {
        idp,
        entity_id: p.entity_id.filter(|e| !e.is_empty()),
        name_id_policy_format: p.name_id_policy_format,
        principal,
        authn_request_binding,
        response_binding: binding(p.post_binding_response),
        logout_binding,
        signing,
        sp_certificate,
        force_authn: p.force_authn,
        want_assertions_signed: p.want_assertions_signed,
        decryption,
        want_assertions_encrypted: p.want_assertions_encrypted,
        allowed_clock_skew: p.allowed_clock_skew,
        attribute_consuming_service,
        backchannel_logout: p.backchannel_logout,
        idp_initiated_login,
    })
}

/// A PEM from a secret, whose newlines may be written `\n` (as in .dev.vars).
fn secret_pem(secrets: &Secrets, path: String, name: &str) -> Result<String, ConfigError> {
    Ok(secrets.need(path, name)?.expose().replace("\\n", "\n"))
}

/// keyedge's decryption key and certificate: `sp_encryption_key_env` with
/// `sp_encryption_certificate_env`; or, for `want_assertions_encrypted` alone, the signing key
/// and certificate when that key is RSA (one key for both, as a Keycloak realm has).
fn decryption(
    p: &RawSaml,
    secrets: &Secrets,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<SpDecryption>, ConfigError> {
    let (key_field, cert_field, key_env, cert_env) = match (&p.sp_encryption_key_env, &p.sp_encryption_certificate_env)
    {
        (Some(k), Some(c)) => ("sp_encryption_key_env", "sp_encryption_certificate_env", k, c),
        (Some(_), None) => {
            return Err(err(
                at("sp_encryption_certificate_env"),
                "is needed with sp_encryption_key_env: the IdP encrypts to this certificate",
            ))
        }
        (None, Some(_)) => {
            return Err(err(at("sp_encryption_key_env"), "is needed with sp_encryption_certificate_env"))
        }
        (None, None) => match (p.want_assertions_encrypted, &p.sp_signing_key_env, &p.sp_certificate_env) {
            (true, Some(k), Some(c)) => ("sp_signing_key_env", "sp_certificate_env", k, c),
            _ => return Ok(None),
        },
    };
    let key = RsaOaepKey::from_pkcs8_pem(&secret_pem(secrets, at(key_field), key_env)?).map_err(|e| {
        err(
            at(key_field),
            format!("{e} (encrypted assertions need an RSA key of at least {} bits)", super::dsig::MIN_RSA_BITS),
        )
    })?;
    let pem = secret_pem(secrets, at(cert_field), cert_env)?;
    let (public, certificate) = certificate_key_and_der(&pem).map_err(|m| err(at(cert_field), m))?;
    if !key.is_key_of(&public) {
        return Err(err(at(cert_field), format!("is not the certificate of the key in {key_field}")));
    }
    Ok(Some(SpDecryption { key: Arc::new(key), key_field, certificate }))
}

/// A certificate given as PEM (`-----BEGIN CERTIFICATE-----`, newlines possibly written `\n`)
/// or bare base64 DER, as the base64 of its DER; checked to be a certificate with a key
/// keyedge can use.
pub fn certificate_der_base64(text: &str) -> Result<String, String> {
    certificate_key_and_der(text).map(|(_, der)| der)
}

/// [`certificate_der_base64`] with the certificate's key, from one reading of it.
fn certificate_key_and_der(text: &str) -> Result<(TrustedKey, String), String> {
    let key = TrustedKey::from_certificate(text).map_err(|e| e.to_string())?;
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    Ok((key, body))
}
