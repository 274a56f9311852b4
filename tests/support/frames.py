"""Comparing what two engines or two paths wrote, column by column."""

from __future__ import annotations

import pandas as pd


def values(column: pd.Series) -> list:
    """A column's values as plain Python, missing as None (NaN and NaT never equal themselves);
    a list column (a round's reasons) as lists of dicts."""
    if isinstance(column.dtype, pd.ArrowDtype):
        return column.tolist()
    return column.astype(object).where(column.notna(), None).tolist()
