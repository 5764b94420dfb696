//! Writes: import with matchup, delete and errors; chunks of ten; several commands in one
//! request; streamed documents; concurrent first nested inserts.

use crate::common::*;
use gc_crm::codec::{
    CatalogMode, Command, Condition, FieldList, Op, Query, RecordData, TableSpec, WriteKind,
};
use gc_crm::{
    CrmError, CrmId, ErrorKind, NewActivity, NewExternalKey, NewParticipant, ParticipantRole,
    ReturnCode,
};
use jiff::civil::date;

#[tokio::test]
async fn import_matchup_delete_and_errors() {
    let env = env().await;
    let c = client(&env);
    let me = rep_email(&env);
    let s = c.as_rep(&me);
    let rec = || {
        RecordData::new("Company")
            .matchup("Company", "Fabrikam Test GmbH")
            .field("City", "Wien")
    };
    let a = s
        .write_one(WriteKind::Import, CatalogMode::Text, rec())
        .await
        .unwrap();
    let b = s
        .write_one(
            WriteKind::Import,
            CatalogMode::Text,
            rec().field("Country", "AT"),
        )
        .await
        .unwrap();
    assert_eq!(a, b, "second import updates the matched record");
    let stored = env.sandbox.record(a.get()).await.unwrap().unwrap();
    assert_eq!(stored.fields["Country"], "AT");

    s.delete("Company", a).await.unwrap();
    assert!(
        env.sandbox.record(a.get()).await.unwrap().unwrap().deleted,
        "soft delete keeps the row"
    );
    let err = s.delete("Company", a).await.unwrap_err();
    assert_eq!(err.code(), Some(ReturnCode::Gone));
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = s.delete("Company", CrmId::new(9, 9)).await.unwrap_err();
    assert_eq!(err.code(), Some(ReturnCode::NotFound));

    // required field missing
    let err = s
        .write_one(
            WriteKind::Insert,
            CatalogMode::Text,
            RecordData::new("Contact").field("Subject", "x"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CrmError::Rejected { code: ReturnCode::Failed, text, .. } if text.contains("required field")),
        "{err}"
    );
    // link to a record that does not exist
    let err = s
        .write_one(
            WriteKind::Insert,
            CatalogMode::Text,
            RecordData::new("Participant")
                .field("EMail", "a@b")
                .link("Contact", CrmId::new(1, 999_999)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ReturnCode::NotFound));
    // unknown table
    let err = s
        .query(Query {
            table: TableSpec::new("Nope"),
            ..Query::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ReturnCode::BadRequest));
}

#[tokio::test]
async fn writes_are_chunked_at_ten_per_request() {
    let env = env().await;
    let c = client(&env);
    let me = rep_email(&env);
    let s = c.as_rep(&me);
    let act = s
        .insert_activity(&NewActivity::new(
            "E-mail",
            "many participants",
            date(2026, 11, 27),
        ))
        .await
        .unwrap();
    let parts: Vec<NewParticipant> = (0..23)
        .map(|i| NewParticipant {
            role: ParticipantRole::Informational,
            email: format!("p{i}@x.example"),
            person: None,
            rep: None,
            status: None,
        })
        .collect();
    let before = env.sandbox.stats().requests;
    let res = s.add_participants(act, &parts).await.unwrap();
    assert_eq!(res.len(), 23);
    assert!(res.iter().all(Result::is_ok));
    assert_eq!(env.sandbox.stats().requests - before, 3);
    assert_eq!(env.sandbox.stats().max_writes_per_request, 10);
    assert_eq!(
        s.activity(act).await.unwrap().unwrap().participants.len(),
        23
    );
}

#[tokio::test]
async fn several_commands_in_one_request_and_per_item_errors() {
    let env = env().await;
    let c = client(&env);
    let resp = c
        .execute(
            Some(&rep_email(&env)),
            vec![
                Command::Nop,
                Command::Query(Query {
                    table: TableSpec::new("Rep"),
                    condition: Some(Condition::cond("Rep", "ConnectorEnabled", Op::Eq, "false")),
                    fields: vec![FieldList::new("Rep", &["Name", "EMail1"])],
                    max_records: Some(1),
                    catalogs: CatalogMode::Text,
                }),
                Command::Write(gc_crm::codec::Write {
                    kind: WriteKind::Update,
                    catalogs: CatalogMode::Text,
                    records: vec![RecordData {
                        id: Some(CrmId::new(7, 7)),
                        ..RecordData::new("Contact")
                    }],
                }),
            ],
        )
        .await
        .unwrap();
    assert_eq!(resp.results.len(), 3);
    assert_eq!(resp.results[1].records.len(), 1);
    assert_eq!(resp.results[1].records[0].tableshort.as_deref(), Some("ID"));
    assert_eq!(resp.results[2].error().unwrap().code, Some(404));
}

/// Content served from memory, counting how often it was opened.
#[derive(Debug)]
struct Counted(Vec<u8>, std::sync::atomic::AtomicUsize);

impl gc_crm::ContentSource for Counted {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(std::io::Cursor::new(self.0.clone())))
    }
}

#[tokio::test]
async fn a_streamed_document_arrives_whole_and_is_read_anew_on_retry() {
    let env = env().await;
    let c = client(&env);
    let s = c.master();
    let act = s
        .insert_activity(&NewActivity::new("E-mail", "streamed", date(2026, 11, 27)))
        .await
        .unwrap();
    // 300,001 bytes: several pieces, and a last one that needs base64 padding
    let content: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    let source = std::sync::Arc::new(Counted(content.clone(), Default::default()));
    // the first attempt meets a server failure (511, retried): the content is read again
    env.sandbox.fail_next(1, 511, "Server failure");
    let doc = s
        .insert_document_streamed(
            act,
            "big & <odd>.bin",
            "application/octet-stream",
            source.clone(),
        )
        .await
        .unwrap();
    assert_ne!(doc, act);
    assert_eq!(source.1.load(std::sync::atomic::Ordering::SeqCst), 2);
    let docs = s.documents(act, true).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].file_name, "big & <odd>.bin");
    assert_eq!(docs[0].size, Some(300_001));
    assert_eq!(docs[0].content.as_deref(), Some(content.as_slice()));
}

/// The first nested inserts of a process run at once; one reads its key back and the others
/// wait for that answer instead of each asking again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_nested_inserts_read_one_key_back() {
    let env = env().await;
    let c = client(&env);
    let reps: Vec<String> = env
        .sandbox
        .directory()
        .mailbox_users()
        .map(|p| p.email.to_ascii_lowercase())
        .collect();
    assert!(reps.len() >= 4);
    let queries = || {
        env.sandbox
            .monitor()
            .stats()
            .crm
            .by_command
            .get("query")
            .copied()
            .unwrap_or(0)
    };
    let before = queries();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let c = c.clone();
        let rep = reps[i % reps.len()].clone();
        tasks.spawn(async move {
            let mut a = NewActivity::new("E-mail", &format!("first wave {i}"), date(2026, 11, 30));
            a.external_key = Some(NewExternalKey {
                ext_system: None,
                content_type: "application/x-mmRecord".into(),
                ext_key: format!("<wave-{i}@customer.example>"),
                mailbox: Some(rep.clone()),
            });
            c.as_rep(&rep).insert_activity(&a).await
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = tasks.join_next().await {
        ids.push(r.unwrap().unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
    assert_eq!(queries() - before, 1, "one read-back for the first wave");
}
