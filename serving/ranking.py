"""The list a team can visit: a district's (or dong's) highest risks, sized to its capacity.

Planners asked for three things beyond the order: reasons, what changed since the last round, and
that their own decisions stick. So each row says whether it is new on the list, risen or fallen
since the previous round and whether its reasons changed; households a planner included are on
the list whatever the model says (taking the places of the lowest model picks), and excluded ones
are off it, each with the planner's reason shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from serving.records import Override
from serving.scoring import BAND_KO

RISK_CHANGE = 0.02
"""A change in calibrated risk smaller than this is reported as steady."""

LIST_COLUMNS = [
    "list_rank",
    "household_id",
    "gu",
    "dong_code",
    "risk",
    "band",
    "band_ko",
    "percentile",
    "change",
    "previous_risk",
    "reasons_changed",
    "override",
    "override_reason",
    "reason_1_ko",
    "reason_2_ko",
    "reason_3_ko",
    "reason_4_ko",
    "reason_1_en",
    "reason_2_en",
    "reason_3_en",
    "reason_4_en",
    "reason_codes",
    "model_version",
]


@dataclass(frozen=True)
class OutreachList:
    rows: pd.DataFrame
    left: pd.DataFrame
    """On the previous round's list for the same area and capacity, not on this one."""
    households_in_area: int
    round_date: str
    previous_round: str | None


def _area(scored: pd.DataFrame, gu: str, dong: str | None) -> pd.DataFrame:
    inside = scored["gu"] == gu
    if dong:
        inside &= scored["dong_code"] == dong
    area = scored if inside.all() else scored[inside]
    return area if area["rank"].is_monotonic_increasing else area.sort_values("rank")


def _model_list(area: pd.DataFrame, capacity: int, overrides: dict[str, Override]) -> pd.DataFrame:
    excluded = {h for h, o in overrides.items() if o.action == "exclude"}
    included = [h for h, o in overrides.items() if o.action == "include"]
    forced = area[area["household_id"].isin(included)] if included else area.head(0)
    # Each override removes at most one row from the top of the area, so the model's picks lie
    # within its first capacity + len(overrides) rows: a district is never copied whole.
    top = area.head(capacity + len(overrides))
    rest = top[~top["household_id"].isin(excluded) & ~top["household_id"].isin(included)]
    picked = pd.concat([forced, rest.head(max(capacity - len(forced), 0))])
    return picked.sort_values("rank")


def outreach_list(
    scored: pd.DataFrame,
    previous: pd.DataFrame | None,
    gu: str,
    dong: str | None,
    capacity: int,
    overrides: dict[str, Override],
    previous_overrides: dict[str, Override] | None = None,
) -> OutreachList:
    """The ranked list with changes; `scored`/`previous` are whole scored rounds (serving/scoring)."""
    area = _area(scored, gu, dong)
    picked = _model_list(area, capacity, overrides).reset_index(drop=True)
    picked.insert(0, "list_rank", np.arange(1, len(picked) + 1))
    picked["band_ko"] = picked["band"].map(BAND_KO)
    picked["override"] = picked["household_id"].map(lambda h: overrides[h].action if h in overrides else "")
    picked["override_reason"] = picked["household_id"].map(
        lambda h: overrides[h].reason if h in overrides else ""
    )
    left = pd.DataFrame(columns=["household_id", "previous_risk", "now_risk", "why"])
    if previous is None or previous.empty:
        picked["change"] = "new"
        picked["previous_risk"] = np.nan
        picked["reasons_changed"] = False
    else:
        previous_area = _area(previous, gu, dong)
        previous_list = set(_model_list(previous_area, capacity, previous_overrides or {})["household_id"])
        # Only the listed households and those who left are looked up: a district of 300,000
        # households must not be re-indexed for every request.
        before = previous[previous["household_id"].isin(picked["household_id"])].set_index("household_id")
        prior_risk = picked["household_id"].map(before["risk"])
        delta = picked["risk"] - prior_risk
        picked["previous_risk"] = prior_risk
        picked["change"] = np.select(
            [
                ~picked["household_id"].isin(previous_list),
                delta >= RISK_CHANGE,
                delta <= -RISK_CHANGE,
            ],
            ["new", "risen", "fallen"],
            "steady",
        )
        prior_codes = picked["household_id"].map(before["reason_codes"])
        picked["reasons_changed"] = prior_codes.notna() & (
            prior_codes.fillna("").map(lambda c: frozenset(c.split("|")))
            != picked["reason_codes"].fillna("").map(lambda c: frozenset(c.split("|")))
        )
        gone = sorted(previous_list - set(picked["household_id"]))
        was = previous_area[previous_area["household_id"].isin(gone)].set_index("household_id")["risk"]
        still_here = area[area["household_id"].isin(gone)].set_index("household_id")["risk"]
        left = pd.DataFrame(
            {
                "household_id": gone,
                "previous_risk": [float(was.get(h, np.nan)) for h in gone],
                "now_risk": [float(still_here.get(h, np.nan)) for h in gone],
                "why": [
                    "excluded by a planner"
                    if h in overrides and overrides[h].action == "exclude"
                    else ("lower risk" if h in still_here.index else "no longer registered here")
                    for h in gone
                ],
            }
        )
    for column in LIST_COLUMNS:
        if column not in picked.columns:
            picked[column] = None
    return OutreachList(
        rows=picked[LIST_COLUMNS],
        left=left,
        households_in_area=len(area),
        round_date=str(pd.Timestamp(scored["round_date"].iloc[0]).date()) if len(scored) else "",
        previous_round=(
            str(pd.Timestamp(previous["round_date"].iloc[0]).date())
            if previous is not None and len(previous)
            else None
        ),
    )
