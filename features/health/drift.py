"""Each feature of a round against the rows the champion learnt from: missing share and the
population stability index (PSI), with the thresholds credit-risk monitoring has used for decades.

Training keeps a profile of its rows, not the rows (a city's households stay in its own store):
for each feature, the reference's deciles as cut points (or its few distinct values, for a
feature that takes no more than DISCRETE_VALUES of them), the share of non-missing rows in each
bin and the share missing. A round is binned at the same cut points, so the comparison needs the
profile only, and the city's round is read one column at a time.

How far is too far is each feature's own business. A days-since feature moves every round as the
delivery's history grows, a meter feature with the season, a registry feature hardly at all; so
the profile also keeps how far each training round stood from the pooled rows (its usual index,
and its usual change of missing share). A round warns when it stands further than the textbook
limit *and* USUAL_FACTOR times its feature's usual distance. Features of one family that moved
together (a holiday week moves every meter feature) are one finding.

PSI is the symmetric Kullback-Leibler divergence between the two bin shares, taken from
scipy.special.rel_entr. Evidently (0.7.23, its newest release) was the first choice for these
statistics and their report, but it does not import with pandas 3.1 (`infer_dtype_from_object`
is gone), and its PSI bins the reference and the round together, so it needs the reference rows
where this needs their profile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import rel_entr

from features.health.findings import Finding, Grade

DISCRETE_VALUES = 12
"""A feature with no more distinct values than this in the reference is binned value by value."""
QUANTILES = np.linspace(0.1, 0.9, 9)
SHARE_FLOOR = 1e-4
"""An empty bin counts as this share, so one new value cannot make the index infinite."""
PSI_WARNING = 0.1
"""The textbook's limit of a shift worth a look (0.1–0.25 'moderate', beyond 'major'): a registry
feature that moves this far in a round has changed. A feature must also move USUAL_FACTOR times
its own training rounds' distance, so a days-since or meter feature needs much more."""
PSI_MAJOR = 0.25
USUAL_FACTOR = 2.0
"""How many times its training rounds' own distance from the pooled rows a feature must move."""
MISSING_RISE = 0.20
"""A rise of the missing share by this much (absolute), and beyond its usual, is a warning."""
MISSING_ALL = 0.99
"""A feature missing for this share of the round's households, present for most of the reference's,
has lost its source: an error."""


@dataclass(frozen=True)
class FeatureProfile:
    feature: str
    discrete: bool
    cuts: list[float]
    """Discrete: the reference's values (one bin each, plus one for any other). Otherwise the
    deciles' distinct cut points (a bin below each and one above the last)."""
    shares: list[float]
    """Share of the non-missing rows in each bin."""
    missing_share: float
    rows: int
    usual_psi: float = 0.0
    """The largest index of one training round against all of them pooled."""
    usual_missing: float = 0.0
    """The largest difference of one training round's missing share from the pooled share."""

    @classmethod
    def of(cls, feature: str, values: np.ndarray) -> FeatureProfile:
        values = np.asarray(values, dtype="float64")
        present = values[~np.isnan(values)]
        distinct = np.unique(present)
        discrete = len(distinct) <= DISCRETE_VALUES
        cuts = distinct if discrete else np.unique(np.quantile(present, QUANTILES))
        profile = cls(feature, discrete, [float(c) for c in cuts], [], 0.0, len(values))
        shares, missing = profile.binned(values)
        return cls(feature, discrete, profile.cuts, shares, missing, len(values))

    def binned(self, values: np.ndarray) -> tuple[list[float], float]:
        """The share of `values`' non-missing rows in each of this profile's bins, and the share missing."""
        values = np.asarray(values, dtype="float64")
        missing = np.isnan(values)
        present = values[~missing]
        cuts = np.asarray(self.cuts, dtype="float64")
        if len(cuts) == 0:
            bins = np.zeros(len(present), dtype=int)  # a feature never present in the reference: one bin
        elif self.discrete:
            at = np.searchsorted(cuts, present)
            exact = (at < len(cuts)) & (cuts[np.minimum(at, len(cuts) - 1)] == present)
            bins = np.where(exact, at, len(cuts))
        else:
            bins = np.searchsorted(cuts, present, side="left")
        counts = np.bincount(bins, minlength=len(cuts) + 1).astype("float64")
        shares = counts / counts.sum() if counts.sum() else counts
        return [float(s) for s in shares], float(missing.mean()) if len(values) else 0.0

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> FeatureProfile:
        return cls(
            feature=str(raw["feature"]),
            discrete=bool(raw["discrete"]),
            cuts=[float(c) for c in raw["cuts"]],
            shares=[float(s) for s in raw["shares"]],
            missing_share=float(raw["missing_share"]),
            rows=int(raw["rows"]),
            usual_psi=float(raw.get("usual_psi", 0.0)),
            usual_missing=float(raw.get("usual_missing", 0.0)),
        )

    def with_usual(self, rounds: Iterable[np.ndarray]) -> FeatureProfile:
        """This profile with how far each of `rounds` (the training rounds' values) stood from it."""
        binned = [self.binned(values) for values in rounds]
        return replace(
            self,
            usual_psi=max((_index(self.shares, shares) for shares, _ in binned), default=0.0),
            usual_missing=max((abs(missing - self.missing_share) for _, missing in binned), default=0.0),
        )

    @property
    def psi_limit(self) -> float:
        return max(PSI_WARNING, USUAL_FACTOR * self.usual_psi)

    @property
    def missing_limit(self) -> float:
        return max(MISSING_RISE, USUAL_FACTOR * self.usual_missing)


