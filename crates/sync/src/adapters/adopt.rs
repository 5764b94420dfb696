//! [`AdoptionGraph`] over `GraphMail` and [`AdoptionCrm`] over `CrmActivities`.

use async_trait::async_trait;
use gc_crm::ActivityFilter;
use gc_crm::codec::{Condition, Op};
use gc_graph::ErrorKind;
use gc_graph::ops::ids::{ExchangeIdFormat, entry_id_from_hex};
use jiff::Timestamp;

use crate::adapters::crm::port as crm_port;
use crate::adapters::graph::port as graph_port;
use crate::adapters::{CrmActivities, GraphMail};
use crate::adopt::ports::{
    AdoptionCrm, AdoptionGraph, ContentCandidate, EventStub, LegacyKey, RecordTable, SourceForm,
};
use crate::appointments::adapters::to_cal_event;
use crate::appointments::model::When;
use crate::error::{ErrorClass, PortError};

#[async_trait]
impl AdoptionGraph for GraphMail {
    async fn translate(
        &self,
        user: &str,
        ids: &[String],
        form: SourceForm,
    ) -> Result<Vec<Option<String>>, PortError> {
        // Hex entry ids go into the documented URL-safe base64 form; one that is not hex
        // cannot name an item (and is not sent).
        let (inputs, source): (Vec<Option<String>>, ExchangeIdFormat) = match form {
            SourceForm::EwsId => (
                ids.iter().map(|i| Some(i.clone())).collect(),
                ExchangeIdFormat::EwsId,
            ),
            SourceForm::HexEntryId => (
                ids.iter().map(|i| entry_id_from_hex(i)).collect(),
                ExchangeIdFormat::EntryId,
            ),
        };
        let send: Vec<String> = inputs.iter().flatten().cloned().collect();
        if send.is_empty() {
            return Ok(vec![None; ids.len()]);
        }
        let out = self
            .client()
            .translate_exchange_ids(user, &send, source, ExchangeIdFormat::RestImmutableEntryId)
            .await
            .map_err(|e| match e.kind() {
                // Refused (Microsoft lists no application permission for the method) or not
                // understood: the translation is not available, the mailbox is fine.
                ErrorKind::Permanent | ErrorKind::ConsentMissing(_) | ErrorKind::NotFound => {
                    PortError::new(ErrorClass::Item, e.to_string())
                }
                _ => graph_port(e),
            })?;
        let mut translated = out.into_iter();
        Ok(inputs
            .iter()
            .map(|i| {
                i.as_ref()
                    .and_then(|_| translated.next().and_then(|t| t.target))
            })
            .collect())
    }

    async fn events_starting(
        &self,
        user: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<EventStub>, PortError> {
        let events = self
            .client()
            .calendar_view(user, from, to)
            .collect_ok()
            .await
            .map_err(graph_port)?;
        Ok(events
            .into_iter()
            .map(|e| to_cal_event(e, false))
            .filter(|e| !e.is_cancelled && e.event_type != "seriesMaster")
            .map(|e| EventStub {
                start: match &e.when {
                    Ok(When::Timed { start, .. }) => Some(*start),
                    _ => None,
                },
                id: e.id,
                subject: e.subject,
                organizer: e.organizer,
            })
            .filter(|e| e.start.is_some_and(|s| s >= from && s < to))
            .collect())
    }
}

#[async_trait]
impl AdoptionCrm for CrmActivities {
    async fn legacy_keys(
        &self,
        rep: &str,
        mailbox: &str,
        content_type: &str,
        table: RecordTable,
        max: u32,
    ) -> Result<(Vec<LegacyKey>, bool), PortError> {
        let c = self.client();
        let d = c.dialect();
        let table = match table {
            RecordTable::Activity => &d.activity.table,
            RecordTable::Person => &d.person.table,
            RecordTable::Absence => &d.absence.table,
            RecordTable::Task => &d.task.table,
        };
        let found = c
            .as_rep(rep)
            .mailbox_external_keys(mailbox, content_type, max)
            .await
            .map_err(|e| crm_port(c, e))?;
        let keys = found
            .keys
            .into_iter()
            .filter_map(|k| match k.record {
                Some((t, id)) if t == *table => Some(LegacyKey {
                    ext_key: k.ext_key,
                    record: id,
                }),
                _ => None,
            })
            .collect();
        Ok((keys, found.truncated))
    }

    async fn activities_like(
        &self,
        rep: &str,
        rep_number: &str,
        date: jiff::civil::Date,
        subject: &str,
    ) -> Result<Vec<ContentCandidate>, PortError> {
        let c = self.client();
        let dl = c.dialect();
        let d = &dl.activity;
        let found = c
            .as_rep(rep)
            .activities(&ActivityFilter {
                from: date,
                to: date,
                rep_id: Some(rep_number.to_owned()),
                condition: Some(Condition::cond(&d.table, &d.subject, Op::Eq, subject)),
                fields: Vec::new(),
                with_participants: true,
                max_records: Some(100),
            })
            .await
            .map_err(|e| crm_port(c, e))?;
        Ok(found
            .into_iter()
            .filter(|a| !a.get(&d.deleted).is_some_and(|v| dl.parse_bool(v)))
            .map(|a| ContentCandidate {
                id: a.id,
                subject: a.get(&d.subject).unwrap_or_default().to_owned(),
                time: a.get(&d.time).unwrap_or_default().to_owned(),
                participants: a
                    .participants
                    .iter()
                    .filter_map(|p| p.email.as_deref().map(str::to_ascii_lowercase))
                    .collect(),
            })
            .collect())
    }
}
