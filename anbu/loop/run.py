"""The loop: a city runs anbu round after round, and its lists choose the visits that become the
next round's labels.

Before each round the city delivers its files (LoopCity.deliver); the policy chooses each
district's visits at the district's capacity; the city answers them (LoopCity.answer) and they
are delivered with the next round. Under `anbu` a model is retrained every round on every round
whose labels have closed (calendar.py) and serves only if `anbu promote`'s gates pass it: a refused
candidate leaves the champion serving. `anbu_frozen` keeps the first model promoted. Each run has
its own data folder and model store under its output folder, so two runs never share a registry.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import tomli_w

from anbu.loop.calendar import retraining_rounds
from anbu.loop.city import LoopCity, UnknownHousehold
from anbu.loop.policies import (
    POLICIES,
    best_possible_lists,
    capacities,
    explored,
    random_lists,
    rule_lists,
    served_lists,
    visit_days,
)

SAMPLE_COLUMNS = ["household_id", "sweep", "drawn_on"]


@dataclass(frozen=True)
class LoopPlan:
    """What one run of the loop does: the policy, its rounds, the visits each round can make."""

    policy: str
    rounds: tuple[dt.date, ...]
    capacity_share: float = 0.01
    explore: float = 0.0
    experiment: Path = Path("experiments/baseline.toml")
    gates: Path = Path("experiments/promotion.toml")
    train_rounds: int | None = None
    seed: int = 7
    recheck: float = 0.0
    """The share of each district's visits anbu's lists give to re-checking households outreach
    already knows (serving/lists/ranking.py: the re-check list), the rest to discovery."""

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"--policy {self.policy!r}: choose one of {', '.join(POLICIES)}")
        if not 0.0 <= self.explore <= 1.0:
            raise ValueError(f"--explore {self.explore}: a share of each list, between 0 and 1")
        if not 0.0 <= self.recheck <= 1.0:
            raise ValueError(f"--recheck {self.recheck}: a share of each list, between 0 and 1")
        if self.recheck and self.policy not in ("anbu", "anbu_frozen"):
            raise ValueError(f"--recheck: only anbu's lists have a re-check list, not --policy {self.policy}")
        if not 0.0 < self.capacity_share <= 1.0:
            raise ValueError(
                f"--capacity {self.capacity_share}: a share of each district's households, in (0, 1]"
            )
        if not self.rounds:
            raise ValueError("--rounds: at least one round")

    @property
    def retrains(self) -> bool:
        return self.policy in ("anbu", "anbu_frozen")


@dataclass
class RoundRecord:
    """What the loop did in one round, before anything is judged."""

    round: dt.date
    list_source: str
    retrained: str = ""
    verdict: str = ""
    champion: str = ""
    figures: dict[str, float] = field(default_factory=dict)


@contextmanager
def model_store(folder: Path) -> Iterator[None]:
    """Point training, promotion and scoring at the run's own store for the duration: never a
    city's tracking server or model registry the environment names."""
    import mlflow

    from anbu.settings import variable

    store = variable("models_dir")
    names = (store, "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {name: os.environ.get(name) for name in names}
    os.environ[store] = str(folder)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    try:
        yield
    finally:
        # configure() (training/tracking.py) also keeps the store inside MLflow: None forgets it.
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # type: ignore[arg-type]
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def surveyed_households(folder: Path) -> Callable[[dt.date], int]:
    """Survey-visited households in each round's label window, from the delivered visits."""
    from features.labels import LABEL_HORIZON_DAYS

    visits = pd.read_parquet(
        folder / "outreach_visits.parquet", columns=["household_id", "visited_on", "trigger"]
    )
    surveyed = visits[visits["trigger"] == "survey"]
    days = pd.to_datetime(surveyed["visited_on"])

    def count(round_date: dt.date) -> int:
        start = pd.Timestamp(round_date)
        inside = (days > start) & (days <= start + pd.Timedelta(days=LABEL_HORIZON_DAYS))
        return int(surveyed.loc[inside.to_numpy(), "household_id"].nunique())

    return count


def _round_config(plan: LoopPlan, chosen, out: Path) -> tuple[object, Path]:
    """The experiment with this retraining's rounds, written beside the run so its MLflow run
    logs the config it really used."""
    from training.config import load_experiment

    text = tomllib.loads(plan.experiment.read_text(encoding="utf-8"))
    text["rounds"] = {
        "train": list(chosen.train),
        "validation": chosen.validation,
        "test": chosen.test,
    }
    path = out / "configs" / f"{plan.experiment.stem}-{chosen.test.isoformat()}-{len(chosen.train)}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(text), encoding="utf-8")
    return load_experiment(path), path


def _retrain(
    plan: LoopPlan, city: LoopCity, folder: Path, as_of: dt.date, out: Path, record: RoundRecord
) -> None:
    """Retrain on the rounds closed by `as_of` and let the gates decide; record what happened."""
    from anbu.settings import Settings
    from training.config import ConfigError
    from training.evaluation import MIN_EVALUATION_SURVEY_HOUSEHOLDS
    from training.promotion import promote
    from training.promotion_gates import load_gates
    from training.survey import NotEnoughSurvey
    from training.train import train_experiment

    chosen = retraining_rounds(
        as_of,
        city.first_day,
        surveyed_households(folder),
        MIN_EVALUATION_SURVEY_HOUSEHOLDS,
        plan.train_rounds,
    )
    if chosen is None:
        record.retrained = "no: the delivered history does not yet hold a judged test round"
        return
    config, path = _round_config(plan, chosen, out)
    try:
        # The loop's own deliveries are whole by construction: their round checks are not run.
        result = train_experiment(
            folder, config, path, Settings(data=folder), city.judge.round_truth, check_rounds=False
        )
    except (NotEnoughSurvey, ConfigError) as error:
        record.retrained = f"no: {error}"
        return
    record.retrained = (
        f"version {result.model_version} (test round {chosen.test}, {len(chosen.train)} training rounds)"
    )
    decision = promote(result.model_version, load_gates(plan.gates))
    record.verdict = decision.verdict.value
    figures = result.figures
    estimated = figures.survey("precision_at_capacity")
    if estimated is not None:
        record.figures.update(
            {
                "model_survey_precision": estimated.value,
                "model_survey_precision_low": estimated.low if estimated.low is not None else float("nan"),
                "model_survey_precision_high": estimated.high if estimated.high is not None else float("nan"),
                "model_survey_precision_households": float(estimated.households or 0),
            }
        )
    for name, basis, measure in (
        # What the survey estimates is what a visit finds (visits miss some isolation): its interval
        # is judged against a visit to every household (census), the true state stands beside it.
        ("model_census_precision", "census", "precision_at_capacity"),
        ("model_truth_precision", "truth", "precision_at_capacity"),
        ("model_truth_ece", "truth", "ece"),
        ("model_census_ece", "census", "ece"),
    ):
        value = figures.exact(basis, measure)
        if value is not None:
            record.figures[name] = value


def _champion() -> str | None:
    from serving.scoring.champion import NoChampion, champion_version
    from training.tracking import StoreUnavailable

    try:
        return champion_version()
    except (NoChampion, StoreUnavailable):
        return None


def run_loop(city: LoopCity, plan: LoopPlan, out: Path, progress: Callable[[str], None] = print) -> LoopRun:
    """Run the plan's rounds against the city; return what was visited and what each round did."""
    from anbu.settings import Settings
    from features.contract.delivery import ensure_validated
    from features.round_table import build_round

    folder = out / "city"
    visits = pd.DataFrame(columns=["household_id", "visited_on", "trigger", "outcome", "checklist_score"])
    samples = pd.DataFrame(columns=SAMPLE_COLUMNS)
    records: list[RoundRecord] = []
    households = pd.DataFrame()
    with model_store(out / "models"):
        for as_of in plan.rounds:
            city.deliver(as_of, folder, visits, samples)
            ensure_validated(folder)
            champion = _champion() if plan.retrains else None
            record = RoundRecord(as_of, list_source=plan.policy)
            if plan.policy == "anbu" or (plan.policy == "anbu_frozen" and champion is None):
                _retrain(plan, city, folder, as_of, out, record)
                champion = _champion()
            table, _ = build_round(folder, pd.Timestamp(as_of))
            capacity = capacities(table, plan.capacity_share)
            if plan.policy == "random":
                listed = random_lists(table, capacity, plan.seed, as_of)
            elif plan.policy == "best_possible":
                listed = best_possible_lists(table, capacity, plan.seed, as_of, city.judge)
            elif plan.policy == "rule_not_yet_known":
                window = Settings(data=folder).known_window_days
                listed = rule_lists(table, capacity, plan.seed, as_of, window)
            elif plan.policy == "rule" or champion is None:
                listed = rule_lists(table, capacity, plan.seed, as_of)
                record.list_source = "rule" if plan.policy == "rule" else "rule (no champion yet)"
            else:
                window = Settings(data=folder).known_window_days
                listed = served_lists(folder, as_of, capacity, window, plan.recheck)
                record.list_source = f"anbu version {champion}"
            record.champion = champion or ""
            kept, drawn = explored(table, listed, capacity, plan.explore, plan.seed, as_of)
            requests = pd.concat(
                [kept.assign(trigger="system_list"), drawn.assign(trigger="survey")], ignore_index=True
            )
            requests["visited_on"] = visit_days(requests["household_id"], plan.seed, as_of)
            answered = checked_answer(
                requests, city.answer(requests[["household_id", "visited_on", "trigger"]])
            )
            visits = pd.concat([visits, answered], ignore_index=True)
            if not drawn.empty:
                drawn_samples = pd.DataFrame(
                    {
                        "household_id": drawn["household_id"],
                        "sweep": f"anbu-loop-{as_of}",
                        "drawn_on": pd.Timestamp(as_of),
                    }
                )
                samples = pd.concat([samples, drawn_samples], ignore_index=True)
            records.append(record)
            households = pd.concat([households, _groups(table)]).drop_duplicates("household_id", keep="last")
            progress(
                f"round {as_of}: {len(kept):,} list visits ({record.list_source}), {len(drawn):,} explored"
                + (f"; retrained: {record.retrained}" if record.retrained else "")
                + (f"; {record.verdict}" if record.verdict else "")
            )
    return LoopRun(plan, visits, samples, records, households)


def checked_answer(requests: pd.DataFrame, answered: pd.DataFrame) -> pd.DataFrame:
    """A city's answer holds exactly the visits asked for, each with an outcome the contract knows."""
    from features.contract.vocabulary import VISIT_OUTCOMES

    asked = set(
        zip(requests["household_id"].astype(str), pd.to_datetime(requests["visited_on"]), strict=True)
    )
    given = list(
        zip(answered["household_id"].astype(str), pd.to_datetime(answered["visited_on"]), strict=True)
    )
    for household, day in given:
        if (household, day) not in asked:
            raise UnknownHousehold(
                f"household {household!r} on {day.date()}: the city answered a visit nobody asked for"
            )
    unanswered = asked - set(given)
    if unanswered:
        household, day = sorted(unanswered)[0]
        raise UnknownHousehold(f"household {household!r} on {day.date()}: the city did not answer this visit")
    unknown = sorted(set(answered["outcome"].astype(str)) - set(VISIT_OUTCOMES))
    if unknown:
        raise ValueError(f"the city answered with outcome {unknown[0]!r}, not one of {list(VISIT_OUTCOMES)}")
    return answered


def _groups(round_table: pd.DataFrame) -> pd.DataFrame:
    from training.evaluation import group_labels

    return group_labels(round_table).assign(household_id=round_table["household_id"].to_numpy())


@dataclass(frozen=True)
class LoopRun:
    plan: LoopPlan
    visits: pd.DataFrame
    """Every visit the loop asked for, as the city answered it."""
    samples: pd.DataFrame
    records: list[RoundRecord]
    households: pd.DataFrame
    """Every household any round held, with its fairness groupings as last delivered (district,
    age band, sex, housing), so one who left before the end is still counted in its group."""
