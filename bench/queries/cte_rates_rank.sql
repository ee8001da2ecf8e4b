-- An analyst's question, written naturally: per municipality and year, the
-- share in work or education 3 months after, the national share that year
-- and the municipality's rank. The CTE per_area is read twice.
WITH per_area AS (
    SELECT
        municipality_code,
        substr(period, 1, 4) AS year,
        count(status_3m) AS n,
        sum(CASE WHEN status_3m IN ('ordinary_job', 'education') THEN 1 ELSE 0 END) AS x
    FROM internships
    GROUP BY municipality_code, substr(period, 1, 4)
),
national AS (
    SELECT year, sum(x) * 100.0 / sum(n) AS national_pct
    FROM per_area
    GROUP BY year
)
SELECT
    p.municipality_code,
    p.year,
    round(p.x * 100.0 / p.n, 1) AS pct,
    round(national.national_pct, 1) AS national_pct,
    rank() OVER (PARTITION BY p.year ORDER BY p.x * 100.0 / p.n DESC) AS place
FROM per_area p
JOIN national ON p.year = national.year
ORDER BY p.year, place, p.municipality_code
