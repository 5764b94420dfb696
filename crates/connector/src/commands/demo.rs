//! `graph-connector demo`: the product's main job on the built-in sandbox. Starts a local
//! Microsoft 365 tenant and CRM.interface, files messages into the users' sync folders as they
//! would in Outlook, synchronizes them with progress bars, prints what landed in CRM, and keeps
//! the sandbox running with instructions to try more (until Ctrl-C; `--exit` for scripts).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use gc_sandbox::{NewMessage, Sandbox, SandboxOptions};

use crate::cli::DemoArgs;
use crate::commands::sync::{Bars, Runtime, table};
use crate::config;

/// A running sandbox with CRM.interface, and a configuration file pointing at it.
pub struct DemoSandbox {
    /// The tenant.
    pub sandbox: Sandbox,
    /// The configuration file (state database next to it).
    pub config_path: PathBuf,
    /// The separately served CRM.interface, when the sandbox listener does not serve it.
    pub crm: Option<Arc<gc_sandbox::crm::CrmSandbox>>,
    _crm_task: Option<tokio::task::JoinHandle<()>>,
}

/// Start a sandbox and write a configuration for it into `dir`. When the sandbox's own
/// listener does not answer on `/crm/interface`, a CRM.interface sandbox seeded from the same
/// directory is served next to it and the configuration points there.
pub async fn start_sandbox(opts: SandboxOptions, dir: &Path) -> anyhow::Result<DemoSandbox> {
    start_sandbox_with(opts, dir, false).await
}

/// [`start_sandbox`]; with `file_crm`, CRM.interface is always served separately with its
/// data in a SQLite file in `dir` (survives clients that vanish mid-request, as in the crash
/// tests).
pub async fn start_sandbox_with(
    opts: SandboxOptions,
    dir: &Path,
    file_crm: bool,
) -> anyhow::Result<DemoSandbox> {
    let sandbox = gc_sandbox::start(opts.clone())
        .await
        .context("starting the sandbox")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config_path = dir.join("graph-connector.toml");
    sandbox
        .write_config(&config_path)
        .context("writing the sandbox configuration")?;
    let mut crm_task = None;
    let mut crm_state = None;
    if file_crm || !crm_served(&sandbox.url()).await {
        let creds = sandbox.credentials();
        let crm = gc_sandbox::crm::CrmSandbox::new(
            Arc::new(sandbox.directory().clone()),
            sandbox.faults().clone(),
            gc_sandbox::crm::CrmOptions {
                master_user: creds.crm_master_user.clone(),
                password: creds.crm_password.clone(),
                seed: opts.seed,
                // A file: an in-memory SQLite database is per connection.
                database: Some(dir.join("crm-sandbox.db")),
                legacy: sandbox.legacy_items().to_vec(),
                // one request counter and one set of trip wires for both sides
                monitor: Some(sandbox.monitor().clone()),
                dialect: opts.crm_dialect.clone(),
                ..Default::default()
            },
        )
        .await
        .context("starting the CRM sandbox")?;
        let crm = Arc::new(crm);
        crm_state = Some(crm.clone());
        let (url, task) = gc_sandbox::crm::spawn(crm)
            .await
            .context("serving the CRM sandbox")?;
        let text = std::fs::read_to_string(&config_path)?;
        let fixed = text.replace(&format!("{}/crm/interface", sandbox.url()), &url);
        gc_sandbox::write_private(&config_path, &fixed)?;
        crm_task = Some(task);
    }
    Ok(DemoSandbox {
        sandbox,
        config_path,
        crm: crm_state,
        _crm_task: crm_task,
    })
}

async fn crm_served(base: &str) -> bool {
    let Ok(client) = reqwest::Client::builder().build() else {
        return false;
    };
    match client
        .post(format!("{base}/crm/interface"))
        .header("content-type", "text/xml")
        .body("<request/>")
        .send()
        .await
    {
        Ok(r) => r.status().as_u16() != 404,
        Err(_) => false,
    }
}

