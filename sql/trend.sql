-- trend: one area against the whole country, quarter by quarter, for the
-- last N quarters up to and including a given quarter.
--
-- Parameters:
--   $area      the area's code, e.g. 101
--   $period    the last quarter, e.g. 2019Q3
--   $quarters  how many quarters, e.g. 8
--
-- One row per benefit group and quarter, oldest first. A quarter the store
-- lacks for the area has no row. A quarter of fewer than 5 ended
-- internships is `suppressed`: its counts and shares are NULL.
WITH chosen AS (
    SELECT
        period,
        benefit_group,
        area_code,
        CASE WHEN ended < 5 THEN NULL ELSE ended END AS ended,
        CASE WHEN ended < 5 THEN NULL ELSE in_work_or_education END AS in_work_or_education,
        CASE WHEN ended < 5 THEN NULL ELSE share_pct END AS share_pct,
        COALESCE(ended < 5, false) AS suppressed,
        CAST(substr(period, 1, 4) AS INT) * 4 + CAST(substr(period, 6, 1) AS INT) AS quarter_index
    FROM outcomes
    WHERE area_code = $area OR area_code = '000'
)
SELECT
    period,
    benefit_group,
    MAX(CASE WHEN area_code = $area THEN ended END) AS ended,
    MAX(CASE WHEN area_code = $area THEN in_work_or_education END) AS in_work_or_education,
    MAX(CASE WHEN area_code = $area THEN share_pct END) AS share_pct,
    MAX(CASE WHEN area_code = '000' THEN share_pct END) AS country_share_pct,
    ROUND(MAX(CASE WHEN area_code = $area THEN share_pct END)
        - MAX(CASE WHEN area_code = '000' THEN share_pct END), 1) AS diff_pp,
    COALESCE(bool_or(area_code = $area AND suppressed), false) AS suppressed
FROM chosen
WHERE quarter_index
    BETWEEN CAST(substr($period, 1, 4) AS INT) * 4 + CAST(substr($period, 6, 1) AS INT)
            - CAST($quarters AS INT) + 1
        AND CAST(substr($period, 1, 4) AS INT) * 4 + CAST(substr($period, 6, 1) AS INT)
GROUP BY period, benefit_group
HAVING MAX(CASE WHEN area_code = $area THEN 1 END) = 1
ORDER BY benefit_group, period
