//! The external keys the previous (EWS) connector left for a mailbox, translated into Graph
//! immutable ids once per mailbox run (lazily: only when an item without link asks).
//!
//! Keys are read per mailbox and content type (one CRM query, capped by
//! `[adoption] max_legacy_keys`), sorted by form, and translated with `translateExchangeIds` in
//! batches of up to 1,000 per request. Microsoft lists only delegated permissions for that
//! method; when a tenant refuses it to the application, the index is empty, the run says so
//! once in the log and adoption goes on with the content match.

use std::collections::HashMap;
use std::sync::Arc;

use gc_store::CrmId;
use jiff::Timestamp;
use tokio::sync::OnceCell;

use crate::adopt::ids::{KeyForm, classify};
use crate::adopt::ports::{RecordTable, SourceForm};
use crate::adopt::{AdoptedBy, Adoption, AdoptionSettings};
use crate::engine::RunCx;
use crate::error::{ErrorClass, PortError, store_error};

/// Ids per `translateExchangeIds` request (the documented maximum).
pub const TRANSLATE_BATCH: usize = 1000;

/// The kept name (per mailbox and kind) of the switch-over: when this connector first ran the
/// mailbox and kind with `[adoption] legacy_ids` on, by the store's clock (RFC 3339).
pub const SWITCH_OVER: &str = "adoption:switch_over";

/// The switch-over of `cx`'s mailbox and kind, stored by its first run (see [`SWITCH_OVER`]);
/// `None` when `adoption` does not read the previous connector's keys.
///
/// Why: the previous connector can only have filed what existed while it ran, and it must be
/// stopped before this one starts (run side by side, each files what the other filed: every
/// message twice). An item that came after the switch-over therefore has none of its keys,
/// and looking it up would cost a whole index (one CRM query of up to `max_legacy_keys`
/// keys and their translation) per run, i.e. per new message once a mailbox is in step
/// ([`came_after_switch_over`]). An item that existed before it (one the user moves back
/// into the sync folder) is still looked up. A mailbox already synchronized by an earlier
/// version gets the mark at its next run, so everything older stays covered. A planning walk
/// writes nothing: `None`, look everything up. An unreadable value is written again.
pub async fn switch_over(
    cx: &RunCx<'_>,
    adoption: Option<&Adoption>,
) -> Result<Option<Timestamp>, PortError> {
    if !adoption.is_some_and(|ad| ad.settings.legacy_ids) {
        return Ok(None);
    }
    if let Some(at) = cx.kept.get(SWITCH_OVER).and_then(|v| v.parse().ok()) {
        return Ok(Some(at));
    }
    if cx.planning {
        return Ok(None);
    }
    let now = cx.store.now().await.map_err(store_error)?;
    cx.store
        .put_resolved(cx.mailbox(), cx.kind, SWITCH_OVER, Some(&now.to_string()))
        .await
        .map_err(store_error)?;
    Ok(Some(now))
}

/// Whether an item that came at `at` (a message's receipt, an event's creation: Graph's times,
/// whole seconds) came at or after the switch-over `since`, so that the previous connector
/// never saw it and its keys need not be read. Never with `legacy_ids_after_switch_over`, nor
/// when either time is unknown (a planning walk, an item without the time): then it is
/// looked up.
pub fn came_after_switch_over(
    settings: &AdoptionSettings,
    since: Option<Timestamp>,
    at: Option<Timestamp>,
) -> bool {
    !settings.legacy_ids_after_switch_over
        && matches!((since, at), (Some(since), Some(at)) if at >= since)
}

/// Graph immutable id → the record the previous connector linked it to, and the reverse (the
/// kinds that write from CRM to Microsoft 365 ask by record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyIndex {
    by_id: HashMap<String, (CrmId, AdoptedBy)>,
    by_record: HashMap<CrmId, (String, AdoptedBy)>,
    /// Keys read and how many of them were translated (for the log and tests).
    pub keys: usize,
    pub translated: usize,
    /// Why the translation was not available, if it was not.
    pub unavailable: Option<String>,
}

impl LegacyIndex {
    /// The record the previous connector linked the item with this immutable id to.
    pub fn find(&self, graph_id: &str) -> Option<(CrmId, AdoptedBy)> {
        self.by_id.get(graph_id).copied()
    }

    /// The item the previous connector wrote for `record` (its immutable id), when one of its
    /// keys for the record translated.
    pub fn item_of(&self, record: CrmId) -> Option<(&str, AdoptedBy)> {
        self.by_record
            .get(&record)
            .map(|(id, how)| (id.as_str(), *how))
    }

    /// Adds a translated key (the lowest record id wins when several keys name one item; the
    /// lowest item id when several items name one record, so the choice does not depend on the
    /// order CRM returned the keys in).
    pub(crate) fn insert(&mut self, graph_id: String, record: CrmId, how: AdoptedBy) {
        self.translated += 1;
        let r = self
            .by_record
            .entry(record)
            .or_insert_with(|| (graph_id.clone(), how));
        if graph_id < r.0 {
            *r = (graph_id.clone(), how);
        }
        let e = self.by_id.entry(graph_id).or_insert((record, how));
        if record < e.0 {
            *e = (record, how);
        }
    }
}

/// One mailbox run's index, built on first use.
#[derive(Debug, Default)]
pub struct LegacyCache {
    cell: OnceCell<Arc<LegacyIndex>>,
}

