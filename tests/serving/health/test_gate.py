"""`anbu health` and the gate in `anbu score`, on the served city's real champion: a clean round goes
out with its report; a round whose delivery lost a source is stopped, named, and goes out only when
someone accepts it, recorded."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from anbu.cli import app
from anbu.data_folder import DataFolder
from serving.health.report import HEALTH_FILE, REPORT_FILE
from serving.health.round import HealthCannotRun, check_round
from serving.scoring.champion import load_champion
from serving.scoring.households import read_manifest
from tests.support.changed import copy_delivery, recode_district, remove_indicator
from tests.support.served import ROUND, Served

runner = CliRunner()
DAY = str(ROUND.date())


@pytest.fixture(scope="module")
def gone_quiet(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served city's delivery with every electricity-arrears report of its last two months gone."""
    copy = copy_delivery(served.data, tmp_path_factory.mktemp("gone_quiet") / "city")
    remove_indicator(copy, ROUND)
    return copy


def test_a_clean_round_is_checked_reported_and_logged_beside_the_champion(models_env: Served) -> None:
    result = runner.invoke(app, ["health", "--data", str(models_env.data), "--as-of", DAY])
    assert result.exit_code == 0, result.output
    folder = DataFolder(models_env.data).health(ROUND)
    health = json.loads((folder / HEALTH_FILE).read_text(encoding="utf-8"))
    assert health["errors"] == 0 and health["warnings"] <= 1, health["findings"]
    assert health["model_version"] == models_env.version and health["as_of"] == DAY
    assert len(health["features"]) == len(load_champion().features)
    page = (folder / REPORT_FILE).read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "Round health" in page
    logged = mlflow.MlflowClient().list_artifacts(load_champion().run_id, f"health/{DAY}")
    assert {Path(a.path).name for a in logged} == {HEALTH_FILE, REPORT_FILE}


def test_a_source_gone_quiet_stops_the_round_until_someone_accepts_it(
    models_env: Served, gone_quiet: Path, tmp_path: Path
) -> None:
    checked = runner.invoke(app, ["health", "--data", str(gone_quiet), "--as-of", DAY])
    assert checked.exit_code == 1, checked.output
    assert "crisis_events indicator=ELEC_ARREARS" in checked.output.splitlines()[0], checked.output

    out = tmp_path / "scores.parquet"
    refused = runner.invoke(app, ["score", "--data", str(gone_quiet), "--as-of", DAY, "--out", str(out)])
    assert refused.exit_code == 1 and not out.exists()
    assert "ELEC_ARREARS" in refused.output and "--accept-health" in refused.output

    unnamed = runner.invoke(
        app, ["score", "--data", str(gone_quiet), "--as-of", DAY, "--out", str(out), "--accept-health", "ok"]
    )
    assert unnamed.exit_code == 2 and "--by" in unnamed.output and not out.exists()

    reason = "the utility confirmed the arrears feed is late, not gone; lists checked by hand"
    accepted = runner.invoke(
        app,
        ["score", "--data", str(gone_quiet), "--as-of", DAY, "--out", str(out)]
        + ["--accept-health", reason, "--by", "김민지"],
    )
    assert accepted.exit_code == 0, accepted.output
    health = read_manifest(out)["health"]
    assert health["accepted"] == {"by": "김민지", "reason": reason}
    assert any("ELEC_ARREARS" in sentence for sentence in health["errors"])
    audit = runner.invoke(app, ["records", "accepted-health", "--data", str(gone_quiet)])
    assert audit.exit_code == 0 and "김민지 accepted the round 2026-07-31" in audit.output
    assert reason in audit.output and "ELEC_ARREARS" in audit.output


def test_a_round_before_the_training_window_or_without_a_champion_cannot_be_checked(
    models_env: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    early = runner.invoke(app, ["health", "--data", str(models_env.data), "--as-of", "2024-01-31"])
    assert early.exit_code == 2 and "before isolation-risk" in early.output
    monkeypatch.setenv("ANBU_MODELS_DIR", str(tmp_path / "no-models"))
    nobody = runner.invoke(app, ["health", "--data", str(models_env.data), "--as-of", DAY])
    assert nobody.exit_code == 2 and "anbu train" in nobody.output
    assert not (tmp_path / "no-models").exists() or not any((tmp_path / "no-models").iterdir())


def test_a_champion_trained_without_a_profile_is_named(models_env: Served) -> None:
    champion = load_champion()
    with mlflow.start_run(run_name="trained before round health") as bare:
        pass
    older = type(champion)(champion.model, champion.version, bare.info.run_id, champion.features)
    with pytest.raises(HealthCannotRun, match="trained before round health existed"):
        check_round(models_env.data, ROUND, older)


def test_scoring_builds_the_round_once_and_its_health_check_reads_the_same_table(
    models_env: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import serving.health.round as health_round
    import serving.scoring.city as city

    city_copy = copy_delivery(models_env.data, tmp_path / "city")  # no health kept yet: the check runs
    built: list[Path] = []

    def counted(write):
        def write_round(data_dir, as_of, out, **options):
            built.append(Path(out))
            return write(data_dir, as_of, out, **options)

        return write_round

    monkeypatch.setattr(city, "write_round", counted(city.write_round))
    monkeypatch.setattr(health_round, "write_round", counted(health_round.write_round))
    out = tmp_path / "scores.parquet"
    scored = runner.invoke(app, ["score", "--data", str(city_copy), "--as-of", DAY, "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    assert len(built) == 1, built
    health = json.loads((DataFolder(city_copy).health(ROUND) / HEALTH_FILE).read_text(encoding="utf-8"))
    assert health["households"] == read_manifest(out)["households"]
    assert not any(p.name.startswith(".") for p in out.parent.iterdir()), "the scoring's work folder is left"


def test_a_re_coded_district_is_scored_with_its_dongs_unknown_and_listed_by_district(
    models_env: Served, tmp_path: Path
) -> None:
    import pandas as pd

    from serving.lists.dong_choice import UNKNOWN_DONG_KO
    from serving.lists.ranking import outreach_list

    city = copy_delivery(models_env.data, tmp_path / "city")
    district = recode_district(city, ROUND)  # codes no table knows: blanked, the households kept
    out = tmp_path / "scores.parquet"
    scored = runner.invoke(app, ["score", "--data", str(city), "--as-of", DAY, "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    assert "re-coded" in scored.output  # the round-health warning, printed
    households = pd.read_parquet(out)
    own = households[households["gu"] == district]
    assert len(own) > 0 and own["dong_code"].isna().mean() > 0.9  # all but those registered since
    assert households.loc[households["gu"] != district, "dong_code"].notna().all()
    unknown = own[own["dong_code"].isna()]
    listed = outreach_list(unknown.sort_values("rank"), None, district, None, 5, {})
    assert set(listed.rows["dong_name"]) == {UNKNOWN_DONG_KO}
