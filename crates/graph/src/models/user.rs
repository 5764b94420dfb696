//! `user`.

model! {
    /// A directory user. Use the object `id` as the stable key.
    pub struct User {
        pub id: String,
        pub display_name: Option<String>,
        pub mail: Option<String>,
        pub user_principal_name: Option<String>,
        pub account_enabled: Option<bool>,
        /// `SMTP:primary@x`, `smtp:alias@x`.
        pub proxy_addresses: Option<Vec<String>>,
        pub user_type: Option<String>,
        pub mail_nickname: Option<String>,
        pub other_mails: Option<Vec<String>>,
        pub given_name: Option<String>,
        pub surname: Option<String>,
        pub job_title: Option<String>,
        pub department: Option<String>,
        pub assigned_licenses: Option<Vec<serde_json::Value>>,
    }
}

impl User {
    /// All SMTP addresses of the user (primary mail first, then aliases), lower-cased.
    pub fn smtp_addresses(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |a: &str| {
            let a = a.to_ascii_lowercase();
            if !a.is_empty() && !out.contains(&a) {
                out.push(a);
            }
        };
        if let Some(m) = &self.mail {
            push(m);
        }
        for p in self.proxy_addresses.iter().flatten() {
            if let Some(rest) = p.strip_prefix("SMTP:").or_else(|| p.strip_prefix("smtp:")) {
                push(rest);
            }
        }
        out
    }
}
