-- gc-store schema v4 (PostgreSQL): items that failed transiently, retried with backoff across
-- runs until `[errors] item_retry_limit`; the row goes when the item is committed or failed.
CREATE TABLE item_retries (
    kind       TEXT    NOT NULL,
    mailbox    TEXT    NOT NULL,
    item_key   TEXT    NOT NULL,
    attempts   BIGINT  NOT NULL,
    retry_at   BIGINT  NOT NULL,
    last_error TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (kind, mailbox, item_key)
);
