"""The benchmark's second peer: Polars (the Python package; its native
`polars-cli` lags the engine and runs neither GROUPING SETS nor RANK), one
task per process, timed whole like `praktik` and the DuckDB CLI, so each
figure includes Python's start-up and Polars' import (the `start-up` task
alone: what that costs).

usage: python3 polars_peer.py start-up
       python3 polars_peer.py ingest CSV PARQUET
       python3 polars_peer.py query FILES.json SQL_FILE [name=value ...]

`ingest` copies the Danish CSV to Parquet as DuckDB's `COPY` does (`;`,
decimal comma, dd-mm-yyyy dates). `query` reads the store's current files
as `internships` (the partition column from their paths) and prints the
named query's rows as CSV; its `$name` parameters are the benchmark's own
fixed values, written into the SQL as text literals (Polars' SQL takes no
parameters).
"""

import json
import sys
from pathlib import Path


def main() -> None:
    task = sys.argv[1:2]
    import polars as pl

    if task == ["start-up"]:
        print(pl.__version__)
    elif task == ["ingest"]:
        csv, parquet = sys.argv[2], sys.argv[3]
        frame = pl.scan_csv(csv, separator=";", decimal_comma=True)
        dates = [pl.col(c).str.to_date("%d-%m-%Y") for c in ("Startdato", "Slutdato")]
        frame.with_columns(dates).sink_parquet(parquet)
    elif task == ["query"]:
        files = json.load(open(sys.argv[2]))
        sql = Path(sys.argv[3]).read_text()
        for param in sys.argv[4:]:
            name, value = param.split("=", 1)
            sql = sql.replace(f"${name}", "'" + value.replace("'", "''") + "'")
        internships = pl.scan_parquet(files, hive_partitioning=True)
        result = pl.SQLContext(internships=internships).execute(sql, eager=True)
        sys.stdout.write(result.write_csv())
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
