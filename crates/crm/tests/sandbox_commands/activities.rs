//! Activities: participants, external key and document; the window with the sync handler's
//! condition; keys of the previous connector; a page's activities read by id.

use crate::common::*;
use gc_crm::{
    ActivityFilter, CrmId, Forms, NewActivity, NewDocument, NewExternalKey, NewParticipant,
    ParticipantRole,
};
use jiff::civil::{date, time};

fn tricky() -> String {
    "Q3 <review> & \"budget\" 'n' stuff\r\nline2\ttab – ünïcödé 🚀 \u{1}\u{8}\u{B}end".to_owned()
}

#[tokio::test]
async fn activity_with_participants_key_and_document() {
    let env = env().await;
    let c = client(&env);
    let me = rep_email(&env);
    let s = c.as_rep(&me);
    let dir = env.sandbox.directory();
    let ext = dir.externals[0].email.clone();
    let person = s
        .persons_by_emails(std::slice::from_ref(&ext))
        .await
        .unwrap()[0]
        .clone();
    let rep = s.reps_by_emails(std::slice::from_ref(&me)).await.unwrap()[0].clone();

    let mut a = NewActivity::new("Meeting", &tricky(), date(2026, 11, 30));
    a.text = "Body with <html> & entities &amp; ]]> CDATA end".into();
    a.time = Some(time(9, 30, 0, 0));
    a.end_date = Some(date(2026, 11, 30));
    a.end_time = Some(time(10, 15, 0, 0));
    a.rep_id = Some(rep.rep_id.clone());
    a.person = Some(person.person);
    a.company = person.company;
    a.extra = vec![
        ("ShowAs".into(), "Busy".into()),
        ("F5021".into(), "true".into()),
    ];
    a.participants = vec![
        NewParticipant {
            role: ParticipantRole::Required,
            email: ext.clone(),
            person: Some(person.person),
            rep: None,
            status: Some("accepted".into()),
        },
        NewParticipant {
            role: ParticipantRole::Optional,
            email: me.clone(),
            person: None,
            rep: Some(rep.id),
            status: None,
        },
    ];
    a.external_key = Some(NewExternalKey {
        ext_system: None,
        content_type: "text/x-vevent".into(),
        ext_key: "AAMkAGI2TG93AAA=".into(),
        mailbox: Some(me.clone()),
    });
    let content: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    a.documents = vec![NewDocument {
        file_name: "mail.eml".into(),
        content_type: "message/rfc822".into(),
        content: content.clone(),
    }];
    let id = s.insert_activity(&a).await.unwrap();
    assert_eq!(
        id.stat_no(),
        2,
        "records created through the interface get station 2"
    );

    let got = s.activity(id).await.unwrap().unwrap();
    // control characters XML 1.0 cannot carry are removed; everything else is exact
    let expected_subject: String = tricky()
        .chars()
        .filter(|c| !matches!(c, '\u{1}' | '\u{8}' | '\u{B}'))
        .collect();
    assert_eq!(got.get("Subject"), Some(expected_subject.as_str()));
    assert_eq!(got.get("Text"), Some(a.text.as_str()));
    assert_eq!(
        got.get("Contact"),
        Some("Meeting"),
        "catalog as text by default"
    );
    assert_eq!(got.get("Time"), Some("09:30"));
    assert_eq!(got.person, Some(person.person));
    assert_eq!(got.participants.len(), 2);
    let p0 = got
        .participants
        .iter()
        .find(|p| p.person.is_some())
        .unwrap();
    assert_eq!(p0.role, ParticipantRole::Required);
    assert_eq!(p0.status.as_deref(), Some("accepted"));
    assert!(got.participants.iter().any(|p| p.rep == Some(rep.id)));

    // adoption lookup by groupware key
    let keys = s
        .find_external_keys(
            Some("GraphApi"),
            &["AAMkAGI2TG93AAA=".into(), "other".into()],
        )
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].record, Some(("Contact".into(), id)));
    assert_eq!(keys[0].content_type, "text/x-vevent");
    assert_eq!(keys[0].mailbox.as_deref(), Some(me.as_str()));

    let docs = s.documents(id, true).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].file_name, "mail.eml");
    assert_eq!(docs[0].size, Some(3000));
    assert_eq!(docs[0].content.as_deref(), Some(content.as_slice()));
    let extra = s
        .insert_document(
            id,
            NewDocument {
                file_name: "b.txt".into(),
                content_type: "text/plain".into(),
                content: b"hi".to_vec(),
            },
        )
        .await
        .unwrap();
    assert_ne!(extra, id);
    assert_eq!(s.documents(id, false).await.unwrap().len(), 2);

    // update + soft delete
    s.update_activity(id, &[("MissingParticipants".into(), "To: x@y".into())])
        .await
        .unwrap();
    s.mark_activity_deleted(id).await.unwrap();
    let got = s.activity(id).await.unwrap().unwrap();
    assert_eq!(got.get("ConnectorDeleted"), Some("true"));
    assert_eq!(got.get("MissingParticipants"), Some("To: x@y"));
}

