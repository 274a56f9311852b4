"""A city round streams in blocks, matches the in-memory scoring, and resumes to the same file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from features.round_table import build_round
from serving.scoring.champion import load_champion
from serving.scoring.city import score_city
from serving.scoring.households import SCORE_COLUMNS, feature_matrix, read_manifest, score_table, scored_frame
from tests.support.frames import values
from tests.support.served import ROUND


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def champion(served):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANBU_MODELS_DIR", str(served.store))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        loaded = load_champion()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return loaded


@pytest.fixture(scope="module")
def uninterrupted(served, champion, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city") / f"{ROUND.date()}.parquet"
    score_city(served.data, ROUND, champion, out, block_rows=700)
    return out


def test_streamed_blocks_equal_scoring_the_round_in_memory(served, champion, uninterrupted) -> None:
    streamed = scored_frame(pq.read_table(uninterrupted))
    table, _ = build_round(served.data, ROUND)
    whole = score_table(champion, table)
    assert list(streamed.columns) == SCORE_COLUMNS
    assert len(streamed) == len(whole) == len(table)
    assert streamed["household_id"].is_monotonic_increasing  # household order, ranks alongside
    streamed = streamed.sort_values("rank", ignore_index=True)
    np.testing.assert_array_equal(streamed["risk"], whole["risk"])
    for column in SCORE_COLUMNS:
        assert values(streamed[column]) == values(whole[column]), column
    manifest = read_manifest(uninterrupted)
    assert manifest["households"] == len(table)
    assert manifest["model_version"] == champion.version
    assert sum(manifest["bands"].values()) == len(table)


def test_a_killed_run_continues_from_its_finished_blocks_and_writes_the_same_file(
    served, champion, uninterrupted, tmp_path
) -> None:
    out = tmp_path / uninterrupted.name
    seen: list[int] = []

    def stop_after_three(done: int, total: int) -> None:
        seen.append(done)
        if done == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        score_city(served.data, ROUND, champion, out, block_rows=700, progress=stop_after_three)
    work = next(tmp_path.glob(f".{out.stem}.parts-*"))
    finished = sorted(p.name for p in work.glob("part-*.parquet"))
    assert len(finished) == 3 and not out.exists()
    # A part half-written when the process died is a .tmp file: it must be ignored and redone.
    (work / "part-00003.parquet.tmp").write_bytes(b"PAR1 half a part")

    resumed: list[tuple[int, int]] = []
    score_city(
        served.data, ROUND, champion, out, block_rows=700, progress=lambda d, t: resumed.append((d, t))
    )
    assert resumed[0][0] == 3, "the second run starts from the three finished blocks"
    assert resumed[-1][0] == resumed[-1][1]
    assert out.read_bytes() == uninterrupted.read_bytes()
    assert not work.exists(), "the work folder goes once the file is whole"


def test_a_new_block_size_or_model_does_not_reuse_old_parts(served, champion, tmp_path) -> None:
    out = tmp_path / f"{ROUND.date()}.parquet"

    def stop_at_once(done: int, total: int) -> None:
        if done == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        score_city(served.data, ROUND, champion, out, block_rows=900, progress=stop_at_once)
    first = next(tmp_path.glob(f".{out.stem}.parts-*"))
    score_city(served.data, ROUND, champion, out, block_rows=1_100)
    assert not first.exists(), "parts from another block size are discarded, not mixed in"
    assert pq.read_metadata(out).num_rows == read_manifest(out)["households"]


def test_the_reasons_of_a_round_rest_on_the_champions_own_shap_values(served, champion) -> None:
    """Every household of the round: the path tables give LightGBM's pred_contrib within 1e-6."""
    table, _ = build_round(served.data, ROUND)
    values = feature_matrix(table, champion.features)
    expected = champion.booster.predict(values, pred_contrib=True)
    assert np.abs(champion.explainer.contributions(values) - expected).max() <= 1e-6
    assert champion.explainer.beyond_tables is None, (
        "the champion is explained by the tables, not the fallback"
    )


def test_anbu_score_killed_with_sigkill_resumes_to_the_file_of_an_uninterrupted_run(
    models_env, tmp_path
) -> None:
    """The real thing: the process is killed (no cleanup runs), then the same command again."""
    import signal
    import subprocess
    import sys
    import time

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "anbu.cli", "score", "--data", str(models_env.data)] + [
            "--as-of",
            str(ROUND.date()),
            "--out",
            str(out),
            "--block-rows",
            "100",
        ]

    environment = {**os.environ, "ANBU_MODELS_DIR": str(models_env.store)}
    whole = tmp_path / "whole" / f"{ROUND.date()}.parquet"
    subprocess.run(command(whole), env=environment, check=True, capture_output=True)

    out = tmp_path / "killed" / f"{ROUND.date()}.parquet"
    process = subprocess.Popen(
        command(out), env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while len(list(out.parent.glob(".*.parts-*/part-*.parquet"))) < 5:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists(), "killed before the file was assembled"

    subprocess.run(command(out), env=environment, check=True, capture_output=True)
    assert out.read_bytes() == whole.read_bytes()
