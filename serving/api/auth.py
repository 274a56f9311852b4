"""API keys with roles and scopes, checked before any route runs; deny by default.

Keys are stored hashed (SHA-256) in a TOML file, one table per caller:

    [callers.gwanak-team]
    role = "planner"
    key_sha256 = "…"
    districts = ["관악구"]          # planner: required; ["*"] for a city-wide team
    dongs = ["1162069500"]         # optional: only these administrative dongs
    max_capacity = 200             # optional: the largest list this team may ask for
    routes = ["/rank"]             # optional: only these of the role's routes

`anbu keys add|list|scope|revoke` manage them; the file is re-read when it changes, so a revoked
key stops working without a restart. Roles: planner (rank, downloads, outcomes — inside its
scope), service (score, score_features), monitor (metrics), admin (everything, and reload). A scope
names only what exists (check_scope): Seoul's districts, dongs of the city's households inside the
key's districts, routes its role may call; area and capacity limits only for a planner.

Every route declares who may call it where it is defined (`@allow(...)`); the framework's own
routes are declared in FRAMEWORK_ROUTES. A path nobody declared is refused (404), so a new route
cannot be served without a key by forgetting it. No key: 401. A key without the route's role or
outside its scope: 403, naming what it may do.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import secrets
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from serving.api.errors import error_body

ROLES = ("planner", "service", "monitor", "admin")
PUBLIC = ("public",)
"""Declared open: health checks, the OpenAPI document, the pages that ask for a key themselves."""
CITY_WIDE = "*"
ANY_KEY_MAY_ASK = ("/key_scope",)
"""Routes a key limited to others may still call: what it may do (the planner page asks first)."""
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


class NoDistricts(ValueError):
    """A planner key without districts, which could read no list. The command line adds the
    command that gives it some, with its own --data (only it knows the data folder)."""

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(
            f"{path}: planner {name!r} names no districts; a planner key needs --gu for each of its "
            f"districts (or --gu '*' for a city-wide team)"
        )
        self.name = name


def _caller(path: Path, name: str, entry: dict) -> Caller:
    role = entry.get("role")
    if role not in ROLES:
        raise ValueError(f"{path}: caller {name!r} has role {role!r}; roles are {', '.join(ROLES)}")
    districts = tuple(entry.get("districts", ()))
    if role == "planner" and not districts:
        raise NoDistricts(path, name)
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


@dataclass(frozen=True)
class KnownScope:
    """What a scope's dongs and routes may name, looked up only when a scope names one: the city's
    dongs, each with its district (from the delivered households; codes are the city's own, so a
    synthetic city's are not Seoul's), and the routes the service declares (`@allow`)."""

    dongs: Callable[[], Mapping[str, str]]
    routes: Callable[[], RouteTable]


def check_scope(caller: Caller, known: KnownScope | None = None) -> None:
    """Refuse a scope naming a district, dong or route that does not exist, or limits the service
    would not apply, before it is written: one sentence naming the bad value and the valid ones.
    The districts are always checked; dongs and routes when `known` says which exist."""
    from features.reference import district_names

    if caller.role != "planner" and (caller.districts or caller.dongs or caller.max_capacity):
        raise ValueError(
            f"--gu, --dong and --max-capacity limit a planner's lists; a {caller.role} key reads no "
            f"district's list, so they would limit nothing"
        )
    valid = district_names()
    for gu in caller.districts:
        if gu != CITY_WIDE and gu not in valid:
            near = difflib.get_close_matches(gu, valid, n=1)
            raise ValueError(
                f"--gu {gu!r} is not a Seoul district{f' (did you mean {near[0]}?)' if near else ''}; "
                f"the districts are {', '.join(valid)}, or '*' for the whole city"
            )
    if CITY_WIDE in caller.districts and len(caller.districts) > 1:
        raise ValueError("--gu '*' is the whole city; give it alone, not beside districts")
    if caller.dongs and known is not None:
        _check_dongs(caller, known.dongs())
    if caller.routes and known is not None:
        _check_routes(caller, known.routes())


def _check_dongs(caller: Caller, district_of: Mapping[str, str]) -> None:
    anywhere = CITY_WIDE in caller.districts
    inside = sorted(d for d, gu in district_of.items() if anywhere or gu in caller.districts)
    where = "the city" if anywhere else " and ".join(caller.districts)
    for dong in caller.dongs:
        gu = district_of.get(dong)
        if gu is not None and (anywhere or gu in caller.districts):
            continue
        found = (
            f"is in {gu}, outside this key's districts" if gu else "is not a dong of the city's households"
        )
        if len(inside) <= 30:
            hint = f"the dongs of {where} are {', '.join(inside)}"
        else:
            near = difflib.get_close_matches(dong, inside, n=5, cutoff=0.5)
            hint = f"{where} has {len(inside)} dongs" + (f", the nearest {', '.join(near)}" if near else "")
        raise ValueError(f"--dong {dong} {found}; {hint}")


def _check_routes(caller: Caller, table: RouteTable) -> None:
    for route in caller.routes:
        roles = table.roles(route) if "{" not in route else None
        if not roles or caller.role not in roles:
            may = table.paths_for(caller.role)
            braces = " (the part in braces spelt out)" if any("{" in path for path in may) else ""
            raise ValueError(
                f"--route {route} is not a route a {caller.role} key may call; its routes are "
                f"{', '.join(may)}{braces}"
            )


def add_key(
    path: Path,
    name: str,
    role: str,
    districts: Iterable[str] = (),
    dongs: Iterable[str] = (),
    max_capacity: int | None = None,
    routes: Iterable[str] = (),
    *,
    known: KnownScope | None = None,
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
    _set_scope(keys, name, districts, dongs, max_capacity, routes, known)
    return key


def set_scope(
    path: Path,
    name: str,
    districts: Iterable[str] = (),
    dongs: Iterable[str] = (),
    max_capacity: int | None = None,
    routes: Iterable[str] = (),
    *,
    known: KnownScope | None = None,
) -> Caller:
    keys = KeyFile.read(path)
    _require_caller(keys, name)
    return _set_scope(keys, name, districts, dongs, max_capacity, routes, known)


def _require_caller(keys: KeyFile, name: str) -> None:
    if name not in keys.callers:
        names = ", ".join(sorted(keys.callers)) or "none yet"
        raise ValueError(f"{keys.path}: no caller named {name!r}; the callers are: {names}")


def _set_scope(keys: KeyFile, name: str, districts, dongs, max_capacity, routes, known) -> Caller:
    entry = {k: v for k, v in keys.callers[name].items() if k in ("role", "key_sha256")}
    for key, values in (("districts", list(districts)), ("dongs", list(dongs)), ("routes", list(routes))):
        if values:
            entry[key] = values
    if max_capacity is not None:
        entry["max_capacity"] = max_capacity
    caller = _caller(keys.path, name, entry)  # refuses a scope that cannot work before writing it
    check_scope(caller, known)
    keys.callers[name] = entry
    keys.write()
    return caller


def revoke(path: Path, name: str) -> None:
    keys = KeyFile.read(path)
    _require_caller(keys, name)
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

    def __init__(
        self,
        exact: dict[str, tuple[str, ...]],
        patterns: list[tuple[re.Pattern, tuple[str, ...]]],
        templates: dict[str, tuple[str, ...]] | None = None,
    ):
        self.exact = exact
        self.patterns = patterns
        self.templates = templates or {}
        """Each pattern's path as declared (/planner/export.{kind}), for people to read."""

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
            templates[full] = roles
    if undeclared:
        raise RuntimeError(f"routes without declared roles (add @allow): {', '.join(sorted(undeclared))}")
    return RouteTable(exact, patterns, templates)


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
            await json_response(send, 404, error_body("no_route", "path", f"no route {path[:80]!r}"))
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
                error_body(
                    "key_missing",
                    "x-api-key",
                    "an API key is required (header X-API-Key or Authorization: Bearer)",
                ),
            )
            return
        caller = self.keys().get(_digest(key))
        if caller is None:
            await json_response(send, 401, error_body("key_unknown", "x-api-key", "the API key is not known"))
            return
        limited = caller.routes and path not in caller.routes and path not in ANY_KEY_MAY_ASK
        if caller.role not in allowed or limited:
            may = caller.routes or allowed
            await json_response(
                send,
                403,
                error_body(
                    "role_not_allowed" if caller.role not in allowed else "route_not_allowed",
                    "x-api-key",
                    f"{caller.name} ({caller.role}) may not call {path}; it needs one of {', '.join(allowed)}"
                    + (f"; this key is limited to {', '.join(caller.routes)}" if caller.routes else ""),
                    allowed=list(may),
                ),
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
