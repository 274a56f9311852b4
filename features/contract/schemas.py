"""The source data contract (features/reference/SOURCES.md), declared once.

Every contract file has one pandera model here. The reader checks deliveries against these models,
the synthetic generator writes frames that must pass them, and the tests build bad rows against
them; nothing else restates a column name, type or allowed value. Each column's `kind` (metadata,
features/column_kinds.py) says how a raw value is parsed before the model's checks run (CSV
deliveries arrive as text and Parquet deliveries may carry the wrong physical type, so parsing is
explicit, never a silent cast), the Arrow type the file is written with and the dtype it is read
back as. pandera takes a column's dtype from its annotation, so the annotation states the kind a
second time; a model whose annotation and kind disagree is refused when its class is created.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.typing import Series

from features.column_kinds import KINDS, ColumnKind, KindName
from features.contract.vocabulary import (  # the contract's allowed values, re-exported here
    CONTACT_CHANNELS,
    CONTACT_TOPICS,
    HOUSING_TYPES,
    LIVELIHOOD_STATUSES,
    SENSOR_CHANNELS,
    SENSOR_SERVICES,
    SENSOR_VALUE_MAXIMUM,
    TENURES,
    VISIT_OUTCOMES,
    VISIT_TRIGGERS,
)
from features.reference import district_names, dong_districts


def _column(kind: KindName, description: str, *, nullable: bool = False, **checks) -> object:
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not a column kind; the kinds are {list(KINDS)}")
    return pa.Field(nullable=nullable, description=description, metadata={"kind": kind}, **checks)


def _holds(rule: pd.Series) -> pd.Series:
    """A cross-column rule holds where it cannot be judged: missing values fail nullability instead."""
    return rule.fillna(True).astype(bool)


def _identifier(description: str = "pseudonymous household key") -> object:
    return _column("string", description, str_length={"min_value": 1})


class _Contract(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = False
        ordered = False

    def __init_subclass__(cls, **kwargs) -> None:
        """Refuse a model whose column annotation (Series[...]) is not its kind's dtype."""
        super().__init_subclass__(**kwargs)
        for name, column in cls.to_schema().columns.items():
            kind = (column.metadata or {}).get("kind")
            if kind not in KINDS:
                raise TypeError(f"{cls.__name__}.{name}: declare it with _column(kind, ...)")
            if column.dtype != pandas_engine.Engine.dtype(KINDS[kind].pandas_dtype):
                raise TypeError(
                    f"{cls.__name__}.{name} is annotated {column.dtype} but its kind {kind} "
                    f"is {KINDS[kind].pandas_dtype}"
                )


class Households(_Contract):
    """Administrative registry, effective-dated: one row per household per period."""

    household_id: Series[str] = _identifier()
    valid_from: Series[pa.DateTime] = _column("date", "first day this row is true")
    valid_to: Series[pa.DateTime] = _column(
        "date", "first day it is no longer true; null = still true", nullable=True
    )
    gu: Series[str] = _column("string", "district, Korean name", isin=list(district_names()))
    dong_code: Series[str] = _column(
        "string",
        "administrative dong (행정동): its 10-digit 행정표준코드, one of Seoul's dongs (seoul_dongs.csv)",
        isin=list(dong_districts()),
    )
    head_birth_year: Series[pd.Int64Dtype] = _column(
        "integer", "birth year of the household head", ge=1890, le=2030
    )
    head_sex: Series[str] = _column("string", "M or F (protected)", isin=["M", "F"])
    household_size: Series[pd.Int64Dtype] = _column(
        "integer", "members registered at the address", ge=1, le=30
    )
    housing_type: Series[str] = _column("string", "housing type", isin=list(HOUSING_TYPES))
    tenure: Series[str] = _column("string", "tenure", isin=list(TENURES))
    moved_in: Series[pa.DateTime] = _column("date", "when the household moved to this address")
    livelihood_status: Series[str] = _column(
        "string", "basic livelihood security status", isin=list(LIVELIHOOD_STATUSES)
    )
    medical_aid: Series[pd.BooleanDtype] = _column("boolean", "receives medical aid")
    disability: Series[pd.BooleanDtype] = _column(
        "boolean", "registered disability in the household (protected)"
    )

    @pa.dataframe_check(error="valid_to must be after valid_from")
    def validity_is_forward(cls, df: pd.DataFrame) -> Series[bool]:
        return _holds(df["valid_to"].isna() | (df["valid_to"] > df["valid_from"]))

    @pa.dataframe_check(error="head_birth_year is after the row's valid_from year")
    def head_born_before_period(cls, df: pd.DataFrame) -> Series[bool]:
        return _holds(df["head_birth_year"] <= df["valid_from"].dt.year)

    @pa.dataframe_check(error="moved_in is on or after valid_to")
    def moved_in_before_period_end(cls, df: pd.DataFrame) -> Series[bool]:
        return _holds(df["valid_to"].isna() | (df["moved_in"] < df["valid_to"]))

    @pa.dataframe_check(error="dong_code is a dong of another district than the row's gu")
    def dong_in_its_district(cls, df: pd.DataFrame) -> Series[bool]:
        district = df["dong_code"].map(dong_districts())  # an unknown code fails its own check
        return _holds(district.isna() | (district == df["gu"]))


