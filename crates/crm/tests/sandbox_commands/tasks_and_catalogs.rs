//! Tasks and absences; catalogs as text, by number, and added to.

use crate::common::*;
use gc_crm::codec::{CatalogMode, FieldList, Query, RecordData, TableSpec, WriteKind};
use gc_crm::{CrmError, ErrorKind, NewTask, ReturnCode};
use jiff::civil::date;

#[tokio::test]
async fn tasks_and_absences() {
    let env = env().await;
    let c = client(&env);
    let me = rep_email(&env);
    let s = c.as_rep(&me);
    let rep = s.reps_by_emails(std::slice::from_ref(&me)).await.unwrap()[0].clone();
    let seeded = s.tasks(&rep.rep_id).await.unwrap();
    assert_eq!(seeded.len(), 2);
    let id = s
        .insert_task(&NewTask {
            rep_id: rep.rep_id.clone(),
            subject: "Send contract".into(),
            text: "by Friday".into(),
            start_date: Some(date(2026, 11, 27)),
            due_date: Some(date(2026, 12, 4)),
            status: "Open".into(),
            priority: Some("High".into()),
        })
        .await
        .unwrap();
    s.update_task_status(id, "Completed", Some(100))
        .await
        .unwrap();
    let t = s
        .tasks(&rep.rep_id)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == id)
        .unwrap();
    assert_eq!(t.fields["Status"], "Completed");
    assert_eq!(t.fields["PercentComplete"], "100");
    assert_eq!(t.fields["DueDate"], "2026-12-04");

    // the admin (index 0) has a seeded absence in early December
    let abs = s
        .absences(&rep.rep_id, date(2026, 11, 25), date(2026, 12, 2))
        .await
        .unwrap();
    assert_eq!(abs.len(), 1);
    assert_eq!(abs[0].fields["Type"], "Vacation");
    assert!(
        s.absences(&rep.rep_id, date(2026, 12, 10), date(2026, 12, 20))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn catalogs_text_bynum_and_add() {
    let env = env().await;
    let c = client(&env);
    let m = c.master();
    let ct = m.catalog_values("Content Type (groupware)").await.unwrap();
    assert_eq!(ct.len(), 5);
    assert!(ct.iter().all(|v| v.code.is_some() && v.ext_key.is_some()));
    let added = m
        .add_catalog_values("Activity Type", &["Webinar"])
        .await
        .unwrap();
    assert!(added[0].is_ok());
    let dup = m
        .add_catalog_values("Activity Type", &["webinar"])
        .await
        .unwrap();
    assert_eq!(dup[0].as_ref().unwrap_err().kind(), ErrorKind::Rejected);
    assert!(
        m.catalog_values("Activity Type")
            .await
            .unwrap()
            .iter()
            .any(|v| v.text == "Webinar")
    );

    // catbynum: codes in, codes out
    let me = rep_email(&env);
    let s = c.as_rep(&me);
    let meeting = m
        .catalog_values("Activity Type")
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.text == "Meeting")
        .unwrap();
    let code = meeting.code.unwrap().to_string();
    let id = s
        .write_one(
            WriteKind::Insert,
            CatalogMode::ByNum,
            RecordData::new("Contact")
                .field("Contact", code.clone())
                .field("Date", "2026-12-01")
                .field("Subject", "bynum"),
        )
        .await
        .unwrap();
    let q = |cat| Query {
        table: TableSpec::new("Contact"),
        condition: Some(gc_crm::api::id_condition("Contact", id)),
        fields: vec![FieldList::new("Contact", &["Contact", "Subject"])],
        max_records: None,
        catalogs: cat,
    };
    assert_eq!(
        s.query(q(CatalogMode::ByNum)).await.unwrap()[0].get("Contact"),
        Some(code.as_str())
    );
    assert_eq!(
        s.query(q(CatalogMode::Text)).await.unwrap()[0].get("Contact"),
        Some("Meeting")
    );
    assert_eq!(
        s.query(q(CatalogMode::ExKeys)).await.unwrap()[0].get("Contact"),
        meeting.ext_key.as_deref()
    );
    // an unknown catalog text is rejected with the field named
    let err = s
        .write_one(
            WriteKind::Insert,
            CatalogMode::Text,
            RecordData::new("Contact")
                .field("Contact", "Séance")
                .field("Date", "2026-12-01"),
        )
        .await
        .unwrap_err();
    match err {
        CrmError::Rejected { code, field, .. } => {
            assert_eq!(code, ReturnCode::Failed);
            assert_eq!(field.as_deref(), Some("Contact"));
        }
        other => panic!("{other:?}"),
    }
}
