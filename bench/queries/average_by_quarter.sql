-- A GROUP BY over all quarters with an average.
SELECT period, count(*) AS ended, round(avg(hours_per_week), 2) AS hours
FROM internships
GROUP BY period
ORDER BY period
