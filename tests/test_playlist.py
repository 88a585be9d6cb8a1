"""Selection (pure): segments placed in wall-clock time, the window's segments, and its gaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from timeshift.errors import ForeignHostError, RemoteError, UsageError
from timeshift.playlist import (
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


def test_end_before_start() -> None:
    with pytest.raises(UsageError):
        select_window([], 10, 5)
