"""Benchmark: `score` held at a steady rate for minutes, `rank` for the largest district, and the
throughput of several workers against one.

    uv run python bench/serving.py --data data/demo          (after `make demo`)
    uv run python bench/serving.py --data data/demo --soak-seconds 120 --throughput-seconds 15

Each part starts the real service (`bentoml serve`) on the data directory's champion and served
round, with a throw-away admin key.

1. Soak: single-household `score` requests on a fixed schedule (open loop, bench/open_loop.py:
   each latency counts from when its request was due, so queueing, in the server or in the load
   generator, shows in the tail), one worker and the embedded SQLite
   records, as `make serve` runs. Errors are counted, not raised; the server's memory (the RSS of
   its process tree) is sampled throughout. The baseline, measured in the same run at the same
   rate, is `/livez`: the server's floor (HTTP, routing, keys), so the ratio is what scoring adds.
2. `rank` is timed for the district with the most households at several capacities.
3. Throughput: `rank` (capacity 100, the heavier request) sent closed-loop by several clients, to
   one worker and then to two, both with the records in PostgreSQL (a private server from
   Debian's package, as `make test` uses), which several workers need. The baseline is the one
   worker, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.open_loop import steady  # noqa: E402

TARGET_P99_MS = 10.0
TARGET_MEMORY_DRIFT = 0.05
TARGET_RANK_MS = 200.0
TARGET_WORKER_GAIN = 1.6


def _in_threads(work, count: int) -> None:
    """work(0) … work(count - 1), each in its own thread, until all are done."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _server_processes(url: str) -> list[psutil.Process]:
    """The `bentoml serve` process listening on the URL's port and its workers."""
    port = url.rsplit(":", 1)[1]
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if "serve" in command and "--port" in command and port in command:
            return [process, *process.children(recursive=True)]
    raise RuntimeError(f"no bentoml process on port {port}")


def _rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / 2**20


class MemorySampler:
    """RSS of the server's process tree every `every` seconds, in a background thread."""

    def __init__(self, processes: list[psutil.Process], every: float = 5.0) -> None:
        self.processes, self.every = processes, every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(_rss_mb(self.processes))
            self._stop.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(_rss_mb(self.processes))


