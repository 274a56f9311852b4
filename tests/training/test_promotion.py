"""Promotion gates judged on survey estimates: shown better than today's rule first, then not shown
worse than the champion; refused when calibration or a group is shown out of bounds; overridable
by a named person, on the record. Every decision is appended to the version's record and read back
in order; one never rewrites another."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pytest
from click.testing import Result
from mlflow import MlflowClient
from typer.testing import CliRunner

from anbu.cli import app
from serving.explain.tree_model import LINEAR_TREES
from training.config import ConfigError
from training.model_card import CARD, decisions_section, with_decisions
from training.promotion import decide, promote
from training.promotion_gates import Override, PromotionGates, load_gates
from training.promotion_history import DecisionRecord, Verdict, append, history, served_promotion
from training.tracking import CHAMPION, EXPLANATION_REFUSED, MODEL_NAME, configure

ROOT = Path(__file__).parents[2]
GATES = PromotionGates(
    capacity_tolerance=0.05, max_ece=0.02, mean_risk_ratio_band=(0.85, 1.15), min_group_recall_ratio=0.8
)


def _figure(name: str, value: float, low: float, high: float, households: int = 700) -> dict[str, float]:
    return {name: value, f"{name}_low": low, f"{name}_high": high, f"{name}_households": households}


GOOD = {
    **_figure("model_survey_precision_at_capacity", 0.5, 0.3, 0.7, 8),
    **_figure("model_survey_gain_over_rule", 0.30, 0.08, 0.51, 21),
    "model_survey_gain_over_rule_share": 0.03,
    **_figure("model_survey_ece", 0.021, 0.0, 0.05),
    **_figure("model_survey_mean_risk_ratio", 1.12, 0.91, 1.42),
    **_figure("model_survey_min_group_recall_ratio", 0.64, 0.1, 1.5, 32),
    "model_survey_group_recall_ratio_high_min": 1.2,
    "model_survey_groups_judged": 2,
    "model_survey_groups_not_judged": 39,
}
TAGS = {"lowest_group_recall_survey": "head_sex=M"}


def test_a_first_model_shown_to_beat_todays_rule_is_promoted() -> None:
    decision = decide(GOOD, TAGS, None, GATES, "1")
    assert decision.promote
    assert decision.reasons[0].startswith("no champion yet; beats today's rule by 0.300 [0.080, 0.510")


def test_a_first_model_whose_gain_over_the_rule_may_be_zero_is_refused() -> None:
    metrics = {**GOOD, **_figure("model_survey_gain_over_rule", 0.10, -0.04, 0.25, 21)}
    decision = decide(metrics, TAGS, None, GATES, "1")
    assert not decision.promote
    assert decision.reasons == [
        "not shown to beat today's rule: found more often by 0.100 [-0.040, 0.250, 21 survey households] "
        "at 3.0% capacity (the interval reaches zero)"
    ]


def test_a_run_compared_across_capacities_is_judged_on_that_comparison() -> None:
    # At 1 % the survey holds a handful of list households and says nothing; across the lists up to
    # ten times that capacity it says the model finds more, and that is what the gate decides on.
    thin = {**GOOD, **_figure("model_survey_gain_over_rule", 0.07, -0.11, 0.26, 21)}
    across = {
        **thin,
        **_figure("model_survey_curve_gain_over_rule", 0.09, 0.03, 0.15, 180),
        "model_survey_curve_gain_over_rule_share": 0.10,
    }
    assert not decide(thin, TAGS, None, GATES, "1").promote
    decision = decide(across, TAGS, None, GATES, "1")
    assert decision.promote
    assert decision.reasons[0] == (
        "no champion yet; beats today's rule by 0.090 [0.030, 0.150, 180 survey households] "
        "across the lists up to 10.0% capacity"
    )
    worse = {**across, **_figure("model_survey_curve_gain_over_rule", -0.02, -0.06, 0.01, 180)}
    assert not decide(worse, TAGS, None, GATES, "1").promote


def test_a_later_model_must_be_shown_within_the_tolerance_of_the_champion_on_the_same_households() -> None:
    tags = {**TAGS, "compared_with_champion": "1"}
    close = {
        **GOOD,
        **_figure("model_survey_gain_over_champion", -0.01, -0.04, 0.02, 30),
        "model_survey_gain_over_champion_share": 0.03,
    }
    assert decide(close, tags, "1", GATES, "2").promote
    worse = {**close, **_figure("model_survey_gain_over_champion", -0.05, -0.15, 0.05, 27)}
    decision = decide(worse, tags, "1", GATES, "2")
    assert not decision.promote
    assert decision.reasons[0].startswith("not shown within 0.05 of champion version 1")


def test_a_model_compared_with_another_champion_is_refused_until_compared_again() -> None:
    decision = decide(GOOD, {**TAGS, "compared_with_champion": "1"}, "3", GATES, "4")
    assert not decision.promote and decision.compare_first
    assert decision.reasons[0].startswith(
        "the run was compared with version 1, but the champion is version 3"
    )
    assert "compared with no champion" in decide(GOOD, TAGS, "3", GATES, "4").reasons[0]
    assert not decide(GOOD, {**TAGS, "compared_with_champion": "3"}, "3", GATES, "4").compare_first


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            _figure("model_survey_ece", 0.06, 0.03, 0.09),
            "calibration error 0.0600 [0.0300, 0.0900, 700 survey households] is above the bound 0.02 "
            "even at the low end of its interval",
        ),
        (
            _figure("model_survey_mean_risk_ratio", 2.4, 2.1, 2.7),
            "mean served risk ÷ share found 2.400 [2.100, 2.700, 700 survey households] lies outside "
            "0.85–1.15: the scores do not mean what visits find",
        ),
    ],
)
def test_a_model_shown_miscalibrated_is_refused(change: dict, reason: str) -> None:
    decision = decide({**GOOD, **change}, TAGS, None, GATES, "1")
    assert not decision.promote and decision.reasons == [reason]


def test_noisy_calibration_figures_that_may_be_within_bounds_do_not_refuse() -> None:
    noisy = {
        **GOOD,
        **_figure("model_survey_ece", 0.03, 0.005, 0.06),
        **_figure("model_survey_mean_risk_ratio", 1.3, 1.1, 1.6),
    }
    assert decide(noisy, TAGS, None, GATES, "1").promote


def test_a_judged_group_shown_under_served_refuses_and_unjudged_groups_are_counted() -> None:
    unfair = {
        **GOOD,
        "model_survey_group_recall_ratio_high_min": 0.6,
        **_figure("model_survey_min_group_recall_ratio", 0.3, 0.1, 0.6, 25),
    }
    decision = decide(unfair, {"lowest_group_recall_survey": "age_band=40s"}, None, GATES, "1")
    assert not decision.promote
    assert decision.reasons == [
        "a group's recall is below 0.8 of the city's even at the top of its interval (0.60); lowest "
        "age_band=40s 0.30 [0.10, 0.60, 25 survey households]; 2 groups judged, 39 not judged (too few survey positives)"
    ]
    none_judged = {k: v for k, v in GOOD.items() if "group_recall" not in k} | {
        "model_survey_groups_judged": 0
    }
    assert (
        "no group has enough survey positives to judge"
        in decide(none_judged, {}, None, GATES, "1").reasons[-1]
    )


def test_a_run_without_survey_estimates_is_refused_with_the_reason() -> None:
    tags = {
        "survey_evaluation": "not estimated: the test round's 90-day window has 0 survey-visited households"
    }
    decision = decide({"test_survey_households": 0}, tags, None, GATES, "1")
    assert not decision.promote
    assert decision.reasons == [f"nothing to judge on: {tags['survey_evaluation']}"]


def test_shipped_gates_file_loads() -> None:
    assert load_gates(ROOT / "experiments" / "promotion.toml") == GATES


def test_an_override_needs_a_name_and_a_reason() -> None:
    with pytest.raises(ConfigError, match="--by"):
        Override(" ", "field trial")
    with pytest.raises(ConfigError, match="--reason"):
        Override("Kim", "")


def _register(
    metrics: dict[str, float],
    tags: dict[str, str] | None = None,
    card: str | None = None,
    params: dict[str, str] | None = None,
) -> str:
    """A registered version with the run's figures (and card); promotion never loads the model."""
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
        mlflow.log_params(params or {})
        mlflow.set_tags(tags or TAGS)
        if card is not None:
            mlflow.log_text(card, CARD)
    client = MlflowClient()
    if not client.search_registered_models(f"name = '{MODEL_NAME}'"):
        client.create_registered_model(MODEL_NAME)
    source = f"{run.info.artifact_uri}/model"
    return str(client.create_model_version(MODEL_NAME, source, run_id=run.info.run_id).version)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    configure()
    return tmp_path


