//! [`ActivityCrm`] over gc-crm's [`CrmClient`].

use std::sync::Arc;

use async_trait::async_trait;
use gc_crm::codec::{Condition, Op};
use gc_crm::{
    ActivityFilter, ContentSource, CrmClient, CrmError, ErrorKind, NewActivity, NewDocument,
    NewExternalKey, NewParticipant,
};
use gc_store::CrmId;

use crate::email::model::{
    ActivityPlan, CompanyRef, DocumentPlan, ExistingActivity, ExistingParticipant, FoundBy,
    ParkedDocument, ParticipantPlan, PeopleMatch, PersonRef,
};
use crate::engine::Spool;
use crate::ports::{ActivityCrm, CreateOutcome, DocumentMeta, ErrorClass, PageLookup, PortError};

/// The CRM side of e-mail filing. (CRM.interface's one request per user at a time is kept
/// by the client itself, for every kind.)
#[derive(Debug, Clone)]
pub struct CrmActivities {
    client: CrmClient,
    activity_type: String,
}

impl CrmActivities {
    /// Over `client`; new activities get the type `activity_type` (catalog text).
    pub fn new(client: CrmClient, activity_type: impl Into<String>) -> Self {
        CrmActivities {
            client,
            activity_type: activity_type.into(),
        }
    }

    /// The client.
    pub fn client(&self) -> &CrmClient {
        &self.client
    }

    /// Of the activities `keys` name for `key`, the lowest id that still exists, with its
    /// participants: `read` stands in for reading it when it is that activity.
    async fn first_activity(
        &self,
        rep: &str,
        key: &str,
        keys: &[gc_crm::ExternalKey],
        read: Option<gc_crm::Activity>,
    ) -> Result<Option<ExistingActivity>, PortError> {
        let table = &self.client.dialect().activity.table;
        let mut ids: Vec<CrmId> = keys
            .iter()
            .filter(|k| k.ext_key == key)
            .filter_map(|k| k.record.as_ref())
            .filter(|(t, _)| t == table)
            .map(|(_, id)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut read = read;
        for id in ids {
            let a = match read.take_if(|a| a.id == id) {
                Some(a) => Some(a),
                None => self
                    .client
                    .as_rep(rep)
                    .activity(id)
                    .await
                    .map_err(|e| port(&self.client, e))?,
            };
            if let Some(a) = a {
                return Ok(Some(existing(a, FoundBy::ExternalKey)));
            }
        }
        Ok(None)
    }
}

/// Classify a CRM error for the engine. Codes the configuration watches (500, 511 by
/// default) count as transient: CRM.interface uses them for passing server trouble. A name
/// CRM.interface does not know is the configuration's fault: it stops the run.
pub fn port(client: &CrmClient, e: CrmError) -> PortError {
    let class = match e.kind() {
        ErrorKind::UnknownName => ErrorClass::Tenant,
        ErrorKind::Transient | ErrorKind::UserAlreadyActive | ErrorKind::MalformedResponse => {
            ErrorClass::Transient
        }
        _ if client.is_watched(&e) => ErrorClass::Transient,
        // The master login is refused: nothing can be done for any mailbox.
        ErrorKind::Auth => ErrorClass::Tenant,
        ErrorKind::ImpersonationRefused => ErrorClass::Mailbox,
        ErrorKind::NotFound => ErrorClass::NotFound,
        ErrorKind::Rejected | ErrorKind::InvalidRequest => ErrorClass::Item,
    };
    PortError::new(class, e.to_string())
}

fn existing(a: gc_crm::Activity, found_by: FoundBy) -> ExistingActivity {
    ExistingActivity {
        id: a.id,
        participants: a
            .participants
            .into_iter()
            .map(|p| ExistingParticipant {
                email: p.email.map(|e| e.to_ascii_lowercase()),
                rep: p.rep,
                person: p.person,
            })
            .collect(),
        found_by,
    }
}

/// CRM's persons and companies as the e-mail rules see them: an address that belongs to a
/// person is the person's, not a company's.
fn people(persons: Vec<gc_crm::PersonMatch>, companies: Vec<gc_crm::Company>) -> PeopleMatch {
    let companies = companies
        .into_iter()
        .filter_map(|c| {
            let email = c.email?;
            (!persons.iter().any(|p| p.email.eq_ignore_ascii_case(&email))).then_some(CompanyRef {
                email,
                company: c.id,
            })
        })
        .collect();
    PeopleMatch {
        persons: persons
            .into_iter()
            .map(|p| PersonRef {
                email: p.email,
                person: p.person,
                company: p.company,
            })
            .collect(),
        companies,
        reps: Vec::new(),
    }
}

fn participant(p: &ParticipantPlan) -> NewParticipant {
    NewParticipant {
        role: p.role,
        email: p.email.clone(),
        person: p.person,
        rep: p.rep,
        status: None,
    }
}

fn document(d: &DocumentPlan) -> NewDocument {
    NewDocument {
        file_name: d.file_name.clone(),
        content_type: d.content_type.clone(),
        content: d.content.clone(),
    }
}

#[async_trait]
impl ActivityCrm for CrmActivities {
    async fn check_rep_access(&self, rep: &str) -> Result<(), PortError> {
        self.client
            .as_rep(rep)
            .ping()
            .await
            .map_err(|e| port(&self.client, e))
    }

