//! Schema upgrades: a database created at an older schema version, holding rows written by
//! that version, is migrated by `open` and read back correctly. Both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use gc_store::{Kind, LinkState, StateStore};

/// The reason text schema v1 used for the intent marker (now `LinkState::Interrupted`).
const V1_INTERRUPTED: &str = "interrupted while writing to CRM";

/// Rows as schema v1 stored them: an intent marker, a real failure, an active link, and
/// two leases (one expired).
const V1_ROWS: &[&str] = &[
    "INSERT INTO links (kind, mailbox, graph_id, global_key, crm_id, state, state_reason, \
     created_at, updated_at) VALUES \
     ('email', 'r1', 'g-interrupted', '<a@x>', '4294967394', 'failed', \
      'interrupted while writing to CRM', 1, 1), \
     ('email', 'r1', 'g-failed', '<b@x>', NULL, 'failed', 'CRM refused the record', 1, 1), \
     ('email', 'r1', 'g-active', '<c@x>', '4294967395', 'active', NULL, 1, 1), \
     ('email', 'r2', 'g-other-text', '<a@x>', NULL, 'failed', \
      'interrupted while writing to CRM (and more)', 1, 1)",
    "INSERT INTO leases (key, holder, acquired_at, expires_at) VALUES \
     ('r1/email', 'old-process', 1, 2), \
     ('r2/email', 'old-process', 1, 9000000000000000)",
];

async fn check_upgraded(s: &dyn StateStore) {
    let get = |id: &'static str| async move {
        s.get_link(Kind::Email, "r1", id)
            .await
            .unwrap()
            .unwrap()
            .state
    };
    assert_eq!(get("g-interrupted").await, LinkState::Interrupted);
    assert_eq!(
        get("g-failed").await,
        LinkState::Failed {
            reason: "CRM refused the record".into()
        }
    );
    assert_eq!(get("g-active").await, LinkState::Active);
    // Only the exact v1 text was the marker.
    assert_eq!(
        s.get_link(Kind::Email, "r2", "g-other-text")
            .await
            .unwrap()
            .unwrap()
            .state,
        LinkState::Failed {
            reason: format!("{V1_INTERRUPTED} (and more)")
        }
    );
    // The rebuilt/altered table keeps its data, indexes and constraint.
    let interrupted = s.links_by_global_key(Kind::Email, "<a@x>").await.unwrap();
    assert_eq!(interrupted.len(), 2);
    assert_eq!(interrupted[0].crm_id, Some(gc_store::CrmId(4_294_967_394)));
    assert_eq!(interrupted[0].global_key.as_deref(), Some("<a@x>"));
    assert_eq!(
        s.links_by_crm_id(Kind::Email, gc_store::CrmId(4_294_967_395))
            .await
            .unwrap()
            .len(),
        1
    );
    // New interrupted links can be written and read.
    let mut l = gc_store::Link::new(Kind::Email, "r3", "g-new");
    l.state = LinkState::Interrupted;
    s.upsert_link(&l, &[]).await.unwrap();
    assert_eq!(
        s.get_link(Kind::Email, "r3", "g-new")
            .await
            .unwrap()
            .unwrap()
            .state,
        LinkState::Interrupted
    );

    // Existing leases got distinct generations; new holdings draw larger ones.
    let leases = s.list_leases().await.unwrap();
    assert_eq!(leases.len(), 2);
    assert_ne!(leases[0].generation, leases[1].generation);
    let old_max = leases.iter().map(|l| l.generation).max().unwrap();
    let taken = s
        .try_acquire_lease("r1/email", "new-process", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the v1 lease had expired");
    assert!(taken.generation > old_max, "{taken:?} vs {leases:?}");
    // The unexpired v1 lease is still respected, and its holder can be fenced.
    assert!(
        s.try_acquire_lease("r2/email", "new-process", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    let fresh = s
        .try_acquire_lease("r9/email", "new-process", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(fresh.generation > taken.generation);
}

#[tokio::test]
async fn sqlite_v1_database_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v1.db").display());
    {
        let opts = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        sqlx::migrate!("./migrations/sqlite")
            .run_to(1, &pool)
            .await
            .unwrap();
        for q in V1_ROWS {
            sqlx::query(*q).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let store = gc_store::open(&url).await.unwrap();
    check_upgraded(&*store).await;
    // The CHECK constraint survived the table rebuild.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let err = sqlx::query(
        "INSERT INTO links (kind, mailbox, graph_id, state, created_at, updated_at) \
         VALUES ('email', 'r1', 'bad', 'bogus', 1, 1)",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(
        matches!(
            gc_store::StoreError::from(err),
            gc_store::StoreError::Constraint(_)
        ),
        "CHECK constraint"
    );
    // Both rebuilds of links (0002, 0008) kept its primary key and every index.
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'links' \
         ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "links_crm_id",
            "links_global_key",
            "links_written",
            "sqlite_autoindex_links_1"
        ]
    );
    // 0008: writing a link checks its state in place, without a temporary b-tree (an `IN`
    // list of more than two values needs one for every row).
    let opcodes: Vec<String> = sqlx::query(
        "EXPLAIN INSERT INTO links (kind, mailbox, graph_id, state, created_at, updated_at) \
         VALUES ('email', 'r1', 'g', 'active', 1, 1) \
         ON CONFLICT (kind, mailbox, graph_id) DO UPDATE SET state = excluded.state",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|row| sqlx::Row::get::<String, _>(row, "opcode"))
    .collect();
    assert!(opcodes.iter().any(|o| o == "Insert"), "{opcodes:?}");
    assert!(!opcodes.iter().any(|o| o == "OpenEphemeral"), "{opcodes:?}");
    pool.close().await;
    store.close().await;
}

#[tokio::test]
async fn postgres_v1_database_is_upgraded() {
    let Some(db) = common::postgres_empty().await else {
        return;
    };
    {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::migrate!("./migrations/postgres")
            .run_to(1, &pool)
            .await
            .unwrap();
        for q in V1_ROWS {
            sqlx::query(*q).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let store = gc_store::open(&db.url).await.unwrap();
    check_upgraded(&*store).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let err = sqlx::query(
        "INSERT INTO links (kind, mailbox, graph_id, state, created_at, updated_at) \
         VALUES ('email', 'r1', 'bad', 'bogus', 1, 1)",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(
        matches!(
            gc_store::StoreError::from(err),
            gc_store::StoreError::Constraint(_)
        ),
        "CHECK constraint"
    );
    pool.close().await;
    store.close().await;
    db.cleanup().await;
}