impl LegacyCache {
    /// The index of the mailbox being run, for external keys of `content_type` on records of
    /// `table`.
    pub async fn get(
        &self,
        adoption: &Adoption,
        cx: &RunCx<'_>,
        content_type: &str,
        table: RecordTable,
    ) -> Result<Arc<LegacyIndex>, PortError> {
        self.cell
            .get_or_try_init(|| async {
                build(adoption, cx, content_type, table).await.map(Arc::new)
            })
            .await
            .cloned()
    }
}

async fn build(
    adoption: &Adoption,
    cx: &RunCx<'_>,
    content_type: &str,
    table: RecordTable,
) -> Result<LegacyIndex, PortError> {
    let mut index = LegacyIndex::default();
    let owner = &cx.target.owner;
    let (keys, truncated) = adoption
        .crm
        .legacy_keys(
            cx.rep(),
            &owner.email,
            content_type,
            table,
            adoption.settings.max_legacy_keys,
        )
        .await?;
    if truncated {
        tracing::warn!(
            mailbox = cx.mailbox(),
            kind = %cx.kind,
            max = adoption.settings.max_legacy_keys,
            "the mailbox has more external keys of other systems than [adoption] max_legacy_keys; the rest is not translated (content match still applies)"
        );
    }
    index.keys = keys.len();
    let mut groups: HashMap<SourceForm, Vec<(String, CrmId)>> = HashMap::new();
    for k in keys {
        let form = match classify(&k.ext_key) {
            KeyForm::EwsId => SourceForm::EwsId,
            KeyForm::HexEntryId => SourceForm::HexEntryId,
            // iCalUIds and internetMessageIds are found by the kinds' own key lookup.
            _ => continue,
        };
        groups.entry(form).or_default().push((k.ext_key, k.record));
    }
    for (form, keys) in [SourceForm::EwsId, SourceForm::HexEntryId]
        .into_iter()
        .filter_map(|f| groups.remove(&f).map(|k| (f, k)))
    {
        let how = match form {
            SourceForm::EwsId => AdoptedBy::EwsId,
            SourceForm::HexEntryId => AdoptedBy::EntryId,
        };
        for chunk in keys.chunks(TRANSLATE_BATCH) {
            let ids: Vec<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
            match adoption.graph.translate(cx.user(), &ids, form).await {
                Ok(targets) => {
                    for ((_, record), target) in chunk.iter().zip(targets) {
                        if let Some(t) = target {
                            index.insert(t, *record, how);
                        }
                    }
                }
                Err(e) if matches!(e.class, ErrorClass::Item | ErrorClass::NotFound) => {
                    tracing::warn!(
                        mailbox = cx.mailbox(),
                        kind = %cx.kind,
                        error = %e,
                        "translateExchangeIds is not available; the previous connector's ids are not used (content match still applies)"
                    );
                    index.unavailable = Some(e.message);
                    return Ok(index);
                }
                Err(e) => return Err(e),
            }
        }
    }
    tracing::info!(
        mailbox = cx.mailbox(),
        kind = %cx.kind,
        keys = index.keys,
        translated = index.translated,
        "external keys of the previous connector translated"
    );
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_came_at_or_after_the_switch_over_is_left_out() {
        let since: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
        let second = jiff::SignedDuration::from_secs(1);
        let on = AdoptionSettings::default();
        assert!(came_after_switch_over(&on, Some(since), Some(since)));
        assert!(came_after_switch_over(
            &on,
            Some(since),
            Some(since + second)
        ));
        assert!(!came_after_switch_over(
            &on,
            Some(since),
            Some(since - second)
        ));
        assert!(!came_after_switch_over(&on, None, Some(since)));
        assert!(!came_after_switch_over(&on, Some(since), None));
        let every = AdoptionSettings {
            legacy_ids_after_switch_over: true,
            ..AdoptionSettings::default()
        };
        assert!(!came_after_switch_over(
            &every,
            Some(since),
            Some(since + second)
        ));
    }

    #[test]
    fn the_index_answers_both_ways_whatever_the_order_of_the_keys() {
        let mut a = LegacyIndex::default();
        a.insert("G2".into(), CrmId(7), AdoptedBy::EwsId);
        a.insert("G1".into(), CrmId(7), AdoptedBy::EntryId);
        a.insert("G1".into(), CrmId(9), AdoptedBy::EntryId);
        let mut b = LegacyIndex::default();
        b.insert("G1".into(), CrmId(9), AdoptedBy::EntryId);
        b.insert("G1".into(), CrmId(7), AdoptedBy::EntryId);
        b.insert("G2".into(), CrmId(7), AdoptedBy::EwsId);
        for i in [&a, &b] {
            // item → record: the lowest record; record → item: the lowest item id
            assert_eq!(i.find("G1"), Some((CrmId(7), AdoptedBy::EntryId)));
            assert_eq!(i.find("G2"), Some((CrmId(7), AdoptedBy::EwsId)));
            assert_eq!(i.item_of(CrmId(7)), Some(("G1", AdoptedBy::EntryId)));
            assert_eq!(i.item_of(CrmId(9)), Some(("G1", AdoptedBy::EntryId)));
            assert_eq!(i.item_of(CrmId(8)), None);
        }
    }
}
