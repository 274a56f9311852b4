"""The lists a team can visit: a district's (or dong's) highest risks, sized to its capacity.

Two lists share the capacity, split by the planner (default: all to discovery): the discovery
list holds the households nobody has found yet, by risk; the re-check list holds the ones
outreach already knows (serving/records/known.py), by risk plus how much it rose since the last round.
Each row says which list it is on and why.

Planners asked for three things beyond the order: reasons, what changed since the last round, and
that their own decisions stick. So each row says whether it is new on the list, risen or fallen
since the previous round and whether its reasons changed; households a planner included are on
the list whatever the model says (taking the places of the lowest model picks), and excluded ones
are off it, each with the planner's reason shown. An exclusion stands in later rounds until a
planner ends it (serving/records/store.py: standing_decisions); the area's excluded households are
listed beside the lists (`excluded`: who excluded them, when, for which round, why), so none comes
back as new with nobody remembering why it was left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa

from features.output_schema import OutputSchema
from serving.lists.dong_choice import dong_name_column
from serving.lists.expected import ExpectedFinds, expected_finds
from serving.records.known import KnownHouseholds
from serving.records.store import Override
from serving.scoring.households import BAND_KO
from serving.scoring.reasons import REASONS_TYPE

RISK_CHANGE = 0.02
"""A change in calibrated risk smaller than this is reported as steady."""

DISCOVERY, RECHECK = "discovery", "recheck"

LIST_SCHEMA = OutputSchema(
    "outreach list",
    (
        ("list", "string"),
        ("list_rank", "integer"),
        ("household_id", "string"),
        ("gu", "string"),
        ("dong_code", "string"),
        ("dong_name", "string"),
        ("risk", "float"),
        ("band", "string"),
        ("band_ko", "string"),
        ("percentile", "float"),
        ("change", "string"),
        ("previous_risk", "float"),
        ("risk_rise", "float"),
        ("reasons_changed", "boolean"),
        ("list_why_ko", "string"),
        ("list_why_en", "string"),
        ("override", "string"),
        ("override_reason", "string"),
        ("reasons", REASONS_TYPE),
        ("model_version", "string"),
    ),
)
"""A team's list as the API, the planner page and the exports read it."""
LIST_COLUMNS = LIST_SCHEMA.names


@dataclass(frozen=True)
class OutreachList:
    rows: pd.DataFrame
    """The discovery list, then the re-check list, each ranked from 1 (`list`, `list_rank`)."""
    left: pd.DataFrame
    """On the previous round's lists for the same area and capacities, on neither of these."""
    households_in_area: int
    round_date: str
    previous_round: str | None
    discovery_capacity: int = 0
    recheck_capacity: int = 0
    known_in_area: int = 0
    excluded: pd.DataFrame | None = None
    """The area's households a planner's standing exclusion keeps off the lists (EXCLUDED_COLUMNS)."""
    known_window_days: int | None = None
    """How long a finding kept a household known for these lists (set by serving/lists/builder.py)."""

    def of(self, kind: str) -> pd.DataFrame:
        return self.rows[self.rows["list"] == kind]

    @cached_property
    def expected(self) -> ExpectedFinds:
        """What the list's calibrated risks expect its visits to find, with a 90 % range."""
        return expected_finds(self.rows["risk"].to_numpy(dtype="float64"))


def _area(scored: pd.DataFrame, gu: str, dong: str | None) -> pd.DataFrame:
    inside = scored["gu"] == gu
    if dong:
        inside &= scored["dong_code"] == dong
    area = scored if inside.all() else scored[inside]
    return area if area["rank"].is_monotonic_increasing else area.sort_values("rank")


def _forced(pool: pd.DataFrame, overrides: dict[str, Override]) -> pd.DataFrame:
    included = [h for h, o in overrides.items() if o.action == "include"]
    return pool[pool["household_id"].isin(included)] if included else pool.head(0)


