-- effect_by_municipality: per municipality and benefit group, from
-- person-level data, the share of internships ended in one quarter whose
-- citizen was in ordinary work or education 3 months after, the national
-- share for the group, and the municipality's rank within the group.
--
-- Parameters:
--   $period  the quarter the internships ended in, e.g. 2024Q2
--
-- n counts the internships with a known 3-month status, x those in work or
-- education. The national share is computed from the same aggregate (one
-- scan of the data). A cell of fewer than 5 internships is `suppressed`:
-- its n, x and share are NULL (the national share still counts it), and it
-- is not ranked.
WITH counted AS (
    SELECT
        municipality_code,
        benefit_group,
        COUNT(status_3m) AS n,
        SUM(CASE WHEN status_3m IN ('ordinary_job', 'education') THEN 1 ELSE 0 END) AS x
    FROM internships
    WHERE period = $period
    GROUP BY municipality_code, benefit_group
)
SELECT
    municipality_code,
    benefit_group,
    CASE WHEN n < 5 THEN NULL ELSE n END AS n,
    CASE WHEN n < 5 THEN NULL ELSE x END AS x,
    CASE WHEN n < 5 THEN NULL ELSE ROUND(100.0 * x / NULLIF(n, 0), 1) END AS share_pct,
    ROUND(100.0 * SUM(x) OVER (PARTITION BY benefit_group)
        / NULLIF(SUM(n) OVER (PARTITION BY benefit_group), 0), 1) AS national_share_pct,
    CASE WHEN n >= 5 THEN
        RANK() OVER (PARTITION BY benefit_group ORDER BY CASE WHEN n >= 5 THEN 1.0 * x / n END DESC NULLS LAST)
    END AS rank_in_group,
    n < 5 AS suppressed
FROM counted
ORDER BY benefit_group, municipality_code
