//! gc-graph against the gc-sandbox tenant: tokens (secret, certificate, PFX), every AADSTS
//! switch, `check` diagnostics, delta under 30 % throttling and 10 % 5xx, resume after restart,
//! expired sync state and tokens, `$batch` with throttled sub-requests, and the mail operations
//! the sync engine uses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use gc_graph::diagnose::{CheckStatus, all_ok};
use gc_graph::models::{AttachmentKind, EventTime};
use gc_graph::{
    AssertionAlgorithm, AuthCause, BatchRequest, CertificateCredential, Credential, DeltaItem,
    ErrorKind, GraphClient, GraphOptions, MessageDeltaOptions, MessagePatch, Permission, diagnose,
};
use gc_sandbox::{FaultSpec, Sandbox, SandboxOptions};
use secrecy::SecretString;

async fn start(opts: SandboxOptions) -> Sandbox {
    gc_sandbox::start(opts).await.unwrap()
}

fn options(sb: &Sandbox, credential: Credential) -> GraphOptions {
    let c = sb.credentials();
    let mut o = GraphOptions::new(c.tenant_id.clone(), c.client_id.clone(), credential)
        .with_urls(sb.url(), sb.url());
    o.base_backoff = Duration::from_millis(50);
    o.max_backoff = Duration::from_secs(5);
    o.max_retries = 30;
    o.extra_ca_pem = sb.ca_pem().map(|p| p.as_bytes().to_vec());
    o
}

fn client(sb: &Sandbox) -> GraphClient {
    GraphClient::new(options(
        sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    ))
    .unwrap()
}

fn mailbox(sb: &Sandbox) -> String {
    sb.directory().mailbox_users().next().unwrap().email.clone()
}

/// Walk a whole delta round; returns (changed ids in order, removed ids, deltaLink).
async fn walk(
    mut s: gc_graph::PageStream<DeltaItem<gc_graph::models::Message>>,
) -> (Vec<String>, Vec<String>, String) {
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    let mut delta = None;
    while let Some(page) = s.next_page().await {
        let page = page.unwrap();
        for item in page.items {
            match item.unwrap() {
                DeltaItem::Changed(m) => changed.push(m.id),
                DeltaItem::Removed { id, .. } => removed.push(id),
            }
        }
        delta = page.delta_link;
    }
    (changed, removed, delta.unwrap())
}

#[tokio::test]
async fn token_is_cached_and_carries_the_granted_roles() {
    let sb = start(SandboxOptions::default()).await;
    let c = client(&sb);
    let before = jiff::Timestamp::now();
    let t1 = c.access_token().await.unwrap();
    let after = jiff::Timestamp::now();
    let t2 = c.access_token().await.unwrap();
    assert_eq!(t1.expose(), t2.expose());
    assert_eq!(c.tokens().fetch_count(), 1);
    let roles = t1.roles.clone().unwrap();
    for p in Permission::REQUIRED {
        assert!(p.granted_by(&roles), "{p} granted by default: {roles:?}");
    }
    // Entra's lifetime (3599 s), counted from the fetch
    let lifetime = jiff::SignedDuration::from_secs(3599);
    assert!(t1.expires_on >= before + lifetime && t1.expires_on <= after + lifetime);
    let me = mailbox(&sb);
    c.get_user(&me).await.unwrap();
    c.get_user(&me).await.unwrap();
    assert_eq!(c.tokens().fetch_count(), 1, "one token for several calls");
}

