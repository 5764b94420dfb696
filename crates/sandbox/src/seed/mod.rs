//! Deterministic generation of the tenant's content from the seed: users, folders, messages
//! (HTML and text bodies, HTML comments, large bodies, attachments small and oversized, inline
//! `cid:` images, item attachments, internal and external recipients, CC/BCC, reply threads),
//! contacts, To Do lists and tasks, categories, and the calendar (see `seed_events`).
//!
//! This file builds the tenant (users, then each mailbox's content) and the mailbox every user
//! starts with (well-known folders, a few folders of their own, the preset categories). The
//! parts: `text` (subjects, sentences, HTML and text bodies, Message-IDs), `mail` (the
//! messages: who writes to whom, bodies, attachments, threads, and where the copies go),
//! `received` (a message delivered on request, through the control API or a test) and
//! `contacts_tasks` (contact folders and contacts, To Do lists and tasks).

mod contacts_tasks;
mod mail;
mod received;
mod text;

pub(crate) use received::new_received_message;
pub(crate) use text::{SUBJECTS, fill, text_body};

use crate::SandboxOptions;
use crate::ids;
use crate::people::{Directory, PersonKind};
use crate::store::{
    Category, HIDDEN_WELL_KNOWN, MailFolder, Mailbox, Tenant, User, WELL_KNOWN_FOLDERS,
};
use contacts_tasks::seed_contacts_tasks;
use mail::seed_mail;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::Arc;

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
