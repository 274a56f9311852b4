"""Generate a synthetic Seoul: every contract file plus `_truth/`, in bounded memory.

Households are simulated in fixed chunks, each with its own random stream derived from the seed
and the chunk's index, and written as they are made; so the same seed gives the same files at any
scale, and Seoul's 4.16 M households never sit in memory at once. Only the city's composition
(district, one-person, age band and sex per household: a few bytes each) is global, because the
published totals must hold for the whole city.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anbu.data_folder import DataFolder
from features.contract.files import SourceWriter
from features.contract.schemas import SOURCES_BY_NAME
from synthetic.city import compose_city, district_dongs, households_frame
from synthetic.events import crisis_events
from synthetic.latent import simulate_hardship, simulate_isolation
from synthetic.outreach import contacts_120, visits
from synthetic.period import Period
from synthetic.registry import NO_EVENT, draw_exits, registry_rows, simulate_registry
from synthetic.smart_services import simulate_services
from synthetic.variants import DEFAULT, CityVariant

SCALES: dict[str, int] = {"tiny": 3_000, "small": 50_000, "seoul": 4_159_502}
CHUNK_HOUSEHOLDS = 250_000
DEFAULT_LAST_MONTH = pd.Timestamp("2026-10-01")
SEOUL_READING_DAYS = 90
"""At Seoul scale hourly readings are kept for the last 90 days (what the features use)."""

Progress = Callable[[int, int], None]


@dataclass
class GenerationSummary:
    out_dir: str
    households: int
    months: int
    seed: int
    first_month: str
    delivered_on: str
    reading_days: int | None
    variant: str = DEFAULT.name
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)


def _registered(dynamics, n_months: int) -> np.ndarray:
    month = np.arange(n_months)[None, :]
    present = month >= dynamics.entry_month[:, None]
    gone = (dynamics.exit_month[:, None] != NO_EVENT) & (month > dynamics.exit_month[:, None])
    return present & ~gone


def _episode_schema() -> pa.Schema:
    """`_truth/sensor_episodes.parquet`: what each enrolled household's devices saw it do — an
    absence (holiday, trip, hospital) from start to end, or the onset of withdrawal."""
    return pa.schema(
        [
            ("household_id", pa.string()),
            ("service", pa.string()),
            ("kind", pa.string()),
            ("start", pa.timestamp("us")),
            ("end", pa.timestamp("us")),
        ]
    )


def _truth_schema() -> pa.Schema:
    return pa.schema(
        [
            ("household_id", pa.string()),
            ("month", pa.date32()),
            ("state", pa.int8()),
            ("hardship", pa.bool_()),
            ("p_onset", pa.float32()),
            ("p_positive_90d", pa.float32()),
            ("p_visit_positive", pa.float32()),
        ]
    )


def generate_city(
    out: Path,
    *,
    households: int,
    months: int = 24,
    seed: int = 7,
    last_month: pd.Timestamp = DEFAULT_LAST_MONTH,
    reading_days: int | None = None,
    variant: CityVariant = DEFAULT,
    progress: Progress | None = None,
) -> GenerationSummary:
    """Write a synthetic city of `households` households over `months` months into `out`."""
    if households < 100:
        raise ValueError(f"households must be at least 100, got {households}")
    if not 4 <= months <= 120:
        raise ValueError(f"months must be between 4 and 120, got {months}")
    started = time.perf_counter()
    out = Path(out)
    truth_dir = DataFolder(out).truth
    truth_dir.mkdir(parents=True, exist_ok=True)
    period = Period(pd.Timestamp(last_month), months, reading_days)
    composition = compose_city(households, np.random.default_rng([seed, 0]))
    dongs = district_dongs()
    writers = {
        name: SourceWriter(out / f"{name}.parquet", spec)
        for name, spec in SOURCES_BY_NAME.items()
        if not spec.evaluation_only  # anbu's own records of a city, not part of what it delivers
    }
    truth_writer = pq.ParquetWriter(truth_dir / "monthly_state.parquet", _truth_schema(), compression="zstd")
    hidden_writer = None
    episode_writer = pq.ParquetWriter(
        truth_dir / "sensor_episodes.parquet", _episode_schema(), compression="zstd"
    )
    try:
        for chunk, start in enumerate(range(0, households, CHUNK_HOUSEHOLDS)):
            rows = np.arange(start, min(start + CHUNK_HOUSEHOLDS, households))
            rng = np.random.default_rng([seed, 2, chunk])
            frames, truth, hidden, episodes = _simulate_chunk(composition, dongs, rows, period, rng, variant)
            for name, frame in frames.items():
                if name == "sensor_readings":
                    for batch in frame:
                        writers[name].write(batch)
                else:
                    writers[name].write(frame)
            truth_writer.write_table(
                pa.Table.from_pandas(truth, schema=_truth_schema(), preserve_index=False)
            )
            table = pa.Table.from_pandas(hidden, preserve_index=False)
            if hidden_writer is None:
                hidden_writer = pq.ParquetWriter(
                    truth_dir / "households.parquet", table.schema, compression="zstd"
                )
            hidden_writer.write_table(table)
            episode_writer.write_table(
                pa.Table.from_pandas(episodes, schema=_episode_schema(), preserve_index=False)
            )
            if progress:
                progress(int(rows[-1]) + 1, households)
    finally:
        for writer in writers.values():
            writer.close()
        truth_writer.close()
        episode_writer.close()
        if hidden_writer is not None:
            hidden_writer.close()
    summary = GenerationSummary(
        out_dir=str(out),
        households=households,
        months=months,
        seed=seed,
        first_month=period.start.date().isoformat(),
        delivered_on=period.delivered_on.date().isoformat(),
        reading_days=reading_days,
        variant=variant.name,
        seconds=round(time.perf_counter() - started, 1),
        rows={name: writer.rows_written for name, writer in writers.items()},
    )
    (truth_dir / "generation.json").write_text(json.dumps(asdict(summary), indent=2), encoding="utf-8")
    return summary


def _simulate_chunk(
    composition, dongs, rows: np.ndarray, period: Period, rng: np.random.Generator, variant: CityVariant
):
    ids = np.char.add("H", np.char.zfill(rows.astype(str), 8))
    people = households_frame(composition, ids, rows, period.start, rng, dongs)
    dynamics = simulate_registry(people, period.n_months, rng)
    hardship = simulate_hardship(people, dynamics, period.n_months, rng)
    lives = simulate_isolation(people, dynamics, hardship, rng, variant.hazard)
    dynamics = draw_exits(dynamics, people, (lives.state == 2).astype(float), rng)
    registered = _registered(dynamics, period.n_months)
    events = crisis_events(people, dynamics, lives, registered, period, rng, variant.report_lag_days)
    always = np.flatnonzero(registered.all(axis=1))
    services = simulate_services(
        people.iloc[always].reset_index(drop=True), _subset(lives, always), period, rng, variant.meters
    )
    contacts = contacts_120(people, lives, registered, period, rng)
    found = visits(people, lives, registered, events, services.alerts, contacts, period, rng, variant)
    frames = {
        "households": registry_rows(people, dynamics, period.months, rng),
        "crisis_events": events,
        "sensor_enrollments": services.enrollments,
        "sensor_readings": services.readings,
        "ai_calls": services.ai_calls,
        "call_center_contacts": contacts,
        "outreach_visits": found,
    }
    r, m = np.nonzero(registered)
    truth = pd.DataFrame(
        {
            "household_id": ids[r],
            "month": period.months[m],
            "state": lives.state[r, m],
            "hardship": lives.hardship[r, m],
            "p_onset": lives.p_onset[r, m],
            "p_positive_90d": lives.p_positive_90d[r, m],
            # What one visit that month would record, in expectation: the contract's target as a
            # visit to every household would measure it (what survey estimates are checked against).
            "p_visit_positive": variant.p_visit_positive()[lives.state[r, m]].astype(np.float32),
        }
    )
    hidden = pd.DataFrame(
        {
            "household_id": ids,
            "frailty": lives.frailty,
            "disadvantage": people["disadvantage"].to_numpy(),
            "entry_month": dynamics.entry_month,
            "event_month": dynamics.event_month,
            "event_type": dynamics.event_type,
            "exit_month": dynamics.exit_month,
        }
    )
    return frames, truth, hidden, services.episodes


def _subset(lives, rows: np.ndarray):
    from synthetic.latent import LatentLives

    return LatentLives(
        *(
            getattr(lives, f)[rows]
            for f in ("hardship", "state", "p_onset", "p_positive_90d", "frailty", "alone")
        )
    )
