//! The notices a user gets about their messages: why one was not filed and what to do about
//! it, and what was left out of one that was filed (a truncated body, attachments not stored).

use gc_store::{LedgerAction, NewLedgerEntry};

use crate::email::model::MailMessage;
use crate::email::rules::EmailRules;
use crate::ports::Notification;

/// What a warning about a filed message is about; the tag is kept in the warning's ledger
/// `detail` (`{"warning": "truncated_body"}`) so the notice can be chosen after the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserWarning {
    /// The body was cut at `[emails] max_body_chars`.
    TruncatedBody,
    /// An attachment (or the whole message) was not stored.
    SkippedAttachment,
}

impl UserWarning {
    /// The tag in the ledger detail.
    pub fn as_str(self) -> &'static str {
        match self {
            UserWarning::TruncatedBody => "truncated_body",
            UserWarning::SkippedAttachment => "skipped_attachment",
        }
    }

    fn of(entry: &NewLedgerEntry) -> Option<UserWarning> {
        if entry.action != LedgerAction::Warning {
            return None;
        }
        match entry.detail.as_ref()?.get("warning")?.as_str()? {
            "truncated_body" => Some(UserWarning::TruncatedBody),
            "skipped_attachment" => Some(UserWarning::SkippedAttachment),
            _ => None,
        }
    }

    fn wanted(self, rules: &EmailRules) -> bool {
        match self {
            UserWarning::TruncatedBody => rules.warn_user_on_truncated_body,
            UserWarning::SkippedAttachment => rules.warn_user_on_skipped_attachment,
        }
    }
}

/// The warning notice for a filed message whose ledger entries carry warnings the settings
/// want the user told about, or `None`.
pub fn warning_notice(
    m: &MailMessage,
    ledger: &[NewLedgerEntry],
    rules: &EmailRules,
) -> Option<Notification> {
    let items: Vec<&str> = ledger
        .iter()
        .filter(|e| UserWarning::of(e).is_some_and(|w| w.wanted(rules)))
        .map(|e| e.reason.as_str())
        .collect();
    if items.is_empty() {
        return None;
    }
    let subject = if m.subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        m.subject.clone()
    };
    let list: String = items
        .iter()
        .map(|t| format!("<li>{}</li>", escape(t)))
        .collect();
    Some(Notification {
        subject: format!("Filed in CRM with warnings: {subject}"),
        html: format!(
            "<p>The message <b>{}</b> was filed in Aurea CRM, but not completely:</p>\
             <ul>{list}</ul>\
             <p><b>What to do:</b> if the missing part matters, add it to the activity in CRM \
             by hand (the message is in the folder <i>{}</i>). If this happens often, tell \
             your CRM administrator.</p>",
            escape(&subject),
            escape(&rules.success_folder),
        ),
    })
}

/// The notice for a message that could not be filed. Every text from the message or the
/// reason is HTML-escaped.
pub fn notification(
    m: &MailMessage,
    reason: &str,
    sync_folder: &str,
    failure_folder: &str,
) -> Notification {
    let subject = if m.subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        m.subject.clone()
    };
    Notification {
        subject: format!("Not filed in CRM: {subject}"),
        html: format!(
            "<p>The message <b>{}</b> could not be filed in Aurea CRM.</p>\
             <p><b>Why:</b> {}</p>\
             <p><b>What to do:</b> the message is in the folder <i>{}</i> below <i>{}</i>. \
             Correct the cause (for example add the missing contact in CRM), then move the \
             message back into <i>{}</i> to file it again. If the problem stays, forward this \
             note to your CRM administrator.</p>",
            escape(&subject),
            escape(reason),
            escape(failure_folder),
            escape(sync_folder),
            escape(sync_folder)
        ),
    }
}

/// HTML text escaping (`&`, `<`, `>`, quotes).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_from_the_message() {
        let m = MailMessage {
            subject: "<script>alert(1)</script> & \"co\"".into(),
            ..Default::default()
        };
        let n = notification(&m, "CRM said <no>", "/Inbox/crm", "Sync_Failure");
        assert!(
            n.subject.contains("<script>"),
            "the subject line is plain text"
        );
        assert!(!n.html.contains("<script>"));
        assert!(
            n.html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;")
        );
        assert!(n.html.contains("CRM said &lt;no&gt;"));
        let n = notification(&MailMessage::default(), "x", "/Inbox/crm", "F");
        assert_eq!(n.subject, "Not filed in CRM: (no subject)");
    }

    fn warning(what: UserWarning, text: &str) -> NewLedgerEntry {
        let mut e =
            NewLedgerEntry::new("1", gc_store::Kind::Email, "m", LedgerAction::Warning, text);
        e.detail = Some(serde_json::json!({ "warning": what.as_str() }));
        e
    }

    #[test]
    fn warning_notices_follow_the_settings() {
        let m = MailMessage {
            subject: "Offer <v2>".into(),
            ..Default::default()
        };
        let ledger = vec![
            NewLedgerEntry::new(
                "1",
                gc_store::Kind::Email,
                "m",
                LedgerAction::Created,
                "created",
            ),
            warning(
                UserWarning::TruncatedBody,
                "body truncated to 10 characters",
            ),
            warning(
                UserWarning::SkippedAttachment,
                "attachment \"a.zip\" skipped: <big>",
            ),
        ];
        let all = EmailRules::default();
        let n = warning_notice(&m, &ledger, &all).unwrap();
        assert_eq!(n.subject, "Filed in CRM with warnings: Offer <v2>");
        assert!(n.html.contains("body truncated to 10 characters"));
        assert!(n.html.contains("&lt;big&gt;"), "{}", n.html);
        assert!(!n.html.contains("created"));
        let only_attachments = EmailRules {
            warn_user_on_truncated_body: false,
            ..Default::default()
        };
        let n = warning_notice(&m, &ledger, &only_attachments).unwrap();
        assert!(!n.html.contains("truncated"));
        assert!(n.html.contains("a.zip"));
        let none = EmailRules {
            warn_user_on_truncated_body: false,
            warn_user_on_skipped_attachment: false,
            ..Default::default()
        };
        assert_eq!(warning_notice(&m, &ledger, &none), None);
        assert_eq!(warning_notice(&m, &ledger[..1], &all), None);
    }
}
