"""HTTP transfers over aiohttp for the fetcher: one GET with redirects by hand, status
sorting, capped and watched body reads, and the budget of bytes in flight.

Every request made here has ``allow_redirects=False``; a 3xx is followed through
:meth:`HostPolicy.next_hop <timeshift.netpolicy.HostPolicy.next_hop>`, so a redirect
can never lead outside the hosts the job may fetch. A body is read under three bounds:

- a size cap, checked against ``Content-Length`` before reading and against the bytes
  received while reading (an endless body fails as soon as it passes the cap, with
  nothing copied);
- a deadline per attempt (``attempt_timeout``), headers included;
- a minimum transfer rate (``min_rate`` bytes/s, averaged from the start of the body,
  enforced after ``rate_grace`` seconds), so a body that drips one byte every few seconds
  fails over instead of stalling the job for days.

Documents we parse (playlists, keys) are read through the one capped reader
(:class:`~timeshift.capped.CappedBody`), which counts decoded bytes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp

from .capped import AnswerTooLarge, CappedBody, UnsupportedEncoding
from .errors import SIGNING_HINT, AuthError, NotFoundError, RemoteError, TransportError
from .netpolicy import REDIRECTS, HostPolicy
from .retry import RetryPolicy, parse_retry_after

__all__ = ["Budget", "Retryable", "Gone", "Watch", "get_document", "open_get", "read_watched"]

DOCUMENT_ENCODINGS = "gzip, deflate"


class Retryable(Exception):
    """A hiccup worth another try; ``delay`` is the server's hint (Retry-After), if any."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class Gone(Exception):
    """404/410: the resource is not there (a gap for a segment)."""


def size_text(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"


def check_status(resp: aiohttp.ClientResponse, url: str, what: str,
                 retry: RetryPolicy) -> None:
    """Sort an answer: fine (2xx), gone (404/410), retryable (the policy's statuses), or fatal."""
    if resp.status < 300:
        return
    if resp.status in (404, 410):
        raise Gone()
    if resp.status == 403:
        raise AuthError(f"{what} refused", status=403, url=url, hint=SIGNING_HINT)
    if retry.retry_status(resp.status):
        raise Retryable(f"HTTP {resp.status}", parse_retry_after(resp.headers.get("Retry-After")))
    raise RemoteError(f"{what} failed", status=resp.status, url=url)


@dataclass(frozen=True)
class Watch:
    """The bounds of one attempt: a deadline and a minimum rate (0: none)."""

    attempt_timeout: float
    min_rate: float = 0.0
    rate_grace: float = 10.0

    @property
    def tick(self) -> float:
        ticks = [self.attempt_timeout / 4]
        if self.min_rate > 0:
            ticks.append(self.rate_grace / 2)
        return max(0.05, min(1.0, *ticks))


async def open_get(session: aiohttp.ClientSession, url: str, policy: HostPolicy, *,
                   headers: Mapping[str, str] | None = None) -> tuple[aiohttp.ClientResponse, str]:
    """GET ``url``, following redirects by hand within ``policy``; the caller reads and
    releases the answer. Returns the response and the URL that gave it."""
    hops = 0
    while True:
        resp = await session.get(url, headers=headers, allow_redirects=False)
        if resp.status not in REDIRECTS:
            return resp, url
        location = resp.headers.get("Location")
        resp.release()
        url = policy.next_hop(url, resp.status, location, hops)
        hops += 1


async def read_watched(resp: aiohttp.ClientResponse, read: Awaitable[bytes], watch: Watch,
                       began: float) -> bytes:
    """Await ``read`` (the body of ``resp``) within the attempt's deadline and minimum rate."""
    task = asyncio.ensure_future(read)
    body_began = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=watch.tick)
            if done:
                return task.result()
            now = time.monotonic()
            if now - began > watch.attempt_timeout:
                raise Retryable(f"no whole answer within {watch.attempt_timeout:g} s")
            spent = now - body_began
            if watch.min_rate > 0 and spent > watch.rate_grace:
                rate = resp.content.total_bytes / spent
                if rate < watch.min_rate:
                    raise Retryable(f"transfer rate {rate:.0f} B/s is under the minimum of "
                                    f"{watch.min_rate:g} B/s")
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def read_capped_stream(resp: aiohttp.ClientResponse, limit: int, what: str,
                             url: str) -> bytes:
    """A body of unknown length, refused as soon as it passes ``limit`` raw bytes."""
    buf = bytearray()
    # content.read(n) answers with what has arrived so far: read until EOF.
    while chunk := await resp.content.read(1 << 20):
        if len(buf) + len(chunk) > limit:
            raise RemoteError(f"{what} is over {size_text(limit)}", url=url)
        buf += chunk
    return bytes(buf)


