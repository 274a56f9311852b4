"""Moving the `champion` alias: only to a candidate the survey shows is better than what serves now.

Promotion is nothing more than moving a registry alias, so it is cheap to undo; what must not be
lost is why. Every decision, yes or no, is written onto the candidate's model version as tags.

The gates read only what a real city has: the test round's survey estimates with their 90 %
intervals (training/evaluation.py), never a synthetic city's truth. Each gate asks what the
evidence shows, in the direction that protects the people on the lists:

- a first model must be *shown* to find more than today's rule (the lower end of the paired
  difference above zero), because it replaces a rule everybody knows;
- a later model must be *shown* not worse than the champion by more than the tolerance, compared
  on the same survey households; a tie keeps the champion;
- it is refused when its calibration or a group's recall is *shown* out of bounds (the whole
  interval on the wrong side); a group the survey found too few positives in is reported as not
  judged, with its count.

A refused version can still be promoted by a named person with a stated reason (`--override`);
that, who and why, is recorded on the version and shown by the service.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.config import ConfigError
from training.tracking import CHAMPION, MODEL_NAME, configure


class PromotionGates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    capacity_tolerance: float = Field(ge=0, le=1)
    max_ece: float = Field(gt=0, le=1)
    mean_risk_ratio_band: tuple[float, float] = (0.85, 1.15)
    min_group_recall_ratio: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _band(self) -> PromotionGates:
        low, high = self.mean_risk_ratio_band
        if not 0 < low <= 1 <= high:
            raise ValueError(f"mean_risk_ratio_band must contain 1.0, got {list(self.mean_risk_ratio_band)}")
        return self


def load_gates(path: Path) -> PromotionGates:
    try:
        return PromotionGates.model_validate(tomllib.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such gates file") from None
    except (tomllib.TOMLDecodeError, ValidationError) as error:
        raise ConfigError(f"{path}: {error}") from None


@dataclass(frozen=True)
class Override:
    """A person promoting a refused version anyway, and why."""

    by: str
    reason: str

    def __post_init__(self) -> None:
        if not self.by.strip():
            raise ConfigError("--by: name the person who overrides the gates")
        if not self.reason.strip():
            raise ConfigError("--reason: say why the gates are overridden")


@dataclass(frozen=True)
class Decision:
    version: str
    promote: bool
    reasons: list[str]
    """Why it was refused (every failed gate), or what it passed on."""
    basis: str
    override: Override | None = None
    champion: str | None = None
    """The version serving when the decision was taken (None: nothing serves yet)."""

    @property
    def verdict(self) -> str:
        if self.override is not None and self.promote:
            return "promoted by override"
        return "promoted" if self.promote else "refused"


def _value(metrics: dict[str, float], key: str) -> float:
    value = metrics.get(key)
    return float("nan") if value is None else float(value)


def _shown(metrics: dict[str, float], key: str, digits: int = 3) -> str:
    """`value [low, high]` with the survey households behind it, as the reasons quote figures."""
    value, low, high = (_value(metrics, f"{key}{part}") for part in ("", "_low", "_high"))
    behind = metrics.get(f"{key}_households")
    count = f", {int(behind):,} survey households" if behind is not None else ""
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}{count}]"


def decide(
    candidate: dict[str, float],
    tags: dict[str, str],
    champion_version: str | None,
    gates: PromotionGates,
    version: str,
) -> Decision:
    """Apply the gates to a candidate's survey estimates; pure, so every branch is testable."""
    if "model_survey_precision_at_capacity" not in candidate:
        why = tags.get("survey_evaluation", "the run has no survey estimates")
        return Decision(version, False, [f"nothing to judge on: {why}"], "survey")
    failures: list[str] = []
    passes: list[str] = []
    _against_current(candidate, tags, champion_version, gates, failures, passes)
    ece_low = _value(candidate, "model_survey_ece_low")
    if ece_low > gates.max_ece:
        failures.append(
            f"calibration error {_shown(candidate, 'model_survey_ece', 4)} is above the bound {gates.max_ece} "
            "even at the low end of its interval"
        )
    else:
        passes.append(f"calibration error {_shown(candidate, 'model_survey_ece', 4)} (bound {gates.max_ece})")
    low_band, high_band = gates.mean_risk_ratio_band
    ratio_low, ratio_high = (
        _value(candidate, "model_survey_mean_risk_ratio_low"),
        _value(candidate, "model_survey_mean_risk_ratio_high"),
    )
    if ratio_low > high_band or ratio_high < low_band:
        failures.append(
            f"mean served risk ÷ share found {_shown(candidate, 'model_survey_mean_risk_ratio')} lies "
            f"outside {low_band}–{high_band}: the scores do not mean what visits find"
        )
    else:
        passes.append(f"mean served risk ÷ share found {_shown(candidate, 'model_survey_mean_risk_ratio')}")
    _groups(candidate, tags, gates, failures, passes)
    return Decision(version, not failures, failures or passes, "survey")


