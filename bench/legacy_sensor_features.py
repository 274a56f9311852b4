"""The sensor features anbu computed before issue 13, kept as a baseline for bench/sensors.py.

They count an hour as inactive when its mean power moved less than FLAT_WATTS from the hour
before — true of the earlier synthetic meters whenever nobody was active, almost never of a real
meter (a fridge cycles, standby loads drift). The benchmark shows what that costs; nothing in
the product reads this module.
"""

from __future__ import annotations

import pandas as pd

RECENT_DAYS = 7
BASELINE_DAYS = 60
FLAT_WATTS = 2.0
"""An hour whose mean power moved less than this from the hour before counts as without change."""
DAY_HOURS = (8, 21)
"""Hours 08:00-21:59 are day; the rest night, for the day/night rhythm."""
_HOUR_BITS = 20
"""Room for the hour offset in the packed key (2**20 hours is far more than the 67-day window)."""


def legacy_sensor_query(as_of: pd.Timestamp) -> tuple[str, dict]:
    """Today's power features (before issue 13), one row per enrolled household: the four the
    benchmark compares; the light, phone, offline and AI-call features were the product's and are
    not restated here."""
    query = f"""
    WITH enrolled AS (
        SELECT household_id, (row_number() OVER (ORDER BY household_id))::BIGINT AS hid
        FROM (SELECT DISTINCT household_id FROM sensor_enrollments
              WHERE enrolled_on <= $as_of AND (ended_on IS NULL OR ended_on >= $as_of))
    ),
    power AS (
        SELECT (e.hid << {_HOUR_BITS}) + (epoch(r.ts)::BIGINT // 3600 - $first_hour) AS key, r.value
        FROM sensor_readings r JOIN enrolled e USING (household_id)
        WHERE r.channel = 'power_w' AND r.ts >= $baseline_start AND r.ts < $day_end
    ),
    power_hours AS MATERIALIZED (
        -- Ordered by one integer key, "the row before" is the household's previous hour exactly
        -- when its key is key - 1; a sort on one integer beats a window partitioned by text, and
        -- the sort carries only the key and the value (household and hour are in the key).
        SELECT key >> {_HOUR_BITS} AS hid,
               (key & {(1 << _HOUR_BITS) - 1}) + $first_hour AS hour_index,
               value,
               (key & {(1 << _HOUR_BITS) - 1}) + $first_hour >= $recent_hour AS recent,
               CASE WHEN lag(key) OVER w = key - 1 AND value > 0 AND lag(value) OVER w > 0
                    THEN abs(value - lag(value) OVER w) < {FLAT_WATTS} END AS flat,
               ((key & {(1 << _HOUR_BITS) - 1}) + $first_hour) % 24 BETWEEN {DAY_HOURS[0]} AND {DAY_HOURS[1]}
                   AS daytime
        FROM power WINDOW w AS (ORDER BY key)
    ),
    longest_flat AS (
        SELECT hid, max(run_hours) AS longest
        FROM (
            SELECT hid, count(*) AS run_hours
            FROM (SELECT hid, hour_index - row_number() OVER (PARTITION BY hid ORDER BY hour_index) AS run
                  FROM power_hours WHERE recent AND flat)
            GROUP BY hid, run
        )
        GROUP BY hid
    ),
    power_summary AS (
        SELECT hid,
               avg(flat::INTEGER) FILTER (WHERE recent) AS inactive_recent,
               avg(flat::INTEGER) FILTER (WHERE NOT recent) AS inactive_baseline,
               avg(value) FILTER (WHERE recent AND daytime AND value > 0) AS day_recent,
               avg(value) FILTER (WHERE recent AND NOT daytime AND value > 0) AS night_recent,
               avg(value) FILTER (WHERE NOT recent AND daytime AND value > 0) AS day_baseline,
               avg(value) FILTER (WHERE NOT recent AND NOT daytime AND value > 0) AS night_baseline
        FROM power_hours GROUP BY hid
    )
    SELECT
        e.household_id,
        1 AS sensor_enrolled,
        p.inactive_recent AS sensor_inactive_share_7d,
        p.inactive_recent - p.inactive_baseline AS sensor_inactive_change,
        CASE WHEN p.hid IS NOT NULL THEN coalesce(lf.longest, 0) END::DOUBLE
            AS sensor_longest_flat_hours_7d,
        ln(p.day_baseline / p.night_baseline) - ln(p.day_recent / p.night_recent) AS sensor_day_night_change
    FROM enrolled e
    LEFT JOIN power_summary p USING (hid)
    LEFT JOIN longest_flat lf USING (hid)
    """
    day_end = as_of + pd.Timedelta(days=1)
    recent_start = day_end - pd.Timedelta(days=RECENT_DAYS)
    baseline_start = recent_start - pd.Timedelta(days=BASELINE_DAYS)
    hour = pd.Timedelta(hours=1)
    params = {
        "as_of": as_of.date(),
        "day_end": day_end,
        "baseline_start": baseline_start,
        "first_hour": (baseline_start - pd.Timestamp(0)) // hour,
        "recent_hour": (recent_start - pd.Timestamp(0)) // hour,
    }
    return query, params
