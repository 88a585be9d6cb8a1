"""The live edge: windows that reach past what the stream has published. Pure.

"The last 30 seconds" and "the next 5 minutes" are windows whose end is later than the
last segment the service has published (SPEC §9): the live-mode playlist grows one
target duration at a time, and a VOD-mode request whose ``vodend`` is in the future ends
early. Time that is only in the future is *pending*, not a gap; the clip follows the
stream until the segment holding the window's end is published, or until a bound
(``wait`` past the end) after which what is still missing is a gap like any other.

This module decides; :mod:`timeshift.follow` does the polling and fetching:

- what has been published (:func:`published_end`) and what is still pending
  (:func:`without_pending`);
- which segments of a fresh playlist are new (:func:`fresh_segments`), so a live
  playlist that drops old segments from its head loses nothing already seen;
- what to do next (:func:`next_step`: done, wait, give up, or stopped by the user) and
  when to ask again (:func:`poll_delay`: the target-duration cadence of RFC 8216 §6.3.4,
  aimed at the moment the next segment should be complete);
- how far into the future a window may reach (:func:`check_horizon`);
- the window's final selection from what arrived (:func:`final_selection`).

Times here are unix seconds (floats), as in :mod:`timeshift.playlist`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from .errors import UsageError
from .playlist import TOLERANCE, Gap, Segment, Selection, select_window, union_gaps
from .times import NS_PER_S, format_duration, format_iso

__all__ = [
    "DEFAULT_HORIZON",
    "DEFAULT_WAIT_TARGETS",
    "EdgePolicy",
    "EdgeReport",
    "Step",
    "check_horizon",
    "final_selection",
    "fresh_segments",
    "next_step",
    "poll_delay",
    "published_end",
    "segment_after_deadline",
    "without_pending",
]

#: How far ahead of now a window may end (seconds): a mistyped ``now+6d`` is refused,
#: not waited on for six days.
DEFAULT_HORIZON = 6 * 3600.0
#: Without an explicit ``wait``, the edge is waited on this many target durations past
#: the window's end (the service publishes a segment once it is whole, plus a little lag).
DEFAULT_WAIT_TARGETS = 3
#: A target duration to assume when a playlist gives none.
_FALLBACK_TARGET = 2.0
#: Polls never come closer than this (a playlist with a tiny target duration, or a late one).
_MIN_POLL = 0.1
#: Asked a little after the next segment should be whole, so the first ask usually finds it.
_POLL_MARGIN = 0.05
#: Float noise in wall-clock seconds (around 1.8e9, a double resolves ~0.2 µs).
_EPSILON = 1e-5

Step = Literal["done", "wait", "give-up", "stopped"]


@dataclass(frozen=True)
class EdgePolicy:
    """How a window that reaches past the published edge is followed.

    Args:
        wait: seconds past the window's end to wait for segments still missing, after
            which they are gaps (None: :data:`DEFAULT_WAIT_TARGETS` target durations).
        horizon: how far ahead of now (seconds) a window may end.
    """

    wait: float | None = None
    horizon: float = DEFAULT_HORIZON

    def __post_init__(self) -> None:
        if self.wait is not None and self.wait < 0:
            raise UsageError("must be 0 or more", field="wait")
        if self.horizon <= 0:
            raise UsageError("the horizon must be positive")

    def deadline(self, end: float, target: float) -> float:
        """When waiting for ``end`` stops: ``wait`` past it."""
        grace = self.wait if self.wait is not None else DEFAULT_WAIT_TARGETS * target_or(target)
        return end + grace


def target_or(target: float) -> float:
    """The playlist's target duration, or a plausible one when it gives none."""
    return target if target > 0 else _FALLBACK_TARGET


def check_horizon(start_ns: int | None, end_ns: int | None, now_ns: int,
                  horizon: float = DEFAULT_HORIZON) -> None:
    """Refuse a window that ends (or starts) further ahead of now than ``horizon``.

    Raises:
        UsageError: naming the field (``end``/``start``), how far ahead it is, and the limit.
    """
    limit = now_ns + round(horizon * NS_PER_S)
    for value, name in ((end_ns, "end"), (start_ns, "start")):
        if value is not None and value > limit:
            ahead = format_duration(value - now_ns)
            raise UsageError(
                f"{format_iso(value)} is {ahead} from now; a window may reach at most "
                f"{format_duration(round(horizon * NS_PER_S))} into the future "
                f"(now+{format_duration(round(horizon * NS_PER_S))})", field=name)


def published_end(segments: Sequence[Segment]) -> float | None:
    """Where the published stream ends: the end of the last segment listed (None: none)."""
    return max((s.end for s in segments), default=None)


