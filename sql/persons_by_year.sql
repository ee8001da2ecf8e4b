-- persons_by_year: how many different people (pseudonymous person keys)
-- ended an internship, per municipality and calendar year of the end, and
-- how many internships they ended.
--
-- No parameters. One row per municipality and year.
SELECT
    municipality_code,
    CAST(date_part('year', end_date) AS BIGINT) AS year,
    COUNT(DISTINCT person_key) AS people,
    COUNT(*) AS internships
FROM internships
GROUP BY municipality_code, CAST(date_part('year', end_date) AS BIGINT)
ORDER BY municipality_code, year
