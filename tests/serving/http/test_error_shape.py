"""Every error answer has one body — field, a sentence, a code — whoever gives it, with no
library's wording or links in it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from serving.http.error_shape import folded, reshaped
from serving.http.errors import ERROR_CODES, error_body
from serving.http.openapi_doc import ERROR_BODY

ALLOWED_KEYS = set(ERROR_BODY["properties"])


def assert_one_shape(body: dict) -> None:
    assert {"error", "field", "code"} <= set(body) <= ALLOWED_KEYS, body
    assert body["code"] in ERROR_CODES, body
    text = json.dumps(body, ensure_ascii=False)
    assert "validation error for" not in text and "http://" not in text and "https://" not in text, text


PYDANTIC_400 = {
    "error": "1 validation error for Input",
    "detail": [
        {
            "type": "greater_than_equal",
            "loc": ["request", "capacity"],
            "msg": "Input should be greater than or equal to 1",
            "url": "https://errors.pydantic.dev/2.14/v/greater_than_equal",
        }
    ],
}


def test_bentomls_validation_answer_is_folded_into_the_one_body() -> None:
    body = reshaped(400, json.dumps(PYDANTIC_400).encode())
    assert_one_shape(body)
    assert body["field"] == "capacity" and body["code"] == "out_of_range"
    assert body["error"] == "capacity: input should be greater than or equal to 1"


def test_nested_locations_are_named_as_the_service_names_fields() -> None:
    body = folded(
        [
            {
                "type": "blank_text",
                "loc": ["request", "overrides", 0, "reason"],
                "msg": "must have a visible character",
            },
            {
                "type": "literal_error",
                "loc": ["request", "visits", 2, "outcome"],
                "msg": "Input should be 'moved'",
            },
        ]
    )
    assert_one_shape(body)
    assert body["field"] == "overrides[0].reason" and body["code"] == "blank_text"
    assert body["error"].endswith("(and 1 more problem)")
    assert [p["field"] for p in body["problems"]] == ["overrides[0].reason", "visits[2].outcome"]
    assert body["problems"][1]["code"] == "not_allowed_value"


@pytest.mark.parametrize(
    ("status", "raw", "code"),
    [
        (405, b"Method Not Allowed", "method_not_allowed"),
        (404, b'{"detail": "Not Found"}', "no_route"),
        (400, b'[{"error": "application/vnd.bentoml+pickle is not allowed"}]', "invalid_value"),
        (500, b"", "server_error"),
    ],
)
def test_answers_of_other_layers_get_the_one_body(status: int, raw: bytes, code: str) -> None:
    body = reshaped(status, raw)
    assert_one_shape(body)
    assert body["code"] == code and body["error"]


def test_a_code_outside_the_list_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not in ERROR_CODES"):
        error_body("oops", None, "x")
    # Refusals are raised where their rule lives (lists, records, keys, the API): every code one
    # names is a listed code.
    root = Path(__file__).parents[3] / "serving"
    named = {
        (str(path.relative_to(root)), code)
        for path in root.rglob("*.py")
        for code in re.findall(r'\bcode="([a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    assert named and {(path, code) for path, code in named if code not in ERROR_CODES} == set()


def test_the_documented_body_lists_every_code() -> None:
    assert ERROR_BODY["properties"]["code"]["enum"] == list(ERROR_CODES)


def _cases(server, household: str) -> dict[str, object]:
    visit = {"household_id": household, "visited_on": "2026-07-30", "outcome": "고립"}
    blank = {"household_id": household, "action": "exclude", "reason": ""}
    return {
        "capacity 0": server.post("/rank", {"request": {"gu": "관악구", "capacity": 0}}, role="planner"),
        "date 2026/07/31": server.post(
            "/rank", {"request": {"gu": "관악구", "capacity": 5, "as_of": "2026/07/31"}}, role="planner"
        ),
        "outcome 고립": server.post("/outcomes", {"request": {"visits": [visit]}}, role="planner"),
        "blank reason": server.post("/outcomes", {"request": {"overrides": [blank]}}, role="planner"),
        "no ids": server.post("/score", {"request": {"household_ids": []}}, role="service"),
        "not json": server.post("/score", {}, role="service", content=b"{not json"),
        "no body": server.post("/rank", {}, role="planner", content=b"{}"),
        "no key": server.post("/rank", {"request": {"gu": "관악구", "capacity": 5}}, role=None),
        "wrong role": server.post("/rank", {"request": {"gu": "관악구", "capacity": 5}}, role="service"),
        "no route": server.get("/scores", role="admin"),
        "wrong method": server.get("/score", role="service"),
        "bad download query": server.get("/planner/export.csv?gu=관악구&capacity=0", role="planner"),
        "unknown page path": server.get("/planner/nothing", role="planner"),
        "unknown download kind": server.get("/planner/export.pdf?gu=관악구&capacity=5", role="planner"),
        "form body": server.post(
            "/score", {}, role="service", content=b"x", headers={"content-type": "multipart/form-data"}
        ),
    }


def test_every_refusal_the_service_gives_has_the_one_body(server) -> None:
    household = "H00000001"  # refused on form before any registry look-up
    expected = {
        "capacity 0": ("capacity", "out_of_range"),
        "date 2026/07/31": ("as_of", "invalid_date"),
        "outcome 고립": ("visits[0].outcome", "not_allowed_value"),
        "blank reason": ("overrides[0].reason", "blank_text"),
        "no ids": ("household_ids", "out_of_range"),
        "not json": ("body", "malformed_body"),
        "no body": ("request", "missing"),
        "no key": ("x-api-key", "key_missing"),
        "wrong role": ("x-api-key", "role_not_allowed"),
        "no route": ("path", "no_route"),
        "wrong method": (None, "method_not_allowed"),
        "bad download query": ("capacity", "out_of_range"),
        "unknown page path": ("path", "no_route"),
        "unknown download kind": ("kind", "not_allowed_value"),
        "form body": ("content-type", "not_json"),
    }
    for case, response in _cases(server, household).items():
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
        body = response.json()
        assert_one_shape(body)
        assert (body["field"], body["code"]) == expected[case], (case, body)


def test_the_planner_page_has_a_korean_sentence_for_every_code() -> None:
    import re
    from pathlib import Path

    page = (
        Path(__file__).resolve().parents[3].joinpath("serving/api/planner.html").read_text(encoding="utf-8")
    )
    table = page[page.index("const ERROR_KO = {") : page.index("};", page.index("const ERROR_KO = {"))]
    korean = dict(re.findall(r"^\s+([a-z_]+): \"([^\"]+)\",$", table, flags=re.MULTILINE))
    assert set(korean) == set(ERROR_CODES)
    assert all(re.search(r"[가-힣]", sentence) for sentence in korean.values())


def _through_the_middleware(app, method: str = "GET") -> tuple[dict, bytes]:
    """Run one request through ErrorShapeMiddleware around `app`; the answer's start and body."""
    import asyncio

    from serving.http.error_shape import ErrorShapeMiddleware

    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/rank", "headers": []}
    asyncio.run(ErrorShapeMiddleware(app)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert sent[-1].get("more_body", False) is False  # the answer is closed
    return start, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _answering(status: int, chunks: list[bytes], kind: bytes = b"application/json"):
    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]})
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})

    return app