    async fn find_people(&self, rep: &str, addresses: &[String]) -> Result<PeopleMatch, PortError> {
        let s = self.client.as_rep(rep);
        let persons = s
            .persons_by_emails(addresses)
            .await
            .map_err(|e| port(&self.client, e))?;
        let rest: Vec<String> = addresses
            .iter()
            .filter(|a| !persons.iter().any(|p| p.email.eq_ignore_ascii_case(a)))
            .cloned()
            .collect();
        let companies = if rest.is_empty() {
            Vec::new()
        } else {
            s.companies_by_emails(&rest)
                .await
                .map_err(|e| port(&self.client, e))?
        };
        Ok(people(persons, companies))
    }

    async fn find_by_key(
        &self,
        rep: &str,
        key: &str,
    ) -> Result<Option<ExistingActivity>, PortError> {
        let keys = self
            .client
            .as_rep(rep)
            .find_external_keys(None, &[key.to_owned()])
            .await
            .map_err(|e| port(&self.client, e))?;
        self.first_activity(rep, key, &keys, None).await
    }

    async fn find_by_key_guessing(
        &self,
        rep: &str,
        key: &str,
        guess: CrmId,
    ) -> Result<Option<ExistingActivity>, PortError> {
        let (keys, read) = self
            .client
            .as_rep(rep)
            .key_and_activity(key, guess)
            .await
            .map_err(|e| port(&self.client, e))?;
        self.first_activity(rep, key, &keys, read).await
    }

    async fn lookup_page(
        &self,
        rep: &str,
        keys: &[String],
        addresses: &[String],
    ) -> Result<PageLookup, PortError> {
        let found = self
            .client
            .as_rep(rep)
            .lookup_page(keys, addresses)
            .await
            .map_err(|e| port(&self.client, e))?;
        let table = &self.client.dialect().activity.table;
        let mut known_keys = std::collections::HashMap::new();
        for k in found.keys {
            if let Some((t, id)) = &k.record
                && t == table
            {
                // The lowest id, as `find_by_key` tries them.
                let e = known_keys.entry(k.ext_key).or_insert(*id);
                *e = (*e).min(*id);
            }
        }
        Ok(PageLookup {
            known_keys,
            people: people(found.persons, found.companies),
        })
    }

    async fn activity(&self, rep: &str, id: CrmId) -> Result<Option<ExistingActivity>, PortError> {
        let a = self
            .client
            .as_rep(rep)
            .activity(id)
            .await
            .map_err(|e| port(&self.client, e))?;
        Ok(a.map(|a| existing(a, FoundBy::Link)))
    }

    async fn activities(
        &self,
        rep: &str,
        ids: &[CrmId],
    ) -> Result<Vec<ExistingActivity>, PortError> {
        let found = self
            .client
            .as_rep(rep)
            .activities_by_id(ids)
            .await
            .map_err(|e| port(&self.client, e))?;
        Ok(found
            .into_iter()
            .map(|a| existing(a, FoundBy::ExternalKey))
            .collect())
    }

