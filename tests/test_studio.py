"""``timeshift studio`` without a browser: its API against the local origin over real sockets.

Stills and thumbnails are JPEGs decoded back with PyAV, and the frame index the samples
draw into every picture is read from them (frame k % 500 at stream second k/25), so
"the still is the frame the exact cut starts with" is measured against a real exact
clip, not taken from timestamps the studio computed. The security rules (token, Host,
Origin, signing key, one domain, one output folder) are tested as an attacker would
try them.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
import requests

from timeshift.auth import Signer
from timeshift.clip import clip
from timeshift.errors import UsageError
from timeshift.sim.frameindex import decode_frame_indices, read_frame_index
from timeshift.sim.origin import OriginServer
from timeshift.studio import StreamSource, StudioConfig, StudioServer
from timeshift.studio.frames import SegmentIndex, export_name, frame_at, split_gops, unix_text
from timeshift.times import NS_PER_S

FPS = 25


def ns(o: OriginServer, seconds: float) -> int:
    return round((o.stream_start + seconds) * NS_PER_S)


def jpeg_index(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as c:
        return read_frame_index(next(iter(c.decode(video=0))))


def thumbnail_index(data: bytes) -> int:
    """The stripe of a half-size picture: 8 rows tall, so read at row 4 (not the reader's 8)."""
    with av.open(io.BytesIO(data)) as c:
        gray = next(iter(c.decode(video=0))).reformat(format="gray")
    plane = gray.planes[0]
    row = bytes(plane)[4 * plane.line_size:5 * plane.line_size]
    bits = [row[(2 * b + 1) * gray.width // 32] >= 128 for b in range(16)]
    return sum(1 << (15 - i) for i, bit in enumerate(bits) if bit)


def expected_index(o: OriginServer, unix: str) -> int:
    return round((float(unix) - o.stream_start) * FPS) % 500


@pytest.fixture
def studio(make_origin: Callable[..., OriginServer], tmp_path: Path
           ) -> Iterator[tuple[OriginServer, StudioServer, requests.Session]]:
    """An origin with a gap at 60-90 s, a studio on its first two minutes, a logged-in session."""
    o = make_origin(history=3600, gaps=((60, 90),))
    out = tmp_path / "out"
    out.mkdir()
    cfg = StudioConfig(StreamSource(o.netloc, "live", "cam1", "http"), ns(o, 0), ns(o, 120), out)
    with StudioServer(cfg) as s:
        http = requests.Session()
        assert http.get(s.page_url, timeout=10).status_code == 200  # the token URL sets the cookie
        yield o, s, http


def base(s: StudioServer) -> str:
    return s.url


def post(http: requests.Session, s: StudioServer, path: str, body: dict[str, Any],
         token: str | None = None) -> requests.Response:
    headers = {"X-Studio-Token": s.token if token is None else token}
    return http.post(base(s) + path, json=body, headers=headers, timeout=60)


def wait_exports(http: requests.Session, s: StudioServer, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = http.get(base(s) + "/api/exports", timeout=10).json()["exports"]
        if len(jobs) >= count and all(j["status"] in ("done", "failed") for j in jobs):
            return jobs  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"exports did not finish: {jobs}")


# ------------------------------------------------------------------ pure parts


def test_gops_split_at_keyframes_as_the_cutter_does() -> None:
    packets = [(0, True), (3, False), (1, False), (6, True), (9, False), (12, True)]
    assert split_gops(packets) == ((0, 3, 1), (6, 9), (12,))


def test_frame_at_is_the_frame_on_screen_in_wall_clock() -> None:
    # Two GOPs of five 3600-tick frames (25 fps), the segment placed at unix 100 s.
    seg = SegmentIndex(100.0, 100.4, 9000, 3600,
                       (tuple(9000 + 3600 * k for k in range(5)),
                        tuple(9000 + 3600 * k for k in range(5, 10))))
    f = frame_at(seg, round(100.13 * NS_PER_S))  # inside the fourth frame (0.12-0.16 s)
    assert f is not None and (f.gop, f.pts) == (0, 9000 + 3 * 3600)
    assert f.start == round(100.12 * NS_PER_S) and f.end == round(100.16 * NS_PER_S)
    g = frame_at(seg, round(100.2 * NS_PER_S))  # exactly on the second GOP's keyframe
    assert g is not None and (g.gop, g.pts) == (1, 9000 + 5 * 3600)
    d = g.to_dict()
    assert d["start"] == "100.200000000" and d["prev"] == "100.180000000"
    assert d["next"] == "100.260000000" and d["start_ms"] == 100200
    assert frame_at(seg, round(100.5 * NS_PER_S)) is None  # every frame ended before


@pytest.mark.parametrize(("asked", "name"), [
    pytest.param("../../etc/passwd", "passwd.mp4", id="no-folders"),
    pytest.param("..\\..\\win.mp4", "win.mp4", id="no-backslash-folders"),
    pytest.param(".hidden", "hidden.mp4", id="no-dotfile"),
    pytest.param("goal 1 (final).MP4", "goal-1-final.mp4", id="plain-characters"),
])
def test_export_names_stay_plain_names(asked: str, name: str) -> None:
    assert export_name("cam1", 0, NS_PER_S, asked) == name


def test_export_name_from_the_window() -> None:
    start = 1_763_705_000 * NS_PER_S + 480_000_000
    assert export_name("cam/1", start, start + 12 * NS_PER_S) == "cam-1_20251121T060320-480Z_12.00s.mp4"
    assert unix_text(start) == "1763705000.480000000"


def test_config_refuses_a_window_that_ends_before_it_starts(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--end"):
        StudioConfig(StreamSource("h", "a", "s"), 10, 5, tmp_path)
    with pytest.raises(UsageError, match="--output-dir"):
        StudioConfig(StreamSource("h", "a", "s"), 5, 10, tmp_path / "missing")


# ------------------------------------------------------------------ stills, thumbnails, timeline


@pytest.mark.parametrize("at", [
    pytest.param(14.6, id="on-a-frame-start"),
    pytest.param(14.63, id="inside-a-frame"),
    pytest.param(19.999, id="last-frame-before-a-discontinuity"),
])
def test_the_still_is_the_first_frame_of_the_exact_clip(
        studio: tuple[OriginServer, StudioServer, requests.Session], tmp_path: Path,
        at: float) -> None:
    o, s, http = studio
    t = unix_text(ns(o, at))
    meta = http.get(base(s) + "/api/frame", params={"t": t}, timeout=30).json()
    image = http.get(base(s) + meta["image"], timeout=30)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
    seen = jpeg_index(image.content)
    out = tmp_path / "c.mp4"
    clip(out, domain=o.netloc, app="live", stream="cam1", scheme="http", start=ns(o, at),
         end=ns(o, at + 0.2), cache_dir=tmp_path / "cache")
    assert seen == decode_frame_indices(out)[0][1]
    assert seen == expected_index(o, meta["start"])  # and its timestamp names that frame
    assert float(meta["start"]) <= o.stream_start + at < float(meta["end"])
    assert meta["duration"] == pytest.approx(1 / FPS)


def test_stepping_by_prev_and_next_walks_frame_by_frame(
        studio: tuple[OriginServer, StudioServer, requests.Session]) -> None:
    o, s, http = studio
    meta = http.get(base(s) + "/api/frame", params={"t": unix_text(ns(o, 1.9))}, timeout=30).json()
    seen = [expected_index(o, meta["start"])]
    for _ in range(3):  # across the segment boundary at 2 s
        meta = http.get(base(s) + "/api/frame", params={"t": meta["next"]}, timeout=30).json()
        seen.append(jpeg_index(http.get(base(s) + meta["image"], timeout=30).content))
    meta = http.get(base(s) + "/api/frame", params={"t": meta["prev"]}, timeout=30).json()
    seen.append(jpeg_index(http.get(base(s) + meta["image"], timeout=30).content))
    assert seen == [47, 48, 49, 50, 49]


def test_a_still_in_a_gap_says_so(studio: tuple[OriginServer, StudioServer, requests.Session]
                                  ) -> None:
    o, s, http = studio
    r = http.get(base(s) + "/api/frame", params={"t": unix_text(ns(o, 70))}, timeout=30)
    assert r.status_code == 409 and r.json()["gap"] is True and "gap" in r.json()["message"]


def test_thumbnails_are_keyframes_and_cached(
        studio: tuple[OriginServer, StudioServer, requests.Session]) -> None:
    o, s, http = studio
    r = http.get(base(s) + "/api/thumb.jpg", params={"t": unix_text(ns(o, 15.5))}, timeout=30)
    assert r.status_code == 200 and "max-age" in r.headers["Cache-Control"]
    assert thumbnail_index(r.content) == 375  # the keyframe at 15 s (one every 25 frames)
    assert float(r.headers["X-Keyframe-Time"]) == pytest.approx(o.stream_start + 15)
    with av.open(io.BytesIO(r.content)) as c:
        assert c.streams.video[0].codec_context.width == 160  # small: a thumbnail
    before = o.config.counters.get("segments", 0)
    again = http.get(base(s) + "/api/thumb.jpg", params={"t": unix_text(ns(o, 15.7))}, timeout=30)
    assert again.status_code == 200 and o.config.counters.get("segments", 0) == before


def test_timeline_and_parse(studio: tuple[OriginServer, StudioServer, requests.Session]) -> None:
    o, s, http = studio
    t0 = int(o.stream_start)
    tl = http.get(base(s) + "/api/timeline", params={"start": t0, "end": t0 + 120},
                  timeout=30).json()
    assert tl["gaps"] == [{"start": t0 + 60, "end": t0 + 90}]
    r = http.get(base(s) + "/api/parse", params={"t": "2026-11-21T14:03:10.48+08:00"}, timeout=10)
    assert r.json()["t"] == "1795240990.480000000"
    bad = http.get(base(s) + "/api/parse", params={"t": "half past", "option": "--start"},
                   timeout=10)
    assert bad.status_code == 400 and bad.json()["message"].startswith(
        "timeshift studio: error: --start: 'half past' is not a time")
    assert bad.json()["exit_code"] == 2
    far = http.get(base(s) + "/api/parse", params={"t": "now-99999999d"}, timeout=10)
    assert far.status_code == 400 and "out of range" in far.json()["message"]


# ------------------------------------------------------------------ exports


def test_exports_queue_and_report_errors_as_the_cli(
        studio: tuple[OriginServer, StudioServer, requests.Session]) -> None:
    o, s, http = studio
    ok = post(http, s, "/api/exports", {"start": unix_text(ns(o, 14.6)),
                                        "end": unix_text(ns(o, 15.8))})
    gap = post(http, s, "/api/exports", {"start": unix_text(ns(o, 58)),
                                         "end": unix_text(ns(o, 92))})
    closed = post(http, s, "/api/exports", {"start": unix_text(ns(o, 58)),
                                            "end": unix_text(ns(o, 92)), "allow_gaps": True})
    assert [r.status_code for r in (ok, gap, closed)] == [202, 202, 202]
    assert ok.json()["status"] == "queued"  # queued behind nothing, run in the background
    jobs = {j["id"]: j for j in wait_exports(http, s, 3)}
    done = jobs[ok.json()["id"]]
    assert done["status"] == "done" and done["duration"] == pytest.approx(1.24, abs=0.001)
    file = http.get(base(s) + done["url"], timeout=30)
    assert file.status_code == 200 and "attachment" in file.headers["Content-Disposition"]
    path = Path(s.config.output_dir) / done["name"]
    frames = [i for _, i in decode_frame_indices(path)]
    # Out is inclusive: the frame on screen at 15.8 s (395) is the last one.
    assert (frames[0], frames[-1], len(frames)) == (365, 395, 31)
    failed = jobs[gap.json()["id"]]
    assert failed["status"] == "failed" and failed["error"]["exit_code"] == 3
    assert failed["error"]["message"].startswith(
        "timeshift clip: error: the window has 1 gap(s), 30 s without data; "
        "pass --allow-gaps to make the clip from what exists")
    with_gaps = jobs[closed.json()["id"]]
    assert with_gaps["status"] == "done" and len(with_gaps["gaps"]) == 1


def test_bad_marks_are_one_line_like_the_cli(
        studio: tuple[OriginServer, StudioServer, requests.Session]) -> None:
    o, s, http = studio
    r = post(http, s, "/api/exports", {"start": unix_text(ns(o, 20)), "end": unix_text(ns(o, 10))})
    assert r.status_code == 400 and r.json()["message"].startswith("timeshift clip: error: --end:")
    r = post(http, s, "/api/exports", {"start": "soon", "end": unix_text(ns(o, 10))})
    assert r.status_code == 400 and "--start: 'soon' is not a time" in r.json()["message"]


def test_preview_is_a_short_exact_mp4(studio: tuple[OriginServer, StudioServer, requests.Session]
                                      ) -> None:
    o, s, http = studio
    r = post(http, s, "/api/preview", {"t": unix_text(ns(o, 30.4))})
    assert r.status_code == 200, r.text
    video = http.get(base(s) + r.json()["url"], timeout=30)
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as c:
        frames = [read_frame_index(f) for f in c.decode(video=0)]
    assert frames[0] == 760 % 500 and len(frames) == 4 * FPS


# ------------------------------------------------------------------ security


def test_every_request_needs_the_session_token(
        studio: tuple[OriginServer, StudioServer, requests.Session]) -> None:
    o, s, http = studio
    stranger = requests.Session()
    assert stranger.get(base(s) + "/", timeout=10).status_code == 403
    assert stranger.get(base(s) + "/api/config", timeout=10).status_code == 403
    assert stranger.get(base(s) + "/?token=wrong", timeout=10).status_code == 403
    body = {"start": unix_text(ns(o, 10)), "end": unix_text(ns(o, 11))}
    # The cookie alone does not change anything: a cross-site form would carry it too.
    assert post(http, s, "/api/exports", body, token="").status_code == 403
    assert post(http, s, "/api/exports", body, token="guess").status_code == 403
    r = http.post(base(s) + "/api/exports", json=body, timeout=10,
                  headers={"X-Studio-Token": s.token, "Origin": "http://evil.example"})
    assert r.status_code == 403
    # DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends its own Host.
    r = http.get(base(s) + "/api/config", headers={"Host": f"evil.example:{s.port}"},
                 timeout=10)
    assert r.status_code == 403
    assert http.get(base(s) + "/api/exports", timeout=10).json() == {"exports": []}
    assert http.get(base(s) + "/files/..%2f..%2fetc%2fpasswd", timeout=10).status_code == 404
    # Hostile values that are not ASCII are refused, not a crash.
    assert stranger.get(base(s) + "/?token=%C3%A9t%C3%A9", timeout=10).status_code == 403
    r = http.post(base(s) + "/api/exports", json=body, timeout=10,
                  headers={"X-Studio-Token": "\u00e9t\u00e9".encode().decode("latin-1")})
    assert r.status_code == 403


def test_the_studio_binds_loopback_by_default(tmp_path: Path) -> None:
    cfg = StudioConfig(StreamSource("127.0.0.1:9", "a", "s", "http"), 0, NS_PER_S, tmp_path)
    assert cfg.host == "127.0.0.1"
    with StudioServer(cfg) as s:
        assert s.url.startswith("http://127.0.0.1:")


def test_signing_keys_stay_on_the_server(make_origin: Callable[..., OriginServer],
                                         tmp_path: Path) -> None:
    key = "studio-s3cret-key-" + os.urandom(6).hex()
    signer = Signer("A", key)
    o = make_origin(history=3600, signer=signer)
    cfg = StudioConfig(StreamSource(o.netloc, "live", "cam1", "http", signer), ns(o, 0),
                       ns(o, 120), tmp_path)
    assert key not in repr(cfg)
    with StudioServer(cfg) as s:
        http = requests.Session()
        bodies = [http.get(s.page_url, timeout=10).text]
        for path in ("/static/main.js", "/static/api.js", "/static/timeline.js", "/api/config",
                     "/api/exports"):
            bodies.append(http.get(base(s) + path, timeout=10).text)
        t = {"t": unix_text(ns(o, 14.6))}
        frame = http.get(base(s) + "/api/frame", params=t, timeout=30)
        assert frame.status_code == 200  # signed requests worked: the origin checks them
        bodies.append(frame.text)
        bodies.append(json.dumps(dict(http.get(base(s) + frame.json()["image"],
                                               timeout=30).headers)))
        tl = http.get(base(s) + "/api/timeline", params={"start": int(o.stream_start),
                                                         "end": int(o.stream_start) + 60},
                      timeout=30)
        assert tl.status_code == 200
        bodies.append(tl.text)
        post(http, s, "/api/exports", {"start": t["t"], "end": unix_text(ns(o, 15))})
        bodies.append(json.dumps(wait_exports(http, s, 1)))
    text = "\n".join(bodies)
    assert key not in text and "auth_key" not in text
    assert '"signed": true' in bodies[4]  # the page knows only that signing happens


def test_only_the_configured_domain_is_fetched(make_origin: Callable[..., OriginServer],
                                               tmp_path: Path) -> None:
    other = make_origin(history=3600)
    # The playlist names segments on another host (as a crafted playlist would).
    o = make_origin(history=3600, absolute_uris=True, segment_host=f"localhost:{other.port}")
    cfg = StudioConfig(StreamSource(o.netloc, "live", "cam1", "http"), ns(o, 0), ns(o, 120),
                       tmp_path)
    with StudioServer(cfg) as s:
        http = requests.Session()
        http.get(s.page_url, timeout=10)
        r = http.get(base(s) + "/api/frame", params={"t": unix_text(ns(o, 14.6))}, timeout=30)
    assert r.status_code == 502 and "refusing" in r.json()["message"]
    assert other.config.counters.get("requests", 0) == 0


def test_files_are_written_only_inside_the_output_folder(
        make_origin: Callable[..., OriginServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    o = make_origin(history=3600)
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    home_cache = tmp_path / "home-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home_cache))
    monkeypatch.delenv("TIMESHIFT_CACHE_DIR", raising=False)
    cfg = StudioConfig(StreamSource(o.netloc, "live", "cam1", "http"), ns(o, 0), ns(o, 120), out)
    with StudioServer(cfg) as s:
        http = requests.Session()
        http.get(s.page_url, timeout=10)
        http.get(base(s) + "/api/thumb.jpg", params={"t": unix_text(ns(o, 5))}, timeout=30)
        assert post(http, s, "/api/preview", {"t": unix_text(ns(o, 5))}).status_code == 200
        r = post(http, s, "/api/exports", {"start": unix_text(ns(o, 3)),
                                           "end": unix_text(ns(o, 4)), "name": "../../evil.mp4"})
        assert r.status_code == 202 and r.json()["name"] == "evil.mp4"
        jobs = wait_exports(http, s, 1)
        assert jobs[0]["status"] == "done"
        work = s.state.workdir  # type: ignore[union-attr]
        assert work.parent == out.resolve()
    assert (out / "evil.mp4").exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["evil.mp4"]
    assert not home_cache.exists() and not work.exists()  # the working folder went with the studio


# ------------------------------------------------------------------ the command


def test_cli_prints_the_url_as_json_and_serves_the_demo(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "timeshift", "studio", "--demo", "--json",
                             "--output-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = json.loads(line)["url"]
        assert url.startswith("http://127.0.0.1:") and "token=" in url
        http = requests.Session()
        page = http.get(url, timeout=10)
        assert page.status_code == 200 and 'data-testid="timeline"' in page.text
        cfg = http.get(url.split("/?")[0] + "/api/config", timeout=10).json()
        assert cfg["stream"] == "demo" and cfg["output_dir"] == str(tmp_path.resolve())
        # No --end: the window runs up to now, and the page's refresh extends it.
        assert cfg["follow"] is True and abs(float(cfg["window"]["end"]) - time.time()) < 30
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == []  # the working folder is gone


def test_cli_refuses_incomplete_arguments_in_one_line() -> None:
    r = subprocess.run([sys.executable, "-m", "timeshift", "studio", "--app", "live"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert r.returncode == 2
    assert r.stderr.strip() == ("timeshift studio: error: --domain: give --domain, --app and "
                                "--stream (or --demo)")


def test_remote_failures_read_as_the_cli_says_them(
        studio: tuple[OriginServer, StudioServer, requests.Session]) -> None:
    o, s, http = studio
    o.stop()  # the origin goes away in the middle of the session
    r = post(http, s, "/api/exports", {"start": unix_text(ns(o, 3)), "end": unix_text(ns(o, 4))})
    # The out mark's frame cannot be found, so the export is refused at once, in the CLI's words.
    assert r.status_code == 502 and r.json()["exit_code"] == 1
    assert r.json()["message"].startswith("timeshift clip: error: playlist failed after")
    frame = http.get(base(s) + "/api/frame", params={"t": unix_text(ns(o, 50))}, timeout=60)
    assert frame.status_code == 502 and "Cannot connect" in frame.json()["message"]
    assert http.get(base(s) + "/api/exports", timeout=10).json() == {"exports": []}


def test_cli_says_so_in_one_line_when_the_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "timeshift", "studio", "--demo", "--port",
                            str(port), "--output-dir", str(tmp_path)], capture_output=True,
                           text=True, timeout=60,
                           env={**os.environ,
                                "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert r.returncode == 2
    # The one port-in-use message every local server gives (localserver.py).
    assert r.stderr.strip() == (
        f"timeshift studio: error: --port: cannot listen on 127.0.0.1:{port}: address already in use")
    assert len(r.stderr.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_export_progress_is_reported_while_it_runs(make_origin: Callable[..., OriginServer],
                                                   tmp_path: Path) -> None:
    # A slow origin (about 0.5 s per segment) so the export is watched while it runs.
    o = make_origin(history=3600, bandwidth=220_000)
    cfg = StudioConfig(StreamSource(o.netloc, "live", "cam1", "http"), ns(o, 0), ns(o, 120),
                       tmp_path)
    with StudioServer(cfg) as s:
        http = requests.Session()
        http.get(s.page_url, timeout=10)
        r = post(http, s, "/api/exports", {"start": unix_text(ns(o, 20.5)),
                                           "end": unix_text(ns(o, 29.5))})
        assert r.status_code == 202
        seen: list[tuple[str, float]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = http.get(base(s) + "/api/exports", timeout=10).json()["exports"][0]
            seen.append((job["status"], job["progress"]))
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
    assert seen[-1] == ("done", 1.0)
    running = [p for status, p in seen if status == "running"]
    assert any(0 < p < 1 for p in running), seen  # part-way, not just started and finished
    assert running == sorted(running)  # it only goes forward


def test_a_corrupt_stream_is_an_error_not_a_crash(make_origin: Callable[..., OriginServer],
                                                  tmp_path: Path) -> None:
    # An origin whose segments are noise (everything from the network is hostile).
    noise = tmp_path / "noise"
    noise.mkdir()
    rng = random.Random(15)  # fixed noise: os.urandom's now and then read as a stream without video
    for i in range(3):
        (noise / f"seg_{i:03d}.ts").write_bytes(rng.randbytes(40_000))
    (noise / "manifest.json").write_text('{"segment_duration": 2.0}')
    o = make_origin(history=600, samples=noise)
    out = tmp_path / "out"
    out.mkdir()
    cfg = StudioConfig(StreamSource(o.netloc, "live", "cam1", "http"), ns(o, 0), ns(o, 60), out)
    with StudioServer(cfg) as s:
        http = requests.Session()
        http.get(s.page_url, timeout=10)
        t = {"t": unix_text(ns(o, 3))}
        for path in ("/api/frame", "/api/thumb.jpg"):
            r = http.get(base(s) + path, params=t, timeout=30)
            assert r.status_code == 502 and r.json()["error"] == "CutError", (path, r.text)
            # FFmpeg's own refusal, or ours when what FFmpeg read holds no video.
            assert r.json()["message"].startswith(("timeshift studio: error: FFmpeg: ",
                                                   "timeshift studio: error: the segment has no video"))
        r = post(http, s, "/api/preview", t)  # the clip's own error (no video timing found:
        assert r.status_code == 502 and r.json()["exit_code"] == 1  # it tried ffmpeg, which failed
    assert list(out.iterdir()) == []
