"""Benchmark: every experiment config on every city variant, for the write-ups in experiments/.

    uv run python bench/variants.py                                  # all configs × all variants
    uv run python bench/variants.py --configs baseline --variants default unfamiliar --seeds 1 2

A choice that only holds on one synthetic city is not a choice: each config is trained on each
variant (generated once per seed, validated, then `anbu train` in its own process with a fresh
MLflow store) and judged on the same figures — against the truth (share of the best possible
ranking, lift over today's rule, the lowest group's expected recall ratio) and as a city sees
it (survey calibration error and mean served risk against what the survey found, and whether
`anbu promote` would accept it as a first model). Prints one table per config.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cities import city, number, promote, train  # noqa: E402
from synthetic.variants import VARIANTS  # noqa: E402

CONFIGS = [
    "baseline",
    "calibration_validation_survey_only",
    "calibration_visit_noise",
    "framing_visited_only",
    "framing_unvisited_negative",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument("--variants", nargs="+", default=[v for v in VARIANTS if v != "flat_meters"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "variants")
    arguments = parser.parse_args()
    work: Path = arguments.work
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[str]] = {name: [] for name in arguments.configs}
    summary: dict[str, list[tuple[float, float, float]]] = {name: [] for name in arguments.configs}
    for variant in arguments.variants:
        for seed in arguments.seeds:
            data = city(work, variant, seed, arguments.households)
            for name in arguments.configs:
                store = work / f"store-{variant}-{seed}-{name}"
                run = train(data, ROOT / "experiments" / f"{name}.toml", store)
                code, said = promote(store)
                figures = run.figures
                summary[name].append(
                    (
                        number(figures, "truth", "share_of_best_possible"),
                        number(figures, "census", "ece"),
                        number(figures, "truth", "min_group_recall_ratio"),
                    )
                )
                rows[name].append(
                    f"| {variant} | {seed} | {figures.shown('truth', 'precision_at_capacity')} "
                    f"| {figures.shown('truth', 'share_of_best_possible')} "
                    f"| {figures.shown('truth', 'lift_over_rule', digits=2)}× "
                    f"| {figures.shown('census', 'ece')} | {figures.shown('survey', 'ece')} "
                    f"| {figures.shown('census', 'mean_risk_ratio')} | {figures.shown('survey', 'mean_risk_ratio')} "
                    f"| {figures.shown('truth', 'min_group_recall_ratio', digits=2)} "
                    f"({run.tags.get('lowest_group_recall', '–')}) "
                    f"| {'promoted' if code == 0 else 'refused'} | {run.seconds:.0f} |"
                )
                print(f"{variant} seed {seed} {name}: {run.seconds:.0f} s", flush=True)
    for name in arguments.configs:
        print(f"\n### {name} ({arguments.households:,} households per city)\n")
        print(
            "| variant | seed | precision@1 % (truth) | share of best possible | lift over rule | ECE, census "
            "| ECE, survey | mean risk ÷ found, census | same, survey | lowest group recall ratio (expected) "
            "| `anbu promote` | train s |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
        for line in rows[name]:
            print(line)
    print("\n### Summary: median over cities\n")
    print("| config | share of best possible | ECE, census | lowest group recall ratio |")
    print("|---|---:|---:|---:|")
    for name, values in summary.items():
        columns = list(zip(*values, strict=True))
        medians = [sorted(c)[len(c) // 2] for c in columns]
        print(f"| {name} | {medians[0]:.3f} | {medians[1]:.4f} | {medians[2]:.2f} |")


if __name__ == "__main__":
    main()
