"""Read praktik's store with Sail, a Spark-API engine (PySpark Connect, no
Java), and print the letter's per-area effects for one quarter as CSV, for
the Sail test to compare with `praktik query --file sql/effect_by_area.sql`.

Sail runs in `local-cluster` mode: a driver and workers that talk over RPC.
For a store in a bucket the AWS_* variables of the environment say where the
server is and who we are.

usage: python3 tests/sail_check.py STORE PERIOD AREA[,AREA...]
"""

import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings

warnings.simplefilter("ignore", FutureWarning)
from pyspark.sql import SparkSession  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    store, period, areas = sys.argv[1], sys.argv[2], sys.argv[3]
    port = free_port()
    env = dict(os.environ, SAIL_MODE="local-cluster")
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        ["sail", "spark", "server", "--ip", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        spark = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").getOrCreate()
        spark.read.format("delta").load(f"{store}/outcomes").createOrReplaceTempView("outcomes")
        wanted = ", ".join(f"'{a}'" for a in areas.split(",") if a.replace("/", "").isdigit())
        # The letter's measure in Spark SQL: the shown share (one decimal,
        # suppressed under 5 ended), its difference from the country's, and
        # the rank within the set per benefit group.
        rows = spark.sql(
            f"""
            WITH chosen AS (
                SELECT area_code, benefit_group,
                       CASE WHEN ended < 5 THEN NULL ELSE ROUND(share_pct, 1) END AS shown_pct,
                       area_code = '000' AS is_country
                FROM outcomes
                WHERE period = '{period}' AND (area_code = '000' OR area_code IN ({wanted}))
            )
            SELECT area_code, benefit_group, shown_pct,
                   ROUND(shown_pct - MAX(CASE WHEN is_country THEN shown_pct END)
                         OVER (PARTITION BY benefit_group), 1) AS diff_pp,
                   CASE WHEN NOT is_country AND shown_pct IS NOT NULL THEN
                        RANK() OVER (PARTITION BY benefit_group, is_country, shown_pct IS NULL
                                     ORDER BY shown_pct DESC) END AS area_rank
            FROM chosen
            ORDER BY benefit_group, area_code
            """
        ).collect()
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["area_code", "benefit_group", "shown_pct", "diff_pp", "area_rank"])
        for r in rows:
            out.writerow([r.area_code, r.benefit_group, r.shown_pct, r.diff_pp, r.area_rank])
        spark.stop()
    except Exception:
        log.seek(0)
        sys.stderr.write(log.read().decode(errors="replace")[-4000:])
        raise
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
