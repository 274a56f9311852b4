"""What every answer's headers leave out, and what an answer a key opened adds.

A key opens household data: scores, lists and their downloads, what a key may ask. A shared office
browser, or a proxy between it and the service, must keep none of it, so every answer to a request
the key check let through (it set the caller) says `Cache-Control: no-store`, error answers
included; answers without a caller (health checks, the docs, the planner page's HTML, a refused
key) carry no household and keep their own caching.

BentoML signs every API answer `Server: BentoML Service/<name>`: a banner that tells a scanner which
framework's advisories to try and tells a client nothing, so it is dropped (the request id header,
which a planner quotes when something failed, stays).
"""

from __future__ import annotations

DROPPED = (b"server",)
NO_STORE = (b"cache-control", b"no-store")


def opened_by_a_key(scope) -> bool:
    """The key check (serving/http/access.py) records the caller in the request's state."""
    state = scope.get("state")
    return isinstance(state, dict) and state.get("caller") is not None


class ResponseHeadersMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                keyed = opened_by_a_key(scope)
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in DROPPED and not (keyed and name.lower() == NO_STORE[0])
                ]
                message = {**message, "headers": [*headers, NO_STORE] if keyed else headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