MISCALIBRATED = {**GOOD, **_figure("model_survey_ece", 0.05, 0.03, 0.07)}
NOT_SHOWN_BETTER = {**GOOD, **_figure("model_survey_gain_over_rule", 0.1, -0.05, 0.25, 21)}


def _recorded(version: str) -> list[DecisionRecord]:
    return history(version, MlflowClient().get_model_version(MODEL_NAME, version).tags)


def _serving() -> str:
    return str(MlflowClient().get_model_version_by_alias(MODEL_NAME, CHAMPION).version)


def test_promotion_moves_the_alias_only_for_a_passing_version_and_records_every_decision(store: Path) -> None:
    first = _register(GOOD)
    second = _register(MISCALIBRATED)
    assert promote(first, GATES).promote
    kept = promote(second, GATES)
    assert not kept.promote and kept.champion == first
    assert _serving() == first
    [refused] = _recorded(second)
    assert refused.verdict is Verdict.REFUSED and refused.compared_with == first
    assert any(reason.startswith("calibration error 0.0500") for reason in refused.reasons)
    assert refused.gates.model_dump() == GATES.model_dump()
    assert refused.figures["model_survey_ece_low"] == 0.03
    tags = MlflowClient().get_model_version(MODEL_NAME, second).tags
    assert "promotion.decision" not in tags  # no flat tags: a later decision would rewrite them
    [kept_under] = [key for key in tags if key.startswith("promotion.")]
    assert re.fullmatch(r"promotion\.history\.0001-[0-9a-f]{6}", kept_under)


