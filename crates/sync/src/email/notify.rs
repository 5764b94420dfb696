//! What a user is told about their messages: why one was not filed and what to do about it,
//! and what was left out of one that was filed (a truncated body, attachments not stored),
//! and the one message per run that tells all of it ([`compose`]).

use gc_store::{LedgerAction, NewLedgerEntry};
use serde::{Deserialize, Serialize};

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

/// What the user is told about one message: kept under a pending name until the run's
/// notice went out (see [`digest`](super::digest)), so it is serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageNotice {
    /// The message's subject as the user knows it (`(no subject)` when empty).
    pub subject: String,
    /// Why it was not filed, or what was left out of it.
    #[serde(flatten)]
    pub about: NoticeAbout,
}

/// Not filed, or filed with warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum NoticeAbout {
    /// The message could not be filed, and why.
    NotFiled { reason: String },
    /// The message was filed, but these parts were left out.
    LeftOut { items: Vec<String> },
}

impl MessageNotice {
    fn of(m: &MailMessage, about: NoticeAbout) -> Self {
        let subject = if m.subject.is_empty() {
            "(no subject)".to_owned()
        } else {
            m.subject.clone()
        };
        MessageNotice { subject, about }
    }

    /// Whether it tells of a message that was not filed.
    pub fn not_filed(&self) -> bool {
        matches!(self.about, NoticeAbout::NotFiled { .. })
    }
}

/// The warning for a filed message whose ledger entries carry warnings the settings want
/// the user told about, or `None`.
pub fn warning_notice(
    m: &MailMessage,
    ledger: &[NewLedgerEntry],
    rules: &EmailRules,
) -> Option<MessageNotice> {
    let items: Vec<String> = ledger
        .iter()
        .filter(|e| UserWarning::of(e).is_some_and(|w| w.wanted(rules)))
        .map(|e| e.reason.clone())
        .collect();
    (!items.is_empty()).then(|| MessageNotice::of(m, NoticeAbout::LeftOut { items }))
}

/// The notice for a message that could not be filed.
pub fn failure_notice(m: &MailMessage, reason: &str) -> MessageNotice {
    MessageNotice::of(
        m,
        NoticeAbout::NotFiled {
            reason: reason.to_owned(),
        },
    )
}

/// How many notices of each sort a digest leaves unlisted (beyond its listing limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unlisted {
    /// Messages not filed.
    pub not_filed: u64,
    /// Messages filed with warnings.
    pub left_out: u64,
}

