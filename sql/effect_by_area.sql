-- effect_by_area: the share of citizens in ordinary work or education 3 months
-- after an ended company internship, per area and benefit group in one
-- quarter, against the whole country, with each area's rank in a comparison set.
--
-- Parameters:
--   $period  the quarter, e.g. 2019Q3
--   $areas   the comparison set: area codes separated by commas, in the order
--            to show them, e.g. 101,751,851,461,561/563,730
--
-- One row per benefit group for the whole country (area_code 000, never
-- ranked, position NULL) and for each area of the set. Ranks compare shares
-- as shown (one decimal); tied areas share a rank, and `tied` says how many
-- areas of the set have that share. A share built from fewer than 5 ended
-- internships is `suppressed`: its counts and share are NULL, and it is
-- neither ranked nor compared. Areas without a shown share are not ranked and not
-- counted in `set_size`.
WITH chosen AS (
    SELECT
        area_code,
        area_name,
        area_kind,
        benefit_group,
        ended,
        in_work_or_education,
        share_pct,
        CASE WHEN ended < 5 THEN NULL ELSE ROUND(share_pct, 1) END AS shown_pct,
        COALESCE(ended < 5, false) AS suppressed,
        area_code = '000' AS is_country,
        array_position(string_to_array($areas, ','), area_code) AS position
    FROM outcomes
    WHERE period = $period
      AND (area_code = '000' OR array_has(string_to_array($areas, ','), area_code))
)
SELECT
    position,
    area_code,
    area_name,
    area_kind,
    benefit_group,
    CASE WHEN suppressed THEN NULL ELSE ended END AS ended,
    CASE WHEN suppressed THEN NULL ELSE in_work_or_education END AS in_work_or_education,
    CASE WHEN suppressed THEN NULL ELSE share_pct END AS share_pct,
    suppressed,
    MAX(CASE WHEN is_country AND NOT suppressed THEN share_pct END)
        OVER (PARTITION BY benefit_group) AS country_share_pct,
    ROUND(shown_pct - MAX(CASE WHEN is_country THEN shown_pct END)
        OVER (PARTITION BY benefit_group), 1) AS diff_pp,
    CASE WHEN NOT is_country AND shown_pct IS NOT NULL THEN
        RANK() OVER (PARTITION BY benefit_group, is_country, shown_pct IS NULL
                     ORDER BY shown_pct DESC)
    END AS rank_in_set,
    COUNT(CASE WHEN NOT is_country THEN shown_pct END)
        OVER (PARTITION BY benefit_group) AS set_size,
    CASE WHEN NOT is_country AND shown_pct IS NOT NULL THEN
        COUNT(*) OVER (PARTITION BY benefit_group, is_country, shown_pct)
    END AS tied
FROM chosen
ORDER BY benefit_group, position NULLS FIRST, area_code
