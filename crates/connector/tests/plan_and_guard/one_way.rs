//! `plan` against `sync --once` one way (calendars to CRM, with e-mail alongside), over two
//! rounds: the plan is what the sync does, number for number, and writes nothing. Apart from
//! the two-way test, whose CRM side and shared meetings need helpers of their own.

use std::collections::BTreeMap;

use gc_sandbox::SandboxOptions;

use super::APPOINTMENTS;
use super::counts::{assert_as_planned, checked_plan, plan_totals, sync_totals};
use super::harness::{events, graph, json_of, store};
use crate::common::{self, Env, new_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plan_says_what_the_next_sync_does_and_writes_nothing() {
    let env = Env::start(
        SandboxOptions {
            users: 4,
            seed: 16,
            messages_per_mailbox: 4,
            ..SandboxOptions::default()
        },
        // Calendars to CRM only, with e-mail alongside; both directions, with the copies a
        // CRM meeting's invitations make, are the next test's.
        &format!("{APPOINTMENTS}direction = \"microsoft365_to_crm\"\n"),
    )
    .await;
    env.file_all_inbox(3);
    let g = graph(&env);
    let s = store(&env).await;

    for round in 1..=2 {
        let plans = checked_plan(&env, s.as_ref(), round).await;
        let planned = plan_totals(&plans);
        assert!(planned.contains_key("email") && planned.contains_key("appointment"));
        let report = json_of(&env, &["sync", "--once", "--json"], &[]);
        assert_eq!(
            planned,
            sync_totals(&report),
            "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
        );
        assert_as_planned(round, &plans, &report, &BTreeMap::new());
        if round == 1 {
            assert!(
                planned["email"][0] > 0 && planned["appointment"][0] > 0,
                "{planned:?}"
            );
            // Work for the second round: more filed messages, a new event, a deleted one,
            // an edited CRM appointment.
            for u in env.users() {
                let st = env.demo.sandbox.state();
                if let Ok(msgs) = st.messages(&u, "inbox")
                    && let Some(m) = msgs.first()
                {
                    st.file_message(&u, &m.immutable_id, common::SYNC).unwrap();
                }
            }
            let user = &env.users()[1];
            new_event(&g, user, "Planned new meeting", 3).await;
            let own: Vec<_> = events(&g, user)
                .await
                .into_iter()
                .filter(|e| {
                    e.subject
                        .as_deref()
                        .is_some_and(|s| s.starts_with("Call with"))
                })
                .collect();
            if let Some(e) = own.first() {
                g.delete_event(user, &e.id).await.unwrap();
            }
        } else {
            assert!(
                planned.values().any(|t| t.iter().any(|n| *n > 0)),
                "the second round has work: {planned:?}"
            );
        }
    }
}
