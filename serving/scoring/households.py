"""Scoring households: calibrated risk, band and reasons for a block of them; rank and percentile
once the whole city's risks are known.

The champion's model already returns calibrated probabilities (calibration is folded into it:
into a booster's leaves, a linear model's weights), so risk is one `predict`; reasons come from the
same model's exact contributions (serving/explain/served_model.py).
Rank 1 is the highest risk in the city; ties break by household id so a list never reshuffles
between two runs on the same data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import expit

from features.output_schema import OutputSchema
from serving.scoring.reasons import REASONS_TYPE, choose, reason_lists

if TYPE_CHECKING:  # the model libraries load only where a round is scored, not where one is read
    from serving.scoring.champion import Champion

RISK_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.50, "very_high", "매우 높음"),
    (0.20, "high", "높음"),
    (0.10, "elevated", "주의"),
    (0.00, "low", "낮음"),
)
"""Lower bound of calibrated risk, band code, Korean name. About 6 % of households become isolated
or at risk within 90 days, so `elevated` is already about twice the city's rate."""

BAND_KO = {code: ko for _, code, ko in RISK_BANDS}
ID_COLUMNS = ["household_id", "round_date", "gu", "dong_code", "last_finding_on"]
"""Carried from the round table into the scores (features/round_table.py: KNOWN_COLUMNS for the last)."""


def band_of(risk: np.ndarray) -> np.ndarray:
    bounds = np.array([b for b, _, _ in RISK_BANDS])
    codes = np.array([c for _, c, _ in RISK_BANDS])
    return codes[(risk[:, None] < bounds[None, :]).sum(axis=1)]


