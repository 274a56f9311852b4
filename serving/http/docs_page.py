"""The API's docs page at `/`: Swagger UI on /docs.json, every byte of it served by this service.

BentoML's own page at `/` loads Google Tag Manager, so whoever opened the docs of a welfare
service had their browser report to an advertising network. This page loads nothing from
elsewhere, and its Content-Security-Policy has the browser refuse anything not from the service
(images may also be data: URLs, which Swagger UI's stylesheet inlines), should a later Swagger UI
ask a CDN for a font or a script.

Swagger UI's script and stylesheet come from the PyPI package `fastapi-offline`, which exists to
ship them for offline FastAPI docs, follows Swagger UI's releases (1.7.7 carries Swagger UI 5.32.6,
Apache-2.0) and needs only FastAPI, which the planner app uses already. A dependency rather than
copies in the repository: an upgrade is a lock-file change with its hash, like any other package,
and a built Bento installs it from its requirements. Only its files are used, not its FastAPI
wrapper. The page and its start script are the files beside this module (packed into a Bento by
serving/api/bento.py's INCLUDE).

The page and its files answer at the paths BentoML's page used, `/` and `/static_content/…`, so the
route declarations (serving/http/access.py: public) and the metrics' path groups hold as they are; any
other name under `/static_content/` is 404, so nothing of BentoML's page is served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from starlette.responses import Response

from serving.http.errors import error_body, error_response

PAGE = Path(__file__).with_name("docs_page.html")
START = Path(__file__).with_name("docs_page.js")
SWAGGER_UI = files("fastapi_offline") / "static"
ASSETS = "/static_content/"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
NO_SNIFFING = {"X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class DocsFile:
    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=lambda: dict(NO_SNIFFING))


def docs_files() -> dict[str, DocsFile]:
    """Path -> answer: the page and exactly the files it loads, nothing else."""
    script, css = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
    return {
        "/": DocsFile(
            PAGE.read_bytes(),
            "text/html; charset=utf-8",
            {**NO_SNIFFING, "Content-Security-Policy": CONTENT_SECURITY_POLICY},
        ),
        ASSETS + "swagger-ui.css": DocsFile((SWAGGER_UI / "swagger-ui.css").read_bytes(), css),
        ASSETS + "swagger-ui-bundle.js": DocsFile((SWAGGER_UI / "swagger-ui-bundle.js").read_bytes(), script),
        ASSETS + START.name: DocsFile(START.read_bytes(), script),
    }


class DocsPageMiddleware:
    """Answers GET and HEAD for the docs page and its files, before BentoML's own routes."""

    def __init__(self, app) -> None:
        self.app = app
        self._files = docs_files()  # read as the app is built: a missing file stops the start

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        answer = self._files.get(path)
        if answer is not None:
            response = Response(answer.body, media_type=answer.media_type, headers=answer.headers)
            await response(scope, receive, send)
        elif path.startswith(ASSETS):
            await error_response(404, error_body("no_route", "path", f"no route {path[:80]!r}"))(
                scope, receive, send
            )
        else:
            await self.app(scope, receive, send)
