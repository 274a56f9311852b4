"""What a list's calibrated risks say its visits will find, before anyone goes out.

A risk is the chance that a visit in the 90 days after the round finds the household isolated or
at risk (the contract's target), so a list's expected finds are the sum of its risks. Households'
findings are taken as independent, so the number found follows a Poisson-binomial distribution;
its 90 % interval tells a team how far from the expectation a normal round lands. When the visits
come back, a count outside that interval says the model's realised precision has moved: tracked
round by round, without waiting for a retraining.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.estimates import CONFIDENCE

EXACT_UP_TO = 5_000
"""Lists up to this many households get the exact distribution (one convolution per household,
O(n²)); longer ones (a whole district's export) its normal approximation, which is then close."""


@dataclass(frozen=True)
class ExpectedFinds:
    households: int
    expected: float
    low: int
    high: int
    """The central CONFIDENCE interval of the number found, in whole households."""

    def holds(self, found: int) -> bool:
        return self.low <= found <= self.high

    @property
    def sentence_ko(self) -> str:
        return (
            f"이번 목록 {self.households}가구 중 약 {self.expected:.0f}가구에서 고립·위험 발견 예상 "
            f"(90 % 범위 {self.low}–{self.high}가구)"
        )

    @property
    def sentence_en(self) -> str:
        return (
            f"of the {self.households} households on this list, visits are expected to find about "
            f"{self.expected:.0f} isolated or at risk (90 % range {self.low}–{self.high})"
        )


def expected_finds(risks: np.ndarray) -> ExpectedFinds:
    """The expected number found on a list of households with these calibrated risks."""
    risk = np.clip(np.asarray(risks, dtype=float), 0.0, 1.0)
    risk = risk[np.isfinite(risk)]
    tail = (1 - CONFIDENCE) / 2
    if len(risk) == 0:
        return ExpectedFinds(0, 0.0, 0, 0)
    if len(risk) <= EXACT_UP_TO:
        cumulative = np.cumsum(_poisson_binomial(risk))
        low = int(np.searchsorted(cumulative, tail, side="left"))
        high = int(np.searchsorted(cumulative, 1 - tail, side="left"))
    else:
        from scipy import stats  # noqa: PLC0415

        spread = float(np.sqrt((risk * (1 - risk)).sum()))
        low, high = (
            int(np.floor(stats.norm.ppf(tail, risk.sum(), spread) + 0.5)),
            int(np.ceil(stats.norm.ppf(1 - tail, risk.sum(), spread) - 0.5)),
        )
    return ExpectedFinds(len(risk), float(risk.sum()), max(low, 0), min(high, len(risk)))


def _poisson_binomial(risk: np.ndarray) -> np.ndarray:
    """P(exactly k found), k = 0..n: one household at a time, each found or not."""
    distribution = np.zeros(len(risk) + 1)
    distribution[0] = 1.0
    for count, p in enumerate(risk, start=1):
        distribution[1 : count + 1] = distribution[1 : count + 1] * (1 - p) + distribution[:count] * p
        distribution[0] *= 1 - p
    return distribution
