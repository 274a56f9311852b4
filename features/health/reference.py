"""What a model learnt from, kept beside it so any later round can be held against it.

Written once at training time (training/train.py logs it with the run as `health/reference.json`)
and read by `anbu health` through the champion's run: the profile of each feature over the
training rounds, and the served risk of the test round with each district's share of its top 1 %.
A profile, not rows: it is small, and it carries no household.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.health.drift import FeatureProfile, profiles

REFERENCE_ARTIFACT = "health/reference.json"
REFERENCE_VERSION = 1
TOP_SHARE = 0.01
"""The top of the list a district's share is watched in: where a city's visits go."""


@dataclass(frozen=True)
class Reference:
    rounds: list[str]
    """The training rounds the feature profiles cover (ISO dates)."""
    test_round: str
    features: dict[str, FeatureProfile]
    risk: FeatureProfile
    """The calibrated risk of the test round's households."""
    top_households: int
    top_share_by_district: dict[str, float]

    @classmethod
    def of(
        cls, train: pd.DataFrame, features: list[str], test: pd.DataFrame, test_risk: np.ndarray
    ) -> Reference:
        rounds = sorted(pd.to_datetime(train["round_date"]).dt.date.astype(str).unique())
        shares, top = top_shares(test["gu"], test_risk)
        return cls(
            rounds=[str(r) for r in rounds],
            test_round=str(pd.Timestamp(test["round_date"].iloc[0]).date()),
            features=profiles(train, features),
            risk=FeatureProfile.of("risk", np.asarray(test_risk, dtype="float64")),
            top_households=top,
            top_share_by_district=shares,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "version": REFERENCE_VERSION,
            "rounds": self.rounds,
            "test_round": self.test_round,
            "features": [p.as_json() for p in self.features.values()],
            "risk": self.risk.as_json(),
            "top_households": self.top_households,
            "top_share_by_district": self.top_share_by_district,
        }

    def text(self) -> str:
        return json.dumps(self.as_json(), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, raw: dict) -> Reference:
        if raw.get("version") != REFERENCE_VERSION:
            raise ValueError(
                f"reference profile version {raw.get('version')!r}, this anbu reads {REFERENCE_VERSION}"
            )
        features = [FeatureProfile.from_json(p) for p in raw["features"]]
        return cls(
            rounds=[str(r) for r in raw["rounds"]],
            test_round=str(raw["test_round"]),
            features={p.feature: p for p in features},
            risk=FeatureProfile.from_json(raw["risk"]),
            top_households=int(raw["top_households"]),
            top_share_by_district={str(k): float(v) for k, v in raw["top_share_by_district"].items()},
        )


def top_shares(district: pd.Series, risk: np.ndarray) -> tuple[dict[str, float], int]:
    """Each district's share of the TOP_SHARE highest risks, and how many households that top holds."""
    top = max(1, round(len(risk) * TOP_SHARE))
    order = np.argsort(-np.asarray(risk, dtype="float64"), kind="stable")[:top]
    counts = pd.Series(np.asarray(district, dtype=object)[order]).value_counts()
    everyone = pd.Series(np.asarray(district, dtype=object)).unique()
    return {str(d): float(counts.get(d, 0)) / top for d in sorted(everyone)}, top
