"""Crisis events as agencies report them: clustered, lagged, and more frequent near isolation.

Hardship brings arrears together (electricity, gas, telecom, insurance: one household in trouble
stops paying several bills at once), with months overdue growing while it lasts and cut-offs after
a few months. Isolation brings its own traces (unclaimed care, neglected bills, suicide-risk
registration) and many isolated households show none at all. Every household also gets a little
background noise. Reports reach the city one to three months after the month they refer to (a
city variant may be slower), and
an indicator appears only from the year it started to be collected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.reference import indicator_catalogue
from synthetic.latent import LatentLives
from synthetic.period import Period
from synthetic.registry import EVENT_TYPES, RegistryDynamics

NEW_CODE = "ENERGY_VOUCHER_UNUSED"
"""An indicator the catalogue does not list yet, delivered in the last months (as in real deliveries)."""

TYPICAL_MONTHLY_KRW = {
    "ELEC_ARREARS": 55_000,
    "WATER_ARREARS": 30_000,
    "GAS_ARREARS": 75_000,
    "TELECOM_ARREARS": 70_000,
    "MGMT_FEE_ARREARS": 180_000,
    "PUBLIC_RENT_ARREARS": 250_000,
    "HEALTH_INS_ARREARS": 110_000,
    "PENSION_ARREARS": 210_000,
    "PENSION_EMERGENCY_LOAN": 4_000_000,
    "FIN_DELINQUENCY": 4_500_000,
    "MEDICAL_EXCESS": 2_500_000,
    "MEDICAL_CATASTROPHIC": 6_000_000,
}
"""Rough typical amounts; arrears grow with months overdue, one-off amounts do not."""

OVERDUE_INDICATORS = frozenset(
    {
        "ELEC_ARREARS",
        "WATER_ARREARS",
        "GAS_ARREARS",
        "TELECOM_ARREARS",
        "MGMT_FEE_ARREARS",
        "PUBLIC_RENT_ARREARS",
        "HEALTH_INS_ARREARS",
        "PENSION_ARREARS",
        "FIN_DELINQUENCY",
    }
)


def _run_length(flags: np.ndarray) -> np.ndarray:
    """For each month, how many consecutive months the flag has been on (0 where off)."""
    run = np.zeros(flags.shape, dtype=np.int16)
    for m in range(flags.shape[1]):
        run[:, m] = np.where(flags[:, m], (run[:, m - 1] if m else 0) + 1, 0)
    return run


def _monthly_probabilities(households: pd.DataFrame, lives: LatentLives) -> dict[str, np.ndarray]:
    """Probability of each indicator for each household-month (n, months)."""
    age = (households["moved_in"].dt.year.max() - households["head_birth_year"]).to_numpy()[:, None]
    housing = households["housing_type"].to_numpy()[:, None]
    tenure = households["tenure"].to_numpy()[:, None]
    hard = lives.hardship
    long_hard = _run_length(hard)
    at_risk = lives.state == 1
    isolated = lives.state == 2
    troubled = at_risk | isolated
    working_age = age < 62
    zero = np.zeros(hard.shape)
    return {
        "ELEC_ARREARS": 0.0006 + 0.30 * hard + 0.10 * isolated + 0.03 * at_risk,
        "GAS_ARREARS": 0.0005 + 0.24 * hard + 0.06 * isolated,
        "WATER_ARREARS": 0.0003 + 0.10 * hard + 0.03 * isolated,
        "TELECOM_ARREARS": 0.0006 + 0.26 * hard + 0.08 * isolated + 0.02 * at_risk,
        "HEALTH_INS_ARREARS": 0.0003 + 0.24 * (long_hard >= 3) + 0.06 * isolated,
        "PENSION_ARREARS": (0.00025 + 0.10 * hard) * working_age,
        "MGMT_FEE_ARREARS": (0.0004 + 0.18 * (long_hard >= 3) + 0.06 * isolated) * (housing == "apartment"),
        "PUBLIC_RENT_ARREARS": (0.0005 + 0.25 * hard + 0.05 * isolated) * (tenure == "public_rental"),
        "FIN_DELINQUENCY": 0.0004 + 0.07 * hard,
        "ELEC_CUTOFF": 0.035 * (long_hard >= 3) + 0.01 * isolated * hard,
        "GAS_CUTOFF": 0.04 * (long_hard >= 3),
        "WATER_CUTOFF": 0.01 * (long_hard >= 4),
        "HOUSING_VULNERABLE": 0.03 * (housing == "gosiwon") + zero,
        "CARE_UNCLAIMED": (0.05 * isolated + 0.02 * at_risk) * (age >= 50),
        "MEDICAL_EXCESS": 0.0006 + 0.012 * troubled,
        "MEDICAL_CATASTROPHIC": 0.0002 + 0.004 * troubled,
        "SEVERE_ILLNESS": 0.0004 * (age / 50) + 0.008 * isolated,
        "LTC_GRADE": (0.0006 + 0.01 * isolated) * (age >= 68),
        "SUICIDE_RISK": 2.5e-05 + 0.01 * isolated + 0.004 * at_risk,
        "EMPLOYMENT_CRISIS": (0.00075 + 0.04 * hard + 0.02 * isolated) * working_age,
        "BUSINESS_CLOSURE": (0.0004 + 0.01 * hard) * working_age,
        "DISASTER_DAMAGE": 0.0001 + zero,
        "PENSION_EMERGENCY_LOAN": (0.00015 + 0.01 * hard) * (age >= 60),
        "DEBT_ADJ_DROPOUT": 0.0001 + 0.01 * hard,
    }


_REGISTRY_INDICATORS = {
    "dropped": "BENEFIT_DROPPED",
    "applied": "BENEFIT_APPLIED",
    "head_death": "HEAD_DEATH",
    "split": "HOUSEHOLD_SPLIT",
}


def crisis_events(
    households: pd.DataFrame,
    dynamics: RegistryDynamics,
    lives: LatentLives,
    registered: np.ndarray,
    period: Period,
    rng: np.random.Generator,
    report_lag_days: tuple[int, int] = (25, 96),
) -> pd.DataFrame:
    """crisis_events rows for these households over the period, as delivered on `delivered_on`.

    `report_lag_days`: the range of days from an event's reference month to its report."""
    months = period.months
    since = dict(zip(indicator_catalogue()["code"], indicator_catalogue()["since"], strict=True))
    hard_run = _run_length(lives.hardship)
    trouble_run = _run_length(lives.state >= 1)
    parts: list[pd.DataFrame] = []
    for code, probability in _monthly_probabilities(households, lives).items():
        allowed = months.year >= since[code]
        draws = (rng.random(probability.shape) < probability) & registered & allowed[None, :]
        rows, cols = np.nonzero(draws)
        overdue = np.maximum(hard_run[rows, cols], trouble_run[rows, cols]).clip(1, 24)
        parts.append(_event_frame(households, code, rows, cols, overdue, months, rng, report_lag_days))
    for kind, code in _REGISTRY_INDICATORS.items():
        rows = np.flatnonzero((dynamics.event_type == EVENT_TYPES.index(kind)) & (dynamics.event_month >= 0))
        cols = dynamics.event_month[rows]
        keep = months.year[cols] >= since[code]
        parts.append(
            _event_frame(
                households, code, rows[keep], cols[keep], np.ones(keep.sum()), months, rng, report_lag_days
            )
        )
    late = np.zeros(registered.shape, dtype=bool)
    late[:, -3:] = True
    rows, cols = np.nonzero(late & lives.hardship & registered & (rng.random(registered.shape) < 0.05))
    parts.append(
        _event_frame(households, NEW_CODE, rows, cols, np.ones(len(rows)), months, rng, report_lag_days)
    )
    events = pd.concat(parts, ignore_index=True)
    events = events[events["reported_on"] < period.delivered_on]
    return events.sort_values(["household_id", "reference_month", "indicator"], ignore_index=True)


