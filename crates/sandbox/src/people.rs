//! The deterministic directory of the sandbox tenant.
//!
//! Both halves of the sandbox (the Microsoft 365 side and the CRM side) build their data from the
//! same [`Directory`], so that a rep in CRM has a mailbox in the tenant and the external people who
//! write to the reps exist as persons of companies in CRM. Everything is derived from the seed
//! with ChaCha, so the same seed always gives the same tenant.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::HashSet;

/// The people and companies of one sandbox tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// The managed (tenant) domain, e.g. `contoso.example`.
    pub domain: String,
    /// Tenant users: members first (exactly one of them without a mailbox), then a few guests.
    pub users: Vec<Person>,
    /// People at other companies who appear as senders, recipients and attendees.
    pub externals: Vec<Person>,
    /// The external companies (plus none for the tenant's own organisation).
    pub companies: Vec<Company>,
}

/// One human in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Stable object id (a GUID) derived from the seed; the Entra object id for users.
    pub id: String,
    pub given_name: String,
    pub surname: String,
    pub display_name: String,
    /// Primary SMTP address.
    pub email: String,
    /// Index into [`Directory::companies`]; `None` for members of the tenant.
    pub company: Option<usize>,
    pub kind: PersonKind,
    pub job_title: String,
    pub mobile_phone: String,
}

/// What a person is to the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonKind {
    /// A member of the tenant; `has_mailbox == false` models an unlicensed user.
    Member { has_mailbox: bool },
    /// A B2B guest account (no Exchange mailbox in this tenant).
    Guest,
    /// Not in the directory at all; only appears in mail and meetings.
    External,
}

/// An external company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    pub name: String,
    pub domain: String,
    pub city: String,
    pub country: String,
    pub phone: String,
}

const GIVEN: &[&str] = &[
    "Adele",
    "Alex",
    "Allan",
    "Christie",
    "Debra",
    "Diego",
    "Emily",
    "Enrico",
    "Grady",
    "Henrietta",
    "Irvin",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Raul",
    "Sofia",
    "Tobias",
    "Ulrike",
    "Vera",
    "Wilhelm",
    "Xavier",
    "Yara",
    "Zoltan",
    "Amelie",
    "Bruno",
    "Clara",
    "Dario",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kaja",
    "Lars",
    "Maren",
    "Nils",
    "Olga",
    "Pia",
    "Quentin",
    "Rosa",
    "Sven",
];

const SURNAMES: &[&str] = &[
    "Vance",
    "Wilber",
    "Deyoung",
    "Cline",
    "Berg",
    "Siciliani",
    "Braun",
    "Zimmermann",
    "Archie",
    "Cerrone",
    "Sayers",
    "Langer",
    "Lauer",
    "Sherman",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Bowen",
    "Kotz",
    "Fernandez",
    "Gupta",
    "Razi",
    "Novak",
    "Schmid",
    "Huber",
    "Keller",
    "Moser",
    "Lindqvist",
    "Okafor",
    "Tanaka",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Jensen",
    "Haddad",
    "Silva",
    "Petrov",
    "Nakamura",
    "Weber",
    "Fischer",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Schulz",
];

const TITLES: &[&str] = &[
    "Account Manager",
    "Sales Representative",
    "Key Account Manager",
    "Inside Sales",
    "Sales Director",
    "Marketing Manager",
    "Purchasing Manager",
    "CFO",
    "Head of IT",
    "Project Lead",
    "Office Manager",
    "Consultant",
];

const COMPANIES: &[(&str, &str, &str, &str)] = &[
    (
        "Fabrikam Inc.",
        "fabrikam.example",
        "Seattle",
        "United States",
    ),
    (
        "Northwind Traders",
        "northwind.example",
        "London",
        "United Kingdom",
    ),
    (
        "Adventure Works Cycles",
        "adventure-works.example",
        "Bothell",
        "United States",
    ),
    ("Tailspin Toys", "tailspintoys.example", "Munich", "Germany"),
    ("Wingtip Toys", "wingtiptoys.example", "Vienna", "Austria"),
    ("Litware Inc.", "litware.example", "Zurich", "Switzerland"),
    ("Proseware Ltd.", "proseware.example", "Dublin", "Ireland"),
    (
        "Woodgrove Bank",
        "woodgrovebank.example",
        "Frankfurt",
        "Germany",
    ),
    (
        "Alpine Ski House",
        "alpineskihouse.example",
        "Innsbruck",
        "Austria",
    ),
    (
        "Blue Yonder Airlines",
        "blueyonderairlines.example",
        "Paris",
        "France",
    ),
];

/// Number of guest accounts added after the members.
const GUESTS: usize = 2;

impl Directory {
    /// Generates the tenant for `seed` with `users` member accounts (at least one), exactly one of
    /// which has no mailbox when there are two or more, plus [`GUESTS`] guests and a set of
    /// externals.
    pub fn generate(seed: u64, users: usize) -> Directory {
        let users = users.max(1);
        let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x5eed_d1ec_7042);
        let domain = "contoso.example".to_owned();
        let companies: Vec<Company> = COMPANIES
            .iter()
            .map(|(name, dom, city, country)| Company {
                name: (*name).to_owned(),
                domain: (*dom).to_owned(),
                city: (*city).to_owned(),
                country: (*country).to_owned(),
                phone: format!("+1 555 {:04}", rng.random_range(0..10_000)),
            })
            .collect();

