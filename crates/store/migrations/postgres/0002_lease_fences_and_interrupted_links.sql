-- gc-store schema v2 (PostgreSQL): fenced leases and the typed "interrupted" link state.

-- 1. Lease generations. Every new holding of a lease draws the next number of one
-- store-wide sequence, so a generation is never reused even after the lease row is deleted
-- by a release. The column default gives existing rows (and rows inserted by a process
-- still running the previous version) distinct generations.
CREATE SEQUENCE lease_generation AS BIGINT;
ALTER TABLE leases ADD COLUMN generation BIGINT NOT NULL DEFAULT nextval('lease_generation');
ALTER SEQUENCE lease_generation OWNED BY leases.generation;

-- 2. Links: the intent marker stored before a CRM write becomes its own state,
-- 'interrupted', instead of 'failed' with a reason text the engine compared.
ALTER TABLE links DROP CONSTRAINT links_state_check;
UPDATE links SET state = 'interrupted', state_reason = NULL
WHERE state = 'failed' AND state_reason = 'interrupted while writing to CRM';
ALTER TABLE links ADD CONSTRAINT links_state_check
    CHECK (state IN ('active', 'soft_deleted', 'conflict', 'failed', 'interrupted'));
