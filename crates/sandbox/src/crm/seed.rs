//! Seed data of the CRM sandbox, consistent with the Microsoft 365 side's [`Directory`].
//!
//! - Reps (ID) for the tenant members: most enabled for the connector, every fourth not;
//!   the member without a mailbox is enabled (so `check` can report it); one extra enabled
//!   rep has an address outside the managed domain.
//! - Companies (FI) for the directory's companies plus one that never appears in mail.
//! - Persons (KP): the guests and four of every five externals (the fifth is missing from
//!   CRM, so it ends up in the missing-participants text), one duplicate e-mail address
//!   (MULTI_CHOICE case), and CRM-only persons.
//! - Catalogs, optionally without some required values.
//! - Legacy activities with participants and external keys, as the previous EWS connector
//!   left them (ExtSystem `SyncML`), for adoption tests.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::db::Db;
use crate::people::{Directory, PersonKind};

/// Values of the required catalogs (SPEC §3).
pub const CONTENT_TYPES: &[&str] = &[
    "application/x-mmRecord",
    "text/x-mmAbsences",
    "text/x-mmPerson",
    "text/x-mmTasks",
    "text/x-vevent",
];
/// Values of "Ext. System (Rep)".
pub const EXT_SYSTEMS: &[&str] = &["marketing.manager", "GraphApi", "SyncML"];
/// What [`super::CrmOptions::omit_required_catalog_values`] leaves out.
pub const OMITTED_WHEN_INCOMPLETE: &[(&str, &str)] = &[
    ("Content Type (groupware)", "text/x-mmTasks"),
    ("Ext. System (Rep)", "GraphApi"),
];

const ACTIVITY_TYPES: &[(u32, &str)] = &[
    (1, "E-mail"),
    (2, "Telephone"),
    (3, "Meeting"),
    (4, "Visit"),
    (5, "Info"),
    (6, "Letter"),
];
const SHOW_AS: &[(u32, &str)] = &[
    (0, "Free"),
    (1, "Tentative"),
    (2, "Busy"),
    (3, "Out of Office"),
    (4, "Working elsewhere"),
];

/// The domain of the rep whose address is outside the managed domain.
pub const OUTSIDE_DOMAIN: &str = "legacy-contoso.example";

/// A groupware item the previous connector synchronised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyItem {
    /// Mailbox (rep e-mail) that owns the item.
    pub mailbox: String,
    /// `text/x-vevent` (appointment) or `application/x-mmRecord` (e-mail).
    pub content_type: String,
    /// The groupware key stored in XK (iCalUId for events, internetMessageId for mail, or the
    /// EWS connector's EWS item id or hex entry id); empty: the record has no external key.
    pub ext_key: String,
    pub subject: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM`.
    pub time: String,
    /// Participant addresses.
    pub attendees: Vec<String>,
}

/// A record of the kinds CRM writes into Microsoft 365 (persons, absences, tasks) whose item
/// the previous connector kept there, with the external key it left (`ext_key` empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRecord {
    /// Mailbox (rep e-mail) the item is in.
    pub mailbox: String,
    /// The EWS id or hex entry id of the item; empty: the record has no external key.
    pub ext_key: String,
    pub target: LegacyTarget,
}

/// The CRM record of a [`LegacyRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyTarget {
    /// An existing person of the seed, by its address (`text/x-mmPerson`).
    Person { email: String },
    /// A new all-day absence of the rep, `YYYY-MM-DD` to `YYYY-MM-DD` (`text/x-mmAbsences`).
    Absence {
        start: String,
        end: String,
        kind: String,
    },
    /// A new task of the rep (`text/x-mmTasks`).
    Task { subject: String, due: String },
}

impl LegacyTarget {
    /// The content type of the record's external key.
    pub fn content_type(&self) -> &'static str {
        match self {
            LegacyTarget::Person { .. } => "text/x-mmPerson",
            LegacyTarget::Absence { .. } => "text/x-mmAbsences",
            LegacyTarget::Task { .. } => "text/x-mmTasks",
        }
    }
}