/// `demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    // A fresh directory with a random name that only this user can enter (the configuration
    // holds the sandbox's secrets); kept after the demo so the commands it suggests work.
    let dir = tempfile::Builder::new()
        .prefix("graph-connector-demo-")
        .tempdir()
        .context("creating the demo directory")?
        .keep();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .context("making the demo directory private")?;
    }
    let opts = SandboxOptions {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], args.port)),
        seed: args.seed,
        // Records the previous (EWS) connector left: the sync adopts them, never duplicates.
        migrated_from_ews: true,
        ..SandboxOptions::default()
    };
    let demo = start_sandbox(opts, &dir).await?;
    let url = demo.sandbox.url();
    println!("Sandbox tenant running at {url} (seed {}).", args.seed);
    println!("Configuration: {}\n", demo.config_path.display());

    let config = config::load(&demo.config_path, Vec::<(String, String)>::new())?;
    let folder = config.emails.sync_folder.trim_start_matches('/').to_owned();
    let state = demo.sandbox.state();
    let mut filed = 0usize;
    let users: Vec<String> = demo
        .sandbox
        .directory()
        .mailbox_users()
        .map(|p| p.email.clone())
        .collect();
    for u in &users {
        if let Ok(ids) = state.file_inbox_messages(u, args.messages, &folder) {
            filed += ids.len();
        }
    }
    // One message to three colleagues, filed by each of them: one activity, three reps.
    if users.len() >= 3 {
        let shared = NewMessage {
            subject: "Kick-off with the customer (filed by three reps)".into(),
            from: None,
            to: users[..3].to_vec(),
            body_html: Some("<p>Agenda attached. <!-- tracking --></p>".into()),
            // The same message in each mailbox: one Message-ID.
            internet_message_id: Some(format!("<kickoff-{}@contoso.example>", args.seed)),
            ..Default::default()
        };
        for u in &users[..3] {
            let mut m = shared.clone();
            m.folder = Some(folder.clone());
            if state.deliver(u, m).is_ok() {
                filed += 1;
            }
        }
    }
    println!(
        "Filed {filed} messages into {} of {} mailboxes, as users do in Outlook.\n",
        config.emails.sync_folder,
        users.len()
    );

    let planned = enter_crm_meeting(&config, &users).await?;

    let rt = Runtime::build(&config).await?;
    let bars = Bars::new(true);
    let report = rt
        .cycle(None, &bars, &tokio_util::sync::CancellationToken::new())
        .await?;
    bars.clear();
    print!("{}", table(&report));

    println!("\nWhat landed in CRM (newest e-mail activities):");
    print_activities(&config).await?;
    if let Some((subject, invited)) = planned {
        print_meeting(&state, &subject, &invited);
    }
    print_adoptions(rt.store.as_ref(), demo.sandbox.migrated_items().len()).await;
    rt.store.close().await;

    if args.exit {
        return Ok(if report.any_mailbox_failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    let first = users.first().cloned().unwrap_or_default();
    println!(
        "\nThe sandbox keeps running. Try more in another terminal:\n\
         \n  # a new message, delivered straight into {first}'s sync folder\n\
         \n  curl -s -X POST {url}/_sandbox/mailboxes/{first}/deliver -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"subject\":\"Hello from the demo\",\"to\":[\"{first}\"],\"cc\":[\"someone@unknown.example\"],\"folder\":\"{folder}\"}}'\n\
         \n  # file it, then see the folders (Sync_Success, Sync_Failure) and the check list\n\
         \n  graph-connector sync --once --config {cfg}\n\
         \n  curl -s {url}/_sandbox/mailboxes/{first}/folders\n\
         \n  graph-connector check --config {cfg}\n\
         \nPress Ctrl-C to stop.",
        cfg = demo.config_path.display(),
    );
    tokio::signal::ctrl_c().await.ok();
    Ok(ExitCode::SUCCESS)
}

async fn print_activities(config: &config::Config) -> anyhow::Result<()> {
    let crm = gc_crm::CrmClient::new(crate::wiring::crm_config(config)?)?;
    let master = crm.master();
    let acts = master
        .activities(&gc_crm::ActivityFilter {
            from: jiff::civil::date(2000, 1, 1),
            to: jiff::civil::date(2100, 12, 31),
            rep_id: None,
            condition: None,
            fields: Vec::new(),
            with_participants: true,
            max_records: None,
        })
        .await?;
    let d = &crm.dialect().activity;
    let mut mails: Vec<_> = acts
        .into_iter()
        .filter(|a| {
            a.get(&d.contact_type)
                .is_some_and(|t| t.eq_ignore_ascii_case(&config.emails.activity_type))
        })
        .collect();
    mails.sort_by_key(|a| std::cmp::Reverse(a.id.get()));
    println!("{} e-mail activities in CRM", mails.len());
    for a in mails.iter().take(12) {
        let docs = master
            .documents(a.id, false)
            .await
            .map(|d| d.len())
            .unwrap_or(0);
        println!(
            "  {} {} {:<50} participants {:>2}  documents {}",
            a.get(&d.date).unwrap_or_default(),
            a.get(&d.time).unwrap_or_default(),
            a.get(&d.subject)
                .unwrap_or_default()
                .chars()
                .take(50)
                .collect::<String>(),
            a.participants.len(),
            docs
        );
    }
    Ok(())
}

/// A meeting entered in CRM for the first rep who synchronizes appointments, with a colleague
/// as participant: the sync writes it into both calendars (the other direction of
/// appointments, shown after the sync). `None` when appointments are off or nobody has the
/// flag.
async fn enter_crm_meeting(
    config: &config::Config,
    users: &[String],
) -> anyhow::Result<Option<(String, Vec<String>)>> {
    if !config.appointments.enabled {
        return Ok(None);
    }
    let crm = gc_crm::CrmClient::new(crate::wiring::crm_config(config)?)?;
    let reps = crm.master().enabled_reps().await?;
    let with_flag: Vec<&gc_crm::Rep> = reps
        .iter()
        .filter(|r| {
            r.sync_appointments
                && r.email
                    .as_deref()
                    .is_some_and(|e| users.iter().any(|u| u.eq_ignore_ascii_case(e)))
        })
        .collect();
    let (Some(rep), Some(colleague)) = (with_flag.first(), with_flag.get(1)) else {
        return Ok(None);
    };
    let (today, _) = gc_crm::localtime::to_local(jiff::Timestamp::now(), crm.time_zone());
    let subject = "Planning meeting (entered in CRM)".to_owned();
    let mut a = gc_crm::NewActivity::new(
        &config.appointments.activity_type,
        &subject,
        today.tomorrow()?,
    );
    a.time = Some(jiff::civil::time(10, 0, 0, 0));
    a.end_date = Some(today.tomorrow()?);
    a.end_time = Some(jiff::civil::time(11, 0, 0, 0));
    a.rep_id = Some(rep.rep_id.clone());
    a.text = "Entered by hand in CRM; the connector writes it into the calendars.".into();
    let colleague_email = colleague.email.clone().unwrap_or_default();
    a.participants = vec![gc_crm::NewParticipant {
        role: gc_crm::ParticipantRole::Required,
        email: colleague_email.clone(),
        person: None,
        rep: Some(colleague.id),
        status: None,
    }];
    let rep_email = rep.email.clone().unwrap_or_default();
    crm.as_rep(&rep_email).insert_activity(&a).await?;
    println!(
        "Entered \"{subject}\" in CRM for {rep_email}, with {colleague_email}: appointments travel both ways.\n"
    );
    Ok(Some((subject, vec![rep_email, colleague_email])))
}

/// How the records CRM already had were adopted, per kind (the sandbox tenant was "migrated
/// from the EWS connector": its CRM has records with EWS ids, entry ids, iCalUIds or nothing
/// but their content to tie them to an item, and contacts, absence events and To Do tasks
/// that connector kept for CRM records).
async fn print_adoptions(store: &dyn gc_store::StateStore, migrated: usize) {
    let adopted = store
        .query_ledger(&gc_store::LedgerFilter {
            action: Some(gc_store::LedgerAction::Adopted),
            limit: Some(10_000),
            ..Default::default()
        })
        .await
        .unwrap_or_default();
    let mut by_how: std::collections::BTreeMap<String, usize> = Default::default();
    for e in &adopted {
        let how = e
            .detail
            .as_ref()
            .and_then(|d| d.get("adopted_by"))
            .and_then(|v| v.as_str())
            .unwrap_or("by another way");
        *by_how.entry(format!("{:<12} {how}", e.kind)).or_default() += 1;
    }
    println!(
        "\nAdopted instead of duplicated: {} records CRM already had ({migrated} of them left by the previous EWS connector):",
        adopted.len()
    );
    for (how, n) in by_how {
        println!("  {n:>4}  {how}");
    }
}

/// Where the meeting entered in CRM is now.
fn print_meeting(state: &gc_sandbox::StateHandle<'_>, subject: &str, users: &[String]) {
    println!("\nThe meeting entered in CRM, in the calendars:");
    for u in users {
        let found = state
            .events(u)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, s, _)| s == subject)
            .count();
        println!(
            "  {u:<40} {}",
            match found {
                0 => "not yet (an invitation arrives with the next run)".to_owned(),
                1 => "1 event".to_owned(),
                n => format!("{n} events"),
            }
        );
    }
}
