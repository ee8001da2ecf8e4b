-- effect_by_type: what each internship type achieves, from person-level
-- data, per type and benefit group (and all groups together), for the
-- internships that ended in one quarter.
--
-- Parameters:
--   $period        the quarter the internships ended in, e.g. 2024Q2
--   $municipality  a municipality code, e.g. 101, or * for all
--
-- One row per type × benefit group × measure, where benefit_group 'alle' is
-- all groups together and the measures are:
--   3m, 6m, 12m  in ordinary work or education 3, 6 and 12 months after;
--   purpose      the type's own purpose: jobpraktik, work or education at
--                3 months; udviklingspraktik, clarified (work, education,
--                fleksjob or førtidspension) at 6 months; kompetencepraktik,
--                work or education at 12 months.
-- n counts the internships whose status at that horizon is known; x those
-- that met the measure. The interval is the 95 % Wilson score interval.
-- A cell built from fewer than 5 internships or 5 people is `suppressed`:
-- its n, x, share and interval are NULL (and internships and people where
-- fewer than 5 people stand behind the type and group).
WITH counted AS (
    SELECT
        internship_type,
        COALESCE(benefit_group, 'alle') AS benefit_group,
        COUNT(*) AS internships,
        COUNT(DISTINCT person_key) AS people,
        COUNT(status_3m) AS n_3m,
        SUM(CASE WHEN status_3m IN ('ordinary_job', 'education') THEN 1 ELSE 0 END) AS x_3m,
        COUNT(status_6m) AS n_6m,
        SUM(CASE WHEN status_6m IN ('ordinary_job', 'education') THEN 1 ELSE 0 END) AS x_6m,
        SUM(CASE WHEN status_6m IN ('ordinary_job', 'education', 'fleksjob', 'foertidspension') THEN 1 ELSE 0 END) AS clarified_6m,
        COUNT(status_12m) AS n_12m,
        SUM(CASE WHEN status_12m IN ('ordinary_job', 'education') THEN 1 ELSE 0 END) AS x_12m
    FROM internships
    WHERE period = $period
      AND (municipality_code = $municipality OR CAST($municipality AS VARCHAR) = '*')
    GROUP BY GROUPING SETS ((internship_type, benefit_group), (internship_type))
),
measured AS (
    SELECT
        c.internship_type,
        c.benefit_group,
        c.internships,
        c.people,
        m.measure,
        m.position,
        CAST(CASE m.measure
            WHEN '3m' THEN n_3m
            WHEN '6m' THEN n_6m
            WHEN '12m' THEN n_12m
            ELSE CASE c.internship_type WHEN 'jobpraktik' THEN n_3m WHEN 'udviklingspraktik' THEN n_6m ELSE n_12m END
        END AS DOUBLE) AS n,
        CAST(CASE m.measure
            WHEN '3m' THEN x_3m
            WHEN '6m' THEN x_6m
            WHEN '12m' THEN x_12m
            ELSE CASE c.internship_type WHEN 'jobpraktik' THEN x_3m WHEN 'udviklingspraktik' THEN clarified_6m ELSE x_12m END
        END AS DOUBLE) AS x
    FROM counted c
    CROSS JOIN (VALUES ('3m', 1), ('6m', 2), ('12m', 3), ('purpose', 4)) AS m(measure, position)
),
judged AS (
    SELECT *, n < 5 OR people < 5 AS hidden FROM measured
)
SELECT
    internship_type,
    benefit_group,
    measure,
    CASE WHEN people < 5 THEN NULL ELSE internships END AS internships,
    CASE WHEN people < 5 THEN NULL ELSE people END AS people,
    CASE WHEN hidden THEN NULL ELSE CAST(n AS BIGINT) END AS n,
    CASE WHEN hidden THEN NULL ELSE CAST(x AS BIGINT) END AS x,
    CASE WHEN hidden THEN NULL ELSE ROUND(100.0 * x / NULLIF(n, 0), 1) END AS share_pct,
    CASE WHEN hidden THEN NULL ELSE
        ROUND(100.0 * (x / n + 3.8416 / (2 * n) - 1.96 * sqrt(x / n * (1 - x / n) / n + 3.8416 / (4 * n * n)))
            / (1 + 3.8416 / n), 1) END AS low_pct,
    CASE WHEN hidden THEN NULL ELSE
        ROUND(100.0 * (x / n + 3.8416 / (2 * n) + 1.96 * sqrt(x / n * (1 - x / n) / n + 3.8416 / (4 * n * n)))
            / (1 + 3.8416 / n), 1) END AS high_pct,
    hidden AS suppressed
FROM judged
ORDER BY internship_type, benefit_group = 'alle' DESC, benefit_group, position
