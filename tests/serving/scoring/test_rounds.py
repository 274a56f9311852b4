"""A stored round reads back as written; one scored before reasons were stored whole is refused
naming `anbu migrate`, and after it reads the same."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.scoring.reasons import MAX_REASONS
from serving.scoring.rounds import (
    RoundUnreadable,
    ScoredRound,
    migrate_rounds,
    read_round,
    scores_path,
    shown_version,
)
from tests.support.served import ROUND


def _as_scored_before_reasons_were_whole(table: pa.Table) -> pa.Table:
    """The layout rounds had until 2026-12: `reason_codes` ("a|b"), then reason_1_ko … reason_4_en
    in place of `reasons`."""
    rows = table["reasons"].to_pylist()
    flat: dict[str, pa.Array] = {
        "reason_codes": pa.array(["|".join(r["code"] for r in reasons) for reasons in rows])
    }
    for slot in range(MAX_REASONS):
        for language in ("ko", "en"):
            texts = [reasons[slot][f"text_{language}"] if len(reasons) > slot else None for reasons in rows]
            flat[f"reason_{slot + 1}_{language}"] = pa.array(texts, pa.string())
    place = table.column_names.index("reasons")
    older = table.drop_columns(["reasons"])
    for offset, (name, column) in enumerate(flat.items()):
        older = older.add_column(place + offset, name, column)
    return older


@pytest.fixture(scope="module")
def stored(served) -> ScoredRound:
    return shown_version(served.data, ROUND)


def _older_copy(stored: ScoredRound, folder: Path, change=lambda table: table) -> ScoredRound:
    """The stored round in the older layout, in a data folder of its own (DIR/_scores/<as_of>/)."""
    path = scores_path(folder, stored.as_of, stored.model_version)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(change(_as_scored_before_reasons_were_whole(pq.read_table(stored.path))), path)
    return ScoredRound(stored.as_of, stored.model_version, path)


def test_a_round_is_indexed_by_household_with_each_household_s_reasons_whole(stored) -> None:
    scored = read_round(stored)
    assert scored.index.tolist() == scored["household_id"].tolist() and scored.index.is_unique
    assert scored.index.name is None  # else sorting or grouping by household_id is ambiguous
    reasons = scored["reasons"].iat[0]
    assert 1 <= len(reasons) <= MAX_REASONS
    assert set(reasons[0]) == {"code", "feature", "text_ko", "text_en"} and reasons[0]["feature"]


def test_a_round_scored_before_reasons_were_whole_is_refused_until_migrated_then_reads_as_if_scored_now(
    stored, tmp_path
) -> None:
    copy = _older_copy(stored, tmp_path)
    with pytest.raises(
        RoundUnreadable, match=rf"reasons as flat columns: run `anbu migrate --data {tmp_path}` once"
    ):
        read_round(copy)
    metadata = pq.read_schema(copy.path).metadata
    assert migrate_rounds(tmp_path) == [f"{copy.path}: reasons stored whole"]
    assert migrate_rounds(tmp_path) == []  # once
    assert pq.read_schema(copy.path).metadata == metadata  # the manifest kept
    now, older = read_round(stored), read_round(copy)
    assert older.columns.tolist() == now.columns.tolist()
    for column in now.columns.drop("reasons"):
        assert older[column].equals(now[column]), column
    without_feature = [[{**r, "feature": None} for r in reasons] for reasons in now["reasons"].tolist()]
    assert older["reasons"].tolist() == without_feature  # the older layout never stored it
    assert sum(map(len, without_feature)) > len(now)  # households with several reasons were compared


def test_an_older_round_whose_codes_and_sentences_disagree_is_refused_naming_the_household(
    stored, tmp_path
) -> None:
    several = next(
        i for i, reasons in enumerate(pq.read_table(stored.path)["reasons"].to_pylist()) if len(reasons) > 1
    )

    def lose_codes(table: pa.Table) -> pa.Table:
        codes = table["reason_codes"].to_pylist()
        codes[several] = codes[several].split("|")[0]
        return table.set_column(table.column_names.index("reason_codes"), "reason_codes", pa.array(codes))

    household = pq.read_table(stored.path)["household_id"][several].as_py()
    with pytest.raises(
        RoundUnreadable, match=rf"v\d+\.parquet: household {household} has \d reason sentences but"
    ):
        migrate_rounds(_older_copy(stored, tmp_path, lose_codes).path.parents[2])


def _copy(stored: ScoredRound, folder: Path, change) -> ScoredRound:
    path = folder / stored.path.name
    pq.write_table(change(pq.read_table(stored.path)), path)
    return ScoredRound(stored.as_of, stored.model_version, path)


def _with_reasons(table: pa.Table, change) -> pa.Table:
    rows = table["reasons"].to_pylist()
    change(rows)
    column = pa.array(rows, table.schema.field("reasons").type)
    return table.set_column(table.column_names.index("reasons"), "reasons", column)


def test_a_household_without_a_reasons_list_has_none_and_a_blank_reason_is_refused(stored, tmp_path) -> None:
    def unlisted(rows: list) -> None:
        rows[5] = None

    assert read_round(_copy(stored, tmp_path, lambda t: _with_reasons(t, unlisted)))["reasons"].iat[5] == []

    def blank(rows: list) -> None:
        rows[several][1]["text_en"] = None

    several = next(
        i for i, reasons in enumerate(pq.read_table(stored.path)["reasons"].to_pylist()) if len(reasons) > 1
    )
    household = pq.read_table(stored.path)["household_id"][several].as_py()
    with pytest.raises(
        RoundUnreadable,
        match=rf"household {household} has a reason without its code or one of its sentences \(1 households like it\)",
    ):
        read_round(_copy(stored, tmp_path, lambda t: _with_reasons(t, blank)))


@pytest.mark.parametrize("column", ["reason_codes", "reason_1_en"])
def test_an_older_round_with_a_sentence_but_no_code_or_one_language_only_is_refused(
    stored, tmp_path, column
) -> None:
    # One reason: an empty reason_codes still splits into one (empty) code, so only the blank is wrong.
    first = next(
        i for i, reasons in enumerate(pq.read_table(stored.path)["reasons"].to_pylist()) if len(reasons) == 1
    )

    def blank(table: pa.Table) -> pa.Table:
        values = table[column].to_pylist()
        values[first] = "" if column == "reason_codes" else None
        return table.set_column(table.column_names.index(column), column, pa.array(values, pa.string()))

    household = pq.read_table(stored.path)["household_id"][first].as_py()
    with pytest.raises(RoundUnreadable, match=rf"household {household} has a reason without its code or one"):
        migrate_rounds(_older_copy(stored, tmp_path, blank).path.parents[2])


def test_a_round_in_the_layout_before_versions_moves_to_its_version_s_file(stored, tmp_path) -> None:
    legacy = tmp_path / "_scores" / f"{stored.as_of.date()}.parquet"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(stored.path.read_bytes())
    target = scores_path(tmp_path, stored.as_of, stored.model_version)
    assert migrate_rounds(tmp_path) == [f"{legacy} → {target}"]
    assert not legacy.exists() and target.read_bytes() == stored.path.read_bytes()


def test_a_spark_folder_of_the_older_layout_is_migrated_too(stored, tmp_path) -> None:
    folder = scores_path(tmp_path, stored.as_of, stored.model_version)
    folder.mkdir(parents=True)
    older = _as_scored_before_reasons_were_whole(pq.read_table(stored.path))
    pq.write_table(older.slice(0, 500), folder / "part-00000.parquet")
    pq.write_table(older.slice(500), folder / "part-00001.parquet")
    (folder / "_SUCCESS").touch()
    spark_round = ScoredRound(stored.as_of, stored.model_version, folder)
    with pytest.raises(RoundUnreadable, match="run `anbu migrate"):
        read_round(spark_round)
    assert migrate_rounds(tmp_path) == [f"{folder}: reasons stored whole"]
    migrated, now = read_round(spark_round), read_round(stored)
    assert migrated["household_id"].tolist() == now["household_id"].tolist()
    assert migrated["risk"].equals(now["risk"]) and not folder.with_name(folder.name + ".migrating").exists()
