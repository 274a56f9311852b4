"""Experiment configs: one TOML file in `experiments/` is one experiment.

Validated with pydantic when it is read, so a misspelt key or a validation round earlier than a
training round fails at start, with the file and field named, not an hour into a run.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from features.catalogue import family_names, names
from features.labels import LABEL_HORIZON_DAYS

Framing = Literal["visited_only", "survey_weighted", "unvisited_negative"]
"""Which households train the model, given that labels exist only where a visit happened:
- visited_only: households visited in the 90 days after a round, labelled by what was found;
- survey_weighted: the same, with survey-visit rows weighted up (they sample the city evenly);
- unvisited_negative: every household, the unvisited counted as negative (the naive framing)."""

Population = Literal["all", "not_yet_known"]
"""Which households of each training round the model learns from:
- all: every household the framing keeps;
- not_yet_known: only those no visit found isolated or at risk in the known window (ANBU_KNOWN_WINDOW_DAYS, a year by default) before that round
  (training/framing.py: not_yet_known) — the population the discovery list is drawn from, so the
  model learns what marks a household nobody has found yet rather than what outreach already
  knows (experiments/discovery.md)."""


def _known_families(families: list[str]) -> list[str]:
    """The families are the ones features/families/ declares (features/catalogue.py), so a new
    family is a choice here without editing this file."""
    known = family_names()
    unknown = [name for name in families if name not in known]
    if unknown:
        raise ValueError(f"unknown feature families {unknown}: choose from {list(known)}")
    if len(set(families)) != len(families):
        raise ValueError(f"a family is named twice in {families}")
    return families


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoundDates(_Strict):
    train: list[date] = Field(min_length=1)
    validation: date
    test: date

    @model_validator(mode="after")
    def _temporal(self) -> RoundDates:
        horizon = timedelta(days=LABEL_HORIZON_DAYS)
        if max(self.train) + horizon > self.validation:
            raise ValueError(
                f"the last training round {max(self.train)} plus its {LABEL_HORIZON_DAYS}-day label "
                f"window reaches past the validation round {self.validation}"
            )
        if self.validation + horizon > self.test:
            raise ValueError(
                f"the validation round {self.validation} plus its label window reaches past the "
                f"test round {self.test}"
            )
        return self


class Features(_Strict):
    families: Annotated[list[str], AfterValidator(_known_families)] = Field(
        default_factory=lambda: list(family_names()), min_length=1
    )
    protected_inputs: bool = False
    """Whether head_sex and disability are model inputs (they are never reasons)."""
    without: list[str] = Field(default_factory=list)
    """Features of the chosen families left out, to measure what one feature adds (an ablation)."""

    @model_validator(mode="after")
    def _without_known(self) -> Features:
        chosen = set(names(tuple(self.families)))
        unknown = [name for name in self.without if name not in chosen]
        if unknown:
            raise ValueError(
                f"features.without names {unknown}, not features of the families {self.families}"
            )
        if chosen <= set(self.without):
            raise ValueError("features.without leaves the model no input")
        return self


class Label(_Strict):
    framing: Framing = "survey_weighted"
    survey_weight: float = Field(default=5.0, gt=0)
    population: Population = "all"
    shuffled_seed: int | None = None
    """A negative control, never a city's model: the training rounds' labels are permuted among
    their labelled households within each round (the validation and test rounds untouched), so a
    benchmark can show the gates refuse a model that learnt nothing (bench/promotion.py)."""


class Calibration(_Strict):
    method: Literal["survey_platt", "sigmoid_visit_noise"] = "survey_platt"
    """`survey_platt`: Platt scaling to what survey visits found, the contract's target ("a visit
    in the next 90 days finds isolated or at risk") measured on the one sample nobody chose: the
    validation round's survey visits scored by the model, plus the training rounds' survey visits
    scored out of fold (`cross_fit_folds`). `sigmoid_visit_noise`: Platt scaling to a latent true
    state through estimated visit error rates on all validation-round visits (an experiment: it
    assumes every visit measures alike whatever sent the team, which a city need not satisfy).
    Both are affine in the raw score and folded into the trees, so SHAP explains the served
    probability; isotonic calibration is not offered because it cannot be folded in."""
    cross_fit_folds: int = Field(default=5, ge=0)
    """Folds (by household) for scoring the training rounds' survey visits with models that did not
    learn from them; 0 calibrates on the validation round's survey visits alone."""
    min_survey_households: int = Field(default=200, ge=1)
    min_survey_positives: int = Field(default=15, ge=1)
    """Below these, the survey cannot calibrate and training refuses, saying where sweeps fall."""


COMPARISON_CAPACITIES = (1.0, 2.0, 3.0, 5.0, 7.5, 10.0)
"""Evaluation.comparison_capacities by default, and for a run logged before it existed."""


