-- gc-store schema v2 (SQLite): fenced leases and the typed "interrupted" link state.

-- 1. Lease generations. Every new holding of a lease draws the next number of one
-- store-wide counter, so a generation is never reused even after the lease row is deleted
-- by a release. `lease_generation` holds the largest generation ever written; the triggers
-- keep it there, and statements draw `value + 1` (SQLite runs each statement under its
-- single write lock, so two statements cannot draw the same number).
ALTER TABLE leases ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
UPDATE leases SET generation = rowid;

CREATE TABLE lease_generation (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO lease_generation (id, value) SELECT 1, coalesce(max(generation), 0) FROM leases;

CREATE TRIGGER leases_generation_insert AFTER INSERT ON leases
BEGIN
    UPDATE lease_generation SET value = NEW.generation WHERE id = 1 AND value < NEW.generation;
END;

CREATE TRIGGER leases_generation_update AFTER UPDATE OF generation ON leases
WHEN NEW.generation <> OLD.generation
BEGIN
    UPDATE lease_generation SET value = NEW.generation WHERE id = 1 AND value < NEW.generation;
END;

-- 2. Links: the intent marker stored before a CRM write becomes its own state,
-- 'interrupted', instead of 'failed' with a reason text the engine compared. SQLite cannot
-- alter a CHECK constraint: the table is rebuilt (no other table refers to it).
CREATE TABLE links_v2 (
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
        CHECK (state IN ('active', 'soft_deleted', 'conflict', 'failed', 'interrupted')),
    state_reason  TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (kind, mailbox, graph_id)
);

INSERT INTO links_v2 (kind, mailbox, graph_id, global_key, crm_id, graph_version, crm_version,
                      graph_hash, crm_hash, state, state_reason, created_at, updated_at)
SELECT kind, mailbox, graph_id, global_key, crm_id, graph_version, crm_version, graph_hash,
       crm_hash,
       CASE WHEN state = 'failed' AND state_reason = 'interrupted while writing to CRM'
            THEN 'interrupted' ELSE state END,
       CASE WHEN state = 'failed' AND state_reason = 'interrupted while writing to CRM'
            THEN NULL ELSE state_reason END,
       created_at, updated_at
FROM links;

DROP TABLE links;
ALTER TABLE links_v2 RENAME TO links;
CREATE INDEX links_global_key ON links (kind, global_key);
CREATE INDEX links_crm_id ON links (kind, crm_id);
