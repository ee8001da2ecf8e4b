"""Read praktik's store with independent readers and print the figures of one
quarter as JSON, for the cross-check test to compare with `praktik query`.

Two readers: the Python `deltalake` package (Delta-aware, to pyarrow), and
DuckDB over the table's current Parquet files as the Delta log lists them.

usage: python3 tests/crosscheck.py STORE PERIOD AREA[,AREA...]
"""

import json
import sys

import duckdb
from deltalake import DeltaTable


def main() -> None:
    store, period, areas = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    table = DeltaTable(f"{store}/outcomes")
    arrow = table.to_pyarrow_table(
        partitions=[("period", "=", period)],
        columns=["area_code", "benefit_group", "ended", "in_work_or_education", "share_pct"],
    )
    by_deltalake = sorted(
        (r["area_code"], r["benefit_group"], r["ended"], r["in_work_or_education"], r["share_pct"])
        for r in arrow.to_pylist()
        if r["area_code"] in areas
    )

    files = [uri for uri in table.file_uris() if f"period={period}" in uri]
    con = duckdb.connect()
    rows = con.execute(
        """
        SELECT area_code, benefit_group, ended, in_work_or_education, share_pct
        FROM read_parquet(?)
        WHERE list_contains(?, area_code)
        ORDER BY area_code, benefit_group
        """,
        [files, areas],
    ).fetchall()
    by_duckdb = sorted(tuple(r) for r in rows)

    json.dump(
        {
            "version": table.version(),
            "deltalake": [list(r) for r in by_deltalake],
            "duckdb": [list(r) for r in by_duckdb],
        },
        sys.stdout,
        ensure_ascii=False,
    )


if __name__ == "__main__":
    main()
