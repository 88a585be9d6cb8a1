"""The exact cut's decisions, without media: GOPs, first frame, DTS joins, parameter sets, audio."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.cutplan import (
    AudioCut,
    edge_dts,
    end_prefix_length,
    first_frame,
    free_parameter_set_id,
    gop_action,
    hevc_high_tier,
    nal_units,
    parameter_set_ids,
    ticks_since,
    x264_level,
    x264_params,
    x264_profile,
    x265_level_params,
)

F = 3600  # one frame at 25 fps in 90 kHz ticks
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.mark.parametrize(("segment_start", "at", "want"), [
    pytest.param(100.0, 100.0, 0, id="at-the-first-frame"),
    pytest.param(100.0, 101.5, 135_000, id="one-and-a-half-seconds"),
    pytest.param(100.0, 100.04, F, id="one-frame-at-25-fps"),
    pytest.param(0.0, 1 / 3, 30_000, id="a-third-rounds-to-the-tick"),
    pytest.param(0.0, 0.4 / 90_000, 0, id="under-half-a-tick-rounds-down"),
    pytest.param(0.0, 0.6 / 90_000, 1, id="over-half-a-tick-rounds-up"),
    pytest.param(100.0, 99.0, -90_000, id="before-the-segment-is-negative"),
    # unix seconds today: a float's precision (~0.2 us) is far under a tick (11 us)
    pytest.param(1_764_633_600.0, 1_764_633_602.04, 2 * 90_000 + F, id="unix-seconds"),
])
def test_ticks_since_the_segments_first_frame(segment_start: float, at: float,
                                              want: int) -> None:
    assert ticks_since(segment_start, at) == want


def test_ticks_since_in_another_time_base() -> None:
    assert ticks_since(10.0, 12.5, clock=1000) == 2500


@given(st.integers(0, 2_000_000_000), st.integers(-10 * 90_000, 3600 * 90_000))
def test_ticks_since_round_trips_whole_ticks(start_s: int, ticks: int) -> None:
    assert ticks_since(float(start_s), start_s + ticks / 90_000) == ticks


@pytest.mark.parametrize(("start", "want"), [
    pytest.param(0, 0, id="on-the-first-frame"),
    pytest.param(5 * F, 5 * F, id="on-a-frame"),
    pytest.param(5 * F + 1, 5 * F, id="just-after-a-frame-starts"),
    pytest.param(6 * F - 1, 5 * F, id="just-before-the-next"),
    pytest.param(24 * F + 100, 24 * F, id="last-frame-of-the-gop"),
    pytest.param(25 * F, None, id="next-gop"),
    pytest.param(-7 * F, 0, id="window-opens-in-a-gap-before"),
])
def test_first_frame_is_the_one_on_screen(start: int, want: int | None) -> None:
    decode_order = [0, 3 * F, F, 2 * F] + [k * F for k in range(4, 25)]
    assert first_frame(decode_order, start, F) == want


@pytest.mark.parametrize(("first", "end", "want"), [
    pytest.param(0, 25 * F, "copy", id="whole"),
    pytest.param(F, 25 * F, "encode", id="head-cut"),
    pytest.param(0, 24 * F, "encode", id="tail-cut"),
    pytest.param(5 * F, 6 * F, "encode", id="inside"),
    pytest.param(25 * F, 50 * F, "before", id="before"),
    pytest.param(-50 * F, 0, "after", id="after"),
])
def test_gop_action(first: int, end: int, want: str) -> None:
    assert gop_action([k * F for k in range(25)], first, end) == want


def test_edge_dts_continues_the_sources_grid() -> None:
    # Source: B-frame delay 2 frames, so the keyframe at 10F has DTS 8F and the packet
    # before it 7F. A head encode of frames 3F..9F fed in order gets DTS 1F..7F.
    fed = [k * F for k in range(3, 10)]
    assert [edge_dts(p, 2 * F, p) for p in fed] == [k * F for k in range(1, 8)]
    with pytest.raises(ValueError, match="after its PTS"):
        edge_dts(5 * F, 0, 4 * F)  # an encoder that reorders deeper than the source


@pytest.mark.parametrize(("reorder", "want"), [
    (0, "bframes=0"), (1, "bframes=1:b-pyramid=none"), (2, "bframes=2:b-pyramid=normal"),
    (3, "bframes=2:b-pyramid=normal"),
])
def test_x264_params_keep_the_reorder_depth(reorder: int, want: str) -> None:
    params = x264_params(reorder, 1)
    assert params.startswith(want + ":") and "sps-id=1" in params and "keyint=infinite" in params
    assert "keyint=25" in x264_params(reorder, 1, 25)


def test_profile_and_level_names() -> None:
    assert x264_profile("High") == "high" and x264_profile("Constrained Baseline") == "baseline"
    assert x264_profile("High 4:4:4 Predictive") == "high444" and x264_profile("Rext") is None
    assert x264_level(31) == "3.1" and x264_level(9) == "1b" and x264_level(-99) is None


def _samples_extradata() -> bytes:
    import av

    with av.open(str(SAMPLES / "seg_000.ts")) as c:
        return bytes(c.streams.video[0].codec_context.extradata)


def test_parameter_set_ids_of_the_samples_and_a_free_one() -> None:
    data = _samples_extradata()
    assert [u[0] & 0x1F for u in nal_units(data)] == [7, 8]
    assert parameter_set_ids(data) == ({0}, {0})
    assert free_parameter_set_id({0}, {0}) == 1
    assert free_parameter_set_id({0, 1}, {0, 2}) == 3
    # x264 with sps-id=5: SPS 5 and PPS 5 (the id follows the 3 header bytes, exp-Golomb)
    sps5 = b"\x00\x00\x00\x01\x67\x64\x00\x0d\x37\x00\x00\x00\x01\x68\x37"  # 00110...
    assert parameter_set_ids(sps5) == ({5}, {5})


@given(st.integers(0, 31))
def test_parameter_set_id_round_trip(n: int) -> None:
    # ue(v) of n: (bits(n+1)-1) zeros then n+1 in binary; pad with ones (more syntax follows).
    code = "0" * ((n + 1).bit_length() - 1) + format(n + 1, "b")
    body = int((code + "1" * 16)[:16], 2).to_bytes(2, "big")
    assert parameter_set_ids(b"\x00\x00\x01\x67\x64\x00\x1f" + body) == ({n}, frozenset())


def test_audio_cut_keeps_a_preroll_and_trims_to_the_sample() -> None:
    cut: AudioCut[int] = AudioCut()
    out = []
    for i in range(6):  # packets 0..5 at 0, 1024, ...
        out += cut.feed(i, i * 1024, 1024)
    out += cut.set_start(2500)  # inside packet 2 -> packet 1 is the pre-roll
    for i in range(6, 10):
        out += cut.feed(i, i * 1024, 1024)
    out += cut.release_until(5000)
    out += cut.finish(7000)  # inside packet 6
    assert [(i, s) for i, s, _ in out] == [(i, i * 1024 - 2500) for i in range(1, 7)]
    assert out[-1][2] == 7000 - 6 * 1024 and all(n == 1024 for _, _, n in out[:-1])


def test_audio_cut_snaps_jitter_and_drops_overlap() -> None:
    cut: AudioCut[int] = AudioCut()
    cut.set_start(0)
    cut.feed(0, 0, 1024)
    cut.feed(1, 1025, 1024)  # 44.1 kHz rounding: snapped to 1024
    cut.feed(2, 2048 - 1536, 1024)  # a splice: 1.5 packets of overlap -> dropped
    cut.feed(3, 2048 - 512, 1024)  # half a packet early -> snapped
    out = cut.finish(10_000)
    assert [(i, s) for i, s, _ in out] == [(0, 0), (1, 1024), (3, 2048)] and cut.dropped == 1


def test_audio_cut_without_a_packet_before_the_start_has_no_preroll() -> None:
    cut: AudioCut[int] = AudioCut()
    out = cut.feed(0, 100, 1024) + cut.set_start(0) + cut.finish(2000)
    assert [(i, s, n) for i, s, n in out] == [(0, 100, 1024)]


def test_an_end_after_the_segments_last_frame_needs_the_next_segment() -> None:
    from timeshift.cutplan import end_needs_next_segment

    f = 3600
    # An open GOP's tail: frames 0..47 in the segment (in decode order), 48 and 49
    # (leading pictures of the next segment's keyframe at 50) are not.
    pts = [1000 + k * f for k in [0, 3, 1, 2, *range(4, 48)]]
    assert not end_needs_next_segment(pts, 47 * f + 10)  # ends inside frame 47
    assert end_needs_next_segment(pts, 48 * f + 10)  # frame 48 is shown before the end
    assert end_needs_next_segment(pts, 50 * f)  # on the boundary: 48 and 49 wanted
    # Closed: every frame before the boundary is there; a whole-second end wants none.
    assert not end_needs_next_segment([1000 + k * f for k in range(50)], 50 * f)
    # Around the 33-bit wrap, and without a grid.
    wrap = [((1 << 33) - 2 * f + k * f) % (1 << 33) for k in range(10)]
    assert not end_needs_next_segment(wrap, 10 * f) and end_needs_next_segment(wrap, 11 * f)
    assert end_needs_next_segment([5], 10) and not end_needs_next_segment([], 10)


# SPS NAL units x265 wrote at level 4 (Main, then High tier), with a 4-byte start code:
# header 42 01, then 01 (VPS id, sub-layers, nesting), then space/tier/profile 01 or 21.
_SPS_MAIN = bytes.fromhex("00000001420101016000000300900000030000030078a00a")
_SPS_HIGH = bytes.fromhex("00000001420101216000000300900000030000030078a00a")


def test_hevc_tier_is_read_from_the_first_sps() -> None:
    vps = bytes.fromhex("0000000140010c01ffff")  # a VPS before it is skipped
    assert hevc_high_tier(vps + _SPS_MAIN) is False
    assert hevc_high_tier(vps + _SPS_HIGH + _SPS_MAIN) is True
    assert hevc_high_tier(vps) is None and hevc_high_tier(b"") is None


@pytest.mark.parametrize(("level", "high", "want"), [
    # High tier's own limits (above Main's 12 and 40 Mbit/s), so they never bind a source
    # within High tier
    ("4", True, ":level-idc=4:high-tier=1:vbv-maxrate=30000:vbv-bufsize=30000"),
    ("5.1", True, ":level-idc=5.1:high-tier=1:vbv-maxrate=160000:vbv-bufsize=160000"),
    ("4", False, ":level-idc=4:high-tier=0"),
    ("4", None, ":level-idc=4:high-tier=0"),  # tier not found: Main
    ("3.1", True, ":level-idc=3.1:high-tier=0"),  # no High tier below level 4
    (None, True, ""),
])
def test_x265_level_params_keep_the_tier(level: str | None, high: bool | None,
                                         want: str) -> None:
    assert x265_level_params(level, high) == want


# One closed GOP as x264 writes it with 2 B-frames (decode order; PTS and DTS in frames).
_GOP_PTS = [2, 5, 3, 4, 8, 6, 7, 11, 9, 10]
_GOP_DTS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


@pytest.mark.parametrize(("end", "want"), [
    pytest.param(12, 10, id="everything-before-the-end"),
    pytest.param(9, 7, id="a-p-frame-after-the-end-stops-the-run"),  # 2-8 copied, nothing left
    pytest.param(8, 4, id="b-frames-after-it-in-decode-order-are-re-encoded"),  # 2-5; 6, 7
    pytest.param(3, 1, id="only-the-keyframe"),  # 2 alone, copied
])
def test_end_prefix_length(end: int, want: int) -> None:
    assert end_prefix_length(_GOP_PTS, _GOP_DTS, end, 1, dts_limit=100) == want
    copied = _GOP_PTS[:want]
    rest = [p for p in _GOP_PTS[want:] if p < end]
    # What is copied decodes alone (a prefix) and is all shown before what is re-encoded.
    assert not rest or not copied or max(copied) < min(rest)


def test_end_prefix_stops_short_of_a_late_keyframe_for_gstreamer() -> None:
    # With end 8 the run is 2-5 (4 packets, last DTS 3) and 6, 7 are re-encoded: their
    # second packet gets DTS 5. A limit of 5 shortens the run until it fits: 2 alone
    # (DTS 0), then 3-7 re-encoded from DTS 1.
    assert end_prefix_length(_GOP_PTS, _GOP_DTS, 8, 1, dts_limit=6) == 4
    assert end_prefix_length(_GOP_PTS, _GOP_DTS, 8, 1, dts_limit=5) == 1
    assert end_prefix_length(_GOP_PTS, _GOP_DTS, 8, 1, dts_limit=2) == 0
