-- last_runs: the newest runs and pulls from the run ledger, newest first.
--
-- Parameters:
--   $count  how many, e.g. 5
SELECT
    started_at,
    ended_at,
    command,
    source,
    outcome,
    versions,
    error
FROM runs
ORDER BY started_at DESC
LIMIT CAST($count AS BIGINT)
