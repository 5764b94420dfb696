//! Helpers of the several-processes test (`multi_process.rs`): a PostgreSQL schema of its
//! own, one configuration per process, new mail, what the processes hold and show, how long
//! each mailbox waited, and the final check that nothing was lost or doubled.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use gc_sandbox::NewMessage;
use gc_store::{Kind, StateStore};
use jiff::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::service::free_port;
use super::{Env, SYNC, decisions, final_state};

/// The PostgreSQL URL of the tests, or `None` when PostgreSQL tests are skipped on purpose.
pub fn pg_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("GC_SKIP_PG").as_deref() == Ok("1") => None,
        _ => panic!(
            "DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test); set GC_SKIP_PG=1 to skip PostgreSQL tests"
        ),
    }
}

/// A fresh schema in the test database, dropped by [`Schema::drop_it`].
pub struct Schema {
    admin_url: String,
    name: String,
    /// The URL selecting the schema.
    pub url: String,
}

impl Schema {
    pub async fn create(admin_url: String) -> Schema {
        let name = format!("gc_multi_{:016x}", rand::rng().random::<u64>());
        let pool = sqlx::PgPool::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-csearch_path%3D{name}");
        Schema {
            admin_url,
            name,
            url,
        }
    }

    pub async fn drop_it(self) {
        let pool = sqlx::PgPool::connect(&self.admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            self.name
        )))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
}

/// One process's configuration: the shared state, its own name and admin port.
pub fn process_config(env: &Env, i: usize, state_url: &str, lease_seconds: u32) -> (PathBuf, u16) {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let url_line = text
        .lines()
        .skip_while(|l| *l != "[state]")
        .find(|l| l.starts_with("url = "))
        .unwrap()
        .to_owned();
    let quoted = toml::Value::String(state_url.to_owned()).to_string();
    let text = text.replace(
        &url_line,
        &format!(
            "url = {quoted}\nlease_seconds = {}\ninstance_name = \"proc-{i}\"",
            lease_seconds
        ),
    );
    let port = free_port();
    let text = format!("{text}\n[admin]\nlisten = \"127.0.0.1:{port}\"\n");
    let path = env.dir.path().join(format!("proc-{i}.toml"));
    std::fs::write(&path, text).unwrap();
    (path, port)
}

/// Delivers `n` new messages into the sync folders of `users`, about one in four to two or
/// three of them with one internetMessageId (a mail to colleagues that each of them files:
/// one activity, written by whichever process gets there first). Returns the new
/// internetMessageIds and the count per user.
pub fn deliver(
    env: &Env,
    users: &[String],
    rng: &mut ChaCha8Rng,
    n: usize,
    serial: &mut usize,
    filed: &mut BTreeMap<String, usize>,
    keys: &mut BTreeSet<String>,
) {
    let externals: Vec<String> = env
        .demo
        .sandbox
        .directory()
        .externals
        .iter()
        .map(|p| p.email.clone())
        .collect();
    let st = env.demo.sandbox.state();
    for _ in 0..n {
        *serial += 1;
        let first = rng.random_range(0..users.len());
        let copies = if users.len() > 1 && rng.random_bool(0.25) {
            rng.random_range(2..=users.len().min(3))
        } else {
            1
        };
        let to: Vec<String> = (0..copies)
            .map(|i| users[(first + i) % users.len()].clone())
            .collect();
        let id = format!("<multi-{}@processes.example>", *serial);
        let msg = NewMessage {
            subject: format!("Order {} confirmation", *serial),
            from: Some(externals[rng.random_range(0..externals.len())].clone()),
            to: to.clone(),
            body_html: Some(format!("<p>Order number {}.</p>", *serial)),
            folder: Some(SYNC.to_owned()),
            internet_message_id: Some(id.clone()),
            ..Default::default()
        };
        for u in &to {
            st.deliver(u, msg.clone()).unwrap();
            *filed.entry(u.clone()).or_default() += 1;
        }
        keys.insert(id);
    }
}

/// How stale each mailbox got: per rep id, the longest time between "now" (database clock,
/// sampled) and its last e-mail run, from its first run on; `from`: when every mailbox had
/// had its first run.
#[derive(Default)]
pub struct Staleness {
    pub from: Option<Timestamp>,
    /// When `from` was seen (test clock).
    pub from_seen: Option<Instant>,
    pub worst: BTreeMap<String, f64>,
    pub samples: usize,
}

pub async fn sample(store: &dyn StateStore, mailboxes: &BTreeSet<String>, s: &Mutex<Staleness>) {
    let (Ok(all), Ok(now)) = (store.list_mailboxes().await, store.now().await) else {
        return;
    };
    let last: BTreeMap<&str, Option<Timestamp>> = all
        .iter()
        .filter(|m| mailboxes.contains(&m.rep_id))
        .map(|m| {
            (
                m.rep_id.as_str(),
                m.kinds.get(&Kind::Email).and_then(|k| k.last_run_at),
            )
        })
        .collect();
    let mut s = s.lock().unwrap();
    if s.from.is_none() && last.len() == mailboxes.len() && last.values().all(Option::is_some) {
        s.from = Some(now);
        s.from_seen = Some(Instant::now());
    }
    s.samples += 1;
    // Each mailbox from its first run on: the first sync of a whole tenant is not the steady
    // state the interval speaks of (how long it took is reported on its own).
    for (m, t) in last {
        let Some(t) = t else { continue };
        let stale = t.duration_until(now).as_secs_f64();
        let w = s.worst.entry(m.to_owned()).or_default();
        *w = w.max(stale);
    }
}

