"""The feature catalogue: every model input declared once.

The family queries produce exactly these columns, training selects from them by family, the reason renderer
turns them into the sentences planners read, and the docs are generated from them. A new
indicator code never adds a column: crisis features are per catalogue *category*, and a code the
catalogue does not know yet counts under `other`.

Reason sentences are `str.format` templates over the household's own values: `{value}` is the
feature value (formatted by `unit`), `{window}` the window in months, `{level_ko}`/`{level_en}`
the name of a categorical level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from features.contract.schemas import HOUSING_TYPES, LIVELIHOOD_STATUSES, TENURES, VISIT_OUTCOMES
from features.reference import UNKNOWN_INDICATOR_CATEGORY, indicator_catalogue

CATALOGUE_VERSION = "2"
"""Bump when a feature is added, removed or changes meaning; recorded in every manifest."""

Family = Literal["admin", "crisis", "sensor", "history", "protected"]
Unit = Literal["count", "days", "hours", "years", "ratio", "share", "krw", "flag", "level", "number"]

CRISIS_WINDOWS_MONTHS = (3, 6, 12)

CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "utility": ("공과금 체납·단전", "utility arrears or cut-offs"),
    "housing": ("주거 관련 위기", "housing crisis reports"),
    "insurance": ("사회보험료 체납", "social insurance arrears"),
    "finance": ("금융 위기", "financial crisis reports"),
    "employment": ("고용 위기", "employment crisis reports"),
    "health": ("건강 관련 위기", "health crisis reports"),
    "welfare": ("복지 수급 변동", "welfare benefit changes"),
    "family": ("가구 구성 변화", "household changes"),
    UNKNOWN_INDICATOR_CATEGORY: ("기타 위기정보", "other crisis reports"),
}
"""Korean and English names of the indicator categories, for reasons."""

LEVEL_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "housing_type": {
        "apartment": ("아파트", "an apartment"),
        "multi_family": ("다세대·연립", "a multi-family house"),
        "detached": ("단독주택", "a detached house"),
        "officetel": ("오피스텔", "an officetel"),
        "semi_basement": ("반지하", "a semi-basement"),
        "gosiwon": ("고시원", "a gosiwon"),
        "other": ("기타 주거", "other housing"),
    },
    "tenure": {
        "owner": ("자가", "owner-occupied"),
        "jeonse": ("전세", "jeonse lease"),
        "monthly_rent": ("월세", "monthly rent"),
        "public_rental": ("공공임대", "public rental"),
        "other": ("기타 점유", "other tenure"),
    },
    "livelihood_status": {
        "none": ("비수급", "not a recipient"),
        "applied": ("기초생활 신청 중", "applied for basic livelihood support"),
        "recipient": ("기초생활 수급", "basic livelihood recipient"),
        "dropped": ("기초생활 탈락", "dropped from basic livelihood support"),
    },
    "last_visit_outcome": {
        "isolated": ("고립", "isolated"),
        "at_risk": ("고립 위험", "at risk"),
        "not_isolated": ("비고립", "not isolated"),
        "unreachable": ("만나지 못함", "unreachable"),
        "moved": ("전출", "moved"),
        "refused": ("방문 거부", "refused"),
    },
}
"""Levels of categorical features in code order (the integer a model sees is the position)."""

assert tuple(LEVEL_NAMES["housing_type"]) == HOUSING_TYPES
assert tuple(LEVEL_NAMES["tenure"]) == TENURES
assert tuple(LEVEL_NAMES["livelihood_status"]) == LIVELIHOOD_STATUSES
assert tuple(LEVEL_NAMES["last_visit_outcome"]) == VISIT_OUTCOMES


@dataclass(frozen=True)
class Feature:
    """One model input: what it means, where it comes from, how a planner reads it."""

    name: str
    family: Family
    description_ko: str
    description_en: str
    reason_ko: str
    reason_en: str
    unit: Unit
    window_days: int | None = None
    window_months: int | None = None
    levels: tuple[str, ...] = ()
    """For categorical features: level names, whose position is the integer code."""
    reason_group: str = ""
    """Features that make one reason together (the windows of one category); defaults to name."""
    can_be_reason: bool = True
    reason_when: Literal["positive", "present"] = "positive"
    """`positive`: only a value above zero (or true) can be a reason; `present`: any known value."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return self.reason_group or self.name

    @property
    def protected(self) -> bool:
        return self.family == "protected"

    @property
    def categorical(self) -> bool:
        return bool(self.levels)


