"""`anbu score` and `anbu rank`: the champion's scores for a round, and a team's list."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from anbu.console import command_settings, console, date_option, fail


def open_records(settings, *, recorded: bool = False):
    """The records of the settings' data directory (ANBU_RECORDS_URL, else DIR/_records/). With
    `recorded`, a command that only reads them stops in one sentence when nothing was ever written
    there (a SQLite file that does not exist; a server URL is left to answer for itself)."""
    from serving.records.store import Records, RecordsOutdated

    location = settings.records_location
    if recorded and "://" not in location and not Path(location).is_file():
        fail(f"no records at {location}: nothing has been recorded for {settings.data}")
    try:
        return Records(location, settings.records_secret_file)
    except RecordsOutdated as error:
        fail(str(error).replace("--data DIR", f"--data {settings.data}"))


def records_if_any(settings):
    """The data directory's records when any were ever written (a server URL is taken as written):
    what a reading command uses without creating an empty store."""
    location = settings.records_location
    if "://" not in location and not Path(location).is_file():
        return None
    return open_records(settings)


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


def score(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    as_of: str = typer.Option(..., "--as-of", help="Round date, YYYY-MM-DD."),
    out: Path = typer.Option(
        None, "--out", help="Parquet file (default DIR/_scores/<as-of>/v<model version>.parquet)."
    ),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (one machine) or spark (a cluster)."),
    spark_master: str = typer.Option(
        "local[2]", "--spark-master", help="With --engine spark; empty: the master spark-submit sets."
    ),
    block_rows: int = typer.Option(
        None,
        "--block-rows",
        min=1,
        help="Households per block (DuckDB engine): memory and resume unit (default 250,000).",
    ),
    accept_health: str = typer.Option(
        None,
        "--accept-health",
        help="Score a round whose health check found an error anyway, for this reason (recorded with --by).",
    ),
    by: str = typer.Option(None, "--by", help="With --accept-health: who accepts the round's errors."),
) -> None:
    """Score every household of a round with the champion: risk, rank, percentile, band, reasons.

    The round is first held against the champion's training rounds (`anbu health`, reused when it
    already ran on these files): an error stops it until --accept-health REASON --by NAME, recorded
    in the audit records; warnings are printed and kept in the round's manifest.

    Killed part-way (DuckDB engine), the same command continues from the finished blocks. A round
    is written once per model version and never rewritten; once a later round is scored, an
    earlier one is history and takes no new version."""
    from features.contract.delivery import ContractError
    from features.spark_engine import SparkEnvironmentMissing
    from serving.health.gate import Acceptance, HealthCannotRun, RoundRefused, health_for_scoring
    from serving.scoring.champion import NoChampion, load_champion
    from serving.scoring.city import round_features
    from serving.scoring.households import read_manifest
    from serving.scoring.rounds import RoundIsHistory, check_writable, score_round

    day = date_option(as_of)
    if engine not in ("duckdb", "spark"):
        fail(f"--engine {engine!r}: choose duckdb or spark")
    if by is not None and accept_health is None:
        fail("--by names who accepts a round's health errors: pass it with --accept-health REASON")
    try:
        acceptance = Acceptance(accept_health, by or "") if accept_health is not None else None
    except ValueError as error:
        fail(str(error))
    try:
        champion = load_champion()
        target = out or check_writable(data, day, champion.version)
        settings = command_settings(data)
        health = health_for_scoring(
            data,
            day,
            champion,
            acceptance,
            records=records_if_any(settings),
            recorder=lambda: open_records(settings),
            scores=target,
            # on one machine, the check reads the features the scoring then resumes from
            round_table=(lambda: round_features(data, day, champion, target, block_rows))
            if engine == "duckdb"
            else None,
        )
        _print_health(health)
        console.print(
            f"Scoring the round of {day.date()} with isolation-risk v{champion.version} on {engine}"
        )
        if engine == "spark":
            from features.spark_engine import spark_session
            from serving.scoring.spark import score_round_on_spark

            spark = spark_session(spark_master or None)
            path = score_round_on_spark(spark, data, day, champion, target, health)
        elif engine == "duckdb":
            with block_progress(f"Features of {day.date()}, then blocks of households") as progress:
                path = score_round(
                    data,
                    day,
                    champion,
                    target,
                    progress=progress,
                    block_rows=block_rows,
                    health=health,
                )
    except RoundRefused as error:
        fail(str(error), code=1)
    except (
        NoChampion,
        ContractError,
        RoundIsHistory,
        SparkEnvironmentMissing,
        HealthCannotRun,
        ValueError,
    ) as error:
        fail(str(error))
    manifest = read_manifest(path)
    bands = ", ".join(f"{band} {count:,}" for band, count in manifest["bands"].items())
    console.print(
        f"{manifest['households']:,} households scored with isolation-risk v{manifest['model_version']} "
        f"→ {path}\nBands: {bands}"
    )


def _print_health(health: dict) -> None:
    from anbu.commands.health import print_finding

    accepted = health.get("accepted") or {}
    for sentence in health.get("errors", []):
        print_finding("error", sentence, label=f"error, accepted by {accepted.get('by', '?')}")
    for sentence in health.get("warnings", []):
        print_finding("warning", sentence)


LIST_OPTIONS = {
    "gu": "--gu",
    "dong": "--dong",
    "capacity": "--capacity",
    "recheck_capacity": "--recheck",
    "as_of": "--as-of",
}
"""The list request's fields as `anbu rank` spells them, to name the option a refusal blames."""


