//! `graph-connector demo --exit` runs the whole job on the built-in sandbox and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn demo_files_messages_into_crm_and_exits() {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["demo", "--exit", "--messages", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Filed "), "{stdout}");
    assert!(
        stdout.contains("mailbox") && stdout.contains("filed"),
        "{stdout}"
    );
    assert!(stdout.contains("e-mail activities in CRM"), "{stdout}");
    let filed: u64 = stdout
        .lines()
        .find(|l| l.starts_with("total"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(filed > 10, "{stdout}");
}
