"""The request timeout answers 504 as BentoML's did, and forgets an answered request at once."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref

import pytest

from serving.http.request_timeout import CancelledTimerTimeout

REQUEST_STATE: contextvars.ContextVar[object] = contextvars.ContextVar("request_state")


class State:
    """Stands for what the outer middlewares keep in the request's context (a tracing span)."""


def _scope() -> dict:
    return {"type": "http", "method": "POST", "path": "/score", "headers": []}


async def _receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


def _app(delay: float, fail: bool = False):
    async def app(scope, receive, send) -> None:
        await asyncio.sleep(delay)
        if fail:
            raise RuntimeError("the handler failed")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _request(app, timeout: float) -> list[dict]:
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def main() -> None:
        await CancelledTimerTimeout(app, timeout)(_scope(), _receive, send)

    asyncio.run(main())
    return sent


def test_an_answer_in_time_passes_through() -> None:
    sent = _request(_app(0.0), timeout=5)
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200]
    assert sent[-1]["body"] == b"ok"


def test_no_answer_within_the_timeout_is_a_504() -> None:
    sent = _request(_app(2.0), timeout=0.05)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [504]
    assert b"0.05 seconds" in sent[-1]["body"]


def test_a_handler_that_fails_before_answering_fails_at_once_not_after_the_timeout() -> None:
    async def main() -> None:
        async def send(message) -> None:
            pass

        await asyncio.wait_for(CancelledTimerTimeout(_app(0.0, fail=True), 60)(_scope(), _receive, send), 2)

    with pytest.raises(RuntimeError, match="the handler failed"):
        asyncio.run(main())


def test_an_answered_request_is_released_while_the_timeout_has_not_run_out() -> None:
    """BentoML's own middleware kept each request's context alive for the whole timeout."""
    released: list[bool] = []

    async def send(message) -> None:
        pass

    async def one_request() -> weakref.ref:
        state = State()
        REQUEST_STATE.set(state)
        await CancelledTimerTimeout(_app(0.0), timeout=60)(_scope(), _receive, send)
        return weakref.ref(state)

    async def main() -> None:
        kept = await asyncio.create_task(one_request())
        await asyncio.sleep(0.01)
        gc.collect()
        released.append(kept() is None)

    asyncio.run(main())
    assert released == [True]


def test_the_service_app_uses_it() -> None:
    from bentoml._internal.server.http import traffic

    import serving.api.service  # noqa: F401  (installing happens on import, before the app is built)

    assert traffic.TimeoutMiddleware is CancelledTimerTimeout
