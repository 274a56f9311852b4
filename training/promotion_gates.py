"""What a promotion decision is made under: the gates' bounds from `experiments/promotion.toml`,
and a named person's override of them.

Both are read by the decision (training/promotion.py) and kept with it in the version's record
(training/promotion_history.py), so they live below both rather than in either.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.config import ConfigError


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
