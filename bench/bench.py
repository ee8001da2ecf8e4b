"""praktik against DuckDB on the same generated person-level data.

For each size: generate a Danish CSV (fixed seed), ingest it with both
engines, check that both return the same numbers for every query, then time
each task as a whole process (median wall seconds of --runs after one
warm-up, and peak RSS), and write bench/RESULTS.md.

usage: python3 bench/bench.py [--rows 1000000 10000000] [--runs 5]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PRAKTIK = ROOT / "target" / "dist" / "praktik"
WORK = HERE / "work"


def duckdb_cli():
    """The native DuckDB CLI from PyPI's duckdb-cli, not its Python wrapper
    (whose start-up would be counted in every figure)."""
    import duckdb_cli

    return Path(duckdb_cli.__file__).parent / "duckdb"


DUCKDB = duckdb_cli()
# The second peer: Polars, a process per task (bench/polars_peer.py).
POLARS = [sys.executable, HERE / "polars_peer.py"]


def duck_query_script(files, sql_file, params):
    """A DuckDB CLI script: the store's current files as `internships`, the
    named query prepared with its $parameters, executed, printed as CSV."""
    sql = Path(sql_file).read_text()
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    used = [p.split("=", 1) for p in params if f"${p.split('=', 1)[0]}" in sql]
    arguments = ", ".join(f"{k} := '{v}'" for k, v in used)
    return (
        f"CREATE VIEW internships AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true);\n"
        f"PREPARE q AS {sql.strip().rstrip(';')};\n"
        ".mode csv\n"
        ".nullvalue ''\n"
        f"EXECUTE q{'(' + arguments + ')' if arguments else ''};\n"
    )

# The named queries of sql/, then ad hoc ones written as an analyst would (bench/queries/).
QUERIES = [
    ("per-type effect (effect_by_type.sql)", ROOT / "sql" / "effect_by_type.sql", ["period=2022Q3", "municipality=*"]),
    ("per-municipality effect, national share and rank (effect_by_municipality.sql)", ROOT / "sql" / "effect_by_municipality.sql", ["period=2022Q3"]),
    ("distinct persons per municipality and year (persons_by_year.sql)", ROOT / "sql" / "persons_by_year.sql", []),
    ("ad hoc: CTE read twice, national share, window rank (cte_rates_rank.sql)", HERE / "queries" / "cte_rates_rank.sql", []),
    ("ad hoc: GROUP BY all quarters with an average (average_by_quarter.sql)", HERE / "queries" / "average_by_quarter.sql", []),
    ("ad hoc: GROUP BY all quarters with conditional sums (conditional_sums.sql)", HERE / "queries" / "conditional_sums.sql", []),
]


def run(cmd, cwd=WORK, capture=False):
    """Run a command; return (wall seconds, peak RSS in MiB, stdout).

    The peak comes from GNU time, which forks the command from its own 1 MiB
    process: Linux carries a process's highest RSS across exec, and Python
    starts a child with vfork, so `wait4` on a child of this script reports at
    least this script's own peak (174 MiB once pyarrow and `nm`'s output are
    loaded; before 2026-12-03 every small figure here had that floor)."""
    with tempfile.NamedTemporaryFile(mode="r", prefix="praktik-bench-rss-") as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + [str(c) for c in cmd], cwd=cwd,
                              stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stderr.decode()}")
        peak_kib = int(rss.read().split()[-1])
    return wall, peak_kib / 1024, proc.stdout.decode() if capture else ""


def csv_of(rows):
    """The generated Danish CSV of `rows` rows (fixed seed), made once."""
    data = WORK / f"internships-{rows}.csv"
    if not data.exists():
        run([PRAKTIK, "demo", "generate", "--rows", str(rows), "--out", data])
    return data


def quarter_files(data):
    """The same rows as `data`, a file per quarter in a folder (by the
    quarter in each generated id, the quarter the internship ended in), as a
    case system's quarterly exports would hold them; made once."""
    folder = WORK / f"{data.stem}-by-quarter"
    if folder.exists():
        return folder
    staging = WORK / f"{folder.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    files = {}
    with open(data, "rb") as lines:
        header = lines.readline()
        for line in lines:
            quarter = line.split(b";", 1)[0].split(b"-")[1].decode()
            out = files.get(quarter)
            if out is None:
                out = files[quarter] = open(staging / f"internships-{quarter}.csv", "wb")
                out.write(header)
            out.write(line)
    for out in files.values():
        out.close()
    staging.rename(folder)
    return folder


