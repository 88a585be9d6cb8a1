#!/usr/bin/env python3
"""Benchmark ``timeshift clip`` against peer HLS downloaders on a local origin.

One run makes one report.  The bench serves big synthetic segments (1280x720,
~1950 kbit/s, ~530 KB per 2 s segment) from the in-process time-shift origin
(``timeshift.sim.origin``) with 40 ms latency per request, and has each tool
fetch the same VOD playlist (10 minutes = 300 segments, ~160 MB by default):

* ``timeshift clip --url URL -o OUT.mp4 --progress none`` (plus ``--variants`` rows)
* ``ffmpeg -i URL -c copy -bsf:a aac_adtstoasc OUT.mp4``
* ``aria2c -j16 -x1 --dir D -i LIST`` (segment URLs only: download, no muxing)
* ``yt-dlp -N 16 --downloader m3u8:native -o OUT.mp4 URL``
* ``streamlink --stream-segment-threads 10 -o OUT.ts hls://URL best`` (TS only)
* ``timeshift archive`` of the same window into a local OSS server
  (``timeshift.sim.oss``, in the bench process beside the origin), into a fresh bucket
  and cache dir per repeat, then the same command again: the re-run must upload nothing

Each tool runs as a subprocess in its own process group.  Measured per run:
wall time, CPU seconds (user+sys of the process and its reaped children, from
``os.wait4``), peak RSS as ``ru_maxrss`` (the largest single process of the
tree) and as the peak of the tree's summed VmRSS sampled every 50 ms from
``/proc``.  The origin counts the segment requests of each run, and every
output is checked: size, duration (PyAV) and video frame count; the archiver's by its
JSON report (status ok, every playlist segment archived and uploaded; on the re-run none
uploaded and none fetched from the origin).  With
``--repeat N`` each tool runs N times and the median of each metric is shown.

``timeshift clip`` is also run on a long window (``--long-minutes``, 60 by
default) to show that its peak memory does not grow with the clip length.

Absolute numbers depend on the machine and what else runs on it; the ratios
against ``timeshift clip`` within one run are what counts.

A peer that is not installed (looked up on PATH and next to ``sys.executable``)
is skipped with a note; a tool that fails or times out is reported and the
bench goes on with the others.

Usage::

    python tools/bench.py                                  # everything, 3 repeats
    python tools/bench.py --only ffmpeg,aria2c,yt-dlp,streamlink --repeat 1
    python tools/bench.py --only timeshift --variants plain,keyframe,exact
    python tools/bench.py --only timeshift,archive --repeat 3 --long-minutes 0
    python tools/bench.py --only timeshift --variants keyframe,exact --trim 0.52,0.48
    python tools/bench.py --variants "plain;--cut exact --jobs 4"
    python tools/bench.py --minutes 5 --long-minutes 0 --json out.json --markdown out.md

Sample segments are cached in ``~/.cache/timeshift-bench/`` (``--cache-dir``),
keyed by their parameters; the first run spends ~15 s making them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from a bare checkout
    sys.path.insert(0, str(REPO_ROOT))

NS_PER_S = 1_000_000_000
SAMPLE_COUNT = 30
SAMPLE_WIDTH = 1280
SAMPLE_HEIGHT = 720
SAMPLE_BITRATE = "1950k"
SAMPLE_FPS = 25
ORIGIN_LATENCY = 0.04
ORIGIN_HISTORY = 4 * 3600
WINDOW_OFFSET = 600  # seconds after stream_start where the measured window begins
RSS_INTERVAL = 0.05
TOOL_NAMES = ("timeshift", "archive", "ffmpeg", "aria2c", "yt-dlp", "streamlink")
BASELINE = "timeshift"
ARCHIVE = "archive"  # the --only name of the two archive rows
ARCHIVE_ROW = "timeshift archive"
RERUN_ROW = "timeshift archive (re-run)"
ARCHIVE_TARGET = 1.3  # archive wall time at most this many times the clip's (issue 15)
RERUN_TARGET = 0.10  # a re-run of a finished job: under this fraction of the first run
OSS_KEY_ID = "bench"
DEFAULT_CACHE = Path.home() / ".cache" / "timeshift-bench"


# -- helpers ----------------------------------------------------------------------------


def _load_make_samples() -> ModuleType:
    """Import ``tools/make_samples.py`` by path (``tools`` is not a package)."""
    path = Path(__file__).resolve().parent / "make_samples.py"
    spec = importlib.util.spec_from_file_location("_bench_make_samples", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ffmpeg_executable() -> str:
    """The ffmpeg binary: PATH first, else imageio-ffmpeg's bundled build."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def find_program(name: str) -> str | None:
    """``name`` on PATH or in the directory of ``sys.executable`` (an un-activated venv)."""
    found = shutil.which(name)
    if found:
        return found
    return shutil.which(name, path=str(Path(sys.executable).parent))