async def _read_document(resp: aiohttp.ClientResponse, limit: int, what: str, url: str) -> bytes:
    if resp.content_length is not None and resp.content_length > limit \
            and resp.headers.get("Content-Encoding", "identity") == "identity":
        raise RemoteError(f"{what} is over {size_text(limit)}", url=url)
    try:
        body = CappedBody(limit, resp.headers.get("Content-Encoding"), what)
        raw_size = 0
        while chunk := await resp.content.read(1 << 16):
            raw_size += len(chunk)
            body.feed(chunk)
        data = body.finish()
    except AnswerTooLarge as exc:
        raise RemoteError(str(exc), url=url) from None
    except UnsupportedEncoding as exc:
        raise RemoteError(f"{what}: {exc}", url=url) from None
    if resp.content_length is not None and raw_size != resp.content_length:
        raise Retryable(f"body {raw_size} of {resp.content_length} bytes")
    return data


async def _document_once(session: aiohttp.ClientSession, url: str, policy: HostPolicy,
                         retry: RetryPolicy, limit: int, what: str, watch: Watch,
                         headers: Mapping[str, str]) -> tuple[str, bytes]:
    began = time.monotonic()
    resp, final = await open_get(session, url, policy, headers=headers)
    async with resp:
        try:
            check_status(resp, final, what, retry)
        except Gone:
            raise NotFoundError(f"{what}: not found", status=resp.status, url=final) from None
        data = await read_watched(resp, _read_document(resp, limit, what, final), watch, began)
        return final, data


async def get_document(session: aiohttp.ClientSession, url: str, *, policy: HostPolicy,
                       retry: RetryPolicy, limit: int, what: str, watch: Watch,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                       ) -> tuple[str, bytes]:
    """GET a small document whole (a playlist, a key): redirects checked, decoded size capped,
    retried by ``retry``. Returns the final URL and the decoded body.

    Raises:
        NotFoundError: 404/410. AuthError: 403. RemoteError: another error status, over the cap,
        too many redirects. ForeignHostError: a redirect out of ``policy``.
        TransportError: no usable answer within the retries and the deadline.
    """
    run = retry.begin()
    headers = {"Accept-Encoding": DOCUMENT_ENCODINGS}
    while True:
        try:
            return await asyncio.wait_for(
                _document_once(session, url, policy, retry, limit, what, watch, headers),
                run.timeout(watch.attempt_timeout))
        except (Retryable, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            wait = run.next_delay(exc.delay if isinstance(exc, Retryable) else None)
            if wait is None:
                raise TransportError(f"{what} failed after {run.why_stopped()} "
                                     f"({type(exc).__name__}: {exc})", url=url) from exc
            await sleep(wait)


class Budget:
    """Bytes in flight across the whole fetcher: a reservation waits while the total is
    over the limit, except for the segment the consumer waits on (``urgent``), which
    always proceeds so the ordered consumer can never deadlock on its own look-ahead."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._cond = asyncio.Condition()
        self._wakers: set[asyncio.Task[None]] = set()

    async def take(self, n: int, urgent: Callable[[], bool]) -> int:
        n = min(n, self.limit)
        async with self._cond:
            await self._cond.wait_for(lambda: self.used == 0 or self.used + n <= self.limit
                                      or urgent())
            self.used += n
            self.peak = max(self.peak, self.used)
        return n

    def give(self, n: int) -> None:
        """Return ``n`` reserved bytes (synchronous, safe in ``finally`` blocks)."""
        if n <= 0:
            return
        self.used = max(0, self.used - n)
        self.wake()

    def wake(self) -> None:
        """Re-check waiters (bytes returned, or the consumer moved on)."""
        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()
        try:
            task = asyncio.get_running_loop().create_task(notify())
        except RuntimeError:
            return  # no loop: nobody is waiting
        self._wakers.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._wakers.discard)