def rank(
    data: Path = typer.Option(..., "--data", help="Data directory laid out as the source contract."),
    as_of: str = typer.Option(..., "--as-of", help="Round date, YYYY-MM-DD."),
    gu: str = typer.Option(..., "--gu", help="District (자치구) as the registry spells it, e.g. 관악구."),
    dong: str = typer.Option(
        None, "--dong", help="Administrative dong (행정동), by name (보라매동) or code, to narrow the list."
    ),
    capacity: int = typer.Option(..., "--capacity", min=1, help="Households the team can visit."),
    recheck: int = typer.Option(
        0, "--recheck", min=0, help="Of the capacity, visits for households outreach already knows."
    ),
    output_format: str = typer.Option("table", "--format", help="table, csv or xlsx."),
    out: Path = typer.Option(None, "--out", help="File for csv/xlsx (default: next to the scores)."),
) -> None:
    """The lists a team can visit (discovery, and re-check of known households), with reasons and
    what changed since the previous round: the lists the service gives for the same request, built
    by the same code from the same settings (ANBU_KNOWN_WINDOW_DAYS, ANBU_AS_OF, the records)."""
    from features.reference import district_names
    from serving.lists.builder import ListBuilder, ListRequest
    from serving.lists.dong_choice import dong_code_of
    from serving.refusal import Refused
    from serving.scoring.rounds import RoundNotScored, RoundUnreadable
    from serving.scoring.served_rounds import ServedRounds, served_day

    if output_format not in ("table", "csv", "xlsx"):
        fail(f"--format {output_format!r}: choose table, csv or xlsx")
    if gu not in district_names():
        fail(f"--gu {gu!r} is not a Seoul district; one of: {', '.join(district_names())}")
    day = date_option(as_of)
    if not data.is_dir():
        fail(
            f"--data {data} is not a folder: give the data directory the round was scored in (e.g. data/demo)"
        )
    settings = command_settings(data)
    served = served_day(data, settings.as_of)
    unscored = (
        f"the round {day.date()} is not scored yet: run `anbu score --data {data} --as-of {day.date()}` first"
    )
    if served is None:
        fail(unscored)
    # The served round is read only if the list needs it (it is, or follows, the asked round).
    rounds = ServedRounds(data, served, lambda: _served_preference(data, served))
    try:
        dong = dong_code_of(gu, dong)
        builder = ListBuilder(rounds, open_records(settings), settings.known_window_days)
        listed = builder.build(ListRequest(gu, capacity, dong, recheck, day.date()))
    except RoundNotScored:
        fail(unscored)
    except RoundUnreadable as error:
        fail(str(error))
    except Refused as refusal:
        if refusal.code == "round_not_scored":
            fail(unscored)
        fail(LIST_OPTIONS.get(refusal.field, refusal.field) + refusal.message.removeprefix(refusal.field))
    from serving.lists.exports import list_title, to_csv, to_xlsx

    title = list_title(listed, gu, dong, capacity)
    if output_format == "table":
        _print_table(listed, title)
        return

    from serving.lists.dong_choice import dong_name

    target = out or settings.folder.list_file(day, gu, dong_name(dong) if dong else None, output_format)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(to_csv(listed) if output_format == "csv" else to_xlsx(listed, title))
    console.print(f"{len(listed.rows)} households → {target}")


