"""The registry against itself a year before: a district whose dong codes were replaced.

Nothing in the model reads a dong code, so a re-coded district's risks do not move; but a team
asking for its dong gets an empty list, and every dong-level comparison with earlier rounds breaks.
Validation blanks a code that is not one of Seoul's dongs (the household stays, its dong unknown),
so a district re-coded to codes nobody knows shows as households without a dong; one re-coded to
real codes of other dongs shows as codes it did not have. Both compare the households registered on
the round's day with the same district a year before.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from features.health.findings import Finding, Grade

RECODED_SHARE = 0.5
"""A district whose households sit on codes unseen a year before at least this often was re-coded
(a new dong now and then moves a few percent of a district, never half)."""


def registry_findings(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> list[Finding]:
    day = pd.Timestamp(as_of).date()
    year_before = (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()
    shares = con.execute(
        """
        WITH registered AS (
            SELECT household_id, gu, dong_code FROM households
            WHERE valid_from <= $day AND (valid_to IS NULL OR valid_to > $day) AND dong_code IS NOT NULL
        ),
        before AS (
            SELECT DISTINCT gu, dong_code FROM households
            WHERE valid_from <= $year_before AND (valid_to IS NULL OR valid_to > $year_before)
        )
        SELECT r.gu, count(*) AS households,
               count(*) FILTER (WHERE b.dong_code IS NULL) AS on_new_codes,
               count(DISTINCT r.dong_code) FILTER (WHERE b.dong_code IS NULL) AS new_codes
        FROM registered r LEFT JOIN before b USING (gu, dong_code)
        GROUP BY r.gu
        HAVING bool_or(r.gu IN (SELECT gu FROM before))
        """,
        {"day": day, "year_before": year_before},
    ).df()
    findings = _vanished(con, day, year_before) + _unknown_codes(con, day, year_before)
    for row in shares.itertuples():
        share = row.on_new_codes / row.households
        if share >= RECODED_SHARE:
            findings.append(
                Finding(
                    Grade.WARNING,
                    "dong_codes",
                    f"district {row.gu}",
                    f"district {row.gu}: {share:.0%} of its {row.households:,} households are on "
                    f"{row.new_codes} dong codes it did not have on {year_before}: its dongs were "
                    "re-coded, so lists asked for by the old codes come back empty",
                    share,
                )
            )
    return findings


VANISHED_HOUSEHOLDS = 50
"""A district with at least this many households a year before and none on the round's day has
lost its registry rows (a delivery cut short), not its people."""


def _vanished(con: duckdb.DuckDBPyConnection, day, year_before) -> list[Finding]:
    gone = con.execute(
        """
        SELECT gu, count(*) AS households FROM households
        WHERE valid_from <= $year_before AND (valid_to IS NULL OR valid_to > $year_before)
          AND gu NOT IN (
              SELECT DISTINCT gu FROM households
              WHERE valid_from <= $day AND (valid_to IS NULL OR valid_to > $day) AND gu IS NOT NULL
          )
        GROUP BY gu HAVING count(*) >= $least
        """,
        {"day": day, "year_before": year_before, "least": VANISHED_HOUSEHOLDS},
    ).df()
    return [
        Finding(
            Grade.ERROR,
            "registry",
            f"district {row.gu}",
            f"district {row.gu}: no registered household on {day}, against {row.households:,} on "
            f"{year_before}: its registry rows are missing from the delivery",
            float(row.households),
        )
        for row in gone.itertuples()
    ]


def _unknown_codes(con: duckdb.DuckDBPyConnection, day, year_before) -> list[Finding]:
    """Districts most of whose households carry a dong code validation blanked (not one of
    Seoul's dongs), where a year before few did."""
    shares = con.execute(
        """
        WITH share AS (
            SELECT gu,
                   count(*) FILTER (WHERE valid_from <= $day AND (valid_to IS NULL OR valid_to > $day))
                       AS households,
                   count(*) FILTER (WHERE valid_from <= $day AND (valid_to IS NULL OR valid_to > $day)
                                    AND dong_code IS NULL) AS unknown,
                   count(*) FILTER (WHERE valid_from <= $year_before
                                    AND (valid_to IS NULL OR valid_to > $year_before)) AS before,
                   count(*) FILTER (WHERE valid_from <= $year_before
                                    AND (valid_to IS NULL OR valid_to > $year_before)
                                    AND dong_code IS NULL) AS unknown_before
            FROM households GROUP BY gu
        )
        SELECT * FROM share WHERE households > 0 AND before > 0
        """,
        {"day": day, "year_before": year_before},
    ).df()
    findings = []
    for row in shares.itertuples():
        share, share_before = row.unknown / row.households, row.unknown_before / row.before
        if share >= RECODED_SHARE and share_before < RECODED_SHARE / 2:
            findings.append(
                Finding(
                    Grade.WARNING,
                    "dong_codes",
                    f"district {row.gu}",
                    f"district {row.gu}: {share:.0%} of its {row.households:,} households carry a dong "
                    f"code that is not one of Seoul's dongs (blanked by validation; {share_before:.0%} "
                    f"on {year_before}): its dongs were re-coded, so its lists by dong come back empty",
                    share,
                )
            )
    return findings