class Evaluation(_Strict):
    capacity_share: float = Field(default=0.01, gt=0, lt=1)
    """Share of households the city's teams can visit in a round (1 % by default)."""
    allocation: Literal["need", "city"] = "need"
    """How that capacity becomes lists (training/allocation.py): `need` splits it between
    districts in proportion to their expected need (summed calibrated risk) and each district
    visits its own top; `city` is one top list for the whole city."""
    min_group_positives: int = Field(default=30, ge=1)
    """Against a synthetic city's truth: a group needs this many truly positive households before
    its recall ratio is judged; below it, one household more or less moves the ratio by several
    points."""
    min_group_survey_positives: int = Field(default=20, ge=1)
    """From the survey: a group is judged only when the survey found this many of its households
    isolated or at risk; otherwise it is reported as not judged, with its count."""
    min_list_survey_households: int = Field(default=20, ge=1)
    """Comparisons of two lists (against today's rule, against the champion) are made at the
    smallest capacity at which both lists hold this many survey households (at least the team's
    capacity); below that the survey says nothing about the difference."""
    comparison_capacities: list[float] = Field(default=list(COMPARISON_CAPACITIES), min_length=1)
    """Multiples of the team's capacity over which two lists are also compared as a whole (the
    gain over the lists at all of them pooled, capped at half the city): at a 1 % capacity of a
    city surveyed thinly, one list holds a handful of survey households, the lists up to ten times
    that hold ten times as many, and the promotion gates decide on this comparison."""

    @field_validator("comparison_capacities")
    @classmethod
    def _multiples(cls, value: list[float]) -> list[float]:
        if any(multiple <= 0 for multiple in value):
            raise ValueError("comparison_capacities are multiples of the capacity, each above 0")
        return sorted(set(value))


class LightGBMParams(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)
    n_estimators: int = Field(default=600, gt=0)
    learning_rate: float = Field(default=0.05, gt=0)
    num_leaves: int = Field(default=31, gt=1)
    min_child_samples: int = Field(default=50, gt=0)
    subsample: float = Field(default=0.8, gt=0, le=1)
    subsample_freq: int = 1
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    reg_lambda: float = Field(default=1.0, ge=0)
    early_stopping_rounds: int = Field(default=50, gt=0)


Family = Literal["lightgbm", "logistic", "logistic_plus_trees", "logistic_and_trees"]
FAMILIES: tuple[str, ...] = get_args(Family)
"""The model families anbu trains and serves with exact reasons (serving/explain/served_model.py)."""


class ModelChoice(_Strict):
    family: Family = "lightgbm"
    """lightgbm: trees ([lightgbm]); logistic: a logistic regression on imputed, standardised
    features and one-hot codes; logistic_plus_trees: LightGBM boosted from the logistic's score;
    logistic_and_trees: the mean of the two models' log-odds, each fitted on its own and put on
    the validation round's outcome scale first."""
    logistic_c: float = Field(default=0.5, gt=0)
    """The logistic regression's inverse regularisation strength."""


class AuditionCandidate(_Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9_]+$")]
    family: Family
    logistic_c: float = Field(default=0.5, gt=0)
    lightgbm: dict[str, float | int] = Field(default_factory=dict)
    """LightGBM settings that differ from the experiment's [lightgbm] (trees, leaves, leaf size, ...)."""

    def applied(self, config: ExperimentConfig, rounds: RoundDates) -> ExperimentConfig:
        """The experiment as this candidate trains it on these rounds."""
        return config.model_copy(
            update={
                "rounds": rounds,
                "model": ModelChoice(family=self.family, logistic_c=self.logistic_c),
                "lightgbm": LightGBMParams(**{**config.lightgbm.model_dump(), **self.lightgbm}),
                "audition": None,
            }
        )


class Audition(_Strict):
    """A small grid of candidates judged on several earlier test rounds from survey visits alone
    (training/audition.py); the experiment then trains the chosen one on its own rounds."""

    folds: list[RoundDates] = Field(min_length=1)
    """Each an earlier train / validation / test split; the test rounds should each hold a sweep."""
    candidates: list[AuditionCandidate] = Field(min_length=2)
    """In order of preference (usually the simplest first): on a tie the earlier one is chosen."""
    statistic: Literal["precision_curve", "precision_at_capacity"] = "precision_curve"
    """What the rule compares (training/audition.py): the lists from 1× to 10× the capacity pooled,
    or the capacity's list alone."""
    tolerance: float = Field(default=0.01, ge=0, le=0.2)
    """A candidate within this much of the best, plus `standard_errors` standard errors of the
    paired difference, pooled and in every fold, ties (training/audition.py)."""
    standard_errors: float = Field(default=1.0, ge=0, le=4)
    """How many standard errors of the paired difference a tie allows beyond the tolerance: 1 is
    Breiman's rule; 2 moves off the preferred candidate only on a difference the survey shows at
    about 95 %."""

    @field_validator("candidates")
    @classmethod
    def _distinct(cls, value: list[AuditionCandidate]) -> list[AuditionCandidate]:
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError(
                f"candidate names repeat: {', '.join(sorted({n for n in names if names.count(n) > 1}))}"
            )
        return value


class ExperimentConfig(_Strict):
    name: str
    description: str
    rounds: RoundDates
    features: Features = Features()
    label: Label = Label()
    calibration: Calibration = Calibration()
    evaluation: Evaluation = Evaluation()
    model: ModelChoice = ModelChoice()
    lightgbm: LightGBMParams = LightGBMParams()
    audition: Audition | None = None
    seed: int = 7


class ConfigError(Exception):
    """An experiment file that cannot be used, with the file and the fields named."""


def load_experiment(path: Path) -> ExperimentConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such experiment file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
