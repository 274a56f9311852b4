"""Each source's rows per month against its own history: a source or code gone quiet, halved,
doubled or new, and a sensor channel whose level jumped by a power of ten.

Rows are counted by the day the contract says they became known (SourceSpec.known_on), so a slow
agency's late reports count in the month they reached the city, as the features see them. A month
counts once it is complete on the round's date. History is the year before the months checked,
from the first month the source delivered anything (a source the city added last spring is not
"vanished" before it existed).

How big a change must be: a split with at least MIN_EXPECTED rows a month that delivered none in the
latest month is gone (an error: under a Poisson count that is a one-in-20,000 month); a stream that
comes in some months only (a sweep) is gone when a month that had rows a year before has none; otherwise a
change must be at least a halving or a doubling *and* beyond Z_LIMIT standard deviations of the
history's own month-to-month spread (quasi-Poisson: a source that swings with the survey calendar
is judged by its swings, not by Poisson's), of a stream with at least MIN_EXPECTED rows a month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from features.contract.delivery import QUARANTINE_DIR
from features.contract.row_checks import BLANKED
from features.contract.schemas import SOURCES, SOURCES_BY_NAME
from features.health.findings import Finding, Grade

RECENT_MONTHS = 2
HISTORY_MONTHS = 12
MIN_HISTORY_MONTHS = 4
MIN_EXPECTED = 10.0
MIN_NEW_ROWS = 5
LEVEL_MONTHS = 6
"""A regular stream's usual level: its mean over the half year before the months checked, so a
source that has been growing all year is not 'doubled' against its level of a year ago."""
REGULAR_SHARE = 0.75
"""A stream with rows in fewer of its history months than this comes in some months only."""
Z_LIMIT = 4.0
GONE_SIZE = 1e9
"""A source gone orders before any other finding of its grade (finite: health.json stays JSON)."""
LEVEL_JUMP_LOG10 = 0.9
"""A channel's mean level this far (in powers of ten, about x8) from its history is a unit change."""


@dataclass(frozen=True)
class Stream:
    source: str
    split: str | None
    """The column whose values are counted apart (an indicator code, a channel); None: the source."""


STREAMS = (
    Stream("crisis_events", "indicator"),
    Stream("sensor_readings", "channel"),
    Stream("sensor_enrollments", "service"),
    Stream("ai_calls", None),
    Stream("call_center_contacts", "topic"),
    Stream("outreach_visits", "trigger"),
)


@dataclass(frozen=True)
class Months:
    recent: pd.DatetimeIndex
    history: pd.DatetimeIndex

    @classmethod
    def before(cls, as_of: pd.Timestamp) -> Months:
        """The RECENT_MONTHS complete on `as_of` and the HISTORY_MONTHS before them."""
        last = (pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)).to_period("M") - 1
        recent = pd.period_range(end=last, periods=RECENT_MONTHS, freq="M").to_timestamp()
        history = pd.period_range(end=last - RECENT_MONTHS, periods=HISTORY_MONTHS, freq="M").to_timestamp()
        return cls(recent, history)

    @property
    def all(self) -> pd.DatetimeIndex:
        return self.history.append(self.recent)


def monthly_rows(con: duckdb.DuckDBPyConnection, stream: Stream, months: Months) -> pd.DataFrame:
    """Rows per month (columns) of each split value (index; '(all)' for the whole source)."""
    known_on = SOURCES_BY_NAME[stream.source].known_on
    split = f"CAST({stream.split} AS VARCHAR)" if stream.split else "'(all)'"
    counted = con.execute(
        f"""
        SELECT date_trunc('month', {known_on})::DATE AS month, {split} AS part, count(*) AS rows
        FROM {stream.source}
        WHERE {known_on} >= $first AND {known_on} < $end
        GROUP BY ALL
        """,
        {"first": months.all[0].date(), "end": (months.all[-1] + pd.offsets.MonthBegin(1)).date()},
    ).df()
    counted["month"] = pd.to_datetime(counted["month"])
    table = counted.pivot_table(index="part", columns="month", values="rows", aggfunc="sum", fill_value=0)
    return table.reindex(columns=months.all, fill_value=0).astype(float)


