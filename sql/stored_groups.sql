-- stored_groups: the benefit groups each stored quarter of `outcomes` holds.
--
-- No parameters. One row per quarter and benefit group, oldest first. A pull
-- that would store a quarter with fewer groups than this is refused.
SELECT
    CAST(period AS VARCHAR) AS period,
    benefit_group
FROM outcomes
GROUP BY period, benefit_group
ORDER BY period, benefit_group
