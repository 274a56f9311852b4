"""Benchmark: `score` latency at a steady 50 requests/s, and `rank` for the largest district.

    uv run python bench/serving.py --data data/demo          (after `make demo`)

Starts the real service (`bentoml serve`) on the data directory's champion and served round, with
a throw-away admin key. Single-household `score` requests are sent on a fixed schedule (open
loop: a slow answer does not delay the next request, so queueing shows in the tail), over one
keep-alive connection per sender thread. The baseline, measured in the same run at the same rate,
is `/livez`: the server's own floor (HTTP, routing, one worker), so the ratio is what scoring adds.
`rank` is timed for the district with the most households at several capacities.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_P99_MS = 25.0
TARGET_RANK_MS = 200.0


def _steady(url: str, bodies: list[dict | None], rate: float, headers: dict, senders: int = 4) -> np.ndarray:
    """Send request i at start + i/rate; return each latency in ms."""
    latencies = np.full(len(bodies), np.nan)
    start = time.perf_counter() + 0.2

    def sender(offset: int) -> None:
        with httpx.Client(headers=headers, timeout=10) as client:
            for i in range(offset, len(bodies), senders):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                began = time.perf_counter()
                body = bodies[i]
                response = client.post(url, json=body) if body is not None else client.get(url)
                response.raise_for_status()
                latencies[i] = (time.perf_counter() - began) * 1000

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=50.0)
    arguments = parser.parse_args()

    from serving.auth import add_key
    from serving.local_server import bentoml_server

    data = arguments.data.resolve()
    from serving.rounds import scored_rounds, shown_version

    rounds = scored_rounds(data)
    if not rounds:
        raise SystemExit(f"no scored round under {data}/_scores: run `make demo` (or anbu score) first")
    latest = shown_version(data, rounds[-1])
    served = pd.read_parquet(latest.path, columns=["household_id", "gu"])
    folder = Path(tempfile.mkdtemp(prefix="anbu-bench-"))
    key = add_key(folder / "keys.toml", "bench", "admin")
    environment = {
        **os.environ,
        "ANBU_DATA": str(data),
        "ANBU_AS_OF": str(rounds[-1].date()),
        "ANBU_KEYS": str(folder / "keys.toml"),
        "ANBU_RECORDS": str(folder / "records.sqlite"),
        "BENTOML_HOME": str(folder / "bentoml"),
    }
    headers = {"X-API-Key": key}
    with bentoml_server(
        "serving.service:Anbu", environment, folder / "server.log", working_dir=ROOT, ready_within=600
    ) as url:
        count = int(arguments.seconds * arguments.rate)
        rng = np.random.default_rng(0)
        ids = served["household_id"].to_numpy()[rng.integers(0, len(served), count)]
        _steady(
            url + "/score", [{"request": {"household_ids": [h]}} for h in ids[:100]], 100, headers
        )  # warm-up
        floor = _steady(url + "/livez", [None] * count, arguments.rate, headers)
        score = _steady(
            url + "/score", [{"request": {"household_ids": [h]}} for h in ids], arguments.rate, headers
        )
        largest = served["gu"].value_counts()
        gu, households = largest.index[0], int(largest.iloc[0])
        rank_rows = []
        with httpx.Client(headers=headers, timeout=60) as client:
            for capacity in (15, 100, 500):
                timings = []
                for _ in range(31):
                    began = time.perf_counter()
                    client.post(
                        url + "/rank", json={"request": {"gu": gu, "capacity": capacity}}
                    ).raise_for_status()
                    timings.append((time.perf_counter() - began) * 1000)
                rank_rows.append((capacity, statistics.median(timings[1:]), max(timings[1:])))

    def pct(values: np.ndarray, q: float) -> float:
        return float(np.percentile(values, q))

    print(f"data: {data} · round {rounds[-1].date()} · {len(served):,} households · cores {os.cpu_count()}")
    print(
        f"steady {arguments.rate:g} requests/s for {arguments.seconds:g} s ({count} requests each), one worker"
    )
    print()
    print("| request | p50 ms | p99 ms | max ms | target |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| /livez (baseline: the server's floor) | {pct(floor, 50):.2f} | {pct(floor, 99):.2f} | {floor.max():.2f} | |"
    )
    verdict = "✓" if pct(score, 99) < TARGET_P99_MS else "✗"
    print(
        f"| /score, one household | {pct(score, 50):.2f} | {pct(score, 99):.2f} | {score.max():.2f} "
        f"| p99 < {TARGET_P99_MS:g} ms {verdict} |"
    )
    print()
    print(
        f"score ÷ livez: p50 {pct(score, 50) / pct(floor, 50):.2f}x, p99 {pct(score, 99) / pct(floor, 99):.2f}x"
    )
    print()
    print(f"| /rank, {gu} ({households:,} households) | median ms | max ms | target |")
    print("|---|---:|---:|---|")
    for capacity, median, worst in rank_rows:
        verdict = "✓" if worst < TARGET_RANK_MS else "✗"
        print(f"| capacity {capacity} | {median:.1f} | {worst:.1f} | < {TARGET_RANK_MS:g} ms {verdict} |")


if __name__ == "__main__":
    main()
