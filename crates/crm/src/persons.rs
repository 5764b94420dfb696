//! The persons (KP) a rep works with, with their companies (FI): what the contacts kind copies
//! into the rep's Outlook contacts. Two rules select them: the persons of the companies whose
//! responsible rep is the rep (`[crm.dialect.company] rep_id`), and the persons of the rep's
//! recent activities (linked to the activity or among its participants). All names come from
//! the [`Dialect`](crate::dialect::Dialect); empty optional names are neither asked for nor
//! read. The update stamps of companies and persons (`[crm.dialect.company] updated`,
//! `[crm.dialect.person] updated`) are read with the first rule and, for every rep at once,
//! by the contacts' idle check ([`CrmSession::rep_company_stamps`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{ActivityFilter, id_condition};
use crate::client::CrmSession;
use crate::codec::{CatalogMode, Condition, FieldList, Op, Query, Record, TableSpec};
use crate::error::CrmError;
use gc_ids::CrmId;

/// How many ids one query command carries.
const IDS_PER_QUERY: usize = 25;

/// A company (FI) as a contact shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmCompany {
    pub id: CrmId,
    pub name: String,
    pub street: String,
    pub zip_code: String,
    pub city: String,
    pub country: String,
    pub phone: String,
}

/// A person (KP) with what a contact shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmPerson {
    pub id: CrmId,
    pub first_name: String,
    pub last_name: String,
    /// Non-empty addresses, in the order of `[crm.dialect.person] emails`.
    pub emails: Vec<String>,
    pub job_title: String,
    pub phone: String,
    pub mobile_phone: String,
    /// The person's company, when linked.
    pub company: Option<CrmCompany>,
}

/// A company of a rep's responsible-companies rule as the contacts' idle check compares it:
/// its id and update stamp, and those of its persons (sorted by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyStamps {
    /// The responsible rep's number.
    pub rep_id: String,
    pub id: CrmId,
    pub updated: String,
    pub persons: Vec<(CrmId, String)>,
}

fn text(r: &Record, field: &str) -> String {
    if field.is_empty() {
        return String::new();
    }
    r.get(field).unwrap_or_default().trim().to_owned()
}

fn named(fields: &[&String]) -> Vec<String> {
    fields
        .iter()
        .filter(|f| !f.is_empty())
        .map(|f| (*f).clone())
        .collect()
}