def volume_findings(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> list[Finding]:
    """Every stream's findings; a source gone whole is one finding, not one per code."""
    months = Months.before(as_of)
    findings: list[Finding] = []
    for stream in STREAMS:
        rows = monthly_rows(con, stream, months)
        delivered = rows.sum(axis=0)
        started = _first_month(delivered)
        whole = _judge(stream.source, delivered, months, started)
        if whole is not None and whole.grade is Grade.ERROR:
            findings.append(whole)
            continue
        if stream.split is None:
            findings += [whole] if whole is not None else []
            continue
        for part, counts in rows.iterrows():
            found = _judge(f"{stream.source} {stream.split}={part}", counts, months, started)
            if found is not None:
                findings.append(found)
        if whole is not None and not findings_about(findings, stream.source):
            findings.append(whole)
    return findings


def findings_about(findings: list[Finding], source: str) -> bool:
    return any(finding.subject.startswith(f"{source} ") for finding in findings)


def _first_month(delivered: pd.Series) -> pd.Timestamp | None:
    nonzero = delivered[delivered > 0]
    return None if nonzero.empty else pd.Timestamp(nonzero.index[0])


def _judge(subject: str, counts: pd.Series, months: Months, started: pd.Timestamp | None) -> Finding | None:
    """One stream's finding, or None when its recent months look like its history."""
    if started is None:
        return None
    history = counts[months.history][months.history >= started]
    if len(history) < MIN_HISTORY_MONTHS:
        return None  # too little of the source's own past to judge it by
    recent = counts[months.recent]
    span = f"{_month(history.index[0])}–{_month(history.index[-1])}"
    if float(history.sum()) == 0:
        delivered = float(recent.sum())
        if delivered < MIN_NEW_ROWS or len(history) < HISTORY_MONTHS:
            return None  # in a source younger than a year, a yearly code (a sweep) may not have come yet
        return Finding(
            Grade.WARNING,
            "new_code",
            subject,
            f"{subject}: {delivered:,.0f} rows in {_months(recent.index)}, none over {span}: "
            "new to what the model learnt from",
            math.log2(delivered),
        )
    if (history > 0).mean() < REGULAR_SHARE:
        return _calendar(subject, counts, months)
    level = float(history.tail(LEVEL_MONTHS).mean())
    if level >= MIN_EXPECTED and recent.iloc[-1] == 0:
        silent = recent.index[-_trailing_zeros(recent.to_numpy()) :]
        return _gone(subject, f"no rows in {_months(silent)}, against {level:,.0f} a month before")
    if level < MIN_EXPECTED:
        return None  # a handful of rows a month halves and doubles by chance
    wanted = level * len(recent)
    delivered = float(recent.sum())
    dispersion = max(1.0, float(history.var(ddof=1)) / float(history.mean()))
    z = (delivered - wanted) / math.sqrt(dispersion * wanted)
    ratio = delivered / wanted
    if abs(z) < Z_LIMIT or 0.5 < ratio < 2.0:
        return None
    moved = "fell" if ratio < 1 else "rose"
    return Finding(
        Grade.WARNING,
        "volume",
        subject,
        f"{subject}: {delivered / len(recent):,.0f} rows a month in {_months(recent.index)} against "
        f"{level:,.0f} in the {LEVEL_MONTHS} months before ({moved} to {ratio:.2f}×)",
        abs(math.log2(max(ratio, 1e-9))),
    )


def _calendar(subject: str, counts: pd.Series, months: Months) -> Finding | None:
    """A stream that comes in some months only (a screening sweep): judged against the same month
    a year before, since an empty month is its usual."""
    latest = months.recent[-1]
    year_before = latest - pd.DateOffset(years=1)
    before = float(counts.get(year_before, 0.0))
    if before >= MIN_EXPECTED and counts[latest] == 0:
        return _gone(subject, f"no rows in {_month(latest)}, against {before:,.0f} in {_month(year_before)}")
    return None


def _gone(subject: str, how: str) -> Finding:
    return Finding(
        Grade.ERROR,
        "volume",
        subject,
        f"{subject}: {how}: the source or code has stopped arriving",
        GONE_SIZE,
    )


def level_findings(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> list[Finding]:
    """A sensor channel whose mean level moved by about a power of ten or more in the latest month:
    a unit changed (watts to kilowatts), not a city."""
    months = Months.before(as_of)
    levels = con.execute(
        """
        SELECT date_trunc('month', ts)::DATE AS month, channel, avg(value) AS level, count(*) AS rows
        FROM sensor_readings WHERE ts >= $first AND ts < $end GROUP BY ALL
        """,
        {"first": months.all[0].date(), "end": (months.all[-1] + pd.offsets.MonthBegin(1)).date()},
    ).df()
    levels["month"] = pd.to_datetime(levels["month"])
    findings = []
    latest = months.recent[-1]
    for channel, monthly in levels.groupby("channel"):
        past = monthly[monthly["month"].isin(months.history) & (monthly["level"] > 0)]
        now = monthly[monthly["month"] == latest]
        if len(past) < MIN_HISTORY_MONTHS or now.empty or not now["level"].iloc[0] > 0:
            continue
        usual = float(np.average(past["level"], weights=past["rows"]))
        jump = math.log10(float(now["level"].iloc[0]) / usual)
        if abs(jump) >= LEVEL_JUMP_LOG10:
            factor = 10 ** round(jump)
            findings.append(
                Finding(
                    Grade.ERROR,
                    "level",
                    f"sensor_readings channel={channel}",
                    f"sensor_readings channel={channel}: mean {float(now['level'].iloc[0]):,.3g} in "
                    f"{_month(latest)} against {usual:,.3g} before, about ×{factor:g}: "
                    "the readings' unit has changed",
                    abs(jump),
                )
            )
    return findings


def _trailing_zeros(values: np.ndarray) -> int:
    count = 0
    for value in values[::-1]:
        if value != 0:
            break
        count += 1
    return count


def _month(month: pd.Timestamp) -> str:
    return pd.Timestamp(month).strftime("%Y-%m")


def _months(months: pd.DatetimeIndex) -> str:
    return _month(months[0]) if len(months) == 1 else f"{_month(months[0])}–{_month(months[-1])}"


QUARANTINE_SHARE = 0.10
"""A month whose quarantined rows reach this share of all it delivered has lost more than noise."""


def quarantine_findings(
    validated_dir: Path, con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp
) -> list[Finding]:
    """Rows `anbu validate` refused, per source, month and reason, against the months before: a
    meter that began reporting kilowatt-hours as watts breaks the contract's bounds row by row,
    so the change shows here (and as a channel gone quiet among the accepted rows), with its
    reason."""
    months = Months.before(as_of)
    latest = months.recent[-1]
    findings = []
    for spec in SOURCES:
        path = Path(validated_dir) / QUARANTINE_DIR / f"{spec.name}.parquet"
        if not spec.known_on or spec.evaluation_only or not path.is_file():
            continue  # evaluation-only files (survey samples) never reach the model
        refused = con.execute(
            f"""
            SELECT date_trunc('month', try_cast({spec.known_on} AS TIMESTAMP))::DATE AS month,
                   _reason AS reason, count(*) AS rows
            FROM read_parquet('{path}')
            WHERE try_cast({spec.known_on} AS TIMESTAMP) >= $first
              AND try_cast({spec.known_on} AS TIMESTAMP) < $end
              AND {BLANKED} IS NULL  -- a row kept with an attribute blanked was not refused
            GROUP BY ALL
            """,
            {"first": months.all[0].date(), "end": (latest + pd.offsets.MonthBegin(1)).date()},
        ).df()
        if refused.empty:
            continue
        refused["month"] = pd.to_datetime(refused["month"])
        accepted = monthly_rows(con, Stream(spec.name, None), months).sum(axis=0)
        for reason, by_month in refused.groupby("reason"):
            counts = by_month.set_index("month")["rows"].reindex(months.all, fill_value=0).astype(float)
            now = float(counts[latest])
            share = now / (now + float(accepted.get(latest, 0.0))) if now else 0.0
            before = float(counts[months.history].mean())
            if share >= QUARANTINE_SHARE and now >= MIN_EXPECTED and now > 10 * max(before, 1.0):
                findings.append(
                    Finding(
                        Grade.ERROR,
                        "quarantine",
                        spec.name,
                        f"{spec.name}: {now:,.0f} rows quarantined in {_month(latest)} ({share:.0%} of the "
                        f"month) for “{reason}”, against {before:,.0f} a month before",
                        share,
                    )
                )
    return findings
