"""Look for CPR numbers in a store with readers that are not praktik's own.

Usage: privacy_scan.py STORE_OR_FOLDER FORM [FORM ...]

Every Parquet file is read back value by value with pyarrow (not grepped:
its pages are compressed); every `_delta_log` entry is parsed as JSON,
and the statistics inside it (a JSON text) are parsed too; every other file
is searched byte for byte. Each FORM (a CPR number as written in a test
input) must appear nowhere. Prints what it found and exits 1, or prints a
count of the values it looked at.
"""

import json
import os
import sys

import pyarrow.parquet as pq


def strings_in(value):
    """Every leaf of a parsed JSON value, as text; JSON inside text too."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, str):
        yield value
        if value[:1] in "{[":
            try:
                yield from strings_in(json.loads(value))
            except ValueError:
                pass
    elif value is not None:
        yield str(value)


def main():
    root, forms = sys.argv[1], sys.argv[2:]
    found, looked = [], 0
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".parquet"):
                table = pq.read_table(path)
                texts = []
                for column in table.columns:
                    texts.extend(str(v) for v in column.to_pylist())
                texts.extend(table.column_names)
                texts.extend(str(v) for v in (table.schema.metadata or {}).values())
            elif os.sep + "_delta_log" + os.sep in path + os.sep and name.endswith(".json"):
                texts = []
                with open(path, encoding="utf-8") as log:
                    for line in log:
                        if line.strip():
                            texts.extend(strings_in(json.loads(line)))
            else:
                with open(path, "rb") as body:
                    texts = [body.read().decode("latin-1")]
            looked += len(texts)
            for text in texts:
                for form in forms:
                    if form in text:
                        found.append(f"{path}: {form}")
    if found:
        print("\n".join(sorted(set(found))))
        sys.exit(1)
    print(f"no CPR number in {looked} values")


if __name__ == "__main__":
    main()
