"""`anbu train`: run one experiment config and record it in MLflow."""

from __future__ import annotations

from pathlib import Path

import typer

from anbu.console import console, fail
from features.contract.delivery import ContractError
from training.config import ConfigError, load_experiment
from training.tracking import tracking_uri


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
            result = train_experiment(data, experiment, config)
    except (ConfigError, ContractError) as error:
        fail(str(error))
    m = result.metrics
    console.print(
        f"Run {result.run_id} in {tracking_uri()}: registered isolation-risk version {result.model_version}"
    )
    for line in summary_lines(m):
        console.print(line)


def _figure(m: dict[str, float], key: str, digits: int = 3) -> str:
    value = m.get(key)
    if value is None:
        return "–"
    low, high = m.get(f"{key}_low"), m.get(f"{key}_high")
    if low is None or high is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def summary_lines(m: dict[str, float]) -> list[str]:
    """What `anbu train` says about the test round: the survey estimates first (all a city has),
    then, for a synthetic city, the same figures for a visit to every household and the truth."""
    lines = []
    if "model_survey_precision_at_capacity" in m:
        lines.append(
            f"Test round, from {int(m['test_survey_households']):,} survey households (90 % intervals): "
            f"precision at capacity {_figure(m, 'model_survey_precision_at_capacity')} on "
            f"{int(m['model_survey_precision_at_capacity_households'])} surveyed list households, "
            f"today's rule {_figure(m, 'rule_survey_precision_at_capacity')}; "
            f"ECE {_figure(m, 'model_survey_ece', 4)}; mean risk ÷ found {_figure(m, 'model_survey_mean_risk_ratio')}"
        )
    else:
        lines.append("Test round: no survey visits in its window, so nothing is estimated from visits")
    if "model_census_precision_at_capacity" in m:
        lines.append(
            f"Test round, a visit to every household (synthetic truth): precision at capacity "
            f"{m['model_census_precision_at_capacity']:.3f}, today's rule {m['rule_census_precision_at_capacity']:.3f}; "
            f"ECE {m['model_census_ece']:.4f}; mean risk ÷ found {m['model_census_mean_risk_ratio']:.3f}"
        )
    if "model_truth_precision_at_capacity" in m:
        lines.append(
            f"Test round, against the true state: precision at capacity {m['model_truth_precision_at_capacity']:.3f} "
            f"(best possible {m['best_possible_truth_precision_at_capacity']:.3f}, today's rule "
            f"{m['rule_truth_precision_at_capacity']:.3f}, logistic {m['logistic_truth_precision_at_capacity']:.3f}); "
            f"lowest group recall ratio {m.get('model_truth_min_group_recall_ratio', float('nan')):.2f}"
        )
    return lines


def promote(
    version: str | None = typer.Option(
        None, "--version", help="Model version to decide on (default: the newest)."
    ),
    gates: Path = typer.Option(Path("experiments/promotion.toml"), "--gates", help="Promotion gates (TOML)."),
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
) -> None:
    """Move the `champion` alias to a version only if the survey shows it passes the gates; record
    the decision. Exits 1 when it refuses."""
    from training.comparison import compare_with_champion
    from training.promotion import Override, load_gates
    from training.promotion import promote as decide_and_promote

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
    verdicts = {
        "promoted": "[green]promoted to champion",
        "promoted by override": f"[yellow]promoted to champion by override ({by}: {reason})",
        "refused": (
            f"[red]not promoted; champion version {decision.champion} stays"
            if decision.champion
            else "[red]not promoted; no model serves until one passes (or is overridden)"
        ),
    }
    console.print(
        f"isolation-risk version {decision.version}: {verdicts[decision.verdict]}[/] (judged on the survey)"
    )
    for line in decision.reasons:
        console.print(f"  - {line}")
    if not decision.promote:
        raise typer.Exit(1)


def _newest_version() -> str:
    from training.promotion import newest_version

    return newest_version()
