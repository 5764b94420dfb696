//! Arbitrary subjects and bodies survive client → CRM sandbox → client: the sandbox parses
//! with roxmltree (strict XML 1.0) and writes its own XML, so this checks the client's
//! escaping against an independent implementation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use gc_crm::dom::sanitize;
use gc_crm::{NewActivity, NewExternalKey};
use jiff::civil::date;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("<".to_owned()),
            Just("&amp;".to_owned()),
            Just("\"'".to_owned()),
            Just("\r\n".to_owned()),
            Just("\t".to_owned()),
            Just("\u{0}\u{1}\u{1B}".to_owned()),
            Just("]]>".to_owned()),
            Just("€ 🚀".to_owned()),
            any::<String>(),
        ],
        0..8,
    )
    .prop_map(|v| v.concat())
}

#[test]
fn subjects_bodies_and_keys_round_trip_through_the_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let env = rt.block_on(env());
    let c = client(&env);
    let me = rep_email(&env);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    runner
        .run(&(text(), text(), text()), |(subject, body, key)| {
            let key = format!("k{key}");
            let stored_key = sanitize(&key).into_owned();
            rt.block_on(async {
                let s = c.as_rep(&me);
                let mut a = NewActivity::new("E-mail", &subject, date(2026, 11, 27));
                a.text = body.clone();
                a.external_key = Some(NewExternalKey {
                    ext_system: None,
                    content_type: "application/x-mmRecord".into(),
                    ext_key: key.clone(),
                    mailbox: None,
                });
                let id = s.insert_activity(&a).await.unwrap();
                let got = s.activity(id).await.unwrap().unwrap();
                assert_eq!(got.get("Subject").unwrap_or(""), sanitize(&subject));
                assert_eq!(got.get("Text").unwrap_or(""), sanitize(&body));
                let keys = s
                    .find_external_keys(Some("GraphApi"), std::slice::from_ref(&key))
                    .await
                    .unwrap();
                assert!(
                    keys.iter()
                        .any(|k| k.ext_key == stored_key
                            && k.record.as_ref().map(|r| r.1) == Some(id))
                );
            });
            Ok(())
        })
        .unwrap();
}
