//! The mail operations the sync engine uses: folders by path, MIME, attachments, PATCH, move,
//! delete, notifications, categories and users.

use gc_graph::models::AttachmentKind;
use gc_graph::{ErrorKind, MessagePatch};
use gc_sandbox::SandboxOptions;

use super::{client, mailbox, start};

#[tokio::test]
async fn mail_operations_the_sync_engine_uses() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);

    // Folder by path, created idempotently, found language-independently.
    assert!(
        c.find_mail_folder(&me, "/Inbox/crm")
            .await
            .unwrap()
            .is_none()
    );
    let f1 = c.ensure_mail_folder(&me, "/Inbox/crm").await.unwrap();
    let f2 = c.ensure_mail_folder(&me, "/inbox/CRM").await.unwrap();
    assert_eq!(f1.id, f2.id);
    let inbox = c.get_mail_folder(&me, "inbox").await.unwrap();
    let again = c
        .create_mail_folder(&me, Some(&inbox.id), "crm")
        .await
        .unwrap();
    assert_eq!(again.id, f1.id, "create is idempotent");
    assert_eq!(
        c.find_mail_folder(&me, "/Inbox/crm")
            .await
            .unwrap()
            .unwrap()
            .id,
        f1.id
    );

    // A message with an attachment: MIME, attachments, patch, move.
    let id = sb
        .state()
        .deliver(
            &me,
            gc_sandbox::NewMessage {
                subject: "Quote 42".into(),
                body_text: Some("see attachment".into()),
                attachments: vec![(
                    "quote.pdf".into(),
                    "application/pdf".into(),
                    b"%PDF-1.4 test".to_vec(),
                )],
                ..Default::default()
            },
        )
        .unwrap();
    let m = c
        .get_message(&me, &id, Some("id,subject,internetMessageId,conversationId,internetMessageHeaders,hasAttachments,parentFolderId,changeKey"), None)
        .await
        .unwrap();
    assert_eq!(m.subject.as_deref(), Some("Quote 42"));
    assert!(m.internet_message_id.is_some());
    assert_eq!(m.has_attachments, Some(true));
    async fn read_all(mut d: gc_graph::Download) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(piece) = d.chunk().await.unwrap() {
            out.extend_from_slice(&piece);
        }
        out
    }
    let mime = read_all(c.download_message_mime(&me, &id, 1 << 20).await.unwrap()).await;
    let text = String::from_utf8_lossy(&mime);
    assert!(text.contains("Subject: Quote 42"), "{text}");
    let atts: Vec<_> = c
        .list_attachment_metadata(&me, &id)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].kind(), AttachmentKind::File);
    assert!(atts[0].content_bytes.is_none(), "metadata only");
    let one = c.get_attachment(&me, &id, &atts[0].id).await.unwrap();
    assert_eq!(one.decode_content().unwrap().unwrap(), b"%PDF-1.4 test");
    let raw = read_all(
        c.download_attachment_content(&me, &id, &atts[0].id, 1 << 20)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(&raw[..], b"%PDF-1.4 test");

    let prop = gc_graph::models::SingleValueExtendedProperty::named_string(
        "66f5a359-4659-4830-9070-00040ec6ac6e",
        "CrmId",
        "A-1",
    );
    let patched = c
        .update_message(
            &me,
            &id,
            &MessagePatch {
                categories: Some(vec!["CRM".into()]),
                is_read: Some(true),
                single_value_extended_properties: Some(vec![prop.clone()]),
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.categories.as_deref(), Some(&["CRM".to_owned()][..]));
    let summary = sb.state().message(&me, &id).unwrap();
    assert!(summary.is_read);
    assert_eq!(summary.categories, vec!["CRM"]);
    assert!(
        summary
            .extended_properties
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(&prop.id) && v == "A-1")
    );
    let moved = c.move_message(&me, &id, &f1.id).await.unwrap();
    assert_eq!(moved.id, id);
    assert_eq!(moved.parent_folder_id.as_deref(), Some(f1.id.as_str()));
    // Filing's calls that do not read the message back do the same.
    c.update_message_only(
        &me,
        &id,
        &MessagePatch {
            categories: Some(vec!["CRM".into(), "Filed".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        sb.state().message(&me, &id).unwrap().categories,
        vec!["CRM", "Filed"]
    );
    c.move_message_only(&me, &id, "inbox").await.unwrap();
    assert!(
        sb.state()
            .messages(&me, "inbox")
            .unwrap()
            .iter()
            .any(|m| m.immutable_id == id),
        "moved back to the Inbox"
    );
    let doomed = sb
        .state()
        .deliver(
            &me,
            gc_sandbox::NewMessage {
                subject: "bye".into(),
                ..Default::default()
            },
        )
        .unwrap();
    c.delete_message(&me, &doomed).await.unwrap();
    let gone = sb
        .state()
        .messages(&me, "deleteditems")
        .unwrap()
        .into_iter()
        .find(|m| m.immutable_id == doomed);
    assert!(gone.is_some(), "deleted messages move to Deleted Items");
    let bogus = c
        .get_message(&me, "AAMkAGnotthere", None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(bogus.kind(), ErrorKind::NotFound | ErrorKind::Permanent),
        "{bogus}"
    );
    let unknown_user = c.get_user("nobody@nowhere.invalid").await.unwrap_err();
    assert_eq!(unknown_user.kind(), ErrorKind::NotFound);

    // Notification written into the inbox (no Mail.Send needed).
    let note = gc_graph::NewMessage {
        subject: "Connector: 1 item failed".into(),
        body: gc_graph::models::ItemBody::text("details"),
        to_recipients: vec![gc_graph::models::Recipient::address(me.clone())],
        ..Default::default()
    };
    let created = c.create_message(&me, "inbox", &note).await.unwrap();
    assert_eq!(created.subject.as_deref(), Some("Connector: 1 item failed"));

    // Categories, idempotent.
    let cat = c.create_category(&me, "CRM", "preset9").await.unwrap();
    let cat2 = c.create_category(&me, "CRM", "preset9").await.unwrap();
    assert_eq!(cat.id, cat2.id);
    assert!(
        c.list_categories(&me)
            .await
            .unwrap()
            .iter()
            .any(|x| x.display_name.as_deref() == Some("CRM"))
    );

    // Users.
    let u = c
        .find_user_by_mail(&me.to_uppercase())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        u.mail.as_deref().map(str::to_ascii_lowercase),
        Some(me.to_ascii_lowercase())
    );
    let all: Vec<_> = c.list_users(None).collect_ok().await.unwrap();
    assert!(all.len() >= 10);
}
