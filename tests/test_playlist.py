"""Selection (pure): segments placed in wall-clock time, the window's segments, and its gaps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.errors import ForeignHostError, RemoteError, UsageError
from timeshift.playlist import (
    ByteRange,
    Key,
    Segment,
    assign_wall_clock,
    check_hosts,
    parse_playlist,
    select_window,
)
from timeshift.timeline import Span

FIX = Path(__file__).parent / "fixtures"
T0 = 1795240800  # 2026-11-21T06:00:00Z
URI = "http://play.example.com:8080/live/cam1.m3u8?lhs_start=1"


def _pl(name: str):  # type: ignore[no-untyped-def]
    return parse_playlist((FIX / name).read_text(), URI)


def test_pdt_times_sequence_and_absolute_uris() -> None:
    pl = _pl("vod_pdt_gap.m3u8")
    assert pl.dated and pl.endlist
    assert [s.sequence for s in pl.segments] == [100, 101, 102, 103]
    assert [s.start - T0 for s in pl.segments] == [0, 2, 10, 12]
    assert pl.segments[0].uri == "http://play.example.com:8080/live/cam1/100.ts?t=1795240800"
    assert [s.discontinuity for s in pl.segments] == [False, False, True, False]


def test_pdt_jump_is_a_gap() -> None:
    sel = select_window(_pl("vod_pdt_gap.m3u8").segments, T0 + 1, T0 + 13)
    assert [s.sequence for s in sel.segments] == [100, 101, 102, 103]
    assert [(g.start - T0, g.end - T0, g.reason) for g in sel.gaps] == [(4, 10, "playlist")]
    assert sel.covered == (T0 + 1, T0 + 13) and sel.gap_seconds == 6


def test_window_past_the_data_and_timeline_gaps() -> None:
    segs = _pl("vod_pdt_gap.m3u8").segments
    sel = select_window(segs, T0 - 4, T0 + 20, timeline_gaps=[Span(T0 + 3, T0 + 11)])
    assert [(g.start - T0, g.end - T0) for g in sel.gaps] == [(-4, 0), (3, 11), (14, 20)]
    assert [g.reason for g in sel.gaps] == ["before-start", "timeline", "after-end"]


def test_missing_segments_become_gaps() -> None:
    segs = _pl("vod_pdt_gap.m3u8").segments
    sel = select_window(segs, T0, T0 + 4).with_missing([segs[1]])
    assert [s.sequence for s in sel.segments] == [100]
    assert [(g.start - T0, g.end - T0, g.reason) for g in sel.gaps] == [(2, 4, "missing")]


def test_no_pdt_anchored_on_timeline_and_gap_found_after_discontinuity() -> None:
    pl = _pl("vod_no_pdt.m3u8")
    assert not pl.dated
    # One timeline entry per segment, as the service answers; nothing between +4 and +10.
    entries = [Span(T0 + a, T0 + a + 2) for a in (0, 2, 10, 12)]
    segs = assign_wall_clock(pl.segments, T0 + 1, entries)
    assert [s.start - T0 for s in segs] == [0, 2, 10, 12]
    # Without a timeline the first segment is put at the window start and runs are laid end to end.
    bare = assign_wall_clock(pl.segments, T0 + 1)
    assert [s.start - T0 for s in bare] == [1, 3, 5, 7]


def test_wrap_without_gap_stays_contiguous() -> None:
    pl = _pl("vod_no_pdt.m3u8")
    entries = [Span(T0 + a, T0 + a + 2) for a in (0, 2, 4, 6)]
    assert [s.start - T0 for s in assign_wall_clock(pl.segments, T0, entries)] == [0, 2, 4, 6]


def test_foreign_host_refused_and_allowed() -> None:
    segs = _pl("vod_pdt_gap.m3u8").segments
    with pytest.raises(ForeignHostError, match="other.example.com.*--allow-host"):
        check_hosts(segs, URI)
    check_hosts(segs, URI, allowed=["other.example.com"])
    with pytest.raises(ForeignHostError, match="scheme"):
        check_hosts([Segment("file:///etc/passwd", 1, 2.0, 0.0)], URI)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("<html>", RemoteError, id="not-hls"),
        pytest.param("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n", UsageError, id="master"),
        pytest.param("#EXTM3U\n#EXTINF:-1,\na.ts\n", RemoteError, id="bad-duration"),
        pytest.param("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-11-21T0\n#EXTINF:2,\na.ts\n",
                     RemoteError, id="truncated-pdt"),
    ],
)
def test_bad_playlists(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_playlist(text, URI)


def test_aes128_keys_ivs_rotation_and_method_none() -> None:
    segs = _pl("aes128_rotation.m3u8").segments
    assert [s.sequence for s in segs] == [7, 8, 9, 10, 11, 12]
    explicit = bytes.fromhex("00112233445566778899aabbccddeeff")
    # Relative key URIs resolve against the playlist, like segment URIs.
    assert segs[0].key == segs[1].key == Key("http://play.example.com:8080/live/keys/0.key",
                                             explicit)
    assert segs[2].key == segs[3].key == Key("https://keys.example.com/k/1.key?token=abc", None)
    assert segs[4].key is None  # METHOD=NONE clears the key
    assert segs[5].key == Key("http://play.example.com:8080/live/keys/2.key", b"\0" * 15 + b"\x1f")
    # An explicit IV holds for every segment under the tag; without one it is the sequence number.
    assert [s.iv for s in segs] == [explicit, explicit, (9).to_bytes(16, "big"),
                                    (10).to_bytes(16, "big"), None, b"\0" * 15 + b"\x1f"]
    assert all(s.byterange is None for s in segs)


def test_byteranges_get_explicit_offsets() -> None:
    segs = _pl("byterange.m3u8").segments
    assert [s.uri.rsplit("/", 1)[1] for s in segs] == ["r0.ts"] * 3 + ["r1.ts"] * 2 + ["whole.ts"]
    assert [s.byterange for s in segs] == [
        ByteRange(1000, 0), ByteRange(1500, 1000), ByteRange(700, 2500),  # offsets implied
        ByteRange(900, 0), ByteRange(100, 5000), None]
    assert [s.byterange.header() for s in segs[:3] if s.byterange] == [
        "bytes=0-999", "bytes=1000-2499", "bytes=2500-3199"]
    assert all(s.key is None for s in segs)


@given(st.lists(st.tuples(st.integers(1, 10**9), st.booleans()), min_size=1, max_size=20),
       st.integers(0, 10**9))
def test_byterange_offsets_round_trip(ranges: list[tuple[int, bool]], first: int) -> None:
    # Ranges laid end to end, each written with or without its offset, parse to the same offsets.
    lines, offset, want = ["#EXTM3U", "#EXT-X-TARGETDURATION:2"], first, []
    for i, (length, explicit) in enumerate(ranges):
        at = f"@{offset}" if explicit or i == 0 else ""
        lines += ["#EXTINF:2,", f"#EXT-X-BYTERANGE:{length}{at}", "all.ts"]
        want.append(ByteRange(length, offset))
        offset += length
    assert [s.byterange for s in parse_playlist("\n".join(lines) + "\n", URI).segments] == want


@given(st.integers(0, 2**128 - 1), st.booleans())
def test_iv_hex_round_trip(iv: int, upper: bool) -> None:
    text = f"0x{iv:032x}" if not upper else f"0X{iv:X}"
    pl = parse_playlist(f'#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k",IV={text}\n'
                        "#EXTINF:2,\na.ts\n", URI)
    assert pl.segments[0].iv == iv.to_bytes(16, "big")


def test_key_uris_are_held_to_the_host_allow_list() -> None:
    segs = _pl("aes128_rotation.m3u8").segments
    with pytest.raises(ForeignHostError, match="key host 'keys.example.com'.*--allow-host") as info:
        check_hosts(segs, URI)
    assert "token=***" in str(info.value) and "abc" not in str(info.value)  # the URL is redacted
    check_hosts(segs, URI, allowed=["keys.example.com"])
    with pytest.raises(ForeignHostError, match="key scheme 'skd'"):
        check_hosts([Segment(URI, 1, 2.0, 0.0, key=Key("skd://x"))], URI)


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        pytest.param("sample_aes.m3u8", r"^segment 0 is encrypted with METHOD=SAMPLE-AES, which is "
                     r"not supported: only AES-128", id="sample-aes"),
    ],
)
def test_unsupported_forms_are_refused_in_one_line(fixture: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        _pl(fixture)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("tags", "error", "match"),
    [
        pytest.param('#EXT-X-KEY:METHOD=AES-128,URI="k",IV=12345', RemoteError, "IV", id="iv-not-hex"),
        pytest.param('#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x' + "1" * 33, RemoteError, "IV",
                     id="iv-too-long"),
        pytest.param("#EXT-X-KEY:METHOD=AES-128", RemoteError, "no URI", id="key-without-uri"),
        pytest.param('#EXT-X-KEY:METHOD=AES-128,URI="k",KEYFORMAT="com.widevine"', UsageError,
                     "KEYFORMAT", id="drm-keyformat"),
        pytest.param('#EXT-X-KEY:METHOD=AES-256,URI="k"', UsageError, "METHOD=AES-256",
                     id="other-method"),
        pytest.param("#EXT-X-BYTERANGE:100", RemoteError, "no offset", id="range-without-offset"),
        pytest.param("#EXT-X-BYTERANGE:0@0", RemoteError, "LENGTH", id="empty-range"),
    ],
)
def test_bad_keys_and_ranges(tags: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_playlist(f"#EXTM3U\n{tags}\n#EXTINF:2,\na.ts\n", URI)


def test_range_offset_cannot_be_implied_across_resources() -> None:
    text = "#EXTM3U\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@0\na.ts\n#EXTINF:2,\n#EXT-X-BYTERANGE:10\nb.ts\n"
    with pytest.raises(RemoteError, match="same resource"):
        parse_playlist(text, URI)


def test_end_before_start() -> None:
    with pytest.raises(UsageError):
        select_window([], 10, 5)


def test_the_lookahead_is_the_next_joined_segment_near_the_end() -> None:
    from timeshift.playlist import lookahead_segment, select_window

    segs = [Segment(f"s{k}.ts", k, 2.0, 100.0 + 2 * k) for k in range(5)]
    sel = select_window(segs, 101.0, 103.9)
    assert lookahead_segment(segs, sel) == segs[2]
    assert lookahead_segment(segs, select_window(segs, 101.0, 104.0)) == segs[2]
    # The window ends early in its last segment: no leading picture of the next is wanted.
    assert lookahead_segment(segs, select_window(segs, 100.0, 100.5)) is not None  # 1.5 s
    assert lookahead_segment([*segs[:2], replace(segs[2], start=106.0)],
                             select_window(segs[:2], 101.0, 103.9)) is None  # a gap after
    assert lookahead_segment([*segs[:2], replace(segs[2], discontinuity=True)],
                             select_window(segs[:2], 101.0, 103.9)) is None  # a new encode
    assert lookahead_segment(segs, select_window(segs, 101.0, 109.0)) is None  # last listed
    long = [Segment(f"s{k}.ts", k, 6.0, 100.0 + 6 * k) for k in range(3)]
    assert lookahead_segment(long, select_window(long, 101.0, 102.0)) is None  # 4 s before
