"""The parallel segment fetcher: bounded concurrency, retries, hedged requests, a resumable cache.

Selection (which segments) is pure and lives in :mod:`timeshift.playlist`; this
module only moves bytes. Segments land in a :class:`SegmentCache` under names
keyed by URI (signing parameters left out, since they change per request), written
to a ``.part`` file and renamed when whole, so a run killed at any point resumes
by fetching only what is missing.

Failure handling, per request (the HTTP side lives in :mod:`timeshift.transfer`, the
retry arithmetic in :mod:`timeshift.retry`, the host rules in :mod:`timeshift.netpolicy`):

- 5xx, 429 (honouring ``Retry-After`` up to a cap), connection errors, timeouts, bodies
  shorter than their Content-Length and transfers under the minimum rate are retried
  with exponential backoff and jitter, within a deadline per segment;
- redirects are followed by hand, each ``Location`` held to the job's hosts;
- a segment over ``max_segment_bytes`` fails at once; the bytes being fetched and not
  yet taken by the consumer stay within ``max_bytes_in_flight``;
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
import functools
import hashlib
import logging
import os
import statistics
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiofiles
import aiohttp

from .capped import AnswerTooLarge, UnsupportedEncoding, decode_capped
from .errors import RemoteError, TransportError, UsageError, redact_url
from .netpolicy import MAX_REDIRECTS, HostPolicy, Peer, peer_of
from .partfiles import is_stale, write_whole
from .pieces import Fetched, Missing, Piece
from .playlist import (
    MAX_PLAYLIST_BYTES,
    MAX_PLAYLIST_SEGMENTS,
    ByteRange,
    Key,
    PlaylistLimits,
    Segment,
)
from .retry import RetryPolicy
from .segforms import decrypt as _decrypt
from .segforms import take_range as _take_range
from .transfer import (
    Budget,
    Gone,
    Retryable,
    Watch,
    check_status,
    get_document,
    open_get,
    read_capped_stream,
    read_watched,
    size_text,
)

__all__ = ["FetchEvent", "FetchOptions", "FetchStats", "Fetched", "Missing", "Piece", "SegmentCache",
           "default_cache_dir",
           "fetch_segments", "fetch_text", "make_client_session"]

log = logging.getLogger(__name__)

_SIGNING_PARAMS = {"auth_key", "sign", "time", "key1", "key2", "txsecret", "txtime"}
_AES_KEY_BYTES = 16
_MAX_KEY_BYTES = 4096  # far over 16, so a wrong answer is reported with its real length


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
    @functools.lru_cache(maxsize=4096)  # asked three times per segment (get, store, discard)
    def key(uri: str, byterange: ByteRange | None = None) -> str:
        stable = _stable_uri(uri)
        if byterange is not None:
            stable += f"#{byterange.header()}"  # "#" cannot occur in the URI once its fragment is gone
        return hashlib.sha256(stable.encode()).hexdigest()[:40]

    def path(self, seg: Segment) -> Path:
        k = self.key(seg.uri, seg.byterange)
        return self.root / k[:2] / f"{k}.ts"

    def store(self, seg: Segment, data: bytes) -> Path:
        """Write the segment's cache entry whole (part file, renamed). Blocking: run it in
        a worker thread, one hop per segment (aiofiles took three, which cost more than
        the write)."""
        final = self.path(seg)
        final.parent.mkdir(parents=True, exist_ok=True)
        write_whole(final, data)
        return final

    def get(self, seg: Segment) -> Path | None:
        p = self.path(seg)
        return p if p.exists() else None

    def clean_stale_parts(self) -> int:
        """Remove part files that killed runs left in the cache; returns how many."""
        removed = 0
        for part in self.root.glob("*/*.part"):
            if is_stale(part):
                part.unlink(missing_ok=True)
                removed += 1
        return removed

    def discard(self, segments: Sequence[Segment]) -> None:
        for seg in segments:
            self.path(seg).unlink(missing_ok=True)


@dataclass(frozen=True)
class FetchOptions:
    """How segments are fetched. Passed explicitly; nothing is read from global state.

    The limits (the README's "Limits" lists them): ``max_segment_bytes`` per segment;
    ``max_bytes_in_flight`` across the fetcher; ``attempt_timeout`` per request (headers
    and body); ``min_rate`` bytes/s after ``rate_grace`` seconds of body; ``deadline``
    per segment, retries included; ``retry_after_cap`` on a server's Retry-After;
    ``max_playlist_bytes`` decoded; ``max_redirects`` per request. ``hosts`` is the
    job's host policy for redirects (None: each request may only be redirected within
    the hosts of the segments and keys it was given, all already approved).
    """

    concurrency: int = 16
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    retries: int = 6
    backoff: float = 0.1
    max_backoff: float = 8.0
    hedge_factor: float = 4.0
    hedge_min: float = 1.0
    max_segment_bytes: int = 64 * 1024 * 1024
    max_bytes_in_flight: int = 512 * 1024 * 1024
    attempt_timeout: float = 120.0
    min_rate: float = 4096.0
    rate_grace: float = 10.0
    deadline: float | None = 900.0
    retry_after_cap: float = 30.0
    max_playlist_bytes: int = MAX_PLAYLIST_BYTES
    max_playlist_segments: int = MAX_PLAYLIST_SEGMENTS
    max_redirects: int = MAX_REDIRECTS
    hosts: HostPolicy | None = None
    headers: tuple[tuple[str, str], ...] = (("User-Agent", "timeshift/0.1"),)

    def __post_init__(self) -> None:
        for name in ("max_segment_bytes", "max_bytes_in_flight", "max_playlist_bytes",
                     "max_playlist_segments"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1, got {getattr(self, name)}",
                                 field=name)
        for name in ("attempt_timeout", "rate_grace"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}",
                                 field=name)
        if self.min_rate < 0 or self.max_redirects < 0:
            raise UsageError("min_rate and max_redirects cannot be negative", field="min_rate")
        if self.deadline is not None and self.deadline <= 0:
            raise UsageError(f"deadline must be positive, got {self.deadline}", field="deadline")

    def playlist_limits(self) -> PlaylistLimits:
        """The limits a playlist is held to before parsing (one key per segment allowed)."""
        return PlaylistLimits(self.max_playlist_bytes, self.max_playlist_segments,
                              self.max_playlist_segments)

    def retry_policy(self) -> RetryPolicy:
        """The one retry policy, with this fetcher's numbers."""
        return RetryPolicy(retries=self.retries, backoff=self.backoff,
                           max_backoff=self.max_backoff, retry_after_cap=self.retry_after_cap,
                           deadline=self.deadline)

    def watch(self) -> Watch:
        return Watch(self.attempt_timeout, self.min_rate, self.rate_grace)


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
    peak_bytes_in_flight: int = 0
    missing: list[Segment] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)


