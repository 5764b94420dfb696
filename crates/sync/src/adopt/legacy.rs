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
use tokio::sync::OnceCell;

use crate::adopt::ids::{KeyForm, classify};
use crate::adopt::ports::SourceForm;
use crate::adopt::{AdoptedBy, Adoption};
use crate::engine::RunCx;
use crate::error::{ErrorClass, PortError};

/// Ids per `translateExchangeIds` request (the documented maximum).
pub const TRANSLATE_BATCH: usize = 1000;

/// Graph immutable id → the record the previous connector linked it to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyIndex {
    by_id: HashMap<String, (CrmId, AdoptedBy)>,
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

    /// Adds a translated key (the lowest record id wins when several keys name one item).
    pub(crate) fn insert(&mut self, graph_id: String, record: CrmId, how: AdoptedBy) {
        self.translated += 1;
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
    /// The index of the mailbox being run, for external keys of `content_type`.
    pub async fn get(
        &self,
        adoption: &Adoption,
        cx: &RunCx<'_>,
        content_type: &str,
    ) -> Result<Arc<LegacyIndex>, PortError> {
        self.cell
            .get_or_try_init(|| async { build(adoption, cx, content_type).await.map(Arc::new) })
            .await
            .cloned()
    }
}

async fn build(
    adoption: &Adoption,
    cx: &RunCx<'_>,
    content_type: &str,
) -> Result<LegacyIndex, PortError> {
    let mut index = LegacyIndex::default();
    let owner = &cx.target.owner;
    let (keys, truncated) = adoption
        .crm
        .legacy_keys(
            cx.rep(),
            &owner.email,
            content_type,
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
