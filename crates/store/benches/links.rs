//! Micro-benchmark: link upserts and lookups per second with a large link table.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p gc-store --bench links
//! ```
//!
//! Environment: `GC_BENCH_LINKS` (default 1,000,000) links in the data set,
//! `GC_BENCH_BACKENDS` (default `sqlite,postgres`), `DATABASE_URL` for PostgreSQL
//! (a fresh schema is created and dropped). Every figure is the median of several samples
//! of sequential single-task operations (one round trip each, no batching) on a data set of
//! the given size, so it measures per-item latency as the sync engine sees it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gc_store::{
    CrmId, Cursor, ItemCommit, Kind, LeaseFence, LedgerAction, Link, NewLedgerEntry, OpenOptions,
    StateStore,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MAILBOXES: u64 = 1000;
const BATCH: usize = 10_000;
const SAMPLES: usize = 9;
const OPS_PER_SAMPLE: usize = 500;
const TASKS: usize = 8;

fn link_for(i: u64) -> Link {
    let mailbox = i % MAILBOXES;
    let mut l = Link::new(Kind::Email, format!("rep-{mailbox:04}"), graph_id(i));
    // Every message is shared by 3 mailboxes on average: global keys repeat.
    l.global_key = Some(format!("<msg-{}@contoso.example>", i / 3));
    l.crm_id = Some(CrmId((1u64 << 32) | i));
    l.graph_version = Some(format!("CQAAABYAAA{i:x}"));
    l.crm_version = Some("2026-11-27T10:00:00".into());
    l.graph_hash = Some(format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    l.crm_hash = Some(format!("{:016x}", i.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)));
    l
}

fn graph_id(i: u64) -> String {
    // Shaped like a Graph immutable id (long base64-ish text).
    format!("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{i:012}AAAAAAEMAAA=")
}

