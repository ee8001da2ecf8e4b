-- persons_by_year: how many different people (pseudonymous person keys)
-- ended an internship, per municipality and calendar year of the end, and
-- how many internships they ended.
--
-- No parameters. One row per municipality and year; where fewer than 5
-- people stand behind it, it is `suppressed` and its counts are NULL.
--
-- Counted in two groupings (per person, then per municipality and year)
-- rather than with COUNT(DISTINCT person_key): the distinct count keeps a set
-- of keys per group and needed half again as much memory at 10M rows.
WITH per_person AS (
    SELECT
        municipality_code,
        CAST(date_part('year', end_date) AS BIGINT) AS year,
        person_key,
        COUNT(*) AS internships
    FROM internships
    GROUP BY municipality_code, CAST(date_part('year', end_date) AS BIGINT), person_key
)
SELECT
    municipality_code,
    year,
    CASE WHEN COUNT(*) < 5 THEN NULL ELSE COUNT(*) END AS people,
    CASE WHEN COUNT(*) < 5 THEN NULL ELSE SUM(internships) END AS internships,
    COUNT(*) < 5 AS suppressed
FROM per_person
GROUP BY municipality_code, year
ORDER BY municipality_code, year
