"""MPEG-TS helpers: checked against PyAV's demuxer on the real samples, and on synthetic packets.

Timestamp positions are found by a small parser local to this file, so the
byte-level checks do not trust the code under test to say where it wrote.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from functools import cache
from itertools import pairwise
from pathlib import Path

import av
import imageio_ffmpeg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timeshift.mpegts import (
    PTS_CLOCK,
    WRAP,
    StreamInfo,
    TimestampNormalizer,
    first_timestamps,
    keyframe_timestamps,
    shift_timestamps,
    start_timestamp,
    streams,
)
from timeshift.sim.frameindex import decode_frame_indices

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SEGMENTS = [SAMPLES / f"seg_{i:03d}.ts" for i in range(10)]
FRAME = PTS_CLOCK // 25  # 3600 ticks
VIDEO_PID, AUDIO_PID = 256, 257


@cache
def _read(i: int) -> bytes:
    return SEGMENTS[i].read_bytes()


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


# --------------------------------------------------------------------------
# Independent helpers: a tiny TS parser and PyAV views
# --------------------------------------------------------------------------


def _ts_fields(data: bytes) -> Iterator[tuple[str, int, int]]:
    """Yield ``(kind, byte_offset, value)`` for each PTS, DTS and PCR base in ``data``."""
    for p in range(0, len(data) - 187, 188):
        if data[p] != 0x47:
            continue
        afc = (data[p + 3] >> 4) & 3
        pos = p + 4
        if afc & 2:
            af_len = data[p + 4]
            pos = p + 5 + af_len
            if af_len and data[p + 5] & 0x10:
                q = p + 6
                base = int.from_bytes(data[q : q + 6], "big") >> 15
                yield "pcr", q, base
        if not (data[p + 1] & 0x40 and afc & 1):
            continue
        if data[pos : pos + 3] != b"\x00\x00\x01" or not 0xC0 <= data[pos + 3] <= 0xEF:
            continue
        flags = data[pos + 7] >> 6
        for n, kind in enumerate(("pts", "dts")[: {2: 1, 3: 2}.get(flags, 0)]):
            h = pos + 9 + 5 * n
            b = data[h : h + 5]
            value = ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1
            yield kind, h, value


def _field_len(kind: str) -> int:
    return 6 if kind == "pcr" else 5


def _pyav_packets(data: bytes) -> dict[int, list[tuple[int | None, int | None]]]:
    """PID -> [(pts, dts), ...] for every demuxed packet, as PyAV (FFmpeg) sees them."""
    out: dict[int, list[tuple[int | None, int | None]]] = {}
    with av.open(io.BytesIO(data), format="mpegts") as container:
        for packet in container.demux():
            if packet.size == 0:  # flush packets at EOF carry no data
                continue
            out.setdefault(packet.stream.id, []).append((packet.pts, packet.dts))
    return out


def _assert_shifted(original: bytes, shifted: bytes, offset: int) -> None:
    """Every timestamp moved by ``offset`` (mod 2**33) and no other byte changed."""
    assert len(shifted) == len(original)
    before = list(_ts_fields(original))
    after = list(_ts_fields(shifted))
    assert [(k, h) for k, h, _ in after] == [(k, h) for k, h, _ in before]
    assert before, "no timestamps found; the check would be vacuous"
    covered: set[int] = set()
    for (kind, h, old), (_, _, new) in zip(before, after, strict=True):
        assert new == (old + offset) % WRAP, (kind, h)
        covered.update(range(h, h + _field_len(kind)))
    changed = {i for i, (a, b) in enumerate(zip(original, shifted, strict=True)) if a != b}
    assert changed <= covered
    # Inside the fields, only value bits may change: prefix nibble, marker bits
    # and the PCR's reserved bits + 27 MHz extension stay as they were.
    for kind, h, _ in before:
        n = _field_len(kind)
        keep = 0xF100010001 if kind != "pcr" else 0x7FFF
        a = int.from_bytes(original[h : h + n], "big")
        b = int.from_bytes(shifted[h : h + n], "big")
        assert (a ^ b) & keep == 0


# --------------------------------------------------------------------------
# Analysis on the real samples
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", SEGMENTS, ids=_ids(SEGMENTS))
def test_streams_finds_h264_video_and_aac_audio(path: Path) -> None:
    assert streams(path.read_bytes()) == (
        StreamInfo(VIDEO_PID, 0x1B, "video", "h264"),
        StreamInfo(AUDIO_PID, 0x0F, "audio", "aac"),
    )


@pytest.mark.parametrize("path", SEGMENTS, ids=_ids(SEGMENTS))
def test_first_and_start_timestamps_agree_with_pyav(path: Path) -> None:
    data = path.read_bytes()
    packets = _pyav_packets(data)
    expected = {
        pid: next(pts for pts, _ in pkts if pts is not None) for pid, pkts in packets.items()
    }
    assert first_timestamps(data) == expected
    assert start_timestamp(data) == min(expected.values())
    with av.open(str(path)) as container:  # FFmpeg's start_time, in microseconds
        assert container.start_time == round(
            Fraction(min(expected.values()) * 1_000_000, PTS_CLOCK)
        )


@pytest.mark.parametrize("path", SEGMENTS, ids=_ids(SEGMENTS))
def test_keyframe_timestamps_agree_with_pyav(path: Path) -> None:
    data = path.read_bytes()
    with av.open(str(path)) as container:
        keys = [p.pts for p in container.demux(container.streams.video[0]) if p.is_keyframe]
    assert len(keys) == 2  # GOP 25 in 2 s at 25 fps
    assert keyframe_timestamps(data) == keys


def _clear_random_access(data: bytes) -> bytes:
    """Clear random_access_indicator in every adaptation field."""
    buf = bytearray(data)
    for p in range(0, len(buf), 188):
        if buf[p + 3] & 0x20 and buf[p + 4]:
            buf[p + 5] &= ~0x40 & 0xFF
    return bytes(buf)


@pytest.mark.parametrize("index", [0, 5, 9])
def test_keyframes_fall_back_to_idr_scan_without_flags(index: int) -> None:
    data = _read(index)
    cleared = _clear_random_access(data)
    assert cleared != data
    assert keyframe_timestamps(cleared) == keyframe_timestamps(data)


def test_analysis_of_empty_and_garbage_input() -> None:
    for junk in (b"", b"\x47", bytes(188 * 3), b"\x47" + bytes(187), b"\xff" * 1000):
        assert streams(junk) == ()
        assert first_timestamps(junk) == {}
        assert start_timestamp(junk) is None
        assert keyframe_timestamps(junk) == []


def test_partial_trailing_packet_is_ignored() -> None:
    data = _read(1)
    truncated = data[: len(data) - 100]
    assert first_timestamps(truncated) == first_timestamps(data)
    shifted = shift_timestamps(truncated, 90_000)
    assert len(shifted) == len(truncated)
    assert shifted[-88:] == truncated[-88:]


# --------------------------------------------------------------------------
# Shifting
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset",
    [1, 90_000, 3600 * PTS_CLOCK, -90_000, -5 * PTS_CLOCK, WRAP + 7],
    ids=["1tick", "1s", "1h", "-1s", "-5s-wraps-below-0", "wrap+7"],
)
@pytest.mark.parametrize("index", [0, 4, 9])
def test_shift_moves_every_packet_timestamp_by_offset(index: int, offset: int) -> None:
    data = _read(index)
    shifted = shift_timestamps(data, offset)
    _assert_shifted(data, shifted, offset)
    before, after = _pyav_packets(data), _pyav_packets(shifted)
    assert after.keys() == before.keys()
    for pid in before:
        assert len(after[pid]) == len(before[pid])
        for (pts0, dts0), (pts1, dts1) in zip(before[pid], after[pid], strict=True):
            assert pts0 is not None and dts0 is not None
            assert pts1 is not None and dts1 is not None
            # FFmpeg unwraps 33-bit timestamps, so compare on the circle.
            assert (pts1 - pts0) % WRAP == offset % WRAP
            assert (dts1 - dts0) % WRAP == offset % WRAP
    assert shift_timestamps(shifted, -offset) == data


def test_shift_across_the_33_bit_wrap() -> None:
    data = _read(3)
    firsts = first_timestamps(data)
    # Audio starts just before 2**33 and video (a few ms later) just after it:
    # a naive min() would call the video first.
    offset = WRAP - firsts[AUDIO_PID] - 100
    shifted = shift_timestamps(data, offset)
    _assert_shifted(data, shifted, offset)
    new_firsts = first_timestamps(shifted)
    assert new_firsts[AUDIO_PID] == WRAP - 100
    assert new_firsts[VIDEO_PID] < 90_000
    assert start_timestamp(shifted) == WRAP - 100
    assert keyframe_timestamps(shifted) == [(k + offset) % WRAP for k in keyframe_timestamps(data)]
    packets = _pyav_packets(shifted)
    video = [dts for _, dts in packets[VIDEO_PID] if dts is not None]
    assert len(video) == 50
    # FFmpeg unwraps, so in its view the stream keeps running straight through 2**33.
    assert [b - a for a, b in pairwise(video)] == [FRAME] * 49


@pytest.mark.parametrize("offset", [0, WRAP, -WRAP, 3 * WRAP])
def test_shift_by_multiple_of_wrap_returns_same_object(offset: int) -> None:
    data = _read(2)
    assert shift_timestamps(data, offset) is data


def test_shift_leaves_psi_and_headerless_pes_alone() -> None:
    pat_pmt = _read(0)[: 2 * 188]
    assert shift_timestamps(pat_pmt, 12345) == pat_pmt
    padding = _packet(0x100, b"\x00\x00\x01\xbe\x00\x10" + bytes(16), pusi=True)
    assert shift_timestamps(padding, 12345) == padding


# --------------------------------------------------------------------------
# Normalizer
# --------------------------------------------------------------------------


def _ffmpeg_remux(ts: bytes, out: Path) -> str:
    """Remux MPEG-TS bytes to MP4 with stream copy; return FFmpeg's warnings."""
    argv = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner", "-nostdin", "-loglevel", "warning", "-y",
        "-f", "mpegts", "-i", "pipe:",
        "-c", "copy", "-bsf:a", "aac_adtstoasc", str(out),
    ]  # fmt: skip
    proc = subprocess.run(argv, input=ts, capture_output=True, check=False)
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, stderr
    return stderr


