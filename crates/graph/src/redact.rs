//! Keep tokens out of logs and error messages.
//!
//! nextLinks and deltaLinks carry `$skiptoken`/`$deltatoken` in their query strings; anyone
//! holding one can read the mailbox's changes with a valid bearer token, so log lines show only
//! the parameter names.

/// The URL with the values of token-like query parameters replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (name, _) = pair.split_once('=').unwrap_or((pair, ""));
            let lower = name.to_ascii_lowercase();
            if lower.contains("token") || lower.contains("secret") || lower.contains("assertion") {
                format!("{name}=***")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_and_delta_tokens_are_hidden() {
        assert_eq!(
            redact_url(
                "https://g/v1.0/users/a/mailFolders/inbox/messages/delta?$skiptoken=SECRET1&$select=id"
            ),
            "https://g/v1.0/users/a/mailFolders/inbox/messages/delta?$skiptoken=***&$select=id"
        );
        assert_eq!(
            redact_url("https://g/x/delta?%24deltatoken=SECRET2"),
            "https://g/x/delta?%24deltatoken=***"
        );
        assert_eq!(redact_url("https://g/users"), "https://g/users");
        assert!(!redact_url("https://g/x?$deltaToken=abc&validationToken=def").contains("abc"));
    }
}
