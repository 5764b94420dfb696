//! The seeded messages: for each mailbox, messages from externals and colleagues with
//! CC/BCC, HTML and text bodies, attachments (an inline image, small files, an oversized one,
//! an attached message), reply threads; then each message's copies placed in the sender's
//! Sent Items and in every tenant recipient's folders, and one draft per mailbox. The largest
//! part of the seed, so apart from the rest.

use super::text::{SUBJECTS, fill, html_body, message_id, text_body};
use crate::ids;
use crate::people::{Directory, Person, PersonKind};
use crate::store::{
    Attachment, AttachmentContent, Message, Tenant, WELL_KNOWN_FOLDERS, recipient, ts,
};
use base64::Engine;
use jiff::{Timestamp, ToSpan};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value, json};

/// A 1×1 PNG used as inline image.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Size of the "oversized" attachment (over typical 3/10 MB limits).
pub(crate) const OVERSIZED_ATTACHMENT: usize = 12 * 1024 * 1024;

fn rcpt(p: &Person) -> Value {
    recipient(&p.display_name, &p.email)
}

struct Draft {
    props: Map<String, Value>,
    attachments: Vec<Attachment>,
    /// Mailboxes (user indices) that receive a copy in their Inbox.
    to_inboxes: Vec<usize>,
    /// Mailbox (user index) that keeps the sent copy.
    sent_by: Option<usize>,
}