def test_a_validation_answer_sent_in_pieces_is_folded_with_its_length() -> None:
    raw = json.dumps(PYDANTIC_400).encode()
    start, body = _through_the_middleware(_answering(400, [raw[:20], raw[20:50], raw[50:]]))
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    assert json.loads(body)["code"] == "out_of_range"


def test_a_head_request_gets_the_same_headers_as_its_get() -> None:
    get, body = _through_the_middleware(_answering(405, [b"Method Not Allowed"], b"text/plain"))
    head, _ = _through_the_middleware(_answering(405, [b"Method Not Allowed"], b"text/plain"), "HEAD")
    assert dict(head["headers"]) == dict(get["headers"]) and json.loads(body)["code"] == "method_not_allowed"


def test_an_error_answer_too_large_to_hold_passes_as_it_came() -> None:
    from serving.http.error_shape import LARGEST_HELD

    big = [b"x" * 40_000, b"y" * 40_000, b"z"]
    start, body = _through_the_middleware(_answering(502, big, b"text/plain"))
    assert body == b"".join(big) and len(body) > LARGEST_HELD and start["status"] == 502


def test_a_layer_failing_before_it_answers_gives_a_500_in_the_one_body() -> None:
    async def broken(scope, receive, send) -> None:
        raise ValueError("a keys file that cannot be read")

    start, body = _through_the_middleware(broken)
    answer = json.loads(body)
    assert start["status"] == 500 and answer["code"] == "server_error" and len(answer["request_id"]) == 16
    assert "keys file" not in body.decode()  # the exception's message may hold anything: not sent
