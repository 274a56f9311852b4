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

from serving.api.models import Day
from serving.http.access import allow
from serving.http.error_shape import folded
from serving.http.errors import answers

PLANNER_PATH = "/planner"
"""Where the page and its downloads are mounted on the service."""
PAGE = Path(__file__).with_name("planner.html")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
        from serving.lists.exports import list_title, to_csv, to_xlsx

        service = request.app.state.service
        caller = request.scope["state"]["caller"]
        listed = service.outreach(caller, gu, dong or None, capacity, as_of, recheck_capacity)
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
        name = f"{day.date()}-{gu}{'-' + dong if dong else ''}.{kind}"
        disposition = f"attachment; filename=\"anbu-list.{kind}\"; filename*=UTF-8''{quote(name)}"
        if kind == "csv":
            return Response(
                to_csv(listed),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": disposition},
            )
        title = list_title(listed, gu, dong, capacity)
        return Response(to_xlsx(listed, title), media_type=XLSX, headers={"Content-Disposition": disposition})

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
        dong: str | None = Query(default=None, min_length=1, max_length=20, pattern=r"^\d+$"),
        as_of: Day | None = None,
    ) -> Response:
        """The list as CSV (UTF-8 with BOM, Korean headers) or as an XLSX workbook."""
        return download(request, gu, dong, capacity, recheck_capacity, as_of, kind)

    return web
