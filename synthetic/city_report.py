"""Generated figures beside the published ones, computed from the written files with DuckDB.

Read from disk, not from the generator's memory, so the report describes exactly what a user
receives and works at Seoul scale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from anbu.data_folder import DataFolder
from features.reference import AGE_BAND_COLUMNS, districts, dongs, one_person_age_bands


@dataclass
class CityReport:
    districts: pd.DataFrame
    """gu, published and generated share of households and one-person share, and how the
    district's households spread over its dongs against its electors (Pearson r, dongs)."""
    age_bands: pd.DataFrame
    """age band, published and generated share of one-person households."""
    headline: pd.DataFrame
    """figure, generated, target (published or issue target)."""
    indicators: pd.DataFrame
    """indicator, households with it per 1,000 per year."""
    visits: pd.DataFrame
    """trigger × outcome counts, with the positive rate per trigger."""


def city_report(data_dir: Path) -> CityReport:
    data_dir = Path(data_dir)

    def q(sql: str) -> pd.DataFrame:
        return con.execute(sql).df()

    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        for name in ("households", "crisis_events", "sensor_enrollments", "outreach_visits"):
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{data_dir / name}.parquet')")
        con.execute(
            f"CREATE VIEW truth AS SELECT * FROM read_parquet('{DataFolder(data_dir).truth / 'monthly_state.parquet'}')"
        )
        first = q(
            "SELECT gu, dong_code, household_size, head_birth_year, valid_from FROM (SELECT *, row_number() OVER "
            "(PARTITION BY household_id ORDER BY valid_from) AS n FROM households) WHERE n = 1"
        )
        events = q("SELECT household_id, indicator, reference_month FROM crisis_events")
        enrolled = q("SELECT count(DISTINCT household_id) AS n FROM sensor_enrollments")["n"].iloc[0]
        state = q(
            "SELECT avg((state = 2)::INT) AS isolated, avg((state = 1)::INT) AS at_risk, "
            "count(DISTINCT month) AS months FROM truth"
        )
        visit_table = q("SELECT trigger, outcome, count(*) AS visits FROM outreach_visits GROUP BY ALL")

    published = districts()
    n = len(first)
    gen = (
        first.assign(alone=first["household_size"] == 1)
        .groupby("gu")
        .agg(households=("gu", "size"), alone=("alone", "mean"))
    )
    table = published.set_index("gu")
    district_table = pd.DataFrame(
        {
            "published_share": table["households"] / table["households"].sum(),
            "generated_share": gen["households"].reindex(table.index).fillna(0) / n,
            "published_one_person": table["single_person_households"] / table["households"],
            "generated_one_person": gen["alone"].reindex(table.index),
        }
    ).reset_index()
    district_table = district_table.merge(dong_spread(first), on="gu", how="left")

    alone = first[first["household_size"] == 1]
    start_year = int(
        json.loads((DataFolder(data_dir).truth / "generation.json").read_text())["first_month"][:4]
    )
    ages = start_year - alone["head_birth_year"]
    edges = [0, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 200]
    generated_bands = pd.cut(ages, edges, right=False, labels=list(AGE_BAND_COLUMNS)).value_counts(
        normalize=True
    )
    published_bands = one_person_age_bands()[list(AGE_BAND_COLUMNS)].sum()
    age_table = (
        pd.DataFrame(
            {
                "published_share": published_bands / published_bands.sum(),
                "generated_share": generated_bands.reindex(list(AGE_BAND_COLUMNS)).fillna(0),
            }
        )
        .rename_axis("age_band")
        .reset_index()
    )

    events["quarter"] = events["reference_month"].dt.to_period("Q")
    full_quarters = events.groupby("quarter")["reference_month"].nunique()
    full_quarters = full_quarters[full_quarters == 3].index
    quarterly = events[events["quarter"].isin(full_quarters)].groupby("quarter")["household_id"].nunique() / n
    years = state["months"].iloc[0] / 12
    indicators = (events.groupby("indicator")["household_id"].nunique() / n * 1000 / years).round(2)
    headline = pd.DataFrame(
        [
            ("households (distinct ids)", n, f"Seoul: {published['households'].sum():,}"),
            (
                "one-person share",
                (first["household_size"] == 1).mean(),
                published["single_person_households"].sum() / published["households"].sum(),
            ),
            ("isolated, average month", state["isolated"].iloc[0], "2-3 %"),
            ("at risk, average month", state["at_risk"].iloc[0], "a few % more"),
            ("households with ≥1 indicator per full quarter", quarterly.mean(), "8-10 %"),
            ("enrolled in a smart service", enrolled / n, "about 1 %"),
        ],
        columns=["figure", "generated", "target"],
    )
    pivot = visit_table.pivot_table(index="trigger", columns="outcome", values="visits", fill_value=0)
    pivot["visits"] = pivot.sum(axis=1)
    pivot["positive_rate"] = (pivot.get("isolated", 0) + pivot.get("at_risk", 0)) / pivot["visits"]
    return CityReport(
        district_table,
        age_table,
        headline,
        indicators.rename("households_per_1000_per_year").reset_index(),
        pivot.reset_index(),
    )


def dong_spread(first: pd.DataFrame) -> pd.DataFrame:
    """Per district, the Pearson correlation between its households' shares by dong and its
    electors' shares (a dong without households counts at 0), and how many of its dongs have any:
    the households live where the district's people do."""
    table = dongs()
    counts = first.groupby(["gu", "dong_code"]).size().rename("households")
    rows = []
    for gu, own in table.groupby("gu", sort=False):
        electors = own["electors_2022"].to_numpy(dtype="float64")
        households = (
            counts.reindex(pd.MultiIndex.from_arrays([own["gu"], own["dong_code"]])).fillna(0).to_numpy()
        )
        r = float(np.corrcoef(households, electors)[0, 1]) if households.sum() > 0 else float("nan")
        rows.append({"gu": gu, "dong_share_r": r, "dongs": f"{int((households > 0).sum())}/{len(own)}"})
    return pd.DataFrame(rows)