def test_a_refusal_then_an_override_on_one_version_are_both_kept_in_order(store: Path) -> None:
    version = _register(NOT_SHOWN_BETTER)
    refused = promote(version, GATES)
    overridden = promote(version, GATES, Override("Kim Minji (data team)", "field trial in two districts"))
    assert overridden.verdict is Verdict.PROMOTED_BY_OVERRIDE and _serving() == version
    recorded = _recorded(version)
    assert recorded == [refused, overridden]  # the refusal is read back exactly as it was written
    assert [r.number for r in recorded] == [1, 2]
    assert [r.verdict for r in recorded] == [Verdict.REFUSED, Verdict.PROMOTED_BY_OVERRIDE]
    assert recorded[0].override is None
    assert recorded[1].override == Override("Kim Minji (data team)", "field trial in two districts")
    assert recorded[1].reasons[0].startswith("not shown to beat today's rule")
    assert recorded[0].decided_at <= recorded[1].decided_at
    served = served_promotion(version, MlflowClient().get_model_version(MODEL_NAME, version).tags)
    assert served["decision"] == "promoted by override"
    assert served["override_by"] == "Kim Minji (data team)"
    assert served["override_reason"] == "field trial in two districts"


def test_judging_a_former_champion_again_keeps_the_decision_that_promoted_it(store: Path) -> None:
    first = _register(GOOD)
    promote(first, GATES)
    close = {
        **GOOD,
        **_figure("model_survey_gain_over_champion", 0.0, -0.02, 0.02, 30),
        "model_survey_gain_over_champion_share": 0.03,
    }
    second = _register(close, {**TAGS, "compared_with_champion": first})
    assert promote(second, GATES).verdict is Verdict.PROMOTED
    again = promote(first, GATES)  # `anbu promote --version 1` on the former champion
    assert again.verdict is Verdict.REFUSED and again.compare_first and _serving() == second
    assert [r.verdict for r in _recorded(first)] == [Verdict.PROMOTED, Verdict.REFUSED]


