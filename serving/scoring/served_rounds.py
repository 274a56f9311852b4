"""The rounds a service answers from, read once from what `anbu score` stored and kept in memory.

The served round and the one before it (which every list compares with) are read at start-up, so
no request waits on a file; an earlier round someone asks for is read on first use and kept among
a few, never scored: a request must not be able to make the service build or rewrite rounds.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from serving.scoring.rounds import (
    RoundNotScored,
    ScoredRound,
    previous_round,
    read_round,
    scored_rounds,
    shown_version,
)

EARLIER_ROUNDS_KEPT = 2
"""Rounds besides the served one and its predecessor kept in memory (each is the whole city)."""


def settle() -> None:
    """For a long-running service, after loading its rounds: move what was just loaded out of the
    collector's sight (a command that exits soon must not: cycles among frozen objects are never
    collected, and DuckDB's bindings then report them as leaked at exit). A scored city round leaves a large
    heap of long-lived objects that every full collection walked: at Seoul scale that pause was
    140 ms, landing on one `rank` call in ten. Frozen objects are still freed when dropped."""
    gc.collect()
    gc.freeze()


@dataclass
class LoadedRound:
    scored: ScoredRound
    households: pd.DataFrame
    """Indexed by household id."""
    districts: dict[str, pd.DataFrame] = field(default_factory=dict)
    _columns: dict[str, pd.Series] = field(default_factory=dict, repr=False)

    @property
    def model_version(self) -> str:
        return self.scored.model_version

    @functools.cached_property
    def health(self) -> dict:
        """What the round's health check said when it was scored (its manifest; empty for a round
        scored before the check existed)."""
        from serving.scoring.households import read_manifest

        try:
            return dict(read_manifest(self.scored.path).get("health") or {})
        except (OSError, ValueError):
            return {}

    def rows(self, household_ids: list[str], columns: list[str]) -> list[dict]:
        """The rows of these households (each must be in the round), in the order asked.

        A request asks for one household or a few: reading single cells costs microseconds where
        `.loc[...]` plus `to_dict` cost about 2 ms, which at 100 requests/s was the tail."""
        frame = self.households
        if len(household_ids) > 32:
            positions = frame.index.get_indexer(household_ids)
            if (positions < 0).any():  # take(-1) would quietly answer with the last household
                raise KeyError(household_ids[int((positions < 0).argmax())])
            picked = frame.take(positions)
            return [
                dict(zip(columns, values, strict=True))
                for values in zip(*(picked[c].tolist() for c in columns), strict=True)
            ]
        for c in columns:
            if c not in self._columns:  # a DataFrame hands out a new Series on every frame[c]
                self._columns[c] = frame[c]
        series = [self._columns[c] for c in columns]
        locate = frame.index.get_loc
        return [
            {c: s.iat[p] for c, s in zip(columns, series, strict=True)} for p in map(locate, household_ids)
        ]

    def district(self, gu: str) -> pd.DataFrame:
        """One district by rank; cut once, so a list never scans the whole city."""
        if gu not in self.districts:
            frame = self.households
            self.districts[gu] = frame[frame["gu"] == gu].sort_values("rank").reset_index(drop=True)
        return self.districts[gu]


def served_day(data_dir: Path, pinned: dt.date | None) -> pd.Timestamp | None:
    """The round a city serves: the one the settings pin (ANBU_AS_OF), else the latest scored; the
    service and `anbu rank` both ask here, so a list is built against the same round from either."""
    if pinned is not None:
        return pd.Timestamp(pinned).normalize()
    days = scored_rounds(data_dir)
    return days[-1] if days else None


class ServedRounds:
    def __init__(
        self,
        data_dir: Path,
        as_of: pd.Timestamp,
        champion_version: str | None | Callable[[], str | None],
    ) -> None:
        """`champion_version`: whose scoring of the served round to show when several models
        scored it (None: the newest); a callable is asked only when the served round is read.
        Rounds are read when first asked for: the service reads the served round and the one
        before it at start (`load`), a command only what its list needs."""
        self.data_dir = Path(data_dir)
        self.as_of = pd.Timestamp(as_of).normalize()
        self._lock = threading.Lock()
        self._champion_version = champion_version
        self._served: LoadedRound | None = None
        self._previous: tuple[LoadedRound | None] | None = None
        self._earlier: OrderedDict[pd.Timestamp, LoadedRound] = OrderedDict()

    def load(self) -> ServedRounds:
        """Read the served round and the one before it now (a service, so no request waits)."""
        _ = self.served, self.previous
        return self

    @property
    def served(self) -> LoadedRound:
        if self._served is None:
            prefer = self._champion_version() if callable(self._champion_version) else self._champion_version
            self._served = self._read(shown_version(self.data_dir, self.as_of, prefer=prefer))
        return self._served

    @functools.cached_property
    def previous_day(self) -> pd.Timestamp | None:
        return previous_round(self.data_dir, self.as_of)

    @property
    def previous(self) -> LoadedRound | None:
        if self._previous is None:
            before = self.previous_day
            self._previous = (
                self._read(shown_version(self.data_dir, before)) if before is not None else None,
            )
        return self._previous[0]

    @staticmethod
    def _read(scored: ScoredRound) -> LoadedRound:
        return LoadedRound(scored, read_round(scored))

    def scored_dates(self) -> list[str]:
        return [day.date().isoformat() for day in scored_rounds(self.data_dir) if day <= self.as_of]

    def get(self, as_of: pd.Timestamp) -> LoadedRound:
        """A round as stored; RoundNotScored names the rounds there are."""
        as_of = pd.Timestamp(as_of).normalize()
        if as_of == self.as_of:
            return self.served
        if as_of == self.previous_day:
            return self.previous
        with self._lock:
            if as_of in self._earlier:
                self._earlier.move_to_end(as_of)
                return self._earlier[as_of]
            try:
                loaded = self._read(shown_version(self.data_dir, as_of))
            except RoundNotScored:
                raise RoundNotScored(
                    f"as_of: no scored round for {as_of.date()}; scored rounds: {', '.join(self.scored_dates())}"
                ) from None
            self._earlier[as_of] = loaded
            while len(self._earlier) > EARLIER_ROUNDS_KEPT:
                self._earlier.popitem(last=False)
            return loaded

    def before(self, as_of: pd.Timestamp) -> LoadedRound | None:
        """The round a list of `as_of` compares with (for the served round, read at start)."""
        if pd.Timestamp(as_of).normalize() == self.as_of:
            return self.previous
        day = previous_round(self.data_dir, as_of)
        return None if day is None else self.get(day)
