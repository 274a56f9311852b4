"""Refuse request bodies the API does not speak before BentoML parses them.

BentoML answers a multipart body without a boundary with a 500 (it fails inside its form parser);
bad input must never be a server error, so anything but JSON posted to an API route gets a 415
naming the header.
"""

from __future__ import annotations

from serving.auth import json_response

API_ROUTES = ("/score", "/score_features", "/rank", "/outcomes", "/model", "/reload")


class JsonBodyMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in API_ROUTES:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            kind = headers.get("content-type", "application/json").split(";")[0].strip().lower()
            if kind != "application/json":
                await json_response(
                    send,
                    415,
                    {"error": f"content-type {kind!r}: send application/json", "field": "content-type"},
                )
                return
        await self.app(scope, receive, send)