def _against_current(
    candidate: dict[str, float],
    tags: dict[str, str],
    champion_version: str | None,
    gates: PromotionGates,
    failures: list[str],
    passes: list[str],
) -> None:
    """Better than today's rule (first model), or not worse than the champion (later ones)."""
    if champion_version is None:
        key = "model_survey_gain_over_rule"
        gain, share = _shown(candidate, key), _value(candidate, f"{key}_share")
        if not _value(candidate, f"{key}_low") > 0:
            failures.append(
                f"not shown to beat today's rule: found more often by {gain} at {share:.1%} capacity "
                "(the interval reaches zero)"
            )
        else:
            passes.append(f"no champion yet; beats today's rule by {gain} at {share:.1%} capacity")
        return
    compared = tags.get("compared_with_champion")
    if compared != champion_version:
        failures.append(
            f"the run was compared with {'version ' + compared if compared else 'no champion'}, but the "
            f"champion is version {champion_version}: run `anbu promote --data DIR` to compare them on the "
            "test round's survey households"
        )
        return
    key = "model_survey_gain_over_champion"
    gain, share = _shown(candidate, key), _value(candidate, f"{key}_share")
    if not _value(candidate, f"{key}_low") >= -gates.capacity_tolerance:
        failures.append(
            f"not shown within {gates.capacity_tolerance} of champion version {champion_version}: found "
            f"more often by {gain} at {share:.1%} capacity (paired)"
        )
    else:
        passes.append(f"against champion version {champion_version}: {gain} at {share:.1%} capacity (paired)")


def _groups(
    candidate: dict[str, float],
    tags: dict[str, str],
    gates: PromotionGates,
    failures: list[str],
    passes: list[str],
) -> None:
    judged = int(_value(candidate, "model_survey_groups_judged") or 0)
    not_judged = int(_value(candidate, "model_survey_groups_not_judged") or 0)
    counts = f"{judged} group{'' if judged == 1 else 's'} judged, {not_judged} not judged (too few survey positives)"
    if judged == 0:
        passes.append(f"fairness: no group has enough survey positives to judge; {counts}")
        return
    highest_of_lowest = _value(candidate, "model_survey_group_recall_ratio_high_min")
    lowest = tags.get("lowest_group_recall_survey", "?")
    if highest_of_lowest < gates.min_group_recall_ratio:
        failures.append(
            f"a group's recall is below {gates.min_group_recall_ratio} of the city's even at the top of "
            f"its interval ({highest_of_lowest:.2f}); lowest {lowest} "
            f"{_shown(candidate, 'model_survey_min_group_recall_ratio', 2)}; {counts}"
        )
    else:
        passes.append(
            f"fairness: lowest {lowest} {_shown(candidate, 'model_survey_min_group_recall_ratio', 2)}; {counts}"
        )


def promote(version: str | None, gates: PromotionGates, override: Override | None = None) -> Decision:
    """Decide on a registered version (default: the newest) and move `champion` if it passes, or
    if a named person overrides a refusal."""
    client = configure()
    candidate = _version(client, version)
    champion = _champion(client)
    version = str(candidate.version)
    run = client.get_run(candidate.run_id)
    if champion is not None and str(champion.version) == version:
        decision = Decision(version, True, [f"version {version} is already the champion"], "survey")
    else:
        decision = decide(
            run.data.metrics, run.data.tags, str(champion.version) if champion else None, gates, version
        )
    if not decision.promote and override is not None:
        decision = Decision(version, True, decision.reasons, decision.basis, override)
    decision = replace(decision, champion=str(champion.version) if champion else None)
    tags = {
        "promotion.decision": decision.verdict,
        "promotion.reasons": "; ".join(decision.reasons),
        "promotion.basis": decision.basis,
        "promotion.decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promotion.gates": gates.model_dump_json(),
        "promotion.compared_with": str(champion.version) if champion else "today's rule",
    }
    if decision.override is not None:
        tags["promotion.override_by"] = decision.override.by
        tags["promotion.override_reason"] = decision.override.reason
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    if decision.promote:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    return decision


def newest_version() -> str:
    """The most recently registered version."""
    versions = configure().search_model_versions(f"name = '{MODEL_NAME}'")
    if not versions:
        raise ConfigError(f"no versions of {MODEL_NAME} are registered yet; run `anbu train` first")
    return str(max(int(v.version) for v in versions))


def _version(client: MlflowClient, version: str | None):
    if version is None:
        version = newest_version()
    try:
        return client.get_model_version(MODEL_NAME, version)
    except MlflowException:
        raise ConfigError(f"{MODEL_NAME} has no version {version}") from None


def _champion(client: MlflowClient):
    try:
        return client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException:
        return None
