"""Hardening of the segment fetcher against a hostile origin (issue 11, items 1, 2, 4-7), over
real sockets on 127.0.0.1: hosts are (scheme, host, port), redirects are followed by hand and
checked, answers are capped in decoded bytes, every transfer has a deadline, memory has a
budget, and no signature reaches an error or a progress event."""

from __future__ import annotations

import asyncio
import gzip
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile import (
    Hostile,
    drip,
    endless,
    gzip_bomb,
    media_playlist,
    raw,
    redirect,
    sample,
    text,
)

from timeshift.clip import clip
from timeshift.errors import ForeignHostError, RemoteError, TimeshiftError, TransportError
from timeshift.fetch import (
    FetchEvent,
    FetchOptions,
    FetchStats,
    SegmentCache,
    fetch_segments,
    fetch_text,
    make_client_session,
)
from timeshift.playlist import parse_playlist

SECRET = "0123456789abcdef0123456789abcdef"  # an MD5-shaped signature
SIGNED = f"auth_key=1700000000-0-0-{SECRET}"


@pytest.fixture
def origin() -> Iterator[Hostile]:
    with Hostile() as srv:
        yield srv


@pytest.fixture
def internal() -> Iterator[Hostile]:
    """Another service on the same machine (another port) that no playlist may reach."""
    with Hostile({"/secret": text("internal data")}) as srv:
        yield srv


