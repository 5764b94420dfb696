//! Deterministic generation of the tenant's content from the seed: users, folders, messages
//! (HTML and text bodies, HTML comments, large bodies, attachments small and oversized, inline
//! `cid:` images, item attachments, internal and external recipients, CC/BCC, reply threads),
//! contacts, To Do lists and tasks, categories, and the calendar (see `seed_events`).

use crate::SandboxOptions;
use crate::ids;
use crate::people::{Directory, Person, PersonKind};
use crate::store::{
    Attachment, AttachmentContent, Category, Contact, ContactFolder, HIDDEN_WELL_KNOWN, MailFolder,
    Mailbox, Message, NewMessage, Task, Tenant, TodoList, User, WELL_KNOWN_FOLDERS, recipient, ts,
};
use base64::Engine;
use jiff::{Timestamp, ToSpan};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub(crate) const SUBJECTS: &[&str] = &[
    "Quote request for {company}",
    "Delivery schedule for order {n}",
    "Invoice {n}",
    "Proposal for {company}",
    "Follow-up on our call",
    "Price list 2027",
    "Contract renewal {company}",
    "Support ticket #{n}",
    "Meeting notes: kickoff with {company}",
    "Questions about the offer",
    "New contact at {company}",
    "Order confirmation #{n}",
];

const SENTENCES: &[&str] = &[
    "Thank you for the quick reply.",
    "Please find the requested documents attached.",
    "Could you send us an updated quote by Friday?",
    "We would like to schedule a call next week to discuss the details.",
    "The delivery is planned for the end of the month.",
    "Our purchasing department has approved the budget.",
    "Let me know if you need anything else from our side.",
    "I have added my colleague in copy, who will take over from here.",
    "The prices include shipping but exclude VAT.",
    "As discussed on the phone, here is a summary of the open points.",
];

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

/// Builds the whole tenant.
pub(crate) fn build_tenant(opts: &SandboxOptions, dir: &Directory) -> Tenant {
    let mut rng = ChaCha20Rng::seed_from_u64(opts.seed ^ 0x7e4a_47da_7a00);
    let mut users = Vec::new();
    for p in &dir.users {
        let (upn, user_type) = match p.kind {
            PersonKind::Guest => (
                format!("{}#EXT#@{}", p.email.replace('@', "_"), dir.domain),
                "Guest",
            ),
            _ => (p.email.clone(), "Member"),
        };
        let pending_mailbox = opts.lazy_mailboxes && p.has_mailbox();
        let mailbox = (!opts.lazy_mailboxes && p.has_mailbox()).then(|| base_mailbox(&mut rng));
        users.push(User {
            id: p.id.clone(),
            upn,
            mail: Some(p.email.clone()),
            display_name: p.display_name.clone(),
            given_name: p.given_name.clone(),
            surname: p.surname.clone(),
            user_type,
            account_enabled: true,
            job_title: p.job_title.clone(),
            mobile_phone: p.mobile_phone.clone(),
            deleted: false,
            seq: 1,
            mailbox,
            pending_mailbox,
        });
    }
    let index = Tenant::index_users(&users);
    let lazy = opts.lazy_mailboxes.then(|| crate::lazy::LazyMailboxes {
        seed: opts.seed,
        messages: opts.messages_per_mailbox,
        directory: Arc::new(dir.clone()),
    });
    let mut t = Tenant {
        seq: 10,
        rng,
        users,
        index,
        lazy,
    };
    if opts.lazy_mailboxes {
        return t;
    }
    seed_mail(&mut t, dir, opts.messages_per_mailbox);
    seed_contacts_tasks(&mut t, dir);
    crate::graph::calendar::seed_events(&mut t, dir);
    t
}

