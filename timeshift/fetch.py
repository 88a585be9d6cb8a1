"""The parallel segment fetcher: bounded concurrency, retries, hedged requests, a resumable cache.

Selection (which segments) is pure and lives in :mod:`timeshift.playlist`; this
module only moves bytes. Segments land in a :class:`SegmentCache` under names
keyed by URI (signing parameters left out, since they change per request), written
to a ``.part`` file and renamed when whole, so a run killed at any point resumes
by fetching only what is missing.

Failure handling, per request:

- 5xx, 429 (honouring ``Retry-After``), connection errors, timeouts and bodies
  shorter than their Content-Length are retried with exponential backoff and jitter;
- 404/410 mean the segment is gone: a gap, not an error;
- 403 is an authentication error (no retry), with a hint about URL signing;
- a request slower than ``hedge_factor`` times the median is raced by a second one,
  so one slow CDN node does not stall the clip.

Two HLS forms are handled on the way (RFC 8216):

- AES-128: each distinct key URI is fetched once per run (concurrent segments wait on
  the same request), must be 16 bytes, and the segment is decrypted (CBC, PKCS#7) after
  its body is whole and before it is cached or yielded. The cache therefore holds
  plaintext, like the clip it feeds, and a resumed run needs no key for what it has.
  A key's bytes never reach a log line, an error, a ``repr`` or JSON.
- Byte ranges: a ``Range`` request that must be answered 206 with the range asked for;
  a 200 with the whole resource is sliced (logged), anything else is an error. The
  cache names such a segment by its URI and its range.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import os
import random
import re
import statistics
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiofiles
import aiohttp
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import AuthError, NotFoundError, RemoteError, TransportError, redact_url
from .http import SIGNING_HINT
from .pieces import Fetched, Missing, Piece
from .playlist import ByteRange, Key, Segment

__all__ = ["FetchEvent", "FetchOptions", "FetchStats", "Fetched", "Missing", "Piece", "SegmentCache",
           "default_cache_dir",
           "fetch_segments", "fetch_text", "make_client_session"]

log = logging.getLogger(__name__)

_SIGNING_PARAMS = {"auth_key", "sign", "time", "key1", "key2", "txsecret", "txtime"}
_AES_KEY_BYTES = 16
_MAX_KEY_BYTES = 4096  # far over 16, so a wrong answer is reported with its real length
_CONTENT_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", re.IGNORECASE)


def default_cache_dir() -> Path:
    """``$TIMESHIFT_CACHE_DIR``, else ``$XDG_CACHE_HOME/timeshift/segments``, else ``~/.cache/…``."""
    if os.environ.get("TIMESHIFT_CACHE_DIR"):
        return Path(os.environ["TIMESHIFT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "timeshift" / "segments"


def _stable_uri(uri: str) -> str:
    """The URI without signing parameters, which change per request."""
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in _SIGNING_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


class SegmentCache:
    """Whole segments on disk (decrypted), named by a hash of their URI without signing
    parameters and, for a sub-range of a resource, the range."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(uri: str, byterange: ByteRange | None = None) -> str:
        stable = _stable_uri(uri)
        if byterange is not None:
            stable += f"#{byterange.header()}"  # "#" cannot occur in the URI once its fragment is gone
        return hashlib.sha256(stable.encode()).hexdigest()[:40]

    def path(self, seg: Segment) -> Path:
        k = self.key(seg.uri, seg.byterange)
        return self.root / k[:2] / f"{k}.ts"

    def get(self, seg: Segment) -> Path | None:
        p = self.path(seg)
        return p if p.exists() else None

    def part_path(self, seg: Segment) -> Path:
        # Unique per attempt: a hedged twin must not write into the same file.
        final = self.path(seg)
        return final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}.part")

    def discard(self, segments: Sequence[Segment]) -> None:
        for seg in segments:
            self.path(seg).unlink(missing_ok=True)


