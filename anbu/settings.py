"""Every `ANBU_*` environment variable, read in one place (pydantic-settings).

`bentoml serve`, `anbu serve`, a Bento, the CLI's stages and the tests all read the environment
through this object, so a wrong value is refused at start with the setting's name, not found on the
first request, and the README's table of settings is the list of its fields
(tests/anbu/test_settings.py keeps the two equal). It imports no stage: every stage may import it.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from anbu.data_folder import DataFolder

KNOWN_WINDOW_DAYS = 365
"""How long a visit that found isolation or risk keeps a household known to outreach, unless the
city sets ANBU_KNOWN_WINDOW_DAYS: the line between the discovery and the re-check list
(serving/records/known.py) and the population the discovery figures are measured on
(training/discovery.py). About a year of regular contact. A city's policy, so the application's."""

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_", extra="ignore")

    data: Path | None = Field(
        default=None, description="The data directory the service reads (scored rounds, records, keys)."
    )
    as_of: dt.date | None = Field(default=None, description="Round to serve; default the latest scored.")
    records_url: str | None = Field(
        default=None,
        description="Where records live: a SQLAlchemy URL (postgresql+psycopg://…) or a SQLite path; "
        "default DIR/_records/anbu.sqlite.",
    )
    records: str | None = Field(
        default=None,
        description="Refused: the older name of ANBU_RECORDS_URL. Ignoring it would open another records "
        "database without a word, so a set-up that still sets it is stopped, naming the new name.",
    )
    records_secret_file: Path | None = Field(
        default=None, description="The records' chain key; default records.secret beside a SQLite file."
    )
    keys: Path | None = Field(default=None, description="API keys file; default DIR/_records/api_keys.toml.")
    max_capacity: int = Field(
        default=500,
        ge=1,
        le=5_000,
        description="Largest list a planner key may ask for, unless the key says.",
    )
    known_window_days: int = Field(
        default=KNOWN_WINDOW_DAYS,
        ge=1,
        le=3_650,
        description="How long a visit that found isolation or risk keeps a household on the re-check "
        "side instead of the discovery list.",
    )
    metrics_open: bool = Field(
        default=False, description="Serve /metrics without a key (default: admin or monitor keys only)."
    )
    max_body_bytes: int = Field(default=2_000_000, ge=10_000, description="Largest request body accepted.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Service worker processes; above 1 needs the records in PostgreSQL.",
    )
    bento_model: str | None = Field(
        default=None,
        description="Set inside a built Bento (and while building one): the model tag packed with it.",
    )
    models_dir: Path = Field(
        default=PROJECT_ROOT / "models",
        description="The embedded model store (MLflow in SQLite) when MLFLOW_TRACKING_URI is not set.",
    )

    @model_validator(mode="after")
    def _renamed(self) -> Settings:
        """ANBU_RECORDS was renamed: left set to another database it would be ignored without a
        word, so it stops the set-up; empty, or the same as ANBU_RECORDS_URL, it says nothing new."""
        if self.records and self.records != self.records_url:
            raise ValueError(
                "ANBU_RECORDS is now ANBU_RECORDS_URL: set that one instead (the same value), and unset ANBU_RECORDS"
            )
        return self

    @field_validator("data")
    @classmethod
    def _resolved(cls, value: Path | None) -> Path | None:
        return Path(value).resolve() if value is not None else None

    @property
    def folder(self) -> DataFolder:
        if self.data is None:
            raise ValueError("ANBU_DATA is not set: point it at the data directory (e.g. data/demo)")
        return DataFolder(self.data)

    @property
    def records_location(self) -> str:
        return self.records_url or str(self.folder.records_database)

    @property
    def keys_file(self) -> Path:
        return Path(self.keys) if self.keys else self.folder.keys


def variable(setting: str) -> str:
    """The environment variable of a setting (`models_dir` → ANBU_MODELS_DIR), for a caller that
    must point a setting elsewhere for what it calls (a loop's own model store)."""
    if setting not in Settings.model_fields:
        raise KeyError(f"{setting!r} is not a setting")
    return f"{Settings.model_config['env_prefix']}{setting.upper()}"


def refusal(error: ValidationError) -> str:
    """A refused setting in one sentence that names it (pydantic's own text ends in a link)."""
    problems = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        where = f"ANBU_{str(problem['loc'][0]).upper()}: " if problem["loc"] else ""
        problems.append(where + message)
    return "; ".join(problems)


@functools.cache
def process_settings() -> Settings:
    """The settings of this process, read from its environment once: the service and everything
    it calls share one object (a command builds its own from its options and passes it down)."""
    return Settings()