def test_an_override_on_the_champion_is_recorded_as_such_and_a_re_promote_rewrites_nothing(
    store: Path,
) -> None:
    version = _register(GOOD)
    promoted = promote(version, GATES)
    kept = promote(version, GATES, Override("Kim", "keep it through the winter round"))
    assert kept.verdict is Verdict.OVERRIDE_ON_CHAMPION and kept.promote
    assert kept.override == Override("Kim", "keep it through the winter round")
    again = promote(version, GATES)
    assert again.verdict is Verdict.ALREADY_CHAMPION and again.override is None
    recorded = _recorded(version)
    assert recorded == [promoted, kept, again]
    assert recorded[0].verdict is Verdict.PROMOTED and recorded[0].override is None
    assert _serving() == version
    # the service still shows the decision that made it champion
    served = served_promotion(version, MlflowClient().get_model_version(MODEL_NAME, version).tags)
    assert served["decision"] == "promoted"
    assert served["decided_at"] == promoted.decided_at.isoformat(timespec="seconds")


def test_a_version_decided_by_earlier_code_still_reads_and_keeps_its_flat_tags(store: Path) -> None:
    version = _register(NOT_SHOWN_BETTER)
    flat = {
        "decision": "promoted by override",
        "reasons": "a group's recall is low; 2 groups judged, 39 not judged",
        "basis": "survey",
        "decided_at": "2026-03-02T09:15:00+00:00",
        "gates": GATES.model_dump_json(),
        "compared_with": "today's rule",
        "override_by": "Kim",
        "override_reason": "pilot",
    }
    client = MlflowClient()
    for key, value in flat.items():
        client.set_model_version_tag(MODEL_NAME, version, f"promotion.{key}", value)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    tags = client.get_model_version(MODEL_NAME, version).tags
    assert served_promotion(version, tags) == flat  # what the service showed before
    [old] = _recorded(version)
    assert (old.number, old.verdict, old.reasons) == (0, Verdict.PROMOTED_BY_OVERRIDE, [flat["reasons"]])
    assert old.gates.model_dump() == GATES.model_dump() and old.override == Override("Kim", "pilot")
    again = promote(version, GATES)
    assert again.number == 1 and again.verdict is Verdict.ALREADY_CHAMPION
    assert _recorded(version) == [old, again]
    after = client.get_model_version(MODEL_NAME, version).tags
    assert {key: after[f"promotion.{key}"] for key in flat} == flat
    assert served_promotion(version, after) == flat


def test_an_override_the_gates_did_not_need_is_kept_with_who_and_why(store: Path) -> None:
    version = _register(GOOD)
    record = promote(version, GATES, Override("Kim", "serve it whatever the gates say"))
    assert record.verdict is Verdict.PROMOTED and record.override == Override(
        "Kim", "serve it whatever the gates say"
    )
    assert record.reasons[-1] == "an override was given and not needed: the gates passed"
    assert _recorded(version) == [record]
    shown = served_promotion(version, MlflowClient().get_model_version(MODEL_NAME, version).tags)
    assert shown["decision"] == "promoted" and "override_by" not in shown  # the gates decided


def test_two_decisions_that_took_the_same_number_at_once_are_both_kept(store: Path) -> None:
    version = _register(NOT_SHOWN_BETTER)
    client = MlflowClient()
    at = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
    job = DecisionRecord(
        number=1, version=version, verdict=Verdict.REFUSED, reasons=["not shown"], decided_at=at
    )
    person = DecisionRecord(
        number=1,
        version=version,
        verdict=Verdict.PROMOTED_BY_OVERRIDE,
        reasons=["not shown"],
        decided_at=at + timedelta(seconds=2),
        override=Override("Kim", "pilot"),
    )
    append(client, person)
    append(client, job)  # written last, read first: it was decided first
    assert _recorded(version) == [job, person]
    assert promote(version, GATES).number == 2


def test_a_record_written_under_other_gates_or_verdicts_reads_or_is_left_out_with_a_warning() -> None:
    later = DecisionRecord(
        number=1,
        version="4",
        verdict=Verdict.REFUSED,
        reasons=["x"],
        decided_at=datetime(2026, 8, 1, tzinfo=UTC),
    ).model_dump(mode="json")
    later["gates"] = {"max_ece": 0.02, "min_survey_households": 500}  # one gate dropped, one added
    unknown = {**later, "number": 2, "verdict": "promoted by committee", "nonce": "abcdef"}
    tags = {
        "promotion.history.0001-aaaaaa": json.dumps(later),
        "promotion.history.0002-abcdef": json.dumps(unknown),
    }
    with pytest.warns(UserWarning, match=r"promotion\.history\.0002-abcdef cannot be read.*left out"):
        [read] = history("4", tags)
    assert read.gates.max_ece == 0.02 and read.gates.model_extra == {"min_survey_households": 500}
    assert (
        "min_survey_households 500" in read.gates_summary
        and "calibration error at most 0.02" in read.gates_summary
    )
    assert served_promotion("4", tags)["decision"] == "refused"  # the service starts whatever it meets


