"""Moving the `champion` alias: only to a candidate the survey shows is better than what serves now.

The gates read only what a real city has: the test round's survey estimates with their 90 %
intervals (training/evaluation.py), never a synthetic city's truth. Each gate asks what the
evidence shows, in the direction that protects the people on the lists:

- a first model must be *shown* to find more than today's rule (the lower end of the paired
  difference above zero), because it replaces a rule everybody knows;
- a later model must be *shown* not worse than the champion by more than the tolerance, compared
  on the same survey households; a tie keeps the champion;
- it is refused when its calibration or a group's recall is *shown* out of bounds (the whole
  interval on the wrong side); a group the survey found too few positives in is reported as not
  judged, with its count.

A refused version can still be promoted by a named person with a stated reason (`--override`);
that, who and why, is recorded on the version and shown by the service. An override on the version
that already serves moves nothing and is recorded as such. Every decision, yes or no, is appended
to the version's record and never rewritten (training/promotion_history.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from serving.explain.tree_model import LINEAR_TREES
from training.config import ConfigError
from training.figures import Estimated, Figure, Figures, quoted
from training.promotion_gates import Override, PromotionGates
from training.promotion_history import (
    DecisionRecord,
    Verdict,
    append,
    gate_figures,
    history,
    next_number,
    refresh_card,
    registered_version,
)
from training.tracking import CHAMPION, EXPLANATION_REFUSED, MODEL_NAME, configure


@dataclass(frozen=True)
class Decision:
    """What the gates say about a candidate: pure, before anything is recorded or moved."""

    version: str
    promote: bool
    reasons: list[str]
    """Why it was refused (every failed gate), or what it passed on."""
    basis: str
    compare_first: bool = False
    """Refused because the run was compared with another champion than the one serving: `anbu
    promote --data DIR` compares them and the version can be judged again."""
    unexplainable: bool = False
    """Refused because no exact explanation covers the model: no override can serve it."""


def _low(estimate: Estimated | None) -> float:
    return math.nan if estimate is None or estimate.low is None else estimate.low


def _high(estimate: Estimated | None) -> float:
    return math.nan if estimate is None or estimate.high is None else estimate.high


def decide(
    candidate: dict[str, float],
    tags: dict[str, str],
    champion_version: str | None,
    gates: PromotionGates,
    version: str,
) -> Decision:
    """Apply the gates to a candidate's survey estimates; pure, so every branch is testable."""
    refusal = tags.get(EXPLANATION_REFUSED)
    if refusal:
        reason = f"its reasons could not be exact, so it is never served: {refusal}"
        return Decision(version, False, [reason], "explanation", unexplainable=True)
    figures = Figures(candidate)
    if not figures.estimated_from_survey:
        why = tags.get("survey_evaluation", "the run has no survey estimates")
        return Decision(version, False, [f"nothing to judge on: {why}"], "survey")
    failures: list[str] = []
    passes: list[str] = []
    compared = _against_current(figures, tags, champion_version, gates, failures, passes)
    ece = figures.survey("ece")
    if _low(ece) > gates.max_ece:
        failures.append(
            f"calibration error {quoted(ece, 4)} is above the bound {gates.max_ece} "
            "even at the low end of its interval"
        )
    else:
        passes.append(f"calibration error {quoted(ece, 4)} (bound {gates.max_ece})")
    low_band, high_band = gates.mean_risk_ratio_band
    ratio = figures.survey("mean_risk_ratio")
    if _low(ratio) > high_band or _high(ratio) < low_band:
        failures.append(
            f"mean served risk ÷ share found {quoted(ratio)} lies "
            f"outside {low_band}–{high_band}: the scores do not mean what visits find"
        )
    else:
        passes.append(f"mean served risk ÷ share found {quoted(ratio)}")
    _groups(figures, tags, gates, failures, passes)
    return Decision(version, not failures, failures or passes, "survey", compare_first=not compared)


def _against_current(
    figures: Figures,
    tags: dict[str, str],
    champion_version: str | None,
    gates: PromotionGates,
    failures: list[str],
    passes: list[str],
) -> bool:
    """Better than today's rule (first model), or not worse than the champion (later ones). False
    when the run was compared with another champion than the one serving, so cannot be judged."""
    if champion_version is None:
        gain, where = _comparison(figures, "rule")
        shown = quoted(gain)
        if not _low(gain) > 0:
            failures.append(
                f"not shown to beat today's rule: found more often by {shown} {where} "
                "(the interval reaches zero)"
            )
        else:
            passes.append(f"no champion yet; beats today's rule by {shown} {where}")
        return True
    compared = tags.get("compared_with_champion")
    if compared != champion_version:
        failures.append(
            f"the run was compared with {'version ' + compared if compared else 'no champion'}, but the "
            f"champion is version {champion_version}: the two must be compared on the test round's "
            "survey households first (`--data`)"
        )
        return False
    gain, where = _comparison(figures, "champion")
    shown = quoted(gain)
    if not _low(gain) >= -gates.capacity_tolerance:
        failures.append(
            f"not shown within {gates.capacity_tolerance} of champion version {champion_version}: found "
            f"more often by {shown} {where} (paired)"
        )
    else:
        passes.append(f"against champion version {champion_version}: {shown} {where} (paired)")
    return True


