"""Moving the `champion` alias: only to a candidate that is not worse, is calibrated, and is fair.

Promotion is nothing more than moving a registry alias, so it is cheap to undo; what must not be
lost is why. Every decision, yes or no, is written onto the candidate's model version as tags.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training.config import ConfigError
from training.tracking import CHAMPION, MODEL_NAME, configure


class PromotionGates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    capacity_tolerance: float = Field(ge=0, le=1)
    max_ece: float = Field(gt=0, le=1)
    min_group_recall_ratio: float = Field(ge=0, le=1)


def load_gates(path: Path) -> PromotionGates:
    try:
        return PromotionGates.model_validate(tomllib.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such gates file") from None
    except (tomllib.TOMLDecodeError, ValidationError) as error:
        raise ConfigError(f"{path}: {error}") from None


@dataclass(frozen=True)
class Decision:
    version: str
    promote: bool
    reasons: list[str]
    basis: str


def _basis(metrics: dict[str, float]) -> str:
    return "truth" if "model_truth_precision_at_capacity" in metrics else "visits"


def decide(
    candidate: dict[str, float], champion: dict[str, float] | None, gates: PromotionGates, version: str
) -> Decision:
    """Apply the gates to a candidate's test-round metrics; pure, so every branch is testable."""
    basis = _basis(candidate)
    precision = candidate[f"model_{basis}_precision_at_capacity"]
    ece = candidate[f"model_{basis}_ece"]
    fairness = candidate.get(f"model_{basis}_min_group_recall_ratio", float("nan"))
    failures: list[str] = []
    passes: list[str] = []
    if champion is not None:
        held = champion.get(f"model_{basis}_precision_at_capacity")
        if held is None:
            failures.append(f"the champion has no {basis} precision at capacity to compare with")
        elif precision < held - gates.capacity_tolerance:
            failures.append(
                f"precision at capacity {precision:.3f} is below the champion's {held:.3f} "
                f"minus the tolerance {gates.capacity_tolerance}"
            )
        else:
            passes.append(f"precision at capacity {precision:.3f} vs champion {held:.3f}")
    else:
        passes.append(f"no champion yet; precision at capacity {precision:.3f}")
    if not ece <= gates.max_ece:
        failures.append(f"calibration error {ece:.4f} is above the bound {gates.max_ece}")
    else:
        passes.append(f"calibration error {ece:.4f}")
    if fairness != fairness:  # NaN: the run never measured it
        failures.append(f"the run recorded no model_{basis}_min_group_recall_ratio, so fairness is unknown")
    elif fairness < gates.min_group_recall_ratio:
        failures.append(f"lowest group recall ratio {fairness:.2f} is below {gates.min_group_recall_ratio}")
    else:
        passes.append(f"lowest group recall ratio {fairness:.2f}")
    return Decision(version, not failures, failures or passes, basis)


def promote(version: str | None, gates: PromotionGates) -> Decision:
    """Decide on a registered version (default: the newest) and move `champion` if it passes."""
    client = configure()
    versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    if not versions:
        raise ConfigError(f"no versions of {MODEL_NAME} are registered yet; run `anbu train` first")
    if version is None:
        version = str(max(int(v.version) for v in versions))
    try:
        candidate = client.get_model_version(MODEL_NAME, version)
    except MlflowException:
        raise ConfigError(f"{MODEL_NAME} has no version {version}") from None
    champion = _champion(client)
    champion_metrics = (
        client.get_run(champion.run_id).data.metrics
        if champion and str(champion.version) != version
        else None
    )
    decision = decide(client.get_run(candidate.run_id).data.metrics, champion_metrics, gates, version)
    tags = {
        "promotion.decision": "promoted" if decision.promote else "refused",
        "promotion.reasons": "; ".join(decision.reasons),
        "promotion.basis": decision.basis,
        "promotion.decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promotion.gates": gates.model_dump_json(),
        "promotion.compared_with": str(champion.version) if champion else "none",
    }
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    if decision.promote:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    return decision


def _champion(client: MlflowClient):
    try:
        return client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException:
        return None