/// The one message that tells a user about a run's messages: those not filed (why, and what
/// to do), then those filed with warnings (what was left out). A single message keeps the
/// subject line a notice per message had (`Not filed in CRM: <subject>`); several are
/// counted in it. Every text from a message or a reason is HTML-escaped.
pub fn compose(notices: &[&MessageNotice], unlisted: Unlisted, rules: &EmailRules) -> Notification {
    let (failed, warned): (Vec<&MessageNotice>, Vec<&MessageNotice>) =
        notices.iter().copied().partition(|n| n.not_filed());
    let nf = failed.len() as u64 + unlisted.not_filed;
    let nw = warned.len() as u64 + unlisted.left_out;
    let messages = |n: u64| {
        if n == 1 {
            "1 message".to_owned()
        } else {
            format!("{n} messages")
        }
    };
    let subject = match (nf, nw) {
        (1, 0) if failed.len() == 1 => format!("Not filed in CRM: {}", failed[0].subject),
        (0, 1) if warned.len() == 1 => {
            format!("Filed in CRM with warnings: {}", warned[0].subject)
        }
        (_, 0) => format!("Not filed in CRM: {}", messages(nf)),
        (0, _) => format!("Filed in CRM with warnings: {}", messages(nw)),
        _ => format!(
            "Not filed in CRM: {}; filed with warnings: {}",
            messages(nf),
            messages(nw)
        ),
    };
    let more = |n: u64| {
        if n == 0 {
            String::new()
        } else {
            format!("<p>… and {} more.</p>", messages(n))
        }
    };
    let mut html = String::new();
    if nf > 0 {
        let list: String = failed
            .iter()
            .map(|n| match &n.about {
                NoticeAbout::NotFiled { reason } => {
                    format!("<li><b>{}</b>: {}</li>", escape(&n.subject), escape(reason))
                }
                NoticeAbout::LeftOut { .. } => String::new(),
            })
            .collect();
        html.push_str(&format!(
            "<p>These messages could not be filed in Aurea CRM:</p><ul>{list}</ul>{}\
             <p><b>What to do:</b> the messages are in the folder <i>{}</i> below <i>{}</i>. \
             Correct the cause (for example add the missing contact in CRM), then move a \
             message back into <i>{}</i> to file it again. If the problem stays, forward this \
             note to your CRM administrator.</p>",
            more(unlisted.not_filed),
            escape(&rules.failure_folder),
            escape(&rules.sync_folder),
            escape(&rules.sync_folder),
        ));
    }
    if nw > 0 {
        let list: String = warned
            .iter()
            .map(|n| match &n.about {
                NoticeAbout::LeftOut { items } => {
                    let items: String = items
                        .iter()
                        .map(|t| format!("<li>{}</li>", escape(t)))
                        .collect();
                    format!("<li><b>{}</b><ul>{items}</ul></li>", escape(&n.subject))
                }
                NoticeAbout::NotFiled { .. } => String::new(),
            })
            .collect();
        html.push_str(&format!(
            "<p>These messages were filed in Aurea CRM, but not completely:</p><ul>{list}</ul>{}\
             <p><b>What to do:</b> if a missing part matters, add it to the activity in CRM \
             by hand (the messages are in the folder <i>{}</i>). If this happens often, tell \
             your CRM administrator.</p>",
            more(unlisted.left_out),
            escape(&rules.success_folder),
        ));
    }
    Notification { subject, html }
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

    fn one(n: &MessageNotice) -> Notification {
        compose(&[n], Unlisted::default(), &EmailRules::default())
    }

    #[test]
    fn escapes_everything_from_the_message() {
        let m = MailMessage {
            subject: "<script>alert(1)</script> & \"co\"".into(),
            ..Default::default()
        };
        let n = one(&failure_notice(&m, "CRM said <no>"));
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
        let n = one(&failure_notice(&MailMessage::default(), "x"));
        assert_eq!(n.subject, "Not filed in CRM: (no subject)");
    }

    #[test]
    fn a_digest_lists_each_message_and_counts_the_rest() {
        let msg = |s: &str| MailMessage {
            subject: s.into(),
            ..Default::default()
        };
        let a = failure_notice(&msg("Offer"), "no contact for x@y.example");
        let b = failure_notice(&msg("Invoice"), "BCC only");
        let c = MessageNotice::of(
            &msg("Report"),
            NoticeAbout::LeftOut {
                items: vec!["body truncated".into()],
            },
        );
        let rules = EmailRules::default();
        let n = compose(&[&a, &b], Unlisted::default(), &rules);
        assert_eq!(n.subject, "Not filed in CRM: 2 messages");
        assert!(n.html.contains("<b>Offer</b>: no contact for x@y.example"));
        assert!(n.html.contains("<b>Invoice</b>: BCC only"));
        assert!(!n.html.contains("not completely"));
        let n = compose(&[&c, &a], Unlisted::default(), &rules);
        assert_eq!(
            n.subject,
            "Not filed in CRM: 1 message; filed with warnings: 1 message"
        );
        // Not filed first, then the warnings, each with what to do.
        let (nf, lo) = (
            n.html.find("could not be filed").unwrap(),
            n.html.find("not completely").unwrap(),
        );
        assert!(nf < lo, "{}", n.html);
        assert!(
            n.html
                .contains("<li><b>Report</b><ul><li>body truncated</li></ul></li>")
        );
        let n = compose(
            &[&c],
            Unlisted {
                not_filed: 0,
                left_out: 4,
            },
            &rules,
        );
        assert_eq!(n.subject, "Filed in CRM with warnings: 5 messages");
        assert!(n.html.contains("… and 4 messages more."), "{}", n.html);
        let n = one(&c);
        assert_eq!(n.subject, "Filed in CRM with warnings: Report");
    }

    #[test]
    fn a_notice_survives_its_pending_name() {
        let a = failure_notice(&MailMessage::default(), "why");
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            r#"{"subject":"(no subject)","notice":"not_filed","reason":"why"}"#
        );
        assert_eq!(serde_json::from_str::<MessageNotice>(&text).unwrap(), a);
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
        let n = one(&warning_notice(&m, &ledger, &all).unwrap());
        assert_eq!(n.subject, "Filed in CRM with warnings: Offer <v2>");
        assert!(n.html.contains("body truncated to 10 characters"));
        assert!(n.html.contains("&lt;big&gt;"), "{}", n.html);
        assert!(!n.html.contains("created"));
        let only_attachments = EmailRules {
            warn_user_on_truncated_body: false,
            ..Default::default()
        };
        let n = one(&warning_notice(&m, &ledger, &only_attachments).unwrap());
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
