//! Exchange id translation (EWS ids, entry ids), in requests of at most 1,000 ids.

use gc_sandbox::SandboxOptions;

use super::{client, mailbox, start};

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
