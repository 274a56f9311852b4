"""The model card logged with every training run: what the model is for, what it learnt from, how
well it did, and where it should not be trusted.

Planners and reviewers read this, not MLflow's metric list, so it is written as a document and
filled from the same numbers the run logs (nothing here is typed in by hand). Its last section,
the version's promotion decisions, is written again by `anbu promote` after each decision, from the
record kept on the model version (training/promotion_history.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from training.config import ExperimentConfig
from training.figures import (
    DISCOVERY_KNOWN_HOUSEHOLDS,
    DISCOVERY_KNOWN_SHARE,
    DISCOVERY_KNOWN_WINDOW_DAYS,
    TEST_SURVEY_HOUSEHOLDS,
    TEST_SURVEY_POSITIVES,
    Basis,
    Estimated,
    Figure,
    Figures,
)
from training.survey import provenance_sentence

if TYPE_CHECKING:
    from training.promotion_history import DecisionRecord

CARD = "model_card.md"
"""The card's name among the run's artifacts."""
DECISIONS_HEADING = "## Promotion decisions"

_MEASURES = (
    ("precision_at_capacity", "precision at capacity"),
    ("recall_at_capacity", "recall at capacity"),
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("brier", "Brier score"),
    ("ece", "expected calibration error"),
)
_SCORERS = (
    ("model", "model"),
    ("rule", "today's rule"),
    ("logistic", "logistic"),
    ("best_possible", "best possible"),
)


@dataclass(frozen=True)
class CardFacts:
    """What the card states besides the metrics: one object so the signature stays readable."""

    run_id: str
    config: ExperimentConfig
    features: list[str]
    calibrated_on: str
    visit_sensitivity: float | None
    visit_false_positive_rate: float | None
    model_size: str
    """The fitted model in a few words ("LightGBM, 212 trees"; training/families.py)."""
    round_sizes: dict[str, tuple[int, int, int]]
    """context -> (household rows, labelled rows, positive labels)."""
    tags: dict[str, str]
    """The run's evaluation tags (lowest groups, comparison with the champion, missing survey)."""
    top_features: list[str]
    audition: object | None = None
    """training/audition.py's AuditionResult, when the experiment chose its model by audition."""


def round_sizes(frame: pd.DataFrame) -> tuple[int, int, int]:
    labelled = frame["label"].notna()
    return len(frame), int(labelled.sum()), int(frame.loc[labelled, "label"].sum())


def _table(figures: Figures, basis: Basis) -> list[str]:
    present = [
        (scorer, name)
        for scorer, name in _SCORERS
        if figures.exact(basis, "precision_at_capacity", scorer) is not None
    ]
    lines = ["| measure | " + " | ".join(name for _, name in present) + " |"]
    lines.append("|---|" + "---:|" * len(present))
    for measure, label in _MEASURES:
        cells = [figures.shown(basis, measure, scorer) for scorer, _ in present]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


_SURVEY_MEASURES = (
    ("precision_at_capacity", "found isolated or at risk on the list (precision at capacity)"),
    ("recall_at_capacity", "share of all such households the list reaches (recall at capacity)"),
)


def _interval(estimate: Estimated | None) -> str:
    return "–" if estimate is None else estimate.text()


def _at(estimate: Estimated | None) -> str:
    """The capacity a comparison of two lists was made at."""
    return "–" if estimate is None or estimate.share is None else f"{estimate.share:.1%}"


