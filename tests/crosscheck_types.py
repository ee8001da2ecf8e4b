"""Compute the per-type 3-month share and its 95 % Wilson interval straight
from a Danish person-level CSV with DuckDB, independently of praktik, and
print them as JSON for the test to compare with sql/effect_by_type.sql.

usage: python3 tests/crosscheck_types.py FILE.csv PERIOD MUNICIPALITY
"""

import json
import math
import sys

import duckdb


def main() -> None:
    path, period, municipality = sys.argv[1], sys.argv[2], sys.argv[3]
    year, quarter = int(period[:4]), int(period[-1])
    rows = duckdb.sql(
        """
        SELECT Praktiktype AS internship_type,
               count("Status 3 mdr") AS n,
               count(*) FILTER (WHERE "Status 3 mdr" IN ('Ordinær beskæftigelse', 'Uddannelse')) AS x
        FROM read_csv(?, delim = ';', header = true, all_varchar = true)
        WHERE Kommune = ?
          AND year(strptime(Slutdato, '%d-%m-%Y')) = ?
          AND quarter(strptime(Slutdato, '%d-%m-%Y')) = ?
        GROUP BY 1 ORDER BY 1
        """,
        params=[path, municipality, year, quarter],
    ).fetchall()
    out = []
    z = 1.96
    for kind, n, x in rows:
        p = x / n
        centre = p + z * z / (2 * n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        denominator = 1 + z * z / n
        out.append(
            {
                "internship_type": kind,
                "n": n,
                "x": x,
                "share_pct": round(100 * p, 1),
                "low_pct": round(100 * (centre - half) / denominator, 1),
                "high_pct": round(100 * (centre + half) / denominator, 1),
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
