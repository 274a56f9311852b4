"""A generated synthetic city driven round by round (anbu/loop/city.py: LoopCity).

The generator writes a city's whole history at once (generator.py). Nothing a visit finds changes
what the generator simulates, so a loop can take that history as given and replace one part of
it: from the loop's first round on, the national list's visits are dropped and the loop's own
visits are answered from each household's true state, with the same visit noise as the city's
own (outreach.py: outcome_probabilities), so every policy meets the same city.

Each answer is drawn from uniforms keyed by (city seed, household, day, trigger), not from a
shared random stream: the same visit finds the same thing whichever policy asked for it, so two
policies are compared on their choices alone.

What a visit does to the household it finds is an assumption of the run (`VisitEffect`), default
none. With an effect, a household in need that a visit finds leaves its spell of need from the
next month with the stated chance; the judge and later visits see that. The delivered files
(crisis reports, meters) were generated with the spell and are not rewritten: a supported
household goes on looking as it did, which understates what support changes in the features.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anbu.data_folder import DataFolder, written_whole
from anbu.loop.city import VISIT_REQUEST_COLUMNS, UnknownHousehold
from features.contract.as_delivered import known_by, read_known_by
from features.contract.files import find_source_file, to_arrow
from features.contract.schemas import SOURCES, SOURCES_BY_NAME
from features.contract.vocabulary import POSITIVE_OUTCOMES, VISIT_TRIGGERS
from synthetic.outreach import (
    CHECKLIST_SCORES,
    OUTCOMES,
    checklist_scores,
    draw_outcomes,
    outcome_probabilities,
)
from synthetic.period import IsolationState
from synthetic.truth import window_months, window_truth
from synthetic.variants import CityVariant, variant

_MOVED = int(np.flatnonzero(OUTCOMES == "moved")[0])


@dataclass(frozen=True)
class VisitEffect:
    """What a visit that finds a household in need does to it: a stated, configurable assumption."""

    ends_spell: float = 0.0
    """Chance that the support following a finding ends the household's spell of need from the next
    month (0: a visit changes nothing, the default)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.ends_spell <= 1.0:
            raise ValueError(f"a visit's effect must be a chance in [0, 1], got {self.ends_spell}")