def _event_frame(
    households: pd.DataFrame,
    code: str,
    rows: np.ndarray,
    cols: np.ndarray,
    overdue: np.ndarray,
    months: pd.DatetimeIndex,
    rng: np.random.Generator,
    report_lag_days: tuple[int, int],
) -> pd.DataFrame:
    reference = months[cols]
    lag_days = rng.integers(*report_lag_days, len(rows))
    typical = TYPICAL_MONTHLY_KRW.get(code)
    overdue = np.asarray(overdue, dtype=np.int64)
    if typical is None:
        amount = np.full(len(rows), np.nan)
    else:
        scale = overdue if code in OVERDUE_INDICATORS else 1
        amount = np.round(typical * scale * rng.lognormal(0.0, 0.45, len(rows)), -2)
    return pd.DataFrame(
        {
            "household_id": households["household_id"].to_numpy()[rows],
            "indicator": code,
            "reference_month": reference,
            "reported_on": reference + pd.to_timedelta(lag_days, unit="D"),
            "amount_krw": amount,
            "months_overdue": pd.array(np.where(code in OVERDUE_INDICATORS, overdue, 0), dtype="Int64")
            if code in OVERDUE_INDICATORS
            else pd.array([pd.NA] * len(rows), dtype="Int64"),
        }
    )
