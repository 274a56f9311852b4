"""Can another honest statistic decide where the promotion gate cannot? (issue 33, item 4)

    uv run python bench/promotion.py --seeds 1 2          # trains the cities and stores read here
    uv run python experiments/gate_power.py --cities unfamiliar/1 unfamiliar/2 small_survey/1 small_survey/2

On each 100,000-household city `bench/promotion.py` trained, every registered model and today's
rule score the test round again. Each comparison the gate makes (the baseline against today's
rule, a worse candidate against the baseline) is estimated from the test round's survey visits
in four ways, each beside its value on a visit to every household:

- `curve 10×`: what the gate uses, the found share of the lists at 1-10 % capacity pooled
  (training/estimates.py: curve_gain);
- `curve 50×`: the same up to 50 %, so that five times more survey households are on the lists;
- `difference`: the curve 10× with the survey's mean residual added to each list's mean served
  risk (a model-assisted difference estimator: design-unbiased whatever the model, with less
  variance where the risk explains what visits find);
- `AUC`: the paired difference of the weighted area under the ROC curve over every survey
  household.

The gate needs an interval whose low end clears zero (against the rule) or -0.05 (against a
champion); the question is which of these gives a narrower interval for the same truth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.estimates import Estimate, Sample, curve_gain, estimate, exact  # noqa: E402
from training.evaluation import Ranking, curve_lists  # noqa: E402
from training.metrics import weighted_auc  # noqa: E402
from training.survey import SurveySample  # noqa: E402

TEST_ROUND = pd.Timestamp("2026-07-31")  # experiments/baseline.toml's test round
UP_TO_10 = (1, 2, 3, 5, 7.5, 10)
UP_TO_50 = (1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50)
CAPACITY = 0.01
AUC_RESAMPLES = 300
SCORED_COLUMNS = ("gu", "survey_label", "census", "rule")


def scored_test_round(work: Path, variant: str, seed: int) -> tuple[pd.DataFrame, str]:
    """The test round's district, survey finding, census finding and every scorer's score; and
    what the gate compared the later candidates with (the champion's config, else the rule)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from features.round_table import build_training_set, survey_days
    from synthetic.truth import census_found_for, round_truth
    from training.baselines import todays_rule_score

    data = work / f"city-{variant}-{seed}-100000"
    test = build_training_set(data, [TEST_ROUND])[0].reset_index(drop=True)
    truth = round_truth(data, TEST_ROUND, survey_days(data, TEST_ROUND))
    scored = pd.DataFrame(
        {  # the scorers follow these four columns
            "gu": test["gu"].astype("str"),
            "survey_label": test["survey_label"],
            "census": census_found_for(truth, test["household_id"]),
            "rule": todays_rule_score(test),
        }
    )
    mlflow.set_tracking_uri(f"sqlite:///{work / f'store-{variant}-{seed}' / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    try:
        champion = client.get_model_version_by_alias("isolation-risk", "champion").version
    except MlflowException:
        champion = None  # the baseline was refused: the gate judged the candidates against the rule
    rival = "rule"
    for version in client.search_model_versions("name='isolation-risk'"):
        booster = mlflow.lightgbm.load_model(f"models:/isolation-risk/{version.version}")
        name = client.get_run(version.run_id).data.tags.get("experiment_config", version.version)
        scored[name] = booster.predict(test[list(booster.feature_name())])
        if str(version.version) == str(champion):
            rival = name
    return scored, rival


def difference_estimator(lists: dict[str, np.ndarray], risk: np.ndarray):
    """curve_gain with each side's found share taken as its lists' mean served risk (known for
    every listed household) plus the survey's mean of found - risk on those lists."""
    names = list(lists)
    served = {name: float((risk * lists[name]).sum()) for name in names}
    size = {name: float(lists[name].sum()) for name in names}

    def side(found, weight, surveyed_risk, members, named):
        mean_risk = sum(served[n] for n in named) / sum(size[n] for n in named)
        residual = sum((weight * (found - surveyed_risk) * m).sum(-1) for m in members)
        listed = sum((weight * m).sum(-1) for m in members)
        with np.errstate(divide="ignore", invalid="ignore"):
            return mean_risk + np.where(listed > 0, residual / np.where(listed > 0, listed, 1), np.nan)

    def statistic(found, weight, surveyed_risk, *members, axis=-1):
        return side(found, weight, surveyed_risk, members[0::2], names[0::2]) - side(
            found, weight, surveyed_risk, members[1::2], names[1::2]
        )

    return statistic


def auc_gain(sample: SurveySample, member: np.ndarray, other: np.ndarray, seed: int) -> Estimate:
    found, weight = sample.found, sample.weight
    mine, theirs = member[sample.positions], other[sample.positions]
    value = weighted_auc(found, weight, mine) - weighted_auc(found, weight, theirs)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(AUC_RESAMPLES):
        rows = rng.integers(0, len(found), len(found))
        draws.append(
            weighted_auc(found[rows], weight[rows], mine[rows])
            - weighted_auc(found[rows], weight[rows], theirs[rows])
        )
    low, high = np.nanquantile(draws, [0.05, 0.95])
    return Estimate(value, float(low), float(high), sample.households)


def census_auc_gain(census: np.ndarray, member: np.ndarray, other: np.ndarray) -> float:
    """The AUC against the expected finding: each household counted found with its chance."""
    from sklearn.metrics import roc_auc_score

    known = np.isfinite(census)
    label = np.r_[np.ones(known.sum()), np.zeros(known.sum())]
    weight = np.r_[census[known], 1 - census[known]]

    def auc(score: np.ndarray) -> float:
        return roc_auc_score(label, np.r_[score[known], score[known]], sample_weight=weight)

    return auc(member) - auc(other)


def compared(scored: pd.DataFrame, member: str, other: str, seed: int) -> list[tuple[str, Estimate, float]]:
    sample = SurveySample.of(scored)
    census = scored["census"].to_numpy(dtype=float)
    district = scored["gu"].to_numpy()
    rank = {
        name: Ranking(scored[name].to_numpy(dtype=float), district, "need", name != "rule")
        for name in (member, other)
    }
    rows = []
    for label, multiples in (("curve 10×", UP_TO_10), ("curve 50×", UP_TO_50)):
        _, lists = curve_lists(rank[member], rank[other], CAPACITY, multiples)
        survey = Sample.survey(sample.found, sample.weight, sample.positions, lists)
        whole = Sample.census(census, lists)  # a household gone before the sweep weighs nothing
        rows.append(
            (label, estimate(curve_gain, survey, tuple(lists), seed), exact(curve_gain, whole, tuple(lists)))
        )
        if label == "curve 10×":
            risk = scored[member if member != "rule" else other].to_numpy(dtype=float)
            with_risk = Sample.survey(sample.found, sample.weight, sample.positions, {**lists, "risk": risk})
            statistic = difference_estimator(lists, risk)
            rows.append(
                (
                    "difference",
                    estimate(statistic, with_risk, ("risk", *lists), seed),
                    exact(curve_gain, whole, tuple(lists)),
                )
            )
    member_score, other_score = scored[member].to_numpy(dtype=float), scored[other].to_numpy(dtype=float)
    rows.append(
        (
            "AUC",
            auc_gain(sample, member_score, other_score, seed),
            census_auc_gain(census, member_score, other_score),
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cities", nargs="+", default=["unfamiliar/1", "unfamiliar/2", "small_survey/1", "small_survey/2"]
    )
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "promotion")
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    print("| city | comparison | statistic | survey estimate [90 %] | width | a visit to everyone |")
    print("|---|---|---|---|---:|---:|")
    for city in arguments.cities:
        variant, seed = city.split("/")
        scored, rival = scored_test_round(arguments.work, variant, int(seed))
        pairs = [("baseline", "rule")] + [
            (name, rival) for name in scored.columns[len(SCORED_COLUMNS) :] if name != "baseline"
        ]
        for member, other in pairs:
            for label, survey, census in compared(scored, member, other, arguments.seed):
                print(
                    f"| {city} | {member} − {other} | {label} | {survey.value:+.3f} [{survey.low:+.3f}, {survey.high:+.3f}] "
                    f"| {survey.high - survey.low:.3f} | {census:+.3f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
