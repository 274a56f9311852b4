"""Scoring a round: every household's calibrated risk, rank, percentile, band and reasons.

The champion's booster already returns calibrated probabilities (calibration is folded into its
trees), so scoring is one `predict`; reasons come from the same booster's SHAP contributions.
Rank 1 is the highest risk in the city; ties break by household id so a list never reshuffles
between two runs on the same data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from serving.champion import Champion
from serving.reasons import MAX_REASONS, ReasonPlan, explain

RISK_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.50, "very_high", "매우 높음"),
    (0.20, "high", "높음"),
    (0.10, "elevated", "주의"),
    (0.00, "low", "낮음"),
)
"""Lower bound of calibrated risk, band code, Korean name. About 6 % of households become isolated
or at risk within 90 days, so `elevated` is already about twice the city's rate."""

BAND_KO = {code: ko for _, code, ko in RISK_BANDS}
ID_COLUMNS = ["household_id", "round_date", "gu", "dong_code"]


def band_of(risk: np.ndarray) -> np.ndarray:
    bounds = np.array([b for b, _, _ in RISK_BANDS])
    codes = np.array([c for _, c, _ in RISK_BANDS])
    return codes[(risk[:, None] < bounds[None, :]).sum(axis=1)]


def feature_matrix(table: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Float64 with NaN for missing: what the booster saw in training (integer codes included)."""
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise ValueError(f"the round table lacks model features: {missing}")
    return table[features].to_numpy(dtype="float64", na_value=np.nan)


def reason_columns(reasons: list[list]) -> dict[str, list]:
    """Flat columns (reason_1_ko … reason_4_en, reason_codes) that read well in CSV and XLSX."""
    columns: dict[str, list] = {"reason_codes": ["|".join(r.code for r in rs) for rs in reasons]}
    for slot in range(MAX_REASONS):
        columns[f"reason_{slot + 1}_ko"] = [rs[slot].text_ko if slot < len(rs) else None for rs in reasons]
        columns[f"reason_{slot + 1}_en"] = [rs[slot].text_en if slot < len(rs) else None for rs in reasons]
    return columns


def score_table(champion: Champion, table: pd.DataFrame, with_reasons: bool = True) -> pd.DataFrame:
    """One row per household of the round, ordered by city-wide rank."""
    values = feature_matrix(table, champion.features)
    risk = champion.booster.predict(values)
    order = np.lexsort((table["household_id"].to_numpy(dtype=str), -risk))
    rank = np.empty(len(risk), dtype=np.int64)
    rank[order] = np.arange(1, len(risk) + 1)
    scored = table[ID_COLUMNS].copy()
    scored["risk"] = risk
    scored["rank"] = rank
    scored["percentile"] = 100.0 * (len(risk) - rank) / max(len(risk), 1)
    scored["band"] = band_of(risk)
    scored["model_version"] = champion.version
    if with_reasons:
        reasons = explain(champion.booster, values, ReasonPlan.for_features(champion.features))
        for name, values in reason_columns(reasons).items():
            scored[name] = values
    return scored.sort_values("rank", ignore_index=True)


@dataclass(frozen=True)
class ScoreManifest:
    as_of: str
    model_version: str
    model_run_id: str
    households: int
    bands: dict[str, int]
    input_sha256: dict[str, str]


def write_scores(scored: pd.DataFrame, manifest: ScoreManifest, out: Path) -> Path:
    """Parquet with the manifest in its metadata and beside it, so a list can be traced to its model."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(scored, preserve_index=False)
    text = json.dumps(manifest.__dict__, ensure_ascii=False, indent=2)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"anbu": text.encode()})
    pq.write_table(table, out)
    out.with_suffix(".manifest.json").write_text(text + "\n", encoding="utf-8")
    return out


def read_manifest(path: Path) -> dict:
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata.get(b"anbu", b"{}"))