pub(crate) fn base_mailbox(rng: &mut ChaCha20Rng) -> Mailbox {
    let mut mb = Mailbox::default();
    let root = ids::folder_id(rng);
    mb.folders.push(MailFolder {
        id: root.clone(),
        parent: None,
        display_name: "Top of Information Store".into(),
        well_known: Some("msgfolderroot"),
        hidden: false,
        seq: 1,
        ext: Vec::new(),
    });
    for (wk, name) in WELL_KNOWN_FOLDERS.iter().skip(1) {
        mb.folders.push(MailFolder {
            id: ids::folder_id(rng),
            parent: Some(root.clone()),
            display_name: (*name).to_owned(),
            well_known: Some(wk),
            hidden: HIDDEN_WELL_KNOWN.contains(wk),
            seq: 1,
            ext: Vec::new(),
        });
    }
    if let Some(inbox) = mb.folder_id("inbox") {
        mb.add_folder(rng, 1, &inbox, "Projects");
        let customers = mb.add_folder(rng, 1, &inbox, "Customers");
        mb.add_folder(rng, 1, &customers, "Key Accounts");
    }
    for (name, color) in [
        ("Red category", "preset0"),
        ("Orange category", "preset1"),
        ("Yellow category", "preset3"),
        ("Green category", "preset4"),
        ("Blue category", "preset7"),
        ("Purple category", "preset8"),
    ] {
        mb.categories.push(Category {
            id: ids::guid(rng),
            display_name: name.into(),
            color: color.into(),
            seq: 1,
        });
    }
    mb
}

pub(crate) fn fill(template: &str, company: &str, n: u32) -> String {
    template
        .replace("{company}", company)
        .replace("{n}", &n.to_string())
}

fn html_body(
    rng: &mut ChaCha20Rng,
    to_first: &str,
    from: &Person,
    comment: bool,
    inline_cid: Option<&str>,
    large: bool,
) -> String {
    let mut s = String::from(
        "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n<style type=\"text/css\">p { margin: 0; }</style></head><body>\r\n",
    );
    if comment {
        s.push_str("<!-- [if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/></o:OfficeDocumentSettings></xml><![endif] -->\r\n");
    }
    s.push_str(&format!("<p>Hello {to_first},</p>\r\n"));
    let n = if large { 2500 } else { rng.random_range(2..5) };
    for _ in 0..n {
        let sentence = SENTENCES.choose(rng).copied().unwrap_or_default();
        s.push_str(&format!("<p>{sentence}</p>\r\n"));
    }
    if comment {
        s.push_str("<!-- internal note: do not forward -->\r\n");
    }
    s.push_str(&format!(
        "<p>Best regards,<br>{}<br>{}</p>\r\n",
        from.display_name, from.job_title
    ));
    if let Some(cid) = inline_cid {
        s.push_str(&format!(
            "<p><img src=\"cid:{cid}\" alt=\"logo\" width=\"120\" height=\"40\"></p>\r\n"
        ));
    }
    s.push_str("</body></html>");
    s
}

pub(crate) fn text_body(rng: &mut ChaCha20Rng, to_first: &str, from: &Person) -> String {
    let mut s = format!("Hi {to_first},\r\n\r\n");
    for _ in 0..rng.random_range(2..4) {
        s.push_str(SENTENCES.choose(rng).copied().unwrap_or_default());
        s.push_str("\r\n");
    }
    s.push_str(&format!("\r\nRegards,\r\n{}\r\n", from.display_name));
    s
}

fn rcpt(p: &Person) -> Value {
    recipient(&p.display_name, &p.email)
}

