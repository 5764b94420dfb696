//! Paging and delta, page by page, so callers can persist checkpoints.
//!
//! A [`PageStream`] fetches one page per [`PageStream::next_page`] call and hands back the page's
//! items together with its `@odata.nextLink` (more pages follow) or `@odata.deltaLink` (round
//! complete). Persist whichever is present after processing the page's items; after a restart,
//! resume with [`crate::GraphClient::resume`] from the stored link. A page is only handed out once
//! fetched completely (retries happen below), so no item is duplicated by a retried request;
//! Graph itself may still replay items, which delta consumers must merge idempotently.
//!
//! Items are decoded one by one from `serde_json::Value`: a malformed item becomes an
//! [`ItemError`] in its slot and the rest of the page is still usable.

use std::fmt;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::{GraphClient, Req};
use crate::error::{GraphError, ResourceKind};
use crate::redact::redact_url;
use crate::slots::Lane;

/// Consecutive empty pages (only a nextLink) followed before giving up on a buggy server.
const MAX_EMPTY_PAGES: u32 = 1_000;

/// One item of a page that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {index} (id {}) of the page is malformed: {message}", .id.as_deref().unwrap_or("unknown"))]
pub struct ItemError {
    /// Position in the page's `value` array.
    pub index: usize,
    /// The item's `id`, if it had one.
    pub id: Option<String>,
    /// What was wrong (serde's description; no item content).
    pub message: String,
}

/// Why a delta reported an item as removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemovalReason {
    /// Hard-deleted, or (Outlook) moved out of the tracked folder.
    Deleted,
    /// Directory objects: soft-deleted, restorable.
    Changed,
    /// Another reason text.
    Other(String),
}

/// An item of a delta page.
#[derive(Debug, Clone, PartialEq)]
pub enum DeltaItem<T> {
    /// Created or updated (full or `$select`ed representation).
    Changed(T),
    /// `@removed`: gone from the tracked collection.
    Removed {
        /// Id of the removed item.
        id: String,
        /// Reason Graph gave.
        reason: RemovalReason,
    },
}

impl<T> DeltaItem<T> {
    /// The changed item, if this is not a removal.
    pub fn changed(&self) -> Option<&T> {
        match self {
            DeltaItem::Changed(t) => Some(t),
            DeltaItem::Removed { .. } => None,
        }
    }
}

/// One page of results.
pub struct Page<T> {
    /// The page's items, each decoded on its own.
    pub items: Vec<Result<T, ItemError>>,
    /// More pages follow: fetch (or persist and later resume from) this link.
    pub next_link: Option<String>,
    /// The round is complete: persist this link and start the next round from it.
    pub delta_link: Option<String>,
}

impl<T> Page<T> {
    /// The link to persist after processing this page (nextLink or deltaLink).
    pub fn checkpoint(&self) -> Option<&str> {
        self.next_link.as_deref().or(self.delta_link.as_deref())
    }

    /// Whether this is the last page of the round.
    pub fn is_last(&self) -> bool {
        self.next_link.is_none()
    }
}

impl<T: fmt::Debug> fmt::Debug for Page<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("items", &self.items.len())
            .field("next_link", &self.next_link.as_deref().map(redact_url))
            .field("delta_link", &self.delta_link.as_deref().map(redact_url))
            .finish()
    }
}

