-- gc-store schema v7: links of a mailbox and kind by the time they were last written. The idle
-- check asks, per mailbox, when a link was last written (one index seek instead of a scan of
-- the mailbox's links), and a run reads the links written after its source's checkpoint was
-- stored: a round that linked items and never stored its checkpoint (cut off, or delayed)
-- leaves links that no later delta may report again.
CREATE INDEX links_written ON links (kind, mailbox, updated_at);
