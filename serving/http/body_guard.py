"""Refuse request bodies the API does not speak before BentoML parses them.

BentoML reads a request's first Content-Type and answers a multipart body without a boundary with
a 500 (it fails inside its form parser); it has no limit on a body's size, and an error raised
while it reads a body becomes its own plain 500; and it drops a top-level field a route does not
take without a word (`{"request": {...}, "round_date": "2026-06-30"}` was answered as a request
for the served round). Bad input must never be a server error, a way to fill the worker's memory,
nor a field silently ignored, so a POST to an API route is answered here when:

- it has no single Content-Type of application/json (none means JSON): 415 naming the header;
- its body is over ANBU_MAX_BODY_BYTES: 413, at the first byte over, counted as it arrives (a
  client may lie in its Content-Length, or send none and stream chunks);
- its JSON object has a top-level name the route does not take: 400 `unknown_field` naming it.
  The names a route takes are its parameters as the service declares them (BentoML's
  `Anbu.apis[...].input_spec`), so no table here repeats them.

Otherwise BentoML is handed the body read here. A body that is not a JSON object is left to
BentoML's parser, whose 400 is folded into the one error body (serving/http/error_shape.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from serving.http.errors import error_body, error_response

RouteFields = Mapping[str, frozenset[str]]
"""Each API route's path and the top-level names its body may have."""


def unknown_fields(body: bytes, allowed: frozenset[str]) -> list[str]:
    """Top-level names of a JSON object body that the route does not take; none for a body that
    is not a JSON object (BentoML's parser then says what is wrong with it)."""
    try:
        parsed = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError):
        return []
    return [name for name in parsed if name not in allowed] if isinstance(parsed, dict) else []


def _shown(name: str) -> str:
    return name if len(name) <= 40 else name[:40] + "…"


class JsonBodyMiddleware:
    """`fields` is called once, on the first request (the service's APIs are declared by then)."""

    def __init__(self, app, fields: Callable[[], RouteFields], max_body_bytes: int) -> None:
        self.app = app
        self._fields_factory = fields
        self._fields: RouteFields | None = None
        self.max_body = max_body_bytes

    @property
    def fields(self) -> RouteFields:
        if self._fields is None:
            self._fields = self._fields_factory()
        return self._fields

    async def __call__(self, scope, receive, send) -> None:
        allowed = self.fields.get(scope["path"]) if scope["type"] == "http" else None
        if allowed is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        kinds = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"content-type"]
        if len(kinds) > 1:
            await self._not_json(
                scope,
                receive,
                send,
                f"content-type: sent {len(kinds)} times; send it once, as application/json",
            )
            return
        kind = (kinds[0] if kinds else "application/json").split(";")[0].strip().lower()
        if kind != "application/json":
            await self._not_json(scope, receive, send, f"content-type {kind[:60]!r}: send application/json")
            return
        declared = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
        if any(v.isdigit() and int(v) > self.max_body for v in declared):
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nobody to answer
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        unknown = unknown_fields(body, allowed)
        if unknown:
            names = ", ".join(_shown(name) for name in unknown[:5])
            takes = ", ".join(f"`{name}`" for name in sorted(allowed)) or "no fields (send {})"
            await error_response(
                400,
                error_body(
                    "unknown_field",
                    _shown(unknown[0]),
                    f"{names}: not a field of {scope['path']}; its body has {'only ' if allowed else ''}{takes}",
                ),
            )(scope, receive, send)
            return
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:  # after the body, only the client's disconnect is left to hear
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _not_json(self, scope, receive, send, message: str) -> None:
        await error_response(415, error_body("not_json", "content-type", message))(scope, receive, send)

    async def _too_large(self, scope, receive, send) -> None:
        body = error_body("body_too_large", "body", f"the request body is over {self.max_body:,} bytes")
        await error_response(413, body)(scope, receive, send)
