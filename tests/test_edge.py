"""The live edge's decisions (timeshift.edge), without servers: vectors and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeshift.edge import (
    DEFAULT_WAIT_TARGETS,
    EdgePolicy,
    EdgeReport,
    check_horizon,
    final_selection,
    fresh_segments,
    next_step,
    poll_delay,
    published_end,
    segment_after_deadline,
    without_pending,
)
from timeshift.errors import UsageError
from timeshift.playlist import Gap, Segment, select_window
from timeshift.times import NS_PER_S

T0 = 1_800_000_000.0  # a wall-clock origin for the grid


def seg(k: int, d: float = 2.0, **kw: object) -> Segment:
    return Segment(uri=f"http://o/{k}.ts", sequence=k, duration=d, start=T0 + k * d, dated=True,
                   **kw)  # type: ignore[arg-type]


def grid(a: int, b: int) -> list[Segment]:
    return [seg(k) for k in range(a, b)]


STEPS = [
    # (published, end, now, deadline, stopped, step)
    pytest.param(T0 + 10, T0 + 10, T0 + 10, T0 + 16, False, "done", id="edge-segment-there"),
    pytest.param(T0 + 10, T0 + 10.1, T0 + 10.5, T0 + 16, False, "wait",
                 id="end-0.1s-into-a-segment-needs-it"),
    pytest.param(T0 + 8, T0 + 10, T0 + 16, T0 + 16, False, "give-up", id="past-the-deadline"),
    pytest.param(T0 + 8, T0 + 10, T0 + 9, T0 + 16, True, "stopped", id="ctrl-c"),
    pytest.param(T0 + 12, T0 + 10, T0 + 9, T0 + 16, True, "stopped", id="ctrl-c-wins"),
]


@pytest.mark.parametrize(("published", "end", "now", "deadline", "stopped", "step"), STEPS)
def test_next_step(published: float, end: float, now: float, deadline: float, stopped: bool,
                   step: str) -> None:
    assert next_step(published, end, now, deadline, stopped=stopped) == step


def test_poll_delay_aims_at_the_next_segment_and_follows_rfc_8216_when_late() -> None:
    # Published to T0+10: the next 2 s segment is whole at T0+12: ask just after.
    assert poll_delay(2.0, T0 + 10, T0 + 11.0, T0 + 30) == pytest.approx(1.05)
    # Already due, and not asked since: ask at once.
    assert poll_delay(2.0, T0 + 10, T0 + 12.5, T0 + 30, last_asked=T0 + 11.5) == 0.0
    # Asked after it was due and it was not there (the service lags): half a target duration.
    assert poll_delay(2.0, T0 + 10, T0 + 12.5, T0 + 30, last_asked=T0 + 12.2) == 1.0
    # Never past the deadline, never negative, never longer than a target duration.
    assert poll_delay(2.0, T0 + 10, T0 + 11.8, T0 + 11.9) == pytest.approx(0.1, abs=1e-5)
    assert poll_delay(2.0, T0 + 10, T0 + 13, T0 + 12) == 0.0
    assert poll_delay(6.0, T0 + 10, T0 + 4, T0 + 100) == 6.0
    # A playlist without a target duration: 2 s is assumed.
    assert poll_delay(0.0, T0 + 10, T0 + 11.0, T0 + 30) == pytest.approx(1.05)


@settings(deadline=None)  # a busy shared machine must not fail a timing it does not test
@given(target=st.floats(0.0, 20), published=st.floats(-50, 50), now=st.floats(-50, 50),
       deadline=st.floats(-50, 100), asked=st.none() | st.floats(-50, 50))
def test_poll_delay_is_bounded(target: float, published: float, now: float, deadline: float,
                               asked: float | None) -> None:
    d = poll_delay(target, T0 + published, T0 + now, T0 + deadline,
                   None if asked is None else T0 + asked)
    assert 0.0 <= d <= max(target, 2.0) + 1e-9
    assert d <= max(0.0, deadline - now) + 1e-6


def test_policy_deadline_and_bad_wait() -> None:
    assert EdgePolicy().deadline(T0, 2.0) == T0 + DEFAULT_WAIT_TARGETS * 2.0
    assert EdgePolicy(wait=0.5).deadline(T0, 6.0) == T0 + 0.5
    assert EdgePolicy().deadline(T0, 0.0) == T0 + DEFAULT_WAIT_TARGETS * 2.0
    with pytest.raises(UsageError) as err:
        EdgePolicy(wait=-1)
    assert err.value.option == "--wait"


def test_horizon() -> None:
    now = int(T0) * NS_PER_S
    check_horizon(now - NS_PER_S, now + 6 * 3600 * NS_PER_S, now)  # exactly 6h: fine
    with pytest.raises(UsageError, match=r"7h from now.*6h") as err:
        check_horizon(now, now + 7 * 3600 * NS_PER_S, now)
    assert err.value.option == "--end"
    with pytest.raises(UsageError) as err:
        check_horizon(now + 7 * 3600 * NS_PER_S, None, now)
    assert err.value.option == "--start"
    check_horizon(None, None, now)


def test_pending_time_is_not_a_gap_but_a_hole_before_the_edge_is() -> None:
    segs = [*grid(0, 2), *grid(3, 5)]  # a hole at [4, 6); published to 10
    sel = select_window(segs, T0 + 1, T0 + 20)
    assert [(g.start - T0, g.end - T0) for g in sel.gaps] == [(4, 6), (10, 20)]
    pending = without_pending(sel, published_end(sel.segments) or 0)
    assert [(g.start - T0, g.end - T0, g.reason) for g in pending.gaps] == [(4, 6, "playlist")]
    assert published_end([]) is None


def test_a_gap_straddling_the_edge_is_cut_there() -> None:
    sel = select_window(grid(0, 3), T0, T0 + 20)
    timeline = Gap(T0 + 5, T0 + 20, "timeline")  # the timeline's view: data until 5, then none
    mixed = sel.__class__(sel.start, sel.end, sel.segments, (timeline,))
    [g] = without_pending(mixed, T0 + 6).gaps
    assert (g.start - T0, g.end - T0) == (5, 6)


def test_fresh_segments_from_a_playlist_that_dropped_its_head() -> None:
    known_end = T0 + 8  # segments 0-3 handed over
    listed = grid(3, 6)  # the playlist now lists 3, 4, 5 (0-2 dropped)
    assert [s.sequence for s in fresh_segments(known_end, listed, T0, T0 + 100)] == [4, 5]
    # Polled too slowly: 4 and 5 were dropped before they were seen; 6 is marked as
    # following a jump, so the cutter and the gap report both see it.
    fresh = fresh_segments(known_end, grid(6, 8), T0, T0 + 100)
    assert [(s.sequence, s.discontinuity) for s in fresh] == [(6, True), (7, False)]
    # Nothing known yet: every segment of the window, including the one holding its start.
    assert [s.sequence for s in fresh_segments(None, grid(0, 6), T0 + 3, T0 + 7)] == [1, 2, 3]


@settings(deadline=None)
@given(known=st.integers(0, 30), first=st.integers(0, 30), count=st.integers(0, 10),
       start=st.integers(0, 20), length=st.integers(1, 40))
def test_fresh_segments_are_new_in_order_and_in_the_window(known: int, first: int, count: int,
                                                            start: int, length: int) -> None:
    known_end = T0 + 2 * known
    win = (T0 + start, T0 + start + length)
    fresh = fresh_segments(known_end, grid(first, first + count), *win)
    starts = [s.start for s in fresh]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for s in fresh:
        assert s.start >= known_end - 1e-6 and s.end > win[0] and s.start < win[1]
    # Every listed segment that is new and in the window is taken.
    expected = [k for k in range(first, first + count)
                if T0 + 2 * k >= known_end and T0 + 2 * k + 2 > win[0] and T0 + 2 * k < win[1]]
    assert [s.sequence for s in fresh] == expected


def test_final_selection_when_given_up_cut_short_or_missing() -> None:
    fed = grid(0, 4)  # recorded to 8
    gave_up = final_selection(T0 + 1, T0 + 12, fed, (), ())
    assert [(g.start - T0, g.end - T0, g.reason) for g in gave_up.gaps] == [(8, 12, "after-end")]
    cut = final_selection(T0 + 1, T0 + 12, fed, (), (), cut_short_at=T0 + 8)
    assert cut.gaps == () and cut.end == T0 + 8 and cut.covered == (T0 + 1, T0 + 8)
    early = Gap(T0 + 2, T0 + 3, "timeline")
    missing = final_selection(T0 + 1, T0 + 8, fed, (early,), (fed[2],))
    assert [(g.start - T0, g.end - T0) for g in missing.gaps] == [(2, 3), (4, 6)]
    assert [s.sequence for s in missing.segments] == [0, 1, 3]


def test_report() -> None:
    r = EdgeReport(True, "stopped", T0 + 60, T0 + 8, waited=3.25, polls=4)
    d = r.to_dict()
    assert r.cut_short and d["cut_short"] and d["outcome"] == "stopped"
    assert d["recorded_until"] == T0 + 8 and d["recorded_until_iso"].endswith("Z")
    assert not EdgeReport(False, "not-needed", T0, None).to_dict()["cut_short"]


def test_the_segment_after_a_followed_window_is_waited_for_two_targets() -> None:
    assert segment_after_deadline(T0, 2.0) == pytest.approx(T0 + 4.05)
    assert segment_after_deadline(T0, 6.0) == pytest.approx(T0 + 12.05)
    # No target duration in the playlist: the plausible one edge falls back to.
    assert segment_after_deadline(T0, 0.0) > T0
