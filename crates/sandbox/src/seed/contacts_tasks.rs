//! The seeded contacts and To Do: in each mailbox the default Contacts folder and a
//! Suppliers subfolder with ten external contacts, three To Do lists and seven tasks (each
//! status, a due date, one with a linked resource). Apart from the mail because nothing there
//! depends on it.

use crate::ids;
use crate::people::Directory;
use crate::store::{Contact, ContactFolder, Task, Tenant, TodoList};
use jiff::{Timestamp, ToSpan};
use serde_json::{Map, json};

pub(super) fn seed_contacts_tasks(t: &mut Tenant, dir: &Directory) {
    let mut rng = t.rng.clone();
    let now = Timestamp::now();
    for ui in 0..t.users.len() {
        let seq = t.next_seq();
        let Some(mb) = t.users[ui].mailbox.as_mut() else {
            continue;
        };
        let default = ids::folder_id(&mut rng);
        mb.contact_folders.push(ContactFolder {
            id: default.clone(),
            parent: None,
            display_name: "Contacts".into(),
            is_default: true,
            seq,
        });
        let suppliers = ids::folder_id(&mut rng);
        mb.contact_folders.push(ContactFolder {
            id: suppliers.clone(),
            parent: Some(default.clone()),
            display_name: "Suppliers".into(),
            is_default: false,
            seq,
        });
        for c in 0..10 {
            let p = &dir.externals[(ui * 5 + c * 2) % dir.externals.len().max(1)];
            let company = p.company.map(|i| &dir.companies[i]);
            let folder = if c >= 7 {
                suppliers.clone()
            } else {
                default.clone()
            };
            let mut props = Map::new();
            props.insert("givenName".into(), json!(p.given_name));
            props.insert("surname".into(), json!(p.surname));
            props.insert("displayName".into(), json!(p.display_name));
            props.insert(
                "fileAs".into(),
                json!(format!("{}, {}", p.surname, p.given_name)),
            );
            props.insert(
                "emailAddresses".into(),
                json!([{"name": p.display_name, "address": p.email}]),
            );
            props.insert("companyName".into(), json!(company.map(|c| c.name.clone())));
            props.insert("jobTitle".into(), json!(p.job_title));
            props.insert(
                "businessPhones".into(),
                json!(company.map(|c| vec![c.phone.clone()]).unwrap_or_default()),
            );
            props.insert("mobilePhone".into(), json!(p.mobile_phone));
            props.insert("homePhones".into(), json!([]));
            props.insert("businessAddress".into(), json!({"street": format!("{} Main Street", 10 + c), "city": company.map(|c| c.city.clone()), "state": "", "countryOrRegion": company.map(|c| c.country.clone()), "postalCode": format!("{}", 10000 + c * 7)}));
            props.insert("homeAddress".into(), json!({}));
            props.insert("otherAddress".into(), json!({}));
            props.insert(
                "categories".into(),
                json!(if c == 0 {
                    vec!["Blue category"]
                } else {
                    vec![]
                }),
            );
            props.insert(
                "personalNotes".into(),
                json!(if c == 1 { "Met at the trade fair." } else { "" }),
            );
            props.insert("imAddresses".into(), json!([]));
            props.insert("children".into(), json!([]));
            let imm = ids::immutable_id(&mut rng);
            let rest = ids::rest_id(&mut rng);
            mb.rest_index.insert(rest.clone(), imm.clone());
            mb.contacts.insert(
                imm.clone(),
                Contact {
                    imm,
                    rest,
                    folder,
                    seq,
                    created: now - (30 * 24).hours(),
                    modified: now - (c as i64 * 24).hours(),
                    props,
                    ext: Vec::new(),
                },
            );
        }
        // To Do
        let lists = [
            ("Tasks", "defaultList"),
            ("Flagged Emails", "flaggedEmails"),
            ("Projects", "none"),
        ];
        let mut list_ids = Vec::new();
        for (name, wk) in lists {
            let id = ids::entity_id(&mut rng);
            list_ids.push(id.clone());
            mb.todo_lists.push(TodoList {
                id,
                display_name: name.into(),
                well_known: wk,
                seq,
            });
        }
        let titles = [
            "Call back about the quote",
            "Prepare proposal",
            "Send contract draft",
            "Check delivery date",
            "Update price list",
            "Book travel to the customer",
            "Review open invoices",
        ];
        for (k, title) in titles.iter().enumerate() {
            let list = if k < 5 { &list_ids[0] } else { &list_ids[2] };
            let status = [
                "notStarted",
                "inProgress",
                "completed",
                "waitingOnOthers",
                "deferred",
            ][k % 5];
            let due = now + (((k as i64) - 2) * 24).hours();
            let due_date = due.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            let mut props = Map::new();
            props.insert("title".into(), json!(title));
            props.insert("status".into(), json!(status));
            props.insert(
                "importance".into(),
                json!(if k == 1 { "high" } else { "normal" }),
            );
            props.insert("isReminderOn".into(), json!(k == 0));
            props.insert("body".into(), json!({"content": format!("{title} ({})", dir.externals[k % dir.externals.len().max(1)].display_name), "contentType": "text"}));
            props.insert("categories".into(), json!([]));
            props.insert(
                "dueDateTime".into(),
                json!({"dateTime": format!("{due_date}T00:00:00.0000000"), "timeZone": "UTC"}),
            );
            if status == "completed" {
                props.insert("completedDateTime".into(), json!({"dateTime": format!("{}T00:00:00.0000000", now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()), "timeZone": "UTC"}));
            }
            let linked = if k == 2 {
                vec![
                    json!({"id": ids::guid(&mut rng), "webUrl": "https://crm.example/record/42", "applicationName": "CRM", "displayName": "Contract", "externalId": "x-42"}),
                ]
            } else {
                Vec::new()
            };
            let id = ids::entity_id(&mut rng);
            mb.tasks.insert(
                id.clone(),
                Task {
                    id,
                    list: list.clone(),
                    seq,
                    created: now - (10 * 24).hours(),
                    modified: now - (k as i64).hours(),
                    props,
                    linked,
                },
            );
        }
    }
    t.rng = rng;
}