impl CrmSession<'_> {
    fn person_fields(&self) -> Vec<String> {
        let d = &self.dialect().person;
        let mut v = named(&[&d.first_name, &d.last_name, &d.job_title, &d.phone]);
        v.extend(named(&[&d.mobile_phone]));
        v.extend(d.emails.iter().filter(|e| !e.is_empty()).cloned());
        v
    }

    fn company_fields(&self) -> Vec<String> {
        let d = &self.dialect().company;
        named(&[
            &d.name,
            &d.street,
            &d.zip_code,
            &d.city,
            &d.country,
            &d.phone,
        ])
    }

    fn person_from(&self, r: &Record, company: Option<CrmCompany>) -> Result<CrmPerson, CrmError> {
        let d = &self.dialect().person;
        let id = r.id.ok_or_else(|| {
            CrmError::MalformedResponse(format!("<{}> record without id", r.table))
        })?;
        Ok(CrmPerson {
            id,
            first_name: text(r, &d.first_name),
            last_name: text(r, &d.last_name),
            emails: d
                .emails
                .iter()
                .map(|f| text(r, f))
                .filter(|e| !e.is_empty())
                .collect(),
            job_title: text(r, &d.job_title),
            phone: text(r, &d.phone),
            mobile_phone: text(r, &d.mobile_phone),
            company,
        })
    }

    fn company_from(&self, r: &Record) -> Result<CrmCompany, CrmError> {
        let d = &self.dialect().company;
        let id = r.id.ok_or_else(|| {
            CrmError::MalformedResponse(format!("<{}> record without id", r.table))
        })?;
        Ok(CrmCompany {
            id,
            name: text(r, &d.name),
            street: text(r, &d.street),
            zip_code: text(r, &d.zip_code),
            city: text(r, &d.city),
            country: text(r, &d.country),
            phone: text(r, &d.phone),
        })
    }

    /// The persons of the companies whose responsible rep is `rep_number`, in one request
    /// (companies with their persons nested), and what the contacts' idle check compares:
    /// the companies' and persons' ids and update stamps (`None` when the dialect names no
    /// stamp). Empty when the dialect names no rep field.
    pub async fn persons_of_rep_companies(
        &self,
        rep_number: &str,
    ) -> Result<(Vec<CrmPerson>, Option<Vec<CompanyStamps>>), CrmError> {
        let dl = self.dialect();
        let (c, p) = (&dl.company, &dl.person);
        let stamped = self.selection_stamped();
        if c.rep_id.is_empty() || rep_number.trim().is_empty() {
            return Ok((Vec::new(), stamped.then(Vec::new)));
        }
        let mut company_fields = self.company_fields();
        let mut person_fields = self.person_fields();
        if stamped {
            company_fields.push(c.updated.clone());
            person_fields.push(p.updated.clone());
        }
        let q = self.rep_companies_query(
            Condition::cond(&c.table, &c.rep_id, Op::Eq, rep_number),
            company_fields,
            person_fields,
        );
        let mut out = Vec::new();
        let mut stamps = Vec::new();
        for company in &self.query(q).await? {
            let co = self.company_from(company)?;
            for person in company.children.iter().filter(|r| r.table == p.table) {
                out.push(self.person_from(person, Some(co.clone()))?);
            }
            stamps.push(self.company_stamps(rep_number, company)?);
        }
        Ok((out, stamped.then_some(stamps)))
    }

    /// The contacts' idle check: the companies of every one of `reps` (rep numbers) with
    /// their persons, ids and update stamps only, in one request (a query per
    /// [`crate::changes::REPS_PER_QUERY`] reps). `Ok(None)` when the dialect names no rep
    /// field or no stamp (changes cannot be told then).
    pub async fn rep_company_stamps(
        &self,
        reps: &[String],
    ) -> Result<Option<Vec<CompanyStamps>>, CrmError> {
        let dl = self.dialect();
        let (c, p) = (&dl.company, &dl.person);
        if c.rep_id.is_empty() || !self.selection_stamped() {
            return Ok(None);
        }
        if reps.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let queries = reps
            .chunks(crate::changes::REPS_PER_QUERY)
            .map(|chunk| {
                self.rep_companies_query(
                    Condition::or(
                        chunk
                            .iter()
                            .map(|r| Condition::cond(&c.table, &c.rep_id, Op::Eq, r.clone()))
                            .collect(),
                    ),
                    vec![c.rep_id.clone(), c.updated.clone()],
                    vec![p.updated.clone()],
                )
            })
            .collect();
        let mut out = Vec::new();
        for company in self.queries(queries).await?.iter().flatten() {
            let rep = text(company, &c.rep_id);
            out.push(self.company_stamps(&rep, company)?);
        }
        Ok(Some(out))
    }

    /// Whether the dialect names the stamps of companies and persons.
    fn selection_stamped(&self) -> bool {
        let dl = self.dialect();
        !dl.company.updated.is_empty() && !dl.person.updated.is_empty()
    }

    /// Companies matching `condition` with their persons nested.
    fn rep_companies_query(
        &self,
        condition: Condition,
        company_fields: Vec<String>,
        person_fields: Vec<String>,
    ) -> Query {
        let dl = self.dialect();
        let (c, p) = (&dl.company, &dl.person);
        Query {
            table: TableSpec::new(&c.table).with_child(TableSpec::new(&p.table)),
            condition: Some(condition),
            fields: vec![
                FieldList {
                    tablename: c.table.clone(),
                    fields: company_fields,
                },
                FieldList {
                    tablename: p.table.clone(),
                    fields: person_fields,
                },
            ],
            max_records: None,
            catalogs: CatalogMode::Text,
        }
    }

    fn company_stamps(&self, rep: &str, company: &Record) -> Result<CompanyStamps, CrmError> {
        let dl = self.dialect();
        let (c, p) = (&dl.company, &dl.person);
        let id = |r: &Record| {
            r.id.ok_or_else(|| {
                CrmError::MalformedResponse(format!("<{}> record without id", r.table))
            })
        };
        let mut persons = company
            .children
            .iter()
            .filter(|r| r.table == p.table)
            .map(|r| Ok((id(r)?, text(r, &p.updated))))
            .collect::<Result<Vec<_>, CrmError>>()?;
        persons.sort();
        Ok(CompanyStamps {
            rep_id: rep.trim().to_owned(),
            id: id(company)?,
            updated: text(company, &c.updated),
            persons,
        })
    }

    /// The persons of the activities of rep `rep_number` dated in `[from, to]`: the activity's
    /// own person link and every participant that is a person.
    pub async fn persons_of_rep_activities(
        &self,
        rep_number: &str,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<BTreeSet<CrmId>, CrmError> {
        let acts = self
            .activities(&ActivityFilter {
                from,
                to,
                rep_id: Some(rep_number.to_owned()),
                condition: None,
                fields: Vec::new(),
                with_participants: true,
                max_records: None,
            })
            .await?;
        let mut ids = BTreeSet::new();
        for a in acts {
            ids.extend(a.person);
            ids.extend(a.participants.iter().filter_map(|p| p.person));
        }
        Ok(ids)
    }

    /// Persons by id, with their companies (two requests at most); ids that do not exist
    /// (or were deleted) are simply absent.
    pub async fn persons_by_ids(&self, ids: &[CrmId]) -> Result<Vec<CrmPerson>, CrmError> {
        let dl = self.dialect();
        let p = &dl.person;
        let persons = self
            .records_by_ids(&p.table, ids, self.person_fields())
            .await?;
        let company_ids: BTreeSet<CrmId> = persons
            .iter()
            .filter_map(|r| r.link(&dl.company.table))
            .collect();
        let ids: Vec<CrmId> = company_ids.into_iter().collect();
        let mut companies = BTreeMap::new();
        for r in self
            .records_by_ids(&dl.company.table, &ids, self.company_fields())
            .await?
        {
            let c = self.company_from(&r)?;
            companies.insert(c.id, c);
        }
        persons
            .iter()
            .map(|r| {
                let co = r
                    .link(&dl.company.table)
                    .and_then(|id| companies.get(&id).cloned());
                self.person_from(r, co)
            })
            .collect()
    }

    async fn records_by_ids(
        &self,
        table: &str,
        ids: &[CrmId],
        fields: Vec<String>,
    ) -> Result<Vec<Record>, CrmError> {
        let qs: Vec<Query> = ids
            .chunks(IDS_PER_QUERY)
            .map(|chunk| {
                Query::on(
                    table,
                    Some(Condition::or(
                        chunk.iter().map(|id| id_condition(table, *id)).collect(),
                    )),
                    fields.clone(),
                )
            })
            .collect();
        if qs.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.queries(qs).await?.into_iter().flatten().collect())
    }
}
