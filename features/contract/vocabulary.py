"""The contract's allowed values (features/reference/SOURCES.md), in plain Python.

Apart from the pandera models in schemas.py (which re-exports these) so that what only needs a
value list — the service's request models, the records, the list commands — does not load pandera
to get it (`anbu rank` starts in under two seconds; bench/cli_start.py).
"""

from __future__ import annotations

HOUSING_TYPES = (
    "apartment",
    "multi_family",
    "detached",
    "officetel",
    "semi_basement",
    "gosiwon",
    "other",
)
TENURES = ("owner", "jeonse", "monthly_rent", "public_rental", "other")
LIVELIHOOD_STATUSES = ("none", "applied", "recipient", "dropped")
SENSOR_SERVICES = ("smart_plug", "ami", "ai_call", "phone_activity")
SENSOR_CHANNELS = ("power_w", "light_lux", "phone_events")
CONTACT_CHANNELS = ("phone", "chat")
CONTACT_TOPICS = ("loneliness_talk", "information", "crisis")
VISIT_TRIGGERS = ("system_list", "sensor_alert", "referral", "survey", "call_120")
VISIT_OUTCOMES = ("isolated", "at_risk", "not_isolated", "unreachable", "moved", "refused")
POSITIVE_OUTCOMES = ("isolated", "at_risk")
"""Visit outcomes that make a household a positive case (contract: Target)."""

PROTECTED_ATTRIBUTES = ("head_sex", "disability")

SENSOR_VALUE_MAXIMUM = {"power_w": 50_000.0, "light_lux": 200_000.0, "phone_events": 3_600.0}
"""Largest physically plausible hourly value per channel; anything above is a device fault."""

SURVEY_DRAW_VOUCHES_DAYS = 180
"""A screening sweep's draw vouches for the survey visits of its households in the 180 days after
it, not for ever: a sweep visits its sample within a season, and a draw from a sweep long past says
nothing about who chose today's visit (anbu's rule for survey labels, in the API and the evaluation)."""
