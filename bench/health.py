"""Benchmark: round health on clean cities, each list's expected finds against the truth, and a
Seoul round's check against `anbu validate` in the same run.

    uv run python bench/health.py                        # three cities of 50,000 households
    uv run python bench/health.py --seoul data/seoul     # and Seoul's round (generated when missing)

For each city (the demo city's seed 7, and two more seeds and variants), the baseline is trained
and promoted in a fresh MLflow store, then:
1. five rounds of its clean delivery are checked (`check_round`, what `anbu health` runs):
   errors and warnings per round, against the target of 0 errors and at most 1 warning;
2. the test round is scored, every district's discovery list of 15 is built as `anbu rank` builds
   it, and its stated 90 % range of finds is held against the truth: each listed household's visit
   drawn from the generator's own chance that a visit finds it (`census_found`), ten draws per
   list; the target is >= 85 % of lists inside.
With --seoul, `anbu validate` and then `anbu health` run on Seoul's round, each in its own process
(wall time and peak memory its own): targets <= 2 minutes and <= 6 GiB for health, reported as a
ratio to validate's time in the same run. The champion is the first city's (the catalogue is the
city's size-independent feature set), so the Seoul check also shows what a model of another
city's rows makes of Seoul.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anbu.data_folder import DataFolder  # noqa: E402
from bench.cities import city, promote, store_environment, train  # noqa: E402

CITIES = (("default", 7), ("default", 1), ("noisy_visits", 2))
ROUNDS = ("2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31", "2026-09-30")
TEST_ROUND = pd.Timestamp("2026-07-31")
CAPACITY, DRAWS = 15, 10
TARGET_SECONDS, TARGET_GIB, TARGET_COVERAGE = 120.0, 6.0, 0.85


def _use_store(store: Path) -> None:
    """This process's model store from here on (the settings read the environment at each call)."""
    os.environ.update(store_environment(store))
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def clean_rounds(data: Path) -> list[tuple[str, int, int, list[str]]]:
    from serving.health.round import check_round
    from serving.scoring.champion import load_champion

    champion = load_champion()
    rows = []
    for day in ROUNDS:
        health = check_round(data, pd.Timestamp(day), champion)
        rows.append((day, len(health.errors), len(health.warnings), [f.sentence for f in health.findings]))
    return rows


def expected_against_truth(data: Path, seed: int) -> tuple[int, int, int, int, int, float, float]:
    """Over every district: lists, lists whose first draw fell inside their range, draws inside,
    draws above the range, draws below it, the lists' expected finds summed and the truth's chance
    of a find summed over the same households (which way the misses lean, and why)."""
    from anbu.settings import Settings
    from features.round_table import survey_days
    from serving.lists.builder import ListBuilder, ListRequest
    from serving.records.store import Records
    from serving.scoring.champion import load_champion
    from serving.scoring.rounds import score_round, scores_path
    from serving.scoring.served_rounds import ServedRounds
    from synthetic.truth import round_truth

    champion = load_champion()
    if not scores_path(data, TEST_ROUND, champion.version).is_file():
        score_round(data, TEST_ROUND, champion)
    truth = round_truth(data, TEST_ROUND, survey_days(data, TEST_ROUND))["census_found"]
    rounds = ServedRounds(data, TEST_ROUND, champion.version)
    rng = np.random.default_rng(seed)
    lists = inside = draws_inside = above = below = 0
    expected_sum = truth_sum = 0.0
    with tempfile.TemporaryDirectory() as folder:
        builder = ListBuilder(rounds, Records(Path(folder) / "records.sqlite"), Settings().known_window_days)
        districts = sorted(rounds.served.households["gu"].unique())
        for gu in districts:
            listed = builder.build(ListRequest(gu, CAPACITY, as_of=TEST_ROUND.date()))
            expected = listed.expected
            chance = truth.reindex(listed.rows["household_id"]).fillna(0.0).to_numpy()
            found = (rng.random((DRAWS, len(chance))) < chance).sum(axis=1)
            held = [expected.holds(int(f)) for f in found]
            above += int((found > expected.high).sum())
            below += int((found < expected.low).sum())
            expected_sum += expected.expected
            truth_sum += float(chance.sum())
            lists += 1
            inside += held[0]
            draws_inside += sum(held)
    return lists, inside, draws_inside, above, below, expected_sum, truth_sum


