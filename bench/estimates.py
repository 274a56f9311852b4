"""Benchmark: can a city trust what the survey says about a model, and does the model hold up?

    uv run python bench/estimates.py                       # 5 seeds × 2 variants, 200,000 households
    uv run python bench/estimates.py --seeds 1 --variants default --households 50000 --demo-seeds

Part 1 — coverage. For each (variant, seed) a synthetic city is generated and `anbu train` runs the
baseline on it in its own process, as a city would. Every survey figure the run logs comes with a
90 % interval; the run also logs the same figure computed from what a visit to every household
would find (the generator knows: `_truth/`, read only for this comparison). The table counts, per
figure and overall, how often the interval covers that census value. Target: at least 85 % of
(seed, variant, figure) cases. A figure with no survey household behind it (no estimate) is
counted apart, not as covered.

Part 2 — the targets of issue 12 per run: calibration against survey findings, mean served risk of
survey-visited households against what the survey found, precision at 1 % against the truth as a
share of the best possible ranking and as a lift over today's rule, the lowest group recall ratio.

Part 3 — `make demo`'s sequence (generate small city, validate, train, promote) with `_truth/`
removed before validation, on several seeds: does `anbu promote` itself choose a champion?
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anbu.data_folder import DataFolder  # noqa: E402
from bench.cities import _anbu, city, promote, train  # noqa: E402
from training.figures import TEST_SURVEY_HOUSEHOLDS  # noqa: E402

BASELINE = ROOT / "experiments" / "baseline.toml"
FIGURES = (
    ("precision at capacity, model", "model", "precision_at_capacity"),
    ("precision at capacity, today's rule", "rule", "precision_at_capacity"),
    ("precision at capacity, logistic", "logistic", "precision_at_capacity"),
    ("recall at capacity, model", "model", "recall_at_capacity"),
    ("gain over today's rule (paired)", "model", "gain_over_rule"),
    ("lift over today's rule", "model", "lift_over_rule"),
    ("gain over today's rule across capacities (paired)", "model", "curve_gain_over_rule"),
    ("calibration error (ECE)", "model", "ece"),
    ("mean served risk ÷ share found", "model", "mean_risk_ratio"),
)
"""(label, scorer, measure): each survey estimate set against the census value of the same figure."""
GROUPS = "group recall ratio (each judged group)"
COVERAGE_TARGET = 0.85


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def coverage_cases(variant: str, seed: int, run) -> list[tuple[str, str, int, bool | None, str]]:
    """(figure, case, survey households, covered or None when not estimated, shown) per figure."""
    figures = run.figures
    cases = []
    for label, scorer, measure in FIGURES:
        estimated = figures.survey(measure, scorer)
        truth = figures.exact("census", measure, scorer)
        behind = 0 if estimated is None or estimated.households is None else estimated.households
        if estimated is None or not _finite(estimated.low, estimated.high, truth) or behind == 0:
            cases.append((label, f"{variant}/{seed}", behind, None, "not estimated"))
            continue
        covered = estimated.low - 1e-12 <= truth <= estimated.high + 1e-12
        cases.append(
            (
                label,
                f"{variant}/{seed}",
                behind,
                covered,
                f"{estimated.text(households=False)} vs {truth:.3f}",
            )
        )
    groups = run.artifact("evaluation/fairness_survey.csv")
    if groups is not None:
        for row in groups[groups["judged"]].itertuples():
            if not _finite(row.recall_ratio_low, row.recall_ratio_high, row.census_recall_ratio):
                continue
            covered = row.recall_ratio_low - 1e-12 <= row.census_recall_ratio <= row.recall_ratio_high + 1e-12
            cases.append(
                (
                    GROUPS,
                    f"{variant}/{seed} {row.grouping}={row.group}",
                    int(row.survey_households),
                    covered,
                    f"{row.recall_ratio:.2f} [{row.recall_ratio_low:.2f}, {row.recall_ratio_high:.2f}] vs "
                    f"{row.census_recall_ratio:.2f}",
                )
            )
    return cases


def _targets_row(variant: str, seed: int, run) -> str:
    figures = run.figures

    def shown(value: float | None) -> float:
        return float("nan") if value is None else value

    survey_ece, survey_ratio = figures.survey("ece"), figures.survey("mean_risk_ratio")
    ece = shown(survey_ece and survey_ece.value)
    ratio = shown(survey_ratio and survey_ratio.value)
    best = shown(figures.exact("truth", "share_of_best_possible"))
    lift = shown(figures.exact("truth", "lift_over_rule"))
    fair = shown(figures.exact("truth", "min_group_recall_ratio"))
    checks = {
        "ece": ece <= 0.02,
        "mean": abs(ratio - 1) <= 0.15,
        "best": best >= 0.70,
        "lift": lift >= 1.5,
        "fair": fair >= 0.8,
    }
    mark = {k: "✓" if v else "✗" for k, v in checks.items()}
    return (
        f"| {variant} | {seed} | {figures.count(TEST_SURVEY_HOUSEHOLDS) or 0:,} "
        f"| {ece:.4f} {mark['ece']} | {shown(figures.exact('census', 'ece')):.4f} "
        f"| {ratio:.3f} {mark['mean']} | {shown(figures.exact('census', 'mean_risk_ratio')):.3f} "
        f"| {best:.3f} {mark['best']} "
        f"| {lift:.2f}× {mark['lift']} "
        f"| {fair:.2f} {mark['fair']} "
        f"({run.tags.get('lowest_group_recall', '–')}) "
        f"| {shown(figures.exact('truth', 'min_group_recall_ratio', 'best_possible')):.2f} | {run.seconds:.0f} |"
    ), all(checks.values())


def demo_sequence(work: Path, seed: int) -> tuple[int, str]:
    """`make demo`'s steps on a small city whose `_truth/` is removed before anything reads it."""
    folder = work / f"demo-{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    _anbu("generate", "--scale", "small", "--seed", str(seed), "--out", str(folder), "--no-report")
    shutil.rmtree(DataFolder(folder).truth)
    _anbu("validate", "--data", str(folder))
    store = work / f"demo-store-{seed}"
    train(folder, BASELINE, store)
    return promote(store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--variants", nargs="+", default=["default", "unfamiliar"])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--demo-seeds", type=int, nargs="*", default=[3, 4, 5, 6, 7])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "estimates")
    arguments = parser.parse_args()
    work: Path = arguments.work
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    for variant in arguments.variants:
        for seed in arguments.seeds:
            data = city(work, variant, seed, arguments.households)
            run = train(data, BASELINE, work / f"store-{variant}-{seed}")
            runs.append((variant, seed, run))
            print(f"{variant} seed {seed}: trained in {run.seconds:.0f} s", flush=True)

    cases = [case for variant, seed, run in runs for case in coverage_cases(variant, seed, run)]
    print(f"\n## Coverage of the survey's 90 % intervals ({arguments.households:,} households per city)\n")
    print("| figure | cases | covered | coverage | not estimated | median survey households |")
    print("|---|---:|---:|---:|---:|---:|")
    for label in [f[0] for f in FIGURES] + [GROUPS]:
        mine = [c for c in cases if c[0] == label]
        judged = [c for c in mine if c[3] is not None]
        covered = sum(bool(c[3]) for c in judged)
        behind = sorted(c[2] for c in judged)
        median = behind[len(behind) // 2] if behind else 0
        share = f"{covered / len(judged):.0%}" if judged else "–"
        print(f"| {label} | {len(judged)} | {covered} | {share} | {len(mine) - len(judged)} | {median:,} |")
    judged = [c for c in cases if c[3] is not None]
    covered = sum(bool(c[3]) for c in judged)
    overall = covered / max(len(judged), 1)
    verdict = "✓" if overall >= COVERAGE_TARGET else "✗"
    print(
        f"\nall figures: {covered} of {len(judged)} cases covered = {overall:.1%} (target ≥ 85 %) {verdict}"
    )
    missed = [c for c in judged if not c[3]]
    if missed:
        print("\nnot covered:")
        for label, case, behind, _, shown in missed:
            print(f"- {label}, {case} ({behind:,} survey households): {shown}")

    print("\n## Targets (survey figures as a city sees them; truth figures from the generator)\n")
    print(
        "| variant | seed | test survey households | ECE, survey (≤ 0.02) | ECE, census | mean risk ÷ found, "
        "survey (±15 %) | same, census | share of best possible (≥ 0.70) | lift over rule (≥ 1.5×) "
        "| lowest group recall ratio (≥ 0.8) | same, best possible ranking | train s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    met = 0
    for variant, seed, run in runs:
        line, ok = _targets_row(variant, seed, run)
        met += ok
        print(line)
    print(f"\nevery target met on {met} of {len(runs)} runs")

    if arguments.demo_seeds:
        print("\n## `make demo`'s sequence with `_truth/` removed (small city)\n")
        print("| seed | `anbu promote` exit | decision |")
        print("|---:|---:|---|")
        chosen = 0
        for seed in arguments.demo_seeds:
            code, said = demo_sequence(work, seed)
            chosen += code == 0
            first = said.splitlines()[0] if said else ""
            reasons = " · ".join(line.strip("- ").strip() for line in said.splitlines()[1:])
            print(f"| {seed} | {code} | {first} — {reasons} |")
        print(
            f"\na champion chosen by `anbu promote` itself on {chosen} of {len(arguments.demo_seeds)} seeds"
        )


if __name__ == "__main__":
    main()
