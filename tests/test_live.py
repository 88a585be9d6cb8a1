"""The live edge, end to end: clips of windows that reach past what the stream has published.

Against the local origin, which publishes in real time: segment k exists once its 2 s
have passed (``OriginConfig.clock`` is the wall clock), so a window ending in the
future, or at "now", can only be completed by waiting for the stream. Every clip is
decoded and its frames read back from the pictures (each carries its index), so "frame-
exact" is checked against the source, not against the code's own arithmetic.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from timeshift.clip import aclip, clip
from timeshift.edge import EdgePolicy
from timeshift.errors import GapError, UsageError
from timeshift.fetch import FetchOptions
from timeshift.sim.frameindex import decode_frame_indices
from timeshift.sim.origin import OriginServer
from timeshift.times import NS_PER_S, parse_time

FPS = 25
FRAME = 1 / FPS
SEG = 2.0
CYCLE = 500  # frames in the samples' cycle
REPO = Path(__file__).resolve().parents[1]


def expected_frames(o: OriginServer, start: float, end: float) -> tuple[int, int, int]:
    """First and last source frame index of an exact cut of [start, end), and the count:
    the frame on screen at ``start`` through the one before ``end``."""
    a = math.floor((start - o.stream_start) * FPS + 1e-6)
    b = math.ceil((end - o.stream_start) * FPS - 1e-6)
    return a % CYCLE, (b - 1) % CYCLE, b - a


def frames_of(path: Path) -> list[int]:
    return [i for _, i in decode_frame_indices(path)]


def consecutive(indices: list[int]) -> bool:
    return all((b - a) % CYCLE == 1 for a, b in zip(indices, indices[1:], strict=False))


def published_at(o: OriginServer, t: float) -> float:
    """When the segment holding instant ``t`` is published (its end)."""
    k = math.floor((t - o.stream_start) / SEG)
    return o.stream_start + (k + 1) * SEG


def iso(text: str) -> float:
    """Seconds from a summary's ``*_iso`` field: exact, where the plain fields are rounded
    to the millisecond (enough to move a time across a frame boundary)."""
    return parse_time(text) / NS_PER_S


def run_cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "timeshift", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_a_window_ending_in_the_future_is_recorded_frame_exact(
        make_origin: Callable[..., OriginServer], tmp_path: Path) -> None:
    o = make_origin(history=600)
    now = time.time()
    start, end = now - 3.3, now + 4.7
    out = tmp_path / "next.mp4"
    r = clip(out, domain=o.netloc, app="live", stream="cam1", scheme="http",
             start=round(start * NS_PER_S), end=round(end * NS_PER_S), cache_dir=tmp_path / "c")
    finished = time.time()
    # Finished once the segment holding the end appeared, within about two target durations.
    # (2 s of slack on top: the machine running the tests is shared and often busy.)
    assert published_at(o, end) - 0.2 <= finished < end + 2 * SEG + 2.0
    assert r.live["followed"] and r.live["outcome"] == "done" and not r.live["cut_short"]
    assert r.gaps == () and r.gap_report is None and r.live["polls"] >= 1
    first, last, count = expected_frames(o, start, end)
    idx = frames_of(out)
    assert (idx[0], idx[-1], len(idx)) == (first, last, count) and consecutive(idx)
    assert r.duration is not None and abs(r.duration - count * FRAME) < 1e-3
    assert abs(r.duration - (end - start)) <= FRAME


def test_the_last_30_seconds_from_the_command_line(make_origin: Callable[..., OriginServer],
                                                   tmp_path: Path) -> None:
    o = make_origin(history=600)
    out = tmp_path / "replay.mp4"
    r = run_cli("clip", "--domain", o.netloc, "--scheme", "http", "--app", "live", "--stream",
                "cam1", "--start", "now-30s", "--end", "now", "-o", str(out), "--json",
                "--cache-dir", str(tmp_path / "c"))
    exited = time.time()
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    start, end = iso(d["requested"]["start_iso"]), iso(d["requested"]["end_iso"])
    assert end - start == pytest.approx(30.0, abs=1e-6)
    # It waited for the segment in progress, and exited within a few seconds of it appearing.
    assert d["live"]["followed"] and d["live"]["outcome"] == "done" and d["gaps"] == []
    assert exited - published_at(o, end) < 5.0
    first, last, count = expected_frames(o, start, end)
    idx = frames_of(out)
    assert (idx[0], idx[-1], len(idx)) == (first, last, count) and consecutive(idx)
    assert abs(d["duration"] - 30.0) <= FRAME and d["duration"] == pytest.approx(count * FRAME,
                                                                                abs=1e-3)


def test_a_stream_that_stops_mid_window_is_a_gap_after_the_bound(
        make_origin: Callable[..., OriginServer], tmp_path: Path) -> None:
    now = time.time()
    t0 = math.floor(now / SEG) * SEG - 600
    stop = (math.floor((now - t0) / SEG) + 2) * SEG  # publishing stops 2-4 s from now
    o = make_origin(stream_start=t0, gaps=((stop, 10**7),))
    start, end = now - 4, now + 7
    policy = EdgePolicy(wait=1.0)

    async def both() -> list[Any]:
        kw: dict[str, Any] = dict(domain=o.netloc, app="live", stream="cam1", scheme="http",
                                  start=round(start * NS_PER_S), end=round(end * NS_PER_S),
                                  edge=policy, cache_dir=tmp_path / "c")
        return await asyncio.gather(aclip(tmp_path / "strict.mp4", **kw),
                                    aclip(tmp_path / "lenient.mp4", allow_gaps=True, **kw),
                                    return_exceptions=True)

    strict, lenient = asyncio.run(both())
    gave_up = time.time()
    # Not waited on forever: given up `wait` after the end.
    assert end + 1.0 - 0.2 <= gave_up < end + 1.0 + 4.0
    assert isinstance(strict, GapError) and strict.exit_code == 3
    assert not (tmp_path / "strict.mp4").exists()
    report = json.loads((tmp_path / "strict.mp4.gaps.json").read_text())
    [gap] = report["gaps"]
    assert gap["start"] == pytest.approx(t0 + stop, abs=1e-3)
    assert gap["end"] == pytest.approx(end, abs=1e-3) and gap["reason"] == "after-end"
    assert not isinstance(lenient, BaseException)
    assert lenient.live["outcome"] == "give-up" and len(lenient.gaps) == 1
    first, _, _ = expected_frames(o, start, end)
    idx = frames_of(tmp_path / "lenient.mp4")
    assert idx[0] == first and consecutive(idx)
    assert len(idx) == math.ceil((t0 + stop - start) * FPS - 1e-6)  # all that was published


def _reader(stream: Any) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], pred: Callable[[dict[str, Any]], bool],
              timeout: float = 40, stop_at: str | None = None) -> dict[str, Any]:
    """The first JSON progress event that ``pred`` accepts (or the line holding ``stop_at``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if stop_at is not None and stop_at in line:
            return {}
        if line.startswith("{"):
            ev = json.loads(line)
            if pred(ev):
                return ev
    raise AssertionError("the event never came")


def _start_clip(o: OriginServer, tmp_path: Path, out: Path) -> tuple[subprocess.Popen[str],
                                                                    queue.Queue[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "timeshift", "clip", "--domain", o.netloc, "--scheme", "http",
         "--app", "live", "--stream", "cam1", "--start", "now-3s", "--end", "now+60s",
         "-o", str(out), "--json", "--progress", "jsonl", "--cache-dir", str(tmp_path / "c")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    return proc, _reader(proc.stderr)


def test_ctrl_c_mid_wait_writes_a_verified_partial_clip(
        make_origin: Callable[..., OriginServer], tmp_path: Path) -> None:
    o = make_origin(history=600)
    out = tmp_path / "partial.mp4"
    proc, lines = _start_clip(o, tmp_path, out)
    try:
        # Waiting at the edge, after at least one segment arrived while waiting.
        _wait_for(lines, lambda e: e.get("live", {}).get("edge") == "arrived")
        proc.send_signal(signal.SIGINT)
        # Not communicate(): it would read stderr too, racing the reader thread for the
        # progress lines this test reads below. stdout is only the small JSON summary.
        proc.wait(timeout=30)
        assert proc.stdout is not None
        stdout = proc.stdout.read()
    finally:
        proc.kill()
    assert proc.returncode == 0
    d = json.loads(stdout)
    live = d["live"]
    assert live["cut_short"] and live["outcome"] == "stopped"
    # --progress jsonl said the same, as it happened.
    stopped = _wait_for(lines, lambda e: e.get("live", {}).get("edge") == "stopped", timeout=5)
    assert stopped["event"] == "edge" and "cut short" in stopped["detail"]
    start, until = iso(d["requested"]["start_iso"]), iso(live["recorded_until_iso"])
    # Asked for a minute, covered up to where the recording stopped: and no gap for the
    # time the user chose not to wait for.
    assert d["requested"]["end"] - start == pytest.approx(63.0, abs=0.01)
    assert d["gaps"] == [] and d["covered"]["end"] == pytest.approx(until, abs=1e-3)
    assert start + 2 <= until < start + 30
    first, last, count = expected_frames(o, start, until)
    idx = frames_of(out)
    assert (idx[0], idx[-1], len(idx)) == (first, last, count) and consecutive(idx)
    assert d["duration"] == pytest.approx(count * FRAME, abs=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "partial.mp4"]  # no .part


def test_a_second_ctrl_c_aborts_and_leaves_nothing(make_origin: Callable[..., OriginServer],
                                                   tmp_path: Path) -> None:
    o = make_origin(history=600)
    out = tmp_path / "aborted.mp4"
    proc, lines = _start_clip(o, tmp_path, out)
    try:
        _wait_for(lines, lambda e: e.get("live", {}).get("edge") == "waiting")
        proc.send_signal(signal.SIGINT)
        # The second press once the first is taken (one signal pending at a time: two sent
        # at once would be one), while the window's clip is being finished.
        _wait_for(lines, lambda e: False, stop_at="ending the window now")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    # No clip, no .part, no gap report: only the segment cache (for a re-run), if anything.
    assert [p.name for p in tmp_path.iterdir() if p.name != "c"] == []


def test_a_live_playlist_dropping_its_head_while_the_clip_fetches(
        make_origin: Callable[..., OriginServer], tmp_path: Path) -> None:
    import requests

    # Two segments listed at a time, and slow delivery (one request at a time, ~1 s a
    # segment): the playlist moves on while the first segments are still being fetched.
    o = make_origin(history=600, list_size=2, bandwidth=120_000)
    url = f"{o.url}/live/cam1.m3u8"  # the plain live URL: no ENDLIST, no lhs_*
    out = tmp_path / "rec.mp4"
    r = run_cli("clip", "--url", url, "--start", "now-3s", "--duration", "9s", "-o", str(out),
                "--json", "--concurrency", "1", "--cache-dir", str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    listed = requests.get(url, timeout=5).text
    assert listed.count("#EXTINF") == 2 and "#EXT-X-ENDLIST" not in listed
    assert d["segments"] >= 5 and d["gaps"] == [] and d["live"]["outcome"] == "done"
    start, end = iso(d["requested"]["start_iso"]), iso(d["requested"]["end_iso"])
    assert end - start == pytest.approx(9.0, abs=1e-6)
    first, last, count = expected_frames(o, start, end)
    idx = frames_of(out)
    assert (idx[0], idx[-1], len(idx)) == (first, last, count) and consecutive(idx)


def test_times_too_far_ahead_are_refused(origin: OriginServer, tmp_path: Path) -> None:
    r = run_cli("clip", "--domain", origin.netloc, "--scheme", "http", "--app", "live",
                "--stream", "cam1", "--start", "now", "--end", "now+7h", "-o",
                str(tmp_path / "x.mp4"))
    assert r.returncode == 2 and "--end" in r.stderr and "6h" in r.stderr
    assert r.stderr.count("\n") == 1
    with pytest.raises(UsageError, match="into the future"):
        clip(tmp_path / "y.mp4", domain=origin.netloc, app="live", stream="cam1",
             scheme="http", start=time.time_ns(), end=time.time_ns() + 3600 * NS_PER_S,
             edge=EdgePolicy(horizon=1800))
    assert not list(tmp_path.iterdir())


def test_a_past_window_is_not_waited_on(make_origin: Callable[..., OriginServer],
                                        tmp_path: Path) -> None:
    # A gap at the end of a window that ended long ago is a gap at once, as before.
    o = make_origin(history=600, gaps=((500, 10**7),))
    began = time.monotonic()
    with pytest.raises(GapError):
        clip(tmp_path / "old.mp4", domain=o.netloc, app="live", stream="cam1", scheme="http",
             start=round((o.stream_start + 490) * NS_PER_S),
             end=round((o.stream_start + 520) * NS_PER_S), cache_dir=tmp_path / "c")
    assert time.monotonic() - began < 5


def test_fetch_options_are_kept_while_following(make_origin: Callable[..., OriginServer],
                                                tmp_path: Path) -> None:
    # A window wholly in the future: nothing is listed at first, every segment is awaited.
    o = make_origin(history=600)
    now = time.time()
    start, end = now + 1.0, now + 4.0
    r = clip(tmp_path / "soon.mp4", domain=o.netloc, app="live", stream="cam1", scheme="http",
             start=round(start * NS_PER_S), end=round(end * NS_PER_S),
             fetch=FetchOptions(concurrency=2), cache_dir=tmp_path / "c")
    assert r.live["followed"] and r.gaps == ()
    first, last, count = expected_frames(o, start, end)
    idx = frames_of(tmp_path / "soon.mp4")
    assert (idx[0], idx[-1], len(idx)) == (first, last, count) and consecutive(idx)


OSS_ENV = {"OSS_ACCESS_KEY_ID": "testid", "OSS_ACCESS_KEY_SECRET": "testsecret"}


def _manifest(oss_url: str, key: str) -> dict[str, Any]:
    from timeshift.archive import OssStore
    from timeshift.openapi.credentials import Credentials

    store = OssStore(oss_url, "archive", Credentials("testid", "testsecret"))
    return dict(json.loads(store.get(key)))


def test_archive_wait_archives_up_to_the_edge_instead_of_retry(
        make_origin: Callable[..., OriginServer], make_oss: Callable[..., Any],
        tmp_path: Path) -> None:
    o = make_origin(history=600)
    oss = make_oss(buckets=("archive",))
    env = {**os.environ, "PYTHONPATH": str(REPO), **OSS_ENV}
    r = subprocess.run(
        [sys.executable, "-m", "timeshift", "archive", "--domain", o.netloc, "--scheme", "http",
         "--app", "live", "--stream", "cam", "--start", "now-4s", "--end", "now+3s",
         "--bucket", "archive", "--endpoint", oss.url, "--wait", "--json",
         "--cache-dir", str(tmp_path / "c")],
        capture_output=True, text=True, timeout=90, env=env)
    assert r.returncode == 0, r.stderr
    [job] = json.loads(r.stdout)["jobs"]
    assert job["status"] == "ok" and job["gaps"] == []
    manifest = _manifest(oss.url, job["manifest_key"])
    assert manifest["Retry"] is False and manifest["Missing"] == []
    # Every segment of the window, the last one published only after the command began.
    start, end = iso(job["start"]), iso(job["end"])
    k0 = math.floor((start - o.stream_start) / SEG)
    k1 = math.ceil((end - o.stream_start) / SEG)
    assert job["segments"] == job["uploaded"] == k1 - k0
    assert published_at(o, end - 1e-3) > start + 4  # not there when the command began


def test_a_publish_done_before_the_last_segment_waits_for_it(
        make_origin: Callable[..., OriginServer], make_oss: Callable[..., Any],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from timeshift.callbacks.jobs import JobSpec
    from timeshift.callbacks.runners import archive_runner

    for k, v in OSS_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TIMESHIFT_CACHE_DIR", str(tmp_path / "c"))
    o = make_origin(history=600)
    oss = make_oss(buckets=("archive",))
    now = time.time()
    # The session ended "now" by the callback's clock, 3 s ahead of the published edge.
    start = math.floor(now / SEG) * SEG - 6
    end = math.floor(now / SEG) * SEG + 4
    spec = JobSpec("j1", "session", o.netloc, "live", "cam", round(start * NS_PER_S),
                   round(end * NS_PER_S), scheme="http",
                   options={"bucket": "archive", "endpoint": oss.url})
    result = asyncio.run(archive_runner(spec))
    assert time.time() >= published_at(o, end - 0.5) - 0.1  # it waited for the last segment
    assert result["status"] == "ok" and result["gaps"] == [] and result["segments"] == 5
    assert _manifest(oss.url, result["manifest_key"])["Retry"] is False


def test_a_signed_playlist_is_signed_again_while_following(
        make_origin: Callable[..., OriginServer], tmp_path: Path) -> None:
    from timeshift.auth import Signer

    # URLs are valid for 2 s: the plan's signature has long expired when the end arrives.
    o = make_origin(history=600, signer=Signer("A", "secret", ttl=2))
    now = time.time()
    start, end = now - 2, now + 5
    r = clip(tmp_path / "signed.mp4", domain=o.netloc, app="live", stream="cam1",
             scheme="http", start=round(start * NS_PER_S), end=round(end * NS_PER_S),
             signer=Signer("A", "secret", ttl=2), cache_dir=tmp_path / "c")
    assert r.live["outcome"] == "done" and r.gaps == () and r.live["polls"] >= 2
    assert o.config.counters.get("403", 0) == 0
    first, last, count = expected_frames(o, start, end)
    idx = frames_of(tmp_path / "signed.mp4")
    assert (idx[0], idx[-1], len(idx)) == (first, last, count) and consecutive(idx)


def test_archive_wait_refuses_a_window_too_far_ahead(origin: OriginServer, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), **OSS_ENV}
    r = subprocess.run(
        [sys.executable, "-m", "timeshift", "archive", "--domain", origin.netloc, "--app",
         "live", "--stream", "cam", "--start", "now", "--end", "+7h", "--bucket", "archive",
         "--endpoint", "http://127.0.0.1:9", "--wait"],
        capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and "--end" in r.stderr and "6h" in r.stderr
