"""The API keys file: callers by name, each key stored only as its SHA-256, with its scope.

    [callers.gwanak-team]
    role = "planner"
    key_sha256 = "…"
    districts = ["관악구"]          # planner: required; ["*"] for a city-wide team
    dongs = ["1162069500"]         # optional: only these administrative dongs
    max_capacity = 200             # optional: the largest list this team may ask for
    routes = ["/rank"]             # optional: only these of the role's routes

Each entry is read through one pydantic model (KeyEntry), so a file edited by hand is refused
naming the caller and the field, not obeyed in part. `anbu keys add|list|scope|revoke` write it
(whole, 0600); the key check (serving/http/access.py) re-reads it when it changes, so a revoked key
stops working without a restart. A scope names only what exists (check_scope): Seoul's districts,
dongs of the city's households inside the key's districts, routes its role may call; area and
capacity limits only for a planner.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import secrets
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from features.reference import dong_names
from serving.keys.callers import CITY_WIDE, ROLES, Caller

if TYPE_CHECKING:
    from serving.http.access import RouteTable

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class KeyEntry(BaseModel):
    """One caller's table in the keys file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["planner", "service", "monitor", "admin"]
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    districts: tuple[str, ...] = ()
    dongs: tuple[str, ...] = ()
    max_capacity: int | None = Field(default=None, ge=1, strict=True)
    routes: tuple[str, ...] = ()

    @field_validator("key_sha256", mode="before")
    @classmethod
    def _hash_in_lowercase(cls, value):
        """A hash written by a tool that prints hexadecimal in capitals is the same hash."""
        return value.lower() if isinstance(value, str) else value

    @field_validator("dongs", mode="before")
    @classmethod
    def _codes_as_text(cls, value):
        """A dong code typed by hand as a number is still the code."""
        return [str(code) for code in value] if isinstance(value, list | tuple) else value

    def stored(self) -> dict:
        """As written to the file: what is set, nothing empty."""
        return self.model_dump(mode="json", exclude_defaults=True)


def _entry(path: Path, name: str, raw: object) -> KeyEntry:
    try:
        return KeyEntry.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        where = problem["loc"][0] if problem["loc"] else None
        value = raw.get(where) if isinstance(raw, dict) and where else raw
        if where == "role":
            raise ValueError(
                f"{path}: caller {name!r} has role {value!r}; roles are {', '.join(ROLES)}"
            ) from None
        if where == "max_capacity":
            raise ValueError(
                f"{path}: caller {name!r} has max_capacity {value!r}; give a whole number ≥ 1"
            ) from None
        if problem["type"] == "extra_forbidden":
            raise ValueError(
                f"{path}: caller {name!r} has {where!r}, which a key does not take; its fields are "
                f"{', '.join(KeyEntry.model_fields)}"
            ) from None
        raise ValueError(
            f"{path}: caller {name!r}: {where or 'the entry'} {value!r}: {problem['msg']}"
        ) from None


@dataclass
class KeyFile:
    """The keys file as callers by name; written back whole (hashes only, 0600)."""

    path: Path
    callers: dict[str, KeyEntry] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> KeyFile:
        path = Path(path)
        if not path.is_file():
            return cls(path)
        try:
            entries = tomllib.loads(path.read_text(encoding="utf-8")).get("callers", {})
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML ({error})") from None
        return cls(path, {name: _entry(path, name, raw) for name, raw in entries.items()})

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        from anbu.data_folder import written_whole

        stored = {name: entry.stored() for name, entry in self.callers.items()}
        with written_whole(self.path) as temporary:
            temporary.write_text(tomli_w.dumps({"callers": stored}), encoding="utf-8")
            temporary.chmod(0o600)

    def caller(self, name: str) -> Caller:
        entry = self.callers[name]
        if entry.role == "planner" and not entry.districts:
            raise NoDistricts(self.path, name)
        return Caller(
            name=name,
            role=entry.role,
            districts=entry.districts,
            dongs=entry.dongs,
            max_capacity=entry.max_capacity,
            routes=entry.routes,
        )


class NoDistricts(ValueError):
    """A planner key without districts, which could read no list. The command line adds the
    command that gives it some, with its own --data (only it knows the data folder)."""

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(
            f"{path}: planner {name!r} names no districts; a planner key needs --gu for each of its "
            f"districts (or --gu '*' for a city-wide team)"
        )
        self.name = name


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_keys(path: Path) -> dict[str, Caller]:
    """Hash -> caller. A missing file means no keys: every protected route answers 401."""
    keys = KeyFile.read(path)
    return {entry.key_sha256: keys.caller(name) for name, entry in keys.callers.items()}


@dataclass(frozen=True)
class KnownScope:
    """What a scope's dongs and routes may name, looked up only when a scope names one: the city's
    dongs, each with its district (from the delivered households: the dongs its lists can have),
    and the routes the service declares (`@allow`)."""

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
            names = dong_names()
            hint = f"the dongs of {where} are {', '.join(f'{names.get(d, d)} {d}' for d in inside)}"
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
    _set_scope(
        keys, name, KeyEntry(role=role, key_sha256=digest(key)), districts, dongs, max_capacity, routes, known
    )
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
    return _set_scope(keys, name, keys.callers[name], districts, dongs, max_capacity, routes, known)


def _require_caller(keys: KeyFile, name: str) -> None:
    if name not in keys.callers:
        names = ", ".join(sorted(keys.callers)) or "none yet"
        raise ValueError(f"{keys.path}: no caller named {name!r}; the callers are: {names}")


def _set_scope(
    keys: KeyFile, name: str, kept: KeyEntry, districts, dongs, max_capacity, routes, known
) -> Caller:
    """The caller's role and key hash kept, its scope replaced; refused before writing if it could
    not work or names what does not exist."""
    entry = _entry(
        keys.path,
        name,
        {
            "role": kept.role,
            "key_sha256": kept.key_sha256,
            "districts": list(districts),
            "dongs": list(dongs),
            "routes": list(routes),
            **({"max_capacity": max_capacity} if max_capacity is not None else {}),
        },
    )
    keys.callers[name] = entry
    caller = keys.caller(name)
    check_scope(caller, known)
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