def _crisis_features() -> list[Feature]:
    features: list[Feature] = []
    for category, (name_ko, name_en) in CATEGORY_NAMES.items():
        for months in CRISIS_WINDOWS_MONTHS:
            features.append(
                Feature(
                    name=f"crisis_{category}_{months}m",
                    family="crisis",
                    description_ko=f"최근 {months}개월 통보된 {name_ko} 위기정보 건수",
                    description_en=f"{name_en} reported in the last {months} months",
                    reason_ko=f"최근 {{window}}개월 {name_ko} {{value}}건",
                    reason_en=f"{{value}} {name_en} in the last {{window}} months",
                    unit="count",
                    window_months=months,
                    reason_group=f"crisis_{category}",
                )
            )
    for months in CRISIS_WINDOWS_MONTHS:
        features.append(
            Feature(
                name=f"crisis_distinct_{months}m",
                family="crisis",
                description_ko=f"최근 {months}개월 통보된 서로 다른 위기지표 수",
                description_en=f"distinct crisis indicators reported in the last {months} months",
                reason_ko="최근 {window}개월 서로 다른 위기지표 {value}종",
                reason_en="{value} different crisis indicators in the last {window} months",
                unit="count",
                window_months=months,
                reason_group="crisis_distinct",
            )
        )
    features += [
        Feature(
            "crisis_days_since_last",
            "crisis",
            "가장 최근 위기정보 통보 후 경과 일수",
            "days since the latest crisis report",
            "최근 위기정보 통보 {value}일 전",
            "latest crisis report {value} days ago",
            unit="days",
            reason_when="present",
        ),
        Feature(
            "crisis_max_months_overdue_12m",
            "crisis",
            "최근 12개월 최장 체납 개월 수",
            "longest arrears in months, last 12 months",
            "{value}개월 체납",
            "{value} months of arrears",
            unit="count",
            window_months=12,
        ),
        Feature(
            "crisis_amount_12m",
            "crisis",
            "최근 12개월 체납·지출 금액 합계(원)",
            "total amount in arrears or spent, last 12 months (KRW)",
            "체납·지출 금액 {value}",
            "{value} in arrears or spent",
            unit="krw",
            window_months=12,
        ),
        Feature(
            "crisis_first_ever_3m",
            "crisis",
            "최근 3개월 처음으로 위기정보 통보",
            "first crisis report ever, in the last 3 months",
            "최근 3개월 처음으로 위기정보 발생",
            "first crisis report ever, in the last 3 months",
            unit="flag",
            window_months=3,
        ),
        Feature(
            "crisis_repeat_months_12m",
            "crisis",
            "최근 12개월 위기정보가 있었던 달의 수",
            "months with a crisis report in the last 12 months",
            "최근 12개월 중 {value}개월 연속·반복 위기정보",
            "crisis reports in {value} of the last 12 months",
            unit="count",
            window_months=12,
        ),
        Feature(
            "crisis_trend_3m",
            "crisis",
            "최근 3개월 건수 − 그 전 3개월 건수",
            "crisis reports in the last 3 months minus the 3 before",
            "위기정보 증가 추세(+{value}건)",
            "crisis reports rising (+{value})",
            unit="count",
            window_months=6,
        ),
    ]
    return features