def _served_preference(data: Path, served) -> str | None:
    """Whose scoring of the served round `anbu rank` shows: the champion's, as the service does,
    but the registry is asked only when several models scored that round (loading MLflow to choose
    among one file would cost the command most of its time); an earlier round shows its newest."""
    from serving.scoring.rounds import versions_of

    if len(versions_of(data, served)) <= 1:
        return None
    from serving.scoring.champion import NoChampion, champion_version

    try:
        return champion_version()
    except NoChampion as error:
        fail(str(error))


def _print_table(listed, title: str) -> None:
    from rich.table import Table

    from serving.lists.labels import CHANGE_KO, LIST_KO

    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("목록", "left"),
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
        reasons = " · ".join(reason["text_ko"] for reason in row.reasons)
        change = CHANGE_KO.get(row.change, row.change) + (" · 사유 변경" if row.reasons_changed else "")
        if row.override:
            reasons = (
                f"[담당자 {'포함' if row.override == 'include' else '제외'}: {row.override_reason}] "
                + reasons
            )
        table.add_row(
            LIST_KO.get(row.list, row.list),
            str(row.list_rank),
            row.household_id,
            row.dong_name,
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
        f"left the list {len(listed.left)}; {listed.known_in_area:,} of the area's households are known "
        f"(re-check side), the rest are for discovery"
    )
    excluded = listed.excluded if listed.excluded is not None else listed.rows.head(0)
    for row in excluded.itertuples(index=False):
        console.print(
            f"제외 중 {row.household_id} ({row.risk:.0%}): {row.reason} — {row.excluded_by}, "
            f"{row.since_round} 회차부터 (취소하거나 포함할 때까지)",
            markup=False,
            highlight=False,
        )


keys_app = typer.Typer(
    help="API keys: who may call the service, with which role and scope.", no_args_is_help=True
)


def _keys_file(data: Path) -> Path:
    return command_settings(data).keys_file


def _known_scope(data: Path):
    """What a scope's dongs and routes may name; each is read only when a scope names one."""
    from serving.keys.key_file import KnownScope

    return KnownScope(dongs=lambda: _city_dongs(data), routes=_declared_routes)


def _city_dongs(data: Path) -> dict[str, str]:
    """Dong code -> district, from the city's validated households: the codes its lists use."""
    from features.contract.delivery import ContractError, default_out_dir, read_accepted

    try:
        households = read_accepted(default_out_dir(data), "households", ["gu", "dong_code"])
    except ContractError:
        raise ValueError(
            f"--dong is checked against the city's validated households and {data} has none yet; "
            f"validate it first: `{_shell_words('anbu', 'validate', '--data', str(data))}`"
        ) from None
    households = households[households["dong_code"].notna()]  # a blanked code names no dong
    return dict(zip(households["dong_code"], households["gu"], strict=True))


def _dong_as_code(given: str, districts: list[str]) -> str:
    """A dong named by its name (보라매동) as its code, when the key's districts make it one dong;
    anything else as given, for the scope check to accept or refuse with its hint."""
    from features.reference import dongs

    table = dongs()
    named = table[table["dong_name"] == given.strip()]
    if "*" not in districts and districts:
        named = named[named["gu"].isin(districts)]
    return str(named["dong_code"].iloc[0]) if len(named) == 1 else given


def _declared_routes():
    """The service's routes as their `@allow` declarations say (imports the service: only for --route)."""
    from serving.api.service import _routes

    return _routes()


def _keys_command(verb: str, data: Path, **options) -> str:
    """`anbu keys VERB --data DATA --option value …`: a hint runnable as printed."""
    words = ["anbu", "keys", verb, "--data", str(data)]
    for option, values in options.items():
        for value in values if isinstance(values, list | tuple) else [values]:
            if value is not None:
                words += [f"--{option.replace('_', '-')}", str(value)]
    return _shell_words(*words)


