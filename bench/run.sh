#!/usr/bin/env bash
# One command: build praktik with the `dist` profile (release + thin LTO), install the Python readers, run the
# benchmark against DuckDB and Polars, and write bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist
# GNU time measures each process's peak memory (bench.py says why not wait4).
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt -r bench/requirements.txt
python3 bench/bench.py "$@"
