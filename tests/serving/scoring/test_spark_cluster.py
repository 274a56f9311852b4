"""`anbu score --engine spark` on a Spark standalone cluster (a master and a worker started from
the project's own pyspark on 127.0.0.1), not only `local[2]`: the executors are separate Python
processes that must get the project's interpreter, and the scores equal DuckDB's."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyspark
import pytest
from typer.testing import CliRunner

from anbu.cli import app
from features.spark_engine import SparkEnvironmentMissing, executor_python
from serving.scoring.rounds import scores_path
from tests.support.local_server import free_port
from tests.support.served import ROUND

SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def standalone_cluster(folder: Path) -> Iterator[str]:
    port = free_port()
    environment = {**os.environ, "SPARK_HOME": str(SPARK_CLASS.parents[1]), "SPARK_LOCAL_IP": "127.0.0.1"}
    environment.pop("PYSPARK_PYTHON", None)
    master_url = f"spark://127.0.0.1:{port}"
    daemons = []
    try:
        with (folder / "master.log").open("w") as log:
            daemons.append(
                subprocess.Popen(
                    [str(SPARK_CLASS), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                     "--port", str(port), "--webui-port", str(free_port())],
                    env=environment, stdout=log, stderr=log, start_new_session=True,
                )
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert time.monotonic() < deadline, (folder / "master.log").read_text()[-2000:]
            time.sleep(0.5)
        with (folder / "worker.log").open("w") as log:
            daemons.append(
                subprocess.Popen(
                    [str(SPARK_CLASS), "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                     "--cores", "2", "--memory", "2g", "--webui-port", str(free_port()),
                     "--work-dir", str(folder / "work")],
                    env=environment, stdout=log, stderr=log, start_new_session=True,
                )
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while "Successfully registered with master" not in (folder / "worker.log").read_text():
            assert time.monotonic() < deadline, (folder / "worker.log").read_text()[-2000:]
            time.sleep(0.5)
        yield master_url
    finally:
        for daemon in daemons:
            os.killpg(daemon.pid, 15)
            daemon.wait(30)


def _stop_spark() -> None:
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


def test_executors_elsewhere_without_an_environment_are_refused_in_one_sentence(monkeypatch) -> None:
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    assert executor_python("local[2]") == executor_python("spark://127.0.0.1:7077")
    with pytest.raises(SparkEnvironmentMissing, match="set PYSPARK_PYTHON"):
        executor_python("spark://spark-master.city.internal:7077")
    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/anbu/bin/python")
    assert executor_python("spark://spark-master.city.internal:7077") == "/opt/anbu/bin/python"


def test_a_standalone_cluster_scores_as_duckdb_does(models_env, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    out = tmp_path / "spark-scores.parquet"
    with standalone_cluster(tmp_path) as master:
        try:
            result = CliRunner().invoke(
                app,
                ["score", "--data", str(models_env.data), "--as-of", str(ROUND.date()), "--out", str(out),
                 "--engine", "spark", "--spark-master", master],
            )  # fmt: skip
        finally:
            _stop_spark()  # the next test in this process must not be handed this cluster's session
    assert result.exit_code == 0, result.output
    on_cluster = pd.read_parquet(out).sort_values("household_id", ignore_index=True)
    single = pd.read_parquet(scores_path(models_env.data, ROUND, models_env.version))
    single = single.sort_values("household_id", ignore_index=True)
    np.testing.assert_array_equal(on_cluster["risk"].to_numpy(), single["risk"].to_numpy())
    np.testing.assert_array_equal(on_cluster["rank"].to_numpy(), single["rank"].to_numpy())
    codes = [
        [[reason["code"] for reason in reasons] for reasons in frame["reasons"]]
        for frame in (on_cluster, single)
    ]
    assert codes[0] == codes[1]
