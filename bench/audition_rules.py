"""Benchmark companion: the same audition evidence weighed by other rules, without fitting again.

    uv run python bench/audition.py            # first: fits, and keeps each city's evidence
    uv run python bench/audition_rules.py      # then: every rule below on that evidence

bench/audition.py keeps, per city, every candidate's survey evidence on every fold (both seeds'
auditions) and every candidate's precision against the truth on the test round. Here the choice
rule (training/audition.py `choose`) is applied to that evidence with the grid in two orders of
preference (the declared one, and the simplest first) and one or two standard errors, beside an
"oracle" audition that picks the candidate with the best mean truth over the folds: what a
perfect survey of the earlier rounds would choose, and so how far any audition of earlier rounds
can go on these cities.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.audition import choose  # noqa: E402
from training.config import load_experiment  # noqa: E402

AUDITION = ROOT / "experiments" / "audition.toml"
SIMPLEST_FIRST = [
    "logistic",
    "lightgbm_100",
    "lightgbm_300",
    "lightgbm",
    "logistic_plus_trees",
    "logistic_and_trees",
]
BASELINE_CANDIDATE = "lightgbm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "audition")
    arguments = parser.parse_args()
    config = load_experiment(AUDITION)
    declared = [c.name for c in config.audition.candidates]
    family = {c.name: c.family for c in config.audition.candidates}
    rules = {
        f"{label}, {errors} SE": (order, errors)
        for label, order in (("declared order", declared), ("simplest first", SIMPLEST_FIRST))
        for errors in (1, 2)
    }
    saved = {
        path.stem.removeprefix("evidence-"): pickle.loads(path.read_bytes())
        for path in sorted(arguments.work.glob("evidence-*.pkl"))
    }
    if not saved:
        raise SystemExit(f"no evidence in {arguments.work}: run bench/audition.py first")
    print(
        f"{len(saved)} cities; tolerance {config.audition.tolerance}, statistic {config.audition.statistic}"
    )
    print()
    print(
        "| rule | within 0.01 of the best | never below the baseline by > 0.01 | same family on a reseed | mean served − best |"
    )
    print("|---|---:|---:|---:|---:|")
    for rule, (order, errors) in rules.items():
        near = above = stable = 0
        shortfall = []
        for city in saved.values():
            truth = city["truth"]
            best = max(v for v in truth.values() if v == v)
            picks = [
                choose(
                    folds, order, config.audition.tolerance, config.audition.statistic, evidence, seed, errors
                )[1]
                for seed, (folds, evidence) in zip(
                    (config.seed, config.seed + 1), city["auditions"], strict=True
                )
            ]
            served = truth[picks[0]]
            near += served >= best - 0.01
            above += served >= truth[BASELINE_CANDIDATE] - 0.01
            stable += family[picks[0]] == family[picks[1]]
            shortfall.append(served - best)
        n = len(saved)
        print(f"| {rule} | {near} of {n} | {above} of {n} | {stable} of {n} | {np.mean(shortfall):+.3f} |")
    near = above = 0
    shortfall = []
    for city in saved.values():
        truth = city["truth"]
        best = max(v for v in truth.values() if v == v)
        folds = city["auditions"][0][0]
        pick = folds.groupby("candidate")["truth_precision"].mean().idxmax()
        near += truth[pick] >= best - 0.01
        above += truth[pick] >= truth[BASELINE_CANDIDATE] - 0.01
        shortfall.append(truth[pick] - best)
    n = len(saved)
    print(
        f"| oracle: best mean truth over the folds | {near} of {n} | {above} of {n} | – | {np.mean(shortfall):+.3f} |"
    )


if __name__ == "__main__":
    main()