@pytest.mark.parametrize("flagged", [True, False], ids=["discontinuity-tag", "threshold"])
def test_normalizer_splices_a_wrap_into_one_timeline(flagged: bool, tmp_path: Path) -> None:
    order = list(range(10)) + list(range(5))  # the second run jumps back 20 s
    norm = TimestampNormalizer()
    outputs = [
        norm.feed(_read(i), 2.0, discontinuity=flagged and n == 10) for n, i in enumerate(order)
    ]
    assert norm.rebases == 1
    assert norm.offset == 20 * PTS_CLOCK
    assert all(out is _read(i) for out, i in zip(outputs[:10], order, strict=False))
    joined = b"".join(outputs)

    # In the TS itself: video DTS advance by exactly one frame, splice included.
    video_dts = [dts for _, dts in _pyav_packets(joined)[VIDEO_PID] if dts is not None]
    assert len(video_dts) == 750
    assert [b - a for a, b in pairwise(video_dts)] == [FRAME] * 749

    mp4 = tmp_path / "out.mp4"
    warnings = _ffmpeg_remux(joined, mp4)
    # FFmpeg would silently "fix" backwards DTS by nudging them; forbid that for
    # video.  Audio may overlap by up to an AAC frame at the splice: the samples'
    # last segment carries the encoder's tail and the first one its priming.
    assert not [
        line for line in warnings.splitlines() if "Non-monotonic DTS" in line and "vost" in line
    ], warnings

    with av.open(str(mp4)) as container:
        vstream = container.streams.video[0]
        assert vstream.duration is not None and vstream.time_base is not None
        assert vstream.duration * vstream.time_base == 30
        dts = [p.dts for p in container.demux(vstream) if p.dts is not None]
        assert container.duration is not None
        assert abs(container.duration / 1_000_000 - 30) <= 1 / 25
    assert len(dts) == 750
    assert all(a < b for a, b in pairwise(dts))

    frames = decode_frame_indices(mp4)
    assert [index for _, index in frames] == list(range(500)) + list(range(250))
    steps = [b - a for (a, _), (b, _) in pairwise(frames)]
    assert all(abs(step - 0.04) < 1e-3 for step in steps)