def _measured(*args: str, environment: dict[str, str]) -> tuple[float, float, int]:
    """`anbu ARGS…` in its own process: seconds, peak GiB, exit code (1 is an answer for health)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "anbu.cli", *args], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / (1 << 20), os.waitstatus_to_exitcode(status)


def seoul(data: Path, store: Path) -> None:
    environment = store_environment(store)
    if not (data / "households.parquet").is_file():
        print(f"generating Seoul into {data} (not measured) …", flush=True)
        subprocess.run(
            [sys.executable, "-m", "anbu.cli", "generate", "--scale", "seoul", "--out", str(data)],
            check=True,
            cwd=ROOT,
        )
    folder = DataFolder(data)
    shutil.rmtree(folder.validated, ignore_errors=True)
    shutil.rmtree(folder.health(TEST_ROUND), ignore_errors=True)
    day = str(TEST_ROUND.date())
    validate_s, validate_gib, validate_code = _measured(
        "validate", "--data", str(data), environment=environment
    )
    health_s, health_gib, health_code = _measured(
        "health", "--data", str(data), "--as-of", day, environment=environment
    )
    import json

    found = json.loads((folder.health(TEST_ROUND) / "health.json").read_text(encoding="utf-8"))
    print()
    print(f"Seoul, round {day}: {found['households']:,} households · {os.cpu_count()} cores")
    print()
    print("| step | seconds | ÷ validate | peak GiB | target |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| anbu validate (baseline, exit {validate_code}) | {validate_s:.1f} | 1.00 | {validate_gib:.2f} | |"
    )
    print(
        f"| anbu health (exit {health_code}: {found['errors']} errors, {found['warnings']} warnings) | {health_s:.1f} | "
        f"{health_s / validate_s:.2f} | {health_gib:.2f} | ≤ {TARGET_SECONDS:.0f} s "
        f"{'✓' if health_s <= TARGET_SECONDS else '✗'}, ≤ {TARGET_GIB:g} GiB {'✓' if health_gib <= TARGET_GIB else '✗'} |"
    )
    for finding in found["findings"][:5]:
        print(f"- {finding['grade']}: {finding['sentence']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "health")
    parser.add_argument("--seoul", type=Path, help="Seoul's delivery folder (generated here when missing).")
    parser.add_argument(
        "--cities", type=int, default=len(CITIES), help="How many of the three cities to run."
    )
    parser.add_argument(
        "--lists-only", action="store_true", help="Only the expected finds, not the clean rounds."
    )
    arguments = parser.parse_args()
    config = ROOT / "experiments" / "baseline.toml"
    rounds_table, lists_table = [], []
    first_store = None
    for variant, seed in CITIES[: arguments.cities]:
        data = city(arguments.work, variant, seed, arguments.households)
        store = arguments.work / f"store-{variant}-{seed}"
        if not (store / "mlflow.db").is_file():
            train(data, config, store)
            code, said = promote(store)
            if code != 0:
                # Round health holds whichever model serves; the gates are bench/promotion.py's.
                print(f"{variant}/{seed}: {said.splitlines()[0] if said else code}; promoted by override")
                subprocess.run(
                    [sys.executable, "-m", "anbu.cli", "promote", "--override", "--by", "bench/health.py"]
                    + [
                        "--reason",
                        "round health is measured on whichever model serves; the gates in bench/promotion.py",
                    ],
                    cwd=ROOT,
                    env=store_environment(store),
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
        first_store = first_store or store
        _use_store(store)
        if not arguments.lists_only:
            for day, errors, warnings, sentences in clean_rounds(data):
                rounds_table.append((f"{variant}/{seed}", day, errors, warnings, sentences))
        lists_table.append((f"{variant}/{seed}", *expected_against_truth(data, seed)))

    print()
    print("| city | round | errors | warnings | target (0 errors, ≤ 1 warning) | findings |")
    print("|---|---|---:|---:|---|---|")
    for name, day, errors, warnings, sentences in rounds_table:
        met = errors == 0 and warnings <= 1
        said = " · ".join(s[:140] for s in sentences) or "–"
        print(f"| {name} | {day} | {errors} | {warnings} | {'✓' if met else '✗'} | {said} |")
    held = sum(e == 0 and w <= 1 for _, _, e, w, _ in rounds_table)
    print(f"\nclean rounds within the target: {held} of {len(rounds_table)}")
    print()
    print(
        f"| city | district lists of {CAPACITY} | truth's finds inside the stated 90 % range (first draw) "
        f"| all {DRAWS} draws | draws above the range | below it | expected finds ÷ the truth's |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, lists, inside, draws_inside, above, below, expected_sum, truth_sum in lists_table:
        print(
            f"| {name} | {lists} | {inside} ({inside / lists:.0%}) | {draws_inside / (lists * DRAWS):.0%} "
            f"| {above} | {below} | {expected_sum:,.1f} ÷ {truth_sum:,.1f} = {expected_sum / truth_sum:.2f} |"
        )
    lists = sum(row[1] for row in lists_table)
    inside = sum(row[2] for row in lists_table)
    draws_inside = sum(row[3] for row in lists_table)
    if lists:
        coverage = draws_inside / (lists * DRAWS)
        print(
            f"\nall cities: {inside} of {lists} lists inside on the first draw, {coverage:.1%} of all draws "
            f"(target ≥ {TARGET_COVERAGE:.0%}) {'✓' if coverage >= TARGET_COVERAGE else '✗'}"
        )
    if arguments.seoul is not None and first_store is not None:
        seoul(arguments.seoul.resolve(), first_store)


if __name__ == "__main__":
    main()
