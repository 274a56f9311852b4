"""API keys with roles and scopes, checked before any route runs; deny by default.

Keys are stored hashed (SHA-256) in a TOML file, one table per caller:

    [callers.gwanak-team]
    role = "planner"
    key_sha256 = "…"
    districts = ["관악구"]          # planner: required; ["*"] for a city-wide team
    dongs = ["1162069500"]         # optional: only these administrative dongs
    max_capacity = 200             # optional: the largest list this team may ask for
    routes = ["/score"]            # optional: only these of the role's routes (a service's needs)

`anbu keys add|list|scope|revoke` manage them; the file is re-read when it changes, so a revoked
key stops working without a restart. Roles: planner (rank, downloads, outcomes — inside its
scope), service (score, score_features), monitor (metrics), admin (everything, and reload).

Every route declares who may call it where it is defined (`@allow(...)`); the framework's own
routes are declared in FRAMEWORK_ROUTES. A path nobody declared is refused (404), so a new route
cannot be served without a key by forgetting it. No key: 401. A key without the route's role or
outside its scope: 403, naming what it may do.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

ROLES = ("planner", "service", "monitor", "admin")
PUBLIC = ("public",)
"""Declared open: health checks, the OpenAPI document, the pages that ask for a key themselves."""
CITY_WIDE = "*"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

FRAMEWORK_ROUTES: dict[str, tuple[str, ...]] = {
    "/": PUBLIC,
    "/docs.json": PUBLIC,
    "/livez": PUBLIC,
    "/healthz": PUBLIC,
    "/readyz": PUBLIC,
    "/metrics": ("monitor", "admin"),
}
"""Routes BentoML defines for the service; /metrics may be opened by ANBU_METRICS_OPEN."""
FRAMEWORK_PREFIXES: dict[str, tuple[str, ...]] = {"/static_content/": PUBLIC}


def allow(*roles: str) -> Callable:
    """Declare the roles that may call a route, on the route's own function."""
    unknown = [r for r in roles if r not in (*ROLES, *PUBLIC)]
    if unknown or not roles:
        raise ValueError(f"allow({', '.join(roles)}): roles are {', '.join(ROLES)} or public")

    def mark(function: Callable) -> Callable:
        function.__anbu_roles__ = tuple(roles)  # type: ignore[attr-defined]
        return function

    return mark


def declared_roles(function: Callable) -> tuple[str, ...] | None:
    return getattr(function, "__anbu_roles__", None)


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    districts: tuple[str, ...] = ()
    dongs: tuple[str, ...] = ()
    max_capacity: int | None = None
    routes: tuple[str, ...] = ()

    @property
    def city_wide(self) -> bool:
        return self.role == "admin" or (CITY_WIDE in self.districts and not self.dongs)

    def scope_text(self) -> str:
        if self.city_wide:
            return "the whole city"
        where = ", ".join(self.districts) if CITY_WIDE not in self.districts else "the city"
        return where + (f" (dongs {', '.join(self.dongs)})" if self.dongs else "")

    def refusal_for_area(self, gu: str, dong: str | None) -> tuple[str, str] | None:
        """(field, message) when an area lies outside this key's scope."""
        if self.city_wide:
            return None
        if CITY_WIDE not in self.districts and gu not in self.districts:
            return "gu", f"gu: {gu} is outside this key's scope ({self.scope_text()})"
        if self.dongs and dong not in self.dongs:
            asked = f"dong {dong}" if dong else "the whole district"
            return (
                "dong",
                f"dong: {asked} is outside this key's scope ({self.scope_text()}); ask for one of its dongs",
            )
        return None

    def sees(self, gu: str, dong: str) -> bool:
        """Whether a household in (gu, dong) is inside this key's scope."""
        if self.city_wide:
            return True
        return (CITY_WIDE in self.districts or gu in self.districts) and (
            not self.dongs or dong in self.dongs
        )

    def capacity_limit(self, default: int) -> int:
        return self.max_capacity or default


@dataclass
class KeyFile:
    """The keys file as callers by name; written back whole (hashes only, 0600)."""

    path: Path
    callers: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> KeyFile:
        path = Path(path)
        if not path.is_file():
            return cls(path)
        try:
            entries = tomllib.loads(path.read_text(encoding="utf-8")).get("callers", {})
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML ({error})") from None
        return cls(path, dict(entries))

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(tomli_w.dumps({"callers": self.callers}), encoding="utf-8")
        temporary.chmod(0o600)
        temporary.replace(self.path)

    def caller(self, name: str) -> Caller:
        return _caller(self.path, name, self.callers[name])


