"""Refuse request bodies the API does not speak before BentoML parses them.

BentoML answers a multipart body without a boundary with a 500 (it fails inside its form parser),
and it has no limit on a body's size; bad input must never be a server error nor a way to fill
the worker's memory, so anything but JSON posted to an API route gets a 415 naming the header,
and a body over ANBU_MAX_BODY_BYTES a 413, counted as it arrives (a client may lie in its
Content-Length or send none).
"""

from __future__ import annotations

from features.settings import Settings
from serving.api.auth import json_response
from serving.api.errors import error_body

API_ROUTES = ("/score", "/score_features", "/rank", "/outcomes", "/key_scope", "/model", "/reload")


class BodyTooLarge(Exception):
    pass


class JsonBodyMiddleware:
    def __init__(self, app, max_body_bytes: int | None = None) -> None:
        self.app = app
        self.max_body = max_body_bytes or Settings().max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in API_ROUTES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        kind = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind != "application/json":
            await json_response(
                send,
                415,
                error_body("not_json", "content-type", f"content-type {kind[:60]!r}: send application/json"),
            )
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send)
            return
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send) -> None:
        await json_response(
            send,
            413,
            error_body("body_too_large", "body", f"the request body is over {self.max_body:,} bytes"),
        )