#[tokio::test]
async fn activity_window_with_sync_handler_condition() {
    let env = env().await;
    let c = client(&env);
    let me = rep_email(&env);
    let s = c.as_rep(&me);
    let rep = s.reps_by_emails(std::slice::from_ref(&me)).await.unwrap()[0].clone();
    let mk = |subj: &str, d| {
        let mut a = NewActivity::new("Meeting", subj, d);
        a.rep_id = Some(rep.rep_id.clone());
        a
    };
    let keep = s
        .insert_activity(&mk("keep", date(2026, 12, 2)))
        .await
        .unwrap();
    let gone = s
        .insert_activity(&mk("gone", date(2026, 12, 2)))
        .await
        .unwrap();
    let published = s
        .insert_activity(&mk("published", date(2026, 12, 2)))
        .await
        .unwrap();
    let _outside = s
        .insert_activity(&mk("outside", date(2027, 1, 20)))
        .await
        .unwrap();
    s.mark_activity_deleted(gone).await.unwrap();
    s.update_activity(published, &[("ConnectorPublished".into(), "true".into())])
        .await
        .unwrap();

    let forms = Forms::parse(include_str!("../fixtures/forms.xml")).unwrap();
    let cond = forms
        .sync_handler("ExchangeConnector_VeventFilter")
        .unwrap()
        .condition
        .clone();
    let fields: Vec<String> = forms.form_fields("vevent", "Contact").unwrap().to_vec();
    let filter = ActivityFilter {
        from: date(2026, 12, 1),
        to: date(2026, 12, 31),
        rep_id: Some(rep.rep_id.clone()),
        condition: cond,
        fields,
        with_participants: true,
        max_records: None,
    };
    let mine = [keep, gone, published, _outside];
    let got = s.activities(&filter).await.unwrap();
    let ids: Vec<CrmId> = got
        .iter()
        .map(|a| a.id)
        .filter(|id| mine.contains(id))
        .collect();
    assert_eq!(ids, vec![keep]);
    assert!(
        got.iter()
            .all(|a| a.get("ConnectorDeleted") != Some("true"))
    );
    // the same condition evaluated locally agrees
    let all = s
        .activities(&ActivityFilter {
            condition: None,
            ..filter.clone()
        })
        .await
        .unwrap();
    let all: Vec<_> = all.into_iter().filter(|a| mine.contains(&a.id)).collect();
    assert_eq!(all.len(), 3);
    let c2 = forms
        .sync_handler("ExchangeConnector_VeventFilter")
        .unwrap()
        .condition
        .clone()
        .unwrap();
    let local: Vec<CrmId> = all
        .iter()
        .filter(|a| gc_crm::forms::evaluate(&c2, "Contact", &a.fields))
        .map(|a| a.id)
        .collect();
    assert_eq!(local, vec![keep]);
}

#[tokio::test]
async fn legacy_keys_from_previous_connector() {
    let env = env().await;
    let c = client(&env);
    let xks = env.sandbox.records("ExternalKey").await.unwrap();
    assert!(!xks.is_empty());
    let key = xks[0].fields["ExtKey"].clone();
    let mailbox = xks[0].fields["Mailbox"].clone();
    let found = c
        .as_rep(&mailbox)
        .find_external_keys(None, std::slice::from_ref(&key))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].ext_system, "SyncML");
    let (table, id) = found[0].record.clone().unwrap();
    assert_eq!(table, "Contact");
    let act = c.as_rep(&mailbox).activity(id).await.unwrap().unwrap();
    assert!(!act.participants.is_empty());
    // restricted to our own system, nothing
    assert!(
        c.as_rep(&mailbox)
            .find_external_keys(Some("GraphApi"), &[key])
            .await
            .unwrap()
            .is_empty()
    );
    // adopting: record our own key for the same activity
    c.as_rep(&mailbox)
        .insert_external_key(
            "Contact",
            id,
            &NewExternalKey {
                ext_system: None,
                content_type: "text/x-vevent".into(),
                ext_key: "graph-id-1".into(),
                mailbox: Some(mailbox.clone()),
            },
        )
        .await
        .unwrap();
    let k = c
        .as_rep(&mailbox)
        .find_external_keys(Some("GraphApi"), &["graph-id-1".into()])
        .await
        .unwrap();
    assert_eq!(k[0].record, Some(("Contact".into(), id)));
}

#[tokio::test]
async fn a_pages_activities_and_a_key_with_a_guessed_activity_are_read_by_id() {
    let env = env().await;
    let c = client(&env);
    let xks = env.sandbox.records("ExternalKey").await.unwrap();
    let key = xks[0].fields["ExtKey"].clone();
    let s = c.as_rep(&xks[0].fields["Mailbox"]);
    let found = s
        .find_external_keys(None, std::slice::from_ref(&key))
        .await
        .unwrap();
    let (_, id) = found[0].record.clone().unwrap();
    let one = s.activity(id).await.unwrap().unwrap();
    let missing = CrmId((u64::from(u32::MAX) << 32) | 7);

    // A page's activities: those that exist, once each, with their participants.
    let read = s.activities_by_id(&[id, missing, id]).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].id, id);
    assert_eq!(read[0].participants, one.participants);
    assert!(!read[0].participants.is_empty());
    // More ids than one query carries.
    let others: Vec<CrmId> = (0..40).map(|i| CrmId(id.0 + 1000 + i)).collect();
    let ids: Vec<CrmId> = others.iter().copied().chain([id]).collect();
    assert!(
        s.activities_by_id(&ids)
            .await
            .unwrap()
            .iter()
            .any(|a| a.id == id)
    );
    assert!(s.activities_by_id(&[]).await.unwrap().is_empty());

    // The key and the guessed activity together.
    let (keys, guessed) = s.key_and_activity(&key, id).await.unwrap();
    assert_eq!(keys, found);
    assert_eq!(guessed.unwrap().participants, one.participants);
    let (keys, guessed) = s.key_and_activity(&key, missing).await.unwrap();
    assert_eq!(keys, found);
    assert!(guessed.is_none());
}
