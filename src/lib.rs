//! keyedge: an identity broker and OpenID Provider for Cloudflare Workers.
//!
//! [`core`] is pure Rust and tested natively; [`edge`] (wasm only) adapts it to the Worker.

pub mod core;

#[cfg(not(target_arch = "wasm32"))]
pub mod tools;

// Read by build.rs; compiled here for its tests.
#[cfg(test)]
mod build_config;

#[cfg(target_arch = "wasm32")]
mod edge;

/// The configuration file chosen at build time (`KEYEDGE_CONFIG`, default `keyedge.toml`).
#[cfg(not(target_arch = "wasm32"))]
pub const EMBEDDED_CONFIG: &str = include_str!(env!("KEYEDGE_CONFIG_PATH"));

/// The configuration file chosen at build time, as the JSON build.rs made of its TOML (what
/// [`core::config::Config::load`] reads in the Worker).
#[cfg(target_arch = "wasm32")]
pub const EMBEDDED_CONFIG: &str = include_str!(concat!(env!("OUT_DIR"), "/config.json"));
