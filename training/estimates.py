"""What a model's whole-city list would find, estimated from the survey alone, with intervals.

Every figure here is a functional of (what a visit found, how many households a row stands for,
which list a household is on): evaluated on the survey sample with its weights it is the
estimate; evaluated on every household with what a visit would find there (a synthetic city's
`census_found`) it is the quantity the estimate is for. Writing each figure once and applying it
to both is what makes "the same quantity" the same (bench/estimates.py checks the intervals cover).

Lists are always the whole city's: a team visits the top of the city's ranking, not the top of
the survey. Intervals are 90 %: Wilson intervals for shares (precision and recall at capacity,
see `share_estimate`), the calibration error's own (see `calibration_error`), and percentile
intervals from `scipy.stats.bootstrap` over survey households for everything else. Each estimate carries the
number of survey households behind it, because at 1 % capacity of a small city that may be a
handful, and the interval then says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from training.figures import Estimated

CONFIDENCE = 0.90
RESAMPLES = 2_000
CALIBRATION_BINS = 10
"""Deciles of the city's served risk: with a few hundred survey households, finer bins measure the
survey's noise rather than the model's calibration."""


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    households: int
    """Survey households the estimate rests on (for a census figure: every household)."""

    def quoted(self, *, share: float | None = None, rival_households: int | None = None) -> Estimated:
        """As the evaluation records it (training/figures.py), with a comparison's capacity."""
        return Estimated(self.value, self.low, self.high, self.households, share, rival_households)

    def covers(self, value: float) -> bool:
        return bool(self.low - 1e-12 <= value <= self.high + 1e-12)

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}] (n={self.households})"


@dataclass(frozen=True)
class Sample:
    """Rows to evaluate on: what a visit found, how many households each row stands for, and
    per-household columns (list membership, bin, group codes) aligned with them."""

    found: np.ndarray
    weight: np.ndarray
    columns: dict[str, np.ndarray]

    @classmethod
    def survey(cls, found: np.ndarray, weight: np.ndarray, positions: np.ndarray, columns: dict) -> Sample:
        return cls(
            np.asarray(found, float),
            np.asarray(weight, float),
            {k: np.asarray(v)[positions] for k, v in columns.items()},
        )

    @classmethod
    def census(cls, found: np.ndarray, columns: dict) -> Sample:
        """Every household, each standing for itself; one without a finding (NaN) counts for none."""
        found = np.asarray(found, float)
        known = np.isfinite(found)
        return cls(
            np.where(known, found, 0.0), known.astype(float), {k: np.asarray(v) for k, v in columns.items()}
        )

    def __len__(self) -> int:
        return len(self.found)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def list_found_share(found, weight, member, axis=-1):
    """Share of a list's households a visit finds isolated or at risk (precision at capacity)."""
    return _safe_ratio((weight * found * member).sum(axis), (weight * member).sum(axis))


def list_recall(found, weight, member, axis=-1):
    """Share of everyone a visit would find that the list reaches (recall at capacity)."""
    return _safe_ratio((weight * found * member).sum(axis), (weight * found).sum(axis))


def list_gain(found, weight, member, other, axis=-1):
    """How much more often a visit finds trouble on one list than on another (paired)."""
    return list_found_share(found, weight, member, axis) - list_found_share(found, weight, other, axis)


def curve_gain(found, weight, *lists, axis=-1):
    """How much more often a visit finds trouble on one ranking's lists than on another's, over
    the lists at several capacities pooled: `lists` holds (member, other) for each capacity. A
    household on the lists at several capacities counts at each, so the top of a ranking weighs
    most; a capacity whose lists hold no survey household adds nothing, in the sample and in
    every resample alike (no capacity is dropped from one and kept in another)."""

    def pooled(lists_of_one):
        reached = sum((weight * found * member).sum(axis) for member in lists_of_one)
        listed = sum((weight * member).sum(axis) for member in lists_of_one)
        return _safe_ratio(reached, listed)

    return pooled(lists[0::2]) - pooled(lists[1::2])


def list_lift(found, weight, member, other, axis=-1):
    return _safe_ratio(
        list_found_share(found, weight, member, axis), list_found_share(found, weight, other, axis)
    )


def mean_risk_ratio(found, weight, risk, axis=-1):
    """Mean served risk over mean finding: 1.0 when the scores mean what visits find, on average."""
    return _safe_ratio((weight * risk).sum(axis), (weight * found).sum(axis))


def group_recall_ratios(found, weight, member, codes, groups: int, axis=-1):
    """Each group's recall at capacity over everyone's (one value per group code 0..groups-1)."""
    onehot = np.arange(groups)[:, None] == np.asarray(codes)[..., None, :]
    reached = np.einsum("...n,...kn->...k", weight * found * member, onehot)
    wanted = np.einsum("...n,...kn->...k", weight * found, onehot)
    overall = list_recall(found, weight, member, axis=-1)[..., None]
    return _safe_ratio(_safe_ratio(reached, wanted), overall)