fn message_id(rng: &mut ChaCha20Rng, domain: &str) -> String {
    let mut b = [0u8; 12];
    rng.fill(&mut b);
    format!(
        "<{}{}@{}>",
        "AM6PR04MB",
        hex_upper(&b),
        domain
            .to_uppercase()
            .replace('.', "_")
            .to_lowercase()
            .replace('_', ".")
    )
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

struct Draft {
    props: Map<String, Value>,
    attachments: Vec<Attachment>,
    /// Mailboxes (user indices) that receive a copy in their Inbox.
    to_inboxes: Vec<usize>,
    /// Mailbox (user index) that keeps the sent copy.
    sent_by: Option<usize>,
}

fn seed_mail(t: &mut Tenant, dir: &Directory, per_mailbox: usize) {
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

/// A new received message (control API / tests).
pub(crate) fn new_received_message(
    dir: &Directory,
    rng: &mut ChaCha20Rng,
    seq: u64,
    owner: &str,
    m: &NewMessage,
    folder: String,
) -> Message {
    let now = m.received.unwrap_or_else(Timestamp::now);
    let from_addr = m.from.clone().unwrap_or_else(|| {
        dir.externals
            .first()
            .map(|p| p.email.clone())
            .unwrap_or_default()
    });
    let name_of = |a: &str| {
        dir.find_by_email(a)
            .map(|p| p.display_name.clone())
            .unwrap_or_default()
    };
    let list = |v: &[String]| Value::Array(v.iter().map(|a| recipient(&name_of(a), a)).collect());
    let to = if m.to.is_empty() {
        vec![owner.to_owned()]
    } else {
        m.to.clone()
    };
    let domain = from_addr.split('@').nth(1).unwrap_or("example").to_owned();
    let imid = match &m.internet_message_id {
        Some(id) => id.clone(),
        None => message_id(rng, &domain),
    };
    let mut headers = vec![json!({"name": "Message-ID", "value": imid})];
    if let Some(r) = &m.in_reply_to {
        headers.push(json!({"name": "In-Reply-To", "value": r}));
    }
    let body = match (&m.body_html, &m.body_text) {
        (Some(h), _) => json!({"contentType": "html", "content": h}),
        (None, Some(t)) => json!({"contentType": "text", "content": t}),
        (None, None) => json!({"contentType": "text", "content": ""}),
    };
    let mut props = Map::new();
    props.insert("subject".into(), json!(m.subject));
    props.insert("body".into(), body);
    props.insert("from".into(), recipient(&name_of(&from_addr), &from_addr));
    props.insert("sender".into(), recipient(&name_of(&from_addr), &from_addr));
    props.insert("toRecipients".into(), list(&to));
    props.insert("ccRecipients".into(), list(&m.cc));
    props.insert("bccRecipients".into(), json!([]));
    props.insert("replyTo".into(), json!([]));
    props.insert("receivedDateTime".into(), json!(ts(now)));
    props.insert("sentDateTime".into(), json!(ts(now)));
    props.insert("internetMessageId".into(), json!(imid));
    props.insert("conversationId".into(), json!(ids::entity_id(rng)));
    props.insert("isRead".into(), json!(false));
    props.insert("isDraft".into(), json!(false));
    props.insert("internetMessageHeaders".into(), Value::Array(headers));
    let attachments = m
        .attachments
        .iter()
        .map(|(name, ct, bytes)| Attachment {
            id: ids::entity_id(rng),
            name: name.clone(),
            content_type: ct.clone(),
            is_inline: false,
            content_id: None,
            modified: now,
            content: AttachmentContent::File(bytes.clone()),
        })
        .collect();
    Message {
        imm: ids::immutable_id(rng),
        rest: ids::rest_id(rng),
        folder,
        seq,
        created: now,
        modified: now,
        props,
        ext: Vec::new(),
        attachments,
    }
}

fn seed_contacts_tasks(t: &mut Tenant, dir: &Directory) {
    let mut rng = t.rng.clone();
    let now = Timestamp::now();
    for ui in 0..t.users.len() {
        let seq = t.next_seq();
        let Some(mb) = t.users[ui].mailbox.as_mut() else {
            continue;
        };
        let default = ids::folder_id(&mut rng);
        mb.contact_folders.push(ContactFolder {
            id: default.clone(),
            parent: None,
            display_name: "Contacts".into(),
            is_default: true,
            seq,
        });
        let suppliers = ids::folder_id(&mut rng);
        mb.contact_folders.push(ContactFolder {
            id: suppliers.clone(),
            parent: Some(default.clone()),
            display_name: "Suppliers".into(),
            is_default: false,
            seq,
        });
        for c in 0..10 {
            let p = &dir.externals[(ui * 5 + c * 2) % dir.externals.len().max(1)];
            let company = p.company.map(|i| &dir.companies[i]);
            let folder = if c >= 7 {
                suppliers.clone()
            } else {
                default.clone()
            };
            let mut props = Map::new();
            props.insert("givenName".into(), json!(p.given_name));
            props.insert("surname".into(), json!(p.surname));
            props.insert("displayName".into(), json!(p.display_name));
            props.insert(
                "fileAs".into(),
                json!(format!("{}, {}", p.surname, p.given_name)),
            );
            props.insert(
                "emailAddresses".into(),
                json!([{"name": p.display_name, "address": p.email}]),
            );
            props.insert("companyName".into(), json!(company.map(|c| c.name.clone())));
            props.insert("jobTitle".into(), json!(p.job_title));
            props.insert(
                "businessPhones".into(),
                json!(company.map(|c| vec![c.phone.clone()]).unwrap_or_default()),
            );
            props.insert("mobilePhone".into(), json!(p.mobile_phone));
            props.insert("homePhones".into(), json!([]));
            props.insert("businessAddress".into(), json!({"street": format!("{} Main Street", 10 + c), "city": company.map(|c| c.city.clone()), "state": "", "countryOrRegion": company.map(|c| c.country.clone()), "postalCode": format!("{}", 10000 + c * 7)}));
            props.insert("homeAddress".into(), json!({}));
            props.insert("otherAddress".into(), json!({}));
            props.insert(
                "categories".into(),
                json!(if c == 0 {
                    vec!["Blue category"]
                } else {
                    vec![]
                }),
            );
            props.insert(
                "personalNotes".into(),
                json!(if c == 1 { "Met at the trade fair." } else { "" }),
            );
            props.insert("imAddresses".into(), json!([]));
            props.insert("children".into(), json!([]));
            let imm = ids::immutable_id(&mut rng);
            let rest = ids::rest_id(&mut rng);
            mb.rest_index.insert(rest.clone(), imm.clone());
            mb.contacts.insert(
                imm.clone(),
                Contact {
                    imm,
                    rest,
                    folder,
                    seq,
                    created: now - (30 * 24).hours(),
                    modified: now - (c as i64 * 24).hours(),
                    props,
                    ext: Vec::new(),
                },
            );
        }
        // To Do
        let lists = [
            ("Tasks", "defaultList"),
            ("Flagged Emails", "flaggedEmails"),
            ("Projects", "none"),
        ];
        let mut list_ids = Vec::new();
        for (name, wk) in lists {
            let id = ids::entity_id(&mut rng);
            list_ids.push(id.clone());
            mb.todo_lists.push(TodoList {
                id,
                display_name: name.into(),
                well_known: wk,
                seq,
            });
        }
        let titles = [
            "Call back about the quote",
            "Prepare proposal",
            "Send contract draft",
            "Check delivery date",
            "Update price list",
            "Book travel to the customer",
            "Review open invoices",
        ];
        for (k, title) in titles.iter().enumerate() {
            let list = if k < 5 { &list_ids[0] } else { &list_ids[2] };
            let status = [
                "notStarted",
                "inProgress",
                "completed",
                "waitingOnOthers",
                "deferred",
            ][k % 5];
            let due = now + (((k as i64) - 2) * 24).hours();
            let due_date = due.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            let mut props = Map::new();
            props.insert("title".into(), json!(title));
            props.insert("status".into(), json!(status));
            props.insert(
                "importance".into(),
                json!(if k == 1 { "high" } else { "normal" }),
            );
            props.insert("isReminderOn".into(), json!(k == 0));
            props.insert("body".into(), json!({"content": format!("{title} ({})", dir.externals[k % dir.externals.len().max(1)].display_name), "contentType": "text"}));
            props.insert("categories".into(), json!([]));
            props.insert(
                "dueDateTime".into(),
                json!({"dateTime": format!("{due_date}T00:00:00.0000000"), "timeZone": "UTC"}),
            );
            if status == "completed" {
                props.insert("completedDateTime".into(), json!({"dateTime": format!("{}T00:00:00.0000000", now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()), "timeZone": "UTC"}));
            }
            let linked = if k == 2 {
                vec![
                    json!({"id": ids::guid(&mut rng), "webUrl": "https://crm.example/record/42", "applicationName": "CRM", "displayName": "Contract", "externalId": "x-42"}),
                ]
            } else {
                Vec::new()
            };
            let id = ids::entity_id(&mut rng);
            mb.tasks.insert(
                id.clone(),
                Task {
                    id,
                    list: list.clone(),
                    seq,
                    created: now - (10 * 24).hours(),
                    modified: now - (k as i64).hours(),
                    props,
                    linked,
                },
            );
        }
    }
    t.rng = rng;
}