def test_an_old_refusal_does_not_inherit_an_earlier_overrides_tags() -> None:
    tags = {
        "promotion.decision": "refused",
        "promotion.reasons": "calibration error 0.05",
        "promotion.decided_at": "2026-03-02T09:15:00+00:00",
        "promotion.override_by": "Kim",  # left by an override earlier code recorded before it
        "promotion.override_reason": "pilot",
    }
    [old] = history("3", tags)
    assert old.verdict is Verdict.REFUSED and old.override is None


def test_an_old_re_promote_that_overwrote_the_record_reads_as_what_it_was() -> None:
    tags = {
        "promotion.decision": "promoted",
        "promotion.reasons": "version 3 is already the champion",
        "promotion.basis": "survey",
        "promotion.decided_at": "2026-03-02T09:15:00+00:00",
        "promotion.compared_with": "3",
    }
    [old] = history("3", tags)
    assert old.verdict is Verdict.ALREADY_CHAMPION and not old.moved_champion
    assert history("3", {"unrelated": "tag"}) == []


def test_the_model_card_shows_every_decision_on_its_version(store: Path) -> None:
    card = "# Model card\n\n## Known limits\n\n- a limit\n\n" + "\n".join(decisions_section([])) + "\n"
    version = _register(NOT_SHOWN_BETTER, card=card)
    promote(version, GATES)
    promote(version, GATES, Override("Kim", "pilot in two districts"))
    run_id = MlflowClient().get_model_version(MODEL_NAME, version).run_id
    text = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=CARD)).read_text()
    assert text.startswith("# Model card\n\n## Known limits\n\n- a limit\n\n## Promotion decisions\n")
    assert "None yet" not in text and text.count("## Promotion decisions") == 1
    entries = [line for line in text.splitlines() if line[:1].isdigit()]
    assert [entry.split(": ", 1)[1] for entry in entries] == [
        "**refused**, against today's rule",
        "**promoted by override** by Kim: pilot in two districts, against today's rule",
    ]
    assert [entry.split(".", 1)[0] for entry in entries] == ["1", "2"]
    assert text.count("   - not shown to beat today's rule") == 2
    assert "gain over today's rule 0.100 [-0.050, 0.250], 21 survey households" in text
    assert "calibration error at most 0.02" in text


def test_the_decisions_section_is_added_to_an_older_card_and_leaves_later_sections_alone() -> None:
    older = "# Model card\n\n## Known limits\n\n- a limit\n"
    assert with_decisions(older, []) == older + "\n" + "\n".join(decisions_section([])) + "\n"
    middle = "# Card\n\n## Promotion decisions\n\nold text\n\n## Afterwards\n\nkept\n"
    rewritten = with_decisions(middle, [])
    assert "old text" not in rewritten and rewritten.endswith("\n\n## Afterwards\n\nkept\n")


def test_anbu_promote_exits_non_zero_when_it_refuses(store: Path) -> None:
    version = _register(MISCALIBRATED)
    command = [
        sys.executable,
        "-m",
        "anbu.cli",
        "promote",
        "--gates",
        str(ROOT / "experiments" / "promotion.toml"),
    ]
    refused = subprocess.run(command, capture_output=True, text=True, cwd=store, check=False)
    assert refused.returncode == 1, refused.stderr
    assert f"isolation-risk version {version}: not promoted; no model serves" in refused.stdout
    half = subprocess.run(
        [*command, "--override", "--by", "Kim"], capture_output=True, text=True, cwd=store, check=False
    )
    assert half.returncode == 2 and "--reason" in half.stderr
    overridden = subprocess.run(
        [*command, "--override", "--by", "Kim", "--reason", "pilot"],
        capture_output=True,
        text=True,
        cwd=store,
        check=False,
    )
    assert overridden.returncode == 0, overridden.stderr
    assert "promoted to champion by override (Kim: pilot)" in overridden.stdout