def without_pending(sel: Selection, published: float) -> Selection:
    """The selection with the time after ``published`` taken out of its gaps: pending, not missing."""
    gaps = []
    for g in sel.gaps:
        if g.start >= published - TOLERANCE:
            continue
        gaps.append(replace(g, end=min(g.end, published)) if g.end > published else g)
    return replace(sel, gaps=tuple(g for g in gaps if g.duration >= TOLERANCE))


def fresh_segments(known_end: float | None, listed: Iterable[Segment], start: float,
                   end: float) -> tuple[Segment, ...]:
    """The segments of a fresh playlist that are new: in the window and after ``known_end``.

    Matching is by wall-clock time, not sequence number, so it holds for a re-asked VOD
    window and for a live playlist that dropped its head alike. A new segment that does
    not follow on from the last one known (time was skipped) is marked a discontinuity,
    since the playlist that lists it may no longer list what came before.
    """
    out: list[Segment] = []
    cursor = known_end
    for s in sorted(listed, key=lambda s: s.start):
        if s.end <= start + 1e-6 or s.start >= end - 1e-6:
            continue
        if cursor is not None and s.start < cursor - TOLERANCE:
            continue
        if cursor is not None and s.start > cursor + TOLERANCE and not s.discontinuity:
            s = s.copy_with(discontinuity=True)
        out.append(s)
        cursor = s.end
    return tuple(out)


def next_step(published: float, end: float, now: float, deadline: float, *,
              stopped: bool = False) -> Step:
    """What to do now: ``done`` (the segment holding ``end`` is published), ``stopped``
    (the user ended the window early), ``give-up`` (past the deadline), else ``wait``."""
    if stopped:
        return "stopped"
    # Exact, not within TOLERANCE: a window ending 0.1 s into a segment needs that segment.
    if published >= end - _EPSILON:
        return "done"
    if now >= deadline:
        return "give-up"
    return "wait"


def poll_delay(target: float, published: float, now: float, deadline: float,
               last_asked: float | None = None) -> float:
    """Seconds until the playlist is asked again.

    Aimed just after the next segment should be whole (``published`` plus a target
    duration), as segments appear one target duration at a time. When that moment has
    passed: at once if the last ask (wall clock ``last_asked``) came before it, else
    half a target duration, as RFC 8216 §6.3.4 asks of a client whose reload found
    nothing new (the service lags). Never past the deadline.
    """
    t = target_or(target)
    due = published + t + _POLL_MARGIN
    if due > now:
        delay = due - now
    elif last_asked is not None and last_asked < due:
        return 0.0
    else:
        delay = t / 2
    delay = min(max(delay, _MIN_POLL), t)
    return max(0.0, min(delay, deadline - now))


def segment_after_deadline(published: float, target: float) -> float:
    """Until when the segment after a followed window is waited for (an open-GOP end
    edge's leading pictures travel in it): two target durations after the window's last
    segment was published, one for it to be whole and one for a lagging service."""
    return published + 2 * target_or(target) + _POLL_MARGIN


def final_selection(start: float, end: float, segments: Sequence[Segment],
                    early_gaps: Iterable[Gap], missing: Iterable[Segment], *,
                    cut_short_at: float | None = None) -> Selection:
    """The window as it was recorded: the segments that arrived and every gap in it.

    ``early_gaps`` are the gaps known before following began (the timeline's, say);
    ``missing`` the segments the origin answered 404 for. A window ended early by the
    user ends at ``cut_short_at``: what came after was never asked for, so it is no gap.
    """
    if cut_short_at is not None:
        end = max(start + 1e-3, min(end, cut_short_at))
    sel = select_window(segments, start, end)
    clipped = [replace(g, end=min(g.end, end)) for g in early_gaps if g.start < end - TOLERANCE]
    return replace(sel, gaps=union_gaps([*sel.gaps, *clipped])).with_missing(missing)


@dataclass(frozen=True)
class EdgeReport:
    """What following the edge did, for the summary and ``--json``."""

    followed: bool
    outcome: Step | Literal["not-needed"]
    requested_end: float
    recorded_until: float | None
    waited: float = 0.0
    polls: int = 0

    @property
    def cut_short(self) -> bool:
        return self.outcome == "stopped"

    def to_dict(self) -> dict[str, Any]:
        until = self.recorded_until
        return {"followed": self.followed, "outcome": self.outcome,
                "cut_short": self.cut_short,
                "requested_end_iso": format_iso(round(self.requested_end * NS_PER_S)),
                "recorded_until": None if until is None else round(until, 3),
                "recorded_until_iso": None if until is None else format_iso(round(until * NS_PER_S)),
                "waited": round(self.waited, 3), "polls": self.polls}
