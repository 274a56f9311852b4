"""Comparing a registered candidate with the current champion after training, when the champion
has changed since the candidate's run (or there was none then).

The comparison is the one training makes: both models score the candidate's test round, and
their lists are compared on the same survey households. It is written into the candidate's run,
so `anbu promote` decides on it like on any other figure.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from features.round_table import build_training_set, survey_days
from synthetic.truth import round_truth
from training.config import COMPARISON_CAPACITIES, ConfigError
from training.evaluation import champion_comparison
from training.tracking import MODEL_NAME, configure
from training.train import champion_scores


def compare_with_champion(data_dir: Path, version: str) -> str | None:
    """Log the candidate's paired comparison with the current champion into its run; return the
    champion's version (None when there is no champion to compare with)."""
    client = configure()
    candidate = client.get_model_version(MODEL_NAME, version)
    params = client.get_run(candidate.run_id).data.params
    try:
        test_date = pd.Timestamp(params["rounds.test"])
        share = float(params["evaluation.capacity_share"])
        minimum = int(params["evaluation.min_list_survey_households"])
        seed = int(params.get("seed", 7))
        allocation = params.get("evaluation.allocation", "need")
        multiples = params.get("evaluation.comparison_capacities")
        capacities = tuple(float(m) for m in multiples.split(",")) if multiples else COMPARISON_CAPACITIES
    except KeyError as missing:
        raise ConfigError(f"run {candidate.run_id} of version {version} has no parameter {missing}") from None
    test, _ = build_training_set(Path(data_dir), [test_date])
    champion = champion_scores(test)
    if champion is None:
        return None
    from serving.scoring.champion import load_served_model  # noqa: PLC0415  (the registry's own reader)
    from serving.scoring.households import feature_matrix  # noqa: PLC0415

    client = mlflow.MlflowClient()
    served = load_served_model(client, client.get_model_version(MODEL_NAME, version))
    model = served.predict(feature_matrix(test, served.features))
    truth = round_truth(Path(data_dir), test_date, survey_days(Path(data_dir), test_date))
    figures, tags = champion_comparison(
        test, model, champion, share, minimum, truth, seed, allocation, capacities
    )
    with mlflow.start_run(run_id=candidate.run_id):
        mlflow.log_metrics({k: v for k, v in figures.metrics().items() if pd.notna(v)})
        mlflow.set_tags(tags)
    return champion[0]