@dataclass(frozen=True)
class FetchOptions:
    """How segments are fetched. Passed explicitly; nothing is read from global state."""

    concurrency: int = 16
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    retries: int = 6
    backoff: float = 0.1
    max_backoff: float = 8.0
    hedge_factor: float = 4.0
    hedge_min: float = 1.0
    max_segment_bytes: int = 512 * 1024 * 1024
    headers: tuple[tuple[str, str], ...] = (("User-Agent", "timeshift/0.1"),)


@dataclass(frozen=True)
class FetchEvent:
    """Progress: ``kind`` is cached, done, retry, hedge or gap; ``index`` counts in the window."""

    kind: str
    index: int
    segment: Segment
    bytes: int = 0
    detail: str = ""


@dataclass
class FetchStats:
    """What the fetch did, for the summary."""

    segments: int = 0
    cached: int = 0
    bytes: int = 0
    retries: int = 0
    hedges: int = 0
    missing: list[Segment] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)


class _Retryable(Exception):
    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class _Gone(Exception):
    pass


def _backoff(exc: BaseException, attempt: int, base: float, cap: float) -> float:
    """How long to wait before retry ``attempt``: the server's Retry-After, else backoff with jitter."""
    delay = exc.delay if isinstance(exc, _Retryable) else None
    if delay is None:
        delay = min(cap, base * 2 ** attempt) * random.uniform(0.5, 1.5)
    return min(delay, cap * 4)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _check_status(resp: aiohttp.ClientResponse, url: str, what: str) -> None:
    """Sort an answer: fine (2xx/3xx), gone (404/410), retryable (429/5xx), or fatal."""
    if resp.status < 400:
        return
    if resp.status in (404, 410):
        raise _Gone()
    if resp.status == 403:
        raise AuthError(f"{what} refused", status=403, url=url, hint=SIGNING_HINT)
    if resp.status == 429 or resp.status >= 500:
        raise _Retryable(f"HTTP {resp.status}", _retry_after(resp.headers.get("Retry-After")))
    raise RemoteError(f"{what} failed", status=resp.status, url=url)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"


