//! [`AbsenceCalendar`] over [`GraphMail`]'s client and [`AbsencesCrm`] over
//! [`CrmActivities`]'s.

use async_trait::async_trait;
use gc_crm::{Absence, Dialect, NewExternalKey};
use gc_graph::ErrorKind;
use gc_store::CrmId;
use serde_json::Value;

use crate::absences::model::{ABSENCE_PROPERTY, AbsenceChange, AbsenceItem, CONTENT_TYPE};
use crate::absences::ports::{AbsenceCalendar, AbsenceRead, AbsencesCrm};
use crate::adapters::{CrmActivities, GraphMail, crm::port as crm_port, graph::port};
use crate::adopt::records::EventSpan;
use crate::appointments::adapters::to_cal_event;
use crate::error::PortError;

#[async_trait]
impl AbsenceCalendar for GraphMail {
    async fn find_events(&self, user: &str, absence: CrmId) -> Result<Vec<String>, PortError> {
        let want = absence.to_string();
        let found = self
            .client()
            .events_with_property(user, ABSENCE_PROPERTY, &want)
            .await
            .map_err(port)?;
        // Only what really carries the id: the user's own events are never written.
        Ok(found
            .into_iter()
            .filter(|e| e.extended_property(ABSENCE_PROPERTY) == Some(want.as_str()))
            .map(|e| e.id)
            .collect())
    }

    async fn absence_mark(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<Option<String>>, PortError> {
        let expand = format!("singleValueExtendedProperties($filter=id eq '{ABSENCE_PROPERTY}')");
        match self.client().get_event(user, id, Some(&expand)).await {
            Ok(e) => Ok(Some(
                e.extended_property(ABSENCE_PROPERTY).map(str::to_owned),
            )),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(port(e)),
        }
    }

    async fn events_between(
        &self,
        user: &str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<EventSpan>, PortError> {
        let events = self
            .client()
            .calendar_view(user, from, to)
            .collect_ok()
            .await
            .map_err(port)?;
        Ok(events
            .into_iter()
            .map(|e| to_cal_event(e, false))
            .filter(|e| !e.is_cancelled && e.event_type != "seriesMaster")
            .filter_map(|e| {
                Some(EventSpan {
                    when: e.when.ok()?,
                    id: e.id,
                    subject: e.subject,
                })
            })
            .collect())
    }

    async fn create_event(&self, user: &str, body: &Value) -> Result<String, PortError> {
        self.client()
            .create_event(user, body)
            .await
            .map(|e| e.id)
            .map_err(port)
    }

    async fn update_event(&self, user: &str, id: &str, body: &Value) -> Result<(), PortError> {
        self.client()
            .update_event(user, id, body)
            .await
            .map(|_| ())
            .map_err(port)
    }

    async fn delete_event(&self, user: &str, id: &str) -> Result<(), PortError> {
        match self.client().delete_event(user, id).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            r => r.map_err(port),
        }
    }
}

/// An absence as the kind reads it; unreadable dates make it [`AbsenceChange::Broken`].
pub fn read_absence(d: &Dialect, a: &Absence) -> AbsenceChange {
    let n = &d.absence;
    let get = |f: &str| {
        if f.is_empty() {
            String::new()
        } else {
            a.fields
                .get(f)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        }
    };
    let date = |f: &str| {
        let v = get(f);
        d.parse_date(&v).ok_or_else(|| {
            format!(
                "absence {}: {f} {v:?} is not a date ({})",
                a.id, d.date_format
            )
        })
    };
    let time = |f: &str| {
        let v = get(f);
        if v.is_empty() {
            return Ok(None);
        }
        d.parse_time(&v).map(Some).ok_or_else(|| {
            format!(
                "absence {}: {f} {v:?} is not a time ({})",
                a.id, d.time_format
            )
        })
    };
    let item = (|| {
        let start = date(&n.start_date)?;
        let end = if get(&n.end_date).is_empty() {
            start
        } else {
            date(&n.end_date)?
        };
        Ok::<_, String>(AbsenceItem {
            id: a.id,
            rep_number: get(&n.rep_id),
            start,
            start_time: time(&n.start_time)?,
            end,
            end_time: time(&n.end_time)?,
            kind: get(&n.kind),
            text: get(&n.text),
        })
    })();
    match item {
        Ok(i) => AbsenceChange::Absence(i),
        Err(reason) => AbsenceChange::Broken { id: a.id, reason },
    }
}

#[async_trait]
impl AbsencesCrm for CrmActivities {
    async fn absences(
        &self,
        rep: &str,
        rep_number: &str,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<AbsenceRead, PortError> {
        let c = self.client();
        let list = c
            .as_rep(rep)
            .absences(rep_number, from, to)
            .await
            .map_err(|e| crm_port(c, e))?;
        let stamp = &c.dialect().absence.updated;
        Ok(AbsenceRead {
            changes: list.iter().map(|a| read_absence(c.dialect(), a)).collect(),
            stamps: (!stamp.is_empty()).then(|| {
                list.iter()
                    .map(|a| {
                        let s = a.fields.get(stamp).map(|s| s.trim()).unwrap_or_default();
                        (a.id, s.to_owned())
                    })
                    .collect()
            }),
        })
    }

    async fn absence(&self, rep: &str, id: CrmId) -> Result<Option<AbsenceChange>, PortError> {
        let c = self.client();
        let a = c
            .as_rep(rep)
            .absence(id)
            .await
            .map_err(|e| crm_port(c, e))?;
        Ok(a.map(|a| read_absence(c.dialect(), &a)))
    }

    async fn ensure_key(&self, rep: &str, absence: CrmId, event: &str) -> Result<(), PortError> {
        let c = self.client();
        let d = c.dialect();
        let s = c.as_rep(rep);
        let err = |e| crm_port(c, e);
        let have = s
            .find_external_keys(Some(&d.external_key.own_system), &[event.to_owned()])
            .await
            .map_err(err)?;
        if have
            .iter()
            .any(|k| k.record.as_ref().is_some_and(|(_, id)| *id == absence))
        {
            return Ok(());
        }
        s.insert_external_key(
            &d.absence.table,
            absence,
            &NewExternalKey {
                ext_system: None,
                content_type: CONTENT_TYPE.to_owned(),
                ext_key: event.to_owned(),
                mailbox: Some(rep.to_owned()),
            },
        )
        .await
        .map(|_| ())
        .map_err(err)
    }
}
