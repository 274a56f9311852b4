"""Cities that differ in what a model must not depend on.

A model tuned on one synthetic city learns that city's quirks: how often a visit mislabels a
household, who the national list sends teams to, how large the screening survey is, how the hidden
hazard is shaped, how late agencies report. A real city differs in all of these and says nothing
about them. Each variant changes some of them, so that training and evaluation can be shown to
hold across cities rather than on one (`anbu generate --variant NAME`, docs/synthetic-city.md).

`default` is the reference city. Its meters are realistic (synthetic/meters.py);
`flat_meters` is the same city with the earlier meters, flat whenever nobody is active.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_OUTCOME_GIVEN_STATE = (
    # isolated, at_risk, not_isolated, unreachable, moved, refused
    (0.005, 0.035, 0.75, 0.13, 0.03, 0.05),  # NONE
    (0.08, 0.50, 0.22, 0.10, 0.02, 0.08),  # AT_RISK
    (0.58, 0.14, 0.06, 0.11, 0.01, 0.10),  # ISOLATED
)

DEFAULT_HAZARD = {
    "intercept": -7.7,
    "alone": 1.2,
    "age_hump": 1.0,
    "age_hump_centre": 61.0,
    "age_hump_width": 12.0,
    "male": 0.45,
    "alone_male_50_69": 1.0,
    "vulnerable_housing": 0.7,
    "recipient": 0.4,
    "hardship": 1.3,
    "dropped": 0.7,
    "dropped_and_hardship": 1.0,
    "bereaved": 1.1,
    "split": 0.6,
    "young_alone_small_rented": 0.6,
    "alone_80_plus": 0.5,
    "disability": 0.3,
    "hardship_with_others": 0.0,
    "hardship_working_age": 0.0,
    "disability_over_65": 0.0,
    "frailty_sd": 0.7,
}
"""Coefficients of the monthly NONE → AT_RISK log-odds (latent.onset_logit)."""


@dataclass(frozen=True)
class CityVariant:
    name: str
    description: str
    outcome_given_state: tuple[tuple[float, ...], ...] = DEFAULT_OUTCOME_GIVEN_STATE
    """What a visit records given the household's true state (rows NONE, AT_RISK, ISOLATED)."""
    list_visit_share: float = 0.35
    """Share of the households on the bimonthly national list that a team visits."""
    list_min_indicators: int = 2
    """Distinct indicators in the last 90 days that put a household on the national list."""
    list_unreachable_extra: float = 0.12
    """Extra chance that a list visit finds nobody at the address."""
    sensor_alert_visit_share: float = 0.12
    survey_share: float = 0.015
    """Share of registered households a screening sweep visits."""
    survey_months: tuple[int, ...] = (4, 10)
    """Calendar months with a screening sweep."""
    hazard: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_HAZARD))
    report_lag_days: tuple[int, int] = (25, 96)
    """Days from an event's reference month to the agency's report (uniform, upper bound excluded)."""
    meters: str = "realistic"
    """`realistic` meters (standby bands, fridges, seasons, noise: synthetic/meters.py) or
    the earlier `flat` ones, flat to the decimal whenever nobody is active."""

    def outcome_table(self) -> np.ndarray:
        return np.asarray(self.outcome_given_state, dtype=float)

    def p_visit_positive(self) -> np.ndarray:
        """Chance, per true state, that one visit records isolated or at risk (the contract target)."""
        return self.outcome_table()[:, :2].sum(axis=1)


def _hazard(**changes: float) -> dict[str, float]:
    unknown = set(changes) - set(DEFAULT_HAZARD)
    if unknown:
        raise ValueError(f"unknown hazard terms: {sorted(unknown)}")
    return {**DEFAULT_HAZARD, **changes}


OTHER_HAZARD = _hazard(
    alone=0.7,
    age_hump=1.2,
    age_hump_centre=48.0,
    age_hump_width=9.0,
    male=0.15,
    alone_male_50_69=0.3,
    hardship=0.9,
    hardship_with_others=0.8,
    hardship_working_age=0.7,
    disability_over_65=0.8,
    frailty_sd=0.9,
)
"""The hidden hazard of `other_hazard` and `unfamiliar`: the age peak in the late 40s and narrower,
hardship weighing most on working-age households and those living with others."""


NOISY_VISIT_OUTCOMES = (
    (0.01, 0.06, 0.68, 0.16, 0.03, 0.06),
    (0.06, 0.38, 0.28, 0.15, 0.02, 0.11),
    (0.42, 0.14, 0.12, 0.17, 0.01, 0.14),
)
"""What a visit records by the household's state, when visits see less and mislabel more."""
VARIANTS: dict[str, CityVariant] = {
    variant.name: variant
    for variant in (
        CityVariant("default", "The reference city, with realistic meters."),
        CityVariant(
            "noisy_visits",
            "Visits see less and mislabel more: 7 % of fine households are recorded at risk, and "
            "troubled households are more often not at home or refuse.",
            outcome_given_state=NOISY_VISIT_OUTCOMES,
        ),
        CityVariant(
            "list_driven",
            "The national list flags anyone with one indicator and teams visit 60 % of it, often at an "
            "empty address; sensor alerts are visited three times as often.",
            list_visit_share=0.60,
            list_min_indicators=1,
            list_unreachable_extra=0.22,
            sensor_alert_visit_share=0.36,
        ),
        CityVariant(
            "small_survey",
            "Screening sweeps visit 0.6 % of households, not 1.5 %.",
            survey_share=0.006,
        ),
        CityVariant(
            "other_hazard",
            "A differently shaped hidden hazard: the age peak in the late 40s and narrower, hardship "
            "matters most for working-age households and for those living with others, living alone "
            "and sex matter less, disability matters after 65.",
            hazard=OTHER_HAZARD,
        ),
        CityVariant(
            "slow_reporting",
            "Agencies report two to six months after the month an event refers to.",
            report_lag_days=(55, 186),
        ),
        CityVariant(
            "unfamiliar",
            "Everything at once: noisy visits, list-driven outreach, small surveys, the other hazard "
            "and slow reporting.",
            outcome_given_state=NOISY_VISIT_OUTCOMES,
            list_visit_share=0.60,
            list_min_indicators=1,
            list_unreachable_extra=0.22,
            sensor_alert_visit_share=0.36,
            survey_share=0.006,
            hazard=OTHER_HAZARD,
            report_lag_days=(55, 186),
        ),
        CityVariant(
            "flat_meters",
            "The default city with the earlier synthetic meters: flat to the decimal whenever nobody "
            "is active (what the first sensor features were built on).",
            meters="flat",
        ),
    )
}
DEFAULT = VARIANTS["default"]


def variant(name: str) -> CityVariant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"no city variant {name!r}; choose one of {', '.join(VARIANTS)}") from None