def profiles(
    frame: pd.DataFrame, features: Iterable[str], by: str = "round_date"
) -> dict[str, FeatureProfile]:
    """Each feature's profile over all of `frame`, with its usual distance across the groups of `by`."""
    groups = [rows for _, rows in frame.groupby(by, sort=True)] if by in frame else []

    def values(rows: pd.DataFrame, feature: str) -> np.ndarray:
        return rows[feature].to_numpy(dtype="float64", na_value=np.nan)

    return {
        f: FeatureProfile.of(f, values(frame, f)).with_usual(values(rows, f) for rows in groups)
        for f in features
    }


def psi(reference: list[float], current: list[float]) -> float:
    """Population stability index of two bin shares (each floored at SHARE_FLOOR)."""
    expected = np.maximum(np.asarray(reference, dtype="float64"), SHARE_FLOOR)
    actual = np.maximum(np.asarray(current, dtype="float64"), SHARE_FLOOR)
    return float(np.sum(rel_entr(actual, expected) + rel_entr(expected, actual)))


@dataclass(frozen=True)
class FeatureShift:
    """One feature of the round beside the training rows' profile: what the report draws and the
    findings judge."""

    reference: FeatureProfile
    shares: list[float]
    missing_share: float

    @property
    def psi(self) -> float:
        return _index(self.reference.shares, self.shares)

    @property
    def moved(self) -> bool:
        return self.psi >= self.reference.psi_limit

    @property
    def missing_rise(self) -> float:
        return self.missing_share - self.reference.missing_share


def _index(before: list[float], now: list[float]) -> float:
    if not any(before) or not any(now):
        return 0.0  # nothing present on one side: the missing share speaks for it
    return psi(before, now)


def shift_of(reference: FeatureProfile, values: np.ndarray) -> FeatureShift:
    shares, missing = reference.binned(values)
    return FeatureShift(reference, shares, missing)


def drift_findings(
    shifts: list[FeatureShift], family_of: dict[str, str] | None = None, what: str = "feature"
) -> list[Finding]:
    """A feature gone missing (an error); features missing much more often, or distributed
    otherwise, than the rows the model learnt from, beyond their own usual (a warning per family,
    naming its features, the most moved first)."""
    findings: list[Finding] = []
    moved: dict[str, list[tuple[float, str, str]]] = {}
    """Per family: (how far, feature, what moved), for the features that moved beyond their usual."""
    for shift in shifts:
        name, was, now = shift.reference.feature, shift.reference.missing_share, shift.missing_share
        part: tuple[float, str, str] | None = None
        if now >= MISSING_ALL and was < 0.5:
            findings.append(
                Finding(
                    Grade.ERROR,
                    "missing",
                    f"{what} {name}",
                    f"{what} {name}: missing for {now:.0%} of the round's households against {was:.0%} "
                    "of the rows the model learnt from: its source has stopped reaching the features",
                    now - was,
                )
            )
        elif shift.missing_rise >= shift.reference.missing_limit:
            part = (shift.missing_rise, name, f"{name} missing for {now:.0%} against {was:.0%}")
        elif shift.moved:
            part = (
                shift.psi,
                name,
                f"{name} population stability index {shift.psi:.2f} (its training rounds: up to "
                f"{shift.reference.usual_psi:.2f})",
            )
        if part is not None:
            moved.setdefault((family_of or {}).get(name, name), []).append(part)
    for family, parts in moved.items():
        parts.sort(reverse=True)
        named = [name for _, name, _ in parts]
        subject = f"{what} {named[0]}" if len(parts) == 1 else f"{what}s of {family} ({', '.join(named)})"
        findings.append(
            Finding(
                Grade.WARNING,
                "shift",
                subject,
                f"{subject}: moved from the rows the model learnt from beyond their usual "
                f"(population stability index ≥ {PSI_WARNING} is a shift, ≥ {PSI_MAJOR} a major one): "
                + "; ".join(text for _, _, text in parts[:3]),
                parts[0][0],
            )
        )
    return findings