#[derive(Deserialize)]
struct RawPage {
    #[serde(default)]
    value: Vec<serde_json::Value>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

fn item_id(v: &serde_json::Value) -> Option<String> {
    v.get("id").and_then(|i| i.as_str()).map(str::to_owned)
}

/// Decode a delta element: `@removed` → removal, otherwise the typed item.
pub fn decode_delta<T: DeserializeOwned>(value: serde_json::Value) -> Result<DeltaItem<T>, String> {
    if let Some(removed) = value.get("@removed") {
        let id = item_id(&value).ok_or_else(|| "removed item without id".to_owned())?;
        let reason = match removed.get("reason").and_then(|r| r.as_str()) {
            Some(r) if r.eq_ignore_ascii_case("deleted") => RemovalReason::Deleted,
            Some(r) if r.eq_ignore_ascii_case("changed") => RemovalReason::Changed,
            Some(r) => RemovalReason::Other(r.to_owned()),
            None => RemovalReason::Deleted,
        };
        return Ok(DeltaItem::Removed { id, reason });
    }
    serde_json::from_value(value)
        .map(DeltaItem::Changed)
        .map_err(|e| e.to_string())
}

/// Decode a page body into typed items.
pub fn decode_page<T>(
    body: &[u8],
    decode: fn(serde_json::Value) -> Result<T, String>,
) -> Result<Page<T>, GraphError> {
    let raw: RawPage = serde_json::from_slice(body)
        .map_err(|e| GraphError::Decode(format!("page is not a Graph collection: {e}")))?;
    let items = raw
        .value
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let id = item_id(&v);
            decode(v).map_err(|message| ItemError { index, id, message })
        })
        .collect();
    Ok(Page {
        items,
        next_link: raw.next_link,
        delta_link: raw.delta_link,
    })
}

fn decode_plain<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// A lazily fetched sequence of pages. Not a `futures::Stream` on purpose: callers persist a
/// checkpoint between pages; use [`PageStream::into_stream`] if a `Stream` is handier.
pub struct PageStream<T> {
    client: GraphClient,
    mailbox: Option<String>,
    resource: ResourceKind,
    next: Option<String>,
    prefer: Vec<String>,
    decode: fn(serde_json::Value) -> Result<T, String>,
    pages: u64,
    failed: Option<GraphError>,
}

impl<T> fmt::Debug for PageStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageStream")
            .field("mailbox", &self.mailbox)
            .field("resource", &self.resource)
            .field("next", &self.next.as_deref().map(redact_url))
            .field("pages", &self.pages)
            .finish()
    }
}

impl<T> PageStream<T> {
    pub(crate) fn new(
        client: GraphClient,
        mailbox: Option<&str>,
        resource: ResourceKind,
        first_url: String,
        decode: fn(serde_json::Value) -> Result<T, String>,
    ) -> Self {
        let mut prefer = Vec::new();
        if let Some(n) = client.options().page_size {
            prefer.push(format!("odata.maxpagesize={n}"));
        }
        let failed = client.check_link(&first_url).err();
        PageStream {
            client,
            mailbox: mailbox.map(str::to_owned),
            resource,
            next: Some(first_url),
            prefer,
            decode,
            pages: 0,
            failed,
        }
    }

    /// HTTP pages fetched so far (empty pages included).
    pub fn pages_fetched(&self) -> u64 {
        self.pages
    }

    /// The link the next call will fetch (what to persist if you stop now).
    pub fn pending_link(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// Fetch the next page. `None` once the last page (the one with a deltaLink, or without a
    /// nextLink) was returned. Empty pages that only carry a nextLink are followed here. After
    /// an error the same page is fetched again by the next call.
    pub async fn next_page(&mut self) -> Option<Result<Page<T>, GraphError>> {
        if let Some(e) = self.failed.take() {
            self.next = None;
            return Some(Err(e));
        }
        let mut empty = 0u32;
        loop {
            let url = self.next.clone()?;
            let resp = self
                .client
                .send(Req {
                    method: Method::GET,
                    url,
                    mailbox: self.mailbox.clone(),
                    resource: self.resource,
                    body: None,
                    prefer: self.prefer.clone(),
                    idempotent: true,
                    lane: Lane::Page,
                })
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    if e.is_sync_state_expired() {
                        self.next = None;
                    }
                    return Some(Err(e));
                }
            };
            self.pages += 1;
            let page = match decode_page(&resp.body, self.decode) {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            if let Some(link) = page.next_link.as_deref().or(page.delta_link.as_deref())
                && let Err(e) = self.client.check_link(link)
            {
                self.next = None;
                return Some(Err(e));
            }
            self.next = page.next_link.clone();
            if page.items.is_empty()
                && page.delta_link.is_none()
                && page.next_link.is_some()
                && empty < MAX_EMPTY_PAGES
            {
                empty += 1;
                continue;
            }
            return Some(Ok(page));
        }
    }

