"""What was decided, kept append-only: every promotion decision on a model version, yes or no.

Promotion is nothing more than moving a registry alias, so it is cheap to undo; what must not be
lost is why. Every decision is appended to the candidate's model version and never rewritten: a
numbered tag per decision (`promotion.history.0001-3f9a2c`, `…0002-…`: its number and a random
suffix), each one JSON record with its verdict, time, reasons, gates, figures, and for an override
who and why.

Why numbered version tags. A tag is written in one call, and `set_model_version_tag` only replaces
a key that is written again; a new key per decision means no later write touches an earlier one.
Tags travel with the version in `get_model_version` and `search_model_versions`, the same on the
embedded SQLite store and on an `mlflow server`, so the service reads its champion's decision in
the call it already makes and `anbu promote --history` reads every version in one. A JSON-lines
artifact would be downloaded, appended to and uploaded whole (a rewrite, and one more path through
the server's artifact proxy); registered-model tags would hold every version's decisions in one bag
that each reader must sort out. A record stays far below the 5,000 characters every registry
backend guarantees for a tag value. Two promotions of one version at once (a scheduled job and a
person's override) read the same earlier decisions and take the same number; the random suffix
keeps both, ordered by number and then by when they were decided, so neither overwrites the other.

A record written by another version of this code (a gate added later, a verdict not known here) is
read leniently: unknown gates are kept as they are, a record that still cannot be read is left out
with a warning naming its tag, so the service starts and `anbu promote` decides whatever the
history holds.

Versions decided by earlier code carry one decision as flat tags (`promotion.decision`, …),
rewritten by each decision; they are read as that version's decision number 0 and left as they are.

The model card's decisions section is a view of this record, written again after each decision.
How a decision is reached, and the alias moved, is training/promotion.py.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import secrets
import tempfile
import warnings
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from training.config import ConfigError
from training.figures import key as figure_key
from training.model_card import CARD, with_decisions
from training.promotion_gates import Override
from training.tracking import MODEL_NAME, StoreUnavailable, configure, require_store, without_progress_bar


class Verdict(StrEnum):
    PROMOTED = "promoted"
    PROMOTED_BY_OVERRIDE = "promoted by override"
    REFUSED = "refused"
    ALREADY_CHAMPION = "already the champion"
    """A plain `anbu promote` of the version that serves: nothing judged, nothing moved."""
    OVERRIDE_ON_CHAMPION = "override on the champion"
    """A named person's override on the version that serves: nothing moved, who and why kept."""


HISTORY_TAG = "promotion.history."
"""Prefix of the numbered tags on a model version, one decision each: `promotion.history.0001`, …"""
_LEGACY_TAG = "promotion."
"""Prefix of the flat tags earlier code wrote, one set per version, rewritten by each decision."""
_ALREADY_CHAMPION = re.compile(r"version \S+ is already the champion")

_GATE_FIGURES = {
    figure_key("model", "survey", measure): label
    for measure, label in (
        ("gain_over_rule", "gain over today's rule"),
        ("gain_over_champion", "gain over the champion"),
        ("curve_gain_over_rule", "gain over today's rule across capacities"),
        ("curve_gain_over_champion", "gain over the champion across capacities"),
        ("ece", "calibration error"),
        ("mean_risk_ratio", "mean risk ÷ share found"),
        ("min_group_recall_ratio", "lowest judged group's recall ratio"),
    )
}
"""The survey figures the gates read, each with the parts below."""
_PARTS = ("", "_low", "_high", "_households", "_share")
_JUDGED, _NOT_JUDGED = (
    figure_key("model", "survey", "groups_judged"),
    figure_key("model", "survey", "groups_not_judged"),
)
_GROUP_COUNTS = (figure_key("model", "survey", "group_recall_ratio_high_min"), _JUDGED, _NOT_JUDGED)


def gate_figures(metrics: dict[str, float]) -> dict[str, float]:
    """The run's figures a decision rests on, under their MLflow metric names (finite ones only)."""
    keys = [f"{name}{part}" for name in _GATE_FIGURES for part in _PARTS]
    return {
        key: float(metrics[key])
        for key in [*keys, *_GROUP_COUNTS]
        if key in metrics and math.isfinite(metrics[key])
    }


class RecordedGates(BaseModel):
    """The gates a decision applied, as kept: every gate optional and unknown ones kept, so a record
    written under other gates (added or dropped later) still reads."""

    model_config = ConfigDict(frozen=True, extra="allow")
    capacity_tolerance: float | None = None
    max_ece: float | None = None
    mean_risk_ratio_band: tuple[float, float] | None = None
    min_group_recall_ratio: float | None = None