def _shell_words(*words: str) -> str:
    """Words as a shell reads them back; quoted only where a shell needs it (not for 관악구)."""
    import re
    import shlex

    return " ".join(w if re.fullmatch(r"[\w@%+=:,./-]+", w) else shlex.quote(w) for w in words)


def _with_districts(error: ValueError, data: Path, verb: str, **options) -> str:
    """A planner key refused for naming no districts, with the command that gives it some: the same
    options and --gu (the districts of its dongs, else the demo's)."""
    dongs = options.get("dong") or []
    try:
        district_of = _city_dongs(data) if dongs else {}
    except ValueError:
        district_of = {}
    districts = sorted({district_of[d] for d in dongs if d in district_of}) or [DEMO_DISTRICT]
    return f"{error}, e.g. `{_keys_command(verb, data, **{**options, 'gu': districts})}`"


def _scope_text(caller) -> str:
    parts = [caller.scope_text() if caller.role == "planner" else ""]
    if caller.max_capacity:
        parts.append(f"capacity ≤ {caller.max_capacity}")
    if caller.routes:
        parts.append("routes " + ", ".join(caller.routes))
    return "; ".join(p for p in parts if p)


KeysData = Annotated[Path, typer.Option("--data", help="Data directory the service serves.")]
Districts = Annotated[
    list[str] | None, typer.Option("--gu", help="A planner's district (repeat; '*' for the whole city).")
]
Dongs = Annotated[
    list[str] | None,
    typer.Option("--dong", help="Only these administrative dongs, by name (보라매동) or code (repeat)."),
]
MaxCapacity = Annotated[
    int | None, typer.Option("--max-capacity", min=1, help="Largest list this key may ask for.")
]
Routes = Annotated[
    list[str] | None, typer.Option("--route", help="Only these routes of the role, e.g. /score (repeat).")
]
"""The scope a key carries, the same options for `keys add` and `keys scope`."""


def _with_scope(verb: str, data: Path, scope: dict, who: dict, write: Callable):
    """`keys add` and `keys scope`: the scope written with the names checked against the city, a
    refusal in one sentence, and a planner key without districts answered with the command that
    gives it some."""
    from serving.keys.key_file import NoDistricts

    dongs = [_dong_as_code(d, scope["gu"] or []) for d in scope["dong"] or []]
    limits = (scope["gu"] or [], dongs, scope["max_capacity"], scope["route"] or [])
    try:
        return write(*limits, known=_known_scope(data))
    except NoDistricts as error:
        fail(_with_districts(error, data, verb, **who, **scope))
    except ValueError as error:
        fail(str(error))


@keys_app.command("add")
def keys_add(
    data: KeysData,
    name: Annotated[str, typer.Option("--name", help="Who holds the key, e.g. gwanak-team or call-centre.")],
    role: Annotated[str, typer.Option("--role", help="planner, service, monitor or admin.")],
    gu: Districts = None,
    dong: Dongs = None,
    max_capacity: MaxCapacity = None,
    route: Routes = None,
) -> None:
    """Create an API key for a caller; only its hash is stored, the key is printed once."""
    from serving.keys.key_file import add_key

    scope = {"gu": gu, "dong": dong, "max_capacity": max_capacity, "route": route}
    key = _with_scope(
        "add",
        data,
        scope,
        {"name": name, "role": role},
        lambda *limits, **known: add_key(_keys_file(data), name, role, *limits, **known),
    )
    console.print(f"{role} key for {name} (shown once, store it safely):\n{key}")


@keys_app.command("scope")
def keys_scope(
    data: KeysData,
    name: Annotated[str, typer.Option("--name", help="The caller whose scope changes.")],
    gu: Districts = None,
    dong: Dongs = None,
    max_capacity: MaxCapacity = None,
    route: Routes = None,
) -> None:
    """Replace a caller's scope (the key stays the same); the service honours it on the next request."""
    from serving.keys.key_file import set_scope

    scope = {"gu": gu, "dong": dong, "max_capacity": max_capacity, "route": route}
    caller = _with_scope(
        "scope",
        data,
        scope,
        {"name": name},
        lambda *limits, **known: set_scope(_keys_file(data), name, *limits, **known),
    )
    console.print(f"{name} ({caller.role}): {_scope_text(caller) or 'no limits beyond its role'}")


