"""The planner page and list downloads, mounted on the BentoML service under /planner.

The page is one self-contained HTML file (no build step, no CDN: district offices often sit
behind strict proxies). It asks for the planner's API key once per browser session and calls the
same JSON API other services use, so there is one list logic and one audit trail.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from serving.api.models import (
    CityMapResponse,
    Day,
    DistrictDensity,
    DistrictMapResponse,
    DistrictOnMap,
    DongOnMap,
)
from serving.http.access import allow
from serving.http.error_shape import folded
from serving.http.errors import answers
from serving.refusal import Refused

PLANNER_PATH = "/planner"
"""Where the page and its downloads are mounted on the service."""
PAGE = Path(__file__).with_name("planner.html")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def only_declared_query(request: Request) -> None:
    """Refuse a query parameter the route does not take (as a body's unknown field is refused):
    a misspelt `capcity=5` must not quietly give the default list."""
    route = request.scope.get("route")
    declared = {param.alias for param in route.dependant.query_params} if route is not None else set()
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise Refused(
            400, unknown[0], f"{unknown[0]}: a query parameter this route does not take", code="unknown_field"
        )


def planner_app() -> FastAPI:
    web = FastAPI(title="anbu planner", docs_url=None, redoc_url=None, openapi_url=None)

    @web.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        """The same 4xx body as the API's (a query parameter is named without its `query.`)."""
        items = [{**item, "loc": tuple(item.get("loc", ()))[1:] or ("query",)} for item in error.errors()]
        return JSONResponse(folded(items), status_code=422)

    @web.get("/", response_class=HTMLResponse)
    @allow("public")  # the page holds no data; it asks for the planner's key and calls the API
    def page() -> str:
        """The planner page."""
        return PAGE.read_text(encoding="utf-8")

    @answers  # a refusal, a records database that cannot be written, a failure: as on the API
    def download(
        request: Request,
        gu: str,
        dong: str | None,
        capacity: int,
        recheck_capacity: int,
        as_of: dt.date | None,
        kind: str,
    ):
        from serving.lists.dong_choice import dong_code_of, dong_name
        from serving.lists.exports import list_title, to_csv, to_xlsx

        only_declared_query(request)
        service = request.app.state.service
        caller = request.scope["state"]["caller"]
        dong = dong_code_of(gu, dong or None, service.dongs_by_district.get(gu, ()))
        listed = service.outreach(caller, gu, dong, capacity, as_of, recheck_capacity)
        day = pd.Timestamp(listed.round_date)
        service.records.audit(
            caller.name,
            caller.role,
            f"export.{kind}",
            listed.rows["household_id"].tolist(),
            {
                "gu": gu,
                "dong": dong,
                "capacity": capacity,
                "recheck_capacity": recheck_capacity,
                "round": str(day.date()),
            },
        )
        name = f"{day.date()}-{gu}{'-' + dong_name(dong) if dong else ''}.{kind}"
        disposition = f"attachment; filename=\"anbu-list.{kind}\"; filename*=UTF-8''{quote(name)}"
        if kind == "csv":
            return Response(
                to_csv(listed),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": disposition},
            )
        title = list_title(listed, gu, dong, capacity)
        return Response(to_xlsx(listed, title), media_type=XLSX, headers={"Content-Disposition": disposition})

    @web.get("/map", response_model=DistrictMapResponse)
    @allow("planner", "admin")
    @answers
    def district_map(request: Request, gu: str = Query(min_length=1, max_length=20)) -> DistrictMapResponse:
        """A district's outline and its dongs, for the page's map (drawn from the shipped outlines and
        centroids: nothing is fetched from a tile server). Any key that sees some of the district may
        draw it; the lists themselves stay inside the key's scope."""
        from features.reference import district_names
        from serving.maps.geometry import MapUnavailable, district_view

        only_declared_query(request)
        caller = request.scope["state"]["caller"]
        if gu not in district_names():
            raise Refused(422, "gu", f"gu: {gu!r} is not a Seoul district", code="not_allowed_value")
        refusal = caller.refusal_for_area(gu, None)
        if refusal is not None and refusal[0] == "gu":
            raise Refused(403, *refusal, code="outside_scope")
        try:
            view = district_view(gu)
        except MapUnavailable as error:
            raise Refused(
                503, "gu", f"gu: the map of {gu} is unavailable ({error})", code="map_unavailable"
            ) from None
        shape = view.districts[0]
        return DistrictMapResponse(
            gu=gu,
            view_box=list(view.view_box),
            district=DistrictOnMap(gu=gu, path=shape.path, label_x=shape.label_x, label_y=shape.label_y),
            dongs=[DongOnMap(code=d.code, name=d.name, x=d.x, y=d.y) for d in view.dongs],
        )

    @web.get("/city", response_model=CityMapResponse)
    @allow("admin")
    @answers
    def city_map(
        request: Request, capacity: int = Query(ge=1, le=5_000), as_of: Day | None = None
    ) -> CityMapResponse:
        """Seoul's 25 districts, each with how many of its households per 1,000 are on the city's
        list of capacity × 25 households (serving/lists/city_view.py)."""
        from serving.lists.builder import requested_round
        from serving.lists.city_view import district_density
        from serving.maps.geometry import MapUnavailable, city_view

        only_declared_query(request)
        service = request.app.state.service
        caller = request.scope["state"]["caller"]
        loaded = requested_round(service.rounds, "as_of", as_of)
        try:
            view = city_view()
        except MapUnavailable as error:
            raise Refused(
                503, "capacity", f"capacity: the city map is unavailable ({error})", code="map_unavailable"
            ) from None
        table, listed = district_density(loaded.households, capacity)
        shapes = {s.gu: s for s in view.districts}
        service.records.audit(
            caller.name,
            caller.role,
            "city_map",
            [],
            {"capacity": capacity, "round": str(loaded.scored.as_of.date())},
        )
        return CityMapResponse(
            round_date=str(loaded.scored.as_of.date()),
            capacity=capacity,
            listed=listed,
            view_box=list(view.view_box),
            districts=[
                DistrictDensity(
                    gu=row.gu,
                    path=shapes[row.gu].path,
                    label_x=shapes[row.gu].label_x,
                    label_y=shapes[row.gu].label_y,
                    households=int(row.households),
                    listed=int(row.listed),
                    per_1000=round(float(row.per_1000), 2),
                    expected=round(float(row.expected), 2),
                )
                for row in table.itertuples()
                if row.gu in shapes
            ],
        )

    @web.get(
        "/export.{kind}",
        response_class=Response,
        responses={
            200: {
                "description": "The list: CSV for export.csv, an XLSX workbook for export.xlsx.",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX: {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )
    @allow("planner", "admin")
    def export(
        request: Request,
        kind: Literal["csv", "xlsx"],
        gu: str = Query(min_length=1, max_length=20),
        capacity: int = Query(ge=1, le=5_000),
        recheck_capacity: int = Query(default=0, ge=0, le=5_000),
        dong: str | None = Query(
            default=None, min_length=1, max_length=40, description="The dong's name or code."
        ),
        as_of: Day | None = None,
    ) -> Response:
        """The list as CSV (UTF-8 with BOM, Korean headers) or as an XLSX workbook."""
        return download(request, gu, dong, capacity, recheck_capacity, as_of, kind)

    return web
