-- briefing_trend: one area against the whole country and a comparison set,
-- quarter by quarter, with the change since the quarter before and since the
-- same quarter a year before, and whether each change is larger than the
-- statistical uncertainty.
--
-- Parameters:
--   $area      the area's code, e.g. 101
--   $areas     the comparison set: codes separated by commas, e.g. 101,751,851
--   $period    the last quarter, e.g. 2024Q4
--   $quarters  how many quarters up to and including $period, e.g. 8
--
-- One row per benefit group and quarter of the window that the store holds
-- for any of these areas, oldest first. Shares are as shown: one decimal. A
-- share built from fewer than 5 ended internships is `suppressed` (NULL) and
-- is neither compared nor part of the band. set_low_pct and set_high_pct are
-- the lowest and highest shown share of the comparison set, set_count how
-- many of its areas have one.
--
-- change_quarter_pp is the shown share minus the shown share of the quarter
-- before; margin_quarter_pp is 1.96 times the standard error of that
-- difference, sqrt(p1(1-p1)/n1 + p2(1-p2)/n2) from the shares and ended
-- counts; real_change_quarter says |change| > margin (both as shown). The
-- _year columns do the same against the quarter a year before.
WITH base AS (
    SELECT
        period,
        benefit_group,
        area_code,
        ended,
        in_work_or_education,
        ROUND(share_pct, 1) AS shown_pct,
        COALESCE(ended < 5, false) AS suppressed,
        array_has(string_to_array($areas, ','), area_code) AS in_set,
        CAST(substr(period, 1, 4) AS INT) * 4 + CAST(substr(period, 6, 1) AS INT) AS quarter_index
    FROM outcomes
    WHERE area_code = $area
       OR area_code = '000'
       OR array_has(string_to_array($areas, ','), area_code)
),
per_quarter AS (
    SELECT
        period,
        benefit_group,
        quarter_index,
        MAX(CASE WHEN area_code = $area AND NOT suppressed THEN ended END) AS ended,
        MAX(CASE WHEN area_code = $area AND NOT suppressed THEN in_work_or_education END) AS in_work,
        MAX(CASE WHEN area_code = $area AND NOT suppressed THEN shown_pct END) AS share,
        COALESCE(bool_or(area_code = $area AND suppressed), false) AS suppressed,
        MAX(CASE WHEN area_code = '000' AND NOT suppressed THEN shown_pct END) AS country,
        MIN(CASE WHEN in_set AND area_code <> '000' AND NOT suppressed THEN shown_pct END) AS set_low,
        MAX(CASE WHEN in_set AND area_code <> '000' AND NOT suppressed THEN shown_pct END) AS set_high,
        COUNT(CASE WHEN in_set AND area_code <> '000' AND NOT suppressed THEN shown_pct END) AS set_count
    FROM base
    GROUP BY period, benefit_group, quarter_index
),
-- The quarter before and the same quarter a year before, by window frames
-- over the quarter number (a quarter missing from the store gives NULL),
-- so that the store is read once.
neighbours AS (
    SELECT
        *,
        MAX(share) OVER (PARTITION BY benefit_group ORDER BY quarter_index
                         RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS share_before,
        MAX(ended) OVER (PARTITION BY benefit_group ORDER BY quarter_index
                         RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS ended_before,
        MAX(share) OVER (PARTITION BY benefit_group ORDER BY quarter_index
                         RANGE BETWEEN 4 PRECEDING AND 4 PRECEDING) AS share_year_before,
        MAX(ended) OVER (PARTITION BY benefit_group ORDER BY quarter_index
                         RANGE BETWEEN 4 PRECEDING AND 4 PRECEDING) AS ended_year_before
    FROM per_quarter
),
compared AS (
    SELECT
        period,
        benefit_group,
        quarter_index,
        ended,
        in_work,
        share,
        suppressed,
        country,
        set_low,
        set_high,
        set_count,
        ROUND(share - share_before, 1) AS change_quarter,
        ROUND(1.96 * 100.0 * sqrt(
            (share / 100.0) * (1.0 - share / 100.0) / ended
            + (share_before / 100.0) * (1.0 - share_before / 100.0) / ended_before), 1) AS margin_quarter,
        ROUND(share - share_year_before, 1) AS change_year,
        ROUND(1.96 * 100.0 * sqrt(
            (share / 100.0) * (1.0 - share / 100.0) / ended
            + (share_year_before / 100.0) * (1.0 - share_year_before / 100.0) / ended_year_before), 1) AS margin_year
    FROM neighbours
)
SELECT
    period,
    benefit_group,
    ended,
    in_work AS in_work_or_education,
    share AS share_pct,
    suppressed,
    country AS country_share_pct,
    set_low AS set_low_pct,
    set_high AS set_high_pct,
    set_count,
    change_quarter AS change_quarter_pp,
    margin_quarter AS margin_quarter_pp,
    ABS(change_quarter) > margin_quarter AS real_change_quarter,
    change_year AS change_year_pp,
    margin_year AS margin_year_pp,
    ABS(change_year) > margin_year AS real_change_year
FROM compared
WHERE quarter_index
    BETWEEN CAST(substr($period, 1, 4) AS INT) * 4 + CAST(substr($period, 6, 1) AS INT)
            - CAST($quarters AS INT) + 1
        AND CAST(substr($period, 1, 4) AS INT) * 4 + CAST(substr($period, 6, 1) AS INT)
ORDER BY benefit_group, period
