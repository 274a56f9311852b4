"""A round scored on Spark with the registered champion: the same scores and reasons, distributed.

Each executor gets the champion's model as its text (a LightGBM model string of a few hundred
kilobytes, or a linear model's JSON; shipped with the task), rebuilds the champion and its
explainer once per partition, and runs
`serving.scoring.households.score_households` on Arrow batches via `mapInArrow` — the very function the
single-machine path runs, so the two cannot drift. Rank and percentile are city-wide: households
are range-partitioned by (risk descending, household id), numbered within each partition, and
offset by the sizes of the partitions before — no step gathers the city on one machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

from serving.scoring.champion import Champion
from serving.scoring.households import (
    ID_COLUMNS,
    SCORE_COLUMNS,
    SCORE_SCHEMA,
    ScoreManifest,
    input_digests,
    score_households,
)
from serving.scoring.reasons import REASON_FIELDS

SCORED_SCHEMA = (
    "household_id string, round_date timestamp, gu string, dong_code string, risk double, "
    "band string, model_version string, "
    f"reasons array<struct<{','.join(f'{field}:string' for field in REASON_FIELDS)}>>, "
    "last_finding_on timestamp"
)


def spark_scores(features, champion: Champion, partitions: int | None = None):
    """Scores of every row of a Spark round table (`features/spark_engine.spark_round`), with
    city-wide rank and percentile, in SCORE_COLUMNS order."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    model_text = champion.model.to_text()
    facts = {
        "version": champion.version,
        "run_id": champion.run_id,
        "features": list(champion.features),
    }

    def score_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from serving.explain.served_model import model_from_text

        local = Champion(
            model=model_from_text(model_text),
            version=facts["version"],
            run_id=facts["run_id"],
            features=facts["features"],
        )
        for batch in batches:
            if batch.num_rows:
                yield from score_households(local, pa.Table.from_batches([batch])).to_batches()

    columns = [*ID_COLUMNS, *champion.features]
    scored = features.select(*columns).mapInArrow(score_partition, SCORED_SCHEMA)
    order = [F.col("risk").desc(), F.col("household_id").asc()]
    spark = features.sparkSession
    # A few ranges per core keeps the cores busy when ranges come out uneven.
    count = partitions or max(1, 4 * spark.sparkContext.defaultParallelism)
    ranged = scored.repartitionByRange(count, *order).withColumn("_part", F.spark_partition_id())
    ranged = ranged.cache()
    sizes = {row["_part"]: row["count"] for row in ranged.groupBy("_part").count().collect()}
    households = sum(sizes.values())
    offsets, before = [], 0
    for part in range(count):
        offsets.append((part, before))
        before += sizes.get(part, 0)
    offset_table = spark.createDataFrame(offsets, "_part int, _offset long")
    within = F.row_number().over(Window.partitionBy("_part").orderBy(*order))
    ranked = (
        ranged.join(F.broadcast(offset_table), "_part")
        .withColumn("rank", (within + F.col("_offset")).cast("long"))
        .withColumn("percentile", 100.0 * (F.lit(households) - F.col("rank")) / F.lit(max(households, 1)))
    )
    return ranked.select(*SCORE_COLUMNS)


def score_round_on_spark(
    spark, data_dir: Path, as_of: pd.Timestamp, champion: Champion, out: Path, health: dict | None = None
) -> Path:
    """`anbu score --engine spark`: features and scores on Spark, written as a Parquet dataset at
    `out` (part files in a folder) with the manifest beside it, as the single-machine path does."""
    from anbu.data_folder import written_whole
    from features.contract.delivery import ensure_validated
    from features.spark_engine import spark_round

    as_of = pd.Timestamp(as_of).normalize()
    report = ensure_validated(Path(data_dir))
    features = spark_round(spark, Path(report.out_dir), as_of)
    # Written beside, checked, then moved in: a scored round is never rewritten, so a file that is
    # not one must not land where `anbu score` would then refuse to replace it.
    with written_whole(Path(out)) as temporary:
        spark_scores(features, champion).write.mode("overwrite").parquet(str(temporary))
        SCORE_SCHEMA.check_file(temporary)
    written = spark.read.parquet(str(out))
    bands = {row["band"]: row["count"] for row in written.groupBy("band").count().collect()}
    ScoreManifest.of(as_of, champion, bands, input_digests(report), health).write_beside(Path(out))
    return Path(out)
