"""The planner page and list downloads, mounted on the BentoML service under /planner.

The page is one self-contained HTML file (no build step, no CDN: district offices often sit
behind strict proxies). It asks for the planner's API key once per browser session and calls the
same JSON API other services use, so there is one list logic and one audit trail.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from features.reference import district_names

PAGE = Path(__file__).with_name("planner.html")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def planner_app() -> FastAPI:
    web = FastAPI(title="anbu planner", docs_url=None, redoc_url=None, openapi_url=None)

    @web.get("/", response_class=HTMLResponse)
    def page() -> str:
        """The planner page."""
        return PAGE.read_text(encoding="utf-8").replace(
            "/*DISTRICTS*/[]", json.dumps(list(district_names()), ensure_ascii=False)
        )

    def _export(request: Request, gu: str, dong: str | None, capacity: int, as_of: dt.date | None, kind: str):
        from serving.exports import to_csv, to_xlsx

        service = request.app.state.service
        day = pd.Timestamp(as_of) if as_of else service.as_of
        try:
            listed = service.outreach(gu, dong or None, capacity, day)
        except LookupError as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
        caller = request.scope["state"]["caller"]
        service.records.audit(
            caller.name,
            caller.role,
            f"export.{kind}",
            listed.rows["household_id"].tolist(),
            {"gu": gu, "dong": dong, "capacity": capacity, "round": str(day.date())},
        )
        name = f"{day.date()}-{gu}{'-' + dong if dong else ''}.{kind}"
        disposition = f"attachment; filename=\"anbu-list.{kind}\"; filename*=UTF-8''{quote(name)}"
        if kind == "csv":
            return Response(
                to_csv(listed),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": disposition},
            )
        title = f"{gu}{' ' + dong if dong else ''} · {day.date()} · 정원 {capacity}"
        return Response(to_xlsx(listed, title), media_type=XLSX, headers={"Content-Disposition": disposition})

    @web.get("/export.{kind}")
    def export(
        request: Request,
        kind: Literal["csv", "xlsx"],
        gu: str = Query(min_length=1, max_length=20),
        capacity: int = Query(ge=1, le=5_000),
        dong: str | None = Query(default=None, max_length=20),
        as_of: dt.date | None = None,
    ) -> Response:
        """The list as CSV (UTF-8 with BOM, Korean headers) or as an XLSX workbook."""
        return _export(request, gu, dong, capacity, as_of, kind)

    return web