def timed(cmd, runs, before=None, cwd=WORK):
    """Median wall and peak RSS over `runs` after one warm-up."""
    return alternated([(cmd, before)], runs, cwd=cwd)[0]


def alternated(tasks, runs, cwd=WORK):
    """Each (command, before) of `tasks` run in turn, a round at a time, one
    warm-up round and `runs` timed ones, so that a slow spell of the machine
    falls on every side alike: the median wall and the peak RSS of each."""
    walls = [[] for _ in tasks]
    rss = [[] for _ in tasks]
    for i in range(runs + 1):
        for k, (cmd, before) in enumerate(tasks):
            if before:
                before()
            wall, peak, _ = run(cmd, cwd=cwd)
            if i > 0:
                walls[k].append(wall)
                rss[k].append(peak)
    return [(statistics.median(w), max(r)) for w, r in zip(walls, rss)]


def normalised(text):
    rows = [line.split(",") for line in text.strip().splitlines()]
    header, body = rows[0], rows[1:]

    def cell(v):
        try:
            return f"{float(v):.6g}"
        except ValueError:
            return v

    return header, sorted(tuple(cell(v) for v in r) for r in body)


def current_files(store):
    from deltalake import DeltaTable

    return DeltaTable(str(store / "internships")).file_uris()


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB"