def _admin_features() -> list[Feature]:
    def level_feature(name: str, source: str, ko: str, en: str) -> Feature:
        return Feature(
            name,
            "admin",
            ko,
            en,
            "{level_ko}",
            "{level_en}",
            unit="level",
            levels=tuple(LEVEL_NAMES[source]),
            reason_when="present",
        )

    return [
        Feature(
            "age",
            "admin",
            "세대주 나이",
            "age of the household head",
            "세대주 {value}세",
            "household head aged {value}",
            unit="years",
            reason_when="present",
        ),
        Feature(
            "lives_alone", "admin", "1인 가구 여부", "lives alone", "1인 가구", "lives alone", unit="flag"
        ),
        Feature(
            "household_size",
            "admin",
            "세대원 수",
            "members registered at the address",
            "세대원 {value}명",
            "{value} registered members",
            unit="count",
            reason_when="present",
        ),
        level_feature("housing_type", "housing_type", "주거 형태", "housing type"),
        level_feature("tenure", "tenure", "점유 형태", "tenure"),
        Feature(
            "years_at_address",
            "admin",
            "현 주소 거주 기간(년)",
            "years at the current address",
            "현 주소 거주 {value}년",
            "{value} years at this address",
            unit="years",
            reason_when="present",
        ),
        level_feature(
            "livelihood_status", "livelihood_status", "기초생활보장 상태", "basic livelihood security status"
        ),
        Feature(
            "medical_aid",
            "admin",
            "의료급여 수급",
            "receives medical aid",
            "의료급여 수급",
            "receives medical aid",
            unit="flag",
        ),
        Feature(
            "livelihood_dropped_12m",
            "admin",
            "최근 12개월 기초생활 수급 탈락",
            "dropped from basic livelihood support in the last 12 months",
            "최근 1년 내 기초생활 수급 탈락",
            "dropped from basic livelihood support this year",
            unit="flag",
            window_months=12,
        ),
        Feature(
            "household_shrunk_12m",
            "admin",
            "최근 12개월 세대원 감소",
            "fewer registered members than 12 months ago",
            "최근 1년 세대원 감소(사망·분가 등)",
            "household shrank this year (death, moving out)",
            unit="flag",
            window_months=12,
        ),
        Feature(
            "moved_in_12m",
            "admin",
            "최근 12개월 전입",
            "moved to this address in the last 12 months",
            "최근 1년 내 전입",
            "moved here in the last year",
            unit="flag",
            window_months=12,
        ),
        Feature(
            "gu_code", "admin", "자치구(코드)", "district (code)", "", "", unit="level", can_be_reason=False
        ),
    ]