fn f(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn b(v: bool) -> String {
    if v { "true".into() } else { "false".into() }
}

pub(crate) async fn seed(
    db: &Db,
    dir: &Directory,
    seed: u64,
    omit_required: bool,
    legacy: &[LegacyItem],
    records: &[LegacyRecord],
    own_system: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x0c12_5eed);

    // catalogs
    for (code, text) in ACTIVITY_TYPES {
        db.add_catalog_value("Activity Type", text, Some(*code))
            .await?;
    }
    for (code, text) in SHOW_AS {
        db.add_catalog_value("ShowAs", text, Some(*code)).await?;
    }
    for (cat, values) in [
        ("Content Type (groupware)", CONTENT_TYPES),
        ("Ext. System (Rep)", EXT_SYSTEMS),
    ] {
        for v in values {
            if omit_required && OMITTED_WHEN_INCOMPLETE.contains(&(cat, *v)) {
                continue;
            }
            // an installation whose connector writes another value for itself
            let v = match own_system {
                Some(own) if *v == "GraphApi" => own,
                _ => v,
            };
            db.add_catalog_value(cat, v, None).await?;
        }
    }

    // reps
    let members: Vec<_> = dir
        .users
        .iter()
        .filter(|p| matches!(p.kind, PersonKind::Member { .. }))
        .collect();
    let mut rep_ids = BTreeMap::new();
    for (i, p) in members.iter().enumerate() {
        let enabled = !p.has_mailbox() || i % 4 != 3;
        let rep_id = format!("{}", 100 + i);
        let id = db
            .insert(
                1,
                "Rep",
                &f(&[
                    ("RepID", rep_id.clone()),
                    ("Name", p.display_name.clone()),
                    ("EMail1", p.email.clone()),
                    ("ConnectorEnabled", b(enabled)),
                    ("SyncEmails", b(enabled)),
                    ("SyncAppointments", b(enabled)),
                    ("SyncTasks", b(enabled && i % 2 == 0)),
                    ("SyncContacts", b(enabled)),
                    ("SyncAbsences", b(enabled && i % 3 == 0)),
                    (
                        "Language",
                        if i % 2 == 0 { "en".into() } else { "de".into() },
                    ),
                ]),
                &[],
            )
            .await?;
        rep_ids.insert(p.email.to_ascii_lowercase(), (id, rep_id));
    }
    db.insert(
        1,
        "Rep",
        &f(&[
            ("RepID", "199".into()),
            ("Name", "Olaf Outside".into()),
            ("EMail1", format!("olaf.outside@{OUTSIDE_DOMAIN}")),
            ("ConnectorEnabled", b(true)),
            ("SyncEmails", b(true)),
            ("SyncAppointments", b(true)),
            ("Language", "de".into()),
        ]),
        &[],
    )
    .await?;

    // tasks (A1) and absences (A3) of enabled reps, CRM → Microsoft 365
    for (i, p) in members.iter().enumerate() {
        let enabled = !p.has_mailbox() || i % 4 != 3;
        if !enabled {
            continue;
        }
        let rep_id = format!("{}", 100 + i);
        for k in 0..2u32 {
            let due = 24 + rng.random_range(0..10u32) + k;
            let (month, day) = if due > 30 { (12, due - 30) } else { (11, due) };
            db.insert(
                1,
                "Tasks",
                &f(&[
                    ("RepID", rep_id.clone()),
                    (
                        "Subject",
                        format!("Follow up offer {}", 500 + i as u32 * 10 + k),
                    ),
                    ("Text", "Call back and confirm the delivery date.".into()),
                    ("StartDate", "2026-11-23".into()),
                    ("DueDate", format!("2026-{month:02}-{day:02}")),
                    (
                        "Status",
                        if k == 0 {
                            "Open".into()
                        } else {
                            "In progress".into()
                        },
                    ),
                    (
                        "Priority",
                        if k == 0 {
                            "High".into()
                        } else {
                            "Normal".into()
                        },
                    ),
                    (
                        "PercentComplete",
                        if k == 0 { "0".into() } else { "50".into() },
                    ),
                ]),
                &[],
            )
            .await?;
        }
        if i % 3 == 0 {
            db.insert(
                1,
                "Absences",
                &f(&[
                    ("RepID", rep_id.clone()),
                    ("StartDate", "2026-12-01".into()),
                    ("StartTime", "00:00".into()),
                    ("EndDate", "2026-12-04".into()),
                    ("EndTime", "23:59".into()),
                    ("Type", "Vacation".into()),
                    ("Text", "Annual leave".into()),
                ]),
                &[],
            )
            .await?;
        }
    }

    // companies
    let mut company_ids = Vec::new();
    for (i, c) in dir.companies.iter().enumerate() {
        // the responsible rep (the contacts kind selects the persons of the rep's companies)
        let responsible = format!("{}", 100 + i % members.len().max(1));
        let id = db
            .insert(
                1,
                "Company",
                &f(&[
                    ("Company", c.name.clone()),
                    ("EMail", format!("info@{}", c.domain)),
                    ("City", c.city.clone()),
                    ("Country", c.country.clone()),
                    ("Phone", c.phone.clone()),
                    ("RepID", responsible),
                ]),
                &[],
            )
            .await?;
        company_ids.push(id);
    }
    let crm_only = db
        .insert(
            1,
            "Company",
            &f(&[
                ("Company", "Northwind Traders".into()),
                ("EMail", "office@northwind.example".into()),
                ("Country", "US".into()),
            ]),
            &[],
        )
        .await?;

    // persons
    let mut person_ids = BTreeMap::new();
    let people = dir.crm_persons();
    for p in people {
        let links: Vec<(String, u64)> = p
            .company
            .and_then(|c| company_ids.get(c))
            .map(|id| vec![("Company".to_owned(), *id)])
            .unwrap_or_default();
        let id = db
            .insert(
                1,
                "Person",
                &f(&[
                    ("FirstName", p.given_name.clone()),
                    ("LastName", p.surname.clone()),
                    ("EMail1", p.email.clone()),
                    ("Phone", p.mobile_phone.clone()),
                    ("JobTitle", p.job_title.clone()),
                ]),
                &links,
            )
            .await?;
        person_ids.insert(p.email.to_ascii_lowercase(), id);
    }
    // the tenant's own company with person records of the first two members (Aurea keeps a
    // KP record for reps, "use FI/KP from rep"); a lookup by their address finds both the rep
    // and this person
    let own = db
        .insert(
            1,
            "Company",
            &f(&[
                ("Company", "Contoso (own company)".into()),
                ("EMail", format!("info@{}", dir.domain)),
            ]),
            &[],
        )
        .await?;
    for p in members.iter().take(2) {
        db.insert(
            1,
            "Person",
            &f(&[
                ("FirstName", p.given_name.clone()),
                ("LastName", p.surname.clone()),
                ("EMail1", p.email.clone()),
                ("JobTitle", p.job_title.clone()),
            ]),
            &[("Company".to_owned(), own)],
        )
        .await?;
    }

    // a second person with the address of an existing one (300 MULTI_CHOICE for lookups)
    if let Some(p) = dir.externals.get(1) {
        let links: Vec<(String, u64)> = p
            .company
            .and_then(|c| company_ids.get(c))
            .map(|id| vec![("Company".to_owned(), *id)])
            .unwrap_or_default();
        db.insert(
            1,
            "Person",
            &f(&[
                ("FirstName", p.given_name.clone()),
                ("LastName", format!("{} (old)", p.surname)),
                ("EMail2", p.email.clone()),
            ]),
            &links,
        )
        .await?;
    }
    for (first, last) in [
        ("Nancy", "Davolio"),
        ("Andrew", "Fuller"),
        ("Janet", "Leverling"),
    ] {
        db.insert(
            1,
            "Person",
            &f(&[
                ("FirstName", first.into()),
                ("LastName", last.into()),
                (
                    "EMail1",
                    format!(
                        "{}.{}@northwind.example",
                        first.to_ascii_lowercase(),
                        last.to_ascii_lowercase()
                    ),
                ),
            ]),
            &[("Company".to_owned(), crm_only)],
        )
        .await?;
    }

    // legacy activities and external keys
    let generated;
    let legacy = if legacy.is_empty() {
        generated = generate_legacy(dir, &mut rng);
        &generated[..]
    } else {
        legacy
    };
    for item in legacy {
        let Some((rep_rec, rep_id)) = rep_ids.get(&item.mailbox.to_ascii_lowercase()) else {
            continue;
        };
        let is_mail = item.content_type == "application/x-mmRecord";
        let mut links = Vec::new();
        let first_person = item
            .attendees
            .iter()
            .find_map(|a| person_ids.get(&a.to_ascii_lowercase()));
        if let Some(pid) = first_person {
            links.push(("Person".to_owned(), *pid));
        }
        let ma = db
            .insert(
                1,
                "Contact",
                &f(&[
                    ("Contact", if is_mail { "1".into() } else { "3".into() }),
                    ("Subject", item.subject.clone()),
                    ("Date", item.date.clone()),
                    ("Time", item.time.clone()),
                    ("RepID", rep_id.clone()),
                    ("ShowAs", "2".into()),
                    ("ConnectorDeleted", b(false)),
                ]),
                &links,
            )
            .await?;
        for a in &item.attendees {
            let mut plinks = vec![("Contact".to_owned(), ma)];
            if let Some(pid) = person_ids.get(&a.to_ascii_lowercase()) {
                plinks.push(("Person".to_owned(), *pid));
            } else if let Some((rid, _)) = rep_ids.get(&a.to_ascii_lowercase()) {
                plinks.push(("Rep".to_owned(), *rid));
            }
            db.insert(
                1,
                "Participant",
                &f(&[
                    ("EMail", a.to_ascii_lowercase()),
                    ("Role", "required".into()),
                ]),
                &plinks,
            )
            .await?;
        }
        let _ = rep_rec;
        let ext_system = db
            .catalog("Ext. System (Rep)")
            .await?
            .into_iter()
            .find(|e| e.text == "SyncML")
            .map(|e| e.code);
        let content = db
            .catalog("Content Type (groupware)")
            .await?
            .into_iter()
            .find(|e| e.text == item.content_type)
            .map(|e| e.code);
        // An empty key: a record the previous connector left without one (found by content).
        if let (Some(sys), Some(ct), false) = (ext_system, content, item.ext_key.is_empty()) {
            db.insert(
                1,
                "ExternalKey",
                &f(&[
                    ("ExtSystem", sys.to_string()),
                    ("ContentType", ct.to_string()),
                    ("ExtKey", item.ext_key.clone()),
                    ("Mailbox", item.mailbox.to_ascii_lowercase()),
                ]),
                &[("Contact".to_owned(), ma)],
            )
            .await?;
        }
    }

    // persons, absences and tasks whose items the previous connector kept in Microsoft 365
    for r in records {
        let Some((_, rep_id)) = rep_ids.get(&r.mailbox.to_ascii_lowercase()) else {
            continue;
        };
        let (table, id) = match &r.target {
            LegacyTarget::Person { email } => {
                let Some(id) = person_ids.get(&email.to_ascii_lowercase()) else {
                    continue;
                };
                ("Person", *id)
            }
            LegacyTarget::Absence { start, end, kind } => {
                let fields = f(&[
                    ("RepID", rep_id.clone()),
                    ("StartDate", start.clone()),
                    ("StartTime", "00:00".into()),
                    ("EndDate", end.clone()),
                    ("EndTime", "23:59".into()),
                    ("Type", kind.clone()),
                    ("Text", "Kept by the previous connector".into()),
                ]);
                ("Absences", db.insert(1, "Absences", &fields, &[]).await?)
            }
            LegacyTarget::Task { subject, due } => {
                let fields = f(&[
                    ("RepID", rep_id.clone()),
                    ("Subject", subject.clone()),
                    ("Text", "Kept by the previous connector.".into()),
                    ("DueDate", due.clone()),
                    ("Status", "Open".into()),
                    ("Priority", "Normal".into()),
                    ("PercentComplete", "0".into()),
                ]);
                ("Tasks", db.insert(1, "Tasks", &fields, &[]).await?)
            }
        };
        if r.ext_key.is_empty() {
            continue;
        }
        let code = |cat: &'static str, text: &'static str| async move {
            Ok::<_, sqlx::Error>(
                db.catalog(cat)
                    .await?
                    .into_iter()
                    .find(|e| e.text == text)
                    .map(|e| e.code),
            )
        };
        let (Some(sys), Some(ct)) = (
            code("Ext. System (Rep)", "SyncML").await?,
            code("Content Type (groupware)", r.target.content_type()).await?,
        ) else {
            continue;
        };
        db.insert(
            1,
            "ExternalKey",
            &f(&[
                ("ExtSystem", sys.to_string()),
                ("ContentType", ct.to_string()),
                ("ExtKey", r.ext_key.clone()),
                ("Mailbox", r.mailbox.to_ascii_lowercase()),
            ]),
            &[(table.to_owned(), id)],
        )
        .await?;
    }
    Ok(())
}

