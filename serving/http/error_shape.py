"""Every error answer in the one body of serving/http/errors.py, whoever wrote it.

The service's own refusals are built with `error_body`; three kinds of answer are not: BentoML's
400 for a body pydantic refused (`{"error": "1 validation error for Input", "detail": [...]}`,
each item with a link to pydantic's site), Starlette's plain-text 405 and the planner app's
FastAPI 404 (`{"detail": "Not Found"}`). BentoML has no hook for its validation answer, so this
middleware, outermost of the service's own, reads each error answer that is not already in the
shape and rewrites it: pydantic's items become `problems` (field, code, sentence), the first of
them the body's own field, code and sentence. Success answers pass through untouched and unread.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable

from serving.http.errors import ERROR_CODES, code_for_status, error_body, error_response, log, where_raised

LARGEST_HELD = 64_000
"""An error answer longer than this is passed on unshaped rather than held in memory (none is)."""

PYDANTIC_CODES = {
    "missing": "missing",
    "extra_forbidden": "unknown_field",
    "json_invalid": "malformed_body",
    "json_type": "malformed_body",
    "model_type": "malformed_body",
    "model_attributes_type": "malformed_body",
    "literal_error": "not_allowed_value",
    "enum": "not_allowed_value",
    "string_pattern_mismatch": "invalid_format",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "too_short": "out_of_range",
    "too_long": "out_of_range",
    "string_too_short": "out_of_range",
    "string_too_long": "out_of_range",
    "finite_number": "out_of_range",
    "date_type": "invalid_date",
    "date_parsing": "invalid_date",
    "date_from_datetime_parsing": "invalid_date",
    "date_from_datetime_inexact": "invalid_date",
    "date_past": "invalid_date",
    "date_future": "invalid_date",
}
"""pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/) as the
service's codes; the project's own validators raise its codes directly (serving/api/models.py)."""

_WRONG_TYPE = re.compile(
    r"^(int|float|string|bool|list|dict|tuple|set|bytes|decimal|none)_(type|parsing)$|^int_from_float$"
)
_URL = re.compile(r"https?://\S+")
_STATUS_SENTENCES = {
    400: "the request does not match the API's document",
    401: "an API key is required (header X-API-Key or Authorization: Bearer)",
    403: "this key may not make this request",
    404: "no such route",
    405: "this route does not answer this HTTP method",
    413: "the request body is too large",
    415: "send the body as application/json",
    429: "too many requests in progress; try again shortly",
    500: "the service failed on this request",
    503: "the service cannot answer now; try again shortly",
    504: "the answer took too long; try again",
}


def field_of(loc: Iterable) -> str:
    """pydantic's location as the service names fields: `overrides[0].reason`, without the
    `request` wrapper every route's body has."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "request":
        parts = parts[1:]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += ("." if name else "") + str(part)
    return name or "body"


def code_of(pydantic_type: str) -> str:
    if pydantic_type in ERROR_CODES:
        return pydantic_type
    if pydantic_type in PYDANTIC_CODES:
        return PYDANTIC_CODES[pydantic_type]
    if _WRONG_TYPE.match(pydantic_type):
        return "wrong_type"
    return "invalid_value"


def _sentence(message: str) -> str:
    message = _URL.sub("", message).strip()
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def problem(item: dict) -> dict:
    """One of pydantic's errors as field, code and sentence (no input echoed, no URL)."""
    field = field_of(item.get("loc", ()))
    code = code_of(str(item.get("type", "")))
    if code == "malformed_body" and field != "body":
        code = "wrong_type"  # a nested value that is not an object, not a body that is not one
    return {"field": field, "code": code, "error": f"{field}: {_sentence(str(item.get('msg', 'invalid')))}"}


def folded(items: list[dict]) -> dict:
    """pydantic's errors as the one body: the first problem leads, all are listed."""
    problems = [problem(item) for item in items if isinstance(item, dict)] or [
        {"field": "body", "code": "invalid_value", "error": "body: the request does not match the document"}
    ]
    first = problems[0]
    more = len(problems) - 1
    message = first["error"] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
    return error_body(first["code"], first["field"], message, problems=problems)


def in_shape(body: object) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("error"), str)
        and "field" in body
        and body.get("code") in ERROR_CODES
    )


def parsed(raw: bytes) -> object:
    """An answer's body as JSON, or None when it is empty or not JSON."""
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None


def reshaped(status: int, raw: bytes) -> dict:
    """Any error answer's body in the one shape."""
    return shaped(status, parsed(raw))


def shaped(status: int, body: object) -> dict:
    """An error answer's parsed body (None: not JSON) in the one shape."""
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        return folded(body["detail"])
    said = body.get("error") if isinstance(body, dict) else None
    sentence = _sentence(said) if isinstance(said, str) and "validation error" not in said else ""
    return error_body(code_for_status(status), None, sentence or _STATUS_SENTENCES.get(status, "refused"))


class ErrorShapeMiddleware:
    """Pure ASGI: holds back an error answer's start until its body shows whether it needs
    rewriting (up to LARGEST_HELD bytes; a larger one passes as it is); everything else streams
    through as it comes. An exception from a layer inside it, before any answer started (the key
    check reading a broken keys file), becomes a 500 in the one body, logged under its own id."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict | None = None
        chunks: list[bytes] = []
        size = 0
        started = False

        async def release(message: dict, payload: bytes | None, more: bool = False) -> None:
            nonlocal held
            start, held = message, None
            if payload is None:  # too large to shape: as it came
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": more})
                return
            headers = [
                (name, value)
                for name, value in start.get("headers", [])
                if name.lower() not in (b"content-length", b"content-type")
            ]
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": payload})

        async def shaping_send(message) -> None:
            nonlocal held, size, started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] >= 400:
                    held = message
                    return
            if held is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > LARGEST_HELD:
                await release(held, None, more=message.get("more_body", False))
                return
            if message.get("more_body", False):
                return
            raw = b"".join(chunks)
            body = parsed(raw)
            payload = (
                raw
                if in_shape(body)
                else json.dumps(shaped(held["status"], body), ensure_ascii=False).encode()
            )
            await release(held, payload)

        try:
            await self.app(scope, receive, shaping_send)
        except Exception as error:
            if started:
                raise
            reference = secrets.token_hex(8)
            log.error(
                "request %s to %s failed before an answer: %s at %s",
                reference,
                scope.get("path", "?")[:80],
                type(error).__name__,
                where_raised(error),
            )
            body = error_body(
                "server_error",
                None,
                "the service failed on this request; the log has what went wrong under its request id",
                request_id=reference,
            )
            await error_response(500, body)(scope, receive, send)