async def _fetch_small(session: aiohttp.ClientSession, url: str, *, retries: int, limit: int,
                       what: str, backoff: float = FetchOptions.backoff,
                       max_backoff: float = FetchOptions.max_backoff) -> bytes:
    """GET a small document whole (a playlist, a key) with the same retry rules as segments."""
    for attempt in range(retries + 1):
        try:
            async with session.get(url) as resp:
                try:
                    _check_status(resp, url, what)
                except _Gone:
                    raise NotFoundError(f"{what}: not found", status=resp.status, url=url) from None
                if resp.content_length is not None and resp.content_length > limit:
                    raise RemoteError(f"{what} is over {_size(limit)}", url=url)
                buf = bytearray()
                # content.read(n) answers with what has arrived so far: read until EOF.
                while chunk := await resp.content.read(1 << 20):
                    buf += chunk
                    if len(buf) > limit:
                        raise RemoteError(f"{what} is over {_size(limit)}", url=url)
                if resp.content_length is not None and len(buf) != resp.content_length:
                    raise _Retryable(f"body {len(buf)} of {resp.content_length} bytes")
                return bytes(buf)
        except (_Retryable, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if attempt == retries:
                raise TransportError(f"{what} failed after {retries + 1} tries "
                                     f"({type(exc).__name__}: {exc})", url=url) from exc
            await asyncio.sleep(_backoff(exc, attempt, backoff, max_backoff))
    raise AssertionError("unreachable")


async def fetch_text(session: aiohttp.ClientSession, url: str, *, retries: int = 4,
                     limit: int = 32 * 1024 * 1024, what: str = "playlist") -> str:
    """GET a small text document (a playlist) with the same retry rules as segments."""
    body = await _fetch_small(session, url, retries=retries, limit=limit, what=what)
    return body.decode("utf-8-sig", errors="replace")


class _Keys:
    """AES-128 keys, each fetched once per run; segments asking at the same time share a request.

    Keyed by the URI without signing parameters, so differently signed copies of one
    key URI are one key. The bytes stay in here and in the decryptor's locals only.
    """

    def __init__(self, session: aiohttp.ClientSession, opts: FetchOptions) -> None:
        self.session, self.opts = session, opts
        self._tasks: dict[str, asyncio.Task[bytes]] = {}

    def __repr__(self) -> str:
        return f"<_Keys {len(self._tasks)} key(s)>"

    async def get(self, key: Key) -> bytes:
        ident = _stable_uri(key.uri)
        task = self._tasks.get(ident)
        if task is None:
            task = self._tasks[ident] = asyncio.ensure_future(self._fetch(key.uri))
        # Shielded: one waiter being cancelled (a hedge lost, the consumer stopped) must not
        # cancel the request the others wait on.
        return await asyncio.shield(task)

    async def _fetch(self, uri: str) -> bytes:
        data = await _fetch_small(self.session, uri, retries=self.opts.retries,
                                  limit=_MAX_KEY_BYTES, what="key", backoff=self.opts.backoff,
                                  max_backoff=self.opts.max_backoff)
        if len(data) != _AES_KEY_BYTES:
            raise RemoteError(f"the key is {len(data)} bytes; an AES-128 key is "
                              f"{_AES_KEY_BYTES}", url=uri)
        log.debug("fetched the key %s", redact_url(uri))
        return data

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


def _decrypt(data: bytes, key: bytes, seg: Segment) -> bytes:
    """AES-128-CBC with PKCS#7 padding; the IV from the playlist or the sequence number."""
    iv = seg.iv
    assert iv is not None
    if len(data) % 16:
        # A body cut short without a Content-Length to tell: fetch it again.
        raise _Retryable(f"encrypted body of {len(data)} bytes is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        plain = b""
    # A wrong key or IV fails the padding check, or (1 time in ~256) passes it with garbage,
    # which the MPEG-TS sync byte catches: feed neither to the remuxer. A CMAF fragment
    # (seg.init set, see cmaf.py) starts with an ISO BMFF box instead.
    fmp4 = seg.init is not None and plain[4:8] in (b"styp", b"moof", b"sidx", b"prft",
                                                      b"emsg", b"ftyp", b"moov", b"free")
    if not (plain.startswith(b"\x47") or fmp4):
        raise RemoteError(f"segment {seg.sequence} does not decrypt to MPEG-TS: the key or IV "
                          "is wrong, or the body is not what the playlist says", url=seg.uri)
    return plain


def _take_range(resp: aiohttp.ClientResponse, data: bytes, seg: Segment) -> bytes:
    """The asked-for sub-range out of a Range request's answer, or why the answer is wrong."""
    rng = seg.byterange
    assert rng is not None
    if resp.status == 206:
        header = resp.headers.get("Content-Range")
        m = _CONTENT_RANGE.fullmatch(header) if header else None
        if header is not None and (m is None or (int(m.group(1)), int(m.group(2)) + 1)
                                   != (rng.offset, rng.end)):
            raise RemoteError(f"asked for {rng.header()}, the origin answered Content-Range "
                              f"{header!r}", status=206, url=seg.uri)
        if len(data) < rng.length:
            raise _Retryable(f"body {len(data)} of {rng.length} bytes")
        if len(data) > rng.length:
            raise RemoteError(f"asked for {rng.header()} ({rng.length} bytes), the origin "
                              f"answered {len(data)} bytes", status=206, url=seg.uri)
        return data
    if resp.status == 200:
        # The origin ignored Range and sent the whole resource: take the slice (lenient,
        # but every segment of that resource then costs the whole of it).
        if len(data) < rng.end:
            raise RemoteError(f"asked for {rng.header()}, the origin answered 200 with the whole "
                              f"resource of {len(data)} bytes, which ends before it",
                              status=200, url=seg.uri)
        log.info("the origin ignored Range for %s; sliced %s out of %d bytes",
                 redact_url(seg.uri), rng.header(), len(data))
        return data[rng.offset:rng.end]
    raise RemoteError(f"asked for {rng.header()}, the origin answered HTTP {resp.status}",
                      status=resp.status, url=seg.uri)


class _Fetcher:
    def __init__(self, session: aiohttp.ClientSession, cache: SegmentCache, opts: FetchOptions,
                 stats: FetchStats, emit: Callable[[FetchEvent], None]) -> None:
        self.session, self.cache, self.opts, self.stats, self.emit = session, cache, opts, stats, emit
        self.keys = _Keys(session, opts)

    def hedge_delay(self) -> float:
        d = self.stats.durations
        if len(d) < 5:
            return max(self.opts.hedge_min * 4, 4.0)
        return max(self.opts.hedge_min, self.opts.hedge_factor * statistics.median(d[-50:]))

    async def attempt(self, seg: Segment, key: bytes | None) -> tuple[Path, bytes]:
        """One GET read whole, cut to its range, decrypted, written to a private .part file,
        renamed into the cache."""
        part = self.cache.part_path(seg)
        headers = {"Range": seg.byterange.header()} if seg.byterange is not None else None
        async with self.session.get(seg.uri, headers=headers) as resp:
            if resp.status == 416 and seg.byterange is not None:
                raise RemoteError(f"the origin refused {seg.byterange.header()} as beyond the "
                                  "resource", status=416, url=seg.uri)
            _check_status(resp, seg.uri, "segment")
            expected = resp.content_length
            if expected is not None and expected > self.opts.max_segment_bytes:
                raise RemoteError(f"segment is {expected} bytes, over the bound of "
                                  f"{self.opts.max_segment_bytes}", url=seg.uri)
            # One buffer per segment (segments are small and bounded): far cheaper than
            # streaming chunk by chunk through the file thread pool.
            if expected is not None:
                data = await resp.read()  # raises ClientPayloadError if the body comes up short
            else:
                buf = bytearray()
                while chunk := await resp.content.read(1 << 20):
                    buf += chunk
                    if len(buf) > self.opts.max_segment_bytes:
                        break
                data = bytes(buf)
        if len(data) > self.opts.max_segment_bytes:
            raise RemoteError("segment is over the size bound", url=seg.uri)
        if expected is not None and len(data) != expected:
            raise _Retryable(f"body {len(data)} of {expected} bytes")
        if not data:
            raise _Retryable("empty body")
        if seg.byterange is not None:
            data = _take_range(resp, data, seg)
        if key is not None:
            data = _decrypt(data, key, seg)
        final = self.cache.path(seg)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            async with aiofiles.open(part, "wb") as f:
                await f.write(data)
            os.replace(part, final)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return final, data

    async def hedged(self, seg: Segment, index: int, key: bytes | None) -> tuple[Path, bytes]:
        """An attempt, raced by a second one if it runs much slower than the median."""
        pending = {asyncio.ensure_future(self.attempt(seg, key))}
        try:
            done, pending = await asyncio.wait(pending, timeout=self.hedge_delay())
            if done:
                return done.pop().result()
            self.stats.hedges += 1
            self.emit(FetchEvent("hedge", index, seg, detail="slow request raced by a second one"))
            pending.add(asyncio.ensure_future(self.attempt(seg, key)))
            error: BaseException | None = None
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None:
                        return task.result()
                    error = task.exception()
            assert error is not None
            raise error
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def fetch(self, seg: Segment, index: int) -> tuple[Path, bytes | None] | None:
        """The segment's cache path and bytes (None when read from the cache: the consumer
        reads it), or None when the origin says the segment is gone (a gap)."""
        cached = self.cache.get(seg)
        if cached is not None:
            self.stats.cached += 1
            self.emit(FetchEvent("cached", index, seg, cached.stat().st_size))
            return cached, None
        # The key first (once per run), so neither the hedge timer nor a retry counts it.
        key = await self.keys.get(seg.key) if seg.key is not None else None
        for attempt in range(self.opts.retries + 1):
            began = time.monotonic()
            try:
                path, data = await self.hedged(seg, index, key)
            except _Gone:
                self.stats.missing.append(seg)
                self.emit(FetchEvent("gap", index, seg, detail="404 from the origin"))
                return None
            except (_Retryable, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                reason = str(exc) or type(exc).__name__
                if attempt == self.opts.retries:
                    raise TransportError(f"segment {seg.sequence} failed after "
                                         f"{attempt + 1} tries ({reason})", url=seg.uri) from exc
                self.stats.retries += 1
                self.emit(FetchEvent("retry", index, seg, detail=reason))
                await asyncio.sleep(_backoff(exc, attempt, self.opts.backoff, self.opts.max_backoff))
                continue
            self.stats.durations.append(time.monotonic() - began)
            del self.stats.durations[:-64]  # the median needs only recent requests
            self.stats.bytes += len(data)
            self.stats.segments += 1
            self.emit(FetchEvent("done", index, seg, len(data)))
            return path, data
        raise AssertionError("unreachable")


def make_client_session(opts: FetchOptions) -> aiohttp.ClientSession:
    """An aiohttp session with keep-alive pooling sized for the concurrency (hedges need a little more)."""
    connector = aiohttp.TCPConnector(limit=opts.concurrency + 8, limit_per_host=0,
                                     ttl_dns_cache=300, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=opts.connect_timeout,
                                    sock_read=opts.read_timeout)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, headers=dict(opts.headers),
                                 auto_decompress=False)


async def _aiter(segments: Sequence[Segment] | AsyncIterable[Segment]) -> AsyncIterator[Segment]:
    if isinstance(segments, AsyncIterable):
        async for seg in segments:
            yield seg
    else:
        for seg in segments:
            yield seg


async def fetch_segments(
    session: aiohttp.ClientSession,
    segments: Sequence[Segment] | AsyncIterable[Segment],
    cache: SegmentCache,
    opts: FetchOptions,
    stats: FetchStats,
    emit: Callable[[FetchEvent], None] = lambda e: None,
) -> AsyncGenerator[Piece, None]:
    """Fetch segments in parallel; yield one :data:`~timeshift.pieces.Piece` per segment,
    in the order given.

    A :class:`~timeshift.pieces.Fetched` holds the plaintext bytes (AES-128 segments
    decrypted, byte-range segments cut to their range; a segment from the cache of an
    earlier run is read back); a :class:`~timeshift.pieces.Missing` is a segment the
    origin no longer has (a gap). ``segments`` may be an async iterable (a source that
    learns of segments as they are published): requests start as segments arrive. At
    most ``opts.concurrency`` requests are in flight, started in order, and at most
    ``run_ahead`` finished segments wait for the consumer, so memory does not grow with
    the window's length.
    """
    fetcher = _Fetcher(session, cache, opts, stats, emit)
    gate = asyncio.Semaphore(opts.concurrency)
    run_ahead = max(2 * opts.concurrency, 8)

    async def one(seg: Segment, index: int) -> Piece:
        async with gate:
            got = await fetcher.fetch(seg, index)
        if got is None:
            return Missing(seg, index)
        path, data = got
        if data is None:  # from the cache of an earlier run
            async with aiofiles.open(path, "rb") as f:
                return Fetched(seg, index, await f.read(), path, cached=True)
        return Fetched(seg, index, data, path)

    # A producer starts each segment's fetch as the source names it; the consumer takes
    # them in order. The queue bounds how far the producer runs ahead.
    started: asyncio.Queue[asyncio.Future[Piece] | None] = asyncio.Queue(run_ahead)
    tasks: list[asyncio.Future[Piece]] = []

    async def produce() -> None:
        index = 0
        async for seg in _aiter(segments):
            task = asyncio.ensure_future(one(seg, index))
            tasks.append(task)
            await started.put(task)
            index += 1
        await started.put(None)

    producer = asyncio.ensure_future(produce())
    getter: asyncio.Future[asyncio.Future[Piece] | None] | None = None
    try:
        while True:
            if producer.done():
                producer.result()  # the source's own failure, if it had one
                task = await started.get()
            else:
                getter = asyncio.ensure_future(started.get())
                await asyncio.wait({getter, producer}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():  # the producer ended first: look at how, then go on
                    getter.cancel()
                    continue
                task = getter.result()
            if task is None:
                break
            piece = await task
            tasks.remove(task)
            yield piece
    finally:
        waiting: list[asyncio.Future[Any]] = [producer, *tasks, *([getter] if getter else [])]
        for future in waiting:
            future.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await fetcher.keys.close()
