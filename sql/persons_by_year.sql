-- persons_by_year: how many different people (pseudonymous person keys)
-- ended an internship, per municipality and calendar year of the end, and
-- how many internships they ended.
--
-- No parameters. One row per municipality and year.
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
    COUNT(*) AS people,
    SUM(internships) AS internships
FROM per_person
GROUP BY municipality_code, year
ORDER BY municipality_code, year
