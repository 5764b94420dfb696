-- gc-store schema v3 (SQLite): what the service (`graph-connector run`) keeps.
-- * A local pause per mailbox (mailboxes.paused_at) and per mailbox and kind
--   (mailbox_schedule.paused_at), set by an administrator. The mailbox list refresh from CRM
--   (upsert_mailbox) never touches either column, so a refresh never undoes a pause.
-- * Per mailbox and kind, the outcome of the last scheduled run (admin page, metrics).
-- * Alerts sent to the administrator, with a gate per alert key for rate limiting that is
--   atomic across processes sharing one database.

ALTER TABLE mailboxes ADD COLUMN paused_at INTEGER;

ALTER TABLE mailbox_schedule ADD COLUMN paused_at INTEGER;
ALTER TABLE mailbox_schedule ADD COLUMN last_run_at INTEGER;
ALTER TABLE mailbox_schedule ADD COLUMN last_success_at INTEGER;
ALTER TABLE mailbox_schedule ADD COLUMN last_outcome TEXT;
ALTER TABLE mailbox_schedule ADD COLUMN last_error TEXT;
ALTER TABLE mailbox_schedule ADD COLUMN backlog INTEGER;

CREATE TABLE alert_gates (
    key          TEXT    NOT NULL PRIMARY KEY,
    last_sent_at INTEGER NOT NULL
);

CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    key            TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    mailbox        TEXT,
    subject        TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    delivery       TEXT    NOT NULL CHECK (delivery IN ('pending', 'sent', 'failed', 'disabled')),
    delivery_error TEXT,
    delivered_at   INTEGER
);
CREATE INDEX alerts_at ON alerts (at);