def _closed_loop(url: str, body: dict, headers: dict, clients: int, seconds: float) -> tuple[int, int]:
    """Each client sends the next request when the last one is answered; (answered, errors)."""
    answered, errors = [0] * clients, [0] * clients
    connections = [httpx.Client(headers=headers, timeout=60) for _ in range(clients)]  # off the clock
    deadline = time.perf_counter() + seconds

    def client_loop(k: int) -> None:
        with connections[k] as client:
            while time.perf_counter() < deadline:
                try:
                    ok = client.post(url, json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                answered[k] += ok
                errors[k] += not ok

    _in_threads(client_loop, clients)
    return sum(answered), sum(errors)


def pct(values: np.ndarray, q: float) -> float:
    return float(np.nanpercentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--rate", type=float, default=100.0, help="score requests per second")
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--floor-seconds", type=float, default=30.0, help="/livez baseline")
    parser.add_argument("--throughput-seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8, help="closed-loop rank clients")
    arguments = parser.parse_args()

    from serving.keys.key_file import add_key
    from serving.scoring.rounds import scored_rounds, shown_version
    from tests.support.local_postgres import postgres_server
    from tests.support.local_server import bentoml_server, service_environment

    data = arguments.data.resolve()
    rounds = scored_rounds(data)
    if not rounds:
        raise SystemExit(f"no scored round under {data}/_scores: run `make demo` (or anbu score) first")
    as_of = rounds[-1]
    served = pd.read_parquet(shown_version(data, as_of).path, columns=["household_id", "gu"])
    largest = served["gu"].value_counts()
    gu, households = largest.index[0], int(largest.iloc[0])
    folder = Path(tempfile.mkdtemp(prefix="anbu-bench-"))
    key = add_key(folder / "keys.toml", "bench", "admin")
    headers = {"X-API-Key": key}
    rng = np.random.default_rng(0)

    # 1 and 2: one worker, embedded records, as `make serve` runs it
    with bentoml_server(
        "serving.api.service:Anbu",
        service_environment(data, folder, as_of=str(as_of.date())),
        folder / "server.log",
        working_dir=ROOT,
        ready_within=600,
    ) as url:

        def score_bodies(count: int) -> list[dict | None]:
            ids = served["household_id"].to_numpy()[rng.integers(0, len(served), count)]
            return [{"request": {"household_ids": [h]}} for h in ids]

        steady(url + "/score", score_bodies(500), arguments.rate, headers)  # warm-up
        floor = steady(
            url + "/livez", [None] * int(arguments.floor_seconds * arguments.rate), arguments.rate, headers
        )
        processes = _server_processes(url)
        with MemorySampler(processes) as memory:
            soak = steady(
                url + "/score",
                score_bodies(int(arguments.soak_seconds * arguments.rate)),
                arguments.rate,
                headers,
            )
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

    # 3: rank throughput, one worker then two, records in PostgreSQL for both
    rank_body = {"request": {"gu": gu, "capacity": 100}}
    throughput: dict[int, tuple[float, int, float]] = {}
    with ExitStack() as stack:
        records_url = stack.enter_context(postgres_server("bench"))
        for workers in (1, 2):
            environment = service_environment(
                data,
                folder,
                as_of=str(as_of.date()),
                ANBU_RECORDS_URL=records_url,
                ANBU_RECORDS_SECRET_FILE=str(folder / "records.secret"),
                ANBU_WORKERS=str(workers),
            )
            with bentoml_server(
                "serving.api.service:Anbu",
                environment,
                folder / f"server-{workers}.log",
                working_dir=ROOT,
                ready_within=600,
            ) as url:
                _closed_loop(url + "/rank", rank_body, headers, arguments.clients, 5)  # warm-up
                began = time.perf_counter()
                answered, errors = _closed_loop(
                    url + "/rank", rank_body, headers, arguments.clients, arguments.throughput_seconds
                )
                elapsed = time.perf_counter() - began
                throughput[workers] = (answered / elapsed, errors, _rss_mb(_server_processes(url)))

    latencies = soak.latencies_ms
    start_mb, end_mb, peak_mb = memory.samples[0], memory.samples[-1], max(memory.samples)
    drift = (end_mb - start_mb) / start_mb
    print(f"data: {data} · round {as_of.date()} · {len(served):,} households · cores {os.cpu_count()}")
    print()
    print(
        f"Soak: {arguments.rate:g} requests/s of one-household `score` for {arguments.soak_seconds:g} s "
        f"({len(latencies):,} requests), one worker, SQLite records; baseline /livez at the same rate "
        f"for {arguments.floor_seconds:g} s"
    )
    print()
    print("| request | requests | errors | p50 ms | p99 ms | max ms | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    floor_ms = floor.latencies_ms
    print(
        f"| /livez (baseline: the server's floor) | {len(floor_ms):,} | {floor.errors} | {pct(floor_ms, 50):.2f} "
        f"| {pct(floor_ms, 99):.2f} | {np.nanmax(floor_ms):.2f} | |"
    )
    verdict = "✓" if pct(latencies, 99) <= TARGET_P99_MS and soak.errors == 0 else "✗"
    print(
        f"| /score, one household | {len(latencies):,} | {soak.errors} | {pct(latencies, 50):.2f} "
        f"| {pct(latencies, 99):.2f} | {np.nanmax(latencies):.2f} | 0 errors, p99 ≤ {TARGET_P99_MS:g} ms {verdict} |"
    )
    for name, result in (("/livez", floor), ("/score", soak)):
        if result.errors:
            print(f"\n{name} failures: " + ", ".join(f"{kind} × {n}" for kind, n in result.failures.items()))
    print()
    print(
        f"score ÷ livez: p50 {pct(latencies, 50) / pct(floor_ms, 50):.2f}x, "
        f"p99 {pct(latencies, 99) / pct(floor_ms, 99):.2f}x"
    )
    verdict = "✓" if abs(drift) <= TARGET_MEMORY_DRIFT else "✗"
    print(
        f"server memory (RSS, all processes): start {start_mb:.1f} MB, end {end_mb:.1f} MB, peak "
        f"{peak_mb:.1f} MB over {len(memory.samples)} samples; end ÷ start {end_mb / start_mb:.3f} "
        f"(within ±{TARGET_MEMORY_DRIFT:.0%} {verdict})"
    )
    print()
    print(f"| /rank, {gu} ({households:,} households), one worker | median ms | max ms | target |")
    print("|---|---:|---:|---|")
    for capacity, median, worst in rank_rows:
        verdict = "✓" if worst < TARGET_RANK_MS else "✗"
        print(f"| capacity {capacity} | {median:.1f} | {worst:.1f} | < {TARGET_RANK_MS:g} ms {verdict} |")
    print()
    print(
        f"Throughput: /rank {gu} capacity 100, {arguments.clients} closed-loop clients for "
        f"{arguments.throughput_seconds:g} s, records in PostgreSQL"
    )
    print()
    print("| workers | requests/s | errors | server RSS MB | ÷ one worker | target |")
    print("|---:|---:|---:|---:|---:|---|")
    for workers, (rate, errors, rss) in throughput.items():
        gain = rate / throughput[1][0]
        target = (
            "" if workers == 1 else f"≥ {TARGET_WORKER_GAIN:g}x {'✓' if gain >= TARGET_WORKER_GAIN else '✗'}"
        )
        print(f"| {workers} | {rate:.1f} | {errors} | {rss:.0f} | {gain:.2f}x | {target} |")


if __name__ == "__main__":
    main()
