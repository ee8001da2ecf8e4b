-- outcomes_by_type: the full distribution of where citizens are 3, 6 and 12
-- months after an internship ended, per internship type, for the internships
-- that ended in one quarter.
--
-- Parameters:
--   $period        the quarter the internships ended in, e.g. 2024Q2
--   $municipality  a municipality code, e.g. 101, or * for all
--
-- One row per type × horizon × status (ordinary_job, education, fleksjob,
-- foertidspension, on_benefit, other). Internships whose status at a horizon
-- is not known yet are left out of that horizon; share_pct is of those known.
-- A status of fewer than 5 internships is `suppressed`: its count and share
-- are NULL.
WITH chosen AS (
    SELECT internship_type, status_3m, status_6m, status_12m
    FROM internships
    WHERE period = $period
      AND (municipality_code = $municipality OR CAST($municipality AS VARCHAR) = '*')
),
long AS (
    SELECT
        internship_type,
        h.horizon_months,
        CASE h.horizon_months WHEN 3 THEN status_3m WHEN 6 THEN status_6m ELSE status_12m END AS status
    FROM chosen
    CROSS JOIN (VALUES (3), (6), (12)) AS h(horizon_months)
)
SELECT
    internship_type,
    horizon_months,
    status,
    CASE WHEN COUNT(*) < 5 THEN NULL ELSE COUNT(*) END AS internships,
    CASE WHEN COUNT(*) < 5 THEN NULL ELSE
        ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY internship_type, horizon_months), 1)
    END AS share_pct,
    COUNT(*) < 5 AS suppressed
FROM long
WHERE status IS NOT NULL
GROUP BY internship_type, horizon_months, status
ORDER BY internship_type, horizon_months, status
