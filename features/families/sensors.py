"""Smart-sensor features, each against the household's own previous 60 days, never a fixed wattage.

A real meter is never flat: a fridge cycles, standby loads drift, so "no change" is not what an
empty home looks like. What an empty home looks like is its own quiet hours: the household's
standby band is read from its small hours (01:00-04:59) of the previous 60 days, its usual week
from the same hours of those weeks, and the last 7 days are measured against both. Every power
feature is unchanged when the whole series is multiplied by a constant or a constant load is
added (tests/features/families/test_sensors.py). Two kinds of change are kept apart: away-like
(whole days at standby, abruptly) and withdrawal-like (days that still have life in them, but
less of it and with a flatter rhythm). Device trouble is neither: a missing hour or an exact
zero (an unplugged plug) counts as offline time. Households without sensors get missing values.

At city scale this is the heaviest family (tens of millions of hourly readings per round), so
enrolled households get a small integer id and the reading window is read once.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from features.declaration import Feature, FeatureFamily

RECENT_DAYS = 7
BASELINE_DAYS = 60
SMALL_HOURS = (1, 4)
"""Hours 01:00-04:59: when a home that is lived in draws what it draws with nobody active."""
STANDBY_TOP_QUANTILE = 0.9
"""An hour is at standby when it is no higher than this quantile of the household's small hours."""
STANDBY_DAY_BUSY_HOURS = 2
"""A day with at most this many reported hours above standby (and at least half a day reported)
is a standby day: the whole day without activity, as when nobody is home."""
QUANTILE_SLACK = 1e-9
"""An hour exactly at the standby band's top is at standby whichever engine interpolated the
quantile (DuckDB, Spark and pandas differ in the last bits; meters read to 0.1 W)."""
DEVIATION_CLIP = 5.0
"""Robust deviations are clipped to ±this many spreads, so one odd hour cannot dominate a week."""
DAY_HOURS = (8, 21)
"""Hours 08:00-21:59 are day; the rest night, for the day/night rhythm."""
_EPOCH_HOUR_OF_WEEK = 72
"""1970-01-01 00:00 was a Thursday: hours since the epoch + 72, modulo 168, is the hour of the week
counted from Monday 00:00."""

CALL_BASELINE_DAYS = 84
"""AI check-in calls: the answer rate of the last CALL_RECENT_DAYS against the weeks before, back
to this many days."""
CALL_RECENT_DAYS = 28
CALL_RISK_DAYS = 90
"""The window of AI calls with risky words: about one quarter."""
METER_WINDOW_DAYS = BASELINE_DAYS + RECENT_DAYS
"""What a meter feature reads: the last week and the household's own 60 days before it."""

