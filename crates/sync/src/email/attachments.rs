//! Which documents a filed e-mail gets: its attachments (none, all, or up to a size limit) or
//! the whole message as an `.eml`, with a warning for everything left out. Pure functions over
//! the attachments' metadata: what is too big is never downloaded.

use crate::email::model::MailAttachment;
use crate::email::rules::AttachmentPolicy;

/// The largest attachment Outlook accepts (150 MB, Microsoft's documented limit): the cap of
/// a download when the policy itself sets none, so a lying size cannot fill the disk.
pub const MAX_ATTACHMENT_BYTES: u64 = 150 * 1024 * 1024;

/// An attachment to download and store, under the name it gets in CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedAttachment {
    /// The attachment (its id is what is downloaded).
    pub attachment: MailAttachment,
    /// File name in CRM (unique within the activity).
    pub file_name: String,
    /// MIME type in CRM.
    pub content_type: String,
    /// Download at most this many bytes; more is left out with [`too_large`].
    pub max_bytes: u64,
}

/// Which attachments to download, and the warnings for those left out by size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttachmentPlan {
    /// Attachments to download and store.
    pub wanted: Vec<WantedAttachment>,
    /// One warning per attachment left out.
    pub warnings: Vec<String>,
}

/// Apply the attachment policy to the attachments' metadata, before anything is downloaded.
/// `Err` when an attachment that should be stored cannot be read: the message then fails as
/// a whole (the user is told), rather than being filed with a silently missing document.
pub fn plan_attachments(
    attachments: &[MailAttachment],
    policy: AttachmentPolicy,
) -> Result<AttachmentPlan, String> {
    let mut plan = AttachmentPlan::default();
    let max_bytes = match policy {
        AttachmentPolicy::None => return Ok(plan),
        AttachmentPolicy::All => MAX_ATTACHMENT_BYTES,
        AttachmentPolicy::Limited { max_bytes } => max_bytes,
    };
    let mut names = Vec::new();
    for (i, a) in attachments.iter().enumerate() {
        if a.size > max_bytes {
            plan.warnings
                .push(too_large(&a.name, Some(a.size), max_bytes));
            continue;
        }
        if let Some(e) = &a.unreadable {
            return Err(format!("attachment {:?} cannot be read: {e}", a.name));
        }
        let base = if a.name.trim().is_empty() {
            format!("attachment-{}", i + 1)
        } else {
            a.name.trim().to_owned()
        };
        plan.wanted.push(WantedAttachment {
            attachment: a.clone(),
            file_name: unique_name(&mut names, &base),
            content_type: if a.content_type.is_empty() {
                "application/octet-stream".into()
            } else {
                a.content_type.clone()
            },
            max_bytes,
        });
    }
    Ok(plan)
}

/// The warning for an attachment left out by size (`size`: when Graph's metadata said it).
pub fn too_large(name: &str, size: Option<u64>, max_bytes: u64) -> String {
    match size {
        Some(size) => format!(
            "attachment {name:?} ({}) skipped: larger than the limit of {}",
            kb(size),
            kb(max_bytes)
        ),
        None => format!(
            "attachment {name:?} skipped: larger than the limit of {}",
            kb(max_bytes)
        ),
    }
}

/// The file name of the whole message as one `.eml` document.
pub fn whole_message_name(subject: &str) -> String {
    format!("{}.eml", file_stem(subject))
}

/// The warning for a whole message over its limit (its size is not read beyond the limit).
pub fn whole_message_too_large(max_bytes: u64) -> String {
    format!(
        "whole message not stored: larger than the limit of {}",
        kb(max_bytes)
    )
}

/// A file-system-safe stem from a subject.
pub fn file_stem(subject: &str) -> String {
    let s: String = subject
        .chars()
        .map(|c| {
            if c.is_control() || "\\/:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .take(100)
        .collect();
    let s = s.trim().trim_matches('.').to_owned();
    if s.is_empty() { "message".into() } else { s }
}

fn unique_name(names: &mut Vec<String>, base: &str) -> String {
    let mut name = base.to_owned();
    let mut n = 2;
    while names.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
        name = match base.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
            _ => format!("{base} ({n})"),
        };
        n += 1;
    }
    names.push(name.clone());
    name
}

fn kb(bytes: u64) -> String {
    format!("{} KB", bytes.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(name: &str, size: usize) -> MailAttachment {
        MailAttachment {
            id: format!("id-{name}"),
            name: name.into(),
            content_type: "application/pdf".into(),
            size: size as u64,
            inline: false,
            item: false,
            unreadable: None,
        }
    }

    fn names(p: &AttachmentPlan) -> Vec<&str> {
        p.wanted.iter().map(|w| w.file_name.as_str()).collect()
    }

    #[test]
    fn none_takes_nothing_even_unreadable() {
        let mut bad = att("a.pdf", 10);
        bad.unreadable = Some("boom".into());
        let s = plan_attachments(&[bad], AttachmentPolicy::None).unwrap();
        assert!(s.wanted.is_empty() && s.warnings.is_empty());
    }

    #[test]
    fn all_takes_everything_with_unique_names_up_to_outlooks_limit() {
        let s = plan_attachments(
            &[att("a.pdf", 10), att("A.pdf", 20), att("", 1)],
            AttachmentPolicy::All,
        )
        .unwrap();
        assert_eq!(names(&s), vec!["a.pdf", "A (2).pdf", "attachment-3"]);
        assert!(s.wanted.iter().all(|w| w.max_bytes == MAX_ATTACHMENT_BYTES));
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn limited_skips_big_ones_before_download_with_a_warning() {
        let s = plan_attachments(
            &[att("small.pdf", 1024), att("big.pdf", 4096)],
            AttachmentPolicy::Limited { max_bytes: 2048 },
        )
        .unwrap();
        assert_eq!(names(&s), vec!["small.pdf"]);
        assert_eq!(s.wanted[0].max_bytes, 2048);
        assert_eq!(s.wanted[0].attachment.id, "id-small.pdf");
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("big.pdf") && s.warnings[0].contains("4 KB"));
        assert!(too_large("x", None, 2048).ends_with("larger than the limit of 2 KB"));
    }

    #[test]
    fn unreadable_attachment_fails_the_message_unless_skipped_by_size() {
        let mut bad = att("bad.pdf", 4096);
        bad.unreadable = Some("unknown attachment type".into());
        let e = plan_attachments(std::slice::from_ref(&bad), AttachmentPolicy::All).unwrap_err();
        assert!(e.contains("bad.pdf") && e.contains("unknown attachment type"));
        let s = plan_attachments(&[bad], AttachmentPolicy::Limited { max_bytes: 10 }).unwrap();
        assert_eq!(s.warnings.len(), 1);
    }

    #[test]
    fn whole_message_names_and_warning() {
        assert_eq!(whole_message_name("Re: offer / v2"), "Re_ offer _ v2.eml");
        assert!(whole_message_too_large(100 * 1024).starts_with("whole message"));
        assert_eq!(file_stem("  "), "message");
    }
}