class DecisionRecord(BaseModel):
    """One decision on one version as it is kept: what was decided, when, against what, under
    which gates, on which figures, and for an override who and why. Written once, never rewritten."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    number: int = Field(ge=0)
    """Its place among the version's decisions, from 1; 0 for the one decision earlier code kept
    in flat tags."""
    version: str
    verdict: Verdict
    reasons: list[str]
    basis: str = "survey"
    decided_at: datetime
    champion: str | None = None
    """The version serving when it was decided (None: nothing served)."""
    compared_with: str | None = None
    """What the gates compared it with: a champion's version or "today's rule"; None when the
    gates were not applied (the version already served)."""
    gates: RecordedGates | None = None
    """The gates applied; None when none were."""
    figures: dict[str, float] = Field(default_factory=dict)
    override: Override | None = None
    compare_first: bool = False
    nonce: str = Field(default_factory=lambda: secrets.token_hex(3))
    """Keeps two decisions that took the same number at once apart (their tags differ)."""

    @field_validator("gates", mode="before")
    @classmethod
    def _as_recorded(cls, gates: object) -> object:
        return gates.model_dump() if isinstance(gates, BaseModel) else gates

    @property
    def tag(self) -> str:
        return f"{HISTORY_TAG}{self.number:04d}-{self.nonce}"

    @property
    def promote(self) -> bool:
        """The version serves after this decision."""
        return self.verdict is not Verdict.REFUSED

    @property
    def moved_champion(self) -> bool:
        return self.verdict in (Verdict.PROMOTED, Verdict.PROMOTED_BY_OVERRIDE)

    @property
    def when(self) -> str:
        return self.decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    @property
    def against(self) -> str | None:
        if self.compared_with is None:
            return None
        return (
            self.compared_with
            if self.compared_with == "today's rule"
            else f"champion version {self.compared_with}"
        )

    @property
    def gates_summary(self) -> str:
        if self.gates is None:
            return "none applied"
        gates = self.gates
        parts = []
        if gates.capacity_tolerance is not None:
            parts.append(f"tolerance against a champion {gates.capacity_tolerance}")
        if gates.max_ece is not None:
            parts.append(f"calibration error at most {gates.max_ece}")
        if gates.mean_risk_ratio_band is not None:
            low, high = gates.mean_risk_ratio_band
            parts.append(f"mean risk ÷ share found within {low}–{high}")
        if gates.min_group_recall_ratio is not None:
            parts.append(f"a judged group's recall ratio at least {gates.min_group_recall_ratio}")
        parts += [f"{name} {value}" for name, value in (gates.model_extra or {}).items()]
        return "; ".join(parts) or "none recorded"

    @property
    def figures_summary(self) -> list[str]:
        """Each figure the gates read as `name value [low, high]`, with its survey households."""
        shown = []
        for key, name in _GATE_FIGURES.items():
            figure = {part: self.figures.get(f"{key}{part}") for part in _PARTS}
            if figure[""] is None:
                continue
            digits = 4 if key.endswith("ece") else 3
            text = f"{name} {figure['']:.{digits}f}"
            if figure["_low"] is not None and figure["_high"] is not None:
                text += f" [{figure['_low']:.{digits}f}, {figure['_high']:.{digits}f}]"
            if figure["_households"] is not None:
                text += f", {int(figure['_households']):,} survey households"
            if figure["_share"] is not None:
                text += f", at {figure['_share']:.1%} capacity"
            shown.append(text)
        if _JUDGED in self.figures:
            shown.append(
                f"{int(self.figures[_JUDGED])} groups judged, {int(self.figures.get(_NOT_JUDGED, 0))} not judged"
            )
        return shown

    def served(self) -> dict[str, str]:
        """The flat form the service's `/model` shows, with the keys the flat tags had."""
        shown = {
            "decision": self.verdict.value,
            "reasons": "; ".join(self.reasons),
            "basis": self.basis,
            "decided_at": self.decided_at.isoformat(timespec="seconds"),
        }
        if self.gates is not None:
            shown["gates"] = self.gates.model_dump_json()
        if self.compared_with is not None:
            shown["compared_with"] = self.compared_with
        if self.figures:
            shown["figures"] = json.dumps(self.figures)
        if self.override is not None and self.verdict is not Verdict.PROMOTED:
            # An override the gates did not need is in the record, not in what decided the service.
            shown["override_by"] = self.override.by
            shown["override_reason"] = self.override.reason
        return shown


def history(version: str, tags: dict[str, str]) -> list[DecisionRecord]:
    """Every decision on one version, oldest first, read from its tags: the one earlier code kept
    in flat tags (if any, numbered 0; all later ones are numbered), then the numbered ones."""
    records = []
    for key, value in (tags or {}).items():
        if key.startswith(HISTORY_TAG):
            try:
                records.append(DecisionRecord.model_validate_json(value))
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                warnings.warn(
                    f"{MODEL_NAME} version {version}: tag {key} cannot be read as a promotion decision "
                    f"({where}: {first['msg']}); left out",
                    stacklevel=2,
                )
    legacy = _legacy(version, tags or {})
    ordered = sorted(records, key=lambda record: (record.number, record.decided_at))
    return ([legacy] if legacy else []) + ordered


