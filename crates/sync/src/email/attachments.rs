//! Which documents a filed e-mail gets: its attachments (none, all, or up to a size limit) or
//! the whole message as an `.eml`, with a warning for everything left out. Pure functions.

use crate::email::model::{DocumentPlan, MailAttachment};
use crate::email::rules::AttachmentPolicy;

/// The documents to attach and the warnings for what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentSet {
    /// Documents to attach.
    pub documents: Vec<DocumentPlan>,
    /// One warning per skipped attachment / oversized message.
    pub warnings: Vec<String>,
}

/// Apply the attachment policy. `Err` when an attachment that should be stored cannot be
/// read: the message then fails as a whole (the user is told), rather than being filed with a
/// silently missing document.
pub fn plan_attachments(
    attachments: &[MailAttachment],
    policy: AttachmentPolicy,
) -> Result<DocumentSet, String> {
    let mut set = DocumentSet::default();
    if policy == AttachmentPolicy::None {
        return Ok(set);
    }
    let mut names = Vec::new();
    for (i, a) in attachments.iter().enumerate() {
        let size = match &a.content {
            Ok(bytes) => bytes.len() as u64,
            Err(_) => a.size,
        };
        if let AttachmentPolicy::Limited { max_bytes } = policy
            && size > max_bytes
        {
            set.warnings.push(format!(
                "attachment {:?} ({}) skipped: larger than the limit of {}",
                a.name,
                kb(size),
                kb(max_bytes)
            ));
            continue;
        }
        let content = match &a.content {
            Ok(c) => c.clone(),
            Err(e) => return Err(format!("attachment {:?} cannot be read: {e}", a.name)),
        };
        let base = if a.name.trim().is_empty() {
            format!("attachment-{}", i + 1)
        } else {
            a.name.trim().to_owned()
        };
        let file_name = unique_name(&mut names, &base);
        set.documents.push(DocumentPlan {
            file_name,
            content_type: if a.content_type.is_empty() {
                "application/octet-stream".into()
            } else {
                a.content_type.clone()
            },
            content,
        });
    }
    Ok(set)
}

/// The whole message as one `.eml` document, unless it is bigger than `max_bytes`.
pub fn plan_whole_message(subject: &str, mime: Vec<u8>, max_bytes: u64) -> DocumentSet {
    let size = mime.len() as u64;
    if size > max_bytes {
        return DocumentSet {
            documents: Vec::new(),
            warnings: vec![format!(
                "whole message ({}) not stored: larger than the limit of {}",
                kb(size),
                kb(max_bytes)
            )],
        };
    }
    DocumentSet {
        documents: vec![DocumentPlan {
            file_name: format!("{}.eml", file_stem(subject)),
            content_type: "message/rfc822".into(),
            content: mime,
        }],
        warnings: Vec::new(),
    }
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
            name: name.into(),
            content_type: "application/pdf".into(),
            size: size as u64,
            inline: false,
            content: Ok(vec![b'x'; size]),
        }
    }

    #[test]
    fn none_takes_nothing_even_unreadable() {
        let mut bad = att("a.pdf", 10);
        bad.content = Err("boom".into());
        let s = plan_attachments(&[bad], AttachmentPolicy::None).unwrap();
        assert!(s.documents.is_empty() && s.warnings.is_empty());
    }

    #[test]
    fn all_takes_everything_with_unique_names() {
        let s = plan_attachments(
            &[att("a.pdf", 10), att("A.pdf", 20), att("", 1)],
            AttachmentPolicy::All,
        )
        .unwrap();
        let names: Vec<_> = s.documents.iter().map(|d| d.file_name.as_str()).collect();
        assert_eq!(names, vec!["a.pdf", "A (2).pdf", "attachment-3"]);
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn limited_skips_big_ones_with_a_warning() {
        let s = plan_attachments(
            &[att("small.pdf", 1024), att("big.pdf", 4096)],
            AttachmentPolicy::Limited { max_bytes: 2048 },
        )
        .unwrap();
        assert_eq!(s.documents.len(), 1);
        assert_eq!(s.documents[0].file_name, "small.pdf");
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("big.pdf") && s.warnings[0].contains("4 KB"));
    }

    #[test]
    fn unreadable_attachment_fails_the_message_unless_skipped_by_size() {
        let mut bad = att("bad.pdf", 4096);
        bad.content = Err("invalid base64".into());
        let e = plan_attachments(std::slice::from_ref(&bad), AttachmentPolicy::All).unwrap_err();
        assert!(e.contains("bad.pdf") && e.contains("invalid base64"));
        let s = plan_attachments(&[bad], AttachmentPolicy::Limited { max_bytes: 10 }).unwrap();
        assert_eq!(s.warnings.len(), 1);
    }

    #[test]
    fn whole_message_up_to_the_limit() {
        let s = plan_whole_message("Re: offer / v2", vec![1; 100], 100);
        assert_eq!(s.documents[0].file_name, "Re_ offer _ v2.eml");
        assert_eq!(s.documents[0].content_type, "message/rfc822");
        let s = plan_whole_message("x", vec![1; 101], 100);
        assert!(s.documents.is_empty());
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(file_stem("  "), "message");
    }
}
