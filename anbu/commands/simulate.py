"""`anbu simulate`: a synthetic city runs anbu round after round (anbu/loop/)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import typer

from anbu.console import console, fail

WARM_UP_MONTHS = 20
"""Months of the city's own history before the loop's first round: enough for a first model
(training rounds, then a validation and a test round each holding a screening sweep)."""
TAIL_MONTHS = 2
"""After the last round: its visits happen, and the city delivers them once more."""
MAX_MONTHS = 120
MIN_HOUSEHOLDS = 5_000
"""Below this a city's screening sweeps hold too few households to calibrate a model (training
refuses fewer than 200 survey households with 15 found in need)."""


def city_months(rounds: int) -> int:
    return WARM_UP_MONTHS + 2 * rounds + TAIL_MONTHS


def simulate(
    out: Path = typer.Option(
        ..., "--out", help="Folder for the run: the city, its deliveries, models and report."
    ),
    scale: str = typer.Option(
        "small", "--scale", help="Preset size of the synthetic city (see `anbu generate`)."
    ),
    households: int | None = typer.Option(
        None, "--households", help="Number of households (overrides --scale)."
    ),
    seed: int = typer.Option(7, "--seed", help="The city's seed (and the loop's draws)."),
    city_variant: str = typer.Option("default", "--variant", help="The synthetic city's variant."),
    rounds: int = typer.Option(12, "--rounds", min=1, help="Bimonthly rounds the loop runs (12: two years)."),
    policy: str = typer.Option(
        "anbu",
        "--policy",
        help="rule, rule_not_yet_known (the rule among households no visit has found), anbu, anbu_frozen, random, or best_possible (a reference that knows the truth).",
    ),
    explore: float = typer.Option(
        0.0, "--explore", help="Share of each list visited at random (unbiased labels)."
    ),
    recheck: float = typer.Option(
        0.0,
        "--recheck",
        help="Share of anbu's lists for re-checking households outreach already knows (default none: discovery only).",
    ),
    capacity: float = typer.Option(
        0.01, "--capacity", help="Share of each district's households visited per round."
    ),
    visit_effect: float = typer.Option(
        0.0,
        "--visit-effect",
        help="Assumed chance that a visit finding a household in need ends its spell of need (default: none).",
    ),
    train_rounds: int | None = typer.Option(
        None,
        "--train-rounds",
        min=1,
        help="Keep only the latest N training rounds per retraining (default: all).",
    ),
    city: Path | None = typer.Option(
        None,
        "--city",
        help="Where the synthetic city is generated, or reused when it is the same city (default: OUT/source).",
    ),
    experiment: Path = typer.Option(
        Path("experiments/baseline.toml"), "--config", help="The experiment retrained."
    ),
    gates: Path = typer.Option(Path("experiments/promotion.toml"), "--gates", help="The promotion gates."),
) -> None:
    """Run a synthetic city as a loop: each round a policy chooses the visits, anbu retrains and is promoted by its gates; report what it found."""
    from anbu.loop.calendar import loop_rounds, round_dates
    from anbu.loop.city import UnknownHousehold
    from anbu.loop.run import LoopPlan
    from synthetic.generator import DEFAULT_LAST_MONTH, SCALES
    from synthetic.loop_city import VisitEffect
    from synthetic.variants import variant

    if scale not in SCALES:
        fail(f"--scale {scale!r}: choose one of {', '.join(SCALES)}")
    months = city_months(rounds)
    if months > MAX_MONTHS:
        most = (MAX_MONTHS - WARM_UP_MONTHS - TAIL_MONTHS) // 2
        fail(f"--rounds {rounds}: a synthetic city's history holds at most {most} rounds after its warm-up")
    try:
        variant(city_variant)
    except ValueError as error:
        fail(f"--variant: {error}")
    try:
        effect = VisitEffect(visit_effect)
    except ValueError as error:
        fail(f"--visit-effect: {error}")
    size = households if households is not None else SCALES[scale]
    if size < MIN_HOUSEHOLDS:
        fail(
            f"--households {size:,}: a city needs at least {MIN_HOUSEHOLDS:,} households for its survey to calibrate a model"
        )
    _check_config(experiment, gates)
    if out.exists() and any(out.iterdir()):
        fail(
            f"--out {out}: the folder holds an earlier run; give an empty or new folder (a loop never resumes another's)"
        )
    first_month = (pd.Timestamp(DEFAULT_LAST_MONTH) - pd.DateOffset(months=months - 1)).date()
    warmed = (pd.Timestamp(first_month) + pd.DateOffset(months=WARM_UP_MONTHS) - pd.Timedelta(days=1)).date()
    start = round_dates(warmed, warmed + dt.timedelta(days=62))[0]  # the first round date after it
    try:
        plan = LoopPlan(
            policy,
            tuple(loop_rounds(start, rounds)),
            capacity,
            explore,
            experiment,
            gates,
            train_rounds,
            seed,
            recheck,
        )
    except ValueError as error:
        fail(str(error))
    source = _city(city or out / "source", size, months, seed, city_variant)
    try:
        _run(
            plan,
            source,
            effect,
            out,
            {"households": str(size), "variant": city_variant, "visit_effect": str(visit_effect)},
        )
    except UnknownHousehold as error:
        fail(f"the city's answer: {error}")
    except ValueError as error:
        fail(str(error))


def _check_config(experiment: Path, gates: Path) -> None:
    """The experiment and the gates read before anything runs, so a typo stops the run at once."""
    from training.config import ConfigError, load_experiment
    from training.promotion_gates import load_gates

    for option, path, load in (("--config", experiment, load_experiment), ("--gates", gates, load_gates)):
        if not path.is_file():
            fail(f"{option} {path}: no such file")
        try:
            load(path)
        except ConfigError as error:
            fail(f"{option}: {error}")


def _city(folder: Path, households: int, months: int, seed: int, city_variant: str) -> Path:
    """The run's synthetic city, generated once (a rerun with the same city reuses it)."""
    from anbu.data_folder import DataFolder
    from synthetic.generator import generate_city
    from synthetic.variants import variant

    made = DataFolder(folder).truth / "generation.json"
    wanted = {"households": households, "months": months, "seed": seed, "variant": city_variant}
    if made.is_file():
        summary = json.loads(made.read_text(encoding="utf-8"))
        if all(summary.get(key) == value for key, value in wanted.items()):
            return folder
    with console.status(f"Generating a city of {households:,} households over {months} months …"):
        generate_city(folder, households=households, months=months, seed=seed, variant=variant(city_variant))
    return folder


def _run(plan, source: Path, effect, out: Path, description: dict[str, str]) -> None:
    from anbu.loop.outputs import record_run
    from anbu.loop.run import run_loop
    from synthetic.loop_city import SyntheticCity

    city = SyntheticCity(source, plan.rounds[0], effect)
    run = run_loop(city, plan, out, progress=console.print)
    rounds = record_run(run, city, out, description)
    last = rounds.iloc[-1]
    console.print(
        f"{plan.policy}: {int(last['found_first_time_cumulative']):,} households found for the first time in "
        f"{len(rounds)} rounds; precision at capacity {rounds['precision_at_capacity'].mean():.3f} on average; "
        f"{int((rounds['verdict'] == 'refused').sum())} promotions refused. Report: {out / 'rounds.csv'}, {out / 'rounds.png'}"
    )
