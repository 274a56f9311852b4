"""BentoML's request timeout, without keeping every answered request alive for the timeout.

BentoML's `TimeoutMiddleware` (`bentoml._internal.server.http.traffic`, checked against 1.4.39)
schedules `loop.call_later(timeout, …)` for each request and never cancels it. The timer holds
the request's context (its OpenTelemetry span and attributes) and a future, so at 100 requests/s
and the 60 s timeout about 6,000 answered requests, 130,000 objects, stayed alive; every full
garbage collection walked them and paused the worker for 50-90 ms, the longest runs of slow
answers in `bench/serving.py`'s soak.

This one answers the same (504 when no response has started within the timeout) and cancels its
timer as soon as the response starts. It replaces BentoML's class before the app is built, like
`serving/http/metrics_labels.py`; tests/serving/http/test_request_timeout.py checks both behaviours and
that the service's app uses it.
"""

from __future__ import annotations

import asyncio

from bentoml._internal.server.http import traffic

from serving.http.errors import error_body, error_response


class CancelledTimerTimeout:
    def __init__(self, app, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started = loop.create_future()
        timer = loop.call_later(self.timeout, _time_out, started)

        async def send_started(message) -> None:
            if not started.done():
                started.set_result(None)
                timer.cancel()
            await send(message)

        answering = asyncio.ensure_future(self.app(scope, receive, send_started))
        answering.add_done_callback(lambda _: timer.cancel())
        try:
            await asyncio.wait([started, answering], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if started.done() and started.exception() is not None and not answering.done():
            answering.cancel()
            body = error_body("timeout", None, f"no answer within {self.timeout} seconds; try again")
            await error_response(504, body)(scope, receive, send)
            return
        await answering


def _time_out(started: asyncio.Future) -> None:
    if not started.done():
        started.set_exception(TimeoutError())


def install() -> None:
    traffic.TimeoutMiddleware = CancelledTimerTimeout
