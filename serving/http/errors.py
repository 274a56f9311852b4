"""API errors as typed exceptions, turned into responses in one place.

Every answer that is not a success has one body, whoever gives it (a route, the key check, the
body guard, the planner's downloads, or pydantic through BentoML, folded in by
serving/http/error_shape.py): `{"error": one sentence, "field": what to blame or null, "code": one
of ERROR_CODES}`, plus named facts where a client needs them (`allowed`, `limit`, `request_id`, id
lists). The code is what a program or the planner page branches on and translates; the sentence is
for a person reading a log or a terminal, and never carries a library's URL.

Routes raise `Refused` (a 4xx naming the request field) and let anything else propagate; `answers`
maps both: a refusal to its status and body, a records database that cannot be written to a 503
with Retry-After, and any other exception to a 500 that carries the request id and is logged with
it — the exception's type and where it was raised, never its message or the request body, which
may hold household data.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from collections.abc import Callable

from starlette.responses import JSONResponse

from serving.records.store import RecordsUnavailable
from serving.refusal import Refused

log = logging.getLogger("anbu.service")


ERROR_CODES: dict[str, str] = {
    # 400: the request does not match the document (pydantic's errors, folded)
    "missing": "a required field is absent",
    "unknown_field": "a field the route does not take",
    "malformed_body": "the body is not a JSON object as the route expects",
    "wrong_type": "a value of the wrong type (text for a number, a number for text, ...)",
    "out_of_range": "a number, text or list too small or too large",
    "invalid_format": "text that does not have the expected form (an id, a dong code)",
    "invalid_date": "a date not written as YYYY-MM-DD in 2000 or later",
    "not_allowed_value": "a value outside the listed choices",
    "blank_text": "text without a visible character",
    "invisible_characters": "text with characters a reader cannot see (controls, zero-width, bidi controls)",
    "invalid_value": "any other value the route refuses by its form",
    # 401, 403: who is asking
    "key_missing": "no API key was sent",
    "key_unknown": "the API key is not known (or was revoked)",
    "role_not_allowed": "the key's role may not call this route",
    "route_not_allowed": "the key is limited to other routes",
    "outside_scope": "the district, dong or households lie outside the key's scope",
    "over_capacity_limit": "the capacity is over the key's limit (`limit`)",
    # 404, 405: what is asked for
    "no_route": "no such route",
    "method_not_allowed": "the route does not answer this HTTP method",
    "round_not_scored": "the round asked for is not scored",
    "area_empty": "no households in the district or dong in that round",
    # 409, 413, 415: the request as a whole
    "not_reloaded": "the service could not reload and goes on as before",
    "body_too_large": "the body is over the size limit",
    "not_json": "the body is not sent as application/json",
    "too_many_requests": "the service is at its limit of requests in progress; retry shortly",
    "map_unavailable": "the district outlines are not part of this build: the lists still work",
    # 422: well-formed, refused on meaning
    "after_served_round": "a round after the one being served",
    "future_visit": "a visit dated in the future",
    "unknown_household": "households not in the round's registry (`unknown_household_ids`)",
    "unknown_feature": "feature names the model does not use",
    "unknown_dong": "a dong name or code that is not one of the district's dongs",
    "recheck_over_capacity": "the re-check share is more than the capacity",
    "not_in_care": "end_care for a household not marked in care",
    "idempotency_key_reused": "the Idempotency-Key was used before for another body",
    "not_in_survey_sample": "a survey visit for a household no recorded screening sweep drew",
    "round_closed": "records for a round other than the served one (an admin key records a correction)",
    "refused_value": "any other value the service refuses on meaning",
    # 5xx: the service's side
    "server_error": "the service failed; the log has it under `request_id`",
    "records_unavailable": "the records database cannot be written now; retry after Retry-After",
    "not_ready": "the service is starting, stopping or not able to answer now",
    "timeout": "the answer took longer than the request time limit",
}
"""Every code an error body can carry, with what it means: the OpenAPI document lists them, the
planner page has a Korean sentence for each (tests pin both)."""

STATUS_CODES = {
    400: "invalid_value",
    401: "key_unknown",
    403: "outside_scope",
    404: "no_route",
    405: "method_not_allowed",
    409: "not_reloaded",
    413: "body_too_large",
    415: "not_json",
    422: "refused_value",
    429: "too_many_requests",
    500: "server_error",
    503: "not_ready",
    504: "timeout",
}
"""The code an answer gets when nothing more precise is known: a status only."""


def error_body(code: str, field: str | None, message: str, **facts) -> dict:
    """The one error body. An unknown code is a programming error, caught by the tests."""
    if code not in ERROR_CODES:
        raise ValueError(f"error code {code!r} is not in ERROR_CODES")
    return {"error": message, "field": field, "code": code, **facts}


def code_for_status(status: int) -> str:
    return STATUS_CODES.get(status, "server_error" if status >= 500 else "invalid_value")


def request_id(request) -> str:
    """BentoML's id of this request: an API route's request has it in its scope (and in the
    X-BentoML-Request-ID response header); a mounted app's (the planner's downloads) does not, and
    its id is that of the request's tracing span, which BentoML's id is taken from."""
    try:
        return format(request.scope["request_id"], "016x")
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    from opentelemetry import trace

    span_id = trace.get_current_span().get_span_context().span_id
    return format(span_id, "016x") if span_id else "unknown"


def where_raised(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if "/serving/" in f.filename or "/features/" in f.filename] or frames
    last = own[-1] if own else None
    if last is None:
        return "unknown"
    return f"{'/'.join(last.filename.split('/')[-2:])} line {last.lineno} in {last.name}"


def error_response(status: int, body: dict, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one way an error answer is written: a route returns it, a layer before the routes
    answers with it (`await error_response(...)(scope, receive, send)`)."""
    return JSONResponse(body, status_code=status, headers=headers)


def _respond(ctx, status: int, body: dict, headers: dict | None = None) -> JSONResponse:
    # BentoML copies ctx's status onto whatever a route returns, so it is set there as well.
    if ctx is not None:
        ctx.response.status_code = status
    return error_response(status, body, headers)


def answers(route: Callable) -> Callable:
    """Wrap an API route (or the planner app's downloads) so that every outcome is a documented
    response. The request is the route's BentoML context's (`ctx`) or its own `request`."""
    signature = inspect.signature(route)

    @functools.wraps(route)
    def wrapper(*args, **kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        ctx = bound.arguments.get("ctx")
        request = ctx.request if ctx is not None else bound.arguments.get("request")
        try:
            return route(*args, **kwargs)
        except Refused as refusal:
            return _respond(
                ctx, refusal.status, error_body(refusal.code, refusal.field, refusal.message, **refusal.facts)
            )
        except RecordsUnavailable as error:
            rid = request_id(request)
            log.error("request %s to %s: records unavailable", rid, route.__name__)
            return _respond(
                ctx,
                503,
                error_body("records_unavailable", None, str(error), request_id=rid),
                headers={"Retry-After": "5"},
            )
        except Exception as error:
            rid = request_id(request)
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
                error_body(
                    "server_error",
                    None,
                    "the service failed on this request; the log has what went wrong under its request id",
                    request_id=rid,
                ),
            )

    return wrapper
