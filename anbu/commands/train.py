"""`anbu train`: run one experiment config and record it in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from anbu.console import command_settings, console, fail
from features.contract.delivery import ContractError
from training.config import ConfigError, load_experiment
from training.tracking import tracking_uri

if TYPE_CHECKING:
    from training.figures import Figures
    from training.promotion_history import DecisionRecord


def train(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    config: Path = typer.Option(
        Path("experiments/baseline.toml"), "--config", help="Experiment config (TOML)."
    ),
) -> None:
    """Train, calibrate and evaluate one experiment; log it to MLflow and register the model."""
    from training.train import train_experiment

    try:
        experiment = load_experiment(config)
        with console.status(f"Training {experiment.name} …"):
            result = train_experiment(
                data, experiment, config, command_settings(data), progress=lambda line: console.print(line)
            )
    except (ConfigError, ContractError) as error:
        fail(str(error))
    console.print(
        f"Run {result.run_id} in {tracking_uri()}: registered isolation-risk version {result.model_version}"
    )
    for line in summary_lines(result.figures):
        console.print(line)
    _print_round_findings(result.round_findings)


def _print_round_findings(round_findings) -> None:
    """The training rounds' delivery checks: what the model learnt from, broken months too."""
    from anbu.commands.health import print_finding

    found = {day: findings for day, findings in round_findings.items() if findings}
    if not found:
        if round_findings:
            console.print(f"Delivery checks of the {len(round_findings)} rounds used: no finding")
        return
    console.print(
        f"Delivery checks of the rounds used ({len(found)} of {len(round_findings)} with findings):"
    )
    for day, findings in found.items():
        for finding in findings:
            print_finding(str(finding.grade), finding.sentence, before=f"  {day} ")


def summary_lines(figures: Figures) -> list[str]:
    """What `anbu train` says about the test round: the survey estimates first (all a city has),
    then, for a synthetic city, the same figures for a visit to every household and the truth."""
    from training.figures import TEST_SURVEY_HOUSEHOLDS, quoted
    from training.survey import provenance_sentence

    lines = []
    precision = figures.survey("precision_at_capacity")
    if precision is not None:
        lines.append(
            f"Test round, from {figures.count(TEST_SURVEY_HOUSEHOLDS):,} survey households (90 % intervals): "
            f"precision at capacity {quoted(precision, households=False)} on "
            f"{precision.households} surveyed list households, "
            f"today's rule {quoted(figures.survey('precision_at_capacity', 'rule'), households=False)}; "
            f"ECE {quoted(figures.survey('ece'), 4, households=False)}; mean risk ÷ found {quoted(figures.survey('mean_risk_ratio'), households=False)}"
        )
    else:
        lines.append("Test round: no survey visits in its window, so nothing is estimated from visits")
    provenance = provenance_sentence(figures.metrics)
    if provenance is not None:
        lines.append(provenance)
    if figures.exact("census", "precision_at_capacity") is not None:
        lines.append(
            f"Test round, a visit to every household (synthetic truth): precision at capacity "
            f"{figures.shown('census', 'precision_at_capacity')}, today's rule {figures.shown('census', 'precision_at_capacity', 'rule')}; "
            f"ECE {figures.shown('census', 'ece', digits=4)}; mean risk ÷ found {figures.shown('census', 'mean_risk_ratio')}"
        )
    if figures.exact("truth", "precision_at_capacity") is not None:
        lines.append(
            f"Test round, against the true state: precision at capacity {figures.shown('truth', 'precision_at_capacity')} "
            f"(best possible {figures.shown('truth', 'precision_at_capacity', 'best_possible')}, today's rule "
            f"{figures.shown('truth', 'precision_at_capacity', 'rule')}, logistic {figures.shown('truth', 'precision_at_capacity', 'logistic')}); "
            f"lowest group recall ratio {figures.shown('truth', 'min_group_recall_ratio', digits=2)}"
        )
    return lines


GATES = Path("experiments/promotion.toml")


