"""A dong as a team names it: by its name (보라매동), as the people at its community centre say it,
or by its 10-digit 행정표준코드, as the city's systems carry it.

A name or code that is not one of the district's dongs is refused naming what was given and where
the valid ones are listed, instead of coming back as an empty list a planner might take for a
quiet neighbourhood.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache

import pandas as pd

from features.reference import district_names, dong_names, dongs
from serving.refusal import Refused

UNKNOWN_DONG_KO = "행정동 미상"
"""What a reader sees for a household whose dong code validation blanked (not one of Seoul's dongs)."""


@cache
def _district_dongs() -> dict[str, dict[str, str]]:
    """District -> {code: code, name: code} of its dongs."""
    table = dongs()
    return {
        gu: {
            **dict(zip(own["dong_code"], own["dong_code"], strict=True)),
            **dict(zip(own["dong_name"], own["dong_code"], strict=True)),
        }
        for gu, own in table.groupby("gu", sort=False)
    }


def dong_code_of(
    gu: str, given: str | None, round_codes: Collection[str] = (), field: str = "dong"
) -> str | None:
    """The code of the district's dong named by `given` (its name or its code); None for none.
    `round_codes`: codes the served round's households of the district carry, accepted as they are
    (a round scored before the codes were Seoul's, or a key scoped by such a code, keeps working)."""
    if given is None:
        return None
    if gu not in district_names():
        return given  # the district is refused on its own
    code = _district_dongs()[gu].get(given.strip())
    if code is None and given.strip() in round_codes:
        code = given.strip()
    if code is None:
        raise Refused(
            422,
            field,
            f"{field}: {given!r} is not a dong of {gu}: give a dong's name (e.g. "
            f"{_names_of(gu)[0]}) or its 10-digit code; the API's /key_scope lists a key's dongs by name "
            "and code, and seoul_dongs.csv (features/reference) every district's",
            code="unknown_dong",
        )
    return code


def _names_of(gu: str) -> list[str]:
    table = dongs()
    return table.loc[table["gu"] == gu, "dong_name"].tolist()


def dong_name(code: object) -> str:
    """A household's dong as a planner reads it."""
    if code is None or pd.isna(code):
        return UNKNOWN_DONG_KO
    return dong_names().get(str(code), f"{UNKNOWN_DONG_KO} ({code})")


def dong_name_column(codes: pd.Series) -> pd.Series:
    """The names of a column of dong codes (a list's rows, an export's column)."""
    names = codes.astype("string").map(dong_names())
    return names.fillna(codes.map(dong_name)).astype("string")
