"""`anbu train`: run one experiment config and record it in MLflow."""

from __future__ import annotations

from pathlib import Path

import typer

from anbu.console import console, fail
from features.sources import ContractError
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
    if "model_truth_precision_at_capacity" in m:
        console.print(
            f"Test round, against the true state: precision at capacity {m['model_truth_precision_at_capacity']:.3f} "
            f"(best possible {m['best_possible_truth_precision_at_capacity']:.3f}, today's rule "
            f"{m['rule_truth_precision_at_capacity']:.3f}, logistic {m['logistic_truth_precision_at_capacity']:.3f}); "
            f"ECE {m['model_truth_ece']:.4f}"
        )
    console.print(
        f"Test round, against visit labels: precision at capacity {m['model_visits_precision_at_capacity']:.3f}, "
        f"ROC-AUC {m['model_visits_roc_auc']:.3f}"
    )


def promote(
    version: str | None = typer.Option(
        None, "--version", help="Model version to decide on (default: the newest)."
    ),
    gates: Path = typer.Option(Path("experiments/promotion.toml"), "--gates", help="Promotion gates (TOML)."),
) -> None:
    """Move the `champion` alias to a version only if it passes the gates; record the decision."""
    from training.promotion import load_gates
    from training.promotion import promote as decide_and_promote

    try:
        decision = decide_and_promote(version, load_gates(gates))
    except ConfigError as error:
        fail(str(error))
    verdict = "[green]promoted to champion" if decision.promote else "[red]not promoted; the champion stays"
    console.print(
        f"isolation-risk version {decision.version}: {verdict}[/] (measured against {decision.basis})"
    )
    for reason in decision.reasons:
        console.print(f"  - {reason}")
