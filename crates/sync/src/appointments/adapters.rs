//! [`CalendarGraph`] over the Graph client behind [`GraphMail`], and [`AppointmentCrm`] over
//! the CRM client behind [`CrmActivities`].

use async_trait::async_trait;
use gc_crm::{ActivityFilter, CrmError, NewActivity, NewExternalKey, NewParticipant};
use gc_graph::models::{Event, EventTime, EventType};
use gc_graph::paging::DeltaItem;
use gc_store::CrmId;
use jiff::Timestamp;
use serde_json::Value;

use crate::adapters::crm::port as crm_port;
use crate::adapters::graph::port as graph_port;
use crate::adapters::{CrmActivities, GraphMail};
use crate::appointments::model::{
    AppointmentPlan, Attendee, CalEvent, CrmAppointment, CrmParticipant, EventChange, EventPage,
    KeyRecord, NewMember, SeriesPart, When,
};
use crate::appointments::ports::{AppointmentCrm, CalendarGraph, CrmWindow};
use crate::email::model::PeopleMatch;
use crate::error::{ErrorClass, PortError};
use crate::ports::{ActivityCrm, CreateOutcome};

/// The extended property carrying the CRM record id on events written from CRM.
pub const CRM_ID_PROPERTY: &str = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmId";
/// The extended property the absences kind stamps on its events.
pub const ABSENCE_ID_PROPERTY: &str =
    "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmAbsenceId";

fn role(kind: Option<&str>) -> gc_crm::ParticipantRole {
    match kind.unwrap_or("required") {
        "optional" => gc_crm::ParticipantRole::Optional,
        "resource" => gc_crm::ParticipantRole::Informational,
        _ => gc_crm::ParticipantRole::Required,
    }
}

/// The kind's view of a Graph event.
pub fn to_cal_event(e: Event, props_read: bool) -> CalEvent {
    let when = e
        .time()
        .map(|t| match t {
            EventTime::Timed { start, end } => When::Timed { start, end },
            EventTime::AllDay { start, end } => When::AllDay { start, end },
        })
        .map_err(|err| format!("the event's times cannot be read: {err}"));
    let attendees = e
        .attendees
        .iter()
        .flatten()
        .filter_map(|a| {
            let email = a
                .email_address
                .as_ref()?
                .address
                .as_deref()?
                .trim()
                .to_ascii_lowercase();
            (!email.is_empty()).then(|| Attendee {
                email,
                role: role(a.attendee_type.as_deref()),
                response: a.status.as_ref().and_then(|s| s.response.clone()),
            })
        })
        .collect();
    let event_type = match e.event_type {
        Some(EventType::Occurrence) => "occurrence",
        Some(EventType::Exception) => "exception",
        Some(EventType::SeriesMaster) => "seriesMaster",
        _ => "singleInstance",
    };
    let prop = |id: &str| {
        e.extended_property(id)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let series = SeriesPart {
        master_id: e.series_master_id.clone().filter(|m| !m.is_empty()),
        original_start: e
            .original_start
            .as_deref()
            // A DateTimeOffset; without an offset, UTC.
            .and_then(|t| {
                t.trim()
                    .parse::<Timestamp>()
                    .ok()
                    .or_else(|| gc_graph::tz::to_timestamp(t, Some("UTC")).ok())
            }),
        master: None,
        cancelled: e
            .cancelled_occurrences
            .iter()
            .flatten()
            .filter_map(|o| crate::appointments::series::cancelled_date(o))
            .collect(),
        zone: e
            .recurrence
            .as_ref()
            .and_then(|r| r.range.as_ref())
            .and_then(|r| r.recurrence_time_zone.clone())
            .or_else(|| e.original_start_time_zone.clone())
            .filter(|z| !z.trim().is_empty()),
    };
    CalEvent {
        series,
        crm_id: prop(CRM_ID_PROPERTY),
        absence_id: prop(ABSENCE_ID_PROPERTY),
        props_read,
        when,
        id: e.id,
        ical_uid: e.ical_uid,
        change_key: e.change_key,
        created: e.created_date_time.as_deref().and_then(|t| t.parse().ok()),
        modified: e
            .last_modified_date_time
            .as_deref()
            .and_then(|t| t.parse().ok()),
        subject: e.subject.unwrap_or_default(),
        body: e.body.map(|b| (b.is_html(), b.content.unwrap_or_default())),
        sensitivity: e.sensitivity.unwrap_or_else(|| "normal".into()),
        show_as: e.show_as.unwrap_or_else(|| "busy".into()),
        importance: e.importance.unwrap_or_else(|| "normal".into()),
        reminder: match e.is_reminder_on {
            Some(false) => None,
            _ => e.reminder_minutes_before_start,
        },
        location: e.location.and_then(|l| l.display_name).unwrap_or_default(),
        attendees,
        organizer: e
            .organizer
            .as_ref()
            .and_then(|o| o.smtp())
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty()),
        is_organizer: e.is_organizer.unwrap_or(false),
        is_cancelled: e.is_cancelled.unwrap_or(false),
        event_type: event_type.to_owned(),
    }
}

