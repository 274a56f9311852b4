"""Where a city's highest risks sit, district by district, for an admin looking at all of Seoul.

Each district's own list at the same capacity would show only the districts' sizes (15 visits are
more per 1,000 households in 중구 than in 송파구). The city view instead takes the city's own list
of the same size as the 25 district lists together (capacity × 25 households, by risk) and counts,
per district, how many of its households are on it per 1,000 and what their risks expect visits to
find: where risk concentrates, which is what shifting visits between districts turns on.
"""

from __future__ import annotations

import pandas as pd

from features.reference import district_names


def district_density(households: pd.DataFrame, capacity: int) -> tuple[pd.DataFrame, int]:
    """(gu, households, listed, per_1000, expected) for every district, and the city list's size."""
    size = capacity * len(district_names())
    listed = households.nsmallest(size, "rank") if "rank" in households else households.nlargest(size, "risk")
    per_district = households.groupby("gu", observed=True).size()
    on_list = listed.groupby("gu", observed=True).agg(listed=("risk", "size"), expected=("risk", "sum"))
    table = pd.DataFrame({"gu": list(district_names())})
    table["households"] = table["gu"].map(per_district).fillna(0).astype("int64")
    table["listed"] = table["gu"].map(on_list["listed"]).fillna(0).astype("int64")
    table["expected"] = table["gu"].map(on_list["expected"]).fillna(0.0).astype("float64")
    table["per_1000"] = (1000 * table["listed"] / table["households"].where(table["households"] > 0)).fillna(
        0.0
    )
    return table, len(listed)