#[tokio::test]
async fn short_lived_and_revoked_tokens_are_replaced() {
    let sb = start(SandboxOptions {
        token_lifetime: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let c = client(&sb);
    let me = mailbox(&sb);
    c.get_user(&me).await.unwrap();
    let fetched = c.tokens().fetch_count();
    assert!(fetched >= 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // The replacement is long-lived, so that it cannot expire again in flight on a slow
    // machine: exactly one more fetch.
    sb.state()
        .auth()
        .set_token_lifetime(Duration::from_secs(3599));
    c.get_user(&me).await.unwrap();
    assert_eq!(
        c.tokens().fetch_count(),
        fetched + 1,
        "expired token refreshed before use"
    );
    c.get_user(&me).await.unwrap();
    let before = c.tokens().fetch_count();
    sb.state().auth().revoke_tokens();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.get_user(&me).await.unwrap();
    assert_eq!(
        c.tokens().fetch_count(),
        before + 1,
        "a 401 replaces the revoked token once"
    );
}

#[tokio::test]
async fn certificate_credentials_pem_rs256_and_pfx() {
    let sb = start(SandboxOptions::default()).await;
    let (cert, key) = gc_sandbox::demo_client_certificate();
    let key = SecretString::from(key.to_owned());
    let me = mailbox(&sb);

    let ps = CertificateCredential::from_pem(cert.as_bytes(), &key).unwrap();
    let c = GraphClient::new(options(&sb, Credential::Certificate(Arc::new(ps)))).unwrap();
    c.get_user(&me).await.unwrap();

    let rs = CertificateCredential::from_pem(cert.as_bytes(), &key)
        .unwrap()
        .with_algorithm(AssertionAlgorithm::Rs256);
    let c = GraphClient::new(options(&sb, Credential::Certificate(Arc::new(rs)))).unwrap();
    c.get_user(&me).await.unwrap();

    // A certificate that is not registered is refused with a certificate cause.
    let pfx = CertificateCredential::from_pfx(
        include_bytes!("fixtures/test.pfx"),
        &SecretString::from("test-password"),
    )
    .unwrap();
    let pfx = Arc::new(pfx);
    let c = GraphClient::new(options(&sb, Credential::Certificate(pfx.clone()))).unwrap();
    let err = c.get_user(&me).await.unwrap_err();
    match err.kind() {
        ErrorKind::Authentication(
            AuthCause::BadCertificateAssertion | AuthCause::CertificateNotRegistered,
        ) => {}
        other => panic!("unexpected {other:?}: {err}"),
    }
    // Once registered, the PFX works.
    sb.state()
        .auth()
        .register_certificate(include_str!("fixtures/test-cert.pem"))
        .unwrap();
    let c = GraphClient::new(options(&sb, Credential::Certificate(pfx))).unwrap();
    c.get_user(&me).await.unwrap();
}

#[tokio::test]
async fn each_aadsts_failure_names_its_cause() {
    let sb = start(SandboxOptions::default()).await;
    type Switch = fn(&gc_sandbox::AuthControl<'_>, bool);
    let table: [(Switch, AuthCause, &str, &str); 4] = [
        (
            |a, on| a.set_secret_expired(on),
            AuthCause::ExpiredSecret,
            "client secret has expired",
            "create a new client secret",
        ),
        (
            |a, on| a.set_secret_invalid(on),
            AuthCause::InvalidSecret,
            "client secret is wrong",
            "Value (not its Secret ID)",
        ),
        (
            |a, on| a.set_app_unknown(on),
            AuthCause::UnknownApplication,
            "no application with this client id",
            "check tenant_id and client_id",
        ),
        (
            |a, on| a.set_tenant_unknown(on),
            AuthCause::UnknownTenant,
            "tenant id or domain does not exist",
            "check tenant_id",
        ),
    ];
    for (switch, cause, text, fix) in table {
        switch(&sb.state().auth(), true);
        let c = client(&sb);
        let err = c.access_token().await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Authentication(cause.clone()),
            "{err}"
        );
        assert!(err.to_string().contains(text), "{err}");
        assert!(
            !err.to_string().contains(&sb.credentials().client_secret),
            "secret never in errors"
        );
        let report = diagnose(&c, Some(&mailbox(&sb))).await;
        assert_eq!(report[0].status, CheckStatus::Failed);
        assert!(
            report[0].cause.as_deref().unwrap().contains(text),
            "{:?}",
            report[0]
        );
        assert!(
            report[0].fix.as_deref().unwrap().contains(fix),
            "{:?}",
            report[0]
        );
        assert!(report[1..].iter().all(|d| d.status == CheckStatus::Skipped));
        assert!(!all_ok(&report));
        switch(&sb.state().auth(), false);
    }
    // Wrong client id in the configuration.
    let mut o = options(
        &sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    );
    o.client_id = "00000000-0000-0000-0000-000000000000".into();
    let err = GraphClient::new(o)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Authentication(AuthCause::UnknownApplication)
    );
}

#[tokio::test]
async fn check_passes_on_a_healthy_tenant_and_names_each_failure() {
    let sb = start(SandboxOptions::default()).await;
    let c = client(&sb);
    let me = mailbox(&sb);
    let report = diagnose(&c, Some(&me)).await;
    for d in &report {
        assert_eq!(d.status, CheckStatus::Ok, "{d}");
    }
    assert!(all_ok(&report));
    assert!(report.iter().any(|d| d.name == "permission Mail.ReadWrite"));
    assert!(report.iter().any(|d| d.name == format!("To Do of {me}")));

    // Missing consent.
    sb.state().auth().remove_role("Calendars.ReadWrite");
    let c = client(&sb);
    let report = diagnose(&c, Some(&me)).await;
    let perm = report
        .iter()
        .find(|d| d.name == "permission Calendars.ReadWrite")
        .unwrap();
    assert_eq!(perm.status, CheckStatus::Failed);
    assert_eq!(
        perm.cause.as_deref(),
        Some("admin consent not granted for Calendars.ReadWrite")
    );
    let cal = report
        .iter()
        .find(|d| d.name == format!("calendar of {me}"))
        .unwrap();
    assert_eq!(cal.status, CheckStatus::Failed, "{cal}");
    assert!(
        cal.cause
            .as_deref()
            .unwrap()
            .contains("Calendars.ReadWrite"),
        "{cal}"
    );
    assert!(!all_ok(&report));
    sb.state().auth().reset();

    // A user without an Exchange mailbox.
    let unlicensed = sb.directory().user_without_mailbox().unwrap().email.clone();
    let report = diagnose(&client(&sb), Some(&unlicensed)).await;
    let mail = report
        .iter()
        .find(|d| d.name == format!("mail folders of {unlicensed}"))
        .unwrap();
    assert_eq!(mail.status, CheckStatus::Failed, "{mail}");
    assert!(
        mail.cause
            .as_deref()
            .unwrap()
            .contains("no Exchange Online mailbox"),
        "{mail}"
    );

    // A mailbox that does not exist.
    let report = diagnose(&client(&sb), Some("nobody@nowhere.invalid")).await;
    let user = report
        .iter()
        .find(|d| d.name == "user nobody@nowhere.invalid")
        .unwrap();
    assert_eq!(
        user.cause.as_deref(),
        Some("mailbox nobody@nowhere.invalid does not exist")
    );
}

#[tokio::test]
async fn delta_under_throttling_and_5xx_delivers_every_item_once() {
    let sb = start(SandboxOptions {
        messages_per_mailbox: 150,
        ..Default::default()
    })
    .await;
    let me = mailbox(&sb);
    let expected: HashSet<String> = sb
        .state()
        .messages(&me, "inbox")
        .unwrap()
        .into_iter()
        .map(|m| m.immutable_id)
        .collect();
    assert!(
        expected.len() > 20,
        "enough messages for several pages: {}",
        expected.len()
    );
    sb.faults()
        .set_spec("429=0.3,503=0.05,504=0.05".parse::<FaultSpec>().unwrap());
    let mut o = options(
        &sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    );
    o.page_size = Some(10);
    let c = GraphClient::new(o).unwrap();
    let (changed, removed, _delta) =
        walk(c.message_delta(&me, "inbox", &MessageDeltaOptions::default())).await;
    let unique: HashSet<String> = changed.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        changed.len(),
        "no duplicates from retried pages"
    );
    assert_eq!(unique, expected, "every item arrives");
    assert!(removed.is_empty());
    let stats = c.stats();
    assert!(
        stats.throttled > 0 && stats.retries > 0,
        "faults were met and retried: {stats:?}"
    );
}

#[tokio::test]
async fn delta_resumes_from_a_persisted_checkpoint_after_restart() {
    let sb = start(SandboxOptions {
        messages_per_mailbox: 120,
        ..Default::default()
    })
    .await;
    let me = mailbox(&sb);
    let expected: HashSet<String> = sb
        .state()
        .messages(&me, "inbox")
        .unwrap()
        .into_iter()
        .map(|m| m.immutable_id)
        .collect();
    let mut o = options(
        &sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    );
    o.page_size = Some(7);
    let select = MessageDeltaOptions {
        select: Some(
            "id,subject,receivedDateTime,internetMessageId,categories,parentFolderId".into(),
        ),
        ..Default::default()
    };

    // First process: two pages, checkpoint persisted after each, then "crash".
    let mut seen: Vec<String> = Vec::new();
    let checkpoint = {
        let c = GraphClient::new(o.clone()).unwrap();
        let mut s = c.message_delta(&me, "inbox", &select);
        let mut cp = String::new();
        for _ in 0..2 {
            let page = s.next_page().await.unwrap().unwrap();
            cp = page.checkpoint().unwrap().to_owned();
            seen.extend(
                page.items
                    .into_iter()
                    .map(|i| i.unwrap().changed().unwrap().id.clone()),
            );
        }
        cp
    };
    assert!(
        checkpoint.contains("skiptoken") || checkpoint.contains("skipToken"),
        "a nextLink"
    );

    // Second process resumes from the stored link.
    let c = GraphClient::new(o.clone()).unwrap();
    let (rest, _, delta_link) = walk(c.resume_message_delta(&me, &checkpoint)).await;
    seen.extend(rest);
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len());
    assert_eq!(unique, expected);

    // Changes after the round show up in the next round only.
    let new_id = sb
        .state()
        .deliver(
            &me,
            gc_sandbox::NewMessage {
                subject: "fresh".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let crm = c.ensure_mail_folder(&me, "/Inbox/crm").await.unwrap();
    let moved_away = seen[0].clone();
    let moved = c.move_message(&me, &moved_away, &crm.id).await.unwrap();
    assert_eq!(moved.id, moved_away, "immutable id survives the move");
    let (changed, removed, next_delta) = walk(c.resume_message_delta(&me, &delta_link)).await;
    assert_eq!(changed, vec![new_id]);
    assert_eq!(removed, vec![moved_away.clone()]);
    assert_ne!(next_delta, delta_link);

    // The moved message appears in the target folder's delta with the same id.
    let (in_crm, _, _) = walk(c.message_delta(&me, &crm.id, &select)).await;
    assert!(in_crm.contains(&moved_away));
}

#[tokio::test]
async fn expired_sync_state_is_its_own_error_kind() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    let (_, _, delta_link) =
        walk(c.message_delta(&me, "inbox", &MessageDeltaOptions::default())).await;
    let http = reqwest::Client::builder().build().unwrap();
    let resp = http
        .post(format!("{}/_sandbox/sync-state/expire", sb.url()))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let mut s = c.resume_message_delta(&me, &delta_link);
    let err = s.next_page().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SyncStateExpired, "{err}");
    assert!(err.is_sync_state_expired());
    assert!(s.next_page().await.is_none());
    // Re-enumerating from scratch works.
    let (all, _, _) = walk(c.message_delta(&me, "inbox", &MessageDeltaOptions::default())).await;
    assert!(!all.is_empty());
}

