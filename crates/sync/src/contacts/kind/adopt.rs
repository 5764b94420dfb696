//! Adoption for contacts: the contact the previous connector wrote for a person, found by the
//! key it left or by name and address, and claimed once per run. What `gather` asks for an
//! unlinked person, kept apart from the `SyncKind` steps and the kind's run state.

use super::{ContactKind, ContactRun};
use crate::adopt::records::{ContactStub, matching_contacts, only};
use crate::adopt::{AdoptedBy, RecordTable};
use crate::contacts::model::CONTENT_TYPE;
use crate::engine::ItemCx;
use crate::error::PortError;

impl ContactKind {
    /// The contact the previous connector wrote for `person` in the target folder, and how it
    /// was found: by its key, then (when asked for) by name and address. A contact that
    /// carries another person's id, or that this run adopted already, is passed over.
    pub(super) async fn adopt(
        &self,
        cx: &ItemCx<'_>,
        run: &ContactRun,
        person: &gc_crm::CrmPerson,
    ) -> Result<Option<(String, AdoptedBy)>, PortError> {
        let Some(ad) = &self.adoption else {
            return Ok(None);
        };
        let s = ad.settings();
        if !s.legacy_ids && !s.content_match {
            return Ok(None);
        }
        let stubs = run
            .stubs
            .get_or_try_init(|| async {
                self.graph
                    .folder_contacts(cx.user(), run.folder.as_deref())
                    .await
            })
            .await?;
        let me = person.id.to_string();
        let free = |c: &ContactStub| {
            c.marker.as_deref().is_none_or(|m| m == me)
                && !run
                    .claimed
                    .lock()
                    .map(|set| set.contains(&c.id))
                    .unwrap_or(true)
        };
        let mut found = None;
        if s.legacy_ids {
            let index = run
                .legacy
                .get(ad, cx.run, CONTENT_TYPE, RecordTable::Person)
                .await?;
            if let Some((id, how)) = index.item_of(person.id) {
                match stubs.iter().find(|c| c.id == id) {
                    Some(c) if free(c) => found = Some((c.id.clone(), how)),
                    Some(_) => tracing::warn!(
                        mailbox = cx.mailbox(),
                        person = %person.id,
                        "the previous connector's contact of the person carries another person's id; not adopted"
                    ),
                    None => tracing::info!(
                        mailbox = cx.mailbox(),
                        person = %person.id,
                        place = %run.place,
                        "the previous connector's contact of the person is not in the contacts' place (or gone); not adopted"
                    ),
                }
            }
        }
        if found.is_none() && s.content_match {
            let name = format!("{} {}", person.first_name, person.last_name);
            if !name.trim().is_empty()
                && let Some(c) = only(matching_contacts(stubs, name.trim(), &person.emails))
                && free(c)
            {
                found = Some((c.id.clone(), AdoptedBy::ContentMatch));
            }
        }
        if let Some((id, _)) = &found
            && let Ok(mut set) = run.claimed.lock()
        {
            set.insert(id.clone());
        }
        Ok(found)
    }
}
