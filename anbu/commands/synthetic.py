"""`anbu generate`: a synthetic Seoul laid out as the source contract, with its report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from anbu.console import console, fail, progress_bar
from synthetic.city_report import CityReport, city_report
from synthetic.generator import SCALES, SEOUL_READING_DAYS, generate_city
from synthetic.variants import VARIANTS, variant


def generate(
    out: Path = typer.Option(
        Path("data/demo"), "--out", help="Directory to write the contract files and _truth/ into."
    ),
    scale: str = typer.Option(
        "small", "--scale", help=f"Preset size: {', '.join(f'{k} ({v:,})' for k, v in SCALES.items())}."
    ),
    households: int | None = typer.Option(
        None, "--households", help="Number of households (overrides --scale)."
    ),
    months: int = typer.Option(24, "--months", help="Months simulated, ending October 2026."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same files."),
    city_variant: str = typer.Option(
        "default",
        "--variant",
        help=f"A city that differs in visit error, outreach, survey size, hidden hazard or reporting "
        f"lags (docs/synthetic-city.md): {', '.join(VARIANTS)}.",
    ),
    report: bool = typer.Option(
        True, "--report/--no-report", help="Print generated figures beside the published ones."
    ),
) -> None:
    """Generate a synthetic Seoul calibrated to the published district tables."""
    if scale not in SCALES:
        raise typer.BadParameter(f"{scale!r} is not one of {', '.join(SCALES)}", param_hint="--scale")
    try:
        chosen = variant(city_variant)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--variant") from None
    n = households if households is not None else SCALES[scale]
    reading_days = SEOUL_READING_DAYS if n > 1_000_000 else None
    with progress_bar() as progress:
        task = progress.add_task(f"Generating {n:,} households", total=n)
        try:
            summary = generate_city(
                out,
                households=n,
                months=months,
                seed=seed,
                reading_days=reading_days,
                variant=chosen,
                progress=lambda done, total: progress.update(task, completed=done),
            )
        except ValueError as error:
            fail(str(error))
    rows = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
    console.print(
        f"Wrote {out} in {summary.seconds:.0f} s ({summary.first_month} to delivery on {summary.delivered_on}): {rows}"
    )
    if report:
        render_city_report(city_report(out))


def _table(title: str, frame, formats: dict[str, str]) -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(
            str(column),
            justify="left" if frame[column].dtype == object or str(frame[column].dtype) == "str" else "right",
        )
    for row in frame.itertuples(index=False):
        table.add_row(
            *[
                formats.get(column, "{}").format(value) if not isinstance(value, str) else value
                for column, value in zip(frame.columns, row, strict=True)
            ]
        )
    return table


def render_city_report(report: CityReport) -> None:
    pct = "{:.2%}"
    headline = report.headline.copy()
    headline["generated"] = [
        f"{v:,.0f}" if i == 0 else f"{v:.2%}" for i, v in enumerate(headline["generated"])
    ]
    headline["target"] = [v if isinstance(v, str) else f"{v:.2%}" for v in headline["target"]]
    console.print(_table("Synthetic city beside published figures", headline, {}))
    console.print(
        _table(
            "Districts: share of households, one-person share, and households by dong against "
            "electors (Pearson r)",
            report.districts,
            {
                **{c: pct for c in report.districts.columns if c not in ("gu", "dong_share_r", "dongs")},
                "dong_share_r": "{:.3f}",
            },
        )
    )
    console.print(
        _table(
            "One-person households by age band",
            report.age_bands,
            {c: pct for c in ("published_share", "generated_share")},
        )
    )
    visits = report.visits.copy()
    console.print(
        _table(
            "Visits by trigger and outcome",
            visits,
            {
                **{c: "{:,.0f}" for c in visits.columns if c not in ("trigger", "positive_rate")},
                "positive_rate": pct,
            },
        )
    )
    top = report.indicators.sort_values("households_per_1000_per_year", ascending=False).head(12)
    console.print(
        _table(
            "Most frequent indicators (households per 1,000 per year)",
            top,
            {"households_per_1000_per_year": "{:.1f}"},
        )
    )