def promote(
    version: str | None = typer.Option(
        None, "--version", help="Model version to decide on (default: the newest)."
    ),
    gates: Path = typer.Option(GATES, "--gates", help="Promotion gates (TOML)."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Compare the version with the current champion on its test round first (needed when the "
        "champion changed after the version was trained).",
    ),
    override: bool = typer.Option(
        False, "--override", help="Promote even if the gates refuse; needs --by and --reason."
    ),
    by: str = typer.Option("", "--by", help="Who overrides the gates (recorded on the version)."),
    reason: str = typer.Option(
        "", "--reason", help="Why the gates are overridden (recorded on the version)."
    ),
    history: bool = typer.Option(
        False,
        "--history",
        help="Print every recorded decision, oldest first (on all versions, or on --version N); "
        "decides nothing.",
    ),
) -> None:
    """Move the `champion` alias to a version only if the survey shows it passes the gates; record
    the decision. Exits 1 when it refuses. Every decision is appended to the version's record, never
    rewritten; `--history` prints them."""
    from training.comparison import compare_with_champion
    from training.promotion import promote as decide_and_promote
    from training.promotion_gates import Override, load_gates

    if history:
        _print_history(version, deciding=override or bool(by or reason or data))
        return
    try:
        chosen = Override(by, reason) if override else None
        if (by or reason) and not override:
            raise ConfigError("--by and --reason only apply with --override")
        limits = load_gates(gates)
        if data is not None:
            compared = compare_with_champion(data, version or _newest_version())
            if compared is not None:
                console.print(
                    f"compared with champion version {compared} on the test round's survey households"
                )
        decision = decide_and_promote(version, limits, chosen)
    except (ConfigError, ContractError) as error:
        fail(str(error))
    console.print(f"isolation-risk version {decision.version}: {_verdict_line(decision)}")
    for line in decision.reasons:
        console.print(f"  - {line}", markup=False)
    if decision.compare_first:
        console.print(f"  to compare them: {_compare_command(decision.version, gates)}", markup=False)
    if not decision.promote:
        raise typer.Exit(1)


def _verdict_line(decision: DecisionRecord) -> str:
    from rich.markup import escape

    from training.promotion_history import Verdict

    who = f"{escape(decision.override.by)}: {escape(decision.override.reason)}" if decision.override else ""
    if decision.verdict is Verdict.PROMOTED:
        return "[green]promoted to champion[/] (judged on the survey)"
    if decision.verdict is Verdict.PROMOTED_BY_OVERRIDE:
        return f"[yellow]promoted to champion by override ({who})[/] (judged on the survey)"
    if decision.verdict is Verdict.REFUSED:
        if decision.champion:
            return f"[red]not promoted; champion version {decision.champion} stays[/] (judged on the survey)"
        return (
            "[red]not promoted; no model serves until one passes (or is overridden)[/] (judged on the survey)"
        )
    if decision.verdict is Verdict.OVERRIDE_ON_CHAMPION:
        return f"[yellow]already the champion; the override ({who}) is recorded, nothing moved[/]"
    return "[green]already the champion; recorded, nothing moved[/]"


def _compare_command(version: str, gates: Path) -> str:
    """The command that compares the version with the champion and judges it again, as it runs:
    the version judged (whether or not --version was given) and the gates if not the default."""
    import shlex

    words = ["anbu", "promote", "--version", version, "--data", "DIR"]
    if gates != GATES:
        words += ["--gates", str(gates)]
    return shlex.join(words) + "    (DIR: the city's data directory, as given to `anbu train`)"


def _print_history(version: str | None, *, deciding: bool) -> None:
    from training.promotion_history import decision_history

    try:
        if deciding:
            raise ConfigError(
                "--history only reads the record; leave out --override, --by, --reason and --data"
            )
        records = decision_history(version)
    except ConfigError as error:
        fail(str(error))
    if not records:
        where = f"version {version}" if version else "any version"
        console.print(f"no promotion decision is recorded on {where} of isolation-risk")
        return
    for record in records:
        for line in history_lines(record):
            console.print(line, markup=False, highlight=False)


def history_lines(record: DecisionRecord) -> list[str]:
    """One decision as `anbu promote --history` prints it: when, version, verdict, against what,
    who and why, then its reasons, gates and figures."""
    head = f"{record.when}  version {record.version}  decision {record.number}: {record.verdict.value}"
    if record.against:
        head += f", against {record.against}"
    lines = [head]
    if record.override is not None:
        lines.append(f"  by {record.override.by}: {record.override.reason}")
    lines += [f"  - {reason}" for reason in record.reasons]
    lines.append(f"  gates: {record.gates_summary}")
    if record.figures_summary:
        lines.append(f"  figures: {'; '.join(record.figures_summary)}")
    return lines


def _newest_version() -> str:
    from training.promotion import newest_version

    return newest_version()