def _sensor_features() -> list[Feature]:
    recent = "최근 7일"
    return [
        Feature(
            "sensor_enrolled",
            "sensor",
            "스마트 안부확인 서비스 이용 중",
            "enrolled in a smart welfare-check service",
            "",
            "",
            unit="flag",
            can_be_reason=False,
        ),
        Feature(
            "sensor_standby_share_7d",
            "sensor",
            f"{recent} 전력이 대기 수준인 시간 비율(가구 자신의 새벽 시간 기준)",
            "share of hours at the household's own standby level (its small hours of the previous 60 days), last 7 days",
            f"{recent} 대기전력 수준인 시간 {{value}}",
            "power at its standby level in {value} of hours this week",
            unit="share",
            window_days=67,
            reason_group="sensor_standby",
        ),
        Feature(
            "sensor_standby_change",
            "sensor",
            "평소(이전 60일) 대비 대기 수준 시간 비율 변화",
            "change in the share of hours at standby level versus the household's previous 60 days",
            "평소보다 대기전력 시간 {value} 증가",
            "hours at standby level up {value} on its usual share",
            unit="share",
            window_days=67,
            reason_group="sensor_standby",
        ),
        Feature(
            "sensor_longest_standby_hours_7d",
            "sensor",
            f"{recent} 대기 수준이 이어진 최장 시간",
            "longest run of hours at the household's standby level, last 7 days",
            "{value}시간 연속 대기전력 수준",
            "{value} hours in a row at standby power",
            unit="hours",
            window_days=67,
        ),
        Feature(
            "sensor_standby_days_7d",
            "sensor",
            f"{recent} 하루 종일 대기 수준이었던 날 수(부재와 비슷한 변화)",
            "days of the last 7 spent whole at standby level: an abrupt, away-like change",
            "{value}일 동안 종일 대기전력(부재 추정)",
            "{value} whole days at standby power (as if away)",
            unit="days",
            window_days=67,
        ),
        Feature(
            "sensor_power_drop_7d",
            "sensor",
            "평소 같은 요일·시간 대비 대기전력 위 사용량 감소율",
            "drop in power use above standby versus the same hours of the household's usual week",
            "평소 같은 시간보다 전력 사용 {value} 감소",
            "power use {value} below its usual for these hours",
            unit="share",
            window_days=67,
            reason_group="sensor_power_drop",
        ),
        Feature(
            "sensor_active_day_drop_7d",
            "sensor",
            "활동이 있던 날의 평소 대비 전력 사용 감소율(점진적 위축)",
            "on days that still had activity, drop in power use versus the usual week: gradual, withdrawal-like",
            "활동하는 날에도 전력 사용 {value} 감소",
            "even on active days, power use {value} below usual",
            unit="share",
            window_days=67,
            reason_group="sensor_power_drop",
        ),
        Feature(
            "sensor_power_deviation_7d",
            "sensor",
            "평소 같은 요일·시간 대비 전력의 강건한 편차 점수(양수: 평소보다 낮음)",
            "robust deviation of the last 7 days from the same hours of the usual week, in the household's own spreads (positive: lower than usual)",
            "평소 같은 시간보다 전력 사용이 뚜렷이 낮음",
            "power use clearly below the same hours of a usual week",
            unit="ratio",
        ),
        Feature(
            "sensor_rhythm_change",
            "sensor",
            "활동일의 낮 사용 비중 감소(낮/밤 리듬 약화)",
            "fall in the daytime share of power above standby on active days, versus the previous 60 days",
            "낮·밤 생활 리듬 약화",
            "day and night rhythm flattening",
            unit="share",
            window_days=67,
        ),
        Feature(
            "sensor_phone_drop",
            "sensor",
            "평소 같은 요일·시간 대비 휴대전화 사용 감소율",
            "drop in phone activity above its own night floor versus the same hours of the usual week",
            "휴대전화 사용 {value} 감소",
            "phone activity down {value}",
            unit="share",
            window_days=67,
        ),
        Feature(
            "sensor_light_drop",
            "sensor",
            "평소 같은 요일·시간 대비 조도 감소율",
            "drop in light above its own night floor versus the same hours of the usual week",
            "조명 사용 {value} 감소",
            "light use down {value}",
            unit="share",
            window_days=67,
        ),
        Feature(
            "sensor_offline_hours_7d",
            "sensor",
            f"{recent} 기기 미수신·플러그 뽑힘 시간",
            "hours the device sent nothing or was unplugged, last 7 days",
            "",
            "",
            unit="hours",
            window_days=7,
            can_be_reason=False,
        ),
        Feature(
            "ai_call_unanswered_streak",
            "sensor",
            "AI 안부전화 연속 미응답 횟수",
            "consecutive unanswered AI check-in calls",
            "AI 안부전화 {value}회 연속 미응답",
            "{value} AI check-in calls unanswered in a row",
            unit="count",
        ),
        Feature(
            "ai_call_answer_drop",
            "sensor",
            "평소 대비 AI 안부전화 응답률 감소",
            "drop in AI-call answer rate, last 4 weeks versus the 8 before",
            "AI 안부전화 응답률 {value} 감소",
            "AI-call answer rate down {value}",
            unit="share",
            window_days=84,
        ),
        Feature(
            "ai_call_risk_flags_90d",
            "sensor",
            "최근 90일 AI 안부전화 위험 발화 횟수",
            "AI calls with risky words, last 90 days",
            "최근 3개월 AI 통화 중 위험 발화 {value}회",
            "{value} AI calls with risky words in 3 months",
            unit="count",
            window_days=90,
        ),
    ]


