"""API errors as typed exceptions, turned into responses in one place.

Routes raise `Refused` (a 4xx naming the request field) and let anything else propagate; `answers`
maps both: a refusal to its status and `{"error", "field"}` body, a records database that cannot
be written to a 503 with Retry-After, and any other exception to a 500 that carries the request
id and is logged with it — the exception's type and where it was raised, never its message or
the request body, which may hold household data.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from collections.abc import Callable

from starlette.responses import JSONResponse

from serving.records.store import RecordsUnavailable

log = logging.getLogger("anbu.service")


class Refused(Exception):
    """A request the service will not answer as asked: status, the field to blame, one sentence."""

    def __init__(self, status: int, field: str, message: str, **extra) -> None:
        super().__init__(message)
        self.status, self.field, self.message, self.extra = status, field, message, extra


def request_id(ctx) -> str:
    """BentoML's id of this request (also in the X-BentoML-Request-ID response header)."""
    try:
        return format(ctx.request.scope["request_id"], "016x")
    except (AttributeError, KeyError, TypeError, ValueError):
        return "unknown"


def where_raised(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if "/serving/" in f.filename or "/features/" in f.filename] or frames
    last = own[-1] if own else None
    if last is None:
        return "unknown"
    return f"{'/'.join(last.filename.split('/')[-2:])} line {last.lineno} in {last.name}"


def _respond(ctx, status: int, body: dict, headers: dict | None = None) -> JSONResponse:
    # BentoML copies ctx's status onto whatever a route returns, so it is set there as well.
    if ctx is not None:
        ctx.response.status_code = status
    return JSONResponse(body, status_code=status, headers=headers)


def answers(route: Callable) -> Callable:
    """Wrap an API route so that every outcome is a documented response."""
    signature = inspect.signature(route)

    @functools.wraps(route)
    def wrapper(*args, **kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        ctx = bound.arguments.get("ctx")
        try:
            return route(*args, **kwargs)
        except Refused as refusal:
            return _respond(
                ctx, refusal.status, {"error": refusal.message, "field": refusal.field, **refusal.extra}
            )
        except RecordsUnavailable as error:
            rid = request_id(ctx)
            log.error("request %s to %s: records unavailable", rid, route.__name__)
            return _respond(
                ctx,
                503,
                {"error": str(error), "field": None, "request_id": rid},
                headers={"Retry-After": "5"},
            )
        except Exception as error:
            rid = request_id(ctx)
            log.error(
                "request %s to %s failed: %s at %s",
                rid,
                route.__name__,
                type(error).__name__,
                where_raised(error),
            )
            return _respond(
                ctx,
                500,
                {
                    "error": "the service failed on this request; the log has what went wrong under its request id",
                    "field": None,
                    "request_id": rid,
                },
            )

    return wrapper