class CrisisEvents(_Contract):
    """Crisis information from agencies: one row per indicator reported for a household."""

    household_id: Series[str] = _identifier()
    indicator: Series[str] = _column(
        "string",
        "indicator code; unknown codes count under category `other`",
        str_length={"min_value": 1},
    )
    reference_month: Series[pa.DateTime] = _column("date", "first day of the month the event refers to")
    reported_on: Series[pa.DateTime] = _column("date", "when the agency's report reached the city")
    amount_krw: Series[float] = _column("float", "amount in arrears or spent", nullable=True, ge=0)
    months_overdue: Series[pd.Int64Dtype] = _column(
        "integer", "months in arrears", nullable=True, ge=0, le=600
    )

    @pa.dataframe_check(error="reference_month is not the first day of a month")
    def reference_month_is_month_start(cls, df: pd.DataFrame) -> Series[bool]:
        return _holds(df["reference_month"].dt.day == 1)

    @pa.dataframe_check(error="reported_on is before reference_month")
    def reported_after_reference(cls, df: pd.DataFrame) -> Series[bool]:
        return _holds(df["reported_on"] >= df["reference_month"])


class SensorEnrollments(_Contract):
    """Who is watched by which smart welfare-check service."""

    household_id: Series[str] = _identifier()
    service: Series[str] = _column("string", "smart service", isin=list(SENSOR_SERVICES))
    enrolled_on: Series[pa.DateTime] = _column("date", "first day of the enrolment")
    ended_on: Series[pa.DateTime] = _column("date", "last day; null = still enrolled", nullable=True)

    @pa.dataframe_check(error="ended_on is before enrolled_on")
    def ends_after_start(cls, df: pd.DataFrame) -> Series[bool]:
        return _holds(df["ended_on"].isna() | (df["ended_on"] >= df["enrolled_on"]))


class SensorReadings(_Contract):
    """Hourly readings from enrolled households (duplicates and gaps are normal)."""

    household_id: Series[str] = _identifier()
    ts: Series[pa.DateTime] = _column("timestamp", "start of the hour, KST")
    channel: Series[str] = _column("string", "reading channel", isin=list(SENSOR_CHANNELS))
    value: Series[float] = _column("float", "mean watts, mean lux or event count", ge=0)

    @pa.dataframe_check(error="value is above the largest plausible reading for its channel")
    def value_is_plausible(cls, df: pd.DataFrame) -> Series[bool]:
        return _holds(df["value"] <= df["channel"].map(SENSOR_VALUE_MAXIMUM).astype(float))


class AiCalls(_Contract):
    """Automated weekly check-in calls."""

    household_id: Series[str] = _identifier()
    called_at: Series[pa.DateTime] = _column("timestamp", "when the call was placed, KST")
    answered: Series[pd.BooleanDtype] = _column("boolean", "whether the call was answered")
    duration_s: Series[float] = _column(
        "float", "length of the answered call", nullable=True, ge=0, le=86_400
    )
    risk_flag: Series[pd.BooleanDtype] = _column(
        "boolean", "speech analysis heard risky words (answered calls only)", nullable=True
    )

    @pa.dataframe_check(error="risk_flag is set on an unanswered call")
    def risk_flag_only_when_answered(cls, df: pd.DataFrame) -> Series[bool]:
        return _holds(df["answered"].fillna(False) | df["risk_flag"].isna())


class CallCenterContacts(_Contract):
    """Optional: contacts with the 120 loneliness line."""

    household_id: Series[str] = _identifier()
    contacted_at: Series[pa.DateTime] = _column("timestamp", "when the contact happened, KST")
    channel: Series[str] = _column("string", "phone or chat", isin=list(CONTACT_CHANNELS))
    topic: Series[str] = _column("string", "what the contact was about", isin=list(CONTACT_TOPICS))


