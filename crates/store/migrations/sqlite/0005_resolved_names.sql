-- gc-store schema v5 (SQLite): names a kind resolved once (a mail folder path → its Graph id,
-- a list name → its id) and keeps, so an idle cycle does not ask Graph again; the kind drops
-- a row when Graph answers 404 for the id and resolves the name again.
CREATE TABLE resolved_names (
    mailbox    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (mailbox, kind, name)
);