@pytest.mark.parametrize("extinf", [2.0, 2.002, 1.96, 2.4])
def test_normalizer_ignores_extinf_rounding(extinf: float) -> None:
    norm = TimestampNormalizer()
    for i in range(10):
        data = _read(i)
        assert norm.feed(data, extinf) is data
    assert norm.rebases == 0
    assert norm.offset == 0


def test_normalizer_rebases_forward_jump_with_negative_offset() -> None:
    norm = TimestampNormalizer()
    for i in range(5):
        norm.feed(_read(i), 2.0)
    # seg_005 and seg_006 are missing: the stream jumps 4 s ahead.
    out = norm.feed(_read(7), 2.0)
    assert norm.rebases == 1
    assert norm.offset == -4 * PTS_CLOCK
    assert first_timestamps(out)[VIDEO_PID] == first_timestamps(_read(5))[VIDEO_PID]
    # From there on the offset holds.
    out = norm.feed(_read(8), 2.0)
    assert first_timestamps(out)[VIDEO_PID] == first_timestamps(_read(6))[VIDEO_PID]
    assert norm.rebases == 1


def test_normalizer_keeps_offset_for_small_jumps() -> None:
    norm = TimestampNormalizer(threshold=1.0)
    norm.feed(_read(0), 2.0)
    jittered = shift_timestamps(_read(1), PTS_CLOCK // 2)  # 0.5 s late: below threshold
    assert norm.feed(jittered, 2.0) is jittered
    assert norm.rebases == 0
    # A discontinuity tag forces a rebase even when timestamps look continuous.
    out = norm.feed(_read(2), 2.0, discontinuity=True)
    assert norm.rebases == 1
    assert first_timestamps(out)[VIDEO_PID] == first_timestamps(jittered)[VIDEO_PID] + 2 * PTS_CLOCK


def test_normalizer_treats_natural_33_bit_wrap_as_continuous() -> None:
    offset = WRAP - first_timestamps(_read(0))[VIDEO_PID] - 3 * PTS_CLOCK  # wraps inside seg_001
    norm = TimestampNormalizer()
    for i in range(5):
        data = shift_timestamps(_read(i), offset)
        assert norm.feed(data, 2.0) is data
    assert norm.rebases == 0


def test_normalizer_passes_through_segments_without_timestamps() -> None:
    norm = TimestampNormalizer()
    for i in range(3):
        norm.feed(_read(i), 2.0)
    # seg_003 arrives damaged (only its PAT/PMT survive): it passes through but
    # keeps its 2 s on the timeline, so seg_004 still follows without a rebase.
    psi_only = _read(3)[: 2 * 188]
    assert norm.feed(psi_only, 2.0) is psi_only
    assert norm.feed(b"", 0.0) == b""
    data = _read(4)
    assert norm.feed(data, 2.0) is data
    assert norm.rebases == 0
    # A discontinuity on a segment without timestamps carries over to the next one.
    assert norm.feed(psi_only, 2.0, discontinuity=True) is psi_only
    out = norm.feed(_read(5), 2.0)
    assert norm.rebases == 1
    assert first_timestamps(out)[VIDEO_PID] == first_timestamps(data)[VIDEO_PID] + 4 * PTS_CLOCK


# --------------------------------------------------------------------------
# Synthetic streams
# --------------------------------------------------------------------------


def _crc32_mpeg2(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (
                ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF
                if crc & 0x80000000
                else (crc << 1) & 0xFFFFFFFF
            )
    return crc


def _section(table_id: int, ext: int, body: bytes) -> bytes:
    head = bytes([table_id]) + (0xB000 | (len(body) + 9)).to_bytes(2, "big")
    sec = head + ext.to_bytes(2, "big") + b"\xc1\x00\x00" + body
    return sec + _crc32_mpeg2(sec).to_bytes(4, "big")


def _pat_pmt(entries: list[tuple[int, int, bytes]], pcr_pid: int = VIDEO_PID) -> bytes:
    """A PAT and a PMT (PID 0x1000) listing ``(stream_type, pid, descriptors)``."""
    pat = _section(0x00, 1, (1).to_bytes(2, "big") + (0xE000 | 0x1000).to_bytes(2, "big"))
    es = b"".join(
        bytes([st_]) + (0xE000 | pid).to_bytes(2, "big") + (0xF000 | len(d)).to_bytes(2, "big") + d
        for st_, pid, d in entries
    )
    pmt = _section(0x02, 1, (0xE000 | pcr_pid).to_bytes(2, "big") + b"\xf0\x00" + es)
    return _packet(0, b"\x00" + pat, pusi=True) + _packet(0x1000, b"\x00" + pmt, pusi=True)


def _packet(
    pid: int, payload: bytes, *, pusi: bool = False, pcr: int | None = None, rai: bool = False
) -> bytes:
    """One 188-byte packet; short payloads are padded with adaptation-field stuffing."""
    need_af = pcr is not None or rai
    af_body = bytes([(0x40 if rai else 0) | (0x10 if pcr is not None else 0)])
    if pcr is not None:
        af_body += ((pcr << 15) | 0x7E00 | 123).to_bytes(6, "big")
    min_af = 1 + len(af_body) if need_af else 0
    payload = payload[: 184 - min_af]
    gap = 184 - min_af - len(payload)
    if need_af:
        af = bytes([len(af_body) + gap]) + af_body + b"\xff" * gap
    elif gap == 0:
        af = b""
    elif gap == 1:
        af = b"\x00"
    else:
        af = bytes([gap - 1, 0]) + b"\xff" * (gap - 2)
    afc = (0x20 if af else 0) | (0x10 if payload else 0)
    header = bytes([0x47, (0x40 if pusi else 0) | pid >> 8, pid & 0xFF, afc])
    return header + af + payload


def _pes_packets(
    pid: int, pes: bytes, *, pcr: int | None = None, rai: bool = False, first: bool = True
) -> bytes:
    """``pes`` split into packets; the first one starts the unit unless ``first`` is False."""
    af = (2 + (6 if pcr is not None else 0)) if (pcr is not None or rai) else 0
    head = 184 - af if first else 0
    out = _packet(pid, pes[:head], pusi=True, pcr=pcr, rai=rai) if first else b""
    for i in range(head, len(pes), 184):
        out += _packet(pid, pes[i : i + 184])
    return out


def _ts_bytes(prefix: int, value: int) -> bytes:
    v = value
    return bytes(
        [
            prefix << 4 | (v >> 29) & 0x0E | 1,
            (v >> 22) & 0xFF,
            (v >> 14) & 0xFE | 1,
            (v >> 7) & 0xFF,
            (v << 1) & 0xFE | 1,
        ]
    )


def _pes(stream_id: int, pts: int, dts: int | None, es: bytes) -> bytes:
    if dts is None:
        fields, flags = _ts_bytes(2, pts), 0x80
    else:
        fields, flags = _ts_bytes(3, pts) + _ts_bytes(1, dts), 0xC0
    return (
        b"\x00\x00\x01"
        + bytes([stream_id])
        + b"\x00\x00\x80"
        + bytes([flags, len(fields)])
        + fields
        + es
    )


@pytest.mark.parametrize(
    ("stream_type", "descriptors", "expected"),
    [
        (0x24, b"", ("video", "hevc")),
        (0x03, b"", ("audio", "mp3")),
        (0x04, b"", ("audio", "mp3")),
        (0x15, b"", ("other", "timed_id3")),
        (0x06, b"\x05\x04AC-3", ("audio", "ac3")),
        (0x06, b"\x0a\x04eng\x00\x7a\x01\x00", ("audio", "eac3")),
        (0x06, b"", ("other", "private")),
        (0x99, b"", ("other", "unknown_0x99")),
    ],
)
def test_streams_classifies_stream_types(
    stream_type: int, descriptors: bytes, expected: tuple[str, str]
) -> None:
    data = _pat_pmt([(0x1B, VIDEO_PID, b""), (stream_type, 0x300, descriptors)])
    assert streams(data)[1] == StreamInfo(0x300, stream_type, *expected)  # type: ignore[arg-type]


def test_streams_ignores_pmt_with_bad_crc() -> None:
    data = bytearray(_pat_pmt([(0x1B, VIDEO_PID, b"")]))
    data[2 * 188 - 6] ^= 0x01  # the section sits at the end of the (stuffed) PMT packet
    assert streams(bytes(data)) == ()


@pytest.mark.parametrize(
    ("codec_type", "key_nal", "other_nal"),
    [(0x1B, b"\x65", b"\x41"), (0x24, b"\x26\x01", b"\x02\x01")],  # IDR / TRAIL_R
    ids=["h264", "hevc"],
)
def test_keyframe_scan_on_synthetic_streams(
    codec_type: int, key_nal: bytes, other_nal: bytes
) -> None:
    aud = b"\x00\x00\x00\x01\x09\xf0" if codec_type == 0x1B else b"\x00\x00\x00\x01\x46\x01\x50"
    ts = _pat_pmt([(codec_type, VIDEO_PID, b"")])
    keys = []
    for n in range(6):
        is_key = n % 3 == 0
        es = aud + b"\x00\x00\x01" + (key_nal if is_key else other_nal) + b"\xab" * 300
        pes = _pes(0xE0, 1000 + n * FRAME, None, es)
        # Cut the first packet inside the slice's start code, so the scan has
        # to reassemble the PES to see it.
        cut = 14 + len(aud) + 2
        ts += _packet(VIDEO_PID, pes[:cut], pusi=True) + _pes_packets(
            VIDEO_PID, pes[cut:], first=False
        )
        if is_key:
            keys.append(1000 + n * FRAME)
    assert keyframe_timestamps(ts) == keys


_pes_specs = st.lists(
    st.tuples(
        st.sampled_from([VIDEO_PID, AUDIO_PID]),
        st.integers(0, 1 << 30),  # PTS delta from the base
        st.one_of(st.none(), st.integers(0, 9000)),  # DTS lead, if any
        st.one_of(st.none(), st.integers(0, 9000)),  # PCR lead, if any
        st.booleans(),  # random_access_indicator
        st.binary(max_size=400),  # elementary stream bytes
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=_pes_specs,
    base=st.integers(0, WRAP - 1),
    offset=st.integers(-2 * WRAP, 2 * WRAP),
)
def test_shift_properties_on_synthetic_streams(
    specs: list[tuple[int, int, int | None, int | None, bool, bytes]], base: int, offset: int
) -> None:
    ts = _pat_pmt([(0x1B, VIDEO_PID, b""), (0x0F, AUDIO_PID, b"")])
    for pid, delta, dts_lead, pcr_lead, rai, es in specs:
        pts = (base + delta) % WRAP
        dts = None if dts_lead is None else (pts - dts_lead) % WRAP
        pcr = None if pcr_lead is None else (pts - pcr_lead) % WRAP
        pes = _pes(0xE0 if pid == VIDEO_PID else 0xC0, pts, dts, es)
        ts += _pes_packets(pid, pes, pcr=pcr, rai=rai)
    shifted = shift_timestamps(ts, offset)
    if offset % WRAP == 0:
        assert shifted is ts
    else:
        _assert_shifted(ts, shifted, offset)
    assert shift_timestamps(shifted, -offset) == ts
    assert shift_timestamps(shift_timestamps(ts, offset), 12345) == shift_timestamps(
        ts, offset + 12345
    )
    firsts = first_timestamps(ts)
    assert first_timestamps(shifted) == {pid: (v + offset) % WRAP for pid, v in firsts.items()}
    start = start_timestamp(ts)
    assert start is not None
    assert start_timestamp(shifted) == (start + offset) % WRAP


@settings(max_examples=100, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=188, max_size=188), max_size=8),
    sync=st.lists(st.booleans(), min_size=8, max_size=8),
    tail=st.binary(max_size=187),
    offset=st.integers(-WRAP, WRAP),
)
def test_garbage_never_raises_and_shift_round_trips(
    chunks: list[bytes], sync: list[bool], tail: bytes, offset: int
) -> None:
    data = (
        b"".join((b"\x47" + c[1:]) if s else c for c, s in zip(chunks, sync, strict=False)) + tail
    )
    shifted = shift_timestamps(data, offset)
    assert len(shifted) == len(data)
    assert shift_timestamps(shifted, -offset) == data
    streams(data)
    first_timestamps(data)
    start_timestamp(data)
    keyframe_timestamps(data)
    TimestampNormalizer().feed(data, 2.0)
