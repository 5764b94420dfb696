-- gc-store schema v1 (SQLite).
-- All timestamps are INTEGER microseconds since the Unix epoch (UTC), stamped by the
-- database clock. Booleans are BOOLEAN (stored as 0/1). CRM record ids are TEXT holding the
-- canonical decimal form of the unsigned 64-bit id (StatNo << 32 | SeqNo).

CREATE TABLE mailboxes (
    rep_id               TEXT    NOT NULL PRIMARY KEY,
    address              TEXT    NOT NULL,
    graph_user_id        TEXT,
    enabled              BOOLEAN NOT NULL DEFAULT 1,
    last_success_at      INTEGER,
    last_error_at        INTEGER,
    last_error_kind      TEXT,
    last_error_text      TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    excluded_until       INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX mailboxes_address ON mailboxes (address);

CREATE TABLE mailbox_schedule (
    mailbox  TEXT    NOT NULL REFERENCES mailboxes (rep_id) ON DELETE CASCADE,
    kind     TEXT    NOT NULL,
    next_due INTEGER NOT NULL,
    PRIMARY KEY (mailbox, kind)
);

CREATE TABLE cursors (
    mailbox      TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    delta_link   TEXT,
    next_link    TEXT,
    window_start INTEGER,
    window_end   INTEGER,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (mailbox, kind, scope)
);

CREATE TABLE links (
    kind          TEXT    NOT NULL,
    mailbox       TEXT    NOT NULL,
    graph_id      TEXT    NOT NULL,
    global_key    TEXT,
    crm_id        TEXT,
    graph_version TEXT,
    crm_version   TEXT,
    graph_hash    TEXT,
    crm_hash      TEXT,
    state         TEXT    NOT NULL CHECK (state IN ('active', 'soft_deleted', 'conflict', 'failed')),
    state_reason  TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (kind, mailbox, graph_id)
);
CREATE INDEX links_global_key ON links (kind, global_key);
CREATE INDEX links_crm_id ON links (kind, crm_id);

CREATE TABLE ledger (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    run_id   TEXT,
    mailbox  TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    item_key TEXT    NOT NULL CHECK (item_key <> ''),
    crm_id   TEXT,
    action   TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    detail   TEXT
);
CREATE INDEX ledger_at ON ledger (at);
CREATE INDEX ledger_mailbox_id ON ledger (mailbox, id);
CREATE INDEX ledger_item_key_id ON ledger (item_key, id);
CREATE INDEX ledger_run_id_id ON ledger (run_id, id);

CREATE TABLE runs (
    id          TEXT    NOT NULL PRIMARY KEY,
    mailbox     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    created     INTEGER NOT NULL DEFAULT 0,
    adopted     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    deleted     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    warnings    INTEGER NOT NULL DEFAULT 0,
    outcome     TEXT,
    error       TEXT
);
CREATE INDEX runs_mailbox_started ON runs (mailbox, started_at);
CREATE INDEX runs_started ON runs (started_at);

CREATE TABLE leases (
    key         TEXT    NOT NULL PRIMARY KEY,
    holder      TEXT    NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX leases_holder ON leases (holder);
