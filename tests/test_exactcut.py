"""The frame-exact cut end to end: local origin over real sockets, PyAV/libx264, frame indices.

The samples show frame k % 500 at stream second k/25 (10 segments of 2 s, cycled by the
origin; a keyframe every 25 frames, B-frames two deep). Each clip is decoded and the index
drawn into every picture read back: which frames the clip holds is measured, not taken
from timestamps the code under test computed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest

import timeshift.clip as clip_module
from timeshift.clip import clip
from timeshift.cutplan import CutWindow
from timeshift.errors import CutError, VerificationError
from timeshift.sim.frameindex import read_frame_index
from timeshift.sim.origin import OriginServer
from timeshift.smartcut import PipeCutter
from timeshift.times import NS_PER_S

FPS = 25
FRAME = 1 / FPS
AUDIO_FRAME = 1024 / 48000


def ns(o: OriginServer, seconds: float) -> int:
    return round((o.stream_start + seconds) * NS_PER_S)


def decode(path: Path) -> dict[str, Any]:
    """Frame indices, video and audio spans, and FFmpeg's complaints while decoding ``path``."""
    indices: list[int] = []
    video: list[float] = []
    audio: list[tuple[float, float]] = []
    with av.logging.Capture() as logs, av.open(str(path)) as c:
        for frame in c.decode(*c.streams):
            if isinstance(frame, av.VideoFrame):
                indices.append(read_frame_index(frame))
                video.append(float(frame.time))
            elif isinstance(frame, av.AudioFrame) and frame.time is not None:
                audio.append((float(frame.time), frame.time + frame.samples / frame.sample_rate))
    problems = [m for level, _, m in logs if level <= av.logging.WARNING]
    return {"indices": indices, "video": video, "audio": audio, "problems": problems}


def strict_indices(path: Path) -> list[int]:
    """Decode with only the MP4 sample entry's SPS/PPS: the in-band ones are stripped first.

    This is how a player that honours ``avcC`` alone (as ISO/IEC 14496-15 allows for
    ``avc1``) sees the file; the re-encoded edges must decode from it too.
    """
    out: list[int] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        dec = av.CodecContext.create("h264", "r")
        dec.extradata = bytes(stream.codec_context.extradata)
        strip = av.bitstream.BitStreamFilterContext("filter_units=remove_types=7|8", stream)
        for pkt in [*c.demux(stream), None]:
            for q in strip.filter(pkt):
                out += [read_frame_index(f) for f in dec.decode(q)]
        for q in strip.filter(None):
            out += [read_frame_index(f) for f in dec.decode(q)]
        out += [read_frame_index(f) for f in dec.decode(None)]
    return out


def consecutive(indices: list[int]) -> bool:
    return all((b - a) % 500 == 1 for a, b in zip(indices, indices[1:], strict=False))


ACCURACY = [
    # (start s, end s, gaps, first index, last index, expected duration s, encoded GOPs)
    # An end edge whose frames shown before the end come first in decode order (here
    # 400-412, and 275-284) is copied without re-encoding anything: 0 for it.
    pytest.param(14.6, 17.0, (), 365, 424, 2.4, 1, id="start-inside-a-gop"),
    pytest.param(14.0, 16.52, (), 350, 412, 2.52, 0, id="start-on-a-keyframe"),
    pytest.param(14.2, 14.6, (), 355, 364, 0.4, 1, id="window-inside-one-gop"),
    # Start and end inside frames: the frames on screen then are 18.40 s and 21.60 s, so
    # the clip is 3.24 s, not 3.18 s: within one frame of the window at each edge.
    pytest.param(18.43, 21.61, (), 460, 40, 3.24, 2, id="across-a-discontinuity"),
    pytest.param(3.4, 8.0, ((6, 10),), 85, 149, 2.6, 1, id="ends-in-a-gap"),
    pytest.param(8.0, 11.4, ((6, 10),), 250, 284, 1.4, 0, id="starts-in-a-gap"),
]