#[tokio::test]
async fn batch_retries_sub_requests_throttled_inside_it() {
    let sb = start(SandboxOptions {
        messages_per_mailbox: 80,
        ..Default::default()
    })
    .await;
    let me = mailbox(&sb);
    let ids: Vec<String> = sb
        .state()
        .messages(&me, "inbox")
        .unwrap()
        .into_iter()
        .map(|m| m.immutable_id)
        .take(30)
        .collect();
    assert!(ids.len() >= 21, "more than one batch");
    sb.faults()
        .set_spec("429=0.3".parse::<FaultSpec>().unwrap());
    let c = client(&sb);
    let user = sb.directory().mailbox_users().next().unwrap().id.clone();
    let reqs: Vec<BatchRequest> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            BatchRequest::get(
                i.to_string(),
                format!("/users/{user}/messages/{id}?$select=id,subject"),
            )
        })
        .collect();
    let out = c.batch(Some(&me), reqs).await.unwrap();
    assert_eq!(out.len(), ids.len());
    for (r, id) in out.iter().zip(&ids) {
        assert_eq!(r.status, 200, "{r:?}");
        let m: gc_graph::models::Message = r.json().unwrap();
        assert_eq!(&m.id, id);
    }
    assert!(
        out.iter().any(|r| r.attempts > 1),
        "some sub-requests were throttled and retried"
    );
}

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

