"""The CLI's rough edges of issue 11 (item 11, the parts that are not servers or callbacks) and
its share of item 7: one line and exit 2 for bad input, an output that cannot be written fails
before any download, stale .part files of a killed clip are cleaned, a port in use is one
line, and neither -vv logs nor --json errors carry a signature."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile import Hostile, redirect

from timeshift.cli import main
from timeshift.clip import clip
from timeshift.errors import UsageError
from timeshift.sim.origin import OriginServer
from timeshift.times import NS_PER_S

SECRET = "0123456789abcdef0123456789abcdef"
SIGNED = f"auth_key=1700000000-0-0-{SECRET}"


def _run(*args: str, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "timeshift", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def _one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.mark.parametrize("url", ["http://[::1", "http://h:99999/live/s.m3u8?lhs_start=1"])
def test_url_parse_of_a_broken_url_is_one_line_exit_2(url: str) -> None:
    r = _run("url", "--parse", url)
    assert r.returncode == 2
    assert "--parse" in _one_line_error(r)


def test_clip_to_a_directory_fails_before_any_download(origin: OriginServer,
                                                       tmp_path: Path) -> None:
    start = int((origin.stream_start + 10) * NS_PER_S)
    began = time.monotonic()
    with pytest.raises(UsageError, match="directory"):
        clip(tmp_path, domain=origin.netloc, app="live", stream="cam1", scheme="http",
             start=start, end=start + 60 * NS_PER_S, cache_dir=tmp_path / "c")
    assert time.monotonic() - began < 5
    assert origin.config.counters.get("requests", 0) == 0  # not even the playlist


def test_stale_part_files_of_the_same_output_are_cleaned(origin: OriginServer,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    # What a kill -9 leaves: parts of a dead run (an old name, and one naming a dead pid), a
    # part of another output, and one of a run still alive (this process).
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = [tmp_path / ".x.mp4.1a2b3c4d.part", tmp_path / f".x.mp4.{dead}-5e6f7a8b.part"]
    other = tmp_path / ".y.mp4.1a2b3c4d.part"
    alive = tmp_path / f".x.mp4.{os.getpid()}-9c8d7e6f.part"
    # And in the segment cache: a dead run's part, an old-format one an hour old, a live one.
    cache = tmp_path / "c" / "ab"
    cache.mkdir(parents=True)
    stale += [cache / f"{'0' * 40}.ts.{dead}-1a2b3c4d.part", cache / f"{'1' * 40}.ts.5e6f7a8b.part"]
    fresh = [cache / f"{'2' * 40}.ts.{os.getpid()}-9c8d7e6f.part",
             cache / f"{'3' * 40}.ts.0a1b2c3d.part"]
    for p in (*stale, other, alive, *fresh):
        p.write_bytes(b"partial")
    os.utime(stale[-1], (time.time() - 3600, time.time() - 3600))
    start = int((origin.stream_start + 10) * NS_PER_S)
    clip(out, domain=origin.netloc, app="live", stream="cam1", scheme="http", start=start,
         end=start + 4 * NS_PER_S, cache_dir=tmp_path / "c")
    assert out.exists()
    assert not any(p.exists() for p in stale)
    assert other.exists() and alive.exists() and all(p.exists() for p in fresh)


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _run("sim", "origin", "--port", str(port), timeout=30)
    assert r.returncode == 2
    line = _one_line_error(r)
    assert str(port) in line and "in use" in line


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with Hostile() as srv:
        yield srv


def test_json_error_of_a_redirect_loop_carries_no_signature(hostile: Hostile,
                                                            tmp_path: Path) -> None:
    hostile.routes["/loop.m3u8"] = redirect(f"/loop.m3u8?{SIGNED}")
    r = _run("clip", "--url", f"{hostile.url}/loop.m3u8?{SIGNED}", "-o", str(tmp_path / "o.mp4"),
             "--json", "--progress", "jsonl", "--cache-dir", str(tmp_path / "c"))
    assert r.returncode == 1
    assert SECRET not in r.stdout and SECRET not in r.stderr
    assert "redirects" in json.loads(r.stdout)["message"]


def test_vv_logs_of_a_signed_run_carry_no_signature(make_origin: Callable[..., OriginServer],
                                                    tmp_path: Path) -> None:
    from timeshift.auth import Signer
    key = "the-domain-key"
    # The local origin checks type A only; it ignores the F signature the client adds, which
    # is what is to be hidden here (custom parameter names, as --auth-param-names gives).
    o = make_origin(history=600)
    t0 = int(o.stream_start)
    r = _run("-vv", "clip", "--domain", o.netloc, "--scheme", "http", "--app", "live",
             "--stream", "cam1", "--start", str(t0 + 10), "--end", str(t0 + 14),
             "-o", str(tmp_path / "s.ts"), "--progress", "jsonl", "--auth-type", "F",
             "--auth-key-env", "K", "--auth-param-names", "hh,tt",
             "--cache-dir", str(tmp_path / "c"), env={"K": key}, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "hh=***" in r.stderr  # the signed requests were logged, redacted
    signed = Signer("F", key, param_names=("hh", "tt")).sign(f"http://{o.netloc}/x")
    assert not [line for line in r.stderr.splitlines()
                if "hh=" in line and "hh=***" not in line], signed
    assert key not in r.stderr


def test_limit_flags_reach_the_fetcher(hostile: Hostile, tmp_path: Path) -> None:
    from hostile import media_playlist, raw, sample, text
    hostile.routes["/p.m3u8"] = text(media_playlist(["/s0.ts"]))
    hostile.routes["/s0.ts"] = raw(sample(0) * 8)
    code = main(["clip", "--url", f"{hostile.url}/p.m3u8", "-o", str(tmp_path / "o.ts"),
                 "--max-segment-size", "0.5", "--progress", "none",
                 "--cache-dir", str(tmp_path / "c")])
    assert code == 1 and hostile.hits["/s0.ts"] == 1  # over 0.5 MiB: refused, not retried
    assert main(["clip", "--url", f"{hostile.url}/p.m3u8", "-o", str(tmp_path / "o.ts"),
                 "--max-playlist-segments", "0", "--progress", "none"]) == 2
