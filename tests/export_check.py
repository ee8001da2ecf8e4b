"""Read a `praktik export` folder with DuckDB, Polars and pandas, none of
which knows about Delta Lake, and print per quarter the row count and the
sum of one column, as each reader sees them (JSON on stdout).

usage: python3 tests/export_check.py DIR COLUMN
"""

import json
import sys

import duckdb
import pandas as pd
import polars as pl

folder, column = sys.argv[1], sys.argv[2]
glob = f"{folder}/**/*.parquet"

rows = duckdb.sql(
    f"SELECT period, COUNT(*), SUM({column}) FROM read_parquet('{glob}', hive_partitioning = true) "
    "GROUP BY period ORDER BY period"
).fetchall()
def total(value):
    return round(float(value or 0), 3)


by_duckdb = {p: [n, total(s)] for p, n, s in rows}

frame = (
    pl.scan_parquet(glob, hive_partitioning=True)
    .group_by("period")
    .agg(pl.len().alias("n"), pl.col(column).sum().alias("s"))
    .sort("period")
    .collect()
)
by_polars = {str(p): [int(n), total(s)] for p, n, s in frame.iter_rows()}

table = pd.read_parquet(folder)
grouped = table.groupby("period", observed=True)[column].agg(["size", "sum"])
by_pandas = {str(p): [int(r["size"]), total(r["sum"])] for p, r in grouped.iterrows()}

print(json.dumps({"duckdb": by_duckdb, "polars": by_polars, "pandas": by_pandas}))
