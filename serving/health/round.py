"""A round against what the champion learnt from, before any list of it goes out.

The checks of the delivery itself (features/health: each source's volumes, sensor levels,
quarantined rows, the registry's codes) need no model; the round's features and served risks are
held against the champion's reference profile, which training logged with its run. Everything is
read from the validated delivery and the registry; nothing is written here (serving/health/report.py
writes what a check found).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.exceptions import MlflowException

from features import catalogue
from features.contract.delivery import ensure_validated
from features.health.delivery import delivery_findings
from features.health.drift import FeatureShift, drift_findings, shift_of
from features.health.findings import Finding, Grade, in_order
from features.health.reference import REFERENCE_ARTIFACT, TOP_SHARE, Reference, top_shares
from features.round_table import round_schema, write_round
from serving.health.realised import RealisedFinds, list_visits, realised_findings, realised_finds
from serving.scoring.champion import Champion
from serving.scoring.households import input_digests
from training.tracking import without_progress_bar

FEATURE_MEMORY = "3GB"
SCORE_BLOCK = 200_000
DISTRICT_Z = 4.0
"""A district's count in the top 1 % this many binomial standard deviations from its reference share,"""
DISTRICT_RATIO = 2.0
"""... and at least this many times (or at most a this-th of) it, is a warning."""


class HealthCannotRun(Exception):
    """The round cannot be held against the champion at all: one sentence says why."""


@dataclass(frozen=True)
class DistrictShare:
    district: str
    reference: float
    now: float
    households: int
    """How many of the round's top households are in the district."""


@dataclass(frozen=True)
class RoundHealth:
    as_of: pd.Timestamp
    model_version: str
    model_run_id: str
    reference: Reference
    inputs: dict[str, str]
    findings: list[Finding]
    shifts: list[FeatureShift]
    risk: FeatureShift
    top_households: int
    districts: list[DistrictShare]
    households: int
    realised: list[RealisedFinds]
    """What list visits after the earlier rounds found, against those rounds' risks."""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.grade is Grade.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.grade is Grade.WARNING]


