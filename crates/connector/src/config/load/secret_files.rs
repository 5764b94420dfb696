//! `*_file` secrets: the client secret, the certificate password, the CRM password, the admin
//! token and the state URL read from files after the environment overrides, with an issue for
//! a key set both ways, an empty file or one that cannot be read. Kept apart because it reads
//! files of its own and runs on the deserialized configuration, not on the TOML table.

use std::path::PathBuf;

use secrecy::SecretString;

use super::{Issue, Loader, find_line};
use crate::config::model::{Config, DatabaseUrl};

impl Loader {
    /// Read `*_file` secrets into their keys. Giving both the key and its `_file` is an error:
    /// which one wins would be a guess.
    pub(super) fn resolve_secret_files(&mut self, config: &mut Config) {
        fn read(
            loader: &mut Loader,
            key: &str,
            value_set: bool,
            file: Option<&PathBuf>,
        ) -> Option<String> {
            let file = file?;
            let file_key = format!("{key}_file");
            if value_set {
                loader.issues.push(Issue {
                    origin: loader.source.origin(&file_key),
                    key: file_key,
                    message: format!("both `{}` and `{}_file` are set", leaf(key), leaf(key)),
                    hint: Some("keep only one of them".into()),
                });
                return None;
            }
            match std::fs::read_to_string(file) {
                Ok(s) => {
                    let s = s.trim_end_matches(['\n', '\r']).to_owned();
                    if s.is_empty() {
                        loader.issues.push(Issue {
                            origin: loader.source.origin(&file_key),
                            key: file_key,
                            message: format!("the secret file {} is empty", file.display()),
                            hint: Some("write the secret into the file".into()),
                        });
                        None
                    } else {
                        Some(s)
                    }
                }
                Err(e) => {
                    loader.issues.push(Issue {
                        origin: loader.source.origin(&file_key),
                        key: file_key,
                        message: format!(
                            "cannot read the secret file {}: {}",
                            file.display(),
                            e.kind()
                        ),
                        hint: Some("check the path and that the service user may read it".into()),
                    });
                    None
                }
            }
        }
        let m = &config.microsoft;
        let (set, file) = (m.client_secret.is_some(), m.client_secret_file.clone());
        if let Some(s) = read(self, "microsoft.client_secret", set, file.as_ref()) {
            config.microsoft.client_secret = Some(SecretString::from(s));
        }
        let m = &config.microsoft;
        let (set, file) = (
            m.certificate_password.is_some(),
            m.certificate_password_file.clone(),
        );
        if let Some(s) = read(self, "microsoft.certificate_password", set, file.as_ref()) {
            config.microsoft.certificate_password = Some(SecretString::from(s));
        }
        let (set, file) = (
            config.crm.password.is_some(),
            config.crm.password_file.clone(),
        );
        if let Some(s) = read(self, "crm.password", set, file.as_ref()) {
            config.crm.password = Some(SecretString::from(s));
        }
        let (set, file) = (
            config.admin.token.is_some(),
            config.admin.token_file.clone(),
        );
        if let Some(s) = read(self, "admin.token", set, file.as_ref()) {
            config.admin.token = Some(SecretString::from(s));
        }
        let url_set = self.source.env_keys.contains_key("state.url")
            || find_line(&self.source.text, "state.url").is_some();
        let file = config.state.url_file.clone();
        if let Some(s) = read(self, "state.url", url_set, file.as_ref()) {
            config.state.url = DatabaseUrl(s);
        }
    }
}

fn leaf(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}