/// Synthetic legacy items when the Microsoft 365 side does not supply real ones: two
/// appointments and one e-mail per enabled mailbox user, dated around 2026-11-27.
fn generate_legacy(dir: &Directory, rng: &mut ChaCha20Rng) -> Vec<LegacyItem> {
    let mut out = Vec::new();
    let externals: Vec<&str> = dir.externals.iter().map(|p| p.email.as_str()).collect();
    for (i, u) in dir.mailbox_users().enumerate().take(4) {
        for k in 0..3 {
            let day = 20 + rng.random_range(0..14u32);
            let (month, day) = if day > 30 { (12, day - 30) } else { (11, day) };
            let other = externals
                .get((i * 3 + k) % externals.len().max(1))
                .copied()
                .unwrap_or_default();
            let is_mail = k == 2;
            let token: u64 = rng.random();
            out.push(LegacyItem {
                mailbox: u.email.clone(),
                content_type: if is_mail {
                    "application/x-mmRecord".into()
                } else {
                    "text/x-vevent".into()
                },
                ext_key: if is_mail {
                    format!("<{token:016x}@{}>", dir.domain)
                } else {
                    format!("040000008200E00074C5B7101A82E008{token:032X}")
                },
                subject: if is_mail {
                    format!("Re: offer {}", 1000 + i * 10 + k)
                } else {
                    format!("Review meeting {}", i * 10 + k)
                },
                date: format!("2026-{month:02}-{day:02}"),
                time: format!("{:02}:00", 9 + k),
                attendees: vec![u.email.clone(), other.to_owned()],
            });
        }
    }
    out
}