/// The ledger entry of a filed message, as the engine commits it with the message's link.
fn created(link: &Link) -> NewLedgerEntry {
    NewLedgerEntry::new(
        link.mailbox.clone(),
        Kind::Email,
        link.graph_id.clone(),
        LedgerAction::Created,
        "new e-mail",
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Run `SAMPLES` samples of `OPS_PER_SAMPLE` sequential operations; median ops/s.
async fn measure<F, Fut>(mut op: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut rates = Vec::with_capacity(SAMPLES);
    let mut n = 0;
    for _ in 0..SAMPLES {
        let start = Instant::now();
        for _ in 0..OPS_PER_SAMPLE {
            op(n).await;
            n += 1;
        }
        rates.push(OPS_PER_SAMPLE as f64 / start.elapsed().as_secs_f64());
    }
    median(rates)
}

/// Two operations measured side by side: their samples alternate (A, B, A, B, …), so a
/// machine that slows down or speeds up meanwhile weighs on both alike. Median ops/s of each.
async fn measure_pair<A, FutA, B, FutB>(mut a: A, mut b: B) -> (f64, f64)
where
    A: FnMut(usize) -> FutA,
    FutA: std::future::Future<Output = ()>,
    B: FnMut(usize) -> FutB,
    FutB: std::future::Future<Output = ()>,
{
    let (mut rates_a, mut rates_b) = (Vec::new(), Vec::new());
    let mut n = 0;
    for _ in 0..SAMPLES {
        let start = Instant::now();
        for _ in 0..OPS_PER_SAMPLE {
            a(n).await;
            n += 1;
        }
        rates_a.push(OPS_PER_SAMPLE as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        for _ in 0..OPS_PER_SAMPLE {
            b(n).await;
            n += 1;
        }
        rates_b.push(OPS_PER_SAMPLE as f64 / start.elapsed().as_secs_f64());
    }
    (median(rates_a), median(rates_b))
}

/// One item as the engine works it under its global-key lease: take the key, commit under
/// the mailbox's and the key's fences, give the key up, either with a statement of its own
/// after the commit or in the commit itself (`ItemCommit::release`).
async fn item_under_key(
    store: &Arc<dyn StateStore>,
    mailbox: &LeaseFence,
    i: u64,
    release_in_commit: bool,
) {
    let link = link_for(i);
    let key = format!("email:{}", link.global_key.clone().unwrap_or_default());
    let fence = store
        .try_acquire_lease(&key, &format!("bench/{i}"), Duration::from_secs(3600))
        .await
        .unwrap()
        .unwrap();
    let entry = created(&link);
    store
        .commit_item(&ItemCommit {
            link: Some(link),
            ledger: vec![entry],
            cursor: None,
            fences: vec![mailbox.clone(), fence.clone()],
            no_retry_row: true,
            release: if release_in_commit {
                vec![fence.clone()]
            } else {
                vec![]
            },
        })
        .await
        .unwrap();
    if !release_in_commit {
        assert!(store.release_lease(&fence).await.unwrap());
    }
}

/// Like [`measure`], with `TASKS` tasks sharing each sample (different mailboxes working
/// in parallel, as the engine does): median total ops/s.
async fn measure_concurrent<F, Fut>(op: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let op = Arc::new(op);
    let per_task = OPS_PER_SAMPLE / TASKS;
    let mut rates = Vec::with_capacity(SAMPLES);
    for sample in 0..SAMPLES {
        let start = Instant::now();
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let op = op.clone();
            let base = (sample * TASKS + t) * per_task;
            handles.push(tokio::spawn(async move {
                for j in 0..per_task {
                    op(base + j).await;
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        rates.push((per_task * TASKS) as f64 / start.elapsed().as_secs_f64());
    }
    median(rates)
}

struct Figures {
    backend: &'static str,
    links: u64,
    build: Duration,
    upsert_update: f64,
    upsert_insert: f64,
    get_link: f64,
    by_global_key: f64,
    by_crm_id: f64,
    commit_item: f64,
    commit_item_fenced: f64,
    commit_item_8: f64,
    get_link_8: f64,
    /// An item under its key lease, the key released after the commit / in it.
    key_released_after: f64,
    key_released_in: f64,
}

async fn bench(backend: &'static str, store: Arc<dyn StateStore>, total: u64) -> Figures {
    // Build the data set in transactions of BATCH links.
    let start = Instant::now();
    let mut i = 0u64;
    while i < total {
        let end = (i + BATCH as u64).min(total);
        let batch: Vec<Link> = (i..end).map(link_for).collect();
        store.upsert_links(&batch).await.unwrap();
        i = end;
        if i.is_multiple_of(200_000) {
            println!("  {backend}: {i} links loaded ({:.0?})", start.elapsed());
        }
    }
    let build = start.elapsed();
    println!(
        "  {backend}: built {total} links in {build:.1?} ({:.0} links/s in {BATCH}-link transactions)",
        total as f64 / build.as_secs_f64()
    );

    let mut rng = StdRng::seed_from_u64(42);
    let mut picks: Vec<u64> = (0..SAMPLES * OPS_PER_SAMPLE)
        .map(|_| rng.random_range(0..total))
        .collect();

    let upsert_update = measure(|n| {
        let store = store.clone();
        let mut l = link_for(picks[n]);
        l.graph_version = Some(format!("changed-{n}"));
        async move { store.upsert_link(&l, &[]).await.unwrap() }
    })
    .await;
    let upsert_insert = measure(|n| {
        let store = store.clone();
        let l = link_for(total + n as u64);
        async move { store.upsert_link(&l, &[]).await.unwrap() }
    })
    .await;
    picks.reverse();
    let get_link = measure(|n| {
        let store = store.clone();
        let i = picks[n];
        async move {
            let mailbox = format!("rep-{:04}", i % MAILBOXES);
            let l = store
                .get_link(Kind::Email, &mailbox, &graph_id(i))
                .await
                .unwrap();
            assert!(l.is_some());
        }
    })
    .await;
    let by_global_key = measure(|n| {
        let store = store.clone();
        let i = picks[n];
        async move {
            let key = format!("<msg-{}@contoso.example>", i / 3);
            let found = store.links_by_global_key(Kind::Email, &key).await.unwrap();
            assert!(!found.is_empty());
        }
    })
    .await;
    let by_crm_id = measure(|n| {
        let store = store.clone();
        let i = picks[n];
        async move {
            let found = store
                .links_by_crm_id(Kind::Email, CrmId((1u64 << 32) | i))
                .await
                .unwrap();
            assert_eq!(found.len(), 1);
        }
    })
    .await;
    let commit_item = measure(|n| {
        let store = store.clone();
        let i = total + 100_000 + n as u64;
        let link = link_for(i);
        let mut cursor = Cursor::new(link.mailbox.clone(), Kind::Email, "inbox/crm");
        cursor.next_link = Some(format!("https://graph.example/delta?$skiptoken={n}"));
        let mut entry = NewLedgerEntry::new(
            link.mailbox.clone(),
            Kind::Email,
            link.graph_id.clone(),
            LedgerAction::Created,
            "new e-mail",
        );
        entry.crm_id = link.crm_id;
        async move {
            store
                .commit_item(&ItemCommit {
                    link: Some(link),
                    ledger: vec![entry],
                    cursor: Some(cursor),
                    fences: vec![],
                    no_retry_row: false,
                    release: vec![],
                })
                .await
                .unwrap();
        }
    })
    .await;
    // The same under two fences (mailbox lease and global-key lease), as the engine commits.
    let mut fences = Vec::new();
    for key in ["bench-mailbox/email", "email:<bench@contoso.example>"] {
        let fence = store
            .try_acquire_lease(key, "bench", Duration::from_secs(3600))
            .await
            .unwrap()
            .unwrap();
        fences.push(fence);
    }
    let commit_item_fenced = measure(|n| {
        let store = store.clone();
        let fences = fences.clone();
        let link = link_for(total + 150_000 + n as u64);
        let mut cursor = Cursor::new(link.mailbox.clone(), Kind::Email, "inbox/crm");
        cursor.next_link = Some(format!("https://graph.example/delta?$skiptoken={n}"));
        let entry = created(&link);
        async move {
            store
                .commit_item(&ItemCommit {
                    link: Some(link),
                    ledger: vec![entry],
                    cursor: Some(cursor),
                    fences,
                    no_retry_row: false,
                    release: vec![],
                })
                .await
                .unwrap();
        }
    })
    .await;
    let (key_released_after, key_released_in) = measure_pair(
        |n| {
            let store = store.clone();
            let mailbox = fences[0].clone();
            async move { item_under_key(&store, &mailbox, total + 300_000 + n as u64, false).await }
        },
        |n| {
            let store = store.clone();
            let mailbox = fences[0].clone();
            async move { item_under_key(&store, &mailbox, total + 300_000 + n as u64, true).await }
        },
    )
    .await;
    let st = store.clone();
    let commit_item_8 = measure_concurrent(move |n| {
        let store = st.clone();
        let i = total + 200_000 + n as u64;
        async move {
            let link = link_for(i);
            let mut cursor = Cursor::new(link.mailbox.clone(), Kind::Email, "inbox/crm");
            cursor.next_link = Some(format!("https://graph.example/delta?$skiptoken={n}"));
            let entry = created(&link);
            store
                .commit_item(&ItemCommit {
                    link: Some(link),
                    ledger: vec![entry],
                    cursor: Some(cursor),
                    fences: vec![],
                    no_retry_row: false,
                    release: vec![],
                })
                .await
                .unwrap();
        }
    })
    .await;
    let st = store.clone();
    let picks = Arc::new(picks);
    let get_link_8 = measure_concurrent(move |n| {
        let store = st.clone();
        let i = picks[n % picks.len()];
        async move {
            let mailbox = format!("rep-{:04}", i % MAILBOXES);
            assert!(
                store
                    .get_link(Kind::Email, &mailbox, &graph_id(i))
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    })
    .await;
    Figures {
        commit_item_8,
        get_link_8,
        key_released_after,
        key_released_in,
        backend,
        links: total,
        build,
        upsert_update,
        upsert_insert,
        get_link,
        by_global_key,
        by_crm_id,
        commit_item,
        commit_item_fenced,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let total: u64 = std::env::var("GC_BENCH_LINKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let backends = std::env::var("GC_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut results = Vec::new();

    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = gc_store::open(&url).await.unwrap();
        println!("sqlite: {url}");
        results.push(bench("SQLite", store.clone(), total).await);
        store.close().await;
    }
    if backends.contains("postgres") {
        match std::env::var("DATABASE_URL") {
            Ok(admin) => {
                let schema = format!("gc_bench_{}", std::process::id());
                let pool = sqlx::PgPool::connect(&admin).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&pool)
                    .await
                    .unwrap();
                let sep = if admin.contains('?') { '&' } else { '?' };
                let url = format!("{admin}{sep}options=-csearch_path%3D{schema}");
                let store = gc_store::open_with(&url, &OpenOptions::default())
                    .await
                    .unwrap();
                println!("postgres: {}", gc_store::redact_url(&admin));
                results.push(bench("PostgreSQL", store.clone(), total).await);
                store.close().await;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            Err(_) => println!("postgres: DATABASE_URL not set, skipped"),
        }
    }

    println!();
    println!(
        "| backend | links | bulk load (10k/tx) | upsert existing /s | upsert new /s | get_link /s | by global key /s | by CRM id /s | commit_item /s | commit_item, 2 fences /s | commit_item, 8 tasks /s | get_link, 8 tasks /s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in &results {
        println!(
            "| {} | {} | {:.0} s ({:.0}/s) | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            f.backend,
            f.links,
            f.build.as_secs_f64(),
            f.links as f64 / f.build.as_secs_f64(),
            f.upsert_update,
            f.upsert_insert,
            f.get_link,
            f.by_global_key,
            f.by_crm_id,
            f.commit_item,
            f.commit_item_fenced,
            f.commit_item_8,
            f.get_link_8
        );
    }
    println!();
    println!(
        "| backend | item under its key lease: key released after the commit /s | key released in the commit /s | ratio |"
    );
    println!("|---|---:|---:|---:|");
    for f in &results {
        println!(
            "| {} | {:.0} | {:.0} | {:.2}× |",
            f.backend,
            f.key_released_after,
            f.key_released_in,
            f.key_released_in / f.key_released_after
        );
    }
}