async def fetch_document(session: aiohttp.ClientSession, url: str, *,
                         hosts: HostPolicy | None = None, opts: FetchOptions | None = None,
                         limit: int | None = None, what: str = "playlist") -> tuple[str, str]:
    """GET a small text document (a playlist): redirects held to ``hosts`` (by default the
    URL's own origin), decoded size capped, retried like segments. Returns the final URL
    (relative URIs in the document resolve against it) and the text."""
    opts = opts or FetchOptions()
    policy = hosts or HostPolicy.for_origin(url, max_redirects=opts.max_redirects)
    final, body = await get_document(
        session, url, policy=policy, retry=opts.retry_policy(),
        limit=opts.max_playlist_bytes if limit is None else limit, what=what, watch=opts.watch())
    return final, body.decode("utf-8-sig", errors="replace")


async def fetch_text(session: aiohttp.ClientSession, url: str, *, retries: int = 4,
                     limit: int = MAX_PLAYLIST_BYTES, what: str = "playlist",
                     hosts: HostPolicy | None = None) -> str:
    """GET a small text document (a playlist) with the same retry rules as segments."""
    opts = FetchOptions(retries=retries, max_playlist_bytes=limit)
    return (await fetch_document(session, url, hosts=hosts, opts=opts, what=what))[1]


class _Keys:
    """AES-128 keys, each fetched once per run; segments asking at the same time share a request.

    Keyed by the URI without signing parameters, so differently signed copies of one
    key URI are one key. The bytes stay in here and in the decryptor's locals only.
    """

    def __init__(self, session: aiohttp.ClientSession, opts: FetchOptions,
                 policy: Callable[[], HostPolicy]) -> None:
        self.session, self.opts, self.policy = session, opts, policy
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
        _, data = await get_document(self.session, uri, policy=self.policy(),
                                     retry=self.opts.retry_policy(), limit=_MAX_KEY_BYTES,
                                     what="key", watch=self.opts.watch())
        if len(data) != _AES_KEY_BYTES:
            raise RemoteError(f"the key is {len(data)} bytes; an AES-128 key is "
                              f"{_AES_KEY_BYTES}", url=uri)
        log.debug("fetched the key %s", redact_url(uri))
        return data

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


