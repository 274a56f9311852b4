"""`anbu score` and `anbu rank` on the served city's champion."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from openpyxl import load_workbook
from typer.testing import CliRunner

from anbu.cli import app
from serving.lists.expected import expected_finds
from serving.records.store import Records
from serving.scoring.households import read_manifest
from serving.scoring.rounds import scores_path
from tests.support.served import ROUND, found_within_a_year

runner = CliRunner()


def test_score_writes_every_household_with_rank_band_version_and_reasons(models_env, tmp_path) -> None:
    out = tmp_path / "scores.parquet"
    result = runner.invoke(
        app, ["score", "--data", str(models_env.data), "--as-of", "2026-07-31", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    assert scored["household_id"].is_monotonic_increasing  # written block by block, in id order
    assert sorted(scored["rank"]) == list(range(1, len(scored) + 1))
    assert scored.sort_values("rank")["risk"].is_monotonic_decreasing
    assert set(scored["band"]) <= {"very_high", "high", "elevated", "low"}
    assert (scored.loc[scored["risk"] >= 0.5, "band"] == "very_high").all()
    assert (scored["model_version"] == models_env.version).all()
    assert np.allclose(scored["percentile"], 100 * (len(scored) - scored["rank"]) / len(scored))
    with_reasons = scored["reasons"].map(len) > 0
    assert with_reasons.mean() > 0.9
    manifest = read_manifest(out)
    assert manifest["households"] == len(scored) and manifest["model_version"] == models_env.version


def test_rank_prints_the_list_and_writes_csv_and_xlsx(models_env, tmp_path, monkeypatch) -> None:
    scored = pd.read_parquet(scores_path(models_env.data, ROUND, models_env.version))
    gu = scored["gu"].iloc[0]
    monkeypatch.setenv("ANBU_RECORDS_URL", str(tmp_path / "records.sqlite"))
    args = ["rank", "--data", str(models_env.data), "--as-of", "2026-07-31", "--gu", gu, "--capacity", "6"]
    printed = runner.invoke(app, args)
    assert printed.exit_code == 0, printed.output
    district = scored[scored["gu"] == gu].sort_values("rank")
    found = found_within_a_year(models_env.data)
    top = district[~district["household_id"].isin(found)]["household_id"].head(6)  # the discovery list
    assert all(h in printed.output for h in top)
    assert "발굴" in printed.output
    assert "since 2026-06-30" in printed.output
    csv = runner.invoke(app, [*args, "--format", "csv", "--out", str(tmp_path / "list.csv")])
    assert csv.exit_code == 0, csv.output
    table = pd.read_csv(tmp_path / "list.csv", encoding="utf-8-sig", dtype=str)
    assert table["가구번호"].tolist() == top.tolist()
    runner.invoke(app, [*args, "--format", "xlsx", "--out", str(tmp_path / "list.xlsx")])
    sheet = load_workbook(io.BytesIO((tmp_path / "list.xlsx").read_bytes())).active
    assert (sheet["A3"].value, sheet["C3"].value) == ("발굴", top.iloc[0])
    # What the list's risks expect its visits to find, above the list in the terminal and the workbook.
    expected = expected_finds(district[district["household_id"].isin(top)]["risk"].to_numpy())
    assert expected.sentence_ko in sheet["A1"].value
    assert f"이번 목록 6가구 중 약 {expected.expected:.0f}가구에서" in " ".join(printed.output.split())
    Records(tmp_path / "records.sqlite").record_overrides(
        [{"household_id": top.iloc[0], "action": "exclude", "reason": "입원 중"}], ROUND.date(), "test"
    )
    after = runner.invoke(app, [*args, "--format", "csv", "--out", str(tmp_path / "after.csv")])
    assert after.exit_code == 0
    assert (
        top.iloc[0]
        not in pd.read_csv(tmp_path / "after.csv", encoding="utf-8-sig", dtype=str)["가구번호"].tolist()
    )
    # The terminal shows the exclusion beside the list: who, why, since which round.
    shown = runner.invoke(app, args)
    assert f"제외 중 {top.iloc[0]}" in shown.output and "입원 중 — test, 2026-07-31 회차부터" in shown.output


def test_rank_names_a_wrong_district_or_format(models_env) -> None:
    base = ["rank", "--data", str(models_env.data), "--as-of", "2026-07-31", "--capacity", "5"]
    wrong_gu = runner.invoke(app, [*base, "--gu", "Gangnam"])
    assert wrong_gu.exit_code == 2 and "--gu 'Gangnam'" in wrong_gu.output
    wrong_format = runner.invoke(app, [*base, "--gu", "관악구", "--format", "pdf"])
    assert wrong_format.exit_code == 2 and "--format" in wrong_format.output


def test_serve_refuses_to_start_without_a_scored_round(models_env, tmp_path) -> None:
    result = runner.invoke(app, ["serve", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "no scored round" in result.output
    unscored = runner.invoke(app, ["serve", "--data", str(models_env.data), "--as-of", "2026-03-31"])
    assert unscored.exit_code == 2 and "2026-03-31 is not scored" in unscored.output


def test_outcomes_exports_recorded_visits_or_says_there_are_none(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ANBU_RECORDS_URL", str(tmp_path / "records.sqlite"))
    out = tmp_path / "visits.parquet"
    nothing = runner.invoke(app, ["outcomes", "--data", str(tmp_path), "--out", str(out)])
    assert nothing.exit_code == 2 and "nothing has been recorded" in nothing.output
    Records(tmp_path / "records.sqlite").record_outcomes(
        [{"household_id": "H00000001", "visited_on": "2026-08-02", "outcome": "refused"}], "team"
    )
    result = runner.invoke(app, ["outcomes", "--data", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out)["outcome"].tolist() == ["refused"]
    Records(tmp_path / "records.sqlite").record_survey_sample(["H00000002"], "2026-08 관악구", "관악구청")
    samples = tmp_path / "survey_samples.parquet"
    both = runner.invoke(
        app, ["outcomes", "--data", str(tmp_path), "--out", str(out), "--samples", str(samples)]
    )
    assert both.exit_code == 0, both.output
    assert "1 sweep draws" in both.output
    assert pd.read_parquet(samples)[["household_id", "sweep"]].values.tolist() == [
        ["H00000002", "2026-08 관악구"]
    ]


def test_keys_add_then_scope_share_their_options_and_the_list_shows_the_new_scope(tmp_path) -> None:
    data = str(tmp_path)
    added = runner.invoke(
        app,
        ["keys", "add", "--data", data, "--name", "gwanak-team", "--role", "planner"]
        + ["--gu", "관악구", "--gu", "동작구", "--max-capacity", "30"],
    )
    assert added.exit_code == 0, added.output
    assert "planner key for gwanak-team" in added.output
    scoped = runner.invoke(
        app, ["keys", "scope", "--data", data, "--name", "gwanak-team", "--gu", "관악구", "--route", "/rank"]
    )
    assert scoped.exit_code == 0, scoped.output
    assert "관악구" in scoped.output and "동작구" not in scoped.output and "routes /rank" in scoped.output
    unknown = runner.invoke(app, ["keys", "scope", "--data", data, "--name", "nobody", "--gu", "관악구"])
    assert unknown.exit_code == 2 and "no caller named 'nobody'" in unknown.output
    listed = runner.invoke(app, ["keys", "list", "--data", data])
    assert listed.exit_code == 0 and "gwanak-team" in listed.output