def _model_list(
    pool: pd.DataFrame, forced: pd.DataFrame, places: int, overrides: dict[str, Override]
) -> pd.DataFrame:
    """`forced` (the planners' includes in `pool`) and the model's picks from `pool` (already in
    list order) up to `places` in all; excluded households are never picked."""
    excluded = {h for h, o in overrides.items() if o.action == "exclude"}
    # Each override removes at most one row from the top of the pool, so the model's picks lie
    # within its first places + len(overrides) rows: a district is never copied whole.
    top = pool.head(places + len(overrides))
    rest = top[~top["household_id"].isin(excluded) & ~top["household_id"].isin(set(forced["household_id"]))]
    picked = pd.concat([forced, rest.head(max(places - len(forced), 0))])
    return picked.sort_values("_order" if "_order" in picked.columns else "rank", kind="stable")


def _recheck_order(known: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Known households by risk plus its rise since the last round (a fall counts as none): of two
    households at the same risk, the one whose risk climbed is re-checked first."""
    rise = pd.Series(0.0, index=known.index)
    if previous is not None and len(known):
        before = previous[previous["household_id"].isin(known["household_id"])].set_index("household_id")[
            "risk"
        ]
        rise = (known["risk"] - known["household_id"].map(before)).clip(lower=0).fillna(0.0)
    ordered = known.assign(_priority=known["risk"] + rise).sort_values(
        ["_priority", "rank"], ascending=[False, True]
    )
    return ordered.assign(_order=np.arange(len(ordered)))


@dataclass(frozen=True)
class _Lists:
    area: pd.DataFrame
    discovery: pd.DataFrame
    recheck: pd.DataFrame
    known_in_area: int
    known_ids: frozenset[str]


def _lists(
    scored: pd.DataFrame,
    gu: str,
    dong: str | None,
    discovery_capacity: int,
    recheck_capacity: int,
    overrides: dict[str, Override],
    known: KnownHouseholds | None,
    previous: pd.DataFrame | None,
) -> _Lists:
    """The area's two lists. A planner's include is always listed, on the list its household
    belongs to; includes beyond that list's part of the capacity take places from the other
    list's model picks, so the team's capacity holds (unless the includes alone exceed it)."""
    area = _area(scored, gu, dong)
    is_known = (
        known.mask(area["household_id"]).to_numpy()
        if known is not None and known.households
        else np.zeros(len(area), dtype=bool)
    )
    known_rows = area[is_known]
    # The discovery pool is the area's not-known rows in rank order; only its head (and the
    # includes) is ever read, so it is picked by position, never copied whole.
    unknown_positions = np.flatnonzero(~is_known)
    head = area.take(unknown_positions[: discovery_capacity + recheck_capacity + len(overrides)])
    forced_discovery = _forced(area, overrides)
    forced_discovery = forced_discovery[
        ~forced_discovery["household_id"].isin(set(known_rows["household_id"]))
    ]
    recheck_pool = _recheck_order(known_rows, previous) if len(known_rows) else area.head(0)
    forced_recheck = _forced(recheck_pool, overrides)
    discovery_places = discovery_capacity - max(len(forced_recheck) - recheck_capacity, 0)
    recheck_places = recheck_capacity - max(len(forced_discovery) - discovery_capacity, 0)
    discovery = _model_list(head, forced_discovery, discovery_places, overrides)
    recheck = _model_list(recheck_pool, forced_recheck, recheck_places, overrides)
    return _Lists(
        area,
        discovery,
        recheck.drop(columns=["_priority", "_order"], errors="ignore"),
        int(is_known.sum()),
        frozenset(known_rows["household_id"]),
    )


def outreach_list(
    scored: pd.DataFrame,
    previous: pd.DataFrame | None,
    gu: str,
    dong: str | None,
    capacity: int,
    overrides: dict[str, Override],
    previous_overrides: dict[str, Override] | None = None,
    known: KnownHouseholds | None = None,
    previous_known: KnownHouseholds | None = None,
    recheck_capacity: int = 0,
) -> OutreachList:
    """The two lists with changes; `scored`/`previous` are whole scored rounds (serving/scoring/households).

    `capacity` is the team's in all, `recheck_capacity` (at most that) the part for re-checks."""
    if not 0 <= recheck_capacity <= capacity:
        raise ValueError(f"recheck_capacity {recheck_capacity} must lie between 0 and capacity {capacity}")
    discovery_capacity = capacity - recheck_capacity
    if previous is not None and previous.empty:
        previous = None
    before_round = None
    if previous is not None:
        if _predates_the_split(previous, scored):
            # Served before there were two lists: planners saw one list of the whole capacity.
            before_round = _lists(previous, gu, dong, capacity, 0, previous_overrides or {}, None, None)
        else:
            # Ordered by risk alone: the rise it was ordered by needs the round before it, which
            # the service does not keep.
            before_round = _lists(
                previous,
                gu,
                dong,
                discovery_capacity,
                recheck_capacity,
                previous_overrides or {},
                previous_known,
                None,
            )
    now = _lists(scored, gu, dong, discovery_capacity, recheck_capacity, overrides, known, previous)
    area, discovery, recheck = now.area, now.discovery, now.recheck
    parts = []
    for kind, picked in ((DISCOVERY, discovery), (RECHECK, recheck)):
        picked = picked.reset_index(drop=True)
        picked.insert(0, "list_rank", np.arange(1, len(picked) + 1))
        picked.insert(0, "list", kind)
        parts.append(picked)
    picked = pd.concat(parts, ignore_index=True)
    picked["band_ko"] = picked["band"].map(BAND_KO)
    picked["dong_name"] = dong_name_column(picked["dong_code"])
    picked["override"] = picked["household_id"].map(lambda h: overrides[h].action if h in overrides else "")
    picked["override_reason"] = picked["household_id"].map(
        lambda h: overrides[h].reason if h in overrides else ""
    )
    _why(picked, known)
    left = pd.DataFrame(columns=["household_id", "previous_risk", "now_risk", "why"])
    if before_round is None:
        picked["change"] = "new"
        picked["previous_risk"] = np.nan
        picked["risk_rise"] = np.nan
        picked["reasons_changed"] = False
    else:
        was_listed = {
            DISCOVERY: set(before_round.discovery["household_id"]),
            RECHECK: set(before_round.recheck["household_id"]),
        }
        # Only the listed households and those who left are looked up: a district of 300,000
        # households must not be re-indexed for every request.
        before = previous[previous["household_id"].isin(picked["household_id"])].set_index("household_id")
        prior_risk = picked["household_id"].map(before["risk"])
        delta = picked["risk"] - prior_risk
        picked["previous_risk"] = prior_risk
        picked["risk_rise"] = delta
        on_same_list = [
            h in was_listed[k] for h, k in zip(picked["household_id"], picked["list"], strict=True)
        ]
        picked["change"] = np.select(
            [~np.array(on_same_list, dtype=bool), delta >= RISK_CHANGE, delta <= -RISK_CHANGE],
            ["new", "risen", "fallen"],
            "steady",
        )
        prior = dict(zip(before.index, before["reasons"].tolist(), strict=True))
        picked["reasons_changed"] = [
            household in prior and _codes(prior[household]) != _codes(reasons)
            for household, reasons in zip(picked["household_id"], picked["reasons"].tolist(), strict=True)
        ]
        left = _left(was_listed, picked, before_round.area, area, overrides, now.known_ids)
    for column in LIST_COLUMNS:
        if column not in picked.columns:
            picked[column] = None
    rows = picked[LIST_COLUMNS]
    LIST_SCHEMA.check(pa.Schema.from_pandas(rows, preserve_index=False), f"the outreach list of {gu}")
    return OutreachList(
        rows=rows,
        left=left,
        households_in_area=len(area),
        round_date=str(pd.Timestamp(scored["round_date"].iloc[0]).date()) if len(scored) else "",
        previous_round=(
            str(pd.Timestamp(previous["round_date"].iloc[0]).date()) if previous is not None else None
        ),
        discovery_capacity=discovery_capacity,
        recheck_capacity=recheck_capacity,
        known_in_area=now.known_in_area,
        excluded=_excluded(area, overrides),
    )


EXCLUDED_COLUMNS = [
    "household_id",
    "dong_code",
    "dong_name",
    "risk",
    "band_ko",
    "reason",
    "excluded_by",
    "excluded_at",
    "since_round",
]


def _excluded(area: pd.DataFrame, overrides: dict[str, Override]) -> pd.DataFrame:
    """The area's households under a standing exclusion, highest risk first."""
    decided = {h: o for h, o in overrides.items() if o.action == "exclude"}
    rows = area[area["household_id"].isin(decided)] if decided else area.head(0)
    chosen = [decided[h] for h in rows["household_id"]]
    return pd.DataFrame(
        {
            "household_id": rows["household_id"].to_numpy(),
            "dong_code": rows["dong_code"].astype("string").to_numpy(),
            "dong_name": dong_name_column(rows["dong_code"]).to_numpy(),
            "risk": rows["risk"].to_numpy(dtype=float),
            "band_ko": rows["band"].map(BAND_KO).to_numpy(),
            "reason": [o.reason for o in chosen],
            "excluded_by": [o.recorded_by for o in chosen],
            "excluded_at": [o.recorded_at for o in chosen],
            "since_round": [o.round_date for o in chosen],
        },
        columns=EXCLUDED_COLUMNS,
    )


def _codes(reasons: list[dict]) -> frozenset[str]:
    """Which reasons a household has, whatever their order or wording (a round's values differ)."""
    return frozenset(reason["code"] for reason in reasons)


def _why(picked: pd.DataFrame, known: KnownHouseholds | None) -> None:
    """Each row's reason for being on its list, in Korean and English."""
    ko, en = [], []
    older = (
        picked["last_finding_on"]
        if "last_finding_on" in picked.columns
        else pd.Series(None, index=picked.index)
    )
    for household_id, kind, found in zip(picked["household_id"], picked["list"], older, strict=True):
        if kind == RECHECK and known is not None and household_id in known:
            entry = known.households[household_id]
            ko.append(entry.why_ko)
            en.append(entry.why_en)
        elif known is not None:
            text = known.not_known_why(found)
            ko.append(text[0])
            en.append(text[1])
        else:
            ko.append("발굴: 방문 기록을 알 수 없음")
            en.append("discovery: no visit records known for this round")
    picked["list_why_ko"] = ko
    picked["list_why_en"] = en


def _predates_the_split(previous: pd.DataFrame, scored: pd.DataFrame) -> bool:
    """A round scored before rounds carried `last_finding_on` reads it as all never found."""
    if "last_finding_on" not in previous.columns:
        return True
    found_now = "last_finding_on" in scored.columns and bool(scored["last_finding_on"].notna().any())
    return found_now and bool(previous["last_finding_on"].isna().all())


def _left(
    was_listed: dict[str, set[str]],
    picked: pd.DataFrame,
    previous_area: pd.DataFrame,
    area: pd.DataFrame,
    overrides: dict[str, Override],
    known_now: frozenset[str],
) -> pd.DataFrame:
    gone = sorted((was_listed[DISCOVERY] | was_listed[RECHECK]) - set(picked["household_id"]))
    was = previous_area[previous_area["household_id"].isin(gone)].set_index("household_id")["risk"]
    still_here = area[area["household_id"].isin(gone)].set_index("household_id")["risk"]

    def why(household_id: str) -> str:
        if household_id in overrides and overrides[household_id].action == "exclude":
            return "excluded by a planner"
        if household_id not in still_here.index:
            return "no longer registered here"
        if household_id in was_listed[DISCOVERY] and household_id in known_now:
            return "now known: on the re-check side, not among its picks"
        return "lower risk"

    return pd.DataFrame(
        {
            "household_id": gone,
            "previous_risk": [float(was.get(h, np.nan)) for h in gone],
            "now_risk": [float(still_here.get(h, np.nan)) for h in gone],
            "why": [why(h) for h in gone],
        }
    )
