"""The round check reads each household's district as written: a household without one is never
counted in another district's share of the top of the list."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from features.round_table import write_round
from serving.health.round import _RoundColumns
from serving.scoring.champion import load_champion
from tests.support.served import ROUND, Served


def test_a_household_without_a_district_is_read_without_one_from_a_dictionary_column(
    models_env: Served, tmp_path: Path
) -> None:
    path = tmp_path / "round.parquet"
    write_round(models_env.data, ROUND, path)
    table = pq.read_table(path)
    district = table["gu"].to_pylist()
    district[1] = None  # the dictionary's second row: pyarrow reads such a null as its neighbour's code
    column = table.schema.get_field_index("gu")
    table = table.set_column(column, "gu", pa.array(district, pa.string()).dictionary_encode())
    pq.write_table(table, path)
    read = _RoundColumns.read(path, load_champion())
    assert read.district.tolist() == district