def _survey_section(figures: Figures, tags: dict[str, str], share: float) -> list[str]:
    provenance = provenance_sentence(figures.metrics)
    where = [f"{provenance}.", ""] if provenance is not None else []
    if not figures.estimated_from_survey:
        return [f"From the survey: {tags.get('survey_evaluation', 'nothing estimated')}.", "", *where]
    lines = [
        f"From the test round's {figures.count(TEST_SURVEY_HOUSEHOLDS):,} survey-visited households "
        f"({figures.count(TEST_SURVEY_POSITIVES):,} found isolated or at risk), for the whole city's "
        f"lists at {share:.0%} capacity; 90 % intervals and the survey households behind each:",
        "",
        "| figure | model | today's rule | logistic |",
        "|---|---|---|---|",
    ]
    for measure, label in _SURVEY_MEASURES:
        cells = [_interval(figures.survey(measure, who)) for who in ("model", "rule", "logistic")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    gain = figures.survey("gain_over_rule")
    noise = figures.exact("survey", "ece_noise")
    lines += [
        "",
        f"- against today's rule on the same survey households, at {_at(gain)} capacity (the smallest "
        f"at which both lists hold enough survey households): found more often by "
        f"{_interval(gain)}, lift {_interval(figures.survey('lift_over_rule'))}",
        f"- against today's rule across the lists up to {_at(figures.survey('curve_gain_over_rule'))} "
        f"capacity (paired, the lists at each capacity pooled; the gates decide on "
        f"this): {_interval(figures.survey('curve_gain_over_rule'))}",
        f"- calibration error against survey findings: {_interval(figures.survey('ece'))} "
        f"(a perfectly calibrated model would show about {'–' if noise is None else f'{noise:.3f}'} "
        "on this survey)",
        f"- mean served risk ÷ share found: {_interval(figures.survey('mean_risk_ratio'))}",
    ]
    if "compared_with_champion" in tags:
        against = figures.survey("gain_over_champion")
        lines.append(
            f"- against the champion (version {tags['compared_with_champion']}, paired, at "
            f"{_at(against)} capacity): {_interval(against)}; across the lists up to "
            f"{_at(figures.survey('curve_gain_over_champion'))} capacity: "
            f"{_interval(figures.survey('curve_gain_over_champion'))}"
        )
    return [*lines, "", *where]


def _discovery_section(figures: Figures, share: float) -> list[str]:
    """The lists drawn from the households nobody has found yet (training/discovery.py)."""
    known = figures.count(DISCOVERY_KNOWN_HOUSEHOLDS)
    if known is None:
        return []
    scorers = (("model", "model"), ("rule", "today's rule"), ("logistic", "logistic"))
    known_share = figures.exact_named(DISCOVERY_KNOWN_SHARE)
    lines = [
        "## Discovery list",
        "",
        f"The discovery list is drawn from the households not known at the test round (no visit "
        f"found them isolated or at risk in the {figures.count(DISCOVERY_KNOWN_WINDOW_DAYS)} days before it); "
        f"{known:,} households "
        f"({'–' if known_share is None else f'{known_share:.1%}'}) were known and left out. Each "
        f"ranking's list at the whole round's capacity ({share:.0%}), judged among the rest:",
        "",
        "| figure | " + " | ".join(name for _, name in scorers) + " |",
        "|---|---|---|---|",
    ]
    for measure, label in _SURVEY_MEASURES:
        cells = [_interval(figures.survey(f"discovery_{measure}", who)) for who, _ in scorers]
        lines.append(f"| from the survey: {label} | " + " | ".join(cells) + " |")
    if figures.exact("truth", "discovery_precision_at_capacity") is not None:
        for measure, label in _SURVEY_MEASURES:
            cells = [figures.shown("truth", f"discovery_{measure}", who) for who, _ in scorers]
            lines.append(f"| against the truth: {label} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Lift over today's rule on the same households (truth): "
            f"{figures.shown('truth', 'discovery_lift_over_rule')}×.",
        ]
    return [*lines, ""]


def render(facts: CardFacts, figures: Figures) -> str:
    """The card as markdown."""
    config = facts.config
    has_truth = figures.exact("truth", "precision_at_capacity") is not None
    share = config.evaluation.capacity_share
    trained_on = "those not yet known at each round" if config.label.population == "not_yet_known" else "all"
    lines = [
        f"# Model card: isolation-risk, experiment `{config.name}`",
        "",
        f"MLflow run `{facts.run_id}`. {config.description}",
        "",
        "## Intended use",
        "",
        "Decision support for welfare outreach planners: rank the households of one round so a team "
        f"with capacity for about {share:.0%} of households visits those most likely to be isolated "
        "or at risk within the next 90 days, with at most four reasons taken from the model's own "
        "SHAP contributions. A person decides who is visited; the score is a calibrated probability, "
        "not a finding.",
        "",
        "Not for: deciding eligibility for benefits, sanctions, or any action taken without a visit; "
        "households outside the resident registry; comparing people across cities.",
        "",
        "## Data window",
        "",
        "| part | rounds | household rows | labelled (visited) | positive |",
        "|---|---|---:|---:|---:|",
    ]
    windows = {
        "training": ", ".join(str(d) for d in config.rounds.train),
        "validation": str(config.rounds.validation),
        "test": str(config.rounds.test),
    }
    for context, (rows, labelled, positive) in facts.round_sizes.items():
        lines.append(f"| {context} | {windows[context]} | {rows:,} | {labelled:,} | {positive:,} |")
    lines += [
        "",
        f"Label: a visit in the 90 days after the round found the household isolated or at risk "
        f"(`visit_within_90d`); framing `{config.label.framing}` "
        f"(survey weight {config.label.survey_weight:g}; households: {trained_on}). "
        f"Features: {len(facts.features)} from the "
        f"families {', '.join(config.features.families)}"
        f"{' without ' + ', '.join(config.features.without) if config.features.without else ''}; "
        "protected attributes as inputs: "
        f"{'yes' if config.features.protected_inputs else 'no'}. Model: {facts.model_size}"
        f"{' (early stopping on the validation round)' if 'trees' in facts.model_size else ''}.",
        *_audition_lines(facts.audition),
        "",
        "## Calibration",
        "",
        f"Method `{config.calibration.method}`, fitted on {facts.calibrated_on}, folded into the model "
        "(the logged model's output is the probability; its exact contributions explain that "
        "probability's log-odds).",
    ]
    if facts.visit_sensitivity is not None and facts.visit_false_positive_rate is not None:
        lines += [
            "",
            f"Estimated visit error rates: a visit records a positive for {facts.visit_false_positive_rate:.1%} "
            f"of households that are fine and for {facts.visit_sensitivity:.1%} of those that are "
            "isolated or at risk. Scores are probabilities of the true state, not of what a visit records.",
        ]
    lines += ["", "## Test round", "", *_survey_section(figures, facts.tags, share)]
    if figures.exact("census", "precision_at_capacity") is not None:
        lines += [
            "What a visit to every household would find (synthetic city; the quantities the survey "
            "estimates):",
            "",
            "| figure | model | today's rule | logistic |",
            "|---|---:|---:|---:|",
            *(
                f"| {label} | "
                + " | ".join(figures.shown("census", measure, who) for who in ("model", "rule", "logistic"))
                + " |"
                for measure, label in _SURVEY_MEASURES
            ),
            "",
            f"Calibration error {figures.shown('census', 'ece')}, mean served risk ÷ mean finding "
            f"{figures.shown('census', 'mean_risk_ratio')}.",
            "",
        ]
    if has_truth:
        lines += [
            "Against the true state of every household (synthetic city):",
            "",
            *_table(figures, "truth"),
            "",
            f"Share of the best possible ranking: {figures.shown('truth', 'share_of_best_possible')}; "
            f"lift over today's rule: {figures.shown('truth', 'lift_over_rule')}×.",
            "",
        ]
    lines += _discovery_section(figures, share)
    lines += [
        "## Fairness",
        "",
        "Recall at capacity per district, age band, sex and housing type, divided by the whole city's. "
        f"From the survey: {_count(figures.count(Figure('model', 'survey', 'groups_judged')) or 0, 'group')} judged "
        f"(enough survey positives), {figures.count(Figure('model', 'survey', 'groups_not_judged')) or 0} not "
        f"judged; lowest judged {_interval(figures.survey('min_group_recall_ratio'))} "
        f"({facts.tags.get('lowest_group_recall_survey', 'none judged')}); every group with its count: "
        "`evaluation/fairness_survey.csv`.",
    ]
    if has_truth:
        lines += [
            "",
            f"Against the truth: lowest {figures.shown('truth', 'min_group_recall_ratio')} "
            f"({facts.tags.get('lowest_group_recall', 'none judged')}); households living with others "
            f"{figures.shown('truth', 'with_others_recall_ratio')} (reported, not gated: living alone "
            "is the risk the programme targets). `evaluation/fairness_by_group.csv`.",
        ]
    lines += [
        "",
        "## What drives it",
        "",
        "Largest total gain: " + ", ".join(f"`{name}`" for name in facts.top_features) + ". "
        "See `explanation/shap_summary.png` and `explanation/feature_importance.csv`.",
        "",
        "## Known limits",
        "",
        "- Labels exist only where someone visited, and most visits follow a list or an alert; the "
        "framing above is a choice with consequences (experiments/baseline.md).",
        "- A visit is an imperfect measurement (refusals, nobody at home, a quiet household recorded "
        "as fine); the score is the probability of what a visit finds, as the contract defines it, "
        "not of a hidden state.",
        "- Survey figures rest on the survey households shown beside them; at a small capacity of a "
        "small city that can be a handful, and the intervals say so.",
        "- Households without smart-service sensors have missing sensor features; their scores rest "
        "on administrative and crisis records only.",
        "- Groups with fewer positives than the evaluation's minimum are not judged by the fairness "
        "gate; their figures are noisy.",
    ]
    if has_truth:
        lines.append(
            "- Census and truth figures come from a synthetic city; on real data only the survey figures exist."
        )
    lines += ["", *decisions_section([])]
    return "\n".join(lines) + "\n"


def decisions_section(records: Sequence[DecisionRecord]) -> list[str]:
    """Every promotion decision on the version, oldest first, each with its gates and figures and,
    for an override, who and why: what `anbu promote --history --version N` prints."""
    lines = [DECISIONS_HEADING, ""]
    if not records:
        return [
            *lines,
            "None yet. `anbu promote` appends every decision on this version here and to the model "
            "version's record (`promotion.history.*` tags); a later decision never rewrites an earlier one.",
        ]
    lines += [
        "Oldest first, as recorded on the model version (`promotion.history.*` tags); a later decision "
        "never rewrites an earlier one.",
        "",
    ]
    for record in records:
        against = f", against {record.against}" if record.against else ""
        who = f" by {_line(record.override.by)}: {_line(record.override.reason)}" if record.override else ""
        lines.append(f"{record.number}. {record.when}: **{record.verdict.value}**{who}{against}")
        lines += [f"   - {reason}" for reason in record.reasons]
        lines.append(f"   - gates: {record.gates_summary}")
        if record.figures_summary:
            lines.append(f"   - figures: {'; '.join(record.figures_summary)}")
    return lines


def _line(text: str) -> str:
    """A person's words on one line, so they cannot start a section of the card."""
    return " ".join(text.split())


def with_decisions(card: str, records: Sequence[DecisionRecord]) -> str:
    """The card with its decisions section written again from `records` (added at the end of a
    card logged before cards had one); every other section is left as it is."""
    before, heading, after = card.partition(DECISIONS_HEADING + "\n")
    rest = ""
    if heading:
        _, following, tail = after.partition("\n## ")
        rest = "\n## " + tail if following else ""
    section = "\n".join(decisions_section(records))
    return f"{before.rstrip()}\n\n{section}\n{rest}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _audition_lines(auditioned) -> list[str]:
    """The candidates the model was chosen among, each with its figures, and the rule's decision."""
    if auditioned is None:
        return []
    lines = [
        "",
        "## Audition",
        "",
        f"Chosen: {auditioned.rule}. Judged from survey visits alone on {auditioned.folds['fold'].nunique()} "
        "earlier splits of the city's rounds; the truth, where a synthetic city has it, is reported beside "
        "and never used to choose.",
        "",
        f"| candidate | model | {auditioned.pooled['statistic'].iloc[0].replace('_', ' ')}, pooled (90 %) "
        "| survey households | worst fold's shortfall | precision at capacity | survey AUC | truth precision "
        "| folds refused | in contention |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in auditioned.pooled.itertuples():
        lines.append(
            f"| {row.candidate} | {row.size} | {row.pooled:.3f} [{row.pooled_low:.3f}, {row.pooled_high:.3f}] "
            f"| {row.survey_households:,} | {row.worst_shortfall:.3f} | {row.pooled_precision_at_capacity:.3f} "
            f"| {row.mean_survey_auc:.3f} | {row.mean_truth_precision:.3f} | {row.refused_folds} "
            f"| {'yes' if row.in_contention else 'no'} |"
        )
    return lines
