//! The connector's configuration: one TOML file, environment overrides, secrets from files.
//!
//! - [`model`]: the typed settings and their defaults;
//! - [`load`]: reading the file and the environment, collecting every mistake at once;
//! - [`validate`]: the rules a well-typed configuration must still satisfy.

pub mod adoption;
pub mod load;
pub mod model;
pub mod validate;

pub use adoption::Adoption;
pub use load::{
    ConfigError, ENV_PREFIX, Issue, Origin, load, load_str, load_str_with_warnings,
    load_with_warnings,
};
pub use model::*;

/// A complete, commented configuration with every setting and its default. `config example`
/// prints it; the tests check that it stays complete and valid.
pub const EXAMPLE: &str = include_str!("../../config/example.toml");

#[cfg(test)]
mod tests;