@keys_app.command("revoke")
def keys_revoke(
    data: Path = typer.Option(..., "--data", help="Data directory the service serves."),
    name: str = typer.Option(..., "--name", help="The caller whose key stops working."),
) -> None:
    """Remove a caller's key; the running service refuses it from the next request."""
    from serving.keys.key_file import revoke

    try:
        revoke(_keys_file(data), name)
    except ValueError as error:
        fail(str(error))
    console.print(f"{name}: key revoked")


@keys_app.command("list")
def keys_list(data: Path = typer.Option(..., "--data", help="Data directory the service serves.")) -> None:
    """Every caller with its role and scope (never the keys: only their hashes are stored)."""
    from rich.table import Table

    from serving.keys.key_file import KeyFile, NoDistricts, list_callers

    keys_file = _keys_file(data)
    try:
        callers = list_callers(keys_file)
    except NoDistricts as error:  # a keys file edited by hand
        entry = KeyFile.read(keys_file).callers[error.name]
        kept = {"dong": entry.dongs, "max_capacity": entry.max_capacity, "route": entry.routes}
        fail(_with_districts(error, data, "scope", name=error.name, gu=None, **kept))
    except ValueError as error:
        fail(str(error))
    table = Table(title=str(keys_file))
    for column in ("caller", "role", "scope"):
        table.add_column(column)
    for caller in callers:
        table.add_row(caller.name, caller.role, _scope_text(caller))
    console.print(table)


def serve(
    data: Path = typer.Option(..., "--data", help="Data directory with scored rounds (anbu score)."),
    as_of: str = typer.Option(None, "--as-of", help="Round to serve (default: the latest scored)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(3000, "--port", min=1, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (records in PostgreSQL)."),
) -> None:
    """Start the BentoML service (scoring API, lists, outcomes, planner page) on the champion.

    The checks run first and a broken set-up is refused in one sentence; then this process becomes
    the server (exec), so SIGTERM from systemd, `docker stop` or a test harness reaches it."""
    import sys

    from pydantic import ValidationError

    from anbu.settings import Settings
    from anbu.settings import refusal as setting_refusal
    from serving.api.preflight import StartRefused, preflight
    from serving.keys.callers import ROLES
    from serving.keys.key_file import add_key

    if not Path(data).is_dir():
        fail(f"--data {data} is not a folder: give the data directory with scored rounds (e.g. data/demo)")
    refusal = port_refusal(host, port)
    if refusal:
        fail(refusal)
    environment = {**os.environ, "ANBU_DATA": str(Path(data).resolve()), "BENTOML_DO_NOT_TRACK": "true"}
    if as_of:
        environment["ANBU_AS_OF"] = str(date_option(as_of).date())
    environment["ANBU_WORKERS"] = str(workers)
    # A worker that fails after start ends the server (exit 1) instead of being restarted forever.
    environment["BENTOML_CONTAINERIZED"] = "1"
    try:
        # Without --as-of, Settings reads ANBU_AS_OF from the environment, as the service will.
        told = {"as_of": environment["ANBU_AS_OF"]} if as_of else {}
        settings = Settings(data=Path(data), workers=workers, **told)
        preflight(settings)
    except StartRefused as error:
        fail(str(error))
    except ValidationError as error:  # a setting that does not parse
        fail(setting_refusal(error))
    except ValueError as error:
        fail(str(error))
    if workers > 1 and not settings.records_location.startswith("postgresql"):
        fail("--workers above 1 needs the records in PostgreSQL: set ANBU_RECORDS_URL=postgresql+psycopg://…")
    if not settings.keys_file.is_file():
        console.print(f"No API keys yet; created one per role in {settings.keys_file} (shown once):")
        for role in ROLES:
            scope = {"districts": [DEMO_DISTRICT]} if role == "planner" else {}
            console.print(f"  {role:8s} {add_key(settings.keys_file, f'demo-{role}', role, **scope)}")
        console.print(
            f"  (the planner key sees {DEMO_DISTRICT}; another team's key: "
            f"`anbu keys add --data {data} --name TEAM --role planner --gu 강남구`)",
            markup=False,
            highlight=False,
        )
    console.print(f"Planner page: http://{host}:{port}/planner/ · API docs: http://{host}:{port}/")
    root = Path(__file__).resolve().parents[2]
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    command = [bentoml, "serve", "serving.api.service:Anbu", "--host", host, "--port", str(port)]
    console.file.flush()
    os.execve(bentoml, [*command, "--working-dir", str(root)], environment)