def _bounded(fn: Any, limit: float) -> Any:
    """Run ``fn`` in a thread; fail (not hang) if it takes longer than ``limit`` seconds."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the test below
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    began = time.monotonic()
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"still running after {limit} s"
    box["elapsed"] = time.monotonic() - began
    return box


def _fetch(url: str, opts: FetchOptions | None = None, cache: Path | None = None,
           events: list[FetchEvent] | None = None) -> list[bytes]:
    opts = opts or FetchOptions()

    async def run(cache: Path) -> list[bytes]:
        async with make_client_session(opts) as session:
            segs = parse_playlist(await fetch_text(session, url), url).segments
            return [getattr(p, "data", b"") async for p in fetch_segments(
                session, segs, SegmentCache(cache), opts,
                FetchStats(), (events.append if events is not None else lambda e: None))]

    if cache is not None:
        return asyncio.run(run(cache))
    # A fresh cache per call: a shared one (it was "/nonexistent-cache", which a root run
    # creates) kept segments across runs, and a reused port could be answered from it.
    with tempfile.TemporaryDirectory() as fresh:
        return asyncio.run(run(Path(fresh)))


def _clip(url: str, tmp_path: Path, **kwargs: Any) -> Any:
    return clip(tmp_path / "out.mp4", url=url, cache_dir=tmp_path / "cache", **kwargs)


# ---- 1. one fetch policy: (scheme, host, port), redirects by hand

def test_segment_on_another_port_is_refused(origin: Hostile, internal: Hostile,
                                            tmp_path: Path) -> None:
    origin.routes["/p.m3u8"] = text(media_playlist([f"{internal.url}/secret"]))
    with pytest.raises(ForeignHostError, match="port"):
        _clip(f"{origin.url}/p.m3u8", tmp_path)
    assert internal.total == 0


@pytest.mark.parametrize("what", ["segment", "key", "playlist"])
def test_redirect_to_another_service_is_refused(origin: Hostile, internal: Hostile,
                                                tmp_path: Path, what: str) -> None:
    keyline = {0: '#EXT-X-KEY:METHOD=AES-128,URI="/k.key"'} if what == "key" else None
    origin.routes["/p.m3u8"] = text(media_playlist(["/s0.ts"], key_lines=keyline))
    origin.routes["/s0.ts"] = raw(sample(0))
    origin.routes["/k.key"] = raw(b"k" * 16)
    target = {"segment": "/s0.ts", "key": "/k.key", "playlist": "/start.m3u8"}[what]
    if what == "playlist":
        origin.routes["/start.m3u8"] = redirect(f"{internal.url}/secret?{SIGNED}")
        url = f"{origin.url}/start.m3u8"
    else:
        origin.routes[target] = redirect(f"{internal.url}/secret")
        url = f"{origin.url}/p.m3u8"
    with pytest.raises(ForeignHostError, match="redirect") as info:
        _clip(url, tmp_path)
    assert internal.total == 0
    assert SECRET not in str(info.value)


def test_redirect_within_the_origin_is_followed(origin: Hostile) -> None:
    origin.routes["/old.m3u8"] = redirect("/p.m3u8", 301)
    origin.routes["/p.m3u8"] = text(media_playlist(["/moved/s0.ts"]))
    origin.routes["/moved/s0.ts"] = redirect(f"{origin.url}/s0.ts", 307)
    origin.routes["/s0.ts"] = raw(sample(0))
    assert _fetch(f"{origin.url}/old.m3u8") == [sample(0)]
    assert origin.hits["/s0.ts"] == 1


def test_redirect_loop_stops_at_the_hop_limit_without_the_signature(origin: Hostile) -> None:
    origin.routes["/loop.m3u8"] = redirect(f"/loop.m3u8?{SIGNED}")
    with pytest.raises(RemoteError, match="redirects") as info:
        _fetch(f"{origin.url}/loop.m3u8?{SIGNED}")
    assert origin.hits["/loop.m3u8"] <= 6
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.to_dict())


def test_bad_segment_port_is_one_clean_line(origin: Hostile, tmp_path: Path) -> None:
    origin.routes["/p.m3u8"] = text(media_playlist([f"http://127.0.0.1:99999/s.ts?{SIGNED}"]))
    with pytest.raises(TimeshiftError) as info:
        _clip(f"{origin.url}/p.m3u8", tmp_path)
    assert SECRET not in str(info.value) and "\n" not in str(info.value)


# ---- 2. answers capped in decoded bytes

def test_gzip_playlist_is_decoded(origin: Hostile) -> None:
    body = gzip.compress(media_playlist(["/s0.ts"]).encode())
    origin.routes["/p.m3u8"] = raw(body, **{"Content-Encoding": "gzip"})
    origin.routes["/s0.ts"] = raw(sample(0))
    assert _fetch(f"{origin.url}/p.m3u8") == [sample(0)]


def test_gzip_bomb_playlist_is_refused_at_the_cap(origin: Hostile) -> None:
    origin.routes["/p.m3u8"] = raw(gzip_bomb(64 << 20), **{"Content-Encoding": "gzip"})
    box = _bounded(lambda: _fetch(f"{origin.url}/p.m3u8"), 20)
    assert isinstance(box.get("error"), RemoteError), box
    assert "over" in str(box["error"])


# ---- 4. a deadline per attempt, a minimum rate, bounded in total (hedge included)

def test_dripping_segment_fails_in_bounded_time(origin: Hostile) -> None:
    origin.routes["/p.m3u8"] = text(media_playlist(["/s0.ts"]))
    origin.routes["/s0.ts"] = drip(10_000, 3.0)
    opts = FetchOptions(retries=2, backoff=0.01, max_backoff=0.02, attempt_timeout=1.0,
                        hedge_min=0.3)
    box = _bounded(lambda: _fetch(f"{origin.url}/p.m3u8", opts), 30)
    assert isinstance(box.get("error"), TransportError), box
    assert box["elapsed"] < 12
    assert origin.hits["/s0.ts"] >= 3  # each try (and its hedge) was given up, then retried


def test_too_slow_transfer_fails_on_the_minimum_rate(origin: Hostile) -> None:
    origin.routes["/p.m3u8"] = text(media_playlist(["/s0.ts"]))
    origin.routes["/s0.ts"] = drip(10_000, 0.2, b"\x47" * 10)  # 50 bytes/s
    opts = FetchOptions(retries=0, min_rate=1000, rate_grace=0.5, hedge_min=60)
    box = _bounded(lambda: _fetch(f"{origin.url}/p.m3u8", opts), 20)
    assert isinstance(box.get("error"), TransportError), box
    assert "rate" in str(box["error"]) and box["elapsed"] < 5


# ---- 5. a per-segment cap of tens of MB, failing at once; a budget of bytes in flight

def test_default_segment_cap_is_tens_of_megabytes() -> None:
    assert 16 << 20 <= FetchOptions().max_segment_bytes <= 128 << 20
    assert FetchOptions().max_bytes_in_flight <= 1 << 30


def test_endless_segment_fails_as_soon_as_it_is_over_the_cap(origin: Hostile) -> None:
    origin.routes["/p.m3u8"] = text(media_playlist(["/s0.ts"]))
    origin.routes["/s0.ts"] = endless()
    opts = FetchOptions(retries=0, max_segment_bytes=2 << 20)
    box = _bounded(lambda: _fetch(f"{origin.url}/p.m3u8", opts), 20)
    assert isinstance(box.get("error"), RemoteError), box
    assert "over" in str(box["error"])


def test_bytes_in_flight_stay_within_the_budget(origin: Hostile, tmp_path: Path) -> None:
    body = sample(0) * 4  # ~1-2 MB each
    n = 12
    origin.routes["/p.m3u8"] = text(media_playlist([f"/s{i}.ts" for i in range(n)]))
    for i in range(n):
        origin.routes[f"/s{i}.ts"] = raw(body)
    budget = 3 * len(body)
    opts = FetchOptions(concurrency=12, max_bytes_in_flight=budget)
    stats = FetchStats()

    async def run() -> int:
        url = f"{origin.url}/p.m3u8"
        async with make_client_session(opts) as session:
            segs = parse_playlist(await fetch_text(session, url), url).segments
            count = 0
            async for piece in fetch_segments(session, segs, SegmentCache(tmp_path), opts,
                                              stats):
                await asyncio.sleep(0.05)  # a slow consumer: finished segments pile up
                count += getattr(piece, "data", None) == body
            return count

    assert asyncio.run(run()) == n
    # The budget holds, except the one segment the consumer waits for, which always proceeds.
    assert 0 < stats.peak_bytes_in_flight <= budget + len(body)


# ---- 7. no signature in progress events

def test_retry_events_carry_no_signature(origin: Hostile) -> None:
    origin.routes["/p.m3u8"] = text(media_playlist([f"/s0.ts?{SIGNED}"]))
    calls = {"n": 0}

    async def flaky(request: Any) -> Any:
        from aiohttp import web
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(status=302, headers={"Location": f"http://127.0.0.1:99999/x?{SIGNED}"})
        return web.Response(body=sample(0))

    origin.routes["/s0.ts"] = flaky
    events: list[FetchEvent] = []
    with pytest.raises(TimeshiftError) as info:
        _fetch(f"{origin.url}/p.m3u8", FetchOptions(retries=1, backoff=0.01), events=events)
    assert SECRET not in str(info.value)
    assert all(SECRET not in e.detail for e in events)


# ---- 1. what was found with archive: an internal answer uploaded into the user's bucket

def test_archive_never_uploads_what_a_redirect_to_another_service_answers(
        origin: Hostile, internal: Hostile, make_oss: Any, tmp_path: Path) -> None:
    from timeshift.archive import ArchiveJob, ArchiveOptions, OssStore, archive_job
    from timeshift.openapi.credentials import Credentials
    from timeshift.times import NS_PER_S

    t0 = 1795240800  # the playlist's PDT, 2026-11-21T06:00:00Z
    origin.routes["/live/cam1.m3u8"] = text(media_playlist(["/s0.ts", "/s1.ts"]))
    origin.routes["/s0.ts"] = raw(sample(0))
    origin.routes["/s1.ts"] = redirect(f"{internal.url}/secret")
    origin.routes["/openapi/timeline/query"] = text(
        f'{{"retCode": 0, "content": {{"timeline": [{{"start": {t0}, "end": {t0 + 4}}}], '
        f'"current": {t0 + 100}}}}}')
    oss = make_oss(buckets=("bkt-archive",))
    store = OssStore(oss.url, "bkt-archive", Credentials("testid", "testsecret"))
    job = ArchiveJob(domain=origin.netloc, app="live", stream="cam1", start=t0 * NS_PER_S,
                     end=(t0 + 4) * NS_PER_S, bucket="bkt-archive", endpoint=oss.url)
    options = ArchiveOptions(scheme="http", cache_dir=tmp_path / "cache",
                             fetch=FetchOptions(backoff=0.01, max_backoff=0.05))
    result = asyncio.run(archive_job(job, store, options))
    assert not result.ok and "redirect" in str(result.error)
    assert internal.total == 0
    assert all(b"internal data" not in store.get(k) for k in store.list(""))
