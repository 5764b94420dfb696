//! Asking many stored delta links at once whether anything changed behind them.
//!
//! An idle cycle of a tenant is mostly "nothing changed" answers, one request per mailbox and
//! resource. A delta link is a plain GET, so up to 20 of them fit in one `$batch` call: the
//! scheduler asks the stored links of many mailboxes together and runs only the mailboxes
//! whose answer has changes. The answer itself is not used as data (the mailbox run reads
//! the same delta again from its stored checkpoint), so a probe never moves a cursor and a
//! lost or odd answer only means "run the mailbox".

use serde::Deserialize;

use crate::batch::BatchRequest;
use crate::client::GraphClient;
use crate::error::{GraphError, ResourceKind};

/// One stored delta link to ask about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaProbe {
    /// The `@odata.deltaLink` as Graph handed it out.
    pub link: String,
    /// Whether removals (`@removed` entries) behind the link count as changes. A source where
    /// they need no work says `false` (e-mail's sync folder: a message leaves it when the
    /// connector files it or the user deletes it). Such a link is not moved on by a probe, so
    /// its removals are read again at each probe until a run reads past them: the page asked
    /// is [`REMOVALS_PAGE`] entries long, and more removals than that count as a change.
    pub removals_are_changes: bool,
}

/// The page size asked for a probe that looks past removals: the removals a run's own
/// filing leaves behind fit in it, so the run that filed them is not followed by one that
/// only reads them; more than this many is a change (a run then reads past them).
pub const REMOVALS_PAGE: usize = 50;

/// What a stored delta link says now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaState {
    /// An empty page that ends the round: nothing changed since the link was stored.
    Unchanged,
    /// Changes (or more pages) behind the link.
    Changed,
}

#[derive(Deserialize)]
struct ProbePage {
    #[serde(default)]
    value: Vec<ProbeEntry>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

/// An entry of a probe's page: whether it is a removal is all that is read.
#[derive(Deserialize)]
struct ProbeEntry {
    #[serde(rename = "@removed")]
    removed: Option<serde::de::IgnoredAny>,
}

/// Read a probe's page: unchanged only when it closes the round and holds nothing (or, with
/// `removals_are_changes` false, nothing but removals).
pub fn state_of(
    body: serde_json::Value,
    removals_are_changes: bool,
) -> Result<DeltaState, GraphError> {
    let page: ProbePage = serde_json::from_value(body)
        .map_err(|e| GraphError::Decode(format!("delta probe page: {e}")))?;
    let nothing = page
        .value
        .iter()
        .all(|e| !removals_are_changes && e.removed.is_some());
    Ok(
        if nothing && page.next_link.is_none() && page.delta_link.is_some() {
            DeltaState::Unchanged
        } else {
            DeltaState::Changed
        },
    )
}

impl GraphClient {
    /// Ask each stored delta link (`@odata.deltaLink` as Graph handed it out) whether
    /// anything changed, 20 links per `$batch` call. One answer per link, in order: a link
    /// that does not point at our Graph host, or whose sub-request failed (410 for an expired
    /// token, 404 for a deleted folder, ...), is an `Err` for that link only; `Err` as a whole
    /// only when a batch call itself failed.
    pub async fn probe_deltas(
        &self,
        links: &[DeltaProbe],
    ) -> Result<Vec<Result<DeltaState, GraphError>>, GraphError> {
        let mut answers: Vec<Option<Result<DeltaState, GraphError>>> = Vec::new();
        let mut requests = Vec::new();
        let mut slot_of = Vec::new();
        for (i, probe) in links.iter().enumerate() {
            match self.relative(&probe.link) {
                Ok(path) => {
                    let resource = ResourceKind::from_path(&path);
                    let mut r = BatchRequest::get(i.to_string(), path);
                    // Only "anything or nothing" matters: the smallest page answers it,
                    // unless removals are to be looked past.
                    let size = if probe.removals_are_changes {
                        1
                    } else {
                        REMOVALS_PAGE
                    };
                    r.headers
                        .insert("Prefer".into(), format!("odata.maxpagesize={size}"));
                    requests.push(r);
                    slot_of.push((i, resource, probe.removals_are_changes));
                    answers.push(None);
                }
                Err(e) => answers.push(Some(Err(e))),
            }
        }
        if !requests.is_empty() {
            let responses = self.batch(None, requests).await?;
            for ((slot, resource, removals), resp) in slot_of.into_iter().zip(responses) {
                let answer = match resp.error(resource) {
                    Some(e) => Err(e),
                    None => state_of(resp.body.unwrap_or(serde_json::Value::Null), removals),
                };
                answers[slot] = Some(answer);
            }
        }
        Ok(answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(GraphError::Decode("no probe answer".into()))))
            .collect())
    }

    /// A stored link as a path relative to the Graph base (what a `$batch` sub-request
    /// carries), after checking that it points at our host.
    fn relative(&self, link: &str) -> Result<String, GraphError> {
        self.check_link(link)?;
        let base = self.graph_url();
        let rest = link
            .get(..base.len())
            .filter(|p| p.eq_ignore_ascii_case(base))
            .and_then(|_| link.get(base.len()..))
            .filter(|r| r.starts_with('/'))
            .ok_or_else(|| {
                GraphError::Config(format!(
                    "link {} is not below the Graph base {base}",
                    crate::redact::redact_url(link)
                ))
            })?;
        Ok(rest.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_closing_page_is_unchanged() {
        let page = json!({"value": [], "@odata.deltaLink": "https://g/x?$deltatoken=2"});
        assert_eq!(state_of(page.clone(), true).unwrap(), DeltaState::Unchanged);
        assert_eq!(state_of(page, false).unwrap(), DeltaState::Unchanged);
    }

    #[test]
    fn items_or_more_pages_are_changes() {
        for removals in [true, false] {
            let items = json!({"value": [{"id": "a"}], "@odata.deltaLink": "https://g/x?d=2"});
            assert_eq!(state_of(items, removals).unwrap(), DeltaState::Changed);
            let more = json!({"value": [], "@odata.nextLink": "https://g/x?s=1"});
            assert_eq!(state_of(more, removals).unwrap(), DeltaState::Changed);
            // Neither link: not a closed round, so not known to be idle.
            let open = json!({"value": []});
            assert_eq!(state_of(open, removals).unwrap(), DeltaState::Changed);
        }
    }

    #[test]
    fn removals_are_changes_only_where_they_count() {
        let gone = json!({"id": "a", "@removed": {"reason": "deleted"}});
        let page = json!({"value": [gone.clone()], "@odata.deltaLink": "https://g/x?d=2"});
        assert_eq!(state_of(page.clone(), true).unwrap(), DeltaState::Changed);
        assert_eq!(state_of(page, false).unwrap(), DeltaState::Unchanged);
        // A removal beside a new item, or removals on more than one page, are changes.
        let mixed =
            json!({"value": [gone.clone(), {"id": "b"}], "@odata.deltaLink": "https://g/x?d=2"});
        assert_eq!(state_of(mixed, false).unwrap(), DeltaState::Changed);
        let more = json!({"value": [gone], "@odata.nextLink": "https://g/x?s=1"});
        assert_eq!(state_of(more, false).unwrap(), DeltaState::Changed);
    }

    #[test]
    fn a_page_that_is_no_page_is_an_error() {
        assert!(state_of(json!({"value": 3}), true).is_err());
    }
}