def first_line(argv: Sequence[str]) -> str:
    """The first output line of ``argv`` (for versions), or ``"?"``."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def samples_dir(cache: Path, count: int, width: int, height: int, bitrate: str,
                codec: str = "h264", gop: int = 1) -> Path:
    """Cached sample segments for these parameters (``gop``: seconds between keyframes),
    made on first use."""
    target = cache / f"samples-n{count}-{width}x{height}-{bitrate}"
    if codec != "h264":
        target = target.with_name(f"{target.name}-{codec}")
    if gop != 1:
        target = target.with_name(f"{target.name}-gop{gop}")
    if (target / "manifest.json").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    make_samples = _load_make_samples().make_samples
    print(f"making sample segments in {target} (once) ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cache))
    try:
        make_samples(staging, count=count, width=width, height=height, bitrate=bitrate,
                     codec=codec, gop_frames=SAMPLE_FPS * gop)
        if target.exists():  # a concurrent bench won the race
            return target
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return target


# -- process-tree measurement -----------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
        except (OSError, ValueError):
            pass
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    """Summed VmRSS (KiB) of ``root`` and all its descendants."""
    return sum(_rss_kb(pid) for pid in tree_pids(root))


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants."""
    found, stack, seen = [], [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        found.append(pid)
        stack.extend(_children(pid))
    return found


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    """user+sys CPU seconds of one live process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, ValueError, IndexError):
        return None


def _label(pid: int) -> str:
    """A short name for a process: ``python -m X`` is X, anything else its program."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return "?"
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1]
    return Path(argv[0]).name if argv else "?"


@dataclass
class Proc:
    """One process of a measured tree, as last sampled: CPU so far and peak RSS."""

    label: str
    cpu_s: float = 0.0
    rss_mb: float = 0.0


@dataclass
class Run:
    """One measured subprocess run."""

    argv: list[str]
    returncode: int | None = None
    timed_out: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    user_s: float = 0.0
    sys_s: float = 0.0
    maxrss_mb: float = 0.0  # ru_maxrss: the largest single process of the tree
    tree_rss_mb: float = 0.0  # sampled peak of the tree's summed RSS
    harness_cpu_s: float = 0.0  # CPU of this process (origin + sampler) meanwhile
    # Per process of the tree (label -> CPU s, peak RSS MB), sampled from /proc: a child's
    # CPU is its last sample (up to one interval short); the tool's own process gets the
    # rest of the exact total (wait4), so the column adds up to ``cpu_s``.
    procs: dict[str, dict[str, float]] = field(default_factory=dict)
    segments_served: int = 0
    error: str | None = None
    log_tail: str = ""  # the tool's last output lines (warnings, errors)
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


# The measured tool is started by this small launcher, not forked from the bench
# itself: a forked child inherits its parent's RSS high-water mark (Linux folds the
# pre-exec mm's peak into ru_maxrss), so ru_maxrss of anything the bench forked
# directly would read at least the bench's own ~90 MB.  ``python -S`` keeps the
# launcher (and so that floor, ~8 MB) small; it times the tool, reaps it with wait4 and
# writes the rusage as JSON.
_LAUNCHER = """\
import os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
try:
    pid = os.posix_spawnp(argv[0], argv, os.environ)
except OSError as exc:
    import json
    with open(out, "w") as fh:
        json.dump({"error": "cannot start: %s" % exc}, fh)
    sys.exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
import json  # only now: everything imported before the spawn raises the RSS floor
with open(out, "w") as fh:
    json.dump({"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
               "maxrss_kb": ru.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, fh)
sys.exit(0)
"""


