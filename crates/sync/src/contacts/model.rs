//! What the contacts kind works with: its rules, the changes its CRM source yields, and the
//! Graph contact a CRM person becomes.

use gc_crm::CrmPerson;
use gc_store::{CrmId, Link};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The single-value extended property that marks a contact as the connector's and carries the
/// CRM person id (MAPI named property in the public-strings set, as for the other kinds).
pub const PERSON_PROPERTY: &str = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmPersonId";

/// The "Content Type (groupware)" of a person's external key, as the EWS connector wrote it
/// for the contacts it kept (what adoption after a migration reads).
pub const CONTENT_TYPE: &str = "text/x-mmPerson";

/// Where the persons go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactTarget {
    /// A dedicated contact folder of this name (created when missing).
    Folder(String),
    /// The default Contacts folder, each contact carrying this category (created in the
    /// mailbox's master list when missing).
    Category(String),
}

/// The `[contacts]` rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRules {
    /// Where the persons go.
    pub target: ContactTarget,
    /// Select the persons of the companies whose responsible rep is the rep.
    pub responsible_companies: bool,
    /// Also select the persons of the rep's activities of the last N days (0: not).
    pub activity_days: u32,
}

impl Default for ContactRules {
    fn default() -> Self {
        ContactRules {
            target: ContactTarget::Folder("CRM".into()),
            responsible_companies: true,
            activity_days: 90,
        }
    }
}

/// One change of the CRM source.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactChange {
    /// A person in the rep's selection.
    Person(CrmPerson),
    /// A linked person the selection no longer holds (left it, or deleted in CRM).
    Gone(Link),
}

/// The link key of a person's contact.
pub fn item_key(person: CrmId) -> String {
    format!("person:{person}")
}

fn opt(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

/// The Graph contact a person becomes: name, company, job title, up to three e-mail
/// addresses (Outlook's limit), phones, the company's address as the business address, the
/// person id in [`PERSON_PROPERTY`], and the category when the target is one. Every field the
/// connector owns is always written (empty ones as `null`), so a PATCH with this body clears
/// what CRM cleared.
pub fn contact_body(p: &CrmPerson, category: Option<&str>) -> Value {
    let name = format!("{} {}", p.first_name, p.last_name)
        .trim()
        .to_owned();
    let emails: Vec<Value> = p
        .emails
        .iter()
        .take(3)
        .map(|e| json!({"address": e, "name": name}))
        .collect();
    let company = p.company.as_ref();
    let address = company.map_or(Value::Null, |c| {
        json!({
            "street": c.street,
            "postalCode": c.zip_code,
            "city": c.city,
            "countryOrRegion": c.country,
        })
    });
    let mut phones: Vec<&str> = Vec::new();
    if !p.phone.is_empty() {
        phones.push(&p.phone);
    }
    if let Some(c) = company
        && !c.phone.is_empty()
        && c.phone != p.phone
    {
        phones.push(&c.phone);
    }
    json!({
        "givenName": opt(&p.first_name),
        "surname": opt(&p.last_name),
        "displayName": name,
        "companyName": company.map_or(Value::Null, |c| opt(&c.name)),
        "jobTitle": opt(&p.job_title),
        "emailAddresses": emails,
        "businessPhones": phones,
        "mobilePhone": opt(&p.mobile_phone),
        "businessAddress": address,
        "categories": category.map_or_else(Vec::new, |c| vec![c.to_owned()]),
        "singleValueExtendedProperties": [
            {"id": PERSON_PROPERTY, "value": p.id.to_string()}
        ],
    })
}

/// The hash of what the connector last wrote (kept as the link's `crm_hash`): a person whose
/// contact would be written the same is not written again.
pub fn body_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// The person's name for the ledger.
pub fn display(p: &CrmPerson) -> String {
    let n = format!("{} {}", p.first_name, p.last_name)
        .trim()
        .to_owned();
    if n.is_empty() { p.id.to_string() } else { n }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use gc_crm::CrmCompany;

    fn person() -> CrmPerson {
        CrmPerson {
            id: CrmId(7),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            emails: vec![
                "a@x.example".into(),
                "b@x.example".into(),
                "c@x.example".into(),
                "d@x.example".into(),
            ],
            job_title: "Engineer".into(),
            phone: "+43 1".into(),
            mobile_phone: String::new(),
            company: Some(CrmCompany {
                id: CrmId(9),
                name: "Analytical Engines".into(),
                street: "Main St 1".into(),
                zip_code: "1010".into(),
                city: "Vienna".into(),
                country: "AT".into(),
                phone: "+43 2".into(),
            }),
        }
    }

    #[test]
    fn a_person_becomes_a_marked_contact() {
        let b = contact_body(&person(), Some("CRM"));
        assert_eq!(b["displayName"], "Ada Lovelace");
        assert_eq!(b["companyName"], "Analytical Engines");
        assert_eq!(
            b["emailAddresses"].as_array().unwrap().len(),
            3,
            "Outlook keeps three"
        );
        assert_eq!(b["businessPhones"], json!(["+43 1", "+43 2"]));
        assert_eq!(b["mobilePhone"], Value::Null, "cleared, not left as it was");
        assert_eq!(b["businessAddress"]["city"], "Vienna");
        assert_eq!(b["categories"], json!(["CRM"]));
        assert_eq!(b["singleValueExtendedProperties"][0]["value"], "7");
        assert_eq!(contact_body(&person(), None)["categories"], json!([]));
    }

    #[test]
    fn the_hash_follows_the_content() {
        let a = body_hash(&contact_body(&person(), None));
        assert_eq!(a, body_hash(&contact_body(&person(), None)));
        let mut p = person();
        p.job_title = "Countess".into();
        assert_ne!(a, body_hash(&contact_body(&p, None)));
        assert_ne!(a, body_hash(&contact_body(&person(), Some("CRM"))));
    }
}