def _keyed_uniforms(seed: int, rows: np.ndarray, days: np.ndarray, stream: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) that depend only on (seed, household row, day, stream): splitmix64's mix."""
    with np.errstate(over="ignore"):
        x = (
            np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
            ^ rows.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
            ^ days.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
            ^ np.asarray(stream).astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
        )
        for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            x = (x ^ (x >> np.uint64(shift))) * np.uint64(multiplier)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class SyntheticJudge:
    """The city's true monthly states, as the loop's reports read them."""

    def __init__(self, city: SyntheticCity) -> None:
        self._city = city

    def states(self, household_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
        rows, months = self._city.cells(household_ids, days)
        return self._city.state[rows, months]

    def onsets(self, household_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
        rows, months = self._city.cells(household_ids, days)
        start = self._city.spell_starts()[rows, months]
        known = start > 0  # a spell running since the first month began before the history did
        onset = np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[D]")
        onset[known] = self._city.months[start[known]].to_numpy().astype("datetime64[D]")
        return onset

    def in_need(self, month: dt.date) -> pd.Index:
        column = self._city.month_index(pd.Timestamp(month))
        return pd.Index(self._city.household_ids[self._city.state[:, column] >= IsolationState.AT_RISK])

    def round_truth(self, as_of: dt.date, survey_visit_days: pd.Series | None = None) -> pd.DataFrame:
        city = self._city
        months = window_months(pd.Timestamp(as_of))
        columns = [city.month_index(m) for m in months if m in city.months]
        rows, which = np.nonzero(city.state[:, columns] >= 0)
        cells = np.asarray(columns)[which]
        state = city.state[rows, cells]
        monthly = pd.DataFrame(
            {
                "household_id": city.household_ids[rows],
                "month": city.months[cells],
                "state": state,
                "p_positive_90d": city.p_positive_90d[rows, cells],
                "p_visit_positive": city.variant.p_visit_positive()[state].astype(np.float32),
            }
        )
        return window_truth(monthly, months, survey_visit_days)


class SyntheticCity:
    """A city written by `anbu generate`, driven as a LoopCity from `loop_starts` on."""

    def __init__(self, folder: Path, loop_starts: dt.date, effect: VisitEffect | None = None) -> None:
        self.folder = Path(folder)
        truth = DataFolder(self.folder).truth
        if not (truth / "monthly_state.parquet").is_file():
            raise FileNotFoundError(f"{self.folder}: not a synthetic city (no _truth/monthly_state.parquet)")
        generation = json.loads((truth / "generation.json").read_text(encoding="utf-8"))
        self.seed = int(generation["seed"])
        self.variant: CityVariant = variant(generation.get("variant", "default"))
        self.loop_starts = loop_starts
        self.effect = effect or VisitEffect()
        self.months = pd.date_range(
            pd.Timestamp(generation["first_month"]), periods=int(generation["months"]), freq="MS"
        )
        self._delivered_on = pd.Timestamp(generation["delivered_on"]).date()
        table = pq.read_table(
            truth / "monthly_state.parquet", columns=["household_id", "month", "state", "p_positive_90d"]
        )
        frame = table.to_pandas()
        ids, rows = np.unique(frame["household_id"].to_numpy(dtype=object), return_inverse=True)
        self.household_ids = ids.astype(str)
        self._row = pd.Series(np.arange(len(ids)), index=self.household_ids)
        columns = self.months.get_indexer(pd.to_datetime(frame["month"]))
        self.state = np.full((len(ids), len(self.months)), -1, dtype=np.int8)
        self.state[rows, columns] = frame["state"].to_numpy(dtype=np.int8)
        self.p_positive_90d = np.full(self.state.shape, np.nan, dtype=np.float32)
        self.p_positive_90d[rows, columns] = frame["p_positive_90d"].to_numpy(dtype=np.float32)
        self._first_month = np.argmax(self.state >= 0, axis=1)
        self._spell_starts: np.ndarray | None = None
        self.judge = SyntheticJudge(self)

    @property
    def first_day(self) -> dt.date:
        return self.months[0].date()

    @property
    def last_day(self) -> dt.date:
        return self._delivered_on - dt.timedelta(days=1)

    def month_index(self, month: pd.Timestamp) -> int:
        return int(self.months.get_loc(month.to_period("M").to_timestamp()))

    def cells(self, household_ids: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, month column) of each (household, day); UnknownHousehold for one never delivered."""
        ids = pd.Index(np.asarray(household_ids, dtype=object).astype(str))
        rows = self._row.reindex(ids).to_numpy()
        if np.isnan(rows).any():
            unknown = ids[np.isnan(rows)][0]
            raise UnknownHousehold(f"household {unknown!r} is not a household of the city in {self.folder}")
        stamps = pd.DatetimeIndex(pd.to_datetime(np.asarray(days)))
        if len(stamps) and (stamps.min() < self.months[0] or stamps.max().date() > self.last_day):
            raise ValueError(
                f"a visit on {stamps.min().date()}..{stamps.max().date()} is outside the city's history "
                f"({self.first_day}..{self.last_day})"
            )
        columns = self.months.get_indexer(stamps.to_period("M").to_timestamp())
        return rows.astype(np.int64), columns

    def spell_starts(self) -> np.ndarray:
        """For each (household, month) in need, the month column its spell of need began in; -1 otherwise."""
        if self._spell_starts is None:
            need = self.state >= IsolationState.AT_RISK
            start = np.full(self.state.shape, -1, dtype=np.int32)
            start[:, 0] = np.where(need[:, 0], 0, -1)
            for m in range(1, need.shape[1]):
                start[:, m] = np.where(need[:, m], np.where(need[:, m - 1], start[:, m - 1], m), -1)
            self._spell_starts = start
        return self._spell_starts

    def answer(self, requests: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in VISIT_REQUEST_COLUMNS if c not in requests]
        if missing:
            raise ValueError(
                f"a visit request needs the columns {list(VISIT_REQUEST_COLUMNS)}; missing {missing}"
            )
        asked = requests[list(VISIT_REQUEST_COLUMNS)].reset_index(drop=True)
        days = pd.to_datetime(asked["visited_on"]).dt.normalize()
        rows, columns = self.cells(asked["household_id"].to_numpy(), days.to_numpy())
        early = columns < self._first_month[rows]
        if early.any():
            first = np.flatnonzero(early)[0]
            raise UnknownHousehold(
                f"household {asked['household_id'][first]!r} is not in the city's registry until "
                f"{self.months[self._first_month[rows[first]]].date()}, after the visit on {days[first].date()}"
            )
        ordinal = days.to_numpy().astype("datetime64[D]").astype(np.int64)
        trigger = pd.Index(list(VISIT_TRIGGERS)).get_indexer(asked["trigger"].astype(str)).astype(np.int64)
        if (trigger < 0).any():
            raise ValueError(
                f"visit trigger {asked['trigger'][trigger < 0].iloc[0]!r} is not one of {list(VISIT_TRIGGERS)}"
            )
        outcome = np.empty(len(asked), dtype=object)
        scores = np.full(len(asked), -1, dtype=np.int64)
        # Month by month, so support given after a finding is seen by a later visit of the batch.
        for column in np.unique(columns):
            here = np.flatnonzero(columns == column)
            state = self.state[rows[here], column]
            registered = state >= 0
            probabilities = outcome_probabilities(
                np.where(registered, state, 0),
                (asked["trigger"].to_numpy()[here] == "system_list"),
                self.variant,
            )
            probabilities[~registered] = np.eye(len(OUTCOMES))[_MOVED]
            key = (self.seed, rows[here], ordinal[here])
            stream = 16 * trigger[here]
            found = draw_outcomes(probabilities, _keyed_uniforms(*key, stream + 1))
            drawn = [
                low + np.floor(_keyed_uniforms(*key, stream + 2 + i) * (high - low)).astype(np.int64)
                for i, (low, high) in enumerate(CHECKLIST_SCORES.values())
            ]
            outcome[here] = found
            scores[here] = checklist_scores(found, *drawn)
            self._support(rows[here], column, state, found, _keyed_uniforms(*key, stream + 9))
        answered = asked.assign(
            visited_on=days.dt.date,
            outcome=outcome.astype(str),
            checklist_score=pd.array(np.where(scores >= 0, scores, None), dtype="Int64"),
        )
        return answered

    def _support(
        self, rows: np.ndarray, column: int, state: np.ndarray, found: np.ndarray, uniform: np.ndarray
    ) -> None:
        """Apply the run's VisitEffect: end the spell of the households a visit found in need."""
        if self.effect.ends_spell <= 0 or column + 1 >= self.state.shape[1]:
            return
        ended = (
            (state >= IsolationState.AT_RISK)
            & np.isin(found, POSITIVE_OUTCOMES)
            & (uniform < self.effect.ends_spell)
        )
        for row in np.unique(rows[ended]):
            later = self.state[row, column + 1 :]
            spell = (
                np.argmax(later < IsolationState.AT_RISK)
                if (later < IsolationState.AT_RISK).any()
                else len(later)
            )
            later[:spell] = np.where(later[:spell] >= 0, IsolationState.NONE, later[:spell])
        if ended.any():
            self._spell_starts = None

    def deliver(self, day: dt.date, into: Path, visits: pd.DataFrame, samples: pd.DataFrame) -> None:
        if day > self.last_day:
            raise ValueError(f"the city's history ends on {self.last_day}; it cannot deliver {day}")
        into = Path(into)
        into.mkdir(parents=True, exist_ok=True)
        for spec in SOURCES:
            source = find_source_file(self.folder, spec)
            if spec.name == "outreach_visits":
                table = self._outreach(source, visits, day)
            elif spec.name == "survey_samples":
                if samples.empty:
                    continue
                table = known_by(to_arrow(samples, spec), spec, day)
            elif source is None:
                continue
            else:
                table = read_known_by(source, spec, day)
            # Whole or not at all: a delivery a later step reads is never half written.
            with written_whole(into / f"{spec.name}.parquet") as partial:
                pq.write_table(table, partial, compression="zstd")

    def _outreach(self, source: Path | None, visits: pd.DataFrame, day: dt.date) -> pa.Table:
        spec = SOURCES_BY_NAME["outreach_visits"]
        own = read_known_by(source, spec, day) if source is not None else None
        frames = []
        if own is not None:
            frame = own.to_pandas(date_as_object=False)
            listed = (frame["trigger"] == "system_list") & (
                frame["visited_on"] >= pd.Timestamp(self.loop_starts)
            )
            frames.append(frame[~listed])
        if not visits.empty:
            loop = visits.assign(visited_on=pd.to_datetime(visits["visited_on"]))
            frames.append(loop)
        frame = pd.concat(frames, ignore_index=True) if frames else visits
        frame = frame.drop_duplicates(["household_id", "visited_on", "trigger"]).sort_values(
            ["household_id", "visited_on"], ignore_index=True
        )
        return known_by(to_arrow(frame, spec), spec, day)