#[tokio::test]
async fn calendar_contacts_and_todo_read() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    let now = jiff::Timestamp::now();
    let start = now - jiff::SignedDuration::from_hours(24 * 60);
    let end = now + jiff::SignedDuration::from_hours(24 * 120);
    let mut events = Vec::new();
    let mut s = c.event_delta(&me, start, end);
    while let Some(page) = s.next_page().await {
        for item in page.unwrap().items {
            if let DeltaItem::Changed(e) = item.unwrap() {
                events.push(e);
            }
        }
    }
    assert!(!events.is_empty(), "the sandbox seeds events");
    let mut kinds: HashMap<bool, usize> = HashMap::new();
    for e in &events {
        let t = e.time().unwrap();
        *kinds
            .entry(matches!(t, EventTime::AllDay { .. }))
            .or_default() += 1;
        if let EventTime::Timed { start, end } = t {
            assert!(start <= end, "{e:?}");
        }
    }
    assert!(kinds.get(&false).copied().unwrap_or(0) > 0);

    let folders = c.list_contact_folders(&me).await.unwrap();
    let crm_contacts = c.create_contact_folder(&me, "CRM contacts").await.unwrap();
    assert_eq!(
        c.create_contact_folder(&me, "CRM contacts")
            .await
            .unwrap()
            .id,
        crm_contacts.id
    );
    assert!(
        c.list_contact_folders(&me).await.unwrap().len() > folders.len()
            || folders.iter().any(|f| f.id == crm_contacts.id)
    );
    let seeded: HashSet<String> = sb
        .state()
        .contacts(&me)
        .unwrap()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let contacts = c.list_contacts(&me, None).collect_ok().await.unwrap();
    assert!(
        contacts.iter().all(|x| seeded.contains(&x.id)),
        "ids match the tenant's contacts"
    );

    let lists = c.list_todo_lists(&me).await.unwrap();
    assert!(!lists.is_empty());
    let crm = c.create_todo_list(&me, "CRM").await.unwrap();
    assert_eq!(c.create_todo_list(&me, "CRM").await.unwrap().id, crm.id);
}

