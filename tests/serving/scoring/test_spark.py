"""`anbu score --engine spark`: the same scores, ranks and reasons as the single-machine path."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
from typer.testing import CliRunner

from anbu.cli import app
from serving.scoring.households import SCORE_COLUMNS, read_manifest, scored_frame
from serving.scoring.rounds import scores_path
from tests.support.frames import values
from tests.support.served import ROUND

runner = CliRunner()


def test_spark_scores_every_household_as_the_single_machine_path_does(models_env, tmp_path) -> None:
    out = tmp_path / f"{ROUND.date()}.parquet"
    args = ["score", "--data", str(models_env.data), "--as-of", str(ROUND.date()), "--out", str(out)]
    result = runner.invoke(app, [*args, "--engine", "spark", "--spark-master", "local[2]"])
    assert result.exit_code == 0, result.output
    assert out.is_dir(), "Spark writes a Parquet dataset: a folder of part files"

    on_spark = scored_frame(pq.read_table(out)).sort_values("household_id", ignore_index=True)
    single = scored_frame(pq.read_table(scores_path(models_env.data, ROUND, models_env.version)))
    single = single.sort_values("household_id", ignore_index=True)
    assert list(on_spark.columns) == SCORE_COLUMNS
    assert len(on_spark) == len(single)
    np.testing.assert_array_equal(on_spark["risk"].to_numpy(), single["risk"].to_numpy())
    np.testing.assert_array_equal(on_spark["rank"].to_numpy(), single["rank"].to_numpy())
    assert np.abs(on_spark["percentile"] - single["percentile"]).max() < 1e-9
    for column in [
        "household_id",
        "round_date",
        "gu",
        "dong_code",
        "band",
        "model_version",
        *SCORE_COLUMNS[9:],
    ]:
        assert values(on_spark[column]) == values(single[column]), column

    manifest = read_manifest(out)
    assert manifest["households"] == len(single) and manifest["model_version"] == models_env.version
    single_manifest = read_manifest(scores_path(models_env.data, ROUND, models_env.version))
    # The round's health check may have run again since the fixture scored (other tests run it):
    # what it said must be the same, not when.
    checked = {k: v for k, v in manifest.pop("health").items() if k != "checked_at"}
    assert checked == {k: v for k, v in single_manifest.pop("health").items() if k != "checked_at"}
    assert manifest == single_manifest


def test_an_unknown_engine_is_refused(models_env, tmp_path) -> None:
    result = runner.invoke(
        app,
        ["score", "--data", str(models_env.data), "--as-of", str(ROUND.date()), "--engine", "hadoop"],
    )
    assert result.exit_code != 0
    assert "--engine 'hadoop'" in result.output


def test_spark_serves_a_champion_of_another_family_as_the_single_machine_path_does(
    served_mean, tmp_path, monkeypatch
) -> None:
    """The mean of a logistic regression and LightGBM reaches the executors as its own text
    (serving/explain/served_model.py), not as a booster: the same risks and reasons."""
    monkeypatch.setenv("ANBU_MODELS_DIR", str(served_mean.store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / f"{ROUND.date()}.parquet"
    args = ["score", "--data", str(served_mean.data), "--as-of", str(ROUND.date()), "--out", str(out)]
    result = runner.invoke(app, [*args, "--engine", "spark", "--spark-master", "local[2]"])
    assert result.exit_code == 0, result.output

    on_spark = scored_frame(pq.read_table(out)).sort_values("household_id", ignore_index=True)
    single = scored_frame(pq.read_table(scores_path(served_mean.data, ROUND, served_mean.version)))
    single = single.sort_values("household_id", ignore_index=True)
    assert len(on_spark) == len(single)
    assert np.abs(on_spark["risk"].to_numpy() - single["risk"].to_numpy()).max() < 1e-12
    np.testing.assert_array_equal(on_spark["rank"].to_numpy(), single["rank"].to_numpy())
    for column in SCORE_COLUMNS[9:]:
        assert values(on_spark[column]) == values(single[column]), column
