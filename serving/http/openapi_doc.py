"""The OpenAPI document as clients need it: every refusal the API gives, with its body, and how
to present a key.

BentoML documents each API route with 200, 400, 404 and 500 only, without security schemes, and
has no hook for either; so /docs.json is served from BentoML's own document with our responses
and schemes added (built once per worker). Every error answer, BentoML's validation 400 included
(serving/http/error_shape.py), has the one body of serving/http/errors.py, described here as
`ErrorBody` with its codes listed.
"""

from __future__ import annotations

import importlib.metadata
import json

from starlette.responses import JSONResponse

from serving.http.access import DOCUMENT_PATH
from serving.http.errors import ERROR_CODES

_CODE = {
    "type": "string",
    "enum": list(ERROR_CODES),
    "description": "What a program branches on: "
    + "; ".join(f"`{code}`: {meaning}" for code, meaning in ERROR_CODES.items()),
}
_IDS = {"type": "array", "items": {"type": "string"}}
ERROR_BODY = {
    "type": "object",
    "required": ["error", "field", "code"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "string",
            "description": "One sentence for a person: what is wrong and what to do.",
        },
        "field": {
            "type": "string",
            "nullable": True,
            "description": "The request field (or header) to blame, as `overrides[0].reason`.",
        },
        "code": _CODE,
        "problems": {
            "type": "array",
            "description": "For a body that does not match the schema: every problem found, the first "
            "of which is the answer's own field, code and sentence.",
            "items": {
                "type": "object",
                "required": ["field", "code", "error"],
                "additionalProperties": False,
                "properties": {"field": {"type": "string"}, "code": _CODE, "error": {"type": "string"}},
            },
        },
        "allowed": {
            **_IDS,
            "description": "For role_not_allowed / route_not_allowed: what the key may call.",
        },
        "limit": {"type": "integer", "description": "For over_capacity_limit: the key's capacity limit."},
        "unknown_household_ids": {**_IDS, "description": "For unknown_household."},
        "outside_scope_household_ids": {**_IDS, "description": "For outside_scope in outcomes."},
        "request_id": {"type": "string", "description": "For a 5xx: the id the server log has it under."},
    },
}
SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer"},
}
REFUSALS = {
    "401": "No API key, or one the service does not know",
    "403": "The key's role, scope (districts, dongs, capacity) or routes do not allow this request",
    "404": "The round, district or dong asked for has no scored households",
    "409": "Not done; the service goes on as it was (reload)",
    "413": "The request body is too large",
    "415": "The body is not sent as application/json (one Content-Type header, or none)",
    "422": "A field names something the service refuses (a later round, unknown feature names, ids)",
    "500": "The service failed on this request; the body has the request id",
    "503": "The records database cannot be written now; retry after the Retry-After seconds",
}


def service_info() -> dict:
    """The document's title and description are the service's own: BentoML's default description
    carries badge images from other sites and links to its chat, which the docs page would load."""
    try:
        version = importlib.metadata.version("anbu")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree without installing
        version = "unreleased"
    return {
        "title": "anbu",
        "version": version,
        "description": "Isolation-risk scores with their reasons, outreach lists sized to a team's "
        "capacity, and the visits and decisions planners record. Every route but the health checks "
        "and this document needs an API key (Authorize: header X-API-Key or a bearer token); every "
        "refusal has the body ErrorBody. The planner page is at /planner/.",
    }


def build_spec(
    generated: dict,
    secured_paths: set[str],
    public_paths: set[str],
    keyed_only: set[str] = frozenset(),
    stores: frozenset[str] = frozenset(),
) -> dict:
    """`secured_paths`: API routes (every refusal documented); `keyed_only`: other routes that
    need a key (only 401/403); `public_paths`: declared open (`security: [{}]`); `stores`: routes
    that store what they are sent, and so take an idempotency key."""
    spec = json.loads(json.dumps(generated))  # integer response keys become strings
    spec["info"] = service_info()
    # BentoML's tags describe themselves as "BentoML Service API endpoints"; the names are enough
    spec["tags"] = [{"name": tag["name"]} for tag in spec.get("tags", []) if "name" in tag]
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["ErrorBody"] = ERROR_BODY
    components["securitySchemes"] = SECURITY_SCHEMES
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, item in spec.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for extension in [key for key in operation if key.startswith("x-bentoml")]:
                del operation[extension]  # BentoML's own names, of no use to a client
            if path in public_paths:
                operation["security"] = [{}]
                continue
            if path not in secured_paths | keyed_only:
                continue
            operation["security"] = [{"ApiKeyHeader": []}, {"BearerAuth": []}]
            _require_body_with_fields(operation)
            _closed_body(operation)
            if path in stores:
                operation.setdefault("parameters", []).append(json.loads(json.dumps(IDEMPOTENCY_KEY)))
            responses = operation["responses"]
            _refer_to_components(responses, schemas)
            if path in keyed_only:
                for status in ("401", "403"):
                    responses[status] = {"description": REFUSALS[status], "content": error}
                continue
            responses["400"] = {"description": "The request does not match the schema", "content": error}
            for status, description in REFUSALS.items():
                responses[status] = {"description": description, "content": error}
    return spec


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
    "description": "Optional, the caller's own (a UUID, say): a retry with the same key and the same body "
    "gets the same answer and stores nothing again (header Idempotent-Replayed: true); the same key with "
    "another body is refused (422, idempotency_key_reused). Keys are kept per API key.",
}


def _require_body_with_fields(operation: dict) -> None:
    """A route whose input has required fields needs its body ({"request": ...}); BentoML does
    not say so. Routes without input (model, reload) take an empty body or none."""
    body = operation.get("requestBody")
    schema = (body or {}).get("content", {}).get("application/json", {}).get("schema", {})
    if body is not None and schema.get("required"):
        body["required"] = True


def _closed_body(operation: dict) -> None:
    """A body's top level takes the route's parameters and nothing else: the body guard refuses
    any other name (serving/http/body_guard.py); BentoML's schema leaves it open."""
    body = operation.get("requestBody")
    schema = (body or {}).get("content", {}).get("application/json", {}).get("schema", {})
    if schema.get("type") == "object":
        schema["additionalProperties"] = False


def _refer_to_components(responses: dict, schemas: dict) -> None:
    """BentoML inlines each route's response model and loses `null` from its optional fields on
    the way (`dong: str | None` becomes a plain string); its components keep the model as pydantic
    wrote it, so the route refers to that instead."""
    for response in responses.values():
        content = response.get("content", {}).get("application/json")
        title = (content or {}).get("schema", {}).get("title")
        if title in schemas and "$ref" not in content["schema"]:
            content["schema"] = {"$ref": f"#/components/schemas/{title}"}


class OpenApiDocMiddleware:
    """Answers GET /docs.json with the completed document."""

    def __init__(self, app, document) -> None:
        self.app = app
        self._document = document
        self._spec: dict | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == DOCUMENT_PATH and scope["method"] in ("GET", "HEAD"):
            if self._spec is None:
                self._spec = self._document()
            await JSONResponse(self._spec)(scope, receive, send)
            return
        await self.app(scope, receive, send)
