"""The key check, before any route runs; deny by default.

Keys and their scopes live in the keys file (serving/keys/key_file.py), re-read when it changes, so
a revoked key stops working without a restart; who a caller is and what it may see is
serving/keys/callers.py.

Every route declares who may call it where it is defined (`@allow(...)`); the framework's own
routes are declared in FRAMEWORK_ROUTES. A path nobody declared is refused (404), so a new route
cannot be served without a key by forgetting it. No key: 401. A key without the route's role or
outside its scope: 403, naming what it may do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from serving.http.errors import error_body, error_response
from serving.keys.callers import ROLES, Caller
from serving.keys.key_file import digest, load_keys

PUBLIC = ("public",)
"""Declared open: health checks, the OpenAPI document, the pages that ask for a key themselves."""
DOCUMENT_PATH = "/docs.json"
"""BentoML's path of the OpenAPI document (completed and answered by serving/http/openapi_doc.py)."""
SCHEMA_PATH = "/schema.json"
"""BentoML's path of the service's own schema, which its clients are built from."""

FRAMEWORK_ROUTES: dict[str, tuple[str, ...]] = {
    "/": PUBLIC,
    DOCUMENT_PATH: PUBLIC,
    # BentoML's own client (bentoml.SyncHTTPClient) reads the routes' input and output schemas here
    # before its first call: the same facts /docs.json publishes.
    SCHEMA_PATH: PUBLIC,
    "/livez": PUBLIC,
    "/healthz": PUBLIC,
    "/readyz": PUBLIC,
    "/metrics": ("monitor", "admin"),
}
"""Routes BentoML defines for the service; /metrics may be opened by ANBU_METRICS_OPEN."""
FRAMEWORK_PREFIXES: dict[str, tuple[str, ...]] = {"/static_content/": PUBLIC}


@dataclass(frozen=True)
class RouteDeclaration:
    """What a route says of itself, where it is defined: who may call it, whether a key limited to
    other routes may still ask it (what the key may do: the planner page asks first), and whether
    it stores what it is sent (so it takes an Idempotency-Key)."""

    roles: tuple[str, ...]
    any_key: bool = False
    stores: bool = False


def allow(*roles: str, any_key: bool = False, stores: bool = False) -> Callable:
    """Declare a route on its own function (see RouteDeclaration)."""
    unknown = [r for r in roles if r not in (*ROLES, *PUBLIC)]
    if unknown or not roles:
        raise ValueError(f"allow({', '.join(roles)}): roles are {', '.join(ROLES)} or public")

    def mark(function: Callable) -> Callable:
        function.__anbu_route__ = RouteDeclaration(tuple(roles), any_key, stores)  # type: ignore[attr-defined]
        return function

    return mark


def declared(function: Callable | None) -> RouteDeclaration | None:
    return getattr(function, "__anbu_route__", None)


