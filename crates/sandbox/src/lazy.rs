//! Lazy tenants ([`crate::SandboxOptions::lazy_mailboxes`]): a mailbox's content is generated the
//! first time something touches it, so that a tenant of 10,000 users fits a small machine.

use crate::ids;
use crate::people::Directory;
use crate::seed::{SUBJECTS, base_mailbox, fill, new_received_message, text_body};
use crate::store::{ContactFolder, Mailbox, NewMessage, TodoList};
use jiff::{Timestamp, ToSpan};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::sync::Arc;

/// How a lazy tenant ([`crate::SandboxOptions::lazy_mailboxes`]) generates a mailbox the first time
/// it is touched: from the seed and the user's index alone, so the same seed gives the same
/// mailbox whenever (and whether) it is generated. Content is per mailbox only (no message
/// shared with a colleague, no meeting copies), which is what lets it wait: the well-known
/// folders, the three Inbox subfolders and the master categories as in a full tenant, the
/// default contact folder and To Do list (empty), and `messages` short received messages from
/// the directory's externals in the Inbox.
#[derive(Debug, Clone)]
pub(crate) struct LazyMailboxes {
    pub seed: u64,
    pub messages: usize,
    pub directory: Arc<Directory>,
}

impl LazyMailboxes {
    /// The mailbox of user `ui`, its items stamped from `seq` on; also how many sequence
    /// numbers it used.
    pub fn generate(&self, ui: usize, seq: u64) -> (Mailbox, u64) {
        let mut rng = ChaCha20Rng::seed_from_u64(
            self.seed ^ 0x1a2e_ba11_0c5e ^ (ui as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let mut mb = base_mailbox(&mut rng);
        mb.contact_folders.push(ContactFolder {
            id: ids::folder_id(&mut rng),
            parent: None,
            display_name: "Contacts".into(),
            is_default: true,
            seq,
        });
        mb.todo_lists.push(TodoList {
            id: ids::entity_id(&mut rng),
            display_name: "Tasks".into(),
            well_known: "defaultList",
            seq,
        });
        let dir = &*self.directory;
        let (owner, owner_first) = dir
            .users
            .get(ui)
            .map(|p| (p.email.clone(), p.given_name.clone()))
            .unwrap_or_default();
        let inbox = mb.folder_id("inbox").unwrap_or_default();
        let now = Timestamp::now();
        let mut used = 1;
        for i in 0..self.messages {
            let Some(from) = dir
                .externals
                .get((ui * 7 + i * 3) % dir.externals.len().max(1))
            else {
                break;
            };
            let company = from
                .company
                .and_then(|c| dir.companies.get(c))
                .map(|c| c.name.as_str())
                .unwrap_or_default();
            let n: u32 = rng.random_range(1000..99999);
            let subject = fill(
                SUBJECTS.choose(&mut rng).copied().unwrap_or("Hello"),
                company,
                n,
            );
            let msg = NewMessage {
                subject,
                from: Some(from.email.clone()),
                body_text: Some(text_body(&mut rng, &owner_first, from)),
                received: Some(now - ((i as i64) * 7 + 1).hours()),
                ..NewMessage::default()
            };
            let m = new_received_message(dir, &mut rng, seq + used, &owner, &msg, inbox.clone());
            used += 1;
            mb.insert_message(m);
        }
        (mb, used)
    }
}