#[tokio::test]
async fn events_written_in_windows_zones_read_back_as_the_same_instants() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    // Table: (local start, local end, zone) including the Berlin spring-forward gap and the
    // US fall-back overlap.
    let table = [
        (
            "2026-03-29T02:30:00",
            "2026-03-29T04:00:00",
            "W. Europe Standard Time",
        ),
        (
            "2026-07-01T09:00:00",
            "2026-07-01T10:00:00",
            "W. Europe Standard Time",
        ),
        (
            "2026-11-01T01:30:00",
            "2026-11-01T02:30:00",
            "Eastern Standard Time",
        ),
        (
            "2026-01-15T23:30:00",
            "2026-01-16T00:30:00",
            "Tokyo Standard Time",
        ),
        (
            "2026-06-15T12:00:00",
            "2026-06-15T13:00:00",
            "Europe/Berlin",
        ),
    ];
    for (s, e, zone) in table {
        let body = serde_json::json!({
            "subject": format!("tz {zone} {s}"),
            "start": {"dateTime": s, "timeZone": zone},
            "end": {"dateTime": e, "timeZone": zone},
        });
        let created = c.create_event(&me, &body).await.unwrap();
        let read = c.get_event(&me, &created.id, None).await.unwrap();
        // Reads come in UTC (Prefer: outlook.timezone="UTC").
        assert_eq!(
            read.start
                .as_ref()
                .unwrap()
                .time_zone
                .as_deref()
                .map(str::to_ascii_uppercase),
            Some("UTC".into())
        );
        let want_start = gc_graph::tz::to_timestamp(s, Some(zone)).unwrap();
        let want_end = gc_graph::tz::to_timestamp(e, Some(zone)).unwrap();
        assert_eq!(
            read.time().unwrap(),
            EventTime::Timed {
                start: want_start,
                end: want_end
            },
            "{zone} {s}"
        );
    }
    // All-day events stay dates.
    let body = serde_json::json!({
        "subject": "holiday",
        "isAllDay": true,
        "start": {"dateTime": "2026-12-24T00:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2026-12-26T00:00:00", "timeZone": "Pacific Standard Time"},
    });
    let created = c.create_event(&me, &body).await.unwrap();
    let read = c.get_event(&me, &created.id, None).await.unwrap();
    assert_eq!(
        read.time().unwrap(),
        EventTime::AllDay {
            start: jiff::civil::date(2026, 12, 24),
            end: jiff::civil::date(2026, 12, 26)
        }
    );
    // Update and delete.
    let updated = c
        .update_event(
            &me,
            &created.id,
            &serde_json::json!({"subject": "holidays"}),
        )
        .await
        .unwrap();
    assert_eq!(updated.subject.as_deref(), Some("holidays"));
    c.delete_event(&me, &created.id).await.unwrap();
    assert_eq!(
        c.get_event(&me, &created.id, None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn recurring_series_expand_into_occurrences() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    let body = serde_json::json!({
        "subject": "weekly sync",
        "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-12-01T10:30:00", "timeZone": "W. Europe Standard Time"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"], "firstDayOfWeek": "monday"},
            "range": {"type": "numbered", "startDate": "2026-12-01", "numberOfOccurrences": 4, "recurrenceTimeZone": "W. Europe Standard Time"}
        }
    });
    let master = c.create_event(&me, &body).await.unwrap();
    assert_eq!(
        master.event_type,
        Some(gc_graph::models::EventType::SeriesMaster)
    );
    let from = "2026-11-30T00:00:00Z".parse().unwrap();
    let to = "2027-01-31T00:00:00Z".parse().unwrap();
    let occurrences = c
        .event_instances(&me, &master.id, from, to)
        .collect_ok()
        .await
        .unwrap();
    assert_eq!(occurrences.len(), 4);
    for o in &occurrences {
        assert_eq!(o.series_master_id.as_deref(), Some(master.id.as_str()));
        assert_eq!(o.event_type, Some(gc_graph::models::EventType::Occurrence));
        let EventTime::Timed { start, .. } = o.time().unwrap() else {
            panic!("timed")
        };
        // 10:00 in Berlin winter time is 09:00 UTC.
        assert_eq!(start.to_zoned_datetime(jiff::tz::TimeZone::UTC).hour(), 9);
    }
    // The calendarView delta over the window lists the occurrences, not the master.
    let mut seen = Vec::new();
    let mut s = c.event_delta(&me, from, to);
    while let Some(page) = s.next_page().await {
        for item in page.unwrap().items {
            if let DeltaItem::Changed(e) = item.unwrap()
                && e.series_master_id.as_deref() == Some(master.id.as_str())
            {
                seen.push(e.id);
            }
        }
    }
    assert_eq!(seen.len(), 4);
}