    async fn find_orphan(
        &self,
        rep: &str,
        plan: &ActivityPlan,
    ) -> Result<Option<ExistingActivity>, PortError> {
        let dl = self.client.dialect();
        let d = &dl.activity;
        // With a marker field the insert is found by the marker its first request carried;
        // without one, by everything the plan wrote (rep, date, time, subject, text).
        let (condition, by_marker) = if d.marker.is_empty() {
            (
                Condition::cond(&d.table, &d.subject, Op::Eq, plan.subject.clone()),
                false,
            )
        } else {
            (
                Condition::cond(&d.table, &d.marker, Op::Eq, plan.marker.clone()),
                true,
            )
        };
        let found = self
            .client
            .as_rep(rep)
            .activities(&ActivityFilter {
                from: plan.date,
                to: plan.date,
                rep_id: Some(plan.rep_number.clone()),
                condition: Some(condition),
                fields: if by_marker {
                    vec![d.marker.clone()]
                } else {
                    Vec::new()
                },
                with_participants: true,
                max_records: Some(100),
            })
            .await
            .map_err(|e| port(&self.client, e))?;
        let time = dl.format_time(plan.time);
        let mut hits: Vec<gc_crm::Activity> = found
            .into_iter()
            .filter(|a| {
                if by_marker {
                    a.get(&d.marker) == Some(plan.marker.as_str())
                } else {
                    a.get(&d.subject) == Some(plan.subject.as_str())
                        && a.get(&d.time).map(str::trim) == Some(time.as_str())
                        && a.get(&d.text).unwrap_or_default() == plan.text
                }
            })
            .collect();
        hits.sort_by_key(|a| a.id);
        Ok(hits
            .into_iter()
            .next()
            .map(|a| existing(a, FoundBy::Orphan)))
    }

    async fn create(
        &self,
        rep: &str,
        plan: &ActivityPlan,
        documents: &[DocumentPlan],
        content_type: &str,
    ) -> Result<CreateOutcome, PortError> {
        let mut a = NewActivity::new(&self.activity_type, &plan.subject, plan.date);
        a.text = plan.text.clone();
        a.time = Some(plan.time);
        a.rep_id = Some(plan.rep_number.clone());
        a.company = plan.company;
        a.person = plan.person;
        a.extra = plan.extra.clone();
        let marker = &self.client.dialect().activity.marker;
        if !marker.is_empty() {
            a.extra.push((marker.clone(), plan.marker.clone()));
        }
        a.participants = plan.participants.iter().map(participant).collect();
        a.external_key = Some(NewExternalKey {
            ext_system: None,
            content_type: content_type.to_owned(),
            ext_key: plan.key.clone(),
            mailbox: Some(rep.to_owned()),
        });
        a.documents = documents.iter().map(document).collect();
        match self.client.as_rep(rep).insert_activity(&a).await {
            Ok(id) => Ok(CreateOutcome::Complete(id)),
            Err(CrmError::Partial { created, source }) => Ok(CreateOutcome::Partial {
                id: created,
                error: port(&self.client, *source),
            }),
            Err(e) => Err(port(&self.client, e)),
        }
    }

    async fn add_key(
        &self,
        rep: &str,
        activity: CrmId,
        key: &str,
        content_type: &str,
    ) -> Result<(), PortError> {
        let table = self.client.dialect().activity.table.clone();
        self.client
            .as_rep(rep)
            .insert_external_key(
                &table,
                activity,
                &NewExternalKey {
                    ext_system: None,
                    content_type: content_type.to_owned(),
                    ext_key: key.to_owned(),
                    mailbox: Some(rep.to_owned()),
                },
            )
            .await
            .map(|_| ())
            .map_err(|e| port(&self.client, e))
    }

    async fn add_participants(
        &self,
        rep: &str,
        activity: CrmId,
        participants: &[ParticipantPlan],
    ) -> Result<(), PortError> {
        let ps: Vec<NewParticipant> = participants.iter().map(participant).collect();
        let results = self
            .client
            .as_rep(rep)
            .add_participants(activity, &ps)
            .await
            .map_err(|e| port(&self.client, e))?;
        match results.into_iter().find_map(Result::err) {
            Some(e) => Err(port(&self.client, e)),
            None => Ok(()),
        }
    }

    async fn documents(&self, rep: &str, activity: CrmId) -> Result<Vec<DocumentMeta>, PortError> {
        let docs = self
            .client
            .as_rep(rep)
            .documents(activity, false)
            .await
            .map_err(|e| port(&self.client, e))?;
        Ok(docs
            .into_iter()
            .map(|d| DocumentMeta {
                file_name: d.file_name,
                size: d.size,
            })
            .collect())
    }

    async fn add_document(
        &self,
        rep: &str,
        activity: CrmId,
        document: &ParkedDocument,
    ) -> Result<(), PortError> {
        self.client
            .as_rep(rep)
            .insert_document_streamed(
                activity,
                &document.file_name,
                &document.content_type,
                Arc::new(SpoolSource(document.content.clone())),
            )
            .await
            .map(|_| ())
            .map_err(|e| port(&self.client, e))
    }
}

/// A spool as content CRM.interface requests stream from.
#[derive(Debug)]
struct SpoolSource(Spool);

impl ContentSource for SpoolSource {
    fn len(&self) -> u64 {
        self.0.len()
    }

    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(self.0.reader()))
    }
}