def champion_reference(champion: Champion) -> Reference:
    """The profile training logged with the champion's run; a sentence when there is none."""
    try:
        with without_progress_bar():
            raw = mlflow.artifacts.load_text(f"runs:/{champion.run_id}/{REFERENCE_ARTIFACT}")
        reference = Reference.from_json(json.loads(raw))
    except (MlflowException, OSError) as error:
        raise HealthCannotRun(
            f"isolation-risk v{champion.version} (run {champion.run_id}) has no readable training "
            f"profile ({REFERENCE_ARTIFACT}: {str(error).splitlines()[0]}): it was trained before round "
            "health existed; train and promote a model again to check rounds against it"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise HealthCannotRun(
            f"isolation-risk v{champion.version}: its training profile {REFERENCE_ARTIFACT} is not "
            f"readable ({error})"
        ) from None
    missing = [f for f in champion.features if f not in reference.features]
    if missing:
        raise HealthCannotRun(
            f"isolation-risk v{champion.version}: its training profile lacks {len(missing)} of the "
            f"model's features ({', '.join(missing[:3])}…)"
        )
    return reference


def check_round(
    data_dir: Path,
    as_of: pd.Timestamp,
    champion: Champion,
    recorded_visits: pd.DataFrame | None = None,
    round_table: Callable[[], Path] | None = None,
) -> RoundHealth:
    """`recorded_visits`: the visit outcomes recorded through the service (household_id,
    visited_on, outcome), beside the delivery's own. `round_table`: where the round's features are
    built for its scoring (asked for only once the delivery's inputs are checked), so they are read
    here and not built twice; without it they are built in a temporary folder."""
    data_dir, as_of = Path(data_dir), pd.Timestamp(as_of).normalize()
    reference = champion_reference(champion)
    first = pd.Timestamp(reference.rounds[0])
    if as_of < first:
        raise HealthCannotRun(
            f"--as-of {as_of.date()} is before isolation-risk v{champion.version}'s training window "
            f"(its first training round is {first.date()}): a round is checked against what came before it"
        )
    report = ensure_validated(data_dir)
    validated = Path(report.out_dir)
    findings = delivery_findings(validated, as_of)
    if round_table is not None:
        now = _RoundColumns.read(round_table(), champion)
    else:
        with tempfile.TemporaryDirectory(prefix="anbu-health-") as work:
            path = Path(work) / "round.parquet"
            write_round(data_dir, as_of, path, memory_limit=FEATURE_MEMORY)
            now = _RoundColumns.read(path, champion)
    if now.households == 0:
        raise HealthCannotRun(f"no household is registered on {as_of.date()} in {data_dir}: nothing to check")
    shifts = [shift_of(reference.features[f], now.features[f]) for f in champion.features]
    risk_shift = shift_of(reference.risk, now.risk)
    shares, top = top_shares(pd.Series(now.district), now.risk)
    districts = [  # a district the test round had and this one has not is among them, at 0
        DistrictShare(
            d,
            reference.top_share_by_district.get(d, 0.0),
            shares.get(d, 0.0),
            round(shares.get(d, 0.0) * top),
        )
        for d in sorted(set(shares) | set(reference.top_share_by_district))
    ]
    family_of = {f.name: f.family for f in catalogue.catalogue()}
    findings += drift_findings(shifts, family_of)
    findings += drift_findings([risk_shift], what="served")
    findings += district_findings(districts, top)
    realised = realised_finds(data_dir, as_of, list_visits(recorded_visits))
    findings += realised_findings(realised)
    return RoundHealth(
        as_of=as_of,
        model_version=champion.version,
        model_run_id=champion.run_id,
        reference=reference,
        inputs=input_digests(report),
        findings=in_order(findings),
        shifts=shifts,
        risk=risk_shift,
        top_households=top,
        districts=districts,
        households=now.households,
        realised=realised,
    )


@dataclass(frozen=True)
class _RoundColumns:
    """One round's model features, served risk and district, read once from its built table."""

    households: int
    features: dict[str, np.ndarray]
    risk: np.ndarray
    district: np.ndarray

    @classmethod
    def read(cls, path: Path, champion: Champion) -> _RoundColumns:
        source = pq.ParquetFile(path)
        round_schema().check(source.schema_arrow, path, need=["gu", *champion.features])
        households = source.metadata.num_rows
        # One column-major matrix, filled column by column: each feature is a view of it (no copy
        # per feature), and the model predicts from a block of its rows (made contiguous by the
        # explainer, not stacked column by column here).
        matrix = np.empty((households, len(champion.features)), dtype=np.float64, order="F")
        for column, name in enumerate(champion.features):
            matrix[:, column] = source.read(columns=[name]).column(0).to_numpy()
        features = {name: matrix[:, column] for column, name in enumerate(champion.features)}
        risk = [
            champion.model.predict(matrix[start : start + SCORE_BLOCK])
            for start in range(0, households, SCORE_BLOCK)
        ]
        # As plain strings first: a dictionary column's nulls would come out as another district.
        district = source.read(columns=["gu"]).column(0).cast(pa.string()).to_numpy(zero_copy_only=False)
        district = district.astype(object)
        return cls(households, features, np.concatenate(risk) if risk else np.zeros(0), district)


def district_findings(districts: list[DistrictShare], top: int) -> list[Finding]:
    """A district far more (or far less) often among the top 1 % than on the test round: the list's
    places moving between districts, which is what a team notices first."""
    findings = []
    for d in districts:
        expected = max(d.reference, 0.5 / top) * top  # a district never in the top counts as half a household
        spread = np.sqrt(expected * (1 - min(expected / top, 0.99)))
        z = (d.households - expected) / spread
        ratio = (d.households + 0.5) / (expected + 0.5)
        if abs(z) >= DISTRICT_Z and (ratio >= DISTRICT_RATIO or ratio <= 1 / DISTRICT_RATIO):
            findings.append(
                Finding(
                    Grade.WARNING,
                    "district_share",
                    f"district {d.district}",
                    f"district {d.district}: {d.households:,} of the round's top {TOP_SHARE:.0%} "
                    f"({top:,} households) against {expected:,.1f} expected from the test round "
                    f"({d.now:.1%} against {d.reference:.1%})",
                    abs(float(z)),
                )
            )
    return findings
