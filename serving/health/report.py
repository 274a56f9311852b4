"""What a round-health check found, written where its readers look: `health.json` for `anbu score`
and the service, a page with the shifted histograms for people (they would rather see a
distribution move than read its index), both kept in DIR/_health/<as-of>/ and logged to MLflow
under the champion's run as `health/<as-of>/`.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from anbu.data_folder import DataFolder, written_whole  # noqa: E402
from features.health.drift import PSI_MAJOR, PSI_WARNING, FeatureShift  # noqa: E402
from serving.health.round import RoundHealth  # noqa: E402

HEALTH_FILE = "health.json"
REPORT_FILE = "report.html"
CHECK_VERSION = 1
"""Bumped when a check changes what it finds: a health.json of an older check is not reused."""
CHARTED = 8
"""The features drawn: the most shifted ones (the table lists them all)."""


def health_dir(data_dir: Path, as_of) -> Path:
    return DataFolder(data_dir).health(as_of)


def verdict(health: RoundHealth) -> str:
    if health.errors:
        return "errors"
    return "warnings" if health.warnings else "clean"


def health_json(health: RoundHealth) -> dict[str, object]:
    return {
        "as_of": str(health.as_of.date()),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "check_version": CHECK_VERSION,
        "model_version": health.model_version,
        "model_run_id": health.model_run_id,
        "training_rounds": health.reference.rounds,
        "test_round": health.reference.test_round,
        "inputs": health.inputs,
        "households": health.households,
        "verdict": verdict(health),
        "errors": len(health.errors),
        "warnings": len(health.warnings),
        "findings": [f.as_json() for f in health.findings],
        "features": [_shift_row(s) for s in sorted(health.shifts, key=lambda s: -s.psi)],
        "served_risk": _shift_row(health.risk),
        "realised": [r.as_json() for r in health.realised],
        "top_households": health.top_households,
        "districts": [
            {
                "district": d.district,
                "reference_share": d.reference,
                "share": d.now,
                "households": d.households,
            }
            for d in health.districts
        ],
    }


def _shift_row(shift: FeatureShift) -> dict[str, object]:
    return {
        "feature": shift.reference.feature,
        "psi": round(shift.psi, 4),
        "missing_share": round(shift.missing_share, 4),
        "reference_missing_share": round(shift.reference.missing_share, 4),
    }


def write_health(health: RoundHealth, data_dir: Path) -> Path:
    """Each file replaced whole, the page first: health.json, which `anbu score` reads, is written
    last, so it never describes a check whose page is not there yet."""
    target = health_dir(data_dir, health.as_of)
    target.mkdir(parents=True, exist_ok=True)
    with written_whole(target / REPORT_FILE) as page:
        page.write_text(report_page(health), encoding="utf-8")
    with written_whole(target / HEALTH_FILE) as written:
        written.write_text(
            json.dumps(health_json(health), ensure_ascii=False, indent=1, allow_nan=False), encoding="utf-8"
        )
    return target


def log_health(folder: Path, health: RoundHealth) -> None:
    """Beside the round in MLflow: the champion's run keeps every round it was held against. A
    store that refuses the files does not undo the check (its files are written): it is said."""
    import warnings

    from mlflow.exceptions import MlflowException

    from training.tracking import configure

    try:
        configure().log_artifacts(health.model_run_id, str(folder), f"health/{health.as_of.date()}")
    except (MlflowException, OSError) as error:
        warnings.warn(
            f"round health of {health.as_of.date()} written to {folder} but not logged to MLflow: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}",
            stacklevel=2,
        )


def read_health(data_dir: Path, as_of) -> dict | None:
    path = health_dir(data_dir, as_of) / HEALTH_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def report_page(health: RoundHealth) -> str:
    """One self-contained HTML page (charts inline): it opens from a file, offline."""
    e = html.escape
    rows = (
        "".join(
            f"<tr class='{f.grade}'><td>{e(str(f.grade))}</td><td>{e(f.subject)}</td><td>{e(f.sentence)}</td></tr>"
            for f in health.findings
        )
        or "<tr><td colspan=3>No finding: the round looks like what the model learnt from.</td></tr>"
    )
    # Furthest beyond its own limit first: a days-since feature far from its training rows is
    # ordinary, a registry feature a little away is not.
    shifted = sorted(health.shifts, key=lambda s: -s.psi / s.reference.psi_limit)
    table = "".join(
        f"<tr><td>{e(s.reference.feature)}</td><td>{s.psi:.3f}</td><td>{s.reference.psi_limit:.3f}</td>"
        f"<td>{s.reference.missing_share:.1%}</td><td>{s.missing_share:.1%}</td></tr>"
        for s in shifted
    )
    charts = "".join(
        f"<figure><img alt='{e(s.reference.feature)}' src='data:image/png;base64,{_chart(s)}'></figure>"
        for s in [health.risk, *shifted[:CHARTED]]
    )
    realised = (
        "".join(
            f"<tr><td>{r.round}</td><td>v{e(r.model_version)}</td><td>{r.visited:,}</td><td>{r.found:,}</td>"
            f"<td>{r.expected.expected:,.1f} ({r.expected.low:,}–{r.expected.high:,})</td>"
            f"<td>{'closed' if r.window_closed else 'still open'}</td></tr>"
            if r.visited
            else f"<tr><td>{r.round}</td><td>v{e(r.model_version)}</td><td colspan=4>no visit recorded "
            "through the service in its window</td></tr>"
            for r in health.realised
        )
        or "<tr><td colspan=6>No earlier scored round.</td></tr>"
    )
    districts = "".join(
        f"<tr><td>{e(d.district)}</td><td>{d.reference:.1%}</td><td>{d.now:.1%}</td><td>{d.households:,}</td></tr>"
        for d in sorted(health.districts, key=lambda d: -abs(d.now - d.reference))
    )
    return f"""<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>Round health {health.as_of.date()}</title>
