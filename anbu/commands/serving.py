"""`anbu score` and `anbu rank`: the champion's scores for a round, and a team's list."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from anbu.console import console, fail
from features.sources import ContractError

RECORDS_ENV = "ANBU_RECORDS"


def records_path(data: Path) -> Path:
    """Where outcomes, overrides and the audit log live: ANBU_RECORDS, else DIR/_records/."""
    return Path(os.environ.get(RECORDS_ENV) or Path(data) / "_records" / "anbu.sqlite")


@contextmanager
def block_progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over scored blocks (rich; plain lines when not on a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description="Blocks of households")

        yield advance


def _as_of(value: str):
    import pandas as pd

    try:
        return pd.Timestamp(value).normalize()
    except ValueError:
        fail(f"--as-of {value!r} is not a date (YYYY-MM-DD)")


def score(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    as_of: str = typer.Option(..., "--as-of", help="Round date, YYYY-MM-DD."),
    out: Path = typer.Option(None, "--out", help="Parquet file (default DIR/_scores/<as-of>.parquet)."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (one machine) or spark (a cluster)."),
    spark_master: str = typer.Option(
        "local[2]", "--spark-master", help="With --engine spark; empty: the master spark-submit sets."
    ),
    block_rows: int = typer.Option(
        100_000, "--block-rows", min=1, help="Households per block (DuckDB engine): memory and resume unit."
    ),
) -> None:
    """Score every household of a round with the champion: risk, rank, percentile, band, reasons.

    Killed part-way (DuckDB engine), the same command continues from the finished blocks."""
    from serving.champion import NoChampion, load_champion
    from serving.rounds import score_round, scores_path
    from serving.scoring import read_manifest

    day = _as_of(as_of)
    try:
        champion = load_champion()
        console.print(
            f"Scoring the round of {day.date()} with isolation-risk v{champion.version} on {engine}"
        )
        if engine == "spark":
            from features.spark_engine import spark_session
            from serving.spark_scoring import score_round_on_spark

            spark = spark_session(spark_master or None)
            path = score_round_on_spark(spark, data, day, champion, out or scores_path(data, day))
        elif engine == "duckdb":
            with block_progress(f"Features of {day.date()}, then blocks of households") as progress:
                path = score_round(
                    data,
                    day,
                    champion,
                    out or scores_path(data, day),
                    progress=progress,
                    block_rows=block_rows,
                )
        else:
            fail(f"--engine {engine!r}: choose duckdb or spark")
    except (NoChampion, ContractError, ValueError) as error:
        fail(str(error))
    manifest = read_manifest(path)
    bands = ", ".join(f"{band} {count:,}" for band, count in manifest["bands"].items())
    console.print(
        f"{manifest['households']:,} households scored with isolation-risk v{manifest['model_version']} "
        f"→ {path}\nBands: {bands}"
    )


def rank(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    as_of: str = typer.Option(..., "--as-of", help="Round date, YYYY-MM-DD."),
    gu: str = typer.Option(..., "--gu", help="District (자치구) as the registry spells it, e.g. 관악구."),
    dong: str = typer.Option(None, "--dong", help="Administrative dong code, to narrow the list."),
    capacity: int = typer.Option(..., "--capacity", min=1, help="Households the team can visit."),
    output_format: str = typer.Option("table", "--format", help="table, csv or xlsx."),
    out: Path = typer.Option(None, "--out", help="File for csv/xlsx (default: next to the scores)."),
) -> None:
    """The ranked list a team can visit, with reasons and what changed since the previous round."""
    from features.reference import district_names
    from serving.champion import NoChampion, load_champion
    from serving.exports import CHANGE_KO, to_csv, to_xlsx
    from serving.records import Records
    from serving.rounds import previous_round, scored_round

    if output_format not in ("table", "csv", "xlsx"):
        fail(f"--format {output_format!r}: choose table, csv or xlsx")
    if gu not in district_names():
        fail(f"--gu {gu!r} is not a Seoul district; one of: {', '.join(district_names())}")
    day = _as_of(as_of)
    try:
        champion = load_champion()
        with console.status("Scoring the round and the one before …"):
            scored = scored_round(data, day, champion)
            before_day = previous_round(data, day)
            previous = scored_round(data, before_day, champion)
    except (NoChampion, ContractError, ValueError) as error:
        fail(str(error))
    if dong and not (scored["dong_code"] == dong).any():
        fail(f"--dong {dong!r} has no households in {gu} on {day.date()}")
    records = Records(records_path(data))
    listed = _list(scored, previous, gu, dong, capacity, records, day, before_day)
    title = f"{gu}{' ' + dong if dong else ''} · {day.date()} · {len(listed.rows)}가구 (정원 {capacity})"
    if output_format == "table":
        _print_table(listed, title, CHANGE_KO)
        return
    target = out or Path(data) / "_lists" / f"{day.date()}-{gu}{'-' + dong if dong else ''}.{output_format}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(to_csv(listed) if output_format == "csv" else to_xlsx(listed, title))
    console.print(f"{len(listed.rows)} households → {target}")


def _list(scored, previous, gu, dong, capacity, records, day, before_day):
    from serving.ranking import outreach_list

    return outreach_list(
        scored,
        previous if len(previous) else None,
        gu,
        dong,
        capacity,
        records.overrides_for(day.date()),
        records.overrides_for(before_day.date()),
    )


def _print_table(listed, title: str, change_ko: dict[str, str]) -> None:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("순위", "right"),
        ("가구", "left"),
        ("행정동", "left"),
        ("위험도", "right"),
        ("등급", "left"),
        ("변화", "left"),
        ("사유", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in listed.rows.itertuples(index=False):
        reasons = " · ".join(
            r for r in (row.reason_1_ko, row.reason_2_ko, row.reason_3_ko, row.reason_4_ko) if r
        )
        change = change_ko.get(row.change, row.change) + (" · 사유 변경" if row.reasons_changed else "")
        if row.override:
            reasons = (
                f"[담당자 {'포함' if row.override == 'include' else '제외'}: {row.override_reason}] "
                + reasons
            )
        table.add_row(
            str(row.list_rank),
            row.household_id,
            str(row.dong_code),
            f"{row.risk:.0%}",
            row.band_ko,
            change,
            reasons,
        )
    console.print(table)
    previous = f"since {listed.previous_round}" if listed.previous_round else "no previous round"
    counts = listed.rows["change"].value_counts()
    console.print(
        f"{listed.households_in_area:,} households in the area; changes {previous}: "
        f"new {counts.get('new', 0)}, risen {counts.get('risen', 0)}, fallen {counts.get('fallen', 0)}, "
        f"steady {counts.get('steady', 0)}, reasons changed {int(listed.rows['reasons_changed'].sum())}, "
        f"left the list {len(listed.left)}"
    )


def keys(
    data: Path = typer.Option(..., "--data", help="Data directory the service serves."),
    name: str = typer.Option(..., "--name", help="Who holds the key, e.g. gwanak-team or call-centre."),
    role: str = typer.Option(..., "--role", help="planner, service or admin."),
) -> None:
    """Create an API key for a caller; only its hash is stored, the key is printed once."""
    from serving.auth import add_key

    os.environ.setdefault("ANBU_DATA", str(Path(data).resolve()))
    from serving.auth import keys_path

    try:
        key = add_key(keys_path(), name, role)
    except ValueError as error:
        fail(str(error))
    console.print(f"{role} key for {name} (shown once, store it safely):\n{key}")


def serve(
    data: Path = typer.Option(..., "--data", help="Data directory with scored rounds (anbu score)."),
    as_of: str = typer.Option(None, "--as-of", help="Round to serve (default: the latest scored)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(3000, "--port"),
) -> None:
    """Start the BentoML service (scoring API, lists, outcomes, planner page) on the champion."""
    import subprocess
    import sys

    from serving.auth import ROLES, add_key, keys_path
    from serving.champion import NoChampion, load_champion
    from serving.rounds import SCORES_FOLDER, scores_path

    try:
        load_champion()
    except NoChampion as error:
        fail(str(error))
    scored = sorted((Path(data) / SCORES_FOLDER).glob("*.parquet"))
    if as_of and not scores_path(Path(data), _as_of(as_of)).is_file():
        fail(f"the round {as_of} is not scored yet: run `anbu score --data {data} --as-of {as_of}` first")
    if not scored:
        fail(
            f"no scored round under {Path(data) / SCORES_FOLDER}: run `anbu score --data {data} --as-of D` first"
        )
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "ANBU_DATA": str(Path(data).resolve()), "BENTOML_DO_NOT_TRACK": "true"}
    if as_of:
        environment["ANBU_AS_OF"] = str(_as_of(as_of).date())
    os.environ["ANBU_DATA"] = environment["ANBU_DATA"]
    if not keys_path().is_file():
        console.print(f"No API keys yet; created one per role in {keys_path()} (shown once):")
        for role in ROLES:
            console.print(f"  {role:8s} {add_key(keys_path(), f'demo-{role}', role)}")
    console.print(f"Planner page: http://{host}:{port}/planner/ · API docs: http://{host}:{port}/")
    bentoml = Path(sys.executable).with_name("bentoml")
    command = [str(bentoml), "serve", "serving.service:Anbu", "--host", host, "--port", str(port)]
    raise SystemExit(subprocess.call([*command, "--working-dir", str(root)], env=environment))


def outcomes(
    data: Path = typer.Option(..., "--data", help="Data directory whose service recorded the outcomes."),
    out: Path = typer.Option(..., "--out", help="Parquet file in the contract's outreach_visits layout."),
) -> None:
    """Export recorded visit outcomes as contract `outreach_visits` rows for the next delivery."""
    from serving.records import Records

    path = records_path(data)
    if not path.is_file():
        fail(f"no records at {path}: nothing has been recorded for {data}")
    count = Records(path).export_visits(out)
    console.print(
        f"{count:,} recorded visit outcomes → {out} (outreach_visits layout; include it in the next delivery)"
    )


def bento() -> None:
    """Build a Bento (service code + the champion's model) for deployment; serve it with
    `ANBU_DATA=DIR bentoml serve anbu:latest`."""
    from serving.bento import build_bento
    from serving.champion import NoChampion

    try:
        with console.status("Building the Bento around the champion …"):
            tag = build_bento()
    except (NoChampion, RuntimeError) as error:
        fail(str(error))
    console.print(f"Built {tag}. Serve it with: ANBU_DATA=<data dir> bentoml serve {tag}")