#[async_trait]
impl CalendarGraph for GraphMail {
    async fn event_page(
        &self,
        user: &str,
        start: Timestamp,
        end: Timestamp,
        checkpoint: Option<&str>,
    ) -> Result<EventPage, PortError> {
        let c = self.client();
        let mut stream = match checkpoint {
            Some(link) => c.resume_event_delta(user, link),
            None => c.event_delta(user, start, end),
        };
        let Some(page) = stream.next_page().await else {
            return Ok(EventPage::default());
        };
        let page = page.map_err(graph_port)?;
        let changes = page
            .items
            .into_iter()
            .map(|item| match item {
                Ok(DeltaItem::Changed(e)) => EventChange::Event(Box::new(to_cal_event(e, false))),
                Ok(DeltaItem::Removed { id, .. }) => EventChange::Removed { id },
                Err(e) => EventChange::Broken {
                    id: e.id.clone(),
                    reason: e.message.clone(),
                },
            })
            .collect();
        Ok(EventPage {
            changes,
            next_link: page.next_link,
            delta_link: page.delta_link,
        })
    }

    async fn event(&self, user: &str, id: &str) -> Result<Option<CalEvent>, PortError> {
        let expand = format!(
            "singleValueExtendedProperties($filter=id eq '{CRM_ID_PROPERTY}' or id eq '{ABSENCE_ID_PROPERTY}')"
        );
        match self.client().get_event(user, id, Some(&expand)).await {
            Ok(e) => Ok(Some(to_cal_event(e, true))),
            Err(e) => {
                let e = graph_port(e);
                if e.class == ErrorClass::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn events_for_crm_id(
        &self,
        user: &str,
        crm_id: CrmId,
    ) -> Result<Vec<CalEvent>, PortError> {
        let found = self
            .client()
            .events_with_property(user, CRM_ID_PROPERTY, &crm_id.to_string())
            .await
            .map_err(graph_port)?;
        Ok(found.into_iter().map(|e| to_cal_event(e, true)).collect())
    }

    async fn create_event(&self, user: &str, body: &Value) -> Result<CalEvent, PortError> {
        let e = self
            .client()
            .create_event(user, body)
            .await
            .map_err(graph_port)?;
        Ok(to_cal_event(e, false))
    }

    async fn update_event(
        &self,
        user: &str,
        id: &str,
        body: &Value,
    ) -> Result<Option<CalEvent>, PortError> {
        match self.client().update_event(user, id, body).await {
            Ok(e) => Ok(Some(to_cal_event(e, false))),
            Err(e) => {
                let e = graph_port(e);
                if e.class == ErrorClass::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn delete_event(&self, user: &str, id: &str) -> Result<(), PortError> {
        match self.client().delete_event(user, id).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = graph_port(e);
                if e.class == ErrorClass::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// The kind's view of a CRM activity.
fn to_appointment(s: &gc_crm::CrmSession, updated: &str, a: gc_crm::Activity) -> CrmAppointment {
    let updated = {
        let f = updated;
        (!f.is_empty())
            .then(|| a.get(f).map(str::trim).filter(|v| !v.is_empty()))
            .flatten()
            .map(str::to_owned)
    };
    CrmAppointment {
        id: a.id,
        start: s.activity_start(&a),
        updated,
        keys: Vec::new(),
        participants: a
            .participants
            .iter()
            .map(|p| CrmParticipant {
                email: p.email.as_ref().map(|e| e.to_ascii_lowercase()),
                rep: p.rep,
            })
            .collect(),
        fields: a.fields,
    }
}

fn member(m: &NewMember) -> NewParticipant {
    NewParticipant {
        role: m.role,
        email: m.email.clone(),
        person: m.person,
        rep: m.rep,
        status: m.status.clone(),
    }
}

#[async_trait]
impl AppointmentCrm for CrmActivities {
    async fn find_people(&self, rep: &str, addresses: &[String]) -> Result<PeopleMatch, PortError> {
        if addresses.is_empty() {
            return Ok(PeopleMatch::default());
        }
        ActivityCrm::find_people(self, rep, addresses).await
    }

    async fn find_by_key(&self, rep: &str, key: &str) -> Result<Option<KeyRecord>, PortError> {
        let c = self.client();
        let table = &c.dialect().activity.table;
        let keys = c
            .as_rep(rep)
            .find_external_keys(None, &[key.to_owned()])
            .await
            .map_err(|e| crm_port(c, e))?;
        let mut found: Vec<KeyRecord> = keys
            .into_iter()
            .filter(|k| k.ext_key == key)
            .filter_map(|k| {
                let (t, id) = k.record?;
                (t == *table).then_some(KeyRecord {
                    id,
                    mailbox: k.mailbox,
                })
            })
            .collect();
        // The oldest record is the one every copy adopts.
        found.sort_by_key(|k| k.id);
        Ok(found.into_iter().next())
    }

    async fn appointment(&self, rep: &str, id: CrmId) -> Result<Option<CrmAppointment>, PortError> {
        let c = self.client();
        let s = c.as_rep(rep);
        let Some(a) = s.activity(id).await.map_err(|e| crm_port(c, e))? else {
            return Ok(None);
        };
        Ok(Some(to_appointment(&s, &c.dialect().activity.updated, a)))
    }

    async fn appointments(
        &self,
        rep: &str,
        w: &CrmWindow,
    ) -> Result<Vec<CrmAppointment>, PortError> {
        let c = self.client();
        let s = c.as_rep(rep);
        let d = &c.dialect().activity;
        let condition = match (&w.since, d.updated.is_empty()) {
            (Some(since), false) => Some(gc_crm::codec::Condition::cond(
                &d.table,
                &d.updated,
                gc_crm::codec::Op::Ge,
                since.clone(),
            )),
            _ => None,
        };
        let found = s
            .activities_with_keys(
                &ActivityFilter {
                    from: w.from,
                    to: w.to,
                    rep_id: Some(w.rep_number.clone()),
                    condition,
                    fields: w.fields.clone(),
                    with_participants: true,
                    max_records: None,
                },
                &c.dialect().appointment.content_type,
            )
            .await
            .map_err(|e| crm_port(c, e))?;
        Ok(found
            .into_iter()
            .map(|k| CrmAppointment {
                keys: k.keys,
                ..to_appointment(&s, &d.updated, k.activity)
            })
            .collect())
    }

    async fn find_orphan(
        &self,
        rep: &str,
        plan: &AppointmentPlan,
    ) -> Result<Option<CrmId>, PortError> {
        let c = self.client();
        let dl = c.dialect();
        let d = &dl.activity;
        let Some(date) = plan.fields.get(&d.date).and_then(|v| dl.parse_date(v)) else {
            return Ok(None);
        };
        let wanted = |name: &str| plan.fields.get(name).map_or("", |v| v.trim());
        let found = c
            .as_rep(rep)
            .activities(&ActivityFilter {
                from: date,
                to: date,
                rep_id: plan.fields.get(&d.rep_id).cloned(),
                condition: None,
                fields: Vec::new(),
                with_participants: false,
                max_records: Some(200),
            })
            .await
            .map_err(|e| crm_port(c, e))?;
        Ok(found
            .into_iter()
            .filter(|a| {
                a.get(&d.subject).unwrap_or_default().trim() == wanted(&d.subject)
                    && a.get(&d.time).unwrap_or_default().trim() == wanted(&d.time)
                    && !a.get(&d.deleted).is_some_and(|v| dl.parse_bool(v))
            })
            .map(|a| a.id)
            .min())
    }

    async fn create(&self, rep: &str, plan: &AppointmentPlan) -> Result<CreateOutcome, PortError> {
        let c = self.client();
        let dl = c.dialect();
        let d = &dl.activity;
        let date = plan
            .fields
            .get(&d.date)
            .and_then(|v| dl.parse_date(v))
            .ok_or_else(|| PortError::new(ErrorClass::Item, "the appointment has no date"))?;
        let subject = plan.fields.get(&d.subject).cloned().unwrap_or_default();
        let mut a = NewActivity::new(&plan.contact_type, &subject, date);
        a.extra = plan
            .fields
            .iter()
            .filter(|(k, v)| **k != d.subject && **k != d.date && !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        a.company = plan.company;
        a.person = plan.person;
        a.participants = plan.participants.iter().map(member).collect();
        a.external_key = Some(NewExternalKey {
            ext_system: None,
            content_type: dl.appointment.content_type.clone(),
            ext_key: plan.key.clone(),
            mailbox: Some(plan.mailbox.clone()),
        });
        match c.as_rep(rep).insert_activity(&a).await {
            Ok(id) => Ok(CreateOutcome::Complete(id)),
            Err(CrmError::Partial { created, source }) => Ok(CreateOutcome::Partial {
                id: created,
                error: crm_port(c, *source),
            }),
            Err(e) => Err(crm_port(c, e)),
        }
    }

    async fn update(
        &self,
        rep: &str,
        id: CrmId,
        fields: &[(String, String)],
    ) -> Result<(), PortError> {
        let c = self.client();
        c.as_rep(rep)
            .update_activity(id, fields)
            .await
            .map_err(|e| crm_port(c, e))
    }

    async fn add_participants(
        &self,
        rep: &str,
        id: CrmId,
        members: &[NewMember],
    ) -> Result<(), PortError> {
        let c = self.client();
        let ps: Vec<NewParticipant> = members.iter().map(member).collect();
        let results = c
            .as_rep(rep)
            .add_participants(id, &ps)
            .await
            .map_err(|e| crm_port(c, e))?;
        match results.into_iter().find_map(Result::err) {
            Some(e) => Err(crm_port(c, e)),
            None => Ok(()),
        }
    }

    async fn add_key(
        &self,
        rep: &str,
        id: CrmId,
        key: &str,
        mailbox: &str,
    ) -> Result<(), PortError> {
        let c = self.client();
        let dl = c.dialect();
        c.as_rep(rep)
            .insert_external_key(
                &dl.activity.table,
                id,
                &NewExternalKey {
                    ext_system: None,
                    content_type: dl.appointment.content_type.clone(),
                    ext_key: key.to_owned(),
                    mailbox: Some(mailbox.to_owned()),
                },
            )
            .await
            .map(|_| ())
            .map_err(|e| crm_port(c, e))
    }

    async fn soft_delete(&self, rep: &str, id: CrmId) -> Result<(), PortError> {
        let c = self.client();
        c.as_rep(rep)
            .mark_activity_deleted(id)
            .await
            .map_err(|e| crm_port(c, e))
    }
}
