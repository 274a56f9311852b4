"""The feature definitions on Apache Spark: the same SQL the DuckDB path runs, transpiled.

The family modules (features/families/) write each family of features as one DuckDB query with named
parameters. For Spark that very text is parsed by sqlglot, its parameters bound as typed literals,
and written out in Spark SQL, so there is one catalogue of definitions, not two that can drift;
`tests/features/test_spark_parity.py` holds the two engines equal on a whole city (counts exactly,
floats within 1e-9). The contract files are the validated Parquet files DuckDB reads, registered as
Spark views of the same names.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import sqlglot
from sqlglot import exp

SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",  # timestamps in the contract are local wall time, no zone
    "spark.sql.ansi.enabled": "false",  # NULL, as in DuckDB, where ANSI mode would raise
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.ui.enabled": "false",
}


class SparkEnvironmentMissing(RuntimeError):
    """The executors would start a Python without this project and its libraries."""


_THIS_MACHINE = {"127.0.0.1", "localhost", "::1"}


def executor_python(master: str | None) -> str | None:
    """The interpreter Spark's executors run. They import this project (`serving`, `features`)
    and its libraries (LightGBM, numba), so a bare `python3` on a worker fails with
    ModuleNotFoundError deep in a task. PYSPARK_PYTHON when set; this interpreter when the
    executors run on this machine (local mode, or a standalone cluster on 127.0.0.1); otherwise
    refused before any work is sent. Under spark-submit (no master given) the submitter decides."""
    explicit = os.environ.get("PYSPARK_PYTHON")
    if explicit:
        return explicit
    if not master:
        return None
    if master.startswith("local"):
        return sys.executable
    hosts = [urlparse("//" + part).hostname for part in master.split("://", 1)[-1].split(",")]
    local = _THIS_MACHINE | {socket.gethostname(), socket.getfqdn()}
    if all(host in local for host in hosts):
        return sys.executable
    raise SparkEnvironmentMissing(
        f"the executors of {master} need a Python with anbu and its libraries installed: set PYSPARK_PYTHON "
        "to that interpreter's path on the workers (e.g. the same virtual environment at the same path on "
        "every node), or submit with spark-submit and a packed environment (--archives)"
    )


def spark_session(master: str | None = "local[2]", app: str = "anbu"):
    """A Spark session configured as the transpiled queries expect. With `master` empty or None
    the master comes from spark-submit (a real cluster); the settings are applied either way."""
    from pyspark.sql import SparkSession

    python = executor_python(master)
    builder = SparkSession.builder.appName(app)
    if master:  # under spark-submit the master is the cluster's
        builder = builder.master(master)
    if python:
        # pyspark starts executors' Python from PYSPARK_PYTHON (its context reads the variable, not
        # spark.pyspark.python, outside spark-submit); set here, for this process only.
        os.environ["PYSPARK_PYTHON"] = python
        builder = builder.config("spark.pyspark.python", python)
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _literal(value) -> exp.Expression:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return exp.cast(exp.Literal.string(pd.Timestamp(value).isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def spark_sql(query: str, params: dict | None = None) -> str:
    """A DuckDB query with `$name` parameters, as Spark SQL with the values bound."""
    params = params or {}
    tree = sqlglot.parse_one(query, read="duckdb")

    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in params:
            return _literal(params[node.name])
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)  # a DuckDB planning hint; Spark plans on its own
        # DuckDB's exact, interpolating quantiles are Spark's `percentile` (not its
        # one-argument `percentile_cont` ... WITHIN GROUP, nor the approximate ones).
        if isinstance(node, exp.PercentileCont):
            return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
        if isinstance(node, exp.Median):
            return exp.Anonymous(this="percentile", expressions=[node.this, exp.Literal.number(0.5)])
        return node

    bound = tree.transform(bind)
    unbound = [p.name for p in bound.find_all(exp.Placeholder)]
    if unbound:
        raise ValueError(f"query parameters without a value: {sorted(set(unbound))}")
    return bound.sql(dialect="spark")


def register_delivery(spark, validated_dir: Path) -> None:
    """Views over the validated delivery, named as in features/delivery_views.py (an absent optional
    file is an empty view of its contract columns), plus the reference tables."""
    from features.contract.files import arrow_schema
    from features.delivery_views import delivery_sources, reference_tables

    for spec, path in delivery_sources(Path(validated_dir)):
        if path is not None:
            frame = spark.read.parquet(str(path))
        else:
            frame = spark.createDataFrame(arrow_schema(spec).empty_table())  # typed even when empty
        frame.createOrReplaceTempView(spec.name)
    for name, table in reference_tables().items():
        spark.createDataFrame(table).createOrReplaceTempView(name)


def spark_round(spark, validated_dir: Path, as_of: pd.Timestamp):
    """The round table of `as_of` as a Spark DataFrame: the DuckDB path's columns and rows."""
    from features.catalogue import FAMILIES
    from features.round_table import round_join_query

    as_of = pd.Timestamp(as_of)
    register_delivery(spark, validated_dir)
    for family in FAMILIES:
        query, params = family.query(as_of)
        spark.sql(spark_sql(query, params)).createOrReplaceTempView(family.table)
    return spark.sql(spark_sql(round_join_query(as_of)))


def write_spark_round(spark, data_dir: Path, as_of: pd.Timestamp, out: Path):
    """`anbu features --engine spark`: the round as a Parquet dataset (a folder of part files, as
    Spark writes; pyarrow, DuckDB and pandas read it like one file) with the same manifest beside."""
    import time

    from features.contract.delivery import ensure_validated
    from features.round_table import round_manifest, round_schema

    started = time.perf_counter()
    as_of = pd.Timestamp(as_of)
    report = ensure_validated(Path(data_dir))
    spark_round(spark, Path(report.out_dir), as_of).write.mode("overwrite").parquet(str(out))
    rows = spark.read.parquet(str(out)).count()
    round_schema().check_file(Path(out))
    manifest = round_manifest(report, [as_of], {as_of.date().isoformat(): rows}, started)
    manifest.write(Path(out))
    return manifest
