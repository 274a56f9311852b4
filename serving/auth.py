"""API keys with roles, checked before any route runs.

Keys are stored hashed (SHA-256) in a TOML file, one table per caller:

    [callers.gwanak-team]
    role = "planner"
    key_sha256 = "…"

`anbu keys --data DIR --name NAME --role ROLE` adds one and prints the key once. Roles:
planner (rank, downloads, outcomes), service (score, score_features), admin (everything, and
reload); every role may read `model`. No key: 401. A key without the route's role: 403.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROLES = ("planner", "service", "admin")
ROUTE_ROLES: dict[str, tuple[str, ...]] = {
    "/score": ("service", "admin"),
    "/score_features": ("service", "admin"),
    "/rank": ("planner", "admin"),
    "/outcomes": ("planner", "admin"),
    "/model": ROLES,
    "/reload": ("admin",),
    "/planner/export.csv": ("planner", "admin"),
    "/planner/export.xlsx": ("planner", "admin"),
}
"""Routes not listed (health, metrics, the OpenAPI document, the planner page itself) are open."""


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


def keys_path() -> Path:
    """ANBU_KEYS, else DIR/_records/api_keys.toml under ANBU_DATA."""
    explicit = os.environ.get("ANBU_KEYS")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("ANBU_DATA", ".")).resolve() / "_records" / "api_keys.toml"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_keys(path: Path) -> dict[str, Caller]:
    """Hash -> caller. A missing file means no keys: every protected route answers 401."""
    path = Path(path)
    if not path.is_file():
        return {}
    callers = tomllib.loads(path.read_text(encoding="utf-8")).get("callers", {})
    keys: dict[str, Caller] = {}
    for name, entry in callers.items():
        role = entry.get("role")
        if role not in ROLES:
            raise ValueError(f"{path}: caller {name!r} has role {role!r}; roles are {', '.join(ROLES)}")
        keys[entry["key_sha256"]] = Caller(name, role)
    return keys


def add_key(path: Path, name: str, role: str) -> str:
    """Create a key for a caller, store its hash, return the key (shown once)."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    if name in tomllib.loads(existing).get("callers", {}):
        raise ValueError(f"{path}: a caller named {name!r} already exists")
    key = f"anbu_{role}_{secrets.token_urlsafe(24)}"
    entry = f'\n[callers.{json.dumps(name)}]\nrole = "{role}"\nkey_sha256 = "{_digest(key)}"\n'
    path.write_text(existing + entry, encoding="utf-8")
    path.chmod(0o600)
    return key


def presented_key(headers: dict[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    authorization = headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else None


class ApiKeyMiddleware:
    """Pure ASGI: answers 401/403 itself, and hands the caller to the route in `scope['state']`."""

    def __init__(self, app, keys_file: Path | None = None) -> None:
        self.app = app
        self.keys_file = Path(keys_file) if keys_file else keys_path()
        self.keys = load_keys(self.keys_file)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] not in ROUTE_ROLES:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = presented_key(headers)
        if key is None:
            await json_response(
                send, 401, {"error": "an API key is required (header X-API-Key or Authorization: Bearer)"}
            )
            return
        caller = self.keys.get(_digest(key))
        if caller is None:
            self.keys = load_keys(self.keys_file)  # a key added since start is honoured
            caller = self.keys.get(_digest(key))
        if caller is None:
            await json_response(send, 401, {"error": "the API key is not known"})
            return
        allowed = ROUTE_ROLES[scope["path"]]
        if caller.role not in allowed:
            await json_response(
                send,
                403,
                {
                    "error": f"role {caller.role!r} may not call {scope['path']}; it needs one of {', '.join(allowed)}"
                },
            )
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


async def json_response(send, status: int, body: dict) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