_RECENT = "최근 7일"
_POWER = (
    Feature(
        "sensor_standby_share_7d",
        f"{_RECENT} 전력이 대기 수준인 시간 비율(가구 자신의 새벽 시간 기준)",
        "share of hours at the household's own standby level (its small hours of the previous 60 days), last 7 days",
        "share",
        reason_ko=f"{_RECENT} 대기전력 수준인 시간 {{value}}",
        reason_en="power at its standby level in {value} of hours this week",
        window_days=METER_WINDOW_DAYS,
        reason_group="sensor_standby",
    ),
    Feature(
        "sensor_standby_change",
        "평소(이전 60일) 대비 대기 수준 시간 비율 변화",
        "change in the share of hours at standby level versus the household's previous 60 days",
        "share",
        reason_ko="평소보다 대기전력 시간 {value} 증가",
        reason_en="hours at standby level up {value} on its usual share",
        window_days=METER_WINDOW_DAYS,
        reason_group="sensor_standby",
    ),
    Feature(
        "sensor_longest_standby_hours_7d",
        f"{_RECENT} 대기 수준이 이어진 최장 시간",
        "longest run of hours at the household's standby level, last 7 days",
        "hours",
        reason_ko="{value}시간 연속 대기전력 수준",
        reason_en="{value} hour{s} in a row at standby power",
        window_days=METER_WINDOW_DAYS,
    ),
    Feature(
        "sensor_standby_days_7d",
        f"{_RECENT} 하루 종일 대기 수준이었던 날 수(부재와 비슷한 변화)",
        "days of the last 7 spent whole at standby level: an abrupt, away-like change",
        "days",
        reason_ko="{value}일 동안 종일 대기전력(부재 추정)",
        reason_en="{value} whole day{s} at standby power (as if away)",
        window_days=METER_WINDOW_DAYS,
    ),
    Feature(
        "sensor_power_drop_7d",
        "평소 같은 요일·시간 대비 대기전력 위 사용량 감소율",
        "drop in power use above standby versus the same hours of the household's usual week",
        "share",
        reason_ko="평소 같은 시간보다 전력 사용 {value} 감소",
        reason_en="power use {value} below its usual for these hours",
        window_days=METER_WINDOW_DAYS,
        reason_group="sensor_power_drop",
    ),
    Feature(
        "sensor_active_day_drop_7d",
        "활동이 있던 날의 평소 대비 전력 사용 감소율(점진적 위축)",
        "on days that still had activity, drop in power use versus the usual week: gradual, withdrawal-like",
        "share",
        reason_ko="활동하는 날에도 전력 사용 {value} 감소",
        reason_en="even on active days, power use {value} below usual",
        window_days=METER_WINDOW_DAYS,
        reason_group="sensor_power_drop",
    ),
    Feature(
        "sensor_power_deviation_7d",
        "평소 같은 요일·시간 대비 전력의 강건한 편차 점수(양수: 평소보다 낮음)",
        "robust deviation of the last 7 days from the same hours of the usual week, in the household's own spreads (positive: lower than usual)",
        "ratio",
        reason_ko="평소 같은 시간보다 전력 사용이 뚜렷이 낮음",
        reason_en="power use clearly below the same hours of a usual week",
    ),
    Feature(
        "sensor_rhythm_change",
        "활동일의 낮 사용 비중 감소(낮/밤 리듬 약화)",
        "fall in the daytime share of power above standby on active days, versus the previous 60 days",
        "share",
        reason_ko="낮·밤 생활 리듬 약화",
        reason_en="day and night rhythm flattening",
        window_days=METER_WINDOW_DAYS,
    ),
)

FEATURES = (
    Feature(
        "sensor_enrolled",
        "스마트 안부확인 서비스 이용 중",
        "enrolled in a smart welfare-check service",
        "flag",
        fill="zero",
    ),
    *_POWER,
    Feature(
        "sensor_phone_drop",
        "평소 같은 요일·시간 대비 휴대전화 사용 감소율",
        "drop in phone activity above its own night floor versus the same hours of the usual week",
        "share",
        reason_ko="휴대전화 사용 {value} 감소",
        reason_en="phone activity down {value}",
        window_days=METER_WINDOW_DAYS,
    ),
    Feature(
        "sensor_light_drop",
        "평소 같은 요일·시간 대비 조도 감소율",
        "drop in light above its own night floor versus the same hours of the usual week",
        "share",
        reason_ko="조명 사용 {value} 감소",
        reason_en="light use down {value}",
        window_days=METER_WINDOW_DAYS,
    ),
    Feature(
        "sensor_offline_hours_7d",
        f"{_RECENT} 기기 미수신·플러그 뽑힘 시간",
        "hours the device sent nothing or was unplugged, last 7 days",
        "hours",
        window_days=RECENT_DAYS,
    ),
    Feature(
        "ai_call_unanswered_streak",
        "AI 안부전화 연속 미응답 횟수",
        "consecutive unanswered AI check-in calls",
        "count",
        reason_ko="AI 안부전화 {value}회 연속 미응답",
        reason_en="{value} AI check-in call{s} unanswered in a row",
    ),
    Feature(
        "ai_call_answer_drop",
        "평소 대비 AI 안부전화 응답률 감소",
        "drop in AI-call answer rate, last 4 weeks versus the 8 before",
        "share",
        reason_ko="AI 안부전화 응답률 {value} 감소",
        reason_en="AI-call answer rate down {value}",
        window_days=CALL_BASELINE_DAYS,
    ),
    Feature(
        "ai_call_risk_flags_90d",
        "최근 90일 AI 안부전화 위험 발화 횟수",
        "AI calls with risky words, last 90 days",
        "count",
        reason_ko="최근 3개월 AI 통화 중 위험 발화 {value}회",
        reason_en="{value} AI call{s} with risky words in 3 months",
        window_days=CALL_RISK_DAYS,
    ),
)
POWER_FEATURES = tuple(f.name for f in _POWER)
"""The features read from a power meter against the household's own standby band and week."""


