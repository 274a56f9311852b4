"""An open-loop load generator: request i is due at start + i/rate, whatever the answers before it.

Latency counts from when a request was due, not from when it was sent, so a server that stalls
shows every request that queued behind the stall (what wrk2 calls avoiding coordinated
omission). One asyncio loop on pre-encoded HTTP/1.1 requests over keep-alive connections: the
earlier generator (16 threads, one httpx client each) spent about a millisecond of Python per
request and its threads took turns on the GIL on the same two cores as the server, so its own
queueing set most of the `/livez` floor it measured. A connection is reused when idle and a new
one opened when every one is busy, so a slow answer never holds back the schedule.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np


@dataclass
class Steady:
    latencies_ms: np.ndarray
    failures: Counter[str]
    """Answers other than 200, by status code or by the error that ended the exchange."""

    @property
    def errors(self) -> int:
        return sum(self.failures.values())


def encoded(url: str, body: dict | None, headers: dict[str, str]) -> bytes:
    """One request as the bytes sent: POST with a JSON body, or GET without one."""
    parts = urlsplit(url)
    lines = [f"{'POST' if body is not None else 'GET'} {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one whole response; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readline()).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    return int(status_line.split()[1])


class _ClosedWhileIdle(Exception):
    """A reused connection ended before any byte of the answer."""


async def _run(url: str, requests: list[bytes], rate: float, connections: int) -> Steady:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    idle = [await asyncio.open_connection(host, port) for _ in range(connections)]
    latencies = np.full(len(requests), np.nan)
    failures: Counter[str] = Counter()

    async def connection() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """An idle keep-alive connection the server has not closed (reused), else a new one."""
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof():
                return reader, writer, True
            writer.close()
        return *(await asyncio.open_connection(host, port)), False

    async def exchange(i: int) -> int:
        reader, writer, reused = await connection()
        try:
            writer.write(requests[i])
            status = await _answer(reader)
        except BaseException as error:
            writer.close()
            closed = isinstance(error, ConnectionResetError | asyncio.IncompleteReadError)
            if reused and closed and not getattr(error, "partial", b""):
                raise _ClosedWhileIdle from error
            raise
        idle.append((reader, writer))
        return status

    async def one(i: int, due: float) -> None:
        try:
            try:
                status = await exchange(i)
            except _ClosedWhileIdle:
                # The server closed an idle keep-alive connection as the request went out, before
                # answering a byte: an HTTP client sends it again on a new connection, and so does
                # this one (once; a new connection that fails counts as a failure).
                status = await exchange(i)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            status = type(error).__name__
        latencies[i] = (loop.time() - due) * 1000
        if status != 200:
            failures[str(status)] += 1

    start = loop.time() + 0.2
    running: set[asyncio.Task] = set()
    for i in range(len(requests)):
        due = start + i / rate
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    for _, writer in idle:
        writer.close()
    return Steady(latencies, failures)


def steady(url: str, bodies: list[dict | None], rate: float, headers: dict, connections: int = 16) -> Steady:
    """Send request i at start + i/rate; each latency in ms from when it was due, and the failures."""
    requests = [encoded(url, body, headers) for body in bodies]
    # The generator's own full collections (its heap holds the served round) would pause it.
    gc.collect()
    gc.freeze()
    try:
        return asyncio.run(_run(url, requests, rate, connections))
    finally:
        gc.unfreeze()
