"""DuckDB's side of the benchmark, one task per process so that it is timed
whole (start-up included), like `praktik`.

usage:
  python3 duck.py ingest DATA.csv OUT.parquet
  python3 duck.py query FILES.json SQLFILE [name=value ...]   # prints CSV
  python3 duck.py floor FILES.json                            # pyarrow reads the needed columns
"""

import csv
import json
import sys


def main() -> None:
    task = sys.argv[1]
    if task == "ingest":
        import duckdb

        source, target = sys.argv[2], sys.argv[3]
        duckdb.sql(
            f"""COPY (SELECT * FROM read_csv('{source}', delim = ';', header = true,
                decimal_separator = ',', dateformat = '%d-%m-%Y'))
                TO '{target}' (FORMAT parquet)"""
        )
    elif task == "query":
        import duckdb

        files = json.load(open(sys.argv[2]))
        sql = open(sys.argv[3]).read()
        params = dict(p.split("=", 1) for p in sys.argv[4:])
        con = duckdb.connect()
        con.read_parquet(files, hive_partitioning=True).create_view("internships")
        # Only the parameters this query names, as DuckDB wants.
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        result = con.execute(sql, used)
        names = [d[0] for d in result.description]
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(names)
        for row in result.fetchall():
            out.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in row])
    elif task == "floor":
        import pyarrow.parquet as pq

        files = json.load(open(sys.argv[2]))
        table = pq.read_table(files, columns=["internship_type", "benefit_group", "status_3m", "status_6m", "status_12m", "person_key"])
        print(table.num_rows)
    else:
        raise SystemExit(f"unknown task {task}")


if __name__ == "__main__":
    main()
