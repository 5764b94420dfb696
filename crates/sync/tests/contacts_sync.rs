//! End to end: the contacts kind against the in-process sandbox (Microsoft 365 and
//! CRM.interface over HTTP, a SQLite state store): persons of the rep's companies and recent
//! activities become contacts in a dedicated folder or with a category; updates follow;
//! persons leaving the selection or deleted in CRM lose their contacts; the user's own
//! contacts stay byte for byte as they were; an interrupted create is adopted, not repeated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crm_kinds;

use crm_kinds::{Env, days, today};
use gc_crm::CrmId;
use gc_graph::models::Contact;
use gc_sandbox::{Target, Tripwire, When};
use gc_store::{Kind, LedgerAction};
use gc_sync::contacts::model::PERSON_PROPERTY;
use gc_sync::{ContactKind, ContactRules, ContactTarget, MailboxOutcome, MailboxTarget};
use serde_json::{Value, json};

fn kind(env: &Env, rules: ContactRules) -> ContactKind {
    ContactKind::new(env.graph_mail(), env.crm_side(), rules)
}

fn folder_rules() -> ContactRules {
    ContactRules {
        target: ContactTarget::Folder("CRM".into()),
        responsible_companies: true,
        activity_days: 0,
    }
}

async fn folder_contacts(env: &Env, t: &MailboxTarget, name: &str) -> Vec<Contact> {
    let folders = env.graph.list_contact_folders(&t.graph_user).await.unwrap();
    let Some(f) = folders
        .iter()
        .find(|f| f.display_name.as_deref() == Some(name))
    else {
        return Vec::new();
    };
    env.graph
        .list_contacts(&t.graph_user, Some(&f.id))
        .collect_ok()
        .await
        .unwrap()
}

async fn default_contacts(env: &Env, t: &MailboxTarget) -> Vec<Contact> {
    env.graph
        .list_contacts(&t.graph_user, None)
        .collect_ok()
        .await
        .unwrap()
}

async fn folder_id(env: &Env, t: &MailboxTarget, name: &str) -> Option<String> {
    env.graph
        .list_contact_folders(&t.graph_user)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.display_name.as_deref() == Some(name))
        .map(|f| f.id)
}

/// The contacts of `folder` (`None`: the default folder) carrying `person` in the connector's
/// property, the property expanded.
async fn of_person(
    env: &Env,
    t: &MailboxTarget,
    folder: Option<&str>,
    person: CrmId,
) -> Vec<Contact> {
    env.graph
        .contacts_with_property(&t.graph_user, folder, PERSON_PROPERTY, &person.to_string())
        .await
        .unwrap()
}