def _comparison(figures: Figures, rival: str) -> tuple[Estimated | None, str]:
    """What the gate compares on: the lists at every capacity up to ten times the team's, else
    (a run from before that comparison, or one whose survey gave it no interval) the one capacity
    where both lists held enough survey households."""
    across = figures.survey(f"curve_gain_over_{rival}")
    if across is not None and across.low is not None and across.share is not None:
        return across, f"across the lists up to {across.share:.1%} capacity"
    gain = figures.survey(f"gain_over_{rival}")
    share = gain.share if gain is not None and gain.share is not None else math.nan
    return gain, f"at {share:.1%} capacity"


def _groups(
    figures: Figures,
    tags: dict[str, str],
    gates: PromotionGates,
    failures: list[str],
    passes: list[str],
) -> None:
    judged = figures.count(Figure("model", "survey", "groups_judged")) or 0
    not_judged = figures.count(Figure("model", "survey", "groups_not_judged")) or 0
    counts = f"{judged} group{'' if judged == 1 else 's'} judged, {not_judged} not judged (too few survey positives)"
    if judged == 0:
        passes.append(f"fairness: no group has enough survey positives to judge; {counts}")
        return
    highest_of_lowest = figures.exact("survey", "group_recall_ratio_high_min")
    highest_of_lowest = math.nan if highest_of_lowest is None else highest_of_lowest
    lowest = tags.get("lowest_group_recall_survey", "?")
    ratio = figures.survey("min_group_recall_ratio")
    if highest_of_lowest < gates.min_group_recall_ratio:
        failures.append(
            f"a group's recall is below {gates.min_group_recall_ratio} of the city's even at the top of "
            f"its interval ({highest_of_lowest:.2f}); lowest {lowest} "
            f"{quoted(ratio, 2)}; {counts}"
        )
    else:
        passes.append(f"fairness: lowest {lowest} {quoted(ratio, 2)}; {counts}")


def promote(version: str | None, gates: PromotionGates, override: Override | None = None) -> DecisionRecord:
    """Decide on a registered version (default: the newest), append the decision to its record,
    and move `champion` if it passes or a named person overrides a refusal. On the version that
    already serves nothing is judged or moved; the re-promote, or the override, is recorded as such."""
    client = configure()
    candidate = _version(client, version)
    champion = _champion(client)
    version = str(candidate.version)
    serving = str(champion.version) if champion is not None else None
    earlier = history(version, candidate.tags)
    common = {
        "number": next_number(earlier),
        "version": version,
        "decided_at": datetime.now(UTC),
        "champion": serving,
    }
    if serving == version:
        record = DecisionRecord(
            **common,
            verdict=Verdict.ALREADY_CHAMPION if override is None else Verdict.OVERRIDE_ON_CHAMPION,
            reasons=[f"version {version} is already the champion; nothing was judged or moved"],
            override=override,
        )
    else:
        run = client.get_run(candidate.run_id)
        judged = decide(
            run.data.metrics, _with_refusal(run.data.tags, run.data.params), serving, gates, version
        )
        overridden = not judged.promote and override is not None and not judged.unexplainable
        if judged.promote:
            verdict = Verdict.PROMOTED
        else:
            verdict = Verdict.PROMOTED_BY_OVERRIDE if overridden else Verdict.REFUSED
        unneeded = []
        if override is not None and judged.promote:
            unneeded = ["an override was given and not needed: the gates passed"]
        elif override is not None and judged.unexplainable:
            unneeded = ["an override cannot serve a model without exact reasons"]
        record = DecisionRecord(
            **common,
            verdict=verdict,
            reasons=[*judged.reasons, *unneeded],
            basis=judged.basis,
            compared_with=serving or "today's rule",
            gates=gates,
            figures=gate_figures(run.data.metrics),
            override=override,  # who and why are kept even when the gates passed without them
            compare_first=judged.compare_first,
        )
    append(client, record)
    if record.moved_champion:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    refresh_card(client, candidate.run_id, [*earlier, record])
    return record


def _with_refusal(tags: dict[str, str], params: dict[str, str]) -> dict[str, str]:
    """The run's tags, with the refusal a run trained before training tagged it would have had: its
    logged parameters say whether its trees were linear (its objective is always binary)."""
    if EXPLANATION_REFUSED not in tags and params.get("lightgbm.linear_tree", "").lower() in ("true", "1"):
        return {**tags, EXPLANATION_REFUSED: LINEAR_TREES}
    return tags


def newest_version() -> str:
    """The most recently registered version."""
    versions = configure().search_model_versions(f"name = '{MODEL_NAME}'")
    if not versions:
        raise ConfigError(f"no versions of {MODEL_NAME} are registered yet; run `anbu train` first")
    return str(max(int(v.version) for v in versions))


def _version(client: MlflowClient, version: str | None):
    return registered_version(client, version if version is not None else newest_version())


def _champion(client: MlflowClient):
    try:
        return client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException:
        return None