def presented_key(headers: dict[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    authorization = headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else None


@dataclass
class RouteTable:
    """Path -> declared roles, built from the routes themselves (and FRAMEWORK_ROUTES): the one
    place the key check, the OpenAPI document and the /metrics labels learn the routes from."""

    exact: dict[str, tuple[str, ...]]
    patterns: list[tuple[re.Pattern, tuple[str, ...]]]
    templates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each pattern's path as declared (/planner/export.{kind}), for people to read."""
    prefixes: tuple[str, ...] = ()
    """Mounted apps' and the framework's path prefixes (/planner/, /static_content/)."""
    any_key: frozenset[str] = frozenset()
    stores: frozenset[str] = frozenset()

    def paths_for(self, role: str) -> list[str]:
        """The paths a key of this role may call, as declared (the public ones need no key)."""
        return [path for path, roles in {**self.exact, **self.templates}.items() if role in roles]

    def roles(self, path: str) -> tuple[str, ...] | None:
        if path in self.exact:
            return self.exact[path]
        for prefix, roles in FRAMEWORK_PREFIXES.items():
            if path.startswith(prefix):
                return roles
        for pattern, roles in self.patterns:
            if pattern.fullmatch(path):
                return roles
        return None


def route_table(
    api_functions: dict[str, Callable], mounted: dict[str, object], metrics_open: bool
) -> RouteTable:
    """From the service's API functions (route -> function) and mounted Starlette apps
    (prefix -> app). A route without a declaration is an error at start, not an open door."""
    exact: dict[str, tuple[str, ...]] = dict(FRAMEWORK_ROUTES)
    if metrics_open:
        exact["/metrics"] = PUBLIC
    patterns: list[tuple[re.Pattern, tuple[str, ...]]] = []
    templates: dict[str, tuple[str, ...]] = {}
    found: dict[str, RouteDeclaration] = {}
    undeclared = []
    for path, function in api_functions.items():
        declaration = declared(function)
        if declaration is None:
            undeclared.append(path)
        else:
            found[path] = declaration
        exact[path] = declaration.roles if declaration else ()
    for prefix, app in mounted.items():
        for route in getattr(app, "routes", []):
            declaration = declared(getattr(route, "endpoint", None))
            full = prefix.rstrip("/") + route.path
            if declaration is None:
                undeclared.append(full)
                continue
            patterns.append(
                (
                    re.compile(prefix.rstrip("/") + route.path_regex.pattern.lstrip("^").rstrip("$")),
                    declaration.roles,
                )
            )
            templates[full] = declaration.roles
            found[full] = declaration
    if undeclared:
        raise RuntimeError(f"routes without declared roles (add @allow): {', '.join(sorted(undeclared))}")
    return RouteTable(
        exact,
        patterns,
        templates,
        prefixes=(*(prefix.rstrip("/") + "/" for prefix in mounted), *FRAMEWORK_PREFIXES),
        any_key=frozenset(path for path, d in found.items() if d.any_key),
        stores=frozenset(path for path, d in found.items() if d.stores),
    )


class ApiKeyMiddleware:
    """Pure ASGI: answers 401/403/404 itself, and hands the caller to the route in `scope['state']`."""

    def __init__(self, app, table: Callable[[], RouteTable], keys_file: Callable[[], Path]) -> None:
        self.app = app
        self._table_factory = table
        self._keys_file_factory = keys_file
        self._keys_path: Path | None = None
        self._table: RouteTable | None = None
        self._keys: dict[str, Caller] = {}
        self._stamp: tuple[float, int] | None = None

    @property
    def table(self) -> RouteTable:
        if self._table is None:
            self._table = self._table_factory()
        return self._table

    def keys(self) -> dict[str, Caller]:
        """The key file as it is now: re-read when it changed (added or revoked keys)."""
        if self._keys_path is None:
            self._keys_path = Path(self._keys_file_factory())
        path = self._keys_path
        try:
            status = path.stat()
            stamp = (status.st_mtime, status.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._keys = load_keys(path) if stamp else {}
            self._stamp = stamp
        return self._keys

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        allowed = self.table.roles(path)
        if allowed is None:
            await error_response(404, error_body("no_route", "path", f"no route {path[:80]!r}"))(
                scope, receive, send
            )
            return
        if allowed == PUBLIC:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = presented_key(headers)
        if key is None:
            await error_response(
                401,
                error_body(
                    "key_missing",
                    "x-api-key",
                    "an API key is required (header X-API-Key or Authorization: Bearer)",
                ),
            )(scope, receive, send)
            return
        caller = self.keys().get(digest(key))
        if caller is None:
            await error_response(401, error_body("key_unknown", "x-api-key", "the API key is not known"))(
                scope, receive, send
            )
            return
        limited = caller.routes and path not in caller.routes and path not in self.table.any_key
        if caller.role not in allowed or limited:
            may = caller.routes or allowed
            await error_response(
                403,
                error_body(
                    "role_not_allowed" if caller.role not in allowed else "route_not_allowed",
                    "x-api-key",
                    f"{caller.name} ({caller.role}) may not call {path}; it needs one of {', '.join(allowed)}"
                    + (f"; this key is limited to {', '.join(caller.routes)}" if caller.routes else ""),
                    allowed=list(may),
                ),
            )(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)
