-- gc-store schema v8: on SQLite this version rebuilds the links table to write its CHECK on
-- `state` as a chain of comparisons, because SQLite checks an `IN` list of more than two
-- values through a temporary b-tree for every row written. PostgreSQL checks
-- `links_state_check` (`state IN (…)`, migration 0002) in place, so nothing changes here; the
-- file keeps the two folders at the same version.
SELECT 1;
