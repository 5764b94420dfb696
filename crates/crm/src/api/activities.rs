//! Activities (MA): a new activity with everything that belongs to it (inserted with its
//! external key, participants and documents, nested in one request or in a second one), an
//! activity read back with its fields and participants, its start and end in the CRM's time
//! zone, updates and the soft delete, one activity by id, the activities of a date window.

use std::collections::BTreeMap;

use gc_ids::CrmId;

use super::{
    NewDocument, NewExternalKey, NewParticipant, Participant, ParticipantRole, field_map,
    id_condition, need_id, non_empty,
};
use crate::client::CrmSession;
use crate::codec::{
    CatalogMode, Condition, FieldList, Op, Query, Record, RecordData, TableSpec, WriteKind,
};
use crate::error::CrmError;

/// A new activity (MA) with everything that belongs to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// Activity type (catalog text, e.g. `E-mail`, `Meeting`).
    pub contact_type: String,
    pub subject: String,
    pub text: String,
    pub date: jiff::civil::Date,
    pub time: Option<jiff::civil::Time>,
    pub end_date: Option<jiff::civil::Date>,
    pub end_time: Option<jiff::civil::Time>,
    /// Owner rep number (`Rep::rep_id`).
    pub rep_id: Option<String>,
    /// Linked company.
    pub company: Option<CrmId>,
    /// Linked person.
    pub person: Option<CrmId>,
    /// Further fields of the vevent form (ShowAs, Private, MissingParticipants, F5021, …).
    pub extra: Vec<(String, String)>,
    pub participants: Vec<NewParticipant>,
    pub external_key: Option<NewExternalKey>,
    pub documents: Vec<NewDocument>,
}

impl NewActivity {
    /// A minimal activity.
    pub fn new(contact_type: &str, subject: &str, date: jiff::civil::Date) -> Self {
        Self {
            contact_type: contact_type.into(),
            subject: subject.into(),
            text: String::new(),
            date,
            time: None,
            end_date: None,
            end_time: None,
            rep_id: None,
            company: None,
            person: None,
            extra: Vec::new(),
            participants: Vec::new(),
            external_key: None,
            documents: Vec::new(),
        }
    }
}

/// An activity read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub id: CrmId,
    /// All returned fields by name.
    pub fields: BTreeMap<String, String>,
    pub company: Option<CrmId>,
    pub person: Option<CrmId>,
    pub participants: Vec<Participant>,
}

impl Activity {
    /// A field value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl CrmSession<'_> {
    /// When an activity starts: its date and time fields read in the CRM's time zone
    /// (`[crm] time_zone`; gaps and overlaps as [`crate::localtime`] explains). Without a
    /// time, the start of the day. `None` when the date is missing or unreadable.
    pub fn activity_start(&self, a: &Activity) -> Option<jiff::Timestamp> {
        let dl = self.dialect();
        let d = &dl.activity;
        let date = dl.parse_date(a.get(&d.date)?)?;
        let time = a.get(&d.time).and_then(|t| dl.parse_time(t));
        crate::localtime::from_local(date, time, self.client.time_zone())
    }

    /// When an activity ends (end date and time, CRM time zone); `None` without an end date.
    pub fn activity_end(&self, a: &Activity) -> Option<jiff::Timestamp> {
        let dl = self.dialect();
        let d = &dl.activity;
        if d.end_date.is_empty() {
            return None;
        }
        let date = dl.parse_date(a.get(&d.end_date)?)?;
        let time = a.get(&d.end_time).and_then(|t| dl.parse_time(t));
        crate::localtime::from_local(date, time, self.client.time_zone())
    }
}

/// Which activities to read.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityFilter {
    /// First day (inclusive).
    pub from: jiff::civil::Date,
    /// Last day (inclusive).
    pub to: jiff::civil::Date,
    /// Only activities of this rep number.
    pub rep_id: Option<String>,
    /// Extra condition, e.g. a forms.xml SyncHandler condition.
    pub condition: Option<Condition>,
    /// Fields to return (e.g. the forms.xml vevent list); empty = the basic fields.
    pub fields: Vec<String>,
    /// Also read the participants.
    pub with_participants: bool,
    pub max_records: Option<u32>,
}

