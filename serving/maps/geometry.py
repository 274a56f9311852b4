"""The shapes the planner page draws: the districts' published outlines and the dongs' centroids,
in one flat plane, ready for SVG.

The outlines come in longitude/latitude (WGS 84) and the dongs' centroids in Korea's UTM-K grid
(EPSG:5179, metres); PROJ brings the outlines into the grid, so a district and its dongs are drawn
in the same metres and the map keeps Seoul's true proportions. Everything is drawn from the files
shipped in features/reference: no tile server, nothing fetched, so the page works on a district
office network that reaches only the service. A build without the outlines says so
(MapUnavailable) and the page keeps its lists.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from features.reference import dongs

OUTLINES = "seoul_gu_boundaries.geojson"
"""The 25 districts' outlines, beside the other reference tables (features/reference/README.md)."""
MARGIN = 0.04
"""Of the drawn area's larger side, left empty around it."""


class MapUnavailable(Exception):
    """The outlines are not part of this build (or cannot be read)."""


@dataclass(frozen=True)
class DistrictShape:
    gu: str
    path: str
    """SVG path data in map units (metres east, metres south of the grid's origin)."""
    label_x: float
    label_y: float
    """Where the district's name sits: the centroid of its outline."""


@dataclass(frozen=True)
class DongPoint:
    code: str
    name: str
    x: float | None
    y: float | None
    """The dong's inner centroid in map units; None for the three dongs newer than the centroids."""


@dataclass(frozen=True)
class MapView:
    view_box: tuple[float, float, float, float]
    districts: list[DistrictShape]
    dongs: list[DongPoint]


def district_view(gu: str, outlines: Path | None = None) -> MapView:
    """One district's outline and its dongs, framed to the district."""
    shapes = [s for s in _shapes(_source(outlines)) if s.gu == gu]
    if not shapes:
        raise MapUnavailable(f"{OUTLINES} has no outline for {gu}")
    table = dongs()
    own = table[table["gu"] == gu]
    points = [
        DongPoint(
            code,
            name,
            None if math.isnan(x) else round(float(x), 1),
            None if math.isnan(y) else round(-float(y), 1),
        )
        for code, name, x, y in zip(
            own["dong_code"], own["dong_name"], own["utmk_x"], own["utmk_y"], strict=True
        )
    ]
    return MapView(_frame(_rings(_source(outlines), {gu})), shapes, points)


def city_view(outlines: Path | None = None) -> MapView:
    """The 25 districts, framed to Seoul."""
    source = _source(outlines)
    return MapView(_frame(_rings(source, None)), _shapes(source), [])


def _source(outlines: Path | None) -> str:
    """Which outlines file to read (the shipped one by default), as a key the cache can hold."""
    if outlines is not None:
        return str(outlines)
    return str(files("features.reference").joinpath(OUTLINES))


@cache
def _rings_by_district(source: str) -> dict[str, list[np.ndarray]]:
    """Each district's outer rings in map units (metres east, metres south)."""
    from pyproj import Transformer  # noqa: PLC0415  (PROJ loads its database: only when a map is asked for)

    try:
        document = json.loads(Path(source).read_text(encoding="utf-8"))
        features = document["features"]
    except (OSError, ValueError, KeyError) as error:
        raise MapUnavailable(f"the district outlines ({Path(source).name}) cannot be read: {error}") from None
    to_grid = Transformer.from_crs("EPSG:4326", "EPSG:5179", always_xy=True)
    rings: dict[str, list[np.ndarray]] = {}
    for feature in features:
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for polygon in polygons:
            outer = np.asarray(polygon[0], dtype="float64")
            x, y = to_grid.transform(outer[:, 0], outer[:, 1])
            rings.setdefault(feature["properties"]["gu"], []).append(np.column_stack([x, -np.asarray(y)]))
    return rings


def _rings(source: str, districts: set[str] | None) -> list[np.ndarray]:
    return [
        r for gu, rs in _rings_by_district(source).items() if districts is None or gu in districts for r in rs
    ]


@cache
def _shapes(source: str) -> list[DistrictShape]:
    shapes = []
    for gu, rings in _rings_by_district(source).items():
        path = " ".join("M" + " L".join(f"{x:.0f} {y:.0f}" for x, y in ring) + " Z" for ring in rings)
        x, y = _centroid(max(rings, key=lambda r: abs(_area(r))))
        shapes.append(DistrictShape(gu, path, round(x, 1), round(y, 1)))
    return shapes


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() / 2)


def _centroid(ring: np.ndarray) -> tuple[float, float]:
    """The centroid of a simple polygon (shoelace formula)."""
    x, y = ring[:, 0], ring[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    return float(((x + np.roll(x, -1)) * cross).sum() / (6 * area)), float(
        ((y + np.roll(y, -1)) * cross).sum() / (6 * area)
    )


def _frame(rings: list[np.ndarray]) -> tuple[float, float, float, float]:
    """The SVG viewBox around these rings, with a margin."""
    points = np.concatenate(rings)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = MARGIN * float((high - low).max())
    return (
        round(float(low[0]) - margin),
        round(float(low[1]) - margin),
        round(float(high[0] - low[0]) + 2 * margin),
        round(float(high[1] - low[1]) + 2 * margin),
    )
