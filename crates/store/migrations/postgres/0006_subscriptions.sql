-- gc-store schema v6 (postgres): change-notification subscriptions, one per mailbox and kind, so
-- that every process of a tenant and every restart reuses them instead of creating more.
-- client_state is the shared secret Graph sends back with each notification; it is checked
-- on every notification and never shown.
CREATE TABLE subscriptions (
    mailbox         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL UNIQUE,
    resource        TEXT    NOT NULL,
    client_state    TEXT    NOT NULL,
    expires_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (mailbox, kind)
);