def symbol_order():
    """How many of the functions link/symbol-order.txt lists the binary still
    defines: after a dependency or toolchain change the names change, the
    code is laid out as without the file and small queries map more of it
    (run scripts/symbol-order)."""
    listed = [n for n in (ROOT / "link" / "symbol-order.txt").read_text().splitlines() if n and not n.startswith("#")]
    out = subprocess.run(["nm", "--defined-only", PRAKTIK], capture_output=True, text=True, check=True).stdout
    defined = {parts[-1] for parts in (line.split() for line in out.splitlines()) if parts}
    found = sum(name in defined for name in listed)
    if found < 0.9 * len(listed):
        print(f"warning: the binary has {found} of the {len(listed)} functions link/symbol-order.txt lists; "
              "run scripts/symbol-order (small queries' memory and start-up depend on it)", file=sys.stderr)
    return f"{found} of the {len(listed)} functions of link/symbol-order.txt in the binary"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not PRAKTIK.exists():
        sys.exit(f"build it first: cargo build --profile dist ({PRAKTIK} is missing)")
    WORK.mkdir(exist_ok=True)
    layout = symbol_order()
    print(f"symbol order: {layout}", flush=True)
    results = []
    # What each side pays before any work: process start-up (and Python's import of DuckDB).
    ours, theirs, polars = alternated(
        [([PRAKTIK, "--version"], None), ([DUCKDB, "-c", "SELECT 1"], None), (POLARS + ["start-up"], None)], args.runs)
    results.append((0, "start-up only (praktik --version / duckdb -c 'SELECT 1' / Python importing Polars)", ours, theirs, polars))
    print(f"start-up praktik {ours[0]:7.2f} s {ours[1]:7.0f} MiB   DuckDB {theirs[0]:7.2f} s {theirs[1]:7.0f} MiB   Polars {polars[0]:7.2f} s {polars[1]:7.0f} MiB", flush=True)
    # The council briefing on the demo store: every query, the charts, HTML and Markdown.
    demo = WORK / "demo"
    if not (demo / "store" / "outcomes").exists():
        demo.mkdir(exist_ok=True)
        run([PRAKTIK, "pull"], cwd=demo)
    ours = timed([PRAKTIK, "report", "briefing", "--format", "html,md"], args.runs, cwd=demo)
    results.append((0, "demo store: praktik report briefing --format html,md (target < 0.3 s)", ours, None, None))
    print(f"briefing praktik {ours[0]:7.3f} s {ours[1]:7.0f} MiB", flush=True)
    # The whole demo job on a fresh folder: generate, land, check, commit, three reports.
    fresh = WORK / "demo-run"
    wipe = lambda: shutil.rmtree(fresh, ignore_errors=True) or fresh.mkdir()
    ours = timed([PRAKTIK, "run"], args.runs, before=wipe, cwd=fresh)
    results.append((0, "demo job: praktik run in an empty folder (target < 0.3 s)", ours, None, None))
    print(f"demo run praktik {ours[0]:7.3f} s {ours[1]:7.0f} MiB", flush=True)
    ours = timed([PRAKTIK, "query", "SELECT period, count(*) FROM outcomes GROUP BY period"], args.runs, cwd=demo)
    results.append((0, "demo store: praktik query, a GROUP BY over all quarters (target < 30 ms)", ours, None, None))
    print(f"demo query praktik {ours[0]:7.3f} s {ours[1]:7.0f} MiB", flush=True)
    for rows in args.rows:
        data = csv_of(rows)
        print(f"== {rows:,} rows ({data.stat().st_size / 2**20:.0f} MiB CSV)", flush=True)

        store = WORK / f"store-{rows}"
        wipe = lambda: shutil.rmtree(store, ignore_errors=True)
        parquet = WORK / f"duck-{rows}.parquet"
        copy = (
            f"COPY (SELECT * FROM read_csv('{data}', delim = ';', header = true, "
            f"decimal_separator = ',', dateformat = '%d-%m-%Y')) TO '{parquet}' (FORMAT parquet)"
        )
        ours, theirs, polars = alternated([
            ([PRAKTIK, "--store", store, "pull", "--source", f"file:{data}"], wipe),
            ([DUCKDB, "-c", copy], None),
            (POLARS + ["ingest", data, WORK / f"polars-{rows}.parquet"], None),
        ], args.runs)
        results.append((rows, "ingest: Danish CSV → store (praktik, validated) / Parquet (DuckDB, Polars)", ours, theirs, polars))
        print(f"ingest   praktik {ours[0]:7.2f} s {ours[1]:7.0f} MiB   DuckDB {theirs[0]:7.2f} s {theirs[1]:7.0f} MiB   Polars {polars[0]:7.2f} s {polars[1]:7.0f} MiB", flush=True)
        # The same rows as a folder of quarterly files.
        folder = quarter_files(data)
        copy_folder = copy.replace(f"read_csv('{data}'", f"read_csv('{folder}/*.csv'")
        ours, theirs, polars = alternated([
            ([PRAKTIK, "--store", store, "pull", "--source", f"file:{folder}"], wipe),
            ([DUCKDB, "-c", copy_folder], None),
            (POLARS + ["ingest", f"{folder}/*.csv", WORK / f"polars-{rows}.parquet"], None),
        ], args.runs)
        results.append((rows, "ingest: the same rows as a file per quarter (a folder)", ours, theirs, polars))
        print(f"folder   praktik {ours[0]:7.2f} s {ours[1]:7.0f} MiB   DuckDB {theirs[0]:7.2f} s {theirs[1]:7.0f} MiB   Polars {polars[0]:7.2f} s {polars[1]:7.0f} MiB", flush=True)
        wipe()
        run([PRAKTIK, "--store", store, "pull", "--source", f"file:{data}"])
        # The scheduled run pulls the same file again: unchanged, it should cost about its hash.
        ours, theirs = alternated(
            [([PRAKTIK, "--store", store, "pull", "--source", f"file:{data}"], None), (["sha256sum", data], None)], args.runs)
        results.append((rows, "re-pull of the unchanged CSV (praktik) / `sha256sum` of it (in the DuckDB columns)", ours, theirs, None))
        print(f"re-pull  praktik {ours[0]:7.2f} s {ours[1]:7.0f} MiB   sha256sum {theirs[0]:7.2f} s", flush=True)

        files = WORK / f"files-{rows}.json"
        store_files = current_files(store)
        files.write_text(json.dumps(store_files))
        for title, sql, params in QUERIES:
            name = sql.stem
            ours_cmd = [PRAKTIK, "--store", store, "query", "--file", sql, "--format", "csv"] + [a for p in params for a in ("--param", p)]
            script = WORK / f"duck-{name}-{rows}.sql"
            script.write_text(duck_query_script(store_files, sql, params))
            theirs_cmd = [DUCKDB, "-f", script]
            polars_cmd = POLARS + ["query", files, sql] + params
            a = normalised(run(ours_cmd, capture=True)[2])
            for peer, cmd in (("DuckDB", theirs_cmd), ("Polars", polars_cmd)):
                b = normalised(run(cmd, capture=True)[2])
                if a != b:
                    sys.exit(f"{name}: praktik and {peer} disagree\npraktik {a[0]} {a[1][:3]}\n{peer} {b[0]} {b[1][:3]}")
            ours, theirs, polars = alternated([(ours_cmd, None), (theirs_cmd, None), (polars_cmd, None)], args.runs)
            results.append((rows, title, ours, theirs, polars))
            print(f"{name:24} praktik {ours[0]:7.2f} s {ours[1]:7.0f} MiB   DuckDB {theirs[0]:7.2f} s {theirs[1]:7.0f} MiB   "
                  f"Polars {polars[0]:7.2f} s {polars[1]:7.0f} MiB   (same {len(a[1])} rows)", flush=True)
        floor = timed([sys.executable, HERE / "duck.py", "floor", files], args.runs)
        results.append((rows, "floor: pyarrow reads the needed columns", None, floor, None))
        print(f"floor    pyarrow {floor[0]:7.2f} s {floor[1]:7.0f} MiB", flush=True)

    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}. {subprocess.run([PRAKTIK, '--version'], capture_output=True, text=True).stdout.strip()} (dist profile: level 3 + thin LTO; {layout}), "
        f"DuckDB CLI {subprocess.run([DUCKDB, '--version'], capture_output=True, text=True).stdout.split()[0]} (native binary from PyPI's duckdb-cli), "
        f"Polars {subprocess.run(POLARS + ['start-up'], capture_output=True, text=True).stdout.strip()} (Python; its time includes Python's start-up and the import, the start-up row). "
        f"Median wall seconds of {args.runs} runs after a warm-up, the sides of a task in turn; whole process; peak RSS.",
        "",
        "| rows | task | praktik s | praktik MiB | DuckDB s | DuckDB MiB | praktik / DuckDB | Polars s | Polars MiB | praktik / Polars |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    figures = lambda f, places=2: (f"{f[0]:.{places}f}", f"{f[1]:.0f}") if f else ("–", "–")
    ratio = lambda a, b: f"{a[0] / b[0]:.2f}×" if a and b else "–"
    for rows, title, ours, theirs, polars in results:
        rows = f"{rows:,}" if rows else "–"
        cells = [*figures(ours, 2 if theirs else 3), *figures(theirs), ratio(ours, theirs), *figures(polars), ratio(ours, polars)]
        lines.append(f"| {rows} | {title} | " + " | ".join(cells) + " |")
    lines += growth(results)
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def growth(results):
    """A table of how each task's time grows with the rows, when more than
    one size was run: wall seconds per size, praktik / DuckDB."""
    sizes = sorted({rows for rows, *_ in results if rows})
    if len(sizes) < 2:
        return []
    lines = [
        "",
        "## Growth with the rows",
        "",
        "Median wall seconds, praktik / DuckDB / Polars (the same runs as above).",
        "",
        "| task | " + " | ".join(f"{s:,} rows" for s in sizes) + " |",
        "| --- |" + " ---: |" * len(sizes),
    ]
    second = lambda figures: f"{figures[0]:.2f}" if figures else "–"
    for title in [t for rows, t, *_ in results if rows == sizes[0]]:
        cells = []
        for size in sizes:
            hit = [peers for rows, tt, *peers in results if rows == size and tt == title]
            cells.append(" / ".join(second(f) for f in hit[0]) if hit else "–")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
