//! Reps (ID): the rep with its connector settings (which kinds it synchronizes, its
//! language, its `UserSettings`), all reps, the reps selected for synchronization, reps by
//! e-mail address.

use gc_ids::CrmId;

use super::{ADDRESSES_PER_QUERY, lower_unique, need_id, non_empty};
use crate::client::CrmSession;
use crate::codec::{CatalogMode, Condition, FieldList, Op, Query, Record, TableSpec};
use crate::error::CrmError;

/// A rep (ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rep {
    /// Record id.
    pub id: CrmId,
    /// The rep number other records refer to (`Contact.RepID`).
    pub rep_id: String,
    /// Display name.
    pub name: String,
    /// E-mail address (ID E-mail1), the key to the mailbox.
    pub email: Option<String>,
    /// "Enable Connector settings".
    pub connector_enabled: bool,
    /// "Synchronize e-mails".
    pub sync_emails: bool,
    /// "Synchronize appointments".
    pub sync_appointments: bool,
    /// Tasks.
    pub sync_tasks: bool,
    /// Contacts.
    pub sync_contacts: bool,
    /// Absences.
    pub sync_absences: bool,
    /// Language (for texts written into CRM), e.g. `de`.
    pub language: Option<String>,
    /// `UserSettings` XML, when set.
    pub user_settings: Option<String>,
}

impl Rep {
    /// The documented rule: connector enabled, at least e-mails or appointments, and an
    /// e-mail address.
    pub fn is_enabled_for_sync(&self) -> bool {
        self.connector_enabled
            && (self.sync_emails || self.sync_appointments)
            && self.email.is_some()
    }
}

impl CrmSession<'_> {
    fn rep_from(&self, r: &Record) -> Result<Rep, CrmError> {
        let d = &self.dialect().rep;
        let b = |f: &str| r.get(f).is_some_and(|v| self.dialect().parse_bool(v));
        let connector_enabled = b(&d.connector_enabled);
        // An installation without a separate flag for a kind (`""`): the kind follows
        // "Enable Connector settings".
        let flag = |f: &str| {
            if f.is_empty() {
                connector_enabled
            } else {
                b(f)
            }
        };
        Ok(Rep {
            id: need_id(r)?,
            rep_id: r.get(&d.rep_id).unwrap_or_default().trim().to_owned(),
            name: r.get(&d.name).unwrap_or_default().to_owned(),
            email: non_empty(r.get(&d.email)).map(|e| e.to_ascii_lowercase()),
            connector_enabled,
            sync_emails: b(&d.sync_emails),
            sync_appointments: b(&d.sync_appointments),
            sync_tasks: flag(&d.sync_tasks),
            sync_contacts: flag(&d.sync_contacts),
            sync_absences: flag(&d.sync_absences),
            language: non_empty(r.get(&d.language)),
            user_settings: non_empty(r.get(&d.user_settings)),
        })
    }

    fn rep_query(&self, condition: Option<Condition>) -> Query {
        let d = &self.dialect().rep;
        Query {
            table: TableSpec::new(&d.table),
            condition,
            fields: vec![FieldList {
                tablename: d.table.clone(),
                fields: vec![
                    d.rep_id.clone(),
                    d.name.clone(),
                    d.email.clone(),
                    d.connector_enabled.clone(),
                    d.sync_emails.clone(),
                    d.sync_appointments.clone(),
                    d.sync_tasks.clone(),
                    d.sync_contacts.clone(),
                    d.sync_absences.clone(),
                    d.language.clone(),
                    d.user_settings.clone(),
                ],
            }],
            max_records: None,
            catalogs: CatalogMode::Text,
        }
    }

    /// All reps.
    pub async fn reps(&self) -> Result<Vec<Rep>, CrmError> {
        let recs = self.query(self.rep_query(None)).await?;
        recs.iter().map(|r| self.rep_from(r)).collect()
    }

    /// Reps selected for synchronisation ("Enable Connector settings" plus e-mails or
    /// appointments, with an e-mail address).
    pub async fn enabled_reps(&self) -> Result<Vec<Rep>, CrmError> {
        let d = self.dialect();
        let cond = Condition::cond(
            &d.rep.table,
            &d.rep.connector_enabled,
            Op::Eq,
            d.true_value.clone(),
        );
        let recs = self.query(self.rep_query(Some(cond))).await?;
        let reps: Result<Vec<Rep>, CrmError> = recs.iter().map(|r| self.rep_from(r)).collect();
        Ok(reps?.into_iter().filter(Rep::is_enabled_for_sync).collect())
    }

    /// Reps by e-mail address (colleagues among the participants), in one request.
    pub async fn reps_by_emails(&self, emails: &[String]) -> Result<Vec<Rep>, CrmError> {
        let d = self.dialect();
        let qs: Vec<Query> = lower_unique(emails)
            .chunks(ADDRESSES_PER_QUERY)
            .map(|chunk| {
                let conds = chunk
                    .iter()
                    .map(|e| Condition::cond(&d.rep.table, &d.rep.email, Op::Eq, e.clone()))
                    .collect();
                self.rep_query(Some(Condition::or(conds)))
            })
            .collect();
        if qs.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for recs in self.queries(qs).await? {
            for r in &recs {
                out.push(self.rep_from(r)?);
            }
        }
        Ok(out)
    }
}
