"""Administrative features from the effective-dated registry, as of the round date."""

from __future__ import annotations

import duckdb
import pandas as pd

from features.catalogue import LEVEL_NAMES


def _level_code(column: str, levels: tuple[str, ...]) -> str:
    """The level's position in the catalogue (NULL for an unknown one), in SQL both DuckDB and
    Spark read the same way."""
    cases = " ".join(f"WHEN '{level}' THEN {code}" for code, level in enumerate(levels))
    return f"(CASE r.{column} {cases} END)"


def admin_query(as_of: pd.Timestamp) -> tuple[str, dict]:
    """Households in the registry at the end of `as_of`, with their admin features and audit columns."""
    levels = {name: tuple(LEVEL_NAMES[name]) for name in ("housing_type", "tenure", "livelihood_status")}
    query = f"""
    WITH r AS (
        SELECT * FROM households
        WHERE valid_from <= $as_of AND (valid_to IS NULL OR valid_to > $as_of)
    ),
    year_ago AS (
        SELECT household_id, household_size AS size_year_ago FROM households
        WHERE valid_from <= $year_ago AND (valid_to IS NULL OR valid_to > $year_ago)
    ),
    dropped AS (
        SELECT DISTINCT household_id FROM households
        WHERE livelihood_status = 'dropped' AND valid_from > $year_ago AND valid_from <= $as_of
    )
    SELECT
        r.household_id,
        r.gu,
        r.dong_code,
        r.head_sex,
        r.housing_type AS housing_type_name,
        (year($as_of) - r.head_birth_year)::DOUBLE AS age,
        (r.household_size = 1)::INTEGER AS lives_alone,
        r.household_size::DOUBLE AS household_size,
        {_level_code("housing_type", levels["housing_type"])} AS housing_type,
        {_level_code("tenure", levels["tenure"])} AS tenure,
        date_diff('day', r.moved_in, $as_of) / CAST(365.25 AS DOUBLE) AS years_at_address,
        {_level_code("livelihood_status", levels["livelihood_status"])} AS livelihood_status,
        r.medical_aid::INTEGER AS medical_aid,
        (d.household_id IS NOT NULL)::INTEGER AS livelihood_dropped_12m,
        coalesce(r.household_size < y.size_year_ago, FALSE)::INTEGER AS household_shrunk_12m,
        (r.moved_in > $year_ago)::INTEGER AS moved_in_12m,
        g.gu_code,
        (r.head_sex = 'F')::INTEGER AS head_sex_female,
        r.disability::INTEGER AS disability
    FROM r
    LEFT JOIN year_ago y USING (household_id)
    LEFT JOIN dropped d USING (household_id)
    LEFT JOIN districts g USING (gu)
    ORDER BY r.household_id
    """
    params = {"as_of": as_of.date(), "year_ago": (as_of - pd.DateOffset(months=12)).date()}
    return query, params


def registry_on(con: duckdb.DuckDBPyConnection, as_of: pd.Timestamp) -> pd.DataFrame:
    query, params = admin_query(as_of)
    return con.execute(query, params).df()