class _Fetcher:
    def __init__(self, session: aiohttp.ClientSession, cache: SegmentCache, opts: FetchOptions,
                 stats: FetchStats, emit: Callable[[FetchEvent], None],
                 ) -> None:
        self.session, self.cache, self.opts, self.stats, self.emit = session, cache, opts, stats, emit
        # Redirects are held to opts.hosts, else to the peers of the segments and keys given
        # (all approved by the plan's host check): the set grows as a live source adds some.
        self._peers: set[Peer] = set()
        self.policy = opts.hosts or HostPolicy(max_redirects=opts.max_redirects)
        self.keys = _Keys(session, opts, lambda: self.policy)
        self.retry = opts.retry_policy()
        self.watch = opts.watch()
        self.budget = Budget(opts.max_bytes_in_flight)
        self.head = 0  # the index the consumer waits on: its reservation never waits
        self.held: dict[int, int] = {}  # bytes reserved by fetched segments not yet consumed

    def hedge_delay(self) -> float:
        d = self.stats.durations
        if len(d) < 5:
            return max(self.opts.hedge_min * 4, 4.0)
        return max(self.opts.hedge_min, self.opts.hedge_factor * statistics.median(d[-50:]))

    def approve(self, seg: Segment) -> None:
        """Let redirects reach the peers of a segment given to the fetcher (and its key's)."""
        if self.opts.hosts is not None:
            return
        before = len(self._peers)
        for uri in (seg.uri, seg.key.uri if seg.key is not None else None):
            try:
                if uri is not None:
                    self._peers.add(peer_of(uri))
            except ValueError:
                continue  # fetching it fails with the reason
        if len(self._peers) != before:
            self.policy = HostPolicy(frozenset(self._peers), (), self.opts.max_redirects)

    def advance(self, index: int) -> None:
        """The consumer took segment ``index``: its bytes leave the budget."""
        self.budget.give(self.held.pop(index, 0))
        self.head = index + 1
        self.budget.wake()

    async def attempt(self, seg: Segment, key: bytes | None, index: int) -> tuple[Path, bytes]:
        """One GET (redirects by hand) read whole under the attempt's bounds, cut to its
        range, decrypted, written to a private .part file, renamed into the cache."""
        began = time.monotonic()
        reserved = [0]  # bytes this attempt holds in the budget (set once the size is known)
        try:
            data, resp = await asyncio.wait_for(self._get(seg, index, began, reserved),
                                                self.opts.attempt_timeout)
            if seg.byterange is not None:
                data = _take_range(resp, data, seg)
            if key is not None:
                data = _decrypt(data, key, seg)
            path = await self._store(seg, data)
        except BaseException:
            self.budget.give(reserved[0])
            raise
        # What the segment holds now stays reserved until the consumer takes it.
        kept = min(len(data), reserved[0])
        self.budget.give(reserved[0] - kept)
        self.held[index] = self.held.get(index, 0) + kept
        return path, data

    async def _get(self, seg: Segment, index: int, began: float,
                   reserved: list[int]) -> tuple[bytes, aiohttp.ClientResponse]:
        headers = {"Accept-Encoding": "identity"}
        if seg.byterange is not None:
            headers["Range"] = seg.byterange.header()
        resp, url = await open_get(self.session, seg.uri, self.policy, headers=headers)
        async with resp:
            if resp.status == 416 and seg.byterange is not None:
                raise RemoteError(f"the origin refused {seg.byterange.header()} as beyond the "
                                  "resource", status=416, url=seg.uri)
            check_status(resp, url, "segment", self.retry)
            cap = self.opts.max_segment_bytes
            expected = resp.content_length
            if expected is not None and expected > cap:
                raise RemoteError(f"segment is {expected} bytes, over the bound of "
                                  f"{size_text(cap)}", url=seg.uri)
            taken = await self.budget.take(expected if expected is not None else cap,
                                           lambda: index <= self.head)
            reserved[0] = taken
            self.stats.peak_bytes_in_flight = max(self.stats.peak_bytes_in_flight,
                                                  self.budget.peak)
            # One buffer per segment (segments are small and bounded): far cheaper than
            # streaming chunk by chunk through the file thread pool. read() raises
            # ClientPayloadError if the body comes up short of Content-Length.
            reader = (resp.read() if expected is not None
                      else read_capped_stream(resp, cap, "segment", seg.uri))
            data = await read_watched(resp, reader, self.watch, began)
        encoding = resp.headers.get("Content-Encoding", "identity").lower()
        if encoding != "identity":  # sent although we asked for identity
            try:
                data = decode_capped(data, encoding, cap, "segment")
            except UnsupportedEncoding as exc:
                raise RemoteError(f"segment: {exc}", url=seg.uri) from None
            except AnswerTooLarge as exc:
                raise RemoteError(str(exc), url=seg.uri) from None
        if expected is not None and len(data) != expected and encoding == "identity":
            raise Retryable(f"body {len(data)} of {expected} bytes")
        if not data:
            raise Retryable("empty body")
        return data, resp

    async def _store(self, seg: Segment, data: bytes) -> Path:
        return await asyncio.to_thread(self.cache.store, seg, data)

    async def hedged(self, seg: Segment, index: int, key: bytes | None) -> tuple[Path, bytes]:
        """An attempt, raced by a second one if it runs much slower than the median."""
        pending = {asyncio.ensure_future(self.attempt(seg, key, index))}
        try:
            done, pending = await asyncio.wait(pending, timeout=self.hedge_delay())
            if done:
                return done.pop().result()
            self.stats.hedges += 1
            self.emit(FetchEvent("hedge", index, seg, detail="slow request raced by a second one"))
            pending.add(asyncio.ensure_future(self.attempt(seg, key, index)))
            error: BaseException | None = None
            winner: tuple[Path, bytes] | None = None
            while pending and winner is None:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None and winner is None:
                        winner = task.result()
                    elif task.exception() is None:
                        self._drop_twin(index, task.result()[1])
                    else:
                        error = task.exception()
            if winner is not None:
                return winner
            assert error is not None
            raise error
        finally:
            for task in pending:
                task.cancel()
            if pending:
                for outcome in await asyncio.gather(*pending, return_exceptions=True):
                    if isinstance(outcome, tuple):  # a twin that finished while cancelled
                        self._drop_twin(index, outcome[1])

    def _drop_twin(self, index: int, data: bytes) -> None:
        """A hedge twin also finished: only one copy of the segment stays reserved."""
        kept = min(len(data), self.held.get(index, 0))
        self.held[index] = self.held.get(index, 0) - kept
        self.budget.give(kept)

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
        run = self.retry.begin()
        while True:
            began = time.monotonic()
            try:
                path, data = await self.hedged(seg, index, key)
            except Gone:
                self.stats.missing.append(seg)
                self.emit(FetchEvent("gap", index, seg, detail="404 from the origin"))
                return None
            except (Retryable, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                reason = redact_url(str(exc) or type(exc).__name__)
                wait = run.next_delay(exc.delay if isinstance(exc, Retryable) else None)
                if wait is None:
                    raise TransportError(f"segment {seg.sequence} failed after "
                                         f"{run.why_stopped()} ({reason})", url=seg.uri) from exc
                self.stats.retries += 1
                self.emit(FetchEvent("retry", index, seg, detail=reason))
                await asyncio.sleep(wait)
                continue
            finally:
                self.stats.peak_bytes_in_flight = max(self.stats.peak_bytes_in_flight,
                                                      self.budget.peak)
            self.stats.durations.append(time.monotonic() - began)
            del self.stats.durations[:-64]  # the median needs only recent requests
            self.stats.bytes += len(data)
            self.stats.segments += 1
            self.emit(FetchEvent("done", index, seg, len(data)))
            return path, data


READ_BUFSIZE = 1 << 20  # bodies are read whole: no pausing the transport every 128 KB


def make_client_session(opts: FetchOptions) -> aiohttp.ClientSession:
    """An aiohttp session with keep-alive pooling sized for the concurrency (hedges need a little more)."""
    connector = aiohttp.TCPConnector(limit=opts.concurrency + 8, limit_per_host=0,
                                     ttl_dns_cache=300, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=opts.connect_timeout,
                                    sock_read=opts.read_timeout)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, headers=dict(opts.headers),
                                 auto_decompress=False, read_bufsize=READ_BUFSIZE)


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
    cache.clean_stale_parts()  # what a run killed with -9 left half-written
    gate = asyncio.Semaphore(opts.concurrency)
    # Twice the requests in flight: half that held ~10 MB less for ~3 % more wall time on
    # the bench's window, whose start edge stalls the consumer (README, Benchmarks).
    run_ahead = max(2 * opts.concurrency, 8)

    async def one(seg: Segment, index: int) -> Piece:
        fetcher.approve(seg)
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
            fetcher.advance(piece.index)  # its bytes leave the in-flight budget
    finally:
        waiting: list[asyncio.Future[Any]] = [producer, *tasks, *([getter] if getter else [])]
        for future in waiting:
            future.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await fetcher.keys.close()
