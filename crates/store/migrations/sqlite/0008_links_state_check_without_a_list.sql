-- gc-store schema v8 (SQLite): the links table's CHECK on `state` as a chain of comparisons
-- instead of `state IN (…)`. The allowed values are the same. SQLite checks an `IN` list of
-- more than two values through a temporary b-tree, which it builds, fills and frees for every
-- row written. A link is written at least once per synced item, and that temporary b-tree
-- made up about a quarter of the write's cost (docs/PERFORMANCE.md, round of 2026-12-07 04:00
-- UTC). A chain of `=` comparisons is checked in place.
--
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt, as in 0002: the rows, the
-- primary key and the three indexes are carried over. No other table refers to links.
CREATE TABLE links_v8 (
    kind          TEXT    NOT NULL,
    mailbox       TEXT    NOT NULL,
    graph_id      TEXT    NOT NULL,
    global_key    TEXT,
    crm_id        TEXT,
    graph_version TEXT,
    crm_version   TEXT,
    graph_hash    TEXT,
    crm_hash      TEXT,
    state         TEXT    NOT NULL
        CHECK (state = 'active' OR state = 'soft_deleted' OR state = 'conflict'
               OR state = 'failed' OR state = 'interrupted'),
    state_reason  TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (kind, mailbox, graph_id)
);

INSERT INTO links_v8 (kind, mailbox, graph_id, global_key, crm_id, graph_version, crm_version,
                      graph_hash, crm_hash, state, state_reason, created_at, updated_at)
SELECT kind, mailbox, graph_id, global_key, crm_id, graph_version, crm_version, graph_hash,
       crm_hash, state, state_reason, created_at, updated_at
FROM links;

DROP TABLE links;
ALTER TABLE links_v8 RENAME TO links;
CREATE INDEX links_global_key ON links (kind, global_key);
CREATE INDEX links_crm_id ON links (kind, crm_id);
CREATE INDEX links_written ON links (kind, mailbox, updated_at);
