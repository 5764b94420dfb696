//! Parsing and redacting state store URLs.

use std::fmt;

use crate::error::StoreError;

/// Which backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path`, `sqlite:path` or `sqlite::memory:`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
}

/// A state store URL that never shows its password.
///
/// `Display` and `Debug` both print the redacted form (`postgres://user:***@host/db`), so the
/// value can be logged and put into error messages safely. [`StoreUrl::expose`] gives the
/// real URL to the code that connects.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl {
    raw: String,
    backend: Backend,
}

impl StoreUrl {
    /// Classify a URL by scheme. Errors never contain the URL itself.
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let scheme = raw.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        let backend = match scheme.as_deref() {
            Some("sqlite") => Backend::Sqlite,
            Some("postgres" | "postgresql") => Backend::Postgres,
            Some(other) => {
                return Err(StoreError::InvalidUrl(format!(
                    "unsupported scheme {other:?}; use sqlite:// or postgres://"
                )));
            }
            None => {
                return Err(StoreError::InvalidUrl(
                    "missing scheme; use sqlite:// or postgres://".into(),
                ));
            }
        };
        if backend == Backend::Postgres {
            check_postgres_parameters(raw)?;
        }
        Ok(StoreUrl {
            raw: raw.to_owned(),
            backend,
        })
    }

    /// The selected backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The real URL, password included. Only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.raw)
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StoreUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The query parameters the PostgreSQL driver (sqlx) understands. It ignores any other one
/// with a warning that quotes the value, which may be a secret (`sslpassword=…`): such URLs
/// are refused instead, naming only the parameter.
const POSTGRES_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

fn check_postgres_parameters(raw: &str) -> Result<(), StoreError> {
    let Ok(url) = url::Url::parse(raw) else {
        return Ok(()); // the driver reports it, without the URL
    };
    for (key, _) in url.query_pairs() {
        if POSTGRES_PARAMETERS.contains(&key.as_ref()) {
            continue;
        }
        let why = if key.eq_ignore_ascii_case("sslpassword") {
            "encrypted client keys are not supported: decrypt the key file (e.g. `openssl pkey -in key.pem -out key-plain.pem`) and protect it by its file permissions instead".to_owned()
        } else {
            format!("known parameters: {}", POSTGRES_PARAMETERS.join(", "))
        };
        return Err(StoreError::InvalidUrl(format!(
            "the PostgreSQL driver does not know the parameter `{key}`; {why}"
        )));
    }
    Ok(())
}

/// Replace the password of a URL, and every query parameter that carries one (`password=`,
/// `sslpassword=`, any key ending in `password`, `pwd`), by `***`.
///
/// If the URL cannot be parsed at all, only its scheme is kept: a malformed URL may still
/// contain a password somewhere, and a log line is not worth the risk.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        let scheme = raw.split_once(':').map_or("", |(s, _)| s);
        return format!("{scheme}:[REDACTED]");
    };
    if url.password().is_some() {
        // set_password only fails for URLs that cannot have credentials, which have none.
        let _ = url.set_password(Some("***"));
    }
    let secret = |k: &str| {
        let k = k.to_ascii_lowercase();
        k.ends_with("password") || k == "pwd" || k == "pass"
    };
    if url.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_schemes() {
        assert_eq!(
            StoreUrl::parse("sqlite::memory:").unwrap().backend(),
            Backend::Sqlite
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///var/lib/gc/state.db")
                .unwrap()
                .backend(),
            Backend::Sqlite
        );
        assert_eq!(
            StoreUrl::parse("postgres://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            StoreUrl::parse("PostgreSQL://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        let err = StoreUrl::parse("mysql://root:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(StoreUrl::parse("no-scheme").is_err());
        // a parameter the driver would ignore (quoting its value in a warning) is refused
        let err = StoreUrl::parse("postgres://gc@h/db?sslmode=require&sslpassword=hunter2")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sslpassword") && !err.contains("hunter2"),
            "{err}"
        );
        let err = StoreUrl::parse("postgres://gc@h/db?pwd=hunter2")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`pwd`") && !err.contains("hunter2"), "{err}");
        assert!(StoreUrl::parse("postgres://gc@h/db?sslmode=require&password=x").is_ok());
    }

    #[test]
    fn redacts_passwords_everywhere() {
        let u =
            StoreUrl::parse("postgres://gc:hunter2@db.example:5432/state?sslmode=require").unwrap();
        for s in [format!("{u}"), format!("{u:?}"), u.redacted()] {
            assert!(!s.contains("hunter2"), "{s}");
            assert!(s.contains("gc:***@db.example"), "{s}");
        }
        assert_eq!(
            u.expose(),
            "postgres://gc:hunter2@db.example:5432/state?sslmode=require"
        );
        let q = redact_url("postgres://db/state?user=gc&password=hunter2");
        assert!(!q.contains("hunter2") && q.contains("password=***"), "{q}");
        let q = redact_url(
            "postgres://gc@db/state?sslmode=verify-full&sslpassword=hunter2&PassWord=hunter3",
        );
        assert!(!q.contains("hunter"), "{q}");
        assert!(
            q.contains("sslpassword=***") && q.contains("sslmode=verify-full"),
            "{q}"
        );
        assert_eq!(
            redact_url("postgres://gc@db/state"),
            "postgres://gc@db/state"
        );
        let bad = redact_url("postgres://gc:hunter2@[::1");
        assert!(!bad.contains("hunter2"), "{bad}");
    }
}
