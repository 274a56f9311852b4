"""The catalogue is the one declaration of features; docs and tables follow it."""

from __future__ import annotations

from pathlib import Path

from features.catalogue import by_name, catalogue, catalogue_markdown, names


def test_docs_features_md_is_generated_from_the_catalogue() -> None:
    docs = Path(__file__).parents[2] / "docs" / "features.md"
    assert docs.read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/features.md is stale: run `anbu catalogue --out docs/features.md`"
    )


def test_feature_names_are_unique_and_every_reason_feature_has_both_sentences() -> None:
    assert len(by_name()) == len(catalogue())
    for feature in catalogue():
        if feature.can_be_reason:
            assert feature.reason_ko and feature.reason_en, feature.name


def test_protected_attributes_are_never_reasons() -> None:
    protected = [f for f in catalogue() if f.protected]
    assert {f.name for f in protected} == {"head_sex_female", "disability"}
    assert not any(f.can_be_reason for f in protected)


def test_crisis_columns_are_per_category_so_new_codes_add_no_columns() -> None:
    crisis = names(("crisis",))
    assert "crisis_other_3m" in crisis
    assert not any("ELEC" in name or "BRAND_NEW" in name for name in crisis)