def _legacy(version: str, tags: dict[str, str]) -> DecisionRecord | None:
    """The decision earlier code wrote as flat `promotion.*` tags, read as a record. Its reasons
    were joined with "; " and some contain "; ", so they are kept as one line. A re-promote of the
    champion overwrote the real decision with "promoted" and "version N is already the champion";
    it is read as what it was."""
    flat = {
        key.removeprefix(_LEGACY_TAG): value
        for key, value in tags.items()
        if key.startswith(_LEGACY_TAG) and not key.startswith(HISTORY_TAG)
    }
    if "decision" not in flat or "decided_at" not in flat:
        return None
    reasons = flat.get("reasons", "")
    if flat["decision"] not in {known.value for known in Verdict}:
        warnings.warn(
            f"{MODEL_NAME} version {version}: promotion.decision {flat['decision']!r} is not a known verdict; left out",
            stacklevel=2,
        )
        return None
    verdict = Verdict(flat["decision"])
    if _ALREADY_CHAMPION.fullmatch(reasons):
        verdict = Verdict.ALREADY_CHAMPION
    compared = flat.get("compared_with")
    try:
        gates = RecordedGates.model_validate_json(flat["gates"]) if "gates" in flat else None
    except ValidationError:
        gates = None
    return DecisionRecord(
        number=0,
        nonce="flat",  # never written as a tag of its own; fixed, so two readings are equal
        version=version,
        verdict=verdict,
        reasons=[reasons] if reasons else [],
        basis=flat.get("basis", "survey"),
        decided_at=_aware(datetime.fromisoformat(flat["decided_at"])),
        champion=None if compared in (None, "today's rule") else compared,
        compared_with=compared,
        gates=gates,
        # Earlier code never removed an override's tags, so a later decision on the same version
        # kept them: they belong to the decision only when it was an override.
        override=(
            Override(flat["override_by"], flat.get("override_reason") or "(not recorded)")
            if "override_by" in flat and verdict is Verdict.PROMOTED_BY_OVERRIDE
            else None
        ),
    )


def _aware(moment: datetime) -> datetime:
    """Earlier code wrote UTC with its offset; a time without one is read as UTC, not local."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def made_champion(records: list[DecisionRecord]) -> DecisionRecord | None:
    """The decision the service shows for its champion: the latest one that moved the alias to the
    version. A version given the alias by hand, or whose flat tags were overwritten by earlier code,
    has none; then its latest decision, so nothing recorded is hidden."""
    moved = [record for record in records if record.moved_champion]
    return (moved or records or [None])[-1]


def served_promotion(version: str, tags: dict[str, str]) -> dict[str, str]:
    """What the service shows as its champion's promotion (empty when nothing is recorded)."""
    record = made_champion(history(version, tags))
    return record.served() if record is not None else {}


def next_number(records: list[DecisionRecord]) -> int:
    """The number a version's next decision is kept under: one past its highest so far, so a
    version decided only by earlier code (its one decision numbered 0) starts at 1."""
    return max((record.number for record in records), default=0) + 1


def append(client: MlflowClient, record: DecisionRecord) -> None:
    """Keep one decision on its version under a tag of its own; no earlier decision's tag is written."""
    client.set_model_version_tag(MODEL_NAME, record.version, record.tag, record.model_dump_json())


def decision_history(version: str | None = None) -> list[DecisionRecord]:
    """Every recorded decision, oldest first: on one version, or on all of them. Each version's
    own decisions stay in the order they were numbered; versions interleave by when they were
    decided. Reads only: the store must exist (it is never created here)."""
    try:
        require_store()
    except StoreUnavailable as error:
        raise ConfigError(str(error)) from None
    client = configure()
    if version is not None:
        versions = [registered_version(client, version)]
    else:
        versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    per_version = [history(str(v.version), v.tags) for v in sorted(versions, key=lambda v: int(v.version))]
    return list(heapq.merge(*per_version, key=lambda record: record.decided_at))


def registered_version(client: MlflowClient, version: str) -> ModelVersion:
    """One registered version, or an error that names the version asked for."""
    try:
        return client.get_model_version(MODEL_NAME, version)
    except MlflowException:
        raise ConfigError(f"{MODEL_NAME} has no version {version}") from None


def refresh_card(client: MlflowClient, run_id: str, records: list[DecisionRecord]) -> None:
    """Write the version's decisions into the model card its run logged. The card is a view of
    the record (rewritten whole each time); the tags are the record, so a card that cannot be
    written is a warning, not a failed decision. A run without a card is left as it is."""
    try:
        if CARD not in {artifact.path for artifact in client.list_artifacts(run_id)}:
            return
        with tempfile.TemporaryDirectory() as folder, without_progress_bar():
            card = Path(download_artifacts(run_id=run_id, artifact_path=CARD, dst_path=folder))
            card.write_text(with_decisions(card.read_text(encoding="utf-8"), records), encoding="utf-8")
            client.log_artifact(run_id, str(card))
    except (MlflowException, OSError) as error:
        warnings.warn(
            f"the decision is recorded on version {records[-1].version}, but the model card of run "
            f"{run_id} could not be rewritten ({error}); `anbu promote --history` shows every decision",
            stacklevel=2,
        )
