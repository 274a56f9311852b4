"""A loop run's record: `rounds.csv`, `groups.csv`, a chart, and an MLflow run in the run's store.

Written once the last round's visits are answered and delivered: the city delivers its files
once more after them, so the report judges every visit the loop made, and the city's own.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd

from anbu.data_folder import written_whole
from anbu.loop.city import LoopCity
from anbu.loop.policies import VISIT_DAYS
from anbu.loop.report import group_shares, round_rows, true_finds
from anbu.loop.run import LoopRun, model_store

LOOP_EXPERIMENT = "anbu-loop"


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with written_whole(path) as partial:
        frame.to_csv(partial, index=False)


def chart(rounds: pd.DataFrame, policy: str, path: Path) -> None:
    """Households found for the first time (cumulative) and precision at capacity, per round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (found, precision) = plt.subplots(1, 2, figsize=(10, 3.6))
    days = pd.to_datetime(rounds["round"])
    found.plot(days, rounds["found_first_time_cumulative"], marker="o")
    found.set_title("found for the first time (cumulative)")
    precision.plot(days, rounds["precision_at_capacity"], marker="o")
    precision.set_title("precision at capacity (truth)")
    precision.set_ylim(0, 1)
    for axis in (found, precision):
        axis.tick_params(axis="x", rotation=45)
    figure.suptitle(f"anbu simulate: policy {policy}")
    figure.tight_layout()
    with written_whole(path) as partial:
        figure.savefig(partial, dpi=110, format="png")
    plt.close(figure)


def record_run(run: LoopRun, city: LoopCity, out: Path, description: dict[str, str]) -> pd.DataFrame:
    """Judge the run and write its record; returns the per-round table."""
    import mlflow

    from training.tracking import configure

    last = run.plan.rounds[-1]
    end = min(last + dt.timedelta(days=VISIT_DAYS[1]), city.last_day)
    final = out / "delivered"
    city.deliver(end, final, run.visits, run.samples)
    delivered = pd.read_parquet(final / "outreach_visits.parquet")
    finds = true_finds(delivered, city.judge)
    rounds = round_rows(run.records, run.visits, finds, city.judge)
    months = [
        m.date()
        for m in pd.date_range(
            pd.Timestamp(run.plan.rounds[0]) + pd.offsets.MonthBegin(1), pd.Timestamp(end), freq="MS"
        )
    ]
    groups = group_shares(run.visits, finds, city.judge, run.households, months, run.plan.rounds[0])
    _write_csv(groups, out / "groups.csv")
    chart(rounds, run.plan.policy, out / "rounds.png")
    _write_csv(run.visits, out / "visits.csv")
    with model_store(out / "models"):
        client = configure()
        experiment = client.get_experiment_by_name(LOOP_EXPERIMENT)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(
                LOOP_EXPERIMENT, artifact_location=(out / "models" / "artifacts").resolve().as_uri()
            )
        )
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"loop-{run.plan.policy}"):
            mlflow.log_params(
                {
                    "policy": run.plan.policy,
                    "rounds": len(run.plan.rounds),
                    "first_round": run.plan.rounds[0].isoformat(),
                    "capacity_share": run.plan.capacity_share,
                    "explore": run.plan.explore,
                    "recheck": run.plan.recheck,
                    "seed": run.plan.seed,
                    **description,
                }
            )
            for step, row in rounds.iterrows():
                mlflow.log_metrics(
                    {
                        name: float(row[name])
                        for name in (
                            "precision_at_capacity",
                            "found_first_time",
                            "found_first_time_cumulative",
                            "missed_after",
                            "median_days_onset_to_visit",
                        )
                        if pd.notna(row[name])
                    },
                    step=int(step),
                )
            mlflow.log_metric("promotions_refused", float((rounds["verdict"] == "refused").sum()))
            _write_csv(rounds, out / "rounds.csv")  # last: a finished run is one with rounds.csv
            for name in ("rounds.csv", "groups.csv", "rounds.png", "visits.csv"):
                mlflow.log_artifact(str(out / name))
    shutil.rmtree(final, ignore_errors=True)
    return rounds