def _bootstrap(statistic, arrays: tuple[np.ndarray, ...], seed: int, vector: bool = False) -> np.ndarray:
    """Bootstrap distribution of a statistic over the rows of `arrays`: shape (resamples,), or
    (values, resamples) for a `vector` statistic, whose values are on its last axis."""
    if vector:
        scalar = statistic

        def statistic(*resampled, axis=-1):
            return np.moveaxis(np.asarray(scalar(*resampled)), -1, 0)

    with warnings.catch_warnings():
        # Only the resampled values are used (intervals are taken with nanquantile in _interval);
        # scipy's own interval of a degenerate distribution is not, so its warning says nothing.
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.bootstrap(
            arrays,
            statistic,
            paired=True,
            vectorized=True,
            n_resamples=RESAMPLES,
            method="percentile",
            confidence_level=CONFIDENCE,
            batch=max(1, int(5e7 // max(len(arrays[0]), 1) // max(len(arrays), 1))),
            random_state=np.random.default_rng(seed),
        )
    return np.asarray(result.bootstrap_distribution)


def _interval(distribution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - CONFIDENCE) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group no resample reaches: NaN, said as such
        return np.nanquantile(distribution, tail, axis=-1), np.nanquantile(distribution, 1 - tail, axis=-1)


def wilson(p: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval for a proportion `p` observed on `n` (effective) households."""
    if n <= 0 or not np.isfinite(p):
        return float("nan"), float("nan")
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    # The interval always holds p; in floating point its bound can miss by one ulp (at p = 1,
    # centre + half comes out as 0.9999999999999999), so the bounds are taken to include p.
    return float(max(0.0, min(centre - half, p))), float(min(1.0, max(centre + half, p)))


def _weighted_share(found: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Weighted share found and its effective sample size (Kish: (Σw)² / Σw²)."""
    total = float(weight.sum())
    if total <= 0:
        return float("nan"), 0.0
    return float((weight * found).sum() / total), total**2 / float((weight**2).sum())


def share_estimate(found: np.ndarray, weight: np.ndarray, among: np.ndarray) -> Estimate:
    """A weighted share of `found` among the rows in `among` (a list's households for precision,
    the positives for recall), with a Wilson interval on its effective sample size.

    A share is the one figure the bootstrap gets wrong when it matters most: with four survey
    households on a small city's list, all found fine, every resample says 0 and the percentile
    interval is [0, 0]. Wilson's interval stays honest down to a handful of rows.
    """
    w = np.asarray(weight, float) * np.asarray(among, bool)
    count = int(np.asarray(among, bool).sum())
    p, n = _weighted_share(np.asarray(found, float), w)
    low, high = wilson(p, n)
    return Estimate(p, low, high, count)


def estimate(statistic, sample: Sample, keys: tuple[str, ...], seed: int) -> Estimate:
    """A scalar statistic of (found, weight, *columns[keys]) with its bootstrap interval."""
    arrays = (sample.found, sample.weight, *(sample.columns[k] for k in keys))
    value = float(statistic(*arrays))
    if len(sample) < 2 or not np.isfinite(value):
        return Estimate(value, float("nan"), float("nan"), _behind(sample, keys))
    low, high = _interval(_bootstrap(statistic, arrays, seed))
    return Estimate(value, float(low), float(high), _behind(sample, keys))


def exact(statistic, sample: Sample, keys: tuple[str, ...]) -> float:
    """The statistic on a census sample: every household, so no interval."""
    return float(statistic(sample.found, sample.weight, *(sample.columns[k] for k in keys)))


def _behind(sample: Sample, keys: tuple[str, ...]) -> int:
    """Households a list figure rests on: those on the first list named (all rows otherwise)."""
    members = [sample.columns[k] for k in keys if np.asarray(sample.columns[k]).dtype == bool]
    return int(np.asarray(members[0]).sum()) if members else len(sample)


@dataclass(frozen=True)
class CalibrationBins:
    """Deciles of the city's served risk, with the city's mean risk and share in each."""

    codes: np.ndarray
    """Bin of every household of the round."""
    mean_risk: np.ndarray
    share: np.ndarray

    @classmethod
    def of(cls, risk: np.ndarray, bins: int = CALIBRATION_BINS) -> CalibrationBins:
        risk = np.asarray(risk, dtype=float)
        order = np.argsort(risk, kind="stable")
        codes = np.empty(len(risk), dtype=np.int64)
        for code, chunk in enumerate(np.array_split(order, bins)):
            codes[chunk] = code
        counts = np.bincount(codes, minlength=bins).astype(float)
        return cls(codes, np.bincount(codes, weights=risk, minlength=bins) / counts, counts / counts.sum())

    def found_rate(self, found, weight, codes, axis=-1) -> np.ndarray:
        """Weighted share found positive in each bin (NaN where no row falls in a bin)."""
        onehot = np.arange(len(self.share))[:, None] == np.asarray(codes)[..., None, :]
        return _safe_ratio(
            np.einsum("...n,...kn->...k", weight * found, onehot),
            np.einsum("...n,...kn->...k", weight, onehot),
        )

    def error(self, rate: np.ndarray) -> np.ndarray:
        """Σ share · |city's mean risk − found rate| over the bins a sample reaches."""
        gap = np.abs(self.mean_risk - rate)
        reached = np.isfinite(gap)
        return np.where(reached, self.share * np.nan_to_num(gap), 0).sum(-1) / np.where(
            reached, self.share, 0
        ).sum(-1)


@dataclass(frozen=True)
class CalibrationEstimate:
    error: Estimate
    noise: float
    """What a perfectly calibrated model would measure on this survey, on average: the survey's own
    noise, which the point estimate contains."""
    curve: pd.DataFrame


def calibration_error(bins: CalibrationBins, sample: Sample, seed: int) -> CalibrationEstimate:
    """Expected calibration error against what visits found, over the city's risk deciles.

    The plain estimate (Σ share·|mean risk − survey rate|) is biased upwards: each bin's survey rate
    is noisy, and the absolute value turns noise into error; a percentile bootstrap of it then
    misses a well-calibrated model's true error almost always. The interval here uses that the
    estimate is within D = Σ share·|survey rate − true rate| of the truth (triangle inequality):
    the bootstrap gives D's distribution, and estimate ± its 90 % quantile covers the true error at
    least 90 % of the time. Wide for a small survey, as it should be.
    """
    codes = sample.columns["bin"]
    rate = bins.found_rate(sample.found, sample.weight, codes)
    value = float(bins.error(rate))
    distribution = _bootstrap(
        lambda f, w, c, axis=-1: bins.found_rate(f, w, c),
        (sample.found, sample.weight, codes),
        seed,
        vector=True,
    )  # (bins, resamples)
    deviation = np.abs(distribution - rate[:, None])
    reached = np.isfinite(rate)
    spread = (np.nan_to_num(deviation) * (bins.share * reached)[:, None]).sum(0) / (
        bins.share * reached
    ).sum()
    margin = float(np.quantile(spread, CONFIDENCE))
    low_rate, high_rate = _interval(distribution)
    curve = pd.DataFrame(
        {
            "bin": np.arange(len(bins.share)),
            "mean_risk": bins.mean_risk,
            "found_rate": rate,
            "found_rate_low": low_rate,
            "found_rate_high": high_rate,
            "survey_households": np.bincount(codes, minlength=len(bins.share)),
        }
    )
    return CalibrationEstimate(
        Estimate(value, max(0.0, value - margin), value + margin, len(sample)), float(spread.mean()), curve
    )


def census_calibration_error(bins: CalibrationBins, sample: Sample) -> float:
    return float(bins.error(bins.found_rate(sample.found, sample.weight, sample.columns["bin"])))


def group_ratio_estimates(sample: Sample, codes_key: str, labels: list[str], member_key: str) -> pd.DataFrame:
    """Per group: recall ratio with its interval, and the survey households and positives behind it.

    The ratio is r_g / r, the group's recall over everyone's, and everyone's recall mixes the
    group's with the rest's: r = (P_g r_g + P_o r_o) / (P_g + P_o) for the groups' weighted
    positives P. It rises with r_g and falls with r_o, two shares of disjoint survey households;
    Wilson intervals for each at √0.90 confidence give a ratio interval that covers at least 90 %
    of the time, and stays honest when a group's few positives are all off the list (where a
    bootstrap gives [0, 0]).
    """
    codes = np.asarray(sample.columns[codes_key])
    member = np.asarray(sample.columns[member_key], dtype=float)
    positive = sample.found > 0
    each = np.sqrt(CONFIDENCE)
    value = group_recall_ratios(sample.found, sample.weight, member, codes, len(labels))
    rows = []
    for code in range(len(labels)):
        inside = positive & (codes == code)
        outside = positive & (codes != code)
        r_g, n_g = _weighted_share(member[inside], sample.weight[inside])
        r_o, n_o = _weighted_share(member[outside], sample.weight[outside])
        mass_g, mass_o = float(sample.weight[inside].sum()), float(sample.weight[outside].sum())
        (g_low, g_high), (o_low, o_high) = wilson(r_g, n_g, each), wilson(r_o, n_o, each)
        rows.append(
            (
                _ratio_of(g_low, o_high, mass_g, mass_o),
                _ratio_of(g_high, o_low, mass_g, mass_o),
                int((codes == code).sum()),
                int(inside.sum()),
            )
        )
    low, high, households, positives = (np.array(column) for column in zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "group": labels,
            "recall_ratio": value,
            "recall_ratio_low": low,
            "recall_ratio_high": high,
            "survey_households": households,
            "survey_positives": positives,
        }
    )


def _ratio_of(group_recall: float, other_recall: float, group_mass: float, other_mass: float) -> float:
    """r_g / r for a group's recall, the others' recall and their weighted positives."""
    if not (np.isfinite(group_recall) and np.isfinite(other_recall)) or group_mass <= 0:
        return float("nan")
    whole = group_mass * group_recall + other_mass * other_recall
    if whole <= 0:
        return float("nan") if group_recall > 0 else 0.0
    return group_recall * (group_mass + other_mass) / whole
