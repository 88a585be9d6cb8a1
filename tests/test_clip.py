"""timeshift clip end to end against the local origin: real HTTP, real ffmpeg, real MPEG-TS.

Frame indices read back from the decoded output prove which source frames a clip holds:
the samples are 10 segments of 2 s (frames 50k..50k+49), cycled by the origin, keyframes
every 25 frames.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from timeshift.clip import clip
from timeshift.errors import ForeignHostError, GapError
from timeshift.fetch import FetchOptions, SegmentCache
from timeshift.sim.frameindex import decode_frame_indices
from timeshift.sim.origin import OriginServer
from timeshift.times import NS_PER_S

FPS = 25


def ns(o: OriginServer, seconds: float) -> int:
    return int((o.stream_start + seconds) * NS_PER_S)


def frames(path: Path) -> list[int]:
    return [index for _, index in decode_frame_indices(path)]


def expected_frames(a: float, b: float) -> list[int]:
    """Source frame indices shown from stream second a to b (500 frames per 20 s cycle)."""
    return [k % 500 for k in range(round(a * FPS), round(b * FPS))]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_window_across_a_discontinuity(origin: OriginServer, tmp_path: Path) -> None:
    # 14 s is a keyframe; the window crosses the samples' wrap at 20 s (a discontinuity).
    out = tmp_path / "wrap.mp4"
    r = clip(out, domain=origin.netloc, app="live", stream="cam1", scheme="http",
             start=ns(origin, 14), end=ns(origin, 26), cache_dir=tmp_path / "cache")
    assert frames(out) == expected_frames(14, 26)
    assert r.duration is not None and abs(r.duration - 12) <= 1 / FPS + 0.03
    assert r.gaps == () and r.segments == 6 and r.retries == 0
    assert [s["type"] for s in r.media["streams"]] == ["video", "audio"]
    assert not list(tmp_path.glob(".wrap.mp4*"))  # no temporary left behind


def test_start_inside_a_gop_cuts_at_the_keyframe_before(origin: OriginServer,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "kf.mp4"
    r = clip(out, domain=origin.netloc, app="live", stream="cam1", scheme="http",
             start=ns(origin, 14.6), end=ns(origin, 17), cache_dir=tmp_path / "c", cut="keyframe")
    got, want = frames(out), expected_frames(14, 17)  # keyframe at 14.0 s is at or before 14.6 s
    # A stream-copy end cut is made in decode order, so with B-frames it may keep up to the
    # reorder depth (2 frames here) past the end; the frame-exact cut removes that.
    assert got[: len(want)] == want
    assert 0 <= len(got) - len(want) <= 2
    assert got[len(want):] == list(range(want[-1] + 1, want[-1] + 1 + len(got) - len(want)))
    assert r.covered is not None and abs(r.covered[0] - (origin.stream_start + 14)) < 1e-6


def test_ts_output_skips_remux(origin: OriginServer, tmp_path: Path) -> None:
    out = tmp_path / "raw.ts"
    clip(out, domain=origin.netloc, app="live", stream="cam1", scheme="http",
         start=ns(origin, 18), end=ns(origin, 22), cache_dir=tmp_path / "c")
    assert out.read_bytes()[0] == 0x47
    assert frames(out) == expected_frames(18, 22)


def test_gap_fails_with_report_then_allow_gaps_makes_the_clip(
        make_origin: Callable[..., OriginServer], tmp_path: Path) -> None:
    o = make_origin(history=3600, gaps=((6, 10),))
    out = tmp_path / "gap.mp4"
    kwargs = dict(domain=o.netloc, app="live", stream="cam1", scheme="http",
                  start=ns(o, 2), end=ns(o, 14), cache_dir=tmp_path / "c")
    with pytest.raises(GapError) as info:
        clip(out, **kwargs)  # type: ignore[arg-type]
    assert info.value.exit_code == 3 and not out.exists()
    report = json.loads((tmp_path / "gap.mp4.gaps.json").read_text())
    assert [(g["start"] - o.stream_start, g["end"] - o.stream_start) for g in report["gaps"]] == [(6, 10)]

    r = clip(out, allow_gaps=True, **kwargs)  # type: ignore[arg-type]
    assert frames(out) == expected_frames(2, 6) + expected_frames(10, 14)
    assert [(g["start"] - o.stream_start, g["end"] - o.stream_start) for g in r.gaps] == [(6, 10)]
    # Audio of each segment starts ~80 ms before its video (the samples' muxer cut in decode
    # order); the exact cut drops what overlaps at the splice, so the clip is 8 s to the frame.
    assert r.duration is not None and abs(r.duration - 8) <= 1 / FPS


def test_faults_give_the_same_output_as_a_clean_run(make_origin: Callable[..., OriginServer],
                                                    tmp_path: Path) -> None:
    clean = make_origin(history=3600)
    faulty = make_origin(history=3600, fail_rate=0.10, truncate_rate=0.05, seed=7)
    fast = FetchOptions(backoff=0.01, max_backoff=0.05, retries=12)
    outs = []
    for name, o in (("clean", clean), ("faulty", faulty)):
        out = tmp_path / f"{name}.mp4"
        start = ns(o, 40)  # the same stream second on both origins: the same source frames
        r = clip(out, domain=o.netloc, app="live", stream="cam1", scheme="http",
                 start=start, end=start + 30 * NS_PER_S, cache_dir=tmp_path / name, fetch=fast)
        outs.append((out, r))
    assert faulty.config.counters.get("5xx", 0) + faulty.config.counters.get("truncated", 0) > 0
    assert outs[1][1].retries > 0
    assert frames(outs[0][0]) == frames(outs[1][0]) == expected_frames(40, 70)
    assert sha(outs[0][0]) == sha(outs[1][0])


def test_foreign_host_is_refused_unless_allowed(make_origin: Callable[..., OriginServer],
                                                tmp_path: Path) -> None:
    o = make_origin(history=3600)
    o.config.segment_host = f"localhost:{o.port}"  # same server, a name the playlist did not use
    kwargs = dict(domain=o.netloc, app="live", stream="cam1", scheme="http",
                  start=ns(o, 0), end=ns(o, 4), cache_dir=tmp_path / "c")
    with pytest.raises(ForeignHostError):
        clip(tmp_path / "x.mp4", **kwargs)  # type: ignore[arg-type]
    assert o.config.counters.get("segments", 0) == 0  # nothing was fetched
    clip(tmp_path / "x.mp4", allowed_hosts=(f"localhost:{o.port}",), **kwargs)  # type: ignore[arg-type]
    assert frames(tmp_path / "x.mp4") == expected_frames(0, 4)


def test_killed_run_resumes_without_refetching(make_origin: Callable[..., OriginServer],
                                               tmp_path: Path) -> None:
    o = make_origin(history=3600, latency=0.15)
    cache = tmp_path / "cache"
    out = tmp_path / "resume.mp4"
    t0 = int(o.stream_start)
    args = [sys.executable, "-m", "timeshift", "clip", "--domain", o.netloc, "--scheme", "http",
            "--app", "live", "--stream", "cam1", "--start", str(t0 + 100), "--end", str(t0 + 160),
            "-o", str(out), "--cache-dir", str(cache), "--concurrency", "2", "--progress", "none"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(cache.glob("*/*.ts"))) < 8:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(0.5)  # requests the dead client left in flight still reach the origin's counter
    done = {p.name for p in cache.glob("*/*.ts")}
    assert 8 <= len(done) < 30 and not out.exists()
    served_before = o.config.counters["segments"]

    r = subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["cached_segments"] == len(done)
    assert o.config.counters["segments"] - served_before == 30 - len(done)
    assert frames(out) == expected_frames(100, 160)
    assert not list(cache.glob("*/*.ts"))  # used segments are dropped after success


def test_long_playlist_is_read_whole(origin: OriginServer) -> None:
    # A playlist far larger than one socket read (1800 entries, ~170 KB with PDTs).
    import asyncio

    from timeshift.fetch import fetch_text, make_client_session
    from timeshift.playlist import parse_playlist
    from timeshift.urls import TimeshiftURL

    url = str(TimeshiftURL.vod(origin.netloc, "live", "cam1", ns(origin, -3600), ns(origin, 3600),
                               scheme="http"))

    async def get() -> str:
        async with make_client_session(FetchOptions()) as session:
            return await fetch_text(session, url)

    text = asyncio.run(get())
    assert len(text) > 150_000 and text.rstrip().endswith("#EXT-X-ENDLIST")
    assert len(parse_playlist(text, url).segments) == 1800


def test_cache_key_ignores_signing() -> None:
    a = SegmentCache.key("http://h/live/cam1/5.ts?t=10&auth_key=1-0-0-abc")
    b = SegmentCache.key("http://h/live/cam1/5.ts?t=10&auth_key=2-0-0-def")
    assert a == b != SegmentCache.key("http://h/live/cam1/6.ts?t=10")


def test_cli_exit_3_on_gap_and_json_summary(make_origin: Callable[..., OriginServer],
                                            tmp_path: Path) -> None:
    o = make_origin(history=3600, gaps=((4, 6),))
    t0 = int(o.stream_start)
    base = [sys.executable, "-m", "timeshift", "clip", "--domain", o.netloc, "--scheme", "http",
            "--app", "live", "--stream", "cam1", "--start", str(t0), "--end", str(t0 + 10),
            "-o", str(tmp_path / "c.mp4"), "--cache-dir", str(tmp_path / "cache")]
    r = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and "--allow-gaps" in r.stderr and len(r.stderr.splitlines()) == 1
    r = subprocess.run(base + ["--allow-gaps", "--json", "--progress", "jsonl"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"output", "requested", "covered", "duration", "segments", "bytes", "retries", "gaps",
            "elapsed"} <= set(out)
    assert out["segments"] == 4 and len(out["gaps"]) == 1 and abs(out["duration"] - 8) < 0.1
    events = [json.loads(line) for line in r.stderr.splitlines()]
    assert events[0]["event"] == "plan" and events[-1]["event"] == "finished"
    assert sum(e["event"] == "done" for e in events) == 4


def test_demo_runs(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "timeshift", "demo", "-o", str(tmp_path / "d.mp4"),
                        "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["clip"]["media"]["frames"] == {"first": 325, "last": 324, "count": 500}
    assert out["archive"]["status"] == "ok" and out["archive"]["segments"] == 30
    assert out["played_seconds"] == pytest.approx(60.0, abs=0.1)
    assert "x-oss-process=hls%2Fsign" in out["index_url"]
