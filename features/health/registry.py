"""The registry against itself a year before: a district whose dong codes were replaced.

A re-coded district still validates (every code is a non-empty string), and nothing in the model
reads a dong code, so its risks do not move; but a team asking for its dong by the code it has
always used gets an empty list, and every dong-level comparison with earlier rounds breaks. The
check compares the codes each district's registered households carry on the round's day with the
codes of the same district a year before.
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
    findings = _vanished(con, day, year_before)
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
