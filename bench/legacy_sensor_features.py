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
    """Today's sensor features (before issue 13), one row per enrolled household."""
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
               avg(value) FILTER (WHERE NOT recent AND NOT daytime AND value > 0) AS night_baseline,
               count(*) FILTER (WHERE recent AND value > 0) AS live_hours_recent
        FROM power_hours GROUP BY hid
    ),
    other_means AS MATERIALIZED (
        -- Grouped by one packed integer (household number, channel, window): far cheaper than
        -- grouping tens of millions of rows by a text id.
        SELECT (e.hid << 2) + (r.channel = 'phone_events')::BIGINT * 2 + (r.ts >= $recent_start)::BIGINT AS slot,
               avg(r.value) AS mean
        FROM sensor_readings r JOIN enrolled e USING (household_id)
        WHERE r.channel <> 'power_w' AND r.ts >= $baseline_start AND r.ts < $day_end
        GROUP BY slot
    ),
    other_channels AS (
        SELECT slot >> 2 AS hid,
               max(mean) FILTER (WHERE slot & 3 = 3) AS phone_recent,
               max(mean) FILTER (WHERE slot & 3 = 2) AS phone_baseline,
               max(mean) FILTER (WHERE slot & 3 = 1) AS light_recent,
               max(mean) FILTER (WHERE slot & 3 = 0) AS light_baseline
        FROM other_means GROUP BY hid
    ),
    power_enrolled AS (
        SELECT DISTINCT household_id FROM sensor_enrollments
        WHERE service IN ('smart_plug', 'ami')
          AND enrolled_on <= $recent_start_day AND (ended_on IS NULL OR ended_on >= $as_of)
    ),
    calls AS (
        SELECT household_id, called_at, answered, risk_flag,
               count(*) FILTER (WHERE answered) OVER (
                   PARTITION BY household_id ORDER BY called_at DESC
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS answered_since
        FROM ai_calls WHERE called_at < $day_end
    ),
    call_summary AS (
        SELECT household_id,
               count(*) FILTER (WHERE answered_since = 0) AS unanswered_streak,
               avg(answered::INTEGER) FILTER (WHERE called_at >= $day_end - INTERVAL 84 DAY
                                              AND called_at < $day_end - INTERVAL 28 DAY) AS answer_before,
               avg(answered::INTEGER) FILTER (WHERE called_at >= $day_end - INTERVAL 28 DAY) AS answer_recent,
               count(*) FILTER (WHERE risk_flag AND called_at >= $day_end - INTERVAL 90 DAY) AS risk_flags
        FROM calls GROUP BY household_id
    )
    SELECT
        e.household_id,
        1 AS sensor_enrolled,
        p.inactive_recent AS sensor_inactive_share_7d,
        p.inactive_recent - p.inactive_baseline AS sensor_inactive_change,
        CASE WHEN p.hid IS NOT NULL THEN coalesce(lf.longest, 0) END::DOUBLE
            AS sensor_longest_flat_hours_7d,
        ln(p.day_baseline / p.night_baseline) - ln(p.day_recent / p.night_recent) AS sensor_day_night_change,
        CASE WHEN o.phone_baseline > 0 THEN 1 - o.phone_recent / o.phone_baseline END AS sensor_phone_drop,
        CASE WHEN o.light_baseline > 0 THEN 1 - o.light_recent / o.light_baseline END AS sensor_light_drop,
        CASE WHEN pe.household_id IS NOT NULL
             THEN {RECENT_DAYS * 24} - coalesce(p.live_hours_recent, 0) END::DOUBLE AS sensor_offline_hours_7d,
        c.unanswered_streak::DOUBLE AS ai_call_unanswered_streak,
        c.answer_before - c.answer_recent AS ai_call_answer_drop,
        c.risk_flags::DOUBLE AS ai_call_risk_flags_90d
    FROM enrolled e
    LEFT JOIN power_summary p USING (hid)
    LEFT JOIN longest_flat lf USING (hid)
    LEFT JOIN other_channels o USING (hid)
    LEFT JOIN power_enrolled pe USING (household_id)
    LEFT JOIN call_summary c USING (household_id)
    """
    day_end = as_of + pd.Timedelta(days=1)
    recent_start = day_end - pd.Timedelta(days=RECENT_DAYS)
    baseline_start = recent_start - pd.Timedelta(days=BASELINE_DAYS)
    hour = pd.Timedelta(hours=1)
    params = {
        "as_of": as_of.date(),
        "day_end": day_end,
        "recent_start": recent_start,
        "recent_start_day": recent_start.date(),
        "baseline_start": baseline_start,
        "first_hour": (baseline_start - pd.Timestamp(0)) // hour,
        "recent_hour": (recent_start - pd.Timestamp(0)) // hour,
    }
    return query, params
