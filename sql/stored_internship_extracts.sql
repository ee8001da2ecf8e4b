-- stored_internship_extracts: which extract each stored quarter of `internships` comes
-- from: the source, the SHA-256 of the body as landed under raw/, when it was
-- pulled, and how many rows it gave.
--
-- No parameters. One row per quarter (and extract), oldest first. A quarter
-- of fewer than 5 internships has no row count (NULL): it would count people.
SELECT
    CAST(period AS VARCHAR) AS period,
    source,
    extract_sha256,
    MAX(pulled_at) AS pulled_at,
    CASE WHEN COUNT(*) < 5 THEN NULL ELSE COUNT(*) END AS row_count
FROM internships
GROUP BY period, source, extract_sha256
ORDER BY period, pulled_at