@pytest.mark.parametrize(("a", "b", "gaps", "first", "last", "duration", "encoded"), ACCURACY)
def test_exact_cut_accuracy(make_origin: Callable[..., OriginServer], tmp_path: Path,
                            a: float, b: float, gaps: tuple[tuple[int, int], ...], first: int,
                            last: int, duration: float, encoded: int) -> None:
    o = make_origin(history=3600, gaps=gaps)
    out = tmp_path / "clip.mp4"
    r = clip(out, domain=o.netloc, app="live", stream="cam1", scheme="http", start=ns(o, a),
             end=ns(o, b), cache_dir=tmp_path / "c", allow_gaps=bool(gaps))
    d = decode(out)
    idx = d["indices"]
    # The first frame is the one on screen at the start, the last the one before the end.
    assert (idx[0], idx[-1]) == (first, last)
    assert consecutive(idx) and d["problems"] == []
    assert len(idx) == round(duration * FPS)
    # Only the partial GOPs at the edges were re-encoded (an end edge only from the first
    # frame before the end that follows one after it in decode order); the rest copied.
    assert r.cut["mode"] == "exact" and r.cut["gops_encoded"] == encoded
    # Duration within a frame; audio and video start (and end) together within an audio frame.
    assert r.duration is not None and abs(r.duration - duration) <= FRAME
    v0, v1 = d["video"][0], d["video"][-1] + FRAME
    a0, a1 = d["audio"][0][0], d["audio"][-1][1]
    assert v0 == 0 and abs(a0 - v0) <= AUDIO_FRAME
    # (Next to a gap the audio ends with what exists: the segment before a gap carries
    # its audio 80 ms ahead of its video, and the rest of it is in the missing segment.)
    assert abs(a1 - v1) <= (0.08 if gaps else 0) + AUDIO_FRAME
    # A player that reads SPS/PPS only from avcC decodes the joins as well.
    assert strict_indices(out) == idx
    # The summary carries the probe: streams, codecs, first and last timestamps.
    streams = {s["type"]: s for s in r.media["streams"]}
    assert streams["video"]["codec"] == "h264" and streams["audio"]["codec"] == "aac"
    assert streams["video"]["start"] == 0 and streams["audio"]["start"] == 0
    assert abs(streams["video"]["end"] - duration) < 1e-3
    assert abs(streams["video"]["last"] - (duration - FRAME)) < 1e-3


def test_reencode_mode_gives_the_same_frames(origin: OriginServer, tmp_path: Path) -> None:
    out = tmp_path / "re.mp4"
    r = clip(out, domain=origin.netloc, app="live", stream="cam1", scheme="http",
             start=ns(origin, 14.6), end=ns(origin, 17.0), cache_dir=tmp_path / "c",
             cut="reencode")
    d = decode(out)
    assert d["indices"] == list(range(365, 425)) and d["problems"] == []
    assert r.cut["mode"] == "reencode" and r.cut["gops_copied"] == 0
    assert r.duration is not None and abs(r.duration - 2.4) <= FRAME


def test_a_clip_that_misses_the_window_is_an_error_and_not_kept(
        origin: OriginServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Make the cutter stop 0.2 s (5 frames) short while the plan still expects the window:
    # the real probe of the real file must catch it.
    real = clip_module._plan_cut

    def short(*args: Any) -> Any:
        plan = real(*args)
        w = plan.window
        return plan.__class__(**{**plan.__dict__,
                                 "window": CutWindow(w.start, w.end - 18_000, w.mode)})

    monkeypatch.setattr(clip_module, "_plan_cut", short)
    out = tmp_path / "short.mp4"
    with pytest.raises(VerificationError) as info:
        clip(out, domain=origin.netloc, app="live", stream="cam1", scheme="http",
             start=ns(origin, 14.6), end=ns(origin, 17.0), cache_dir=tmp_path / "c")
    assert info.value.exit_code == 1 and info.value.probed == pytest.approx(2.2, abs=0.01)
    assert not out.exists() and not list(tmp_path.glob(".short.mp4*"))


def test_cli_cut_modes_and_json_probe(origin: OriginServer, tmp_path: Path) -> None:
    t0 = origin.stream_start
    base = [sys.executable, "-m", "timeshift", "clip", "--domain", origin.netloc, "--scheme",
            "http", "--app", "live", "--stream", "cam1", "--start", f"{t0 + 14.6:.3f}",
            "--end", f"{t0 + 17:.3f}", "--cache-dir", str(tmp_path / "c"), "--json",
            "--progress", "none"]
    r = subprocess.run(base + ["-o", str(tmp_path / "x.ts"), "--cut", "exact"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--cut" in r.stderr
    r = subprocess.run(base + ["-o", str(tmp_path / "k.mp4"), "--cut", "keyframe"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["cut"] == {"mode": "keyframe"}
    assert summary["duration"] == pytest.approx(3.0, abs=3 * FRAME)  # from the keyframe at 14 s
    video = summary["media"]["streams"][0]
    assert {"start", "last", "end", "frames"} <= set(video) and video["frames"] >= 75


def test_without_an_exact_cutter_the_clip_falls_back_to_keyframe_and_says_so(
        origin: OriginServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clip_module, "exact_cut_supported", lambda codec: False)
    r = clip(tmp_path / "f.mp4", domain=origin.netloc, app="live", stream="cam1", scheme="http",
             start=ns(origin, 14.6), end=ns(origin, 17.0), cache_dir=tmp_path / "c")
    assert r.cut["mode"] == "keyframe" and "cut at the keyframe instead" in r.cut["notes"][0]
    assert decode(tmp_path / "f.mp4")["indices"][0] == 350  # the keyframe at 14 s


def test_the_cutter_reports_input_it_cannot_cut(tmp_path: Path) -> None:
    import asyncio

    async def run() -> None:
        cutter = await PipeCutter(tmp_path / "x.mp4", CutWindow(0, 90_000)).start()
        try:
            await cutter.write((b"\x47" + bytes(187)) * 50)  # TS packets with nothing in them
            await cutter.finish()
        finally:
            await cutter.abort()

    with pytest.raises(CutError):
        asyncio.run(run())
