-- quarter_checks: what a briefing checks before it is rendered, per benefit
-- group in one quarter.
--
-- Parameters:
--   $period  the quarter, e.g. 2024Q4
--   $areas   the areas whose jump since the quarter before is checked (the
--            briefing's comparison set; the country is always checked)
--
-- One row per benefit group the store holds for the quarter:
--   municipalities_expected  municipalities in the reference table `areas`
--   municipalities_present   municipalities with a row of their own, or
--                            inside a jobcentre row (561/563 holds 561 and 563)
--   missing_municipalities   the names of the others, by code
--   country_present          whether the whole country has a row
--   country_share_pct        the country's share
--   municipal_mean_pct       the ended-weighted mean share of the
--                            municipalities: in work over ended, summed over
--                            the municipality rows and the jobcentre rows of
--                            municipalities without a row of their own
--   out_of_range             rows whose share lies outside 0–100
--   largest_jump_pp          the largest change of a shown share (rows of at
--                            least 5 ended) since the quarter before, among
--                            the country and $areas, and largest_jump_area
--                            the area it belongs to
WITH now AS (
    SELECT o.area_code, o.area_kind, o.benefit_group, o.ended,
           o.in_work_or_education, o.share_pct, a.members
    FROM outcomes o
    LEFT JOIN areas a ON a.area_code = o.area_code
    WHERE o.period = $period
),
inside_jobcentres AS (
    SELECT benefit_group, area_code, ended, in_work_or_education,
           unnest(string_to_array(members, ' ')) AS municipality
    FROM now
    WHERE area_kind = 'jobcenter'
),
own_rows AS (
    SELECT benefit_group, area_code AS municipality, ended, in_work_or_education
    FROM now
    WHERE area_kind = 'kommune'
),
covered AS (
    SELECT benefit_group, municipality FROM own_rows
    UNION
    SELECT benefit_group, municipality FROM inside_jobcentres
),
jobcentres_needed AS (
    SELECT j.benefit_group, j.area_code,
           MAX(j.ended) AS ended, MAX(j.in_work_or_education) AS in_work_or_education
    FROM inside_jobcentres j
    LEFT JOIN own_rows k
        ON k.benefit_group = j.benefit_group AND k.municipality = j.municipality
    GROUP BY j.benefit_group, j.area_code
    HAVING COUNT(k.municipality) = 0
),
weighted AS (
    SELECT benefit_group,
           ROUND(100.0 * SUM(in_work_or_education) / NULLIF(SUM(ended), 0), 1) AS municipal_mean_pct
    FROM (
        SELECT benefit_group, ended, in_work_or_education FROM own_rows
        UNION ALL
        SELECT benefit_group, ended, in_work_or_education FROM jobcentres_needed
    ) AS counted
    GROUP BY benefit_group
),
groups AS (
    SELECT benefit_group,
           bool_or(area_code = '000') AS country_present,
           MAX(CASE WHEN area_code = '000' THEN ROUND(share_pct, 1) END) AS country_share_pct,
           SUM(CASE WHEN share_pct < 0 OR share_pct > 100 THEN 1 ELSE 0 END) AS out_of_range
    FROM now
    GROUP BY benefit_group
),
missing AS (
    SELECT g.benefit_group,
           COUNT(c.municipality) AS municipalities_present,
           string_agg(CASE WHEN c.municipality IS NULL THEN m.area_name END, ', '
                      ORDER BY m.area_code) AS missing_municipalities
    FROM groups g
    CROSS JOIN (SELECT area_code, area_name FROM areas WHERE area_kind = 'kommune') m
    LEFT JOIN covered c
        ON c.benefit_group = g.benefit_group AND c.municipality = m.area_code
    GROUP BY g.benefit_group
),
jumps AS (
    SELECT n.benefit_group, n.area_code,
           ROUND(ROUND(n.share_pct, 1) - ROUND(b.share_pct, 1), 1) AS jump_pp,
           ROW_NUMBER() OVER (
               PARTITION BY n.benefit_group
               ORDER BY ABS(ROUND(n.share_pct, 1) - ROUND(b.share_pct, 1)) DESC, n.area_code
           ) AS place
    FROM now n
    JOIN outcomes b
        ON b.area_code = n.area_code AND b.benefit_group = n.benefit_group
    -- The quarter before, spelled out so that only its files are read.
    WHERE b.period = concat(
            CAST((CAST(substr($period, 1, 4) AS INT) * 4 + CAST(substr($period, 6, 1) AS INT) - 2) / 4 AS VARCHAR),
            'Q',
            CAST((CAST(substr($period, 1, 4) AS INT) * 4 + CAST(substr($period, 6, 1) AS INT) - 2) % 4 + 1 AS VARCHAR))
      AND (n.area_code = '000' OR array_has(string_to_array($areas, ','), n.area_code))
      AND n.ended >= 5 AND b.ended >= 5
)
SELECT
    g.benefit_group,
    (SELECT COUNT(*) FROM areas WHERE area_kind = 'kommune') AS municipalities_expected,
    m.municipalities_present,
    m.missing_municipalities,
    g.country_present,
    g.country_share_pct,
    w.municipal_mean_pct,
    g.out_of_range,
    j.jump_pp AS largest_jump_pp,
    j.area_code AS largest_jump_area
FROM groups g
JOIN missing m ON m.benefit_group = g.benefit_group
LEFT JOIN weighted w ON w.benefit_group = g.benefit_group
LEFT JOIN jumps j ON j.benefit_group = g.benefit_group AND j.place = 1
ORDER BY g.benefit_group