def _history_features() -> list[Feature]:
    return [
        Feature(
            "visits_before",
            "history",
            "이전 방문 횟수",
            "previous outreach visits",
            "이전 방문 {value}회",
            "{value} previous visits",
            unit="count",
        ),
        Feature(
            "last_visit_outcome",
            "history",
            "가장 최근 방문 결과",
            "outcome of the latest visit",
            "지난 방문 결과: {level_ko}",
            "latest visit found: {level_en}",
            unit="level",
            levels=tuple(LEVEL_NAMES["last_visit_outcome"]),
            reason_when="present",
        ),
        Feature(
            "days_since_last_visit",
            "history",
            "가장 최근 방문 후 경과 일수",
            "days since the latest visit",
            "마지막 방문 {value}일 전",
            "last visited {value} days ago",
            unit="days",
            reason_when="present",
        ),
        Feature(
            "positive_visits_before",
            "history",
            "이전 방문에서 고립·위험 확인 횟수",
            "previous visits that found isolation or risk",
            "이전 방문에서 고립·위험 {value}회 확인",
            "isolation or risk found on {value} earlier visits",
            unit="count",
        ),
        Feature(
            "flagged_without_finding",
            "history",
            "명단·경보로 방문했으나 확인되지 않은 횟수",
            "times flagged by a list or alert without a finding",
            "",
            "",
            unit="count",
            can_be_reason=False,
        ),
        Feature(
            "contacts_120_90d",
            "history",
            "최근 90일 120 외로움 상담 건수",
            "contacts with the 120 loneliness line, last 90 days",
            "최근 3개월 120 외로움 상담 {value}건",
            "{value} calls to the 120 loneliness line in 3 months",
            unit="count",
            window_days=90,
        ),
        Feature(
            "contacts_120_crisis_365d",
            "history",
            "최근 1년 120 위기 상담 건수",
            "crisis contacts with the 120 line, last 12 months",
            "최근 1년 120 위기 상담 {value}건",
            "{value} crisis calls to the 120 line this year",
            unit="count",
            window_days=365,
        ),
    ]


def _protected_features() -> list[Feature]:
    return [
        Feature(
            "head_sex_female",
            "protected",
            "세대주 여성",
            "household head is female",
            "",
            "",
            unit="flag",
            can_be_reason=False,
        ),
        Feature(
            "disability",
            "protected",
            "장애 등록 가구원",
            "registered disability in the household",
            "",
            "",
            unit="flag",
            can_be_reason=False,
        ),
    ]


@cache
def catalogue() -> tuple[Feature, ...]:
    """Every feature, in the column order of a feature table."""
    return tuple(
        _admin_features()
        + _crisis_features()
        + _sensor_features()
        + _history_features()
        + _protected_features()
    )


@cache
def by_name() -> dict[str, Feature]:
    return {feature.name: feature for feature in catalogue()}


def names(families: tuple[Family, ...] | None = None) -> list[str]:
    """Feature names, optionally of some families only, in table order."""
    return [f.name for f in catalogue() if families is None or f.family in families]


def indicator_names() -> dict[str, tuple[str, str]]:
    """Indicator code -> (Korean, English) name, for reasons that cite the household's indicators."""
    table = indicator_catalogue()
    return {
        code: (ko, en) for code, ko, en in zip(table["code"], table["name_ko"], table["name_en"], strict=True)
    }


def catalogue_markdown() -> str:
    """The catalogue as a Markdown document, so the docs are generated, never retyped."""
    lines = [
        "# Feature catalogue",
        "",
        f"Generated from `features/catalogue.py` (catalogue version {CATALOGUE_VERSION}) by "
        "`anbu catalogue --out docs/features.md`; do not edit by hand.",
        "",
        "Windows end on the round date and use only facts reported, valid, visited or measured "
        "on or before it. `protected` features are model inputs only when an experiment says so, "
        "and never reasons.",
        "",
    ]
    for family in ("admin", "crisis", "sensor", "history", "protected"):
        lines += [
            f"## {family}",
            "",
            "| feature | window | 설명 | description | reason (ko / en) |",
            "|---|---|---|---|---|",
        ]
        for f in catalogue():
            if f.family != family:
                continue
            window = (
                f"{f.window_months} months"
                if f.window_months
                else f"{f.window_days} days"
                if f.window_days
                else ""
            )
            reason = f"{f.reason_ko} / {f.reason_en}" if f.can_be_reason and f.reason_ko else "never a reason"
            lines.append(f"| `{f.name}` | {window} | {f.description_ko} | {f.description_en} | {reason} |")
        lines.append("")
    return "\n".join(lines)