def _caller(path: Path, name: str, entry: dict) -> Caller:
    role = entry.get("role")
    if role not in ROLES:
        raise ValueError(f"{path}: caller {name!r} has role {role!r}; roles are {', '.join(ROLES)}")
    districts = tuple(entry.get("districts", ()))
    if role == "planner" and not districts:
        raise ValueError(
            f"{path}: planner {name!r} names no districts; give it its districts with "
            f"`anbu keys scope --name {name} --gu 관악구` (or --gu '*' for a city-wide team)"
        )
    capacity = entry.get("max_capacity")
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1):
        raise ValueError(f"{path}: caller {name!r} has max_capacity {capacity!r}; give a whole number ≥ 1")
    return Caller(
        name=name,
        role=role,
        districts=districts,
        dongs=tuple(str(d) for d in entry.get("dongs", ())),
        max_capacity=capacity,
        routes=tuple(entry.get("routes", ())),
    )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_keys(path: Path) -> dict[str, Caller]:
    """Hash -> caller. A missing file means no keys: every protected route answers 401."""
    keys = KeyFile.read(path)
    return {entry["key_sha256"]: keys.caller(name) for name, entry in keys.callers.items()}


def add_key(
    path: Path,
    name: str,
    role: str,
    districts: Iterable[str] = (),
    dongs: Iterable[str] = (),
    max_capacity: int | None = None,
    routes: Iterable[str] = (),
) -> str:
    """Create a key for a caller, store its hash and scope, return the key (shown once)."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if not _NAME.match(name):
        raise ValueError(f"name {name!r}: letters, digits, '.', '_' and '-', at most 64")
    keys = KeyFile.read(path)
    if name in keys.callers:
        raise ValueError(f"{keys.path}: a caller named {name!r} already exists")
    key = f"anbu_{role}_{secrets.token_urlsafe(24)}"
    keys.callers[name] = {"role": role, "key_sha256": _digest(key)}
    _set_scope(keys, name, districts, dongs, max_capacity, routes)
    return key


def set_scope(
    path: Path,
    name: str,
    districts: Iterable[str] = (),
    dongs: Iterable[str] = (),
    max_capacity: int | None = None,
    routes: Iterable[str] = (),
) -> Caller:
    keys = KeyFile.read(path)
    if name not in keys.callers:
        raise ValueError(f"{keys.path}: no caller named {name!r}; `anbu keys list` shows them")
    return _set_scope(keys, name, districts, dongs, max_capacity, routes)


def _set_scope(keys: KeyFile, name: str, districts, dongs, max_capacity, routes) -> Caller:
    entry = {k: v for k, v in keys.callers[name].items() if k in ("role", "key_sha256")}
    for key, values in (("districts", list(districts)), ("dongs", list(dongs)), ("routes", list(routes))):
        if values:
            entry[key] = values
    if max_capacity is not None:
        entry["max_capacity"] = max_capacity
    caller = _caller(keys.path, name, entry)  # refuses a scope that cannot work before writing it
    keys.callers[name] = entry
    keys.write()
    return caller


def revoke(path: Path, name: str) -> None:
    keys = KeyFile.read(path)
    if name not in keys.callers:
        raise ValueError(f"{keys.path}: no caller named {name!r}; `anbu keys list` shows them")
    del keys.callers[name]
    keys.write()


def list_callers(path: Path) -> list[Caller]:
    keys = KeyFile.read(path)
    return [keys.caller(name) for name in sorted(keys.callers)]


def presented_key(headers: dict[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    authorization = headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else None


class RouteTable:
    """Path -> declared roles, built from the routes themselves (and FRAMEWORK_ROUTES)."""

    def __init__(self, exact: dict[str, tuple[str, ...]], patterns: list[tuple[re.Pattern, tuple[str, ...]]]):
        self.exact = exact
        self.patterns = patterns

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
    undeclared = []
    for path, function in api_functions.items():
        roles = declared_roles(function)
        if roles is None:
            undeclared.append(path)
        exact[path] = roles or ()
    for prefix, app in mounted.items():
        for route in getattr(app, "routes", []):
            endpoint = getattr(route, "endpoint", None)
            roles = declared_roles(endpoint) if endpoint is not None else None
            full = prefix.rstrip("/") + route.path
            if roles is None:
                undeclared.append(full)
                continue
            patterns.append(
                (re.compile(prefix.rstrip("/") + route.path_regex.pattern.lstrip("^").rstrip("$")), roles)
            )
    if undeclared:
        raise RuntimeError(f"routes without declared roles (add @allow): {', '.join(sorted(undeclared))}")
    return RouteTable(exact, patterns)


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
            await json_response(send, 404, {"error": f"no route {path[:80]!r}", "field": "path"})
            return
        if allowed == PUBLIC:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = presented_key(headers)
        if key is None:
            await json_response(
                send,
                401,
                {
                    "error": "an API key is required (header X-API-Key or Authorization: Bearer)",
                    "field": "x-api-key",
                },
            )
            return
        caller = self.keys().get(_digest(key))
        if caller is None:
            await json_response(send, 401, {"error": "the API key is not known", "field": "x-api-key"})
            return
        if caller.role not in allowed or (caller.routes and path not in caller.routes):
            may = caller.routes or allowed
            await json_response(
                send,
                403,
                {
                    "error": f"{caller.name} ({caller.role}) may not call {path}; it needs one of {', '.join(allowed)}"
                    + (f"; this key is limited to {', '.join(caller.routes)}" if caller.routes else ""),
                    "field": "x-api-key",
                    "allowed": list(may),
                },
            )
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


async def json_response(
    send, status: int, body: dict, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