<style>
body {{ font-family: 'Noto Sans CJK KR', sans-serif; margin: 2em; max-width: 72em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: .25em .6em; text-align: left; }}
tr.error td {{ background: #fde2e1; }} tr.warning td {{ background: #fff4d6; }}
figure {{ display: inline-block; margin: .5em; }} img {{ width: 26em; }}
</style></head><body>
<h1>Round health, {health.as_of.date()}: {verdict(health)}</h1>
<p>{health.households:,} households held against isolation-risk v{e(health.model_version)}, trained on the
rounds {e(", ".join(health.reference.rounds))} (test round {e(health.reference.test_round)}).
{len(health.errors)} errors, {len(health.warnings)} warnings. A population stability index of
{PSI_WARNING} or more is a shift, {PSI_MAJOR} or more a major one; a feature is reported when it moved
that far and twice as far as its own training rounds stood from them pooled.</p>
<h2>Findings</h2>
<table><tr><th>grade</th><th>about</th><th>what</th></tr>{rows}</table>
<h2>What list visits found after earlier rounds, against their risks</h2>
<table><tr><th>round</th><th>model</th><th>households visited</th><th>found</th><th>expected (90 % range)</th>
<th>90-day window</th></tr>{realised}</table>
<h2>Served risk and the most shifted features</h2>
{charts}
<h2>Each district's share of the top 1 % ({health.top_households:,} households)</h2>
<table><tr><th>district</th><th>test round</th><th>this round</th><th>households</th></tr>{districts}</table>
<h2>Every feature</h2>
<table><tr><th>feature</th><th>PSI</th><th>reported from</th><th>missing, trained on</th><th>missing, this round</th></tr>{table}</table>
</body></html>
"""


def _chart(shift: FeatureShift) -> str:
    """The reference's bins beside the round's, as shares of the households that have a value (what
    the index compares: a meter feature is missing for everyone not enrolled, and a missing bar
    would flatten the rest); the missing shares are in the title."""
    reference, now = shift.reference, shift
    labels = _bin_labels(reference.cuts, reference.discrete)
    before, after = reference.shares, now.shares
    x = np.arange(len(labels))
    figure, axes = plt.subplots(figsize=(6, 3))
    axes.bar(x - 0.2, before, width=0.4, label="trained on", color="#9aa5b1")
    axes.bar(x + 0.2, after, width=0.4, label="this round", color="#d9480f")
    axes.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    axes.set_ylabel("share of households with a value")
    axes.set_title(
        f"{reference.feature}  (PSI {shift.psi:.2f}; missing {reference.missing_share:.1%} → "
        f"{now.missing_share:.1%})",
        fontsize=9,
    )
    axes.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bin_labels(cuts: list[float], discrete: bool) -> list[str]:
    if discrete:
        return [f"{c:g}" for c in cuts] + ["other"]
    if not cuts:
        return ["all"]
    return (
        [f"≤ {cuts[0]:.3g}"]
        + [f"{a:.3g}–{b:.3g}" for a, b in zip(cuts, cuts[1:], strict=False)]
        + [f"> {cuts[-1]:.3g}"]
    )
