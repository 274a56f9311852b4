"""A built Bento serves the champion it was built with, without the MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import bentoml
import httpx
import pandas as pd

from serving.keys.key_file import add_key
from tests.support.local_server import bentoml_server
from tests.support.served import ROUND


def _home_of(tag: str) -> str:
    """The BentoML home the Bento was built into: BentoML reads BENTOML_HOME once per process, so
    a later test's setting does not move where this process builds."""
    return str(Path(bentoml.bentos.get(tag).path).parents[2])


def _bento_environment(tag: str, data: Path, folder: Path) -> dict[str, str]:
    """A served Bento's settings: the city's round, keys and records in `folder`, and the registry
    out of reach (ANBU_MODELS_DIR names a folder that must never be created)."""
    return {
        **os.environ,
        "ANBU_DATA": str(data),
        "ANBU_AS_OF": str(ROUND.date()),
        "ANBU_KEYS": str(folder / "keys.toml"),
        "ANBU_RECORDS_URL": str(folder / "records.sqlite"),
        "ANBU_MODELS_DIR": str(folder / "no-store-here"),
        "BENTOML_HOME": _home_of(tag),
    }


def test_a_built_bento_serves_its_packed_champion_without_the_registry(served, tmp_path, monkeypatch) -> None:
    from serving.api.bento import build_bento

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("ANBU_MODELS_DIR", str(served.store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tag = build_bento()
    assert tag.startswith("anbu:")
    assert not (Path(__file__).resolve().parents[3] / "serving" / "api" / "bento_model.txt").exists()
    source = Path(bentoml.bentos.get(tag).path) / "src"
    packed = {path.relative_to(source).parts[0] for path in source.rglob("*.py")}
    # The synthetic city is a data source upstream of the pipeline: a deployment never runs it.
    assert packed == {"anbu", "features", "training", "serving"}

    key = add_key(tmp_path / "keys.toml", "bento-test", "admin")
    environment = _bento_environment(tag, served.data, tmp_path)
    with bentoml_server(tag, environment, tmp_path / "server.log", cwd=tmp_path) as url:
        model = httpx.post(url + "/model", json={}, headers={"X-API-Key": key}, timeout=30).json()
    assert model["model_version"] == served.version
    assert not (tmp_path / "no-store-here").exists()


def test_a_bento_of_a_champion_of_another_family_scores_and_explains_as_the_scored_round(
    served_mean, tmp_path, monkeypatch
) -> None:
    """The mean of a logistic regression and LightGBM is packed as its own text: the Bento says
    which family serves, and the features of a household score to the risk and the reasons its
    scored round holds."""
    import pyarrow.parquet as pq

    from features.round_table import build_round
    from serving.api.bento import build_bento
    from serving.scoring.households import scored_frame
    from serving.scoring.rounds import scores_path

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("ANBU_MODELS_DIR", str(served_mean.store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tag = build_bento()
    scored = scored_frame(pq.read_table(scores_path(served_mean.data, ROUND, served_mean.version)))
    sample = scored.sort_values("rank").head(5)
    table, _ = build_round(served_mean.data, ROUND)
    key = add_key(tmp_path / "keys.toml", "bento-test", "admin")
    environment = _bento_environment(tag, served_mean.data, tmp_path)
    with bentoml_server(tag, environment, tmp_path / "server.log", cwd=tmp_path) as url:
        headers = {"X-API-Key": key}
        model = httpx.post(url + "/model", json={}, headers=headers, timeout=30).json()
        features = [f["name"] for f in model["features"]]
        rows = table.set_index("household_id").loc[sample["household_id"], features]
        households = [
            {
                "household_id": household_id,
                "features": {f: (None if pd.isna(v) else float(v)) for f, v in row.items()},
            }
            for household_id, row in rows.iterrows()
        ]
        answer = httpx.post(
            url + "/score_features", json={"request": {"households": households}}, headers=headers, timeout=30
        )
    assert model["model_family"] == "logistic_and_trees"
    assert answer.status_code == 200, answer.text
    for given, expected in zip(answer.json()["scores"], sample.itertuples(), strict=True):
        assert given["household_id"] == expected.household_id
        assert abs(given["risk"] - expected.risk) < 1e-12
        assert [r["code"] for r in given["reasons"]] == [r["code"] for r in expected.reasons]