impl CrmSession<'_> {
    /// Inserts an activity with its external key, participants and documents: nested in
    /// one request (`child_records = "nested"`, see [`crate::nested`]) or in a second
    /// request (`"separate"`). The external key goes first so that a later run can adopt the activity
    /// even if a participant write fails. If anything after the activity fails,
    /// [`CrmError::Partial`] carries the created id.
    pub async fn insert_activity(&self, a: &NewActivity) -> Result<CrmId, CrmError> {
        let dl = self.dialect();
        let d = &dl.activity;
        let mut rec = RecordData::new(&d.table)
            .field(&d.contact_type, a.contact_type.clone())
            .field(&d.subject, a.subject.clone())
            .field(&d.date, dl.format_date(a.date));
        if !a.text.is_empty() {
            rec = rec.field(&d.text, a.text.clone());
        }
        if let Some(t) = a.time {
            rec = rec.field(&d.time, dl.format_time(t));
        }
        if let Some(x) = a.end_date {
            rec = rec.field(&d.end_date, dl.format_date(x));
        }
        if let Some(t) = a.end_time {
            rec = rec.field(&d.end_time, dl.format_time(t));
        }
        if let Some(r) = &a.rep_id {
            rec = rec.field(&d.rep_id, r.clone());
        }
        for (k, v) in &a.extra {
            rec = rec.field(k, v.clone());
        }
        if let Some(c) = a.company {
            rec = rec.link(&dl.company.table, c);
        }
        if let Some(p) = a.person {
            rec = rec.link(&dl.person.table, p);
        }
        let follow = |id: CrmId| {
            let mut follow = Vec::new();
            if let Some(xk) = &a.external_key {
                follow.push(self.external_key_record(&d.table, id, xk));
            }
            for p in &a.participants {
                follow.push(self.participant_record(id, p));
            }
            for doc in &a.documents {
                follow.push(self.document_record(id, doc));
            }
            follow
        };
        if dl.nests_children() {
            // One request: the children inside the activity (see `crate::nested`); the
            // first one of the process with an external key is read back once.
            let id = self.insert_nested(rec, follow(CrmId(0))).await?;
            if let Some(xk) = &a.external_key {
                self.confirm_nested(&d.table, id, xk.ext_system.as_deref(), &xk.ext_key)
                    .await?;
            }
            return Ok(id);
        }
        let id = self
            .write_one(WriteKind::Insert, CatalogMode::Text, rec)
            .await?;
        let follow = follow(id);
        if follow.is_empty() {
            return Ok(id);
        }
        let results = self
            .write(WriteKind::Insert, CatalogMode::Text, follow)
            .await
            .map_err(|e| CrmError::Partial {
                created: id,
                source: Box::new(e),
            })?;
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            return Err(CrmError::Partial {
                created: id,
                source: Box::new(e),
            });
        }
        Ok(id)
    }

    /// Updates fields of an activity.
    pub async fn update_activity(
        &self,
        id: CrmId,
        fields: &[(String, String)],
    ) -> Result<(), CrmError> {
        let d = &self.dialect().activity;
        let mut rec = RecordData::new(&d.table);
        rec.id = Some(id);
        for (k, v) in fields {
            rec = rec.field(k, v.clone());
        }
        self.write_one(WriteKind::Update, CatalogMode::Text, rec)
            .await
            .map(|_| ())
    }

    /// Soft-deletes an appointment (`ConnectorDeleted = true`), as the connector does for
    /// items deleted in the mailbox; activities are never physically deleted.
    pub async fn mark_activity_deleted(&self, id: CrmId) -> Result<(), CrmError> {
        let dl = self.dialect();
        self.update_activity(id, &[(dl.activity.deleted.clone(), dl.format_bool(true))])
            .await
    }

    /// `all_fields`: send no field list for the activity table, which returns every field
    /// (an inference, see [`crate::dialect`]).
    pub(crate) fn activity_query(
        &self,
        condition: Condition,
        fields: &[String],
        all_fields: bool,
        with_participants: bool,
        max: Option<u32>,
    ) -> Query {
        let dl = self.dialect();
        let d = &dl.activity;
        let mut fl = if fields.is_empty() {
            vec![
                d.contact_type.clone(),
                d.subject.clone(),
                d.text.clone(),
                d.date.clone(),
                d.time.clone(),
                d.end_date.clone(),
                d.end_time.clone(),
                d.rep_id.clone(),
                d.deleted.clone(),
            ]
        } else {
            fields.to_vec()
        };
        fl.retain(|f| f != "StatNo" && f != "SeqNo");
        let mut table = TableSpec::new(&d.table);
        let mut field_lists = if all_fields {
            Vec::new()
        } else {
            vec![FieldList {
                tablename: d.table.clone(),
                fields: fl,
            }]
        };
        if with_participants {
            let p = &dl.participant;
            table = table.with_child(TableSpec::new(&p.table));
            field_lists.push(FieldList {
                tablename: p.table.clone(),
                fields: vec![p.email.clone(), p.role.clone(), p.status.clone()],
            });
        }
        Query {
            table,
            condition: Some(condition),
            fields: field_lists,
            max_records: max,
            catalogs: CatalogMode::Text,
        }
    }

    pub(crate) fn activity_from(&self, r: &Record) -> Result<Activity, CrmError> {
        let dl = self.dialect();
        let p = &dl.participant;
        let mut participants = Vec::new();
        for c in r.children.iter().filter(|c| c.table == p.table) {
            participants.push(Participant {
                id: need_id(c)?,
                role: ParticipantRole::parse(c.get(&p.role).unwrap_or_default()),
                email: non_empty(c.get(&p.email)),
                person: c.link(&dl.person.table),
                rep: c.link(&dl.rep.table),
                status: non_empty(c.get(&p.status)),
            });
        }
        Ok(Activity {
            id: need_id(r)?,
            fields: field_map(r),
            company: r.link(&dl.company.table),
            person: r.link(&dl.person.table),
            participants,
        })
    }

    /// One activity by id, with all its fields and participants; `None` if it does not
    /// exist.
    pub async fn activity(&self, id: CrmId) -> Result<Option<Activity>, CrmError> {
        let d = &self.dialect().activity;
        let q = self.activity_query(id_condition(&d.table, id), &[], true, true, Some(1));
        let recs = self.query(q).await?;
        recs.first().map(|r| self.activity_from(r)).transpose()
    }

    /// Activities in a date window (optionally of one rep, filtered by a SyncHandler
    /// condition).
    pub async fn activities(&self, f: &ActivityFilter) -> Result<Vec<Activity>, CrmError> {
        let q = self.activity_query(
            self.window_condition(f),
            &f.fields,
            false,
            f.with_participants,
            f.max_records,
        );
        let recs = self.query(q).await?;
        recs.iter().map(|r| self.activity_from(r)).collect()
    }

    /// The condition of an [`ActivityFilter`]: its days, its rep, its extra condition.
    pub(crate) fn window_condition(&self, f: &ActivityFilter) -> Condition {
        let dl = self.dialect();
        let d = &dl.activity;
        let mut conds = vec![
            Condition::cond(&d.table, &d.date, Op::Ge, dl.format_date(f.from)),
            Condition::cond(&d.table, &d.date, Op::Le, dl.format_date(f.to)),
        ];
        if let Some(r) = &f.rep_id {
            conds.push(Condition::cond(&d.table, &d.rep_id, Op::Eq, r.clone()));
        }
        if let Some(c) = &f.condition {
            conds.push(c.clone());
        }
        Condition::and(conds)
    }
}