#[tokio::test]
async fn tls_sandbox_needs_its_ca_and_works_with_it() {
    let sb = start(SandboxOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    assert!(sb.url().starts_with("https://"));
    let me = mailbox(&sb);
    // options() passes the sandbox CA as extra_ca_pem.
    client(&sb).get_user(&me).await.unwrap();
    let mut without = options(
        &sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    );
    without.extra_ca_pem = None;
    without.max_retries = 1;
    let err = GraphClient::new(without)
        .unwrap()
        .get_user(&me)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
}

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

#[tokio::test]
async fn translate_exchange_ids_of_ews_and_entry_ids_in_batches() {
    use gc_graph::ops::ids::ExchangeIdFormat as F;
    let sb = start(SandboxOptions {
        users: 3,
        messages_per_mailbox: 3,
        ..SandboxOptions::default()
    })
    .await;
    let g = client(&sb);
    let u = mailbox(&sb);
    let m = sb.state().messages(&u, "inbox").unwrap().remove(0);
    // an EWS id is the REST id with `/` and `+` (Office.js convertToEwsId)
    let ews = m.rest_id.replace('-', "/").replace('_', "+");
    let out = g
        .translate_exchange_ids(
            &u,
            &[ews.clone(), "AAMkADnothing/+AAA=".into()],
            F::EwsId,
            F::RestImmutableEntryId,
        )
        .await
        .unwrap();
    assert_eq!(out[0].source, ews);
    assert_eq!(out[0].target.as_deref(), Some(m.immutable_id.as_str()));
    assert_eq!(out[1].target, None, "an unknown id has no target");
    // entry ids round-trip through the documented URL-safe form
    let entry = g
        .translate_exchange_ids(
            &u,
            std::slice::from_ref(&m.immutable_id),
            F::RestImmutableEntryId,
            F::EntryId,
        )
        .await
        .unwrap()
        .remove(0)
        .target
        .unwrap();
    let back = g
        .translate_exchange_ids(&u, &[entry], F::EntryId, F::RestImmutableEntryId)
        .await
        .unwrap()
        .remove(0)
        .target;
    assert_eq!(back.as_deref(), Some(m.immutable_id.as_str()));
    // more than 1,000 ids: several requests, one answer per id in the input's order
    let mut many: Vec<String> = (0..1200)
        .map(|i| format!("AAMkADunknown{i:04}AAA="))
        .collect();
    many[1100] = ews.clone();
    let out = g
        .translate_exchange_ids(&u, &many, F::EwsId, F::RestImmutableEntryId)
        .await
        .unwrap();
    assert_eq!(out.len(), 1200);
    assert_eq!(out[1100].target.as_deref(), Some(m.immutable_id.as_str()));
    assert_eq!(out.iter().filter(|t| t.target.is_some()).count(), 1);
    sb.shutdown().await;
}
