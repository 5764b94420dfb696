//! `[crm] time_zone`: e-mails filed with `time_zone = "Europe/Vienna"` carry Vienna's
//! wall-clock time, on both sides of both daylight saving changes (the autumn hour that
//! happens twice included).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, SYNC};
use gc_sandbox::{NewMessage, SandboxOptions};
use graph_connector::commands::sync::Runtime;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn activities_carry_the_crm_zones_wall_clock_time_across_dst_changes() {
    let env = Env::start(
        SandboxOptions {
            users: 4,
            seed: 5,
            messages_per_mailbox: 2,
            ..SandboxOptions::default()
        },
        "",
    )
    .await;
    let path = env.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("[crm]\n", "[crm]\ntime_zone = \"Europe/Vienna\"\n", 1),
    )
    .unwrap();
    let user = env.enabled_users().await.remove(0);
    let st = env.demo.sandbox.state();
    st.create_folder_path(&user, SYNC).unwrap();
    // (received, local date, local time)
    let cases = [
        ("2026-01-15T12:00:00Z", "2026-01-15", "13:00"), // CET, UTC+1
        ("2026-03-29T00:30:00Z", "2026-03-29", "01:30"), // before spring forward
        ("2026-03-29T01:30:00Z", "2026-03-29", "03:30"), // after: 02:xx does not exist
        ("2026-07-15T12:00:00Z", "2026-07-15", "14:00"), // CEST, UTC+2
        ("2026-10-25T00:30:00Z", "2026-10-25", "02:30"), // 02:30 CEST, first time
        ("2026-10-25T01:30:00Z", "2026-10-25", "02:30"), // 02:30 CET, second time
        ("2026-12-31T23:30:00Z", "2027-01-01", "00:30"), // the date moves too
    ];
    for (i, (received, _, _)) in cases.iter().enumerate() {
        st.deliver(
            &user,
            NewMessage {
                subject: format!("Time zone case {i}"),
                to: vec![user.clone()],
                body_text: Some(format!("received {received}")),
                folder: Some(SYNC.into()),
                received: Some(received.parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let config = env.config();
    assert_eq!(config.crm.time_zone.as_deref(), Some("Europe/Vienna"));
    let rt = Runtime::build(&config).await.unwrap();
    let report = rt
        .cycle(Some(&user), &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        report.total(gc_store::Kind::Email).created,
        cases.len() as u64,
        "{report:#?}"
    );

    let crm = env.crm();
    let acts = env.email_activities().await;
    for (i, (received, date, time)) in cases.iter().enumerate() {
        let subject = format!("Time zone case {i}");
        let a = acts
            .iter()
            .find(|a| a.get("Subject") == Some(subject.as_str()))
            .unwrap_or_else(|| panic!("{subject} not filed"));
        assert_eq!(
            (a.get("Date"), a.get("Time")),
            (Some(*date), Some(*time)),
            "{subject} received {received}"
        );
        // read back in the same zone; the autumn 02:30 reads as its first occurrence
        let start = crm.master().activity_start(a).unwrap();
        let expected: jiff::Timestamp = match i {
            5 => "2026-10-25T00:30:00Z".parse().unwrap(),
            _ => received.parse().unwrap(),
        };
        assert_eq!(start, expected, "{subject}");
    }
    rt.store.close().await;
}
