"""The Spark engine runs the same feature definitions as DuckDB and gets the same table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.catalogue import names
from features.contract.delivery import ensure_validated
from features.round_table import build_round
from features.spark_engine import spark_round, spark_session, spark_sql
from synthetic.generator import generate_city
from tests.support.deliveries import D, write_delivery

COUNT_FEATURES = [n for n in names() if n.startswith(("crisis_", "contacts_", "visits_", "positive_"))]


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", app="anbu-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spark-city")
    generate_city(out, households=4_000, months=24, seed=5)
    return out


def _assert_same_table(duck: pd.DataFrame, spark_table: pd.DataFrame) -> None:
    assert list(spark_table.columns) == list(duck.columns)
    assert len(spark_table) == len(duck)
    duck = duck.sort_values("household_id", ignore_index=True)
    spark_table = spark_table.sort_values("household_id", ignore_index=True)
    for column in duck.columns:
        ours, theirs = duck[column], spark_table[column]
        if column in names():
            theirs = theirs.astype("float64")
            assert (ours.isna() == theirs.isna()).all(), f"{column}: missing in one engine only"
            known = ours.notna()
            if column in COUNT_FEATURES:
                assert (ours[known] == theirs[known]).all(), column
            else:
                assert np.abs(ours[known] - theirs[known]).to_numpy().max(initial=0) <= 1e-9, column
        elif column == "round_date":
            assert (pd.to_datetime(theirs) == ours).all()
        else:
            assert ours.astype(str).tolist() == theirs.astype(str).tolist(), column


def test_a_city_round_is_the_same_on_spark_and_duckdb(spark, city: Path) -> None:
    as_of = pd.Timestamp("2026-07-31")
    duck, _ = build_round(city, as_of)
    on_spark = spark_round(spark, Path(ensure_validated(city).out_dir), as_of).toPandas()
    assert duck["sensor_enrolled"].sum() > 0 and duck["visits_before"].sum() > 0
    _assert_same_table(duck, on_spark)


@pytest.mark.parametrize("day", ["2025-02-28", "2025-03-01", "2025-03-31"])
def test_the_hand_made_delivery_is_the_same_on_both_engines(spark, tmp_path: Path, day: str) -> None:
    delivery = write_delivery(tmp_path / "delivery")
    duck, _ = build_round(delivery, D(day))
    _assert_same_table(duck, spark_round(spark, Path(ensure_validated(delivery).out_dir), D(day)).toPandas())


def test_parameters_are_bound_as_typed_literals_and_missing_ones_refused() -> None:
    sql = spark_sql("SELECT * FROM t WHERE d <= $as_of AND n > $n", {"as_of": D("2025-03-31").date(), "n": 3})
    assert "CAST('2025-03-31' AS DATE)" in sql and "> 3" in sql
    with pytest.raises(ValueError, match="without a value: \\['n'\\]"):
        spark_sql("SELECT * FROM t WHERE n > $n", {})


def test_anbu_features_on_spark_writes_the_round_and_its_manifest(spark, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from anbu.cli import app

    delivery = write_delivery(tmp_path / "delivery")
    out = tmp_path / "round.parquet"
    args = ["features", "--data", str(delivery), "--as-of", "2025-03-31", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--engine", "spark"])
    assert result.exit_code == 0, result.output
    duck, _ = build_round(delivery, D("2025-03-31"))
    _assert_same_table(duck, pd.read_parquet(out))
    assert (tmp_path / "round.manifest.json").is_file()