def feature_matrix(table: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Float64 with NaN for missing: what the model saw in training (integer codes included)."""
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise ValueError(f"the round table lacks model features: {missing}")
    return table[features].to_numpy(dtype="float64", na_value=np.nan)


def score_households(champion: Champion, table: pa.Table | pd.DataFrame) -> pa.Table:
    """Identity columns, risk, band, model version and reasons for each row (order kept).

    `table` holds ID_COLUMNS and the model's features (a round table, or a block of one)."""
    frame = table.to_pandas() if isinstance(table, pa.Table) else table
    values = feature_matrix(frame, champion.features)
    contributions = champion.model.contributions(values)
    # The exact contributions sum to the served log-odds (tests/serving/explain), so the risk is read
    # from them rather than from a second pass over every tree.
    risk = expit(contributions.sum(axis=1))
    chosen = choose(contributions, values, champion.plan)
    columns: dict[str, pa.Array] = {
        "household_id": pa.array(frame["household_id"].astype(str).to_numpy(), pa.string()),
        "round_date": pa.array(frame["round_date"].to_numpy(dtype="datetime64[us]")),
        "gu": pa.array(frame["gu"].astype(str).to_numpy(), pa.string()),
        # A code validation blanked stays missing (astype(str) would keep NaN, which Arrow refuses).
        "dong_code": pa.array(frame["dong_code"].to_numpy(dtype=object, na_value=None), pa.string()),
        "risk": pa.array(risk),
        "band": pa.array(band_of(risk), pa.string()),
        "model_version": pa.array([champion.version] * len(frame), pa.string()),
    }
    columns["reasons"] = reason_lists(chosen, champion.plan)
    columns["last_finding_on"] = pa.array(_last_finding(frame), pa.timestamp("us"))
    return pa.table(columns)


def _last_finding(frame: pd.DataFrame) -> np.ndarray:
    """When a visit last found the household isolated or at risk; NaT where never, or where the
    caller sent features alone (`score_features`: then nothing is known about visits)."""
    if "last_finding_on" not in frame.columns:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[us]")
    return frame["last_finding_on"].to_numpy(dtype="datetime64[us]")


def city_ranks(household_id: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank (1 = highest risk in the city, ties by household id) and percentile, in input order."""
    order = np.lexsort((household_id, -risk))
    rank = np.empty(len(risk), dtype=np.int64)
    rank[order] = np.arange(1, len(risk) + 1)
    percentile = 100.0 * (len(risk) - rank) / max(len(risk), 1)
    return rank, percentile


SCORE_SCHEMA = OutputSchema(
    "scored round",
    (
        ("household_id", "string"),
        ("round_date", "timestamp"),
        ("gu", "string"),
        ("dong_code", "string"),
        ("risk", "float"),
        ("rank", "integer"),
        ("percentile", "float"),
        ("band", "string"),
        ("model_version", "string"),
        ("reasons", REASONS_TYPE),
        ("last_finding_on", "timestamp"),
    ),
)
"""What `anbu score` writes (on either engine) and the service and `anbu rank` read."""
SCORE_COLUMNS = SCORE_SCHEMA.names
OPTIONAL_SCORE_COLUMNS = ("last_finding_on",)
"""Rounds scored before the discovery lists existed lack it: read as never found (serving/scoring/rounds)."""


def scored_frame(table: pa.Table) -> pd.DataFrame:
    """A scored round (or part of one) in pandas with its reasons still Arrow lists: a city's
    reasons as Python lists of dicts would be millions of objects for every collection to walk,
    while a row's reasons read as a list of dicts all the same (`frame["reasons"].iat[i]`)."""
    return table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)


def score_table(champion: Champion, table: pd.DataFrame) -> pd.DataFrame:
    """A whole (small) round in memory, ordered by rank: for tests and in-process callers; the
    city goes through serving/scoring/city.py, which streams."""
    scored = score_households(champion, table)
    rank, percentile = city_ranks(
        scored["household_id"].to_numpy(zero_copy_only=False), scored["risk"].to_numpy()
    )
    scored = scored.append_column("rank", pa.array(rank)).append_column("percentile", pa.array(percentile))
    scored = scored.select(SCORE_COLUMNS)
    SCORE_SCHEMA.check(scored.schema, "the scored table")
    return scored_frame(scored).sort_values("rank", ignore_index=True)


@dataclass(frozen=True)
class ScoreManifest:
    as_of: str
    model_version: str
    model_run_id: str
    households: int
    bands: dict[str, int]
    input_sha256: dict[str, str]
    health: dict = field(default_factory=dict)
    """What the round's health check said (serving/health/gate.py): verdict, warnings, errors and
    who accepted them; empty for a round scored without one."""

    @classmethod
    def of(
        cls,
        as_of: pd.Timestamp,
        champion: Champion,
        bands: dict[str, int],
        inputs: dict[str, str],
        health: dict | None = None,
    ) -> ScoreManifest:
        """What a scored round was made from: round, model, band counts, input files' SHA-256."""
        return cls(
            as_of=pd.Timestamp(as_of).date().isoformat(),
            model_version=champion.version,
            model_run_id=champion.run_id,
            households=sum(bands.values()),
            bands={band: int(count) for band, count in sorted(bands.items())},
            input_sha256=inputs,
            health=dict(health or {}),
        )

    def text(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=2)

    def write_beside(self, scores: Path) -> None:
        """`<name>.manifest.json` next to the scores, for people and for datasets without metadata."""
        Path(scores).with_suffix(".manifest.json").write_text(self.text() + "\n", encoding="utf-8")


def input_digests(report) -> dict[str, str]:
    """Contract file -> SHA-256 of the delivered file, from a validation report (the files features
    are built from: a new sweep sample does not make a round's scores stale)."""
    from features.contract.schemas import FEATURE_INPUTS

    return {
        source.file or source.name: source.sha256 or ""
        for source in report.sources
        if source.name in FEATURE_INPUTS
    }


def read_manifest(path: Path) -> dict:
    """The manifest in a scores file's metadata; for a Parquet dataset (Spark's folder of parts),
    the JSON beside it."""
    path = Path(path)
    if path.is_dir():
        beside = path.with_suffix(".manifest.json")
        return json.loads(beside.read_text(encoding="utf-8")) if beside.is_file() else {}
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata.get(b"anbu", b"{}"))