/// The user's own contacts, seeded through Graph: the same names and addresses as CRM persons,
/// in the default folder, with the connector's category name and with others.
async fn seed_own(env: &Env, t: &MailboxTarget, name: (&str, &str), email: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (cats, note) in [
        (json!(["CRM"]), "met at the fair"),
        (json!(["Family"]), "my cousin"),
        (json!([]), ""),
    ] {
        let c = env
            .graph
            .create_contact(
                &t.graph_user,
                None,
                &json!({
                    "givenName": name.0,
                    "surname": name.1,
                    "emailAddresses": [{"address": email, "name": format!("{} {}", name.0, name.1)}],
                    "categories": cats,
                    "personalNotes": note,
                    "jobTitle": "my own title",
                }),
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    ids
}

async fn snapshot(env: &Env, t: &MailboxTarget, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        let c = env.graph.get_contact(&t.graph_user, id).await.unwrap();
        out.push(serde_json::to_value(c).unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_follow_the_selection_into_the_folder_and_own_contacts_stay_untouched() {
    let env = Env::start(31).await;
    let t = env.target_for(Kind::Contact).await;
    let rep = t.owner.rep_number.clone();
    let other_rep = "9999";
    let co = env
        .insert(
            "Company",
            &[
                ("Company", "Analytical Engines Ltd"),
                ("RepID", &rep),
                ("Street", "1 Babbage Row"),
                ("ZipCode", "EC1"),
                ("City", "London"),
                ("Country", "UK"),
                ("Phone", "+44 20 1"),
            ],
            &[],
        )
        .await;
    let ada = env
        .insert(
            "Person",
            &[
                ("FirstName", "Ada"),
                ("LastName", "Lovelace"),
                ("EMail1", "ada@engines.example"),
                ("EMail2", "countess@engines.example"),
                ("JobTitle", "Analyst"),
                ("Phone", "+44 20 2"),
                ("MobilePhone", "+44 77 3"),
            ],
            &[("Company", co)],
        )
        .await;
    let other_co = env
        .insert(
            "Company",
            &[("Company", "Difference Ltd"), ("RepID", &rep)],
            &[],
        )
        .await;
    let charles = env
        .insert(
            "Person",
            &[
                ("FirstName", "Charles"),
                ("LastName", "Babbage"),
                ("EMail1", "cb@diff.example"),
            ],
            &[("Company", other_co)],
        )
        .await;
    // a person of another rep's company is not the rep's
    let foreign_co = env
        .insert(
            "Company",
            &[("Company", "Elsewhere Inc"), ("RepID", other_rep)],
            &[],
        )
        .await;
    let stranger = env
        .insert(
            "Person",
            &[
                ("FirstName", "Nobody"),
                ("LastName", "Else"),
                ("EMail1", "no@else.example"),
            ],
            &[("Company", foreign_co)],
        )
        .await;
    seed_own(&env, &t, ("Ada", "Lovelace"), "ada@engines.example").await;
    // every contact of the user (the sandbox's and the ones just seeded)
    let own: Vec<String> = default_contacts(&env, &t)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    let before = snapshot(&env, &t, &own).await;
    let k = kind(&env, folder_rules());

    // create
    let r = env.run(&k, &t).await;
    assert_eq!(r.outcome, MailboxOutcome::Complete, "{r:?}");
    assert!(r.created >= 2, "{r:?}");
    assert_eq!((r.failed, r.delayed), (0, 0));
    let contacts = folder_contacts(&env, &t, "CRM").await;
    assert_eq!(contacts.len() as u64, r.created, "one contact per person");
    let f = folder_id(&env, &t, "CRM").await;
    let f = f.as_deref();
    let found = of_person(&env, &t, f, ada).await;
    assert_eq!(found.len(), 1, "no duplicate");
    let a = &found[0];
    assert_eq!(a.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(a.company_name.as_deref(), Some("Analytical Engines Ltd"));
    assert_eq!(a.job_title.as_deref(), Some("Analyst"));
    let emails: Vec<&str> = a
        .email_addresses
        .iter()
        .flatten()
        .filter_map(|e| e.address.as_deref())
        .collect();
    assert_eq!(emails, ["ada@engines.example", "countess@engines.example"]);
    assert_eq!(a.mobile_phone.as_deref(), Some("+44 77 3"));
    assert_eq!(
        a.business_phones.clone().unwrap_or_default(),
        ["+44 20 2", "+44 20 1"]
    );
    let addr = a.business_address.clone().unwrap();
    assert_eq!(
        (addr.city.as_deref(), addr.postal_code.as_deref()),
        (Some("London"), Some("EC1"))
    );
    assert_eq!(of_person(&env, &t, f, charles).await.len(), 1);
    assert!(
        of_person(&env, &t, f, stranger).await.is_empty(),
        "another rep's person"
    );

    // nothing changed: nothing written
    let r = env.run(&k, &t).await;
    assert_eq!((r.created, r.updated, r.deleted), (0, 0, 0), "{r:?}");
    assert!(r.unchanged >= 2);

    // update
    env.update(
        "Person",
        ada,
        &[("JobTitle", "Chief Analyst"), ("MobilePhone", "")],
    )
    .await;
    let r = env.run(&k, &t).await;
    assert_eq!((r.created, r.updated, r.deleted), (0, 1, 0), "{r:?}");
    let found = of_person(&env, &t, f, ada).await;
    let a = &found[0];
    assert_eq!(a.job_title.as_deref(), Some("Chief Analyst"));
    assert_eq!(a.mobile_phone, None, "cleared in CRM, cleared in Outlook");

    // deleted in CRM; leaving the selection (the company goes to another rep)
    env.delete("Person", ada).await;
    env.update("Company", other_co, &[("RepID", other_rep)])
        .await;
    let r = env.run(&k, &t).await;
    assert_eq!((r.created, r.updated, r.deleted), (0, 0, 2), "{r:?}");
    assert!(of_person(&env, &t, f, ada).await.is_empty());
    assert!(of_person(&env, &t, f, charles).await.is_empty());
    let r = env.run(&k, &t).await;
    assert_eq!(
        (r.created, r.updated, r.deleted),
        (0, 0, 0),
        "deleted once: {r:?}"
    );

    // the user's own contacts: byte for byte as they were, none deleted
    assert_eq!(snapshot(&env, &t, &own).await, before);
    assert_eq!(default_contacts(&env, &t).await.len(), own.len());

    // every decision with its reason
    let ledger = env.ledger(Kind::Contact).await;
    let ada_key = format!("person:{ada}");
    let ada_ledger: Vec<_> = ledger.iter().filter(|(_, k, _)| *k == ada_key).collect();
    let actions: Vec<LedgerAction> = ada_ledger.iter().map(|e| e.0).collect();
    assert_eq!(
        actions,
        [
            LedgerAction::Created,
            LedgerAction::Updated,
            LedgerAction::Deleted
        ],
        "{ada_ledger:?}"
    );
    assert!(ada_ledger[0].2.contains("selection"), "{}", ada_ledger[0].2);
    assert!(
        ada_ledger[1].2.contains("changed in CRM"),
        "{}",
        ada_ledger[1].2
    );
    assert!(
        ada_ledger[2].2.contains("deleted in CRM"),
        "{}",
        ada_ledger[2].2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_category_target_marks_contacts_in_the_default_folder_and_deletes_only_its_own() {
    let env = Env::start(32).await;
    let t = env.target_for(Kind::Contact).await;
    let rep = t.owner.rep_number.clone();
    let co = env
        .insert(
            "Company",
            &[("Company", "Grace Systems"), ("RepID", &rep)],
            &[],
        )
        .await;
    let grace = env
        .insert(
            "Person",
            &[
                ("FirstName", "Grace"),
                ("LastName", "Hopper"),
                ("EMail1", "grace@navy.example"),
            ],
            &[("Company", co)],
        )
        .await;
    seed_own(&env, &t, ("Grace", "Hopper"), "grace@navy.example").await;
    let own: Vec<String> = default_contacts(&env, &t)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    let before = snapshot(&env, &t, &own).await;
    let k = kind(
        &env,
        ContactRules {
            target: ContactTarget::Category("CRM".into()),
            ..folder_rules()
        },
    );
    let r = env.run(&k, &t).await;
    assert_eq!(
        (r.outcome, r.failed),
        (MailboxOutcome::Complete, 0),
        "{r:?}"
    );
    assert!(r.created >= 1);
    assert!(
        env.sandbox
            .state()
            .categories(&t.graph_user)
            .unwrap()
            .iter()
            .any(|c| c == "CRM"),
        "the category exists in the master list"
    );
    // no folder: the default folder holds the user's contacts and the connector's
    assert!(folder_contacts(&env, &t, "CRM").await.is_empty());
    let all = default_contacts(&env, &t).await;
    assert_eq!(all.len() as u64, own.len() as u64 + r.created);
    let g = of_person(&env, &t, None, grace).await;
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].categories.clone().unwrap_or_default(), ["CRM"]);

    // deleted in CRM: the contact the connector created is deleted (not just uncategorized)
    env.delete("Person", grace).await;
    let r = env.run(&k, &t).await;
    assert_eq!((r.deleted, r.failed), (1, 0), "{r:?}");
    let all = default_contacts(&env, &t).await;
    assert_eq!(all.len(), own.len() + r.created as usize);
    assert!(of_person(&env, &t, None, grace).await.is_empty());
    // the user's own "Grace Hopper" contacts, one even with the category "CRM": untouched
    assert_eq!(snapshot(&env, &t, &own).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_of_recent_activities_count_up_to_the_edge_of_the_window() {
    let env = Env::start(33).await;
    let t = env.target_for(Kind::Contact).await;
    let rep = t.owner.rep_number.clone();
    let today = today();
    let mut persons = Vec::new();
    for (name, age) in [("Edge", 30), ("Outside", 31), ("Recent", 0)] {
        let p = env
            .insert(
                "Person",
                &[
                    ("FirstName", name),
                    ("LastName", "Visitor"),
                    ("EMail1", &format!("{name}@visit.example")),
                ],
                &[],
            )
            .await;
        env.insert(
            "Contact",
            &[
                ("Contact", "Visit"),
                ("Subject", &format!("visit of {name}")),
                ("Date", &days(today, -age)),
                ("RepID", &rep),
            ],
            &[("Person", p)],
        )
        .await;
        persons.push(p);
    }
    let k = kind(
        &env,
        ContactRules {
            responsible_companies: false,
            activity_days: 30,
            ..folder_rules()
        },
    );
    let r = env.run(&k, &t).await;
    assert_eq!(
        (r.failed, r.outcome),
        (0, MailboxOutcome::Complete),
        "{r:?}"
    );
    let f = folder_id(&env, &t, "CRM").await;
    let f = f.as_deref();
    assert_eq!(
        of_person(&env, &t, f, persons[0]).await.len(),
        1,
        "30 days ago: inside"
    );
    assert!(
        of_person(&env, &t, f, persons[1]).await.is_empty(),
        "31 days ago: outside"
    );
    assert_eq!(
        of_person(&env, &t, f, persons[2]).await.len(),
        1,
        "today: inside"
    );
    // only persons of activities (the seed's are older or of other reps): no company rule
    assert_eq!(
        folder_contacts(&env, &t, "CRM").await.len(),
        r.created as usize
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_create_is_adopted_on_the_next_run_without_a_duplicate() {
    let env = Env::start(34).await;
    let t = env.target_for(Kind::Contact).await;
    let rep = t.owner.rep_number.clone();
    let co = env
        .insert(
            "Company",
            &[("Company", "Crash Test Ltd"), ("RepID", &rep)],
            &[],
        )
        .await;
    let dummy = env
        .insert(
            "Person",
            &[
                ("FirstName", "Crash"),
                ("LastName", "Dummy"),
                ("EMail1", "dummy@crash.example"),
            ],
            &[("Company", co)],
        )
        .await;
    let k = kind(&env, folder_rules());
    // Create the folder first, so that the first Graph write of the next run is a contact.
    let (folder, _) = gc_sync::contacts::ports::ContactsGraph::contact_folder(
        &*env.graph_mail(),
        &t.graph_user,
        "CRM",
    )
    .await
    .unwrap();
    assert!(!folder.is_empty());
    // The first contact create is processed by Microsoft 365, but its answer never arrives.
    let wire = env.sandbox.arm_tripwire(
        Tripwire {
            target: Target::GraphWrite,
            nth: 1,
            when: When::BeforeResponse,
        },
        || {},
    );
    let r = env.run(&k, &t).await;
    assert!(wire.fired());
    assert!(r.delayed >= 1, "{r:?}");
    let created_first = r.created;
    let after_cut = folder_contacts(&env, &t, "CRM").await.len() as u64;
    assert_eq!(after_cut, created_first + 1, "the cut create was written");
    // the repeat finds it by the person id it carries and adopts it
    let r = env.run(&k, &t).await;
    assert_eq!((r.adopted, r.delayed, r.failed), (1, 0, 0), "{r:?}");
    let contacts = folder_contacts(&env, &t, "CRM").await;
    assert_eq!(contacts.len() as u64, after_cut, "no duplicate");
    assert_eq!(of_person(&env, &t, Some(&folder), dummy).await.len(), 1);
    let ledger = env.ledger(Kind::Contact).await;
    assert!(
        ledger
            .iter()
            .any(|(a, _, why)| *a == LedgerAction::Adopted && why.contains("interrupted"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_without_the_contacts_flag_gets_no_contacts() {
    let env = Env::start(35).await;
    let Some(t) = env.target_without(Kind::Contact).await else {
        // every rep of this seed enables contacts: flip one
        let t = env.target_for(Kind::Contact).await;
        env.update("Rep", t.owner.rep_crm_id, &[("SyncContacts", "false")])
            .await;
        let r = env.run(&kind(&env, folder_rules()), &t).await;
        assert_eq!(r.created + r.updated + r.deleted + r.failed, 0, "{r:?}");
        assert!(folder_contacts(&env, &t, "CRM").await.is_empty());
        return;
    };
    let r = env.run(&kind(&env, folder_rules()), &t).await;
    assert_eq!(r.created, 0, "{r:?}");
}
