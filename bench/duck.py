"""The floor of the benchmark: how long pyarrow alone takes to read the
columns the queries need from the store's current Parquet files (one task
per process, timed whole like `praktik` and the DuckDB CLI).

usage: python3 duck.py floor FILES.json
"""

import json
import sys


def main() -> None:
    if sys.argv[1:2] != ["floor"]:
        raise SystemExit("usage: python3 duck.py floor FILES.json")
    import pyarrow.parquet as pq

    files = json.load(open(sys.argv[2]))
    columns = ["internship_type", "benefit_group", "status_3m", "status_6m", "status_12m", "person_key"]
    print(pq.read_table(files, columns=columns).num_rows)


if __name__ == "__main__":
    main()
