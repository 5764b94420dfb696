//! Contact and To Do task deltas, with writes in between.

use gc_graph::DeltaItem;
use gc_sandbox::SandboxOptions;

use super::{client, mailbox, start};

#[tokio::test]
async fn contact_and_todo_deltas_round_trip() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    let folder = c.create_contact_folder(&me, "CRM").await.unwrap();
    let created = c
        .create_contact(
            &me,
            Some(&folder.id),
            &gc_graph::models::Contact {
                given_name: Some("Ada".into()),
                surname: Some("Lovelace".into()),
                email_addresses: Some(vec![gc_graph::models::EmailAddress {
                    name: Some("Ada".into()),
                    address: Some("ada@example.org".into()),
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut s = c.contact_delta(&me, Some(&folder.id), None);
    let mut ids = Vec::new();
    let mut delta_link = None;
    while let Some(page) = s.next_page().await {
        let page = page.unwrap();
        delta_link = page.delta_link.clone();
        ids.extend(
            page.items
                .into_iter()
                .filter_map(|i| i.unwrap().changed().map(|x| x.id.clone())),
        );
    }
    assert_eq!(ids, vec![created.id.clone()]);
    c.delete_contact(&me, &created.id).await.unwrap();
    let mut next = c.resume::<gc_graph::models::Contact>(Some(&me), &delta_link.unwrap());
    let page = next.next_page().await.unwrap().unwrap();
    assert!(matches!(&page.items[0], Ok(DeltaItem::Removed { id, .. }) if *id == created.id));

    let list = c.create_todo_list(&me, "CRM tasks").await.unwrap();
    let task = c
        .create_todo_task(
            &me,
            &list.id,
            &serde_json::json!({
                "title": "Call back",
                "dueDateTime": {"dateTime": "2026-12-03T00:00:00.0000000", "timeZone": "UTC"},
                "linkedResources": [{"applicationName": "CRM", "displayName": "Activity 7", "externalId": "7", "webUrl": "https://crm.example/7"}]
            }),
        )
        .await
        .unwrap();
    assert_eq!(task.due_date(), Some(jiff::civil::date(2026, 12, 3)));
    let mut s = c.todo_task_delta(&me, &list.id);
    let mut titles = Vec::new();
    while let Some(page) = s.next_page().await {
        titles.extend(
            page.unwrap()
                .items
                .into_iter()
                .filter_map(|i| i.unwrap().changed().and_then(|t| t.title.clone())),
        );
    }
    assert_eq!(titles, vec!["Call back"]);
    let done = c
        .update_todo_task(
            &me,
            &list.id,
            &task.id,
            &serde_json::json!({"status": "completed"}),
        )
        .await
        .unwrap();
    assert_eq!(done.status.as_deref(), Some("completed"));
    let tasks = c.list_todo_tasks(&me, &list.id).collect_ok().await.unwrap();
    assert_eq!(
        tasks[0].linked_resources.as_ref().unwrap()[0]
            .external_id
            .as_deref(),
        Some("7")
    );
}