class OutreachVisits(_Contract):
    """What visits found: the labels."""

    household_id: Series[str] = _identifier()
    visited_on: Series[pa.DateTime] = _column("date", "day of the visit")
    trigger: Series[str] = _column("string", "why the visit happened", isin=list(VISIT_TRIGGERS))
    outcome: Series[str] = _column("string", "what the visit found", isin=list(VISIT_OUTCOMES))
    checklist_score: Series[pd.Int64Dtype] = _column(
        "integer", "social-isolation checklist, 0-13", nullable=True, ge=0, le=13
    )


class SurveySamples(_Contract):
    """Which households each screening sweep drew, and when: anbu's own record, not the city's
    contract. `anbu outcomes --samples` writes it from the samples recorded through anbu (`anbu
    records survey-sample`); a city whose sweeps are drawn elsewhere may deliver the same file.
    Evaluation reads it only to say where the survey labels came from."""

    household_id: Series[str] = _identifier()
    sweep: Series[str] = _column("string", "the screening sweep that drew it", str_contains=r"\S")
    drawn_on: Series[pa.DateTime] = _column("date", "day (Seoul) the draw was recorded, before its visits")


@dataclass(frozen=True)
class SourceSpec:
    """How one contract file is found, checked and de-duplicated."""

    name: str
    model: type[_Contract]
    required: bool = True
    unique_key: tuple[str, ...] = ()
    """Columns that identify one fact; a repeat delivery of a key is quarantined as a duplicate."""
    in_registry: bool = True
    """Whether every household_id must exist in the households registry."""
    blankable: tuple[str, ...] = ()
    """Attributes that become missing when implausible, unparseable or absent, keeping the row:
    one wrong birth year must not take a household out of every round."""
    blank_for_check: tuple[tuple[str, str], ...] = ()
    """(row-check error, attribute it blames): an inconsistency blanks that attribute only."""
    evaluation_only: bool = False
    """anbu's own record delivered back, read by the evaluation alone: never a feature's input (so
    not among a round's or a scoring's inputs), and not something the synthetic city simulates."""
    known_on: str = ""
    """The column that says when the city's systems knew a row (a report's arrival, a reading's
    hour, a visit's day): a delivery made on day D holds the rows known by D (delivered_by)."""
    open_until: tuple[str, ...] = ()
    """End dates that a delivery on day D cannot know yet when they fall after D (null = still
    true): a registry row's valid_to, an enrolment's ended_on."""

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.model.to_schema().columns)

    def kind(self, column: str) -> ColumnKind:
        return KINDS[self.model.to_schema().columns[column].metadata["kind"]]


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        "households",
        Households,
        in_registry=False,
        known_on="valid_from",
        open_until=("valid_to",),
        blankable=(
            "dong_code",
            "head_birth_year",
            "head_sex",
            "household_size",
            "housing_type",
            "tenure",
            "moved_in",
            "livelihood_status",
            "medical_aid",
            "disability",
        ),
        blank_for_check=(
            ("head_birth_year is after the row's valid_from year", "head_birth_year"),
            ("moved_in is on or after valid_to", "moved_in"),
            ("dong_code is a dong of another district than the row's gu", "dong_code"),
        ),
    ),
    SourceSpec(
        "crisis_events",
        CrisisEvents,
        unique_key=("household_id", "indicator", "reference_month", "reported_on"),
        known_on="reported_on",
    ),
    SourceSpec(
        "sensor_enrollments",
        SensorEnrollments,
        unique_key=("household_id", "service", "enrolled_on"),
        known_on="enrolled_on",
        open_until=("ended_on",),
    ),
    SourceSpec(
        "sensor_readings", SensorReadings, unique_key=("household_id", "ts", "channel"), known_on="ts"
    ),
    SourceSpec("ai_calls", AiCalls, unique_key=("household_id", "called_at"), known_on="called_at"),
    SourceSpec(
        "call_center_contacts",
        CallCenterContacts,
        required=False,
        unique_key=("household_id", "contacted_at", "channel"),
        known_on="contacted_at",
    ),
    SourceSpec(
        "outreach_visits",
        OutreachVisits,
        unique_key=("household_id", "visited_on", "trigger"),
        known_on="visited_on",
    ),
    SourceSpec(
        "survey_samples",
        SurveySamples,
        required=False,
        unique_key=("household_id", "sweep"),
        evaluation_only=True,
        known_on="drawn_on",
    ),
)

SOURCES_BY_NAME: dict[str, SourceSpec] = {spec.name: spec for spec in SOURCES}
FEATURE_INPUTS: frozenset[str] = frozenset(spec.name for spec in SOURCES if not spec.evaluation_only)
"""The sources a round's features (and so its scores) are built from."""
