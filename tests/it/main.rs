//! keyedge's native integration tests, one crate (one link of the library) with a module per
//! subject; `common` is the in-memory harness. See docs/testing.md.

mod common;

mod accounts;
mod admin;
mod authorization_request;
mod body_limits;
mod broker_flow;
mod brokering;
mod browser_cases;
mod client_linking;
mod concurrent_edits;
mod config;
mod consistency;
mod csrf;
mod error_details;
mod faults;
mod first_login_attacks;
mod gate;
mod gate_paths;
mod hostile_input;
mod i18n;
mod id_token_verification;
mod idp_options;
mod keycloak_claims;
mod keycloak_import;
mod logout;
mod lost_answers;
mod oauth2_upstream;
mod oidcc_conformance;
mod openmetadata;
mod outside_review;
mod outside_review_16;
mod outside_review_19;
mod outside_review_19b;
mod outside_review_20;
mod outside_review_20b;
mod outside_review_20c;
mod outside_review_20d;
mod pkce_and_keys;
mod properties;
mod rate_limits;
mod realm_urls;
mod refresh_policy;
#[cfg(feature = "saml")]
mod saml_attacks;
#[cfg(feature = "saml")]
mod saml_attacks_2;
#[cfg(feature = "saml")]
mod saml_dsig;
#[cfg(feature = "saml")]
mod saml_login;
#[cfg(feature = "saml")]
mod saml_response;
mod security_headers;
mod social_presets;
mod step_up;
mod storage_conformance;
mod storage_cost;
mod token_attacks;
mod tokens;
mod upgrade_compat;
mod upstream_faults;
