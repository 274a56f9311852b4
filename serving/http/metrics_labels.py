"""Bound /metrics: BentoML labels its request series by the raw path, so every unknown path a
scanner tries became new series (2,000 paths made the page 7 MB and the worker 51 MB larger).

BentoML has no setting for it, so its traffic-metrics middleware is replaced, before the app is
built, by one that labels a request with its route, grouping every other path under `/_other`;
the routes inside still see the real path. This reaches into BentoML's internals
(`bentoml._internal.server.http.instruments`, checked against 1.4.39): tests/serving walk many
unknown paths and check the page stays small, so an upgrade that breaks it fails a test.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from bentoml._internal.server.http import instruments

from serving.http.access import RouteTable

OTHER = "/_other"
_RAW = "anbu.raw_path"
_routes: Callable[[], RouteTable] | None = None


@functools.cache
def _labelled() -> tuple[frozenset[str], tuple[str, ...]]:
    """The routes labelled by name and the path groups, from the service's own declarations
    (serving/http/access.py: RouteTable), read on the first request."""
    if _routes is None:
        return frozenset(), ()
    table = _routes()
    return frozenset(table.exact), table.prefixes


def label(path: str) -> str:
    names, groups = _labelled()
    if path in names:
        return path
    for prefix in groups:
        if path.startswith(prefix):
            return prefix + "*"
    return OTHER


class _RestorePath:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        raw = scope.pop(_RAW, None)
        if raw is not None:
            scope["path"] = raw
        await self.app(scope, receive, send)


_Original = instruments.RunnerTrafficMetricsMiddleware


class BoundedTrafficMetrics(_Original):  # type: ignore[misc, valid-type]
    def __init__(self, app, **kwargs) -> None:
        super().__init__(_RestorePath(app), **kwargs)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            grouped = label(scope["path"])
            if grouped != scope["path"]:
                scope[_RAW], scope["path"] = scope["path"], grouped
        await super().__call__(scope, receive, send)


def install(routes: Callable[[], RouteTable]) -> None:
    """Before the app is built; `routes` is asked on the first request (the routes are declared by then)."""
    global _routes
    _routes = routes
    instruments.RunnerTrafficMetricsMiddleware = BoundedTrafficMetrics