def measure(argv: list[str], cwd: Path, log_path: Path, timeout: float,
            env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` and measure wall, CPU (with children) and peak RSS of its tree."""
    run = Run(argv=list(argv))
    usage_path = log_path.with_suffix(".rusage.json")
    usage_path.unlink(missing_ok=True)
    self_before = os.times()
    with open(log_path, "wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER, str(usage_path), *argv], cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env)
        peak_kb = 0
        procs: dict[int, Proc] = {}
        t0 = time.perf_counter()
        deadline = t0 + timeout
        try:
            while launcher.poll() is None:
                # The tool's tree: the launcher's descendants, not the launcher itself.
                tree = 0
                for pid in (p for root in _children(launcher.pid) for p in tree_pids(root)):
                    rss, cpu = _rss_kb(pid), _cpu_s(pid)
                    tree += rss
                    proc = procs.setdefault(pid, Proc(_label(pid)))
                    proc.rss_mb = max(proc.rss_mb, rss / 1024)
                    if cpu is not None:
                        proc.cpu_s = max(proc.cpu_s, cpu)
                peak_kb = max(peak_kb, tree)
                if time.perf_counter() > deadline:
                    run.timed_out = True
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    launcher.wait(RSS_INTERVAL)
        finally:
            # Timeout, an exception here, or leftovers in the group: never leave any running.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    self_after = os.times()
    run.log_tail = tail(log_path, lines=5, width=1000)
    run.tree_rss_mb = peak_kb / 1024
    run.harness_cpu_s = (self_after.user - self_before.user) + (self_after.system - self_before.system)
    if run.timed_out:
        run.wall_s = time.perf_counter() - t0
        run.error = f"timed out after {timeout:g} s"
        return run
    try:
        usage = json.loads(usage_path.read_text())
    except (OSError, ValueError):
        run.error = f"launcher failed ({launcher.returncode}): {tail(log_path)}"
        return run
    if "error" in usage:
        run.error = str(usage["error"])
        return run
    run.returncode = int(usage["code"])
    run.wall_s = float(usage["wall"])
    run.user_s, run.sys_s = float(usage["user"]), float(usage["sys"])
    run.cpu_s = run.user_s + run.sys_s
    run.maxrss_mb = float(usage["maxrss_kb"]) / 1024
    run.procs = _per_process(list(procs.values()), run.cpu_s)
    if run.returncode != 0:
        run.error = f"exit code {run.returncode}: {tail(log_path)}"
    return run


def _per_process(procs: list[Proc], total_cpu: float) -> dict[str, dict[str, float]]:
    """Per label (processes of one label summed; RSS: the largest): the first process seen
    is the tool itself and gets what its children's samples do not account for."""
    out: dict[str, dict[str, float]] = {}
    for proc in procs:
        entry = out.setdefault(proc.label, {"cpu_s": 0.0, "rss_mb": 0.0, "count": 0})
        entry["cpu_s"] += proc.cpu_s
        entry["rss_mb"] = max(entry["rss_mb"], proc.rss_mb)
        entry["count"] += 1
    if procs:
        root = procs[0].label
        others = sum(p.cpu_s for p in procs[1:] if p.label != root)
        out[root]["cpu_s"] = max(0.0, total_cpu - others)
    return out


def tail(path: Path, lines: int = 3, width: int = 300) -> str:
    """The last few non-empty lines of a log, squeezed into one line."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()][-lines:]
    joined = " | ".join(kept)
    return joined if len(joined) <= width else "..." + joined[-width:]


# -- output checks ----------------------------------------------------------------------


def probe_media(path: Path) -> dict[str, Any]:
    """Container duration and video packet count of one file (PyAV, no decoding)."""
    import av

    info: dict[str, Any] = {}
    with av.open(str(path)) as container:
        if container.duration is not None:
            info["container_duration_s"] = container.duration / 1_000_000
        video = next((s for s in container.streams if s.type == "video"), None)
        if video is None:
            return info
        rate = video.average_rate or video.guessed_rate
        frames = sum(1 for pkt in container.demux(video) if pkt.size)
        info["video_frames"] = frames
        if rate:
            info["frames_duration_s"] = frames / float(rate)
    return info


def check_file(path: Path, expected_bytes: int) -> dict[str, Any]:
    """Size, duration and frames of a single output file; ``error`` when implausible."""
    if not path.is_file():
        return {"error": f"no output file {path.name}"}
    size = path.stat().st_size
    out: dict[str, Any] = {"path": path.name, "size_bytes": size}
    try:
        out.update(probe_media(path))
    except Exception as exc:  # any demuxer failure is a finding, not a crash
        out["probe_error"] = f"{type(exc).__name__}: {exc}"
    # MP4 duration from the container header (as players see it); TS from the frame count.
    if path.suffix == ".mp4" and "container_duration_s" in out:
        out["duration_s"] = out["container_duration_s"]
    elif "frames_duration_s" in out:
        out["duration_s"] = out["frames_duration_s"]
    if size < 0.9 * expected_bytes:
        out["error"] = f"output too small: {size / 1e6:.1f} MB of ~{expected_bytes / 1e6:.1f} MB"
    elif "probe_error" in out:
        out["error"] = out["probe_error"]
    return out


def check_dir(folder: Path, segments: Sequence[tuple[str, float]],
              expected_bytes: int) -> dict[str, Any]:
    """A folder of downloaded segments: every file of the playlist present and non-empty."""
    sizes = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    got = [(name, dur) for name, dur in segments if sizes.get(name, 0) > 0]
    size = sum(sizes.get(name, 0) for name, _ in segments)
    out: dict[str, Any] = {"path": f"{folder.name}/ ({len(got)} files)", "size_bytes": size,
                           "files": len(got), "duration_s": sum(d for _, d in got)}
    if len(got) < len(segments):
        out["error"] = f"{len(segments) - len(got)} of {len(segments)} segments missing"
    elif size < 0.9 * expected_bytes:
        out["error"] = f"output too small: {size / 1e6:.1f} MB"
    return out


# -- tools ------------------------------------------------------------------------------


@dataclass
class Job:
    """What a tool gets: the playlist, its segments and where to write."""

    url: str
    segments: list[tuple[str, float]]  # absolute URI, duration
    out_dir: Path
    ffmpeg: str
    clip_window: tuple[float, float] | None = None  # --start/--end for timeshift rows (--trim)

    @property
    def seg_names(self) -> list[tuple[str, float]]:
        return [(uri.split("?", 1)[0].rsplit("/", 1)[-1], d) for uri, d in self.segments]


@dataclass
class Tool:
    """A benchmarked command: how to build its argv and where its output lands."""

    name: str  # row label
    key: str  # one of TOOL_NAMES (for --only)
    program: str | None  # None: not installed
    build: Callable[[Job], list[str]]
    output: Callable[[Job], Path]
    is_dir: bool = False
    missing: str = ""


def _variant_args(spec: str) -> list[str]:
    spec = spec.strip()
    if spec in ("", "plain", "default"):
        return []
    if spec.startswith("-"):
        return shlex.split(spec)
    return ["--cut", spec]  # shorthand: "keyframe" -> --cut keyframe


def _clip_argv(extra: list[str]) -> Callable[[Job], list[str]]:
    def build(j: Job) -> list[str]:
        window = ([] if j.clip_window is None else
                  ["--start", f"{j.clip_window[0]:.3f}", "--end", f"{j.clip_window[1]:.3f}"])
        return [sys.executable, "-m", "timeshift", "clip", "--url", j.url, *window,
                "-o", str(j.out_dir / "out.mp4"), "--progress", "none", *extra]

    return build


def make_tools(variants: Sequence[str], ffmpeg: str) -> list[Tool]:
    """The tool table, in report order."""
    tools: list[Tool] = []
    for spec in variants:
        extra = _variant_args(spec)
        label = " ".join(["timeshift clip", *extra])
        tools.append(Tool(name=label, key="timeshift", program=sys.executable,
                          build=_clip_argv(extra), output=lambda j: j.out_dir / "out.mp4"))
    tools.append(Tool(
        name="ffmpeg -c copy", key="ffmpeg", program=ffmpeg,
        build=lambda j: [j.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                         "-i", j.url, "-c", "copy", "-bsf:a", "aac_adtstoasc",
                         str(j.out_dir / "out.mp4")],
        output=lambda j: j.out_dir / "out.mp4"))
    aria2c = find_program("aria2c")
    tools.append(Tool(
        name="aria2c -j16 (download only)", key="aria2c", program=aria2c,
        build=lambda j: [aria2c or "aria2c", "-j16", "-x1", "--dir", str(j.out_dir / "segs"),
                         "-i", str(j.out_dir / "list.txt"), "--console-log-level=warn",
                         "--summary-interval=0", "--download-result=hide",
                         "--allow-overwrite=true", "--auto-file-renaming=false"],
        output=lambda j: j.out_dir / "segs", is_dir=True,
        missing="apt-get install aria2"))
    ytdlp = find_program("yt-dlp")
    tools.append(Tool(
        name="yt-dlp -N 16", key="yt-dlp", program=ytdlp,
        build=lambda j: [ytdlp or "yt-dlp", "-N", "16", "--downloader", "m3u8:native",
                         "--ffmpeg-location", j.ffmpeg, "--no-cache-dir", "--no-part",
                         "--no-progress", "--no-mtime", "--force-overwrites",
                         "-o", str(j.out_dir / "out.%(ext)s"), j.url],
        output=lambda j: j.out_dir / "out.mp4",
        missing="pip install yt-dlp"))
    streamlink = find_program("streamlink")
    tools.append(Tool(
        name="streamlink (TS)", key="streamlink", program=streamlink,
        build=lambda j: [streamlink or "streamlink", "--stream-segment-threads", "10",
                         "--loglevel", "warning", "--force", "-o",
                         str(j.out_dir / "out.ts"), "hls://" + j.url, "best"],
        output=lambda j: j.out_dir / "out.ts",
        missing="pip install streamlink"))
    return tools


# -- the bench --------------------------------------------------------------------------


@dataclass
class Row:
    """The report line of one tool: all runs and their medians."""

    tool: str
    key: str
    argv: list[str] = field(default_factory=list)
    template: str = ""  # argv with $URL / $OUT placeholders, for the report
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None
    version: str = ""

    def good(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    def median(self, attr: str) -> float | None:
        values = [float(getattr(r, attr)) for r in self.good()]
        return statistics.median(values) if values else None

    def median_procs(self) -> dict[str, tuple[float, float]]:
        """Per process label: median CPU s and median peak RSS MB over the good runs."""
        labels: dict[str, None] = {}
        for run in self.good():
            labels.update(dict.fromkeys(run.procs))
        out = {}
        for label in labels:
            runs = [r.procs[label] for r in self.good() if label in r.procs]
            out[label] = (statistics.median(p["cpu_s"] for p in runs),
                          statistics.median(p["rss_mb"] for p in runs))
        return out

    def median_output(self, key: str) -> float | None:
        values = [float(r.output[key]) for r in self.good() if key in r.output]
        return statistics.median(values) if values else None

    @property
    def error(self) -> str | None:
        if self.skipped:
            return f"skipped: {self.skipped}"
        bad = [r for r in self.runs if not r.ok]
        if bad and not self.good():
            return bad[-1].error
        if bad:
            return f"{len(bad)} of {len(self.runs)} runs failed: {bad[-1].error}"
        return None


def playlist_segments(url: str) -> list[tuple[str, float]]:
    """The absolute segment URIs and durations of a media playlist."""
    import m3u8

    pl = m3u8.load(url, timeout=30)
    if not pl.is_endlist:
        raise RuntimeError(f"playlist has no ENDLIST: {url}")
    return [(str(seg.absolute_uri), float(seg.duration or 0)) for seg in pl.segments]


def vod_url(netloc: str, start: float, minutes: float) -> str:
    from timeshift.urls import TimeshiftURL

    start_ns = int(round(start * NS_PER_S))
    end_ns = start_ns + int(round(minutes * 60 * NS_PER_S))
    return str(TimeshiftURL.vod(netloc, "live", "bench", start_ns, end_ns, scheme="http"))


def run_tool(tool: Tool, url: str, segments: list[tuple[str, float]], work: Path,
             ffmpeg: str, timeout: float, counters: dict[str, int], tag: str,
             segment_bytes: float, clip_window: tuple[float, float] | None = None) -> Run:
    """One measured run of ``tool`` in a fresh output directory, then its output check."""
    out_dir = Path(tempfile.mkdtemp(prefix=f"{tool.key}-{tag}-", dir=work))
    try:
        job = Job(url=url, segments=segments, out_dir=out_dir, ffmpeg=ffmpeg,
                  clip_window=clip_window)
        if tool.is_dir:
            (out_dir / "segs").mkdir()
            (out_dir / "list.txt").write_text("".join(uri + "\n" for uri, _ in segments))
        argv = tool.build(job)
        served_before = counters.get("segments", 0)
        run = measure(argv, out_dir, work / f"{tool.key}-{tag}.log", timeout)
        run.segments_served = counters.get("segments", 0) - served_before
        # MP4 drops the ~10 % TS overhead; check_* want at least 90 % of this floor.
        expected = int(0.85 * len(segments) * segment_bytes)
        if not run.timed_out:
            if tool.is_dir:
                run.output = check_dir(tool.output(job), job.seg_names, expected)
            else:
                run.output = check_file(tool.output(job), expected)
            if run.ok and "error" in run.output:
                run.error = str(run.output["error"])
        if run.ok and run.segments_served < len(segments):
            run.error = f"only {run.segments_served} of {len(segments)} segments fetched"
        return run
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


# -- the archiver -----------------------------------------------------------------------


def archive_argv(url: str, oss_url: str, bucket: str, cache: Path, report: Path) -> list[str]:
    """``timeshift archive`` of the window of the clip rows' ``url`` into ``bucket``."""
    from timeshift.times import format_iso
    from timeshift.urls import parse_url

    src = parse_url(url)
    if src.start is None or src.end is None:
        raise RuntimeError(f"not a VOD window: {url}")
    return [sys.executable, "-m", "timeshift", "archive", "--domain", src.domain,
            "--scheme", src.scheme, "--app", src.app, "--stream", src.stream,
            "--start", format_iso(src.start), "--end", format_iso(src.end),
            "--bucket", bucket, "--endpoint", oss_url, "--cache-dir", str(cache),
            "--progress", "none", "--json", "--report", str(report)]


def check_archive(report: Path, segments: int, rerun: bool) -> dict[str, Any]:
    """The archive's JSON report: status ok, every segment there, all uploaded (a re-run: none)."""
    try:
        jobs = json.loads(report.read_text())["jobs"]
    except (OSError, ValueError, KeyError) as exc:
        return {"error": f"no JSON report: {type(exc).__name__}: {exc}"}
    if len(jobs) != 1:
        return {"error": f"{len(jobs)} jobs in the report, expected 1"}
    job = jobs[0]
    out: dict[str, Any] = {"path": f"{job['bucket']}/{job['index_key']}",
                           "size_bytes": job["bytes"], "duration_s": job["duration"],
                           **{k: job[k] for k in ("status", "segments", "uploaded", "skipped")}}
    uploads = 0 if rerun else segments
    if job["status"] != "ok":
        out["error"] = f"status {job['status']}: {(job.get('error') or {}).get('message')}"
    elif job["segments"] != segments:
        out["error"] = f"{job['segments']} segments archived, the playlist has {segments}"
    elif job["uploaded"] != uploads:
        out["error"] = f"{job['uploaded']} segments uploaded, expected {uploads}"
    return out


def run_archive(url: str, segments: list[tuple[str, float]], work: Path, oss: Any,
                bucket: str, timeout: float, counters: dict[str, int], tag: str) -> list[Run]:
    """The first archive of the window into a fresh bucket and cache dir, then the same again."""
    out_dir = Path(tempfile.mkdtemp(prefix=f"{ARCHIVE}-{tag}-", dir=work))
    report = out_dir / "report.json"
    argv = archive_argv(url, oss.url, bucket, out_dir / "cache", report)
    env = {k: v for k, v in os.environ.items() if k != "OSS_SESSION_TOKEN"}
    env.update(OSS_ACCESS_KEY_ID=oss.config.access_key_id,
               OSS_ACCESS_KEY_SECRET=oss.config.access_key_secret)
    runs: list[Run] = []
    try:
        for rerun in (False, True):
            report.unlink(missing_ok=True)
            served_before = counters.get("segments", 0)
            log = work / f"{ARCHIVE}-{tag}{'-rerun' if rerun else ''}.log"
            run = measure(argv, out_dir, log, timeout, env=env)
            run.segments_served = counters.get("segments", 0) - served_before
            if not run.timed_out:
                run.output = check_archive(report, len(segments), rerun)
                if run.ok and "error" in run.output:
                    run.error = str(run.output["error"])
            if run.ok and not rerun and run.segments_served < len(segments):
                run.error = f"only {run.segments_served} of {len(segments)} segments fetched"
            if run.ok and rerun and run.segments_served:  # finished: nothing to fetch
                run.error = f"the re-run fetched {run.segments_served} segments"
            runs.append(run)
        first, again = runs
        if first.ok and again.ok and first.wall_s:
            again.output["vs_first"] = again.wall_s / first.wall_s
        return runs
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _archive_targets(rows: list[Row], base_wall: float | None) -> list[str]:
    """Whether the archive rows met their targets, for the report."""
    first = next((r for r in rows if r.tool == ARCHIVE_ROW), None)
    again = next((r for r in rows if r.tool == RERUN_ROW), None)
    if first is None or again is None:
        return []
    lines = ["Archive targets:"]
    wall = first.median("wall_s")
    if wall is None:
        lines.append(f"- archive ≤ {ARCHIVE_TARGET:g}× the clip's wall time: failed to run.")
    elif base_wall:
        met = "met" if wall <= ARCHIVE_TARGET * base_wall else "NOT met"
        lines.append(f"- archive ≤ {ARCHIVE_TARGET:g}× the clip's wall time: {met} "
                     f"({wall:.2f} s vs {base_wall:.2f} s, {wall / base_wall:.2f}×).")
    else:
        lines.append(f"- archive ≤ {ARCHIVE_TARGET:g}× the clip's wall time: no clip row "
                     "to compare with.")
    share = again.median_output("vs_first")
    if share is None:
        lines.append(f"- re-run < {RERUN_TARGET * 100:g} % of the first run, nothing uploaded: "
                     "failed to run.")
    else:
        met = "met" if share < RERUN_TARGET and not again.error else "NOT met"
        lines.append(f"- re-run < {RERUN_TARGET * 100:g} % of the first run, nothing uploaded: {met} "
                     f"({share * 100:.1f} % of the first run's wall time, median over the repeats; "
                     f"{_fmt(again.median_output('uploaded'), 0)} uploaded).")
    return lines


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}×"


def render(rows: list[Row], meta: dict[str, Any], long: dict[str, Any] | None) -> str:
    """The Markdown report."""
    base = next((r for r in rows if r.key == BASELINE and r.good()), None)
    base_wall = base.median("wall_s") if base else None
    base_cpu = base.median("cpu_s") if base else None
    out = [
        f"Machine: {meta['cores']} cores, {meta['platform']}, Python {meta['python']}, "
        f"{meta['ffmpeg_version']}",
        f"Window: {meta['minutes']:g} min VOD ({meta['segments']} segments, "
        f"{meta['playlist_mb']:.0f} MB, a keyframe every {meta.get('gop', 1)} s) from the "
        f"local origin, {meta['latency'] * 1000:.0f} ms "
        f"latency per request; median of {meta['repeat']} run(s). "
        "Absolute numbers vary between machines; the ratios within one run are what counts.",
        "",
        "| tool | wall s | CPU s | peak RSS MB (max proc / tree) | output MB | duration s "
        "| frames | segs fetched | wall ratio | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if not row.good():
            error = (row.error or "")[:200].replace("|", "\\|")
            out.append(f"| {row.tool} | {error} | | | | | | | | |")
            continue
        wall, cpu = row.median("wall_s"), row.median("cpu_s")
        size = row.median_output("size_bytes")
        frames = row.median_output("video_frames")
        served = row.median("segments_served")
        out.append(
            f"| {row.tool} | {_fmt(wall, 2)} | {_fmt(cpu, 2)} | {_fmt(row.median('maxrss_mb'))} / "
            f"{_fmt(row.median('tree_rss_mb'))} | {_fmt(None if size is None else size / 1e6)} | "
            f"{_fmt(row.median_output('duration_s'), 2)} | "
            f"{'–' if frames is None else int(frames)} | "
            f"{'–' if served is None else int(served)} | "
            f"{_ratio(wall, base_wall)} | {_ratio(cpu, base_cpu)} |")
    out += ["", "CPU: user+sys of the tool and its children (the origin, in the bench process, "
            "is not counted). Peak RSS: max proc = ru_maxrss, the largest single process "
            "(floor ~8 MB from the launcher); tree = peak of the tree's summed VmRSS, sampled "
            f"every {RSS_INTERVAL * 1000:.0f} ms. Duration: MP4 container duration, TS frame count "
            "/ fps, segment folders the playlist's EXTINF sum."]
    per_proc = [f"- {row.tool}: " + "; ".join(
        f"{label} {cpu:.2f} s / {rss:.0f} MB" for label, (cpu, rss) in row.median_procs().items()
        if cpu >= 0.01 or rss >= 1)  # not the short-lived helpers a sample barely caught
        for row in rows if row.good() and row.median_procs()]
    if per_proc:
        out += ["", "Per process (median CPU s / peak RSS MB; sampled from /proc every "
                f"{RSS_INTERVAL * 1000:.0f} ms, the tool's own process gets the rest of the "
                "exact total):", "", *per_proc]
    if base is None:
        ran = any(r.key == BASELINE for r in rows)
        out += ["", "Ratios are against `timeshift clip`, which "
                + ("failed in this run." if ran else "was not part of this run (--only).")]
    notes = [f"- {row.tool}: {row.error}" for row in rows if row.error and row.good()]
    if notes:
        out += ["", "Notes:", *notes]
    targets = _archive_targets(rows, base_wall)
    if targets:
        out += ["", *targets, "", "The archive rows' segments go to a local OSS server in the "
                "bench process (its CPU is not counted either); output MB and duration are from "
                "the archive's JSON report (bytes and seconds archived)."]
    if long is not None:
        out.append("")
        if long.get("error"):
            out.append(f"timeshift clip peak RSS, long window: {long['error']}")
        else:
            out.append(
                f"timeshift clip peak RSS (tree): {long['short_minutes']:g} min "
                f"{long['short_rss_mb']:.1f} MB, {long['long_minutes']:g} min "
                f"{long['long_rss_mb']:.1f} MB ({long['delta_pct']:+.1f} %); max single "
                f"process {long['short_maxrss_mb']:.1f} / {long['long_maxrss_mb']:.1f} MB.")
    out += ["", "Command lines ($URL: the VOD playlist, $OUT: the tool's output dir, $ORIGIN "
            "and $OSS: the local origin and OSS server):", ""]
    for row in rows:
        if row.template:
            version = f" ({row.version})" if row.version else ""
            out.append(f"- {row.tool}{version}: `{row.template}`")
    return "\n".join(out) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark timeshift clip against ffmpeg, aria2c, yt-dlp and streamlink, "
                    "and timeshift archive (and its re-run) against timeshift clip.",
        epilog="Tools for --only: " + ", ".join(TOOL_NAMES))
    p.add_argument("--minutes", type=float, default=10, help="measured window (default 10)")
    p.add_argument("--long-minutes", type=float, default=60,
                   help="long window for timeshift clip's memory (default 60; 0: skip)")
    p.add_argument("--repeat", type=int, default=3, help="runs per tool, median kept (default 3)")
    p.add_argument("--only", default=",".join(TOOL_NAMES),
                   help="comma-separated tools to run (default: all)")
    p.add_argument("--variants", default="plain",
                   help="timeshift clip rows, ';' or ',' separated: 'plain', a --cut mode "
                        "('keyframe' means --cut keyframe) or extra arguments ('--cut exact')")
    p.add_argument("--timeout", type=float, default=300, help="seconds per tool run (default 300)")
    p.add_argument("--trim", default="0,0", metavar="A,B",
                   help="timeshift clip rows cut from A s after the window's start to B s "
                        "before its end, e.g. 0.52,0.48 to put both cuts inside GOPs (so "
                        "--cut exact re-encodes its two edge GOPs); peers get the whole window")
    p.add_argument("--codec", choices=("h264", "hevc"), default="h264",
                   help="the samples' video codec (hevc: the HEVC rows, e.g. with --only "
                        "timeshift --variants keyframe,exact --trim 0.52,0.48)")
    p.add_argument("--gop", default="1",
                   help="seconds between the samples' keyframes: 1, 2 (one GOP per segment, "
                        "as live encoders emit) or 1,2 (one table each, in one run; default 1)")
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument("--markdown", type=Path, help="write the report here too")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                   help=f"sample segment cache (default {DEFAULT_CACHE})")
    p.add_argument("--work-dir", type=Path, default=None,
                   help="parent of the temp dir for outputs (default: system temp)")
    args = p.parse_args(argv)
    args.only = {t.strip() for t in args.only.split(",") if t.strip()}
    unknown = args.only - set(TOOL_NAMES)
    if unknown:
        p.error(f"unknown tool(s) for --only: {', '.join(sorted(unknown))}")
    try:
        a, b = (float(x) for x in args.trim.split(","))
    except ValueError:
        p.error("--trim: expected A,B in seconds, e.g. 0.52,0.48")
    args.trim = (a, b)
    try:
        args.gops = [int(g) for g in args.gop.split(",")]
    except ValueError:
        p.error("--gop: expected 1, 2 or 1,2")
    if not args.gops or any(g not in (1, 2) for g in args.gops):
        p.error("--gop: expected 1, 2 or 1,2")
    sep = ";" if ";" in args.variants else ","
    args.variants = [v.strip() for v in args.variants.split(sep)] or ["plain"]
    if args.repeat < 1 or args.minutes <= 0:
        p.error("--repeat and --minutes must be positive")
    return args


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so the cleanup in ``finally`` runs."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def bench(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Run everything; return the Markdown report and the raw results."""
    from timeshift.sim.origin import OriginConfig, OriginServer
    from timeshift.sim.oss import OssConfig, OssServer

    # A tool killed at its timeout leaves the origin writing to a closed socket;
    # aiohttp would log a traceback for each such request.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

    ffmpeg = ffmpeg_executable()
    samples = samples_dir(args.cache_dir, SAMPLE_COUNT, SAMPLE_WIDTH, SAMPLE_HEIGHT,
                          SAMPLE_BITRATE, args.codec, args.gop)
    tools = [t for t in make_tools(args.variants, ffmpeg) if t.key in args.only]
    rows = [Row(tool=t.name, key=t.key) for t in tools]
    for tool, row in zip(tools, rows, strict=True):
        if tool.program is None:
            row.skipped = f"{tool.key} not installed ({tool.missing})"
            print(f"skipping {tool.name}: {row.skipped}", file=sys.stderr, flush=True)
        elif tool.key != "timeshift":
            flag = "-version" if tool.key == "ffmpeg" else "--version"
            row.version = " ".join(first_line([tool.program, flag]).split()[:3])

    meta: dict[str, Any] = {
        "cores": os.cpu_count(), "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(), "ffmpeg": ffmpeg,
        "ffmpeg_version": " ".join(first_line([ffmpeg, "-version"]).split()[:3]),
        "minutes": args.minutes, "long_minutes": args.long_minutes, "repeat": args.repeat,
        "latency": ORIGIN_LATENCY, "samples": str(samples), "timeout": args.timeout,
        "codec": args.codec, "gop": args.gop,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    long: dict[str, Any] | None = None
    server = OriginServer(OriginConfig(samples=samples, latency=ORIGIN_LATENCY,
                                       history=ORIGIN_HISTORY))
    work = Path(tempfile.mkdtemp(prefix="timeshift-bench-", dir=args.work_dir))
    archive_rows = ([Row(tool=ARCHIVE_ROW, key=ARCHIVE), Row(tool=RERUN_ROW, key=ARCHIVE)]
                    if ARCHIVE in args.only else [])
    buckets = tuple(f"bench-r{i}" for i in range(args.repeat))  # a fresh one per repeat
    oss = OssServer(OssConfig(access_key_id=OSS_KEY_ID, access_key_secret=secrets.token_urlsafe(18),
                              buckets=buckets, root=work / "oss"))
    t_start = time.perf_counter()
    try:
        server.start()
        if archive_rows:
            oss.start()
        counters = server.config.counters
        seg = server.segment_duration
        start = server.stream_start + WINDOW_OFFSET // seg * seg
        url = vod_url(server.netloc, start, args.minutes)
        segments = playlist_segments(url)
        clip_window = None
        if args.trim != (0.0, 0.0):
            clip_window = (start + args.trim[0], start + args.minutes * 60 - args.trim[1])
        seg_bytes = _mean_segment_bytes(samples)
        meta.update(url=url, segments=len(segments), stream_start=server.stream_start,
                    playlist_mb=len(segments) * seg_bytes / 1e6)
        for tool, row in zip(tools, rows, strict=True):
            if row.skipped:
                continue
            for i in range(args.repeat):
                print(f"{tool.name}: run {i + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
                run = run_tool(tool, url, segments, work, ffmpeg, args.timeout, counters, f"r{i}",
                               seg_bytes, clip_window)
                row.argv = run.argv
                row.template = _template(run.argv, url, work)
                row.runs.append(run)
                print(f"  {_summary(run)}", file=sys.stderr, flush=True)
        for i in range(args.repeat if archive_rows else 0):
            print(f"{ARCHIVE_ROW}, then again: run {i + 1}/{args.repeat} ...", file=sys.stderr,
                  flush=True)
            runs = run_archive(url, segments, work, oss, buckets[i], args.timeout, counters,
                               f"r{i}")
            for row, run in zip(archive_rows, runs, strict=True):
                row.argv = run.argv
                row.template = (_template(run.argv, url, work)
                                .replace(server.netloc, "$ORIGIN").replace(oss.url, "$OSS"))
                row.runs.append(run)
                print(f"  {_summary(run)}", file=sys.stderr, flush=True)
        base = next((t for t in tools if t.key == "timeshift"), None)
        if base is not None and args.long_minutes > 0:
            long = _long_window(base, rows[tools.index(base)], server, start, args, work,
                                ffmpeg, counters, seg_bytes)
    finally:
        oss.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    meta["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    # The archive rows go right after the clip rows they are compared with.
    after = max((i + 1 for i, r in enumerate(rows) if r.key == BASELINE), default=0)
    rows[after:after] = archive_rows
    report = render(rows, meta, long)
    raw = {"meta": meta, "long_window": long,
           "rows": [{**asdict(r), "runs": [asdict(x) for x in r.runs]} for r in rows]}
    return report, raw


def _template(argv: list[str], url: str, work: Path) -> str:
    """``argv`` for the report: the playlist as $URL, the output dir as $OUT."""
    program = "python" if argv[0] == sys.executable else Path(argv[0]).name
    words = [program]
    for word in argv[1:]:
        word = word.replace(url, "$URL")
        if word.startswith(str(work) + os.sep):
            rest = Path(word).relative_to(work).parts[1:]  # drop the per-run dir
            word = "/".join(("$OUT", *rest))
        if "$" not in word:
            word = shlex.quote(word)
        elif not re.fullmatch(r"[\w$/.:=+-]+", word):
            word = f'"{word}"'  # keep the placeholder expandable
        words.append(word)
    return " ".join(words)


def _mean_segment_bytes(samples: Path) -> float:
    sizes = [p.stat().st_size for p in samples.glob("seg_*.ts")]
    return sum(sizes) / len(sizes) if sizes else 0.0


def _summary(run: Run) -> str:
    state = "ok" if run.ok else f"FAILED ({run.error})"
    return (f"{state}: wall {run.wall_s:.2f} s, cpu {run.cpu_s:.2f} s, "
            f"rss {run.maxrss_mb:.0f}/{run.tree_rss_mb:.0f} MB, "
            f"{run.output.get('size_bytes', 0) / 1e6:.1f} MB, "
            f"{run.segments_served} segments")


def _long_window(tool: Tool, row: Row, server: Any, start: float, args: argparse.Namespace,
                 work: Path, ffmpeg: str, counters: dict[str, int],
                 segment_bytes: float) -> dict[str, Any]:
    """Peak RSS of timeshift clip on the long window next to the short one."""
    info: dict[str, Any] = {"short_minutes": args.minutes, "long_minutes": args.long_minutes}
    if not row.good():
        info["error"] = "timeshift clip failed on the short window"
        return info
    url = vod_url(server.netloc, start, args.long_minutes)
    segments = playlist_segments(url)
    print(f"{tool.name}: long window, {args.long_minutes:g} min ...", file=sys.stderr, flush=True)
    timeout = max(args.timeout, args.timeout * args.long_minutes / args.minutes)
    # The same --trim as the short window, so an exact cut re-encodes its edges there too
    # (an untrimmed window is all copy and would look smaller than it is).
    window = (None if args.trim == (0.0, 0.0) else
              (start + args.trim[0], start + args.long_minutes * 60 - args.trim[1]))
    run = run_tool(tool, url, segments, work, ffmpeg, timeout, counters, "long", segment_bytes,
                   window)
    print(f"  {_summary(run)}", file=sys.stderr, flush=True)
    info["run"] = asdict(run)
    if not run.ok:
        info["error"] = run.error
        return info
    short_rss = row.median("tree_rss_mb") or 0.0
    info.update(short_rss_mb=short_rss, long_rss_mb=run.tree_rss_mb,
                short_maxrss_mb=row.median("maxrss_mb") or 0.0, long_maxrss_mb=run.maxrss_mb,
                delta_pct=(run.tree_rss_mb / short_rss - 1) * 100 if short_rss else 0.0)
    return info


def _compile_package() -> None:
    """Byte-compile ``timeshift`` first, as an installed package is: a checkout run with
    PYTHONDONTWRITEBYTECODE would otherwise compile every module in every timed run."""
    import compileall

    compileall.compile_dir(str(REPO_ROOT / "timeshift"), quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _compile_package()
    reports: list[str] = []
    raws: list[dict[str, Any]] = []
    try:
        with _terminate_as_interrupt():
            for gop in args.gops:
                args.gop = gop
                report, raw = bench(args)
                heading = f"### A keyframe every {gop} s\n\n" if len(args.gops) > 1 else ""
                reports.append(heading + report)
                raws.append(raw)
    except KeyboardInterrupt:
        print("interrupted; temp files removed, origin stopped", file=sys.stderr)
        return 130
    report = "\n".join(reports)
    raw = raws[0] if len(raws) == 1 else {"runs": raws, "rows": [r for x in raws for r in x["rows"]]}
    print(report, end="")
    if args.markdown:
        args.markdown.write_text(report)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2, default=str) + "\n")
    failed = [r for r in raw["rows"] if not r["skipped"] and not any(
        x["error"] is None for x in r["runs"])]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
