"""The map's shapes: the districts' outlines and the dongs' centroids come from two sources in two
coordinate systems, and only agree once both are in the same grid."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.path import Path as Polygon

from features.reference import district_names, dongs
from serving.maps.geometry import MapUnavailable, _rings_by_district, _source, city_view, district_view


def test_every_placed_dong_lies_inside_its_own_districts_outline() -> None:
    rings = _rings_by_district(_source(None))
    assert set(rings) == set(district_names())
    table = dongs()
    placed = table.dropna(subset=["utmk_x", "utmk_y"])
    outside = [
        (row.gu, row.dong_name)
        for row in placed.itertuples()
        if not any(Polygon(ring).contains_point((row.utmk_x, -row.utmk_y)) for ring in rings[row.gu])
    ]
    assert outside == []
    assert len(placed) == len(table) - 3  # 항동, 상일제1동, 상일제2동 are newer than the centroids


def test_a_district_view_frames_its_outline_and_lists_every_dong_by_name() -> None:
    view = district_view("송파구")
    x, y, width, height = view.view_box
    own = dongs()[dongs()["gu"] == "송파구"]
    assert [d.code for d in view.dongs] == own["dong_code"].tolist()
    assert all(d.name for d in view.dongs)
    for d in view.dongs:
        assert x <= d.x <= x + width and y <= d.y <= y + height, d
    assert view.districts[0].path.startswith("M") and view.districts[0].path.endswith("Z")
    gangdong = {d.name: d for d in district_view("강동구").dongs}
    assert gangdong["상일제1동"].x is None and gangdong["천호1동"].x is not None


def test_the_city_view_holds_the_25_districts_with_their_labels_inside_the_frame() -> None:
    view = city_view()
    x, y, width, height = view.view_box
    assert sorted(s.gu for s in view.districts) == sorted(district_names())
    assert all(x <= s.label_x <= x + width and y <= s.label_y <= y + height for s in view.districts)


def test_a_build_without_the_outlines_says_the_map_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MapUnavailable, match="missing.geojson"):
        district_view("관악구", tmp_path / "missing.geojson")
    broken = tmp_path / "broken.geojson"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(MapUnavailable, match="broken.geojson"):
        city_view(broken)
