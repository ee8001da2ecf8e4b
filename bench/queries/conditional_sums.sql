-- A GROUP BY over all quarters with conditional sums.
SELECT
    period,
    count(*) AS ended,
    sum(CASE WHEN status_3m = 'ordinary_job' THEN 1 ELSE 0 END) AS job,
    sum(CASE WHEN status_3m = 'education' THEN 1 ELSE 0 END) AS education,
    sum(CASE WHEN status_3m IS NULL THEN 1 ELSE 0 END) AS unknown
FROM internships
GROUP BY period
ORDER BY period
