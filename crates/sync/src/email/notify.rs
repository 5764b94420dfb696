//! The notice that tells a user why a message was not filed and what to do about it.

use crate::email::model::MailMessage;
use crate::ports::Notification;

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
}
