//! `graph-connector demo --exit` runs the whole job on the built-in sandbox and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn demo_files_messages_into_crm_and_exits() {
    let child = Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["demo", "--exit", "--messages", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
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
    // The tenant was migrated from the EWS connector: its records are adopted, by how.
    assert!(stdout.contains("Adopted instead of duplicated"), "{stdout}");
    for how in ["by EWS id", "by entry id", "by content match"] {
        assert!(stdout.contains(how), "{how}: {stdout}");
    }
    let filed: u64 = stdout
        .lines()
        .find(|l| l.starts_with("total"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(filed > 10, "{stdout}");

    // the configuration (with the sandbox's secrets) is private, in a fresh directory with a
    // random name that only this user can enter
    let config = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Configuration: "))
        .map(std::path::PathBuf::from)
        .unwrap();
    let dir = config.parent().unwrap().to_path_buf();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("graph-connector-demo-"), "{name}");
    assert_ne!(name, format!("graph-connector-demo-{pid}"), "predictable");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&config), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
