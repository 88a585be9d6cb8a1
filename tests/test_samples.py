"""Checks for the committed sample segments and for the generator that makes them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

import av
import pytest

from timeshift.sim.frameindex import decode_frame_indices, read_frame_index

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = REPO_ROOT / "samples"
MAKE_SAMPLES = REPO_ROOT / "tools" / "make_samples.py"

FPS = 25
FRAME = Fraction(1, FPS)
SEGMENT = Fraction(2)
FRAMES_PER_SEGMENT = 50
GOP = 25
AAC_FRAME = Fraction(1024, 48000)

Manifest = dict[str, Any]


@dataclass
class SegmentInfo:
    """What one segment contains, gathered in a single demux + decode pass."""

    name: str
    indices: list[int]
    frame_times: list[Fraction]
    key_positions: list[int]  # presentation-order positions of keyframes
    first_packet_is_key: bool
    first_video_pts: Fraction
    first_video_dts: Fraction
    audio_start: Fraction
    audio_end: Fraction
    audio_duration: Fraction  # sum of AAC packet durations
    audio_samples: int  # decoded PCM samples
    audio_rate: int


def _probe(path: Path) -> SegmentInfo:
    """Demux and decode ``path`` once, collecting everything the tests check."""
    video_packets = []
    audio_packets = []
    with av.open(str(path)) as container:
        vstream = container.streams.video[0]
        astream = container.streams.audio[0]
        vtb, atb = vstream.time_base, astream.time_base
        for packet in container.demux(vstream, astream):
            if packet.size == 0:  # demuxer flush packets carry no data
                continue
            if packet.stream.type == "video":
                video_packets.append(packet)
            else:
                audio_packets.append(packet)
        first_packet_is_key = video_packets[0].is_keyframe
        first_video_dts = video_packets[0].dts * vtb
        first_video_pts = min(p.pts for p in video_packets) * vtb
        audio_start = audio_packets[0].pts * atb
        audio_end = (audio_packets[-1].pts + audio_packets[-1].duration) * atb
        audio_duration = sum(p.duration for p in audio_packets) * atb

        indices: list[int] = []
        times: list[Fraction] = []
        keys: list[int] = []
        for packet in video_packets:
            for frame in packet.decode():
                if frame.key_frame:
                    keys.append(len(indices))
                indices.append(read_frame_index(frame))
                times.append(frame.pts * vtb)
        for frame in vstream.codec_context.decode(None):  # drain reordered frames
            if frame.key_frame:
                keys.append(len(indices))
            indices.append(read_frame_index(frame))
            times.append(frame.pts * vtb)

        samples = 0
        for packet in audio_packets:
            samples += sum(f.samples for f in packet.decode())
        samples += sum(f.samples for f in astream.codec_context.decode(None))
        rate = astream.codec_context.sample_rate

    return SegmentInfo(
        name=path.name,
        indices=indices,
        frame_times=times,
        key_positions=keys,
        first_packet_is_key=first_packet_is_key,
        first_video_pts=first_video_pts,
        first_video_dts=first_video_dts,
        audio_start=audio_start,
        audio_end=audio_end,
        audio_duration=audio_duration,
        audio_samples=samples,
        audio_rate=rate,
    )


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    data: Manifest = json.loads((SAMPLES / "manifest.json").read_text())
    return data


@pytest.fixture(scope="module")
def segments(manifest: Manifest) -> list[SegmentInfo]:
    return [_probe(SAMPLES / name) for name in manifest["segments"]]


def _load_generator() -> ModuleType:
    """Import tools/make_samples.py, which is a script rather than a package module."""
    spec = importlib.util.spec_from_file_location("make_samples", MAKE_SAMPLES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manifest_matches_files(manifest: Manifest) -> None:
    assert manifest == {
        "fps": 25,
        "segment_duration": 2.0,
        "frames_per_segment": 50,
        "gop_frames": 25,
        "segments": [f"seg_{i:03d}.ts" for i in range(10)],
        "width": 320,
        "height": 180,
        "video_codec": "h264",
        "audio_codec": "aac",
        "audio_sample_rate": 48000,
        "index_bits": 16,
    }
    assert sorted(p.name for p in SAMPLES.glob("seg_*.ts")) == manifest["segments"]


def test_total_size_under_2mb(manifest: Manifest) -> None:
    total = sum((SAMPLES / name).stat().st_size for name in manifest["segments"])
    assert total < 2 * 1024 * 1024


def test_stream_parameters(manifest: Manifest) -> None:
    with av.open(str(SAMPLES / manifest["segments"][0])) as container:
        video = container.streams.video[0].codec_context
        audio = container.streams.audio[0].codec_context
        assert (video.name, video.width, video.height) == ("h264", 320, 180)
        assert video.pix_fmt == "yuv420p"
        assert video.profile == "High"
        assert audio.name == "aac"
        assert audio.profile == "LC"
        assert audio.sample_rate == 48000


def test_frame_indices_are_consecutive_per_segment(segments: list[SegmentInfo]) -> None:
    for i, seg in enumerate(segments):
        start = FRAMES_PER_SEGMENT * i
        assert seg.indices == list(range(start, start + FRAMES_PER_SEGMENT)), seg.name
        # Decoder output must already be in presentation order.
        assert seg.frame_times == sorted(seg.frame_times), seg.name


def test_decode_frame_indices_helper(manifest: Manifest) -> None:
    pairs = decode_frame_indices(SAMPLES / manifest["segments"][3])
    assert [index for _, index in pairs] == list(range(150, 200))
    times = [t for t, _ in pairs]
    assert all(b - a == pytest.approx(1 / FPS) for a, b in pairwise(times))


def test_keyframes_every_gop(segments: list[SegmentInfo]) -> None:
    for seg in segments:
        assert seg.first_packet_is_key, seg.name
        assert seg.key_positions == list(range(0, FRAMES_PER_SEGMENT, GOP)), seg.name


def test_video_timestamps_continuous_and_two_seconds(segments: list[SegmentInfo]) -> None:
    for seg in segments:
        steps = {b - a for a, b in pairwise(seg.frame_times)}
        assert steps == {FRAME}, seg.name  # constant 25 fps
        duration = seg.frame_times[-1] - seg.frame_times[0] + FRAME
        assert abs(duration - SEGMENT) <= FRAME, seg.name
    for prev, cur in pairwise(segments):
        # One continuous encode: the next segment picks up exactly one frame later.
        assert cur.frame_times[0] == prev.frame_times[-1] + FRAME, cur.name


def test_audio_two_seconds_and_continuous(segments: list[SegmentInfo]) -> None:
    for seg in segments:
        assert seg.audio_rate == 48000
        assert Fraction(seg.audio_samples, seg.audio_rate) == seg.audio_duration, seg.name
    # Inner segments: every cut moves by exactly 2 s, so only AAC-frame rounding remains.
    for seg in segments[1:-1]:
        assert abs(seg.audio_duration - SEGMENT) <= AAC_FRAME, seg.name
    # The muxer cuts audio where the IDR enters it (its DTS, i.e. B-frame
    # reorder delay before its PTS), so the first segment is short and the last
    # long by that delay; beyond it only one AAC frame of rounding is allowed.
    for seg in (segments[0], segments[-1]):
        reorder_delay = seg.first_video_pts - seg.first_video_dts
        assert reorder_delay <= 2 * FRAME, seg.name
        assert abs(seg.audio_duration - SEGMENT) <= reorder_delay + AAC_FRAME, seg.name
    for prev, cur in pairwise(segments):
        assert cur.audio_start == prev.audio_end, cur.name  # no gap, no overlap
    # Audio as a whole is as long as the video, give or take AAC priming/padding.
    video_total = segments[-1].frame_times[-1] + FRAME - segments[0].frame_times[0]
    audio_total = segments[-1].audio_end - segments[0].audio_start
    assert abs(audio_total - video_total) <= 2 * AAC_FRAME
    # Audio starts with the video, earlier only by the encoder's priming frame.
    assert 0 <= segments[0].first_video_pts - segments[0].audio_start <= AAC_FRAME


def test_generator_cli_count_2(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    proc = subprocess.run(
        [sys.executable, str(MAKE_SAMPLES), "--out", str(out), "--count", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ffmpeg argv:" in proc.stderr  # the compiled command is logged
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["segments"] == ["seg_000.ts", "seg_001.ts"]
    for i, name in enumerate(manifest["segments"]):
        indices = [index for _, index in decode_frame_indices(out / name)]
        assert indices == list(range(50 * i, 50 * i + 50)), name


def test_generator_function_other_size(tmp_path: Path) -> None:
    # 360 px gives fractional 22.5 px blocks, checking that generator and
    # reader agree on block geometry, and a gray plane padded to 368 bytes per
    # row, checking that the reader honours line_size rather than width.
    generator = _load_generator()
    out = generator.make_samples(tmp_path / "odd", count=1, width=360, height=200, bitrate="300k")
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["width"], manifest["height"]) == (360, 200)
    indices = [index for _, index in decode_frame_indices(out / "seg_000.ts")]
    assert indices == list(range(50))