/// The unexpired e-mail mailbox leases now, as (process index, mailbox).
pub async fn mailbox_holders(store: &dyn StateStore) -> Vec<(usize, String)> {
    let (Ok(leases), Ok(now)) = (store.list_leases().await, store.now().await) else {
        return Vec::new();
    };
    leases
        .iter()
        .filter(|l| l.expires_at > now && !l.key.starts_with(gc_store::PROCESS_LEASE_PREFIX))
        .filter_map(|l| {
            let mailbox = l.key.strip_suffix("/email")?;
            let name = l.holder.split(':').next()?;
            let i = name.strip_prefix("proc-")?.parse().ok()?;
            Some((i, mailbox.to_owned()))
        })
        .collect()
}

/// The processes (by index) holding an unexpired mailbox lease now.
pub async fn working(store: &dyn StateStore) -> BTreeSet<usize> {
    mailbox_holders(store)
        .await
        .into_iter()
        .map(|(i, _)| i)
        .collect()
}

/// What the admin API of the processes showed while they worked.
#[derive(Default)]
pub struct Shown {
    /// Processes seen holding mailbox leases (`/api/processes`).
    pub holders: BTreeSet<String>,
    /// Mailbox rows seen with a holder (`/api/mailboxes`), and with another process's.
    pub rows_held: usize,
    pub rows_held_elsewhere: usize,
}

pub async fn admin_sample(
    client: &reqwest::Client,
    port: u16,
    shown: &Mutex<Shown>,
) -> Result<(), reqwest::Error> {
    let base = format!("http://127.0.0.1:{port}");
    let p: serde_json::Value = client
        .get(format!("{base}/api/processes"))
        .send()
        .await?
        .json()
        .await?;
    let rows: Vec<serde_json::Value> = client
        .get(format!("{base}/api/mailboxes"))
        .send()
        .await?
        .json()
        .await?;
    let this = p["this"].as_str().unwrap_or_default().to_owned();
    let mut s = shown.lock().unwrap();
    for l in p["leases"].as_array().into_iter().flatten() {
        if l["leased"]["type"] == "mailbox" && l["expired"] == false {
            s.holders
                .insert(l["process"].as_str().unwrap_or_default().to_owned());
        }
    }
    for r in &rows {
        if let Some(h) = r["holder"].as_str() {
            s.rows_held += 1;
            if h != this {
                s.rows_held_elsewhere += 1;
            }
        }
    }
    Ok(())
}

/// 0 lost: every filed message left its sync folder for `Sync_Success` and has an active link
/// to an activity. 0 duplicates: one activity per internetMessageId, in the links and in CRM's
/// external keys, and no activity of the connector that no external key names. And a ledger
/// decision per filed message.
pub async fn nothing_lost_or_doubled(
    env: &Env,
    store: &dyn StateStore,
    enabled: &[String],
    filed: &BTreeMap<String, usize>,
    keys: &BTreeSet<String>,
) {
    // 0 lost: every message left its sync folder for Sync_Success.
    for u in enabled {
        let n = filed.get(u).copied().unwrap_or(0);
        assert_eq!(env.count(u, SYNC), 0, "{u}");
        assert_eq!(
            env.count(u, &format!("{SYNC}/Sync_Failure")),
            0,
            "{u}: messages failed"
        );
        let moved = env.count(u, &format!("{SYNC}/Sync_Success"));
        assert_eq!(moved, n, "{u}: {n} filed, {moved} moved to Sync_Success");
    }
    let f = final_state(store).await;
    let handled: usize = filed.values().sum();
    assert_eq!(f.failed_links, 0, "failed links");
    assert_eq!(f.active_links, handled, "one active link per filed message");
    let found: BTreeSet<String> = f.by_key.keys().cloned().collect();
    assert_eq!(
        &found, keys,
        "the links' keys are the filed internetMessageIds"
    );

    // 0 duplicates: one activity per internetMessageId, in the links …
    let mut owner_of: BTreeMap<u64, &str> = BTreeMap::new();
    for (key, (_, ids)) in &f.by_key {
        assert_eq!(ids.len(), 1, "{key}: activities {ids:?}");
        let id = *ids.first().unwrap();
        if let Some(other) = owner_of.insert(id, key) {
            panic!("activity {id} linked to {key} and {other}");
        }
    }
    // … in CRM's external keys …
    let crm = env.crm();
    let all_keys: Vec<String> = keys.iter().cloned().collect();
    let xks = crm
        .master()
        .find_external_keys(None, &all_keys)
        .await
        .unwrap();
    let mut records_of: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for x in &xks {
        if let Some((_, id)) = &x.record {
            records_of.entry(&x.ext_key).or_default().insert(id.get());
        }
    }
    for key in keys {
        let ids = records_of.get(key.as_str()).cloned().unwrap_or_default();
        assert_eq!(ids.len(), 1, "{key}: external keys point to {ids:?}");
        assert_eq!(
            owner_of.get(ids.first().unwrap()).copied(),
            Some(key.as_str()),
            "{key}: the external key and the link name different activities"
        );
    }
    // … and no activity of the connector outside them.
    let acts = env.email_activities().await;
    let orphans: Vec<u64> = acts
        .iter()
        .map(|a| a.id.get())
        .filter(|id| id >> 32 == 2 && !owner_of.contains_key(id))
        .collect();
    assert!(
        orphans.is_empty(),
        "activities without an external key (duplicates): {orphans:?}"
    );
    let dec = decisions(store).await;
    assert_eq!(dec.len(), handled, "a ledger decision per filed message");
}
