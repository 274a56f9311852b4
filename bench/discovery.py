"""Benchmark: which model finds the households nobody has found yet, across cities and seeds.

    uv run python bench/discovery.py                                   # default configs × variants
    uv run python bench/discovery.py --configs baseline --variants default --seeds 1

Each config is trained on each city (generated once per variant and seed, then `anbu train` in
its own process with a fresh MLflow store, as bench/variants.py does) and judged on the test
round's discovery population: the households no visit found isolated or at risk in the year
before the round (training/discovery.py). Per city: the discovery list's precision at capacity
against the truth for the model, today's rule and the logistic baseline on the same households,
the model's lift over the rule (target: at least 2x), the survey's estimate where a city has
no truth, and the whole-city precision beside it. Prints one table per config and a summary.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cities import city, train  # noqa: E402
from training.figures import DISCOVERY_KNOWN_SHARE, Figures, quoted  # noqa: E402

CONFIGS = ["baseline", "features_no_history", "framing_discovery"]
VARIANTS = ["default", "noisy_visits", "list_driven", "other_hazard"]
TARGET_LIFT = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument("--variants", nargs="+", default=VARIANTS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "variants")
    arguments = parser.parse_args()
    arguments.work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[str]] = {name: [] for name in arguments.configs}
    runs: dict[str, list[Figures]] = {name: [] for name in arguments.configs}
    for variant in arguments.variants:
        for seed in arguments.seeds:
            data = city(arguments.work, variant, seed, arguments.households)
            for name in arguments.configs:
                store = arguments.work / f"store-{variant}-{seed}-{name}"
                run = train(data, ROOT / "experiments" / f"{name}.toml", store)
                figures = run.figures
                runs[name].append(figures)
                lift = figures.exact("truth", "discovery_lift_over_rule")
                known = figures.exact_named(DISCOVERY_KNOWN_SHARE)
                rows[name].append(
                    f"| {variant} | {seed} | {'–' if known is None else f'{known:.1%}'} "
                    f"| {figures.shown('truth', 'discovery_precision_at_capacity')} "
                    f"| {figures.shown('truth', 'discovery_precision_at_capacity', 'rule')} "
                    f"| {figures.shown('truth', 'discovery_precision_at_capacity', 'logistic')} "
                    f"| {figures.shown('truth', 'discovery_lift_over_rule', digits=2)}× "
                    f"{'✓' if lift is not None and lift >= TARGET_LIFT else '✗'} "
                    f"| {figures.shown('truth', 'discovery_recall_at_capacity')} "
                    f"| {quoted(figures.survey('discovery_precision_at_capacity'), households=False)} "
                    f"| {figures.shown('truth', 'precision_at_capacity')} | {run.seconds:.0f} |"
                )
                print(f"{variant} seed {seed} {name}: {run.seconds:.0f} s", flush=True)
    for name in arguments.configs:
        print(f"\n### {name} ({arguments.households:,} households per city, capacity 1 %)\n")
        print(
            "| variant | seed | known at the round | discovery precision: model | today's rule | logistic "
            "| model ÷ rule (target ≥ 2×) | discovery recall: model | survey estimate [95 %] "
            "| whole-city precision: model | train s |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
        for line in rows[name]:
            print(line)
    print("\n### Summary: median over cities\n")
    print("| config | discovery precision | ÷ rule | logistic | whole-city precision | cities ≥ 2× |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, measured in runs.items():

        def median(measure: str, scorer: str = "model", measured: list[Figures] = measured) -> float:
            values = [v for f in measured if (v := f.exact("truth", measure, scorer)) is not None]
            return statistics.median(values) if values else float("nan")

        passing = sum((f.exact("truth", "discovery_lift_over_rule") or 0.0) >= TARGET_LIFT for f in measured)
        print(
            f"| {name} | {median('discovery_precision_at_capacity'):.3f} "
            f"| {median('discovery_lift_over_rule'):.2f}× "
            f"| {median('discovery_precision_at_capacity', 'logistic'):.3f} "
            f"| {median('precision_at_capacity'):.3f} | {passing} of {len(measured)} |"
        )


if __name__ == "__main__":
    main()