def _mean(expression: str, where: str | None = None) -> str:
    """The mean of a double, summed in integer micro-units: a parallel sum of doubles depends on
    the order rows arrive in, and the same delivery must give the same round, bit for bit (and
    the same on Spark)."""
    condition = f" FILTER (WHERE {where})" if where else ""
    return (
        f"(sum(CAST(round(({expression}) * 1e6) AS BIGINT)){condition} / 1e6"
        f" / nullif(count({expression}){condition}, 0))"
    )


def sensor_query(as_of: pd.Timestamp) -> tuple[str, dict]:
    """One row per household enrolled in any smart service at the end of `as_of`."""
    query = f"""
    WITH enrolled AS (
        SELECT household_id, (row_number() OVER (ORDER BY household_id))::BIGINT AS hid
        FROM (SELECT DISTINCT household_id FROM sensor_enrollments
              WHERE enrolled_on <= $as_of AND (ended_on IS NULL OR ended_on >= $as_of))
    ),
    window_hours AS MATERIALIZED (
        -- The window's readings once, in four narrow columns (a city's window is ~90 M rows):
        -- the hour is counted from the start of the baseline, so it fits a SMALLINT.
        SELECT e.hid::INTEGER AS hid,
               (CASE r.channel WHEN 'power_w' THEN 0 WHEN 'light_lux' THEN 1 ELSE 2 END)::TINYINT AS ch,
               (epoch(r.ts)::BIGINT // 3600 - $first_hour)::SMALLINT AS h,
               r.value
        FROM sensor_readings r JOIN enrolled e USING (household_id)
        WHERE r.ts >= $baseline_start AND r.ts < $day_end
          -- An exact zero on the power channel is an unplugged plug: offline, not quiet.
          AND NOT (r.channel = 'power_w' AND r.value <= 0)
    ),
    marked AS (
        SELECT hid, ch, h, value,
               h >= {BASELINE_DAYS * 24} AS recent,
               (h + $first_hour_of_week) % 168 AS how,
               h % 24 BETWEEN {SMALL_HOURS[0]} AND {SMALL_HOURS[1]} AS small_hours,
               h % 24 BETWEEN {DAY_HOURS[0]} AND {DAY_HOURS[1]} AS daytime,
               (h - {BASELINE_DAYS * 24}) // 24 AS day
        FROM window_hours
    ),
    standby AS (
        SELECT hid, median(value) AS standby_w, quantile_cont(value, {STANDBY_TOP_QUANTILE}) AS standby_top_w
        FROM marked WHERE ch = 0 AND NOT recent AND small_hours GROUP BY hid
    ),
    usual_power AS (
        -- The median for deviations (robust to one odd hour), the mean for levels (what a week sums to).
        SELECT hid, how, median(value) AS usual_w, {_mean("value")} AS usual_mean_w
        FROM marked WHERE ch = 0 AND NOT recent GROUP BY hid, how
    ),
    power_hours AS MATERIALIZED (
        SELECT m.hid, m.h, m.recent, m.daytime, m.day,
               m.value <= s.standby_top_w + {QUANTILE_SLACK} AS at_standby,
               greatest(m.value - s.standby_w, 0) AS above,
               -- greatest() skips a NULL in DuckDB and Spark alike: an hour without a usual
               -- level must stay unknown, not become zero.
               CASE WHEN u.usual_mean_w IS NOT NULL THEN greatest(u.usual_mean_w - s.standby_w, 0) END
                   AS usual_above,
               m.value - u.usual_w AS residual
        FROM marked m JOIN standby s USING (hid) LEFT JOIN usual_power u USING (hid, how)
        WHERE m.ch = 0
    ),
    spread AS (
        SELECT hid, median(abs(residual)) AS spread_w
        FROM power_hours WHERE NOT recent AND residual IS NOT NULL GROUP BY hid
    ),
    deviations AS (
        SELECT p.hid, p.recent,
               {_mean(f"CASE WHEN sp.spread_w > 0 THEN greatest(least(p.residual / sp.spread_w, {DEVIATION_CLIP}), -{DEVIATION_CLIP}) END")}
                   AS deviation
        FROM power_hours p JOIN spread sp USING (hid) GROUP BY p.hid, p.recent
    ),
    power_days AS (
        SELECT hid, day,
               count(*) >= 12 AND count(*) FILTER (WHERE NOT at_standby) <= {STANDBY_DAY_BUSY_HOURS}
                   AS standby_day
        FROM power_hours WHERE recent GROUP BY hid, day
    ),
    recent_power AS MATERIALIZED (
        SELECT p.*, d.standby_day FROM power_hours p JOIN power_days d USING (hid, day) WHERE p.recent
    ),
    longest_standby AS (
        SELECT hid, max(run_hours) AS longest
        FROM (
            SELECT hid, count(*) AS run_hours
            FROM (SELECT hid, h - row_number() OVER (PARTITION BY hid ORDER BY h) AS run
                  FROM recent_power WHERE at_standby)
            GROUP BY hid, run
        )
        GROUP BY hid
    ),
    power_recent AS (
        SELECT r.hid,
               avg(r.at_standby::INTEGER) AS standby_share,
               count(DISTINCT r.day) FILTER (WHERE r.standby_day) AS standby_days,
               {_mean("r.above", "r.usual_above IS NOT NULL")}
                   / nullif({_mean("r.usual_above")}, 0) AS level,
               {_mean("r.above", "r.usual_above IS NOT NULL AND NOT r.standby_day")}
                   / nullif({_mean("r.usual_above", "NOT r.standby_day")}, 0) AS active_day_level,
               {_mean("r.above", "r.daytime AND NOT r.standby_day")} AS day_above,
               {_mean("r.above", "NOT r.daytime AND NOT r.standby_day")} AS night_above,
               count(*) AS live_hours
        FROM recent_power r
        GROUP BY r.hid
    ),
    power_baseline AS (
        SELECT hid,
               avg(at_standby::INTEGER) AS standby_share,
               {_mean("above", "daytime")} AS day_above,
               {_mean("above", "NOT daytime")} AS night_above
        FROM power_hours WHERE NOT recent GROUP BY hid
    ),
    other_floor AS (
        SELECT hid, ch, {_mean("value")} AS floor
        FROM marked WHERE ch > 0 AND NOT recent AND small_hours GROUP BY hid, ch
    ),
    usual_other AS (
        SELECT hid, ch, how, {_mean("value")} AS usual
        FROM marked WHERE ch > 0 AND NOT recent GROUP BY hid, ch, how
    ),
    other_levels AS (
        -- Light and phone against their own floor and usual week, as for power.
        SELECT m.hid,
               {_mean("greatest(m.value - f.floor, 0)", "m.ch = 1 AND u.usual IS NOT NULL")}
                   / nullif({_mean("greatest(u.usual - f.floor, 0)", "m.ch = 1 AND u.usual IS NOT NULL")}, 0)
                   AS light_level,
               {_mean("greatest(m.value - f.floor, 0)", "m.ch = 2 AND u.usual IS NOT NULL")}
                   / nullif({_mean("greatest(u.usual - f.floor, 0)", "m.ch = 2 AND u.usual IS NOT NULL")}, 0)
                   AS phone_level
        FROM marked m JOIN other_floor f USING (hid, ch) LEFT JOIN usual_other u USING (hid, ch, how)
        WHERE m.ch > 0 AND m.recent
        GROUP BY m.hid
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
               avg(answered::INTEGER) FILTER (WHERE called_at >= $day_end - INTERVAL {CALL_BASELINE_DAYS} DAY
                                              AND called_at < $day_end - INTERVAL {CALL_RECENT_DAYS} DAY)
                   AS answer_before,
               avg(answered::INTEGER) FILTER (WHERE called_at >= $day_end - INTERVAL {CALL_RECENT_DAYS} DAY)
                   AS answer_recent,
               count(*) FILTER (WHERE risk_flag AND called_at >= $day_end - INTERVAL {CALL_RISK_DAYS} DAY)
                   AS risk_flags
        FROM calls GROUP BY household_id
    )
    SELECT
        e.household_id,
        1 AS sensor_enrolled,
        p.standby_share AS sensor_standby_share_7d,
        p.standby_share - b.standby_share AS sensor_standby_change,
        CASE WHEN p.hid IS NOT NULL THEN coalesce(ls.longest, 0) END::DOUBLE AS sensor_longest_standby_hours_7d,
        p.standby_days::DOUBLE AS sensor_standby_days_7d,
        1 - p.level AS sensor_power_drop_7d,
        1 - p.active_day_level AS sensor_active_day_drop_7d,
        dv_base.deviation - dv_recent.deviation AS sensor_power_deviation_7d,
        b.day_above / nullif(b.day_above + b.night_above, 0)
            - p.day_above / nullif(p.day_above + p.night_above, 0) AS sensor_rhythm_change,
        1 - o.phone_level AS sensor_phone_drop,
        1 - o.light_level AS sensor_light_drop,
        CASE WHEN pe.household_id IS NOT NULL
             THEN {RECENT_DAYS * 24} - coalesce(p.live_hours, 0) END::DOUBLE AS sensor_offline_hours_7d,
        c.unanswered_streak::DOUBLE AS ai_call_unanswered_streak,
        c.answer_before - c.answer_recent AS ai_call_answer_drop,
        c.risk_flags::DOUBLE AS ai_call_risk_flags_90d
    FROM enrolled e
    LEFT JOIN power_recent p USING (hid)
    LEFT JOIN power_baseline b USING (hid)
    LEFT JOIN longest_standby ls USING (hid)
    LEFT JOIN deviations dv_recent ON dv_recent.hid = e.hid AND dv_recent.recent
    LEFT JOIN deviations dv_base ON dv_base.hid = e.hid AND NOT dv_base.recent
    LEFT JOIN other_levels o USING (hid)
    LEFT JOIN power_enrolled pe USING (household_id)
    LEFT JOIN call_summary c USING (household_id)
    """
    day_end = as_of.normalize() + pd.Timedelta(days=1)
    recent_start = day_end - pd.Timedelta(days=RECENT_DAYS)
    baseline_start = recent_start - pd.Timedelta(days=BASELINE_DAYS)
    first_hour = (baseline_start - pd.Timestamp(0)) // pd.Timedelta(hours=1)
    params = {
        "as_of": as_of.date(),
        "day_end": day_end,
        "recent_start_day": recent_start.date(),
        "baseline_start": baseline_start,
        "first_hour": first_hour,
        # The window starts at midnight, so h % 24 is the hour of the day.
        "first_hour_of_week": (first_hour + _EPOCH_HOUR_OF_WEEK) % 168,
    }
    return query, params


def sensor_features(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    query, params = sensor_query(as_of)
    return con.execute(query, params).df()


FAMILY = FeatureFamily(
    "sensor",
    "smart sensors and AI check-in calls, each against the household's own previous weeks",
    sensor_query,
    FEATURES,
)