        let mut taken = HashSet::new();
        let mut members = Vec::with_capacity(users + GUESTS);
        for i in 0..users {
            let has_mailbox = users < 2 || i + 1 != users;
            let (given, surname, local) = unique_name(&mut rng, &mut taken, "");
            members.push(Person {
                id: guid(&mut rng),
                display_name: format!("{given} {surname}"),
                email: format!("{local}@{domain}"),
                given_name: given,
                surname,
                company: None,
                kind: PersonKind::Member { has_mailbox },
                job_title: pick(&mut rng, TITLES),
                mobile_phone: phone(&mut rng),
            });
        }
        for g in 0..GUESTS {
            let company = g % companies.len();
            let (given, surname, local) =
                unique_name(&mut rng, &mut taken, &companies[company].domain);
            members.push(Person {
                id: guid(&mut rng),
                display_name: format!("{given} {surname} (Guest)"),
                email: format!("{local}@{}", companies[company].domain),
                given_name: given,
                surname,
                company: Some(company),
                kind: PersonKind::Guest,
                job_title: pick(&mut rng, TITLES),
                mobile_phone: phone(&mut rng),
            });
        }
        let external_count = (users * 2).clamp(12, 400);
        let mut externals = Vec::with_capacity(external_count);
        for e in 0..external_count {
            let company = e % companies.len();
            let (given, surname, local) =
                unique_name(&mut rng, &mut taken, &companies[company].domain);
            externals.push(Person {
                id: guid(&mut rng),
                display_name: format!("{given} {surname}"),
                email: format!("{local}@{}", companies[company].domain),
                given_name: given,
                surname,
                company: Some(company),
                kind: PersonKind::External,
                job_title: pick(&mut rng, TITLES),
                mobile_phone: phone(&mut rng),
            });
        }
        Directory {
            domain,
            users: members,
            externals,
            companies,
        }
    }

    /// Members that have an Exchange mailbox.
    pub fn mailbox_users(&self) -> impl Iterator<Item = &Person> {
        self.users
            .iter()
            .filter(|p| matches!(p.kind, PersonKind::Member { has_mailbox: true }))
    }

    /// The people the CRM seed makes persons of: the guests and four in five externals (the
    /// fifth stays unknown to CRM, for the missing-participants block).
    pub fn crm_persons(&self) -> impl Iterator<Item = &Person> {
        self.users
            .iter()
            .filter(|p| p.kind == PersonKind::Guest)
            .chain(
                self.externals
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 5 != 4)
                    .map(|(_, p)| p),
            )
    }

    /// The member without a mailbox (there is one when the tenant has two or more members).
    pub fn user_without_mailbox(&self) -> Option<&Person> {
        self.users
            .iter()
            .find(|p| matches!(p.kind, PersonKind::Member { has_mailbox: false }))
    }

    /// The admin: the first member, who always has a mailbox.
    pub fn admin(&self) -> &Person {
        // `generate` always creates at least one member with a mailbox at index 0.
        &self.users[0]
    }

    /// Finds a user or external by e-mail address (case-insensitive).
    pub fn find_by_email(&self, email: &str) -> Option<&Person> {
        self.users
            .iter()
            .chain(self.externals.iter())
            .find(|p| p.email.eq_ignore_ascii_case(email))
    }
}

impl Person {
    /// Whether this person has an Exchange mailbox in the tenant.
    pub fn has_mailbox(&self) -> bool {
        matches!(self.kind, PersonKind::Member { has_mailbox: true })
    }
}

fn pick(rng: &mut ChaCha20Rng, list: &[&str]) -> String {
    list.choose(rng).copied().unwrap_or_default().to_owned()
}

fn phone(rng: &mut ChaCha20Rng) -> String {
    format!("+49 171 {:07}", rng.random_range(0..10_000_000))
}

/// A GUID drawn from the seeded generator (so ids are stable per seed).
pub(crate) fn guid(rng: &mut ChaCha20Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

fn unique_name(
    rng: &mut ChaCha20Rng,
    taken: &mut HashSet<String>,
    domain: &str,
) -> (String, String, String) {
    for attempt in 0u32.. {
        let given = pick(rng, GIVEN);
        let surname = pick(rng, SURNAMES);
        let base = format!("{}.{}", given.to_lowercase(), surname.to_lowercase());
        let local = if attempt < 20 {
            base
        } else {
            format!("{base}{attempt}")
        };
        if taken.insert(format!("{local}@{domain}")) {
            return (given, surname, local);
        }
    }
    unreachable!("the loop above only ends by returning")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_directory() {
        assert_eq!(Directory::generate(7, 10), Directory::generate(7, 10));
        assert_ne!(
            Directory::generate(7, 10).users[0],
            Directory::generate(8, 10).users[0]
        );
    }

    #[test]
    fn exactly_one_member_without_mailbox_and_some_guests() {
        let d = Directory::generate(1, 25);
        let members = d
            .users
            .iter()
            .filter(|p| matches!(p.kind, PersonKind::Member { .. }));
        assert_eq!(members.count(), 25);
        let no_mailbox = d
            .users
            .iter()
            .filter(|p| matches!(p.kind, PersonKind::Member { has_mailbox: false }));
        assert_eq!(no_mailbox.count(), 1);
        assert_eq!(
            d.users
                .iter()
                .filter(|p| p.kind == PersonKind::Guest)
                .count(),
            GUESTS
        );
        assert!(d.admin().has_mailbox());
        assert!(
            d.mailbox_users()
                .all(|p| p.email.ends_with("@contoso.example"))
        );
        assert!(d.externals.len() >= 12);
        assert!(
            d.externals
                .iter()
                .all(|p| p.company.is_some() && !p.email.ends_with("@contoso.example"))
        );
        let emails: HashSet<_> = d
            .users
            .iter()
            .chain(&d.externals)
            .map(|p| &p.email)
            .collect();
        assert_eq!(emails.len(), d.users.len() + d.externals.len());
    }
}