pub(super) fn seed_mail(t: &mut Tenant, dir: &Directory, per_mailbox: usize) {
    let now = Timestamp::now();
    let mailbox_users: Vec<usize> = (0..dir.users.len())
        .filter(|i| dir.users[*i].has_mailbox())
        .collect();
    let mut drafts: Vec<(Draft, Timestamp)> = Vec::new();
    let mut rng = t.rng.clone();
    for (k, &ui) in mailbox_users.iter().enumerate() {
        let owner = &dir.users[ui];
        // previous message per external, for reply threads
        let mut last_from: Vec<(usize, String, String, String)> = Vec::new();
        for i in 0..per_mailbox {
            let received = now
                - ((i as i64) * 7 + (k as i64 % 5)).hours()
                - (rng.random_range(0..50) as i64).minutes();
            let ext_i = (ui * 7 + i * 3) % dir.externals.len().max(1);
            let external = &dir.externals[ext_i];
            let company = external
                .company
                .map(|c| dir.companies[c].name.clone())
                .unwrap_or_default();
            let n: u32 = rng.random_range(1000..99999);
            let subject = fill(
                SUBJECTS.choose(&mut rng).copied().unwrap_or("Hello"),
                &company,
                n,
            );
            let colleague_i =
                mailbox_users[(k + 1 + i % mailbox_users.len().max(1)) % mailbox_users.len()];
            let colleague = &dir.users[colleague_i];
            let mut props = Map::new();
            let mut attachments = Vec::new();
            let mut to_inboxes = vec![];
            let mut sent_by = None;
            let slot = i % 12;
            let (from, to, cc, bcc): (&Person, Vec<&Person>, Vec<&Person>, Vec<&Person>) =
                match slot {
                    // internal colleague writes, owner only in BCC (owner not among visible recipients)
                    6 if colleague_i != ui => (colleague, vec![external], vec![], vec![owner]),
                    // owner writes to an external, CC three colleagues: one message, several mailboxes
                    7 => {
                        let ccs: Vec<&Person> = mailbox_users
                            .iter()
                            .filter(|j| **j != ui)
                            .take(3)
                            .map(|j| &dir.users[*j])
                            .collect();
                        (owner, vec![external], ccs, vec![])
                    }
                    8 => (owner, vec![external], vec![], vec![]),
                    // colleague to owner (internal only)
                    10 if colleague_i != ui => (colleague, vec![owner], vec![], vec![]),
                    _ => (
                        external,
                        vec![owner],
                        if i % 4 == 1 && colleague_i != ui {
                            vec![colleague]
                        } else {
                            vec![]
                        },
                        vec![],
                    ),
                };
            let to_first = to.first().map(|p| p.given_name.clone()).unwrap_or_default();
            let inline_cid = (slot == 0).then(|| format!("image001.png@01DB{:08X}.{:08X}", n, i));
            let body = match slot {
                5 | 9 => {
                    json!({"contentType": "text", "content": text_body(&mut rng, &to_first, from)})
                }
                3 if i == 3 => {
                    json!({"contentType": "html", "content": html_body(&mut rng, &to_first, from, true, None, true)})
                }
                _ => {
                    json!({"contentType": "html", "content": html_body(&mut rng, &to_first, from, slot == 0 || slot == 2, inline_cid.as_deref(), false)})
                }
            };
            let from_domain = from.email.split('@').nth(1).unwrap_or("example").to_owned();
            let imid = message_id(&mut rng, &from_domain);
            // reply threads: answer the previous mail of the same external
            let mut headers = vec![json!({"name": "Message-ID", "value": imid})];
            let mut conversation = format!(
                "AAQkAD{}",
                ids::entity_id(&mut rng).trim_start_matches("AAMkAG")
            );
            let mut subject = subject;
            if slot == 9
                && let Some((_, prev_id, prev_conv, prev_subject)) = last_from
                    .iter()
                    .rev()
                    .find(|(e, ..)| *e == ext_i)
                    .cloned()
                    .or_else(|| last_from.last().cloned())
            {
                headers.push(json!({"name": "In-Reply-To", "value": prev_id}));
                headers.push(json!({"name": "References", "value": prev_id}));
                conversation = prev_conv;
                subject = format!("RE: {prev_subject}");
            }
            if from.kind == PersonKind::External {
                last_from.push((ext_i, imid.clone(), conversation.clone(), subject.clone()));
            }
            let mut conv_index = vec![1u8; 22];
            rng.fill(&mut conv_index[6..]);
            props.insert("subject".into(), json!(subject));
            props.insert("body".into(), body);
            props.insert("from".into(), rcpt(from));
            props.insert("sender".into(), rcpt(from));
            props.insert(
                "toRecipients".into(),
                Value::Array(to.iter().map(|p| rcpt(p)).collect()),
            );
            props.insert(
                "ccRecipients".into(),
                Value::Array(cc.iter().map(|p| rcpt(p)).collect()),
            );
            props.insert(
                "bccRecipients".into(),
                Value::Array(bcc.iter().map(|p| rcpt(p)).collect()),
            );
            props.insert("replyTo".into(), json!([]));
            props.insert("receivedDateTime".into(), json!(ts(received)));
            props.insert("sentDateTime".into(), json!(ts(received - 1.minutes())));
            props.insert("internetMessageId".into(), json!(imid));
            props.insert("conversationId".into(), json!(conversation));
            props.insert(
                "conversationIndex".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(&conv_index)),
            );
            props.insert(
                "importance".into(),
                json!(if i % 11 == 4 { "high" } else { "normal" }),
            );
            props.insert("isRead".into(), json!(i % 3 != 0));
            props.insert("isDraft".into(), json!(false));
            props.insert(
                "inferenceClassification".into(),
                json!(if i % 13 == 12 { "other" } else { "focused" }),
            );
            props.insert("internetMessageHeaders".into(), Value::Array(headers));
            let att = |rng: &mut ChaCha20Rng,
                       name: &str,
                       ct: &str,
                       content: AttachmentContent,
                       inline: bool,
                       cid: Option<String>| Attachment {
                id: ids::entity_id(rng),
                name: name.to_owned(),
                content_type: ct.to_owned(),
                is_inline: inline,
                content_id: cid,
                modified: received,
                content,
            };
            match slot {
                0 => {
                    attachments.push(att(
                        &mut rng,
                        "image001.png",
                        "image/png",
                        AttachmentContent::File(PNG.to_vec()),
                        true,
                        inline_cid.clone(),
                    ));
                }
                1 => {
                    let size = rng.random_range(20_000..90_000);
                    attachments.push(att(
                        &mut rng,
                        &format!("Quote-{n}.pdf"),
                        "application/pdf",
                        AttachmentContent::Synthetic {
                            size,
                            seed: n as u64,
                        },
                        false,
                        None,
                    ));
                    attachments.push(att(
                        &mut rng,
                        "notes.txt",
                        "text/plain",
                        AttachmentContent::File(
                            b"Open points:\r\n- price\r\n- delivery date\r\n".to_vec(),
                        ),
                        false,
                        None,
                    ));
                }
                2 if k % 2 == 0 => {
                    attachments.push(att(
                        &mut rng,
                        &format!("Catalogue-{company}.pdf").replace(' ', "_"),
                        "application/pdf",
                        AttachmentContent::Synthetic {
                            size: OVERSIZED_ATTACHMENT,
                            seed: n as u64,
                        },
                        false,
                        None,
                    ));
                }
                4 => {
                    let mut item = Map::new();
                    item.insert("subject".into(), json!(format!("Original offer {n}")));
                    item.insert("body".into(), json!({"contentType": "text", "content": "The original offer, forwarded as an attachment."}));
                    item.insert("from".into(), rcpt(external));
                    item.insert("toRecipients".into(), json!([rcpt(owner)]));
                    item.insert("sentDateTime".into(), json!(ts(received - 48.hours())));
                    item.insert("receivedDateTime".into(), json!(ts(received - 48.hours())));
                    item.insert(
                        "internetMessageId".into(),
                        json!(message_id(&mut rng, &from_domain)),
                    );
                    attachments.push(att(
                        &mut rng,
                        &format!("Original offer {n}"),
                        "message/rfc822",
                        AttachmentContent::Item(Box::new(item)),
                        false,
                        None,
                    ));
                }
                _ => {}
            }
            // where the copies go
            let from_ui = dir
                .users
                .iter()
                .position(|u| u.email == from.email)
                .filter(|j| dir.users[*j].has_mailbox());
            if let Some(j) = from_ui {
                sent_by = Some(j);
            }
            for p in to.iter().chain(cc.iter()).chain(bcc.iter()) {
                if let Some(j) = dir
                    .users
                    .iter()
                    .position(|u| u.email == p.email)
                    .filter(|j| dir.users[*j].has_mailbox())
                    && !to_inboxes.contains(&j)
                {
                    to_inboxes.push(j);
                }
            }
            drafts.push((
                Draft {
                    props,
                    attachments,
                    to_inboxes,
                    sent_by,
                },
                received,
            ));
        }
    }
    // place the copies
    for (i, (d, received)) in drafts.into_iter().enumerate() {
        if let Some(j) = d.sent_by {
            let mut p = d.props.clone();
            p.insert("isRead".into(), json!(true));
            place(
                t,
                &mut rng,
                j,
                "sentitems",
                p,
                d.attachments.clone(),
                received,
            );
        }
        for j in d.to_inboxes {
            let mut p = d.props.clone();
            // recipients never see the BCC line
            p.insert("bccRecipients".into(), json!([]));
            let folder = match i % 17 {
                3 => "inbox/Projects",
                5 => "inbox/Customers",
                8 => "inbox/Customers/Key Accounts",
                11 => "deleteditems",
                _ => "inbox",
            };
            place(t, &mut rng, j, folder, p, d.attachments.clone(), received);
        }
    }
    // one draft per mailbox
    for &ui in &mailbox_users {
        let owner = &dir.users[ui];
        let ext = &dir.externals[ui % dir.externals.len().max(1)];
        let mut p = Map::new();
        p.insert("subject".into(), json!("Draft: proposal outline"));
        p.insert("body".into(), json!({"contentType": "html", "content": "<html><body><p>Outline (work in progress)</p></body></html>"}));
        p.insert("from".into(), rcpt(owner));
        p.insert("sender".into(), rcpt(owner));
        p.insert("toRecipients".into(), json!([rcpt(ext)]));
        p.insert("isDraft".into(), json!(true));
        p.insert("isRead".into(), json!(true));
        p.insert("receivedDateTime".into(), json!(ts(now - 2.hours())));
        p.insert("sentDateTime".into(), json!(ts(now - 2.hours())));
        p.insert(
            "internetMessageId".into(),
            json!(message_id(&mut rng, &dir.domain)),
        );
        p.insert("conversationId".into(), json!(ids::entity_id(&mut rng)));
        place(t, &mut rng, ui, "drafts", p, Vec::new(), now - 2.hours());
    }
    t.rng = rng;
}

fn place(
    t: &mut Tenant,
    rng: &mut ChaCha20Rng,
    ui: usize,
    folder: &str,
    props: Map<String, Value>,
    attachments: Vec<Attachment>,
    at: Timestamp,
) {
    let seq = t.next_seq();
    let Some(mb) = t.users[ui].mailbox.as_mut() else {
        return;
    };
    let fid = match folder.split_once('/') {
        Some((wk, path)) => {
            let inbox_path = format!(
                "{}/{}",
                WELL_KNOWN_FOLDERS
                    .iter()
                    .find(|(w, _)| *w == wk)
                    .map(|(_, n)| *n)
                    .unwrap_or("Inbox"),
                path
            );
            mb.folder_by_path(&inbox_path)
        }
        None => mb.folder_id(folder),
    };
    let Some(fid) = fid else { return };
    mb.insert_message(Message {
        imm: ids::immutable_id(rng),
        rest: ids::rest_id(rng),
        folder: fid,
        seq,
        created: at,
        modified: at,
        props,
        ext: Vec::new(),
        attachments,
    });
}