DEMO_DISTRICT = "관악구"


def port_refusal(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, found before anything is printed as available
    (BentoML would say so only after loading the model, in a traceback). The socket is bound the
    way uvicorn binds (SO_REUSEADDR), so a port left in TIME_WAIT is not refused, one in use is."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return f"--host {host}: not an address of this machine"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"--port {port}: another program already listens on {host}:{port}; stop it or choose another --port"
            if error.errno == errno.EACCES:
                return f"--port {port}: ports below 1024 need root; choose another --port (e.g. 3000)"
            if error.errno == errno.EADDRNOTAVAIL:
                return f"--host {host}: not an address of this machine"
            return f"--host {host} --port {port}: cannot listen there ({error.strerror})"
    return None


def outcomes(
    data: Path = typer.Option(..., "--data", help="Data directory whose service recorded the outcomes."),
    out: Path = typer.Option(..., "--out", help="Parquet file in the contract's outreach_visits layout."),
    samples: Path = typer.Option(
        None,
        "--samples",
        help="Also write the recorded screening-sweep samples here (survey_samples.parquet of the next delivery).",
    ),
) -> None:
    """Export recorded visit outcomes as contract `outreach_visits` rows for the next delivery, and
    with --samples the sweep samples they were drawn from (evaluation names where survey labels came from)."""
    records = open_records(command_settings(data), recorded=True)
    count = records.export_visits(out)
    console.print(
        f"{count:,} recorded visit outcomes → {out} (outreach_visits layout; include it in the next delivery)"
    )
    if samples is not None:
        drawn = records.export_survey_samples(samples)
        console.print(
            f"{drawn:,} sweep draws (a household per sweep that drew it) → {samples} "
            "(deliver it as survey_samples.parquet beside the visits)"
        )


records_app = typer.Typer(help="The append-only records: outcomes, overrides, audit.", no_args_is_help=True)


@records_app.command("verify")
def records_verify(
    data: Path = typer.Option(..., "--data", help="Data directory whose records to check."),
    head: Path = typer.Option(None, "--head", help="Heads kept earlier by `anbu records head` (JSON)."),
) -> None:
    """Walk every record's hash chain; name each rewritten, deleted or inserted row. Exit 2 if any."""
    import json

    from serving.records.verify import verify

    records = open_records(command_settings(data), recorded=True)
    kept = None
    if head is not None:
        try:
            kept = {
                k: (int(v[0]), str(v[1])) for k, v in json.loads(head.read_text(encoding="utf-8")).items()
            }
        except (OSError, ValueError, TypeError, IndexError) as error:
            fail(f"--head {head}: not heads written by `anbu records head` ({error})")
    findings = verify(records, kept)
    counts = {name: last for name, (last, _) in records.heads().items()}
    if not findings:
        console.print(
            "Records intact: "
            + ", ".join(f"{name} {count:,} rows" for name, count in sorted(counts.items()))
            + " — every row matches its hash and chain"
        )
        return
    for finding in findings:
        console.print(f"[red]✗[/red] {finding.message}")
    fail(f"{len(findings)} sign(s) that the records were changed outside the service")


@records_app.command("survey-sample")
def records_survey_sample(
    data: Path = typer.Option(..., "--data", help="Data directory whose records to write."),
    sweep: str = typer.Option(..., "--sweep", help="The screening sweep, e.g. '2026-08 관악구 전수조사'."),
    households: Path = typer.Option(
        ..., "--households", help="CSV or Parquet with a household_id column: the households the sweep drew."
    ),
    by: str = typer.Option(..., "--by", help="Who drew the sample (kept with it)."),
) -> None:
    """Record the households a screening sweep drew, before its visits: a visit may carry the survey
    trigger only for a household of a recorded sample (survey visits are the labels promotion and
    calibration trust, so no key can add one for a household it chose)."""
    import re

    import pandas as pd

    from features.contract.visible_text import refused_in

    try:
        table = (
            pd.read_parquet(households)
            if households.suffix == ".parquet"
            else pd.read_csv(households, dtype=str)
        )
    except (OSError, ValueError) as error:
        fail(f"--households {households}: cannot be read ({error})")
    if "household_id" not in table.columns:
        fail(
            f"--households {households}: no household_id column (columns: {', '.join(map(str, table.columns))})"
        )
    ids = table["household_id"]
    if ids.empty:
        fail(f"--households {households}: no households in it; a sample names the households a sweep drew")
    for position, value in enumerate(ids):
        # The same form the API takes an id in: a stray space from a spreadsheet would never match a visit.
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", value):
            fail(f"--households {households}: household_id {value!r} (data row {position + 1}) is not an id")
    for option, text in (("--sweep", sweep), ("--by", by)):
        if not text.strip() or refused_in(text):
            fail(f"{option} {text!r}: write it in visible text")
    recorded = open_records(command_settings(data)).record_survey_sample(ids.tolist(), sweep.strip(), by)
    console.print(f"{len(recorded):,} households recorded as drawn for the sweep {sweep.strip()!r}")


def _audit_rows(data: Path, endpoint: str, nothing: str) -> list:
    """The audit rows of one endpoint, oldest first; `nothing` is said when there are none."""
    audit = open_records(command_settings(data), recorded=True).table("audit")
    rows = list(audit[audit["endpoint"] == endpoint].itertuples(index=False))
    if not rows:
        console.print(nothing)
    return rows


@records_app.command("corrections")
def records_corrections(
    data: Path = typer.Option(..., "--data", help="Data directory whose records to read."),
) -> None:
    """Every correction an admin key recorded for a round other than the served one: when, who,
    which round, which households (planner keys cannot record for past rounds)."""
    import json

    corrections = _audit_rows(
        data, "outcomes.correction", "No corrections: every record was taken for the round being served."
    )
    for row in corrections:
        households = json.loads(row.households)
        round_date = json.loads(row.detail or "{}").get("round", "?")
        console.print(
            f"{row.at}  {row.caller} corrected the round {round_date}: {len(households)} household(s) "
            f"{', '.join(households[:10])}{' …' if len(households) > 10 else ''}",
            markup=False,
            highlight=False,
        )


@records_app.command("accepted-health")
def records_accepted_health(
    data: Path = typer.Option(..., "--data", help="Data directory whose records to read."),
) -> None:
    """Every round someone accepted to be scored over an error of its health check: when, who, why,
    which errors, which scores file (recorded before the scoring ran)."""
    import json

    for row in _audit_rows(
        data, "score.accept_health", "No round was accepted to be scored over a health error."
    ):
        detail = json.loads(row.detail or "{}")
        errors = detail.get("errors", [])
        console.print(
            f"{row.at}  {row.caller} accepted the round {detail.get('round', '?')} to be scored by "
            f"isolation-risk v{detail.get('model_version', '?')} over {len(errors)} error(s): "
            f"“{detail.get('reason', '')}” → {detail.get('scores') or 'its usual place'}"
            + "".join(f"\n  - {sentence}" for sentence in errors),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@records_app.command("head")
def records_head(
    data: Path = typer.Option(..., "--data", help="Data directory whose records to sign off."),
) -> None:
    """Print each table's last row and hash as JSON, to keep somewhere else (a later `verify --head`
    then catches a database rolled back to an earlier copy)."""
    import json

    typer.echo(json.dumps(open_records(command_settings(data)).heads(), indent=2))


def bento() -> None:
    """Build a Bento (service code + the champion's model) for deployment; serve it with
    `ANBU_DATA=DIR bentoml serve anbu:latest`."""
    from serving.api.bento import build_bento
    from serving.scoring.champion import NoChampion

    try:
        with console.status("Building the Bento around the champion …"):
            tag = build_bento()
    except (NoChampion, RuntimeError) as error:
        fail(str(error))
    console.print(f"Built {tag}. Serve it with: ANBU_DATA=<data dir> bentoml serve {tag}")
