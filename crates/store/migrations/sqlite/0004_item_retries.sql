-- gc-store schema v4 (SQLite): items that failed transiently, retried with backoff across runs
-- until `[errors] item_retry_limit`; the row goes when the item is committed or failed.
CREATE TABLE item_retries (
    kind       TEXT    NOT NULL,
    mailbox    TEXT    NOT NULL,
    item_key   TEXT    NOT NULL,
    attempts   INTEGER NOT NULL,
    retry_at   INTEGER NOT NULL,
    last_error TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, mailbox, item_key)
);