runner = CliRunner()


@pytest.fixture
def project(store: Path) -> Path:
    """The store's folder with the shipped gates where `anbu promote` looks by default."""
    (store / "experiments").mkdir()
    (store / "experiments" / "promotion.toml").write_text(
        (ROOT / "experiments" / "promotion.toml").read_text()
    )
    return store


def _anbu(*words: str) -> Result:
    return runner.invoke(app, list(words), terminal_width=200)


def test_promote_history_prints_every_decision_in_order_with_gates_figures_and_who(project: Path) -> None:
    first = _register(NOT_SHOWN_BETTER)
    second = _register(GOOD)
    assert _anbu("promote", "--version", first).exit_code == 1
    assert _anbu("promote", "--version", second).exit_code == 0
    overridden = _anbu("promote", "--version", first, "--override", "--by", "Kim", "--reason", "pilot")
    assert overridden.exit_code == 0, overridden.output
    everything = _anbu("promote", "--history")
    assert everything.exit_code == 0, everything.output
    heads = [line.split("  ", 1)[1] for line in everything.output.splitlines() if "  version " in line]
    assert heads == [
        f"version {first}  decision 1: refused, against today's rule",
        f"version {second}  decision 1: promoted, against today's rule",
        f"version {first}  decision 2: promoted by override, against champion version {second}",
    ]
    assert "  by Kim: pilot" in everything.output
    assert "  - not shown to beat today's rule: found more often by 0.100 [-0.050, 0.250" in everything.output
    assert "  gates: tolerance against a champion 0.05; calibration error at most 0.02" in (everything.output)
    assert (
        "  figures: gain over today's rule 0.100 [-0.050, 0.250], 21 survey households" in everything.output
    )
    one = _anbu("promote", "--history", "--version", first)
    assert [line for line in one.output.splitlines() if "  version " in line] == [
        line for line in everything.output.splitlines() if f"  version {first}  " in line
    ]


def test_promote_history_only_reads(store: Path) -> None:
    assert "no promotion decision is recorded on any version" in _anbu("promote", "--history").output
    version = _register(GOOD)
    mixed = _anbu("promote", "--history", "--override", "--by", "Kim", "--reason", "pilot")
    assert mixed.exit_code == 2 and "--history only reads the record" in mixed.output
    assert _recorded(version) == []


def test_a_refusal_for_a_stale_comparison_prints_the_command_that_compares_this_version(
    project: Path,
) -> None:
    first = _register(GOOD)
    promote(first, GATES)
    second = _register(GOOD)
    _register(GOOD)  # a newer version: `anbu promote` without --version would judge that one
    gates = project / "strict.toml"
    gates.write_text((ROOT / "experiments" / "promotion.toml").read_text())
    refused = _anbu("promote", "--version", second, "--gates", str(gates))
    assert refused.exit_code == 1
    hint = next(line for line in refused.output.splitlines() if "to compare them:" in line)
    assert f"anbu promote --version {second} --data DIR --gates {gates}" in hint
    default = _anbu("promote", "--version", second)
    assert f"to compare them: anbu promote --version {second} --data DIR    (DIR:" in default.output


def test_a_run_whose_model_no_exact_explanation_covers_is_refused_whatever_its_figures() -> None:
    decision = decide(GOOD, {**TAGS, EXPLANATION_REFUSED: "its trees are linear"}, None, GATES, "1")
    assert not decision.promote and decision.unexplainable
    assert decision.reasons == ["its reasons could not be exact, so it is never served: its trees are linear"]


def test_a_linear_tree_run_trained_before_runs_were_tagged_is_refused_too(store: Path) -> None:
    version = _register(GOOD, params={"lightgbm.linear_tree": "True"})
    insisted = promote(version, GATES, Override("Kim Minji (data team)", "it ranked well"))
    assert insisted.verdict is Verdict.REFUSED and not insisted.moved_champion
    assert insisted.reasons[0] == f"its reasons could not be exact, so it is never served: {LINEAR_TREES}"