    /// All remaining pages' items (for small listings such as folders or lists).
    pub async fn collect_items(mut self) -> Result<Vec<Result<T, ItemError>>, GraphError> {
        let mut out = Vec::new();
        while let Some(page) = self.next_page().await {
            out.extend(page?.items);
        }
        Ok(out)
    }

    /// All remaining items, failing on the first malformed one (for small listings where a
    /// malformed element means the answer cannot be trusted).
    pub async fn collect_ok(self) -> Result<Vec<T>, GraphError> {
        self.collect_items()
            .await?
            .into_iter()
            .map(|r| r.map_err(|e| GraphError::Decode(e.to_string())))
            .collect()
    }

    /// As a `futures::Stream` of pages (ends after the first error).
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Page<T>, GraphError>>
    where
        T: Send + 'static,
    {
        futures::stream::unfold((self, false), |(mut s, stop)| async move {
            if stop {
                return None;
            }
            let page = s.next_page().await?;
            let stop = page.is_err();
            Some((page, (s, stop)))
        })
    }
}

impl GraphClient {
    /// Page through a collection at `path` (relative to the Graph base, query included).
    pub fn list<T: DeserializeOwned>(
        &self,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
    ) -> PageStream<T> {
        PageStream::new(
            self.clone(),
            mailbox,
            resource,
            self.url(path),
            decode_plain::<T>,
        )
    }

    /// Start a delta round at `path` (first call, no token).
    pub fn delta<T: DeserializeOwned>(
        &self,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
    ) -> PageStream<DeltaItem<T>> {
        PageStream::new(
            self.clone(),
            mailbox,
            resource,
            self.url(path),
            decode_delta::<T>,
        )
    }

    /// Resume a delta round or the next round from a persisted nextLink or deltaLink (used
    /// verbatim). The link must point at the configured Graph host.
    pub fn resume<T: DeserializeOwned>(
        &self,
        mailbox: Option<&str>,
        link: &str,
    ) -> PageStream<DeltaItem<T>> {
        let path = url::Url::parse(link)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        PageStream::new(
            self.clone(),
            mailbox,
            ResourceKind::from_path(&path),
            link.to_owned(),
            decode_delta::<T>,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Message;

    #[test]
    fn malformed_item_is_an_error_for_that_item_only() {
        let body = serde_json::json!({
            "@odata.context": "x",
            "value": [
                {"id": "m1", "subject": "ok", "futureField": {"a": 1}},
                {"id": "m2", "subject": 42},
                {"id": "m3", "@removed": {"reason": "deleted"}},
                {"@odata.type": "#microsoft.graph.message", "id": "m4", "@removed": {"reason": "changed"}},
                "garbage"
            ],
            "@odata.nextLink": "https://g/v1.0/x?$skiptoken=abc"
        });
        let page = decode_page(body.to_string().as_bytes(), decode_delta::<Message>).unwrap();
        assert_eq!(page.items.len(), 5);
        match &page.items[0] {
            Ok(DeltaItem::Changed(m)) => assert_eq!(m.subject.as_deref(), Some("ok")),
            other => panic!("{other:?}"),
        }
        let err = page.items[1].as_ref().unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(err.id.as_deref(), Some("m2"));
        assert_eq!(
            page.items[2].as_ref().unwrap(),
            &DeltaItem::Removed {
                id: "m3".into(),
                reason: RemovalReason::Deleted
            }
        );
        assert_eq!(
            page.items[3].as_ref().unwrap(),
            &DeltaItem::Removed {
                id: "m4".into(),
                reason: RemovalReason::Changed
            }
        );
        assert!(page.items[4].is_err());
        assert_eq!(page.checkpoint(), Some("https://g/v1.0/x?$skiptoken=abc"));
        assert!(!page.is_last());
        assert!(
            !format!("{page:?}").contains("abc"),
            "Debug must redact tokens"
        );
    }

    #[test]
    fn non_collection_is_a_page_error() {
        assert!(decode_page(b"{\"value\": 3}", decode_delta::<Message>).is_err());
        assert!(decode_page(b"not json", decode_delta::<Message>).is_err());
    }
}
