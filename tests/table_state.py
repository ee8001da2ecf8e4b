"""Print the rows of the store's tables as Python `deltalake` reads them.

Usage: table_state.py STORE [--with-pulled-at]

One section per table (`== outcomes`, `== internships`), each row as a JSON
line, sorted, so that two stores compare by text. Without --with-pulled-at
the pull time is left out (two runs of the same pull differ only there).
A table that does not exist prints `== TABLE (none)`.
"""

import json
import os
import sys

from deltalake import DeltaTable


def main():
    store = sys.argv[1]
    keep_time = "--with-pulled-at" in sys.argv[2:]
    for table in ("outcomes", "internships"):
        path = os.path.join(store, table)
        if not os.path.isdir(os.path.join(path, "_delta_log")):
            print(f"== {table} (none)")
            continue
        rows = DeltaTable(path).to_pyarrow_table().to_pylist()
        lines = []
        for row in rows:
            if not keep_time:
                row.pop("pulled_at", None)
            lines.append(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False))
        lines.sort()
        print(f"== {table} ({len(lines)} rows)")
        for line in lines:
            print(line)


if __name__ == "__main__":
    main()
