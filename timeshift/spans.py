"""Time spans and the timeline answer's model: which times hold data. Pure.

The service answers one entry per segment, so spans that touch are merged; spans
are clipped to the requested window, and the gaps are what the window asked for
and the spans do not cover. The HTTP query that fetches the answer is
:func:`timeshift.timeline.query_timeline`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import TimelineError

__all__ = ["Span", "Timeline", "clip_spans", "find_gaps", "merge_spans"]


@dataclass(frozen=True, order=True)
class Span:
    """A half-open time span ``[start, end)`` in unix seconds."""

    start: int
    end: int

    @property
    def duration(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict[str, int]:
        return {"start": self.start, "end": self.end}


def merge_spans(spans: Iterable[Span]) -> tuple[Span, ...]:
    """Sort spans and merge those that overlap or touch; empty spans are dropped."""
    merged: list[Span] = []
    for span in sorted(s for s in spans if s.end > s.start):
        if merged and span.start <= merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return tuple(merged)


def clip_spans(spans: Iterable[Span], window: Span) -> tuple[Span, ...]:
    """Merged spans cut to ``window``; spans outside it vanish."""
    out = []
    for s in merge_spans(spans):
        start, end = max(s.start, window.start), min(s.end, window.end)
        if end > start:
            out.append(Span(start, end))
    return tuple(out)


def find_gaps(spans: Iterable[Span], window: Span) -> tuple[Span, ...]:
    """The parts of ``window`` that no span covers, in order."""
    gaps, cursor = [], window.start
    for s in clip_spans(spans, window):
        if s.start > cursor:
            gaps.append(Span(cursor, s.start))
        cursor = max(cursor, s.end)
    if cursor < window.end:
        gaps.append(Span(cursor, window.end))
    return tuple(gaps)


@dataclass(frozen=True)
class Timeline:
    """The periods with data inside a requested window, as the origin reported them.

    ``ranges`` are merged and clipped to ``requested``; ``current`` is the server's clock;
    ``entries`` are the spans as answered (unmerged, unclipped), which place segments in time.
    """

    requested: Span
    ranges: tuple[Span, ...]
    current: int
    entries: tuple[Span, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_spans(cls, requested: Span, spans: Iterable[Span], current: int) -> Timeline:
        raw = tuple(sorted(spans))
        return cls(requested, clip_spans(raw, requested), current, raw)

    @classmethod
    def from_response(cls, payload: Any, requested: Span) -> Timeline:
        """Build from the decoded JSON answer.

        Raises:
            TimelineError: ``retCode != 0`` or a body that is not the documented shape.
        """
        if not isinstance(payload, dict) or "retCode" not in payload:
            raise TimelineError("the timeline answer is not the documented JSON (no retCode)")
        if payload["retCode"] != 0:
            raise TimelineError(
                str(payload.get("description") or "the timeline query failed"),
                code=payload["retCode"],
            )
        content = payload.get("content") or {}
        try:
            spans = [Span(int(e["start"]), int(e["end"])) for e in content.get("timeline") or []]
            current = int(content.get("current", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TimelineError(f"the timeline answer has a malformed entry ({exc})") from exc
        return cls.from_spans(requested, spans, current)

    @property
    def gaps(self) -> tuple[Span, ...]:
        return find_gaps(self.ranges, self.requested)

    @property
    def covered_seconds(self) -> int:
        return sum(s.duration for s in self.ranges)

    def clock_skew(self, local_now: float | None = None) -> float:
        """Server clock minus the local clock, in seconds (positive: the server is ahead)."""
        return self.current - (time.time() if local_now is None else local_now)

    def to_dict(self) -> dict[str, Any]:
        """Exactly the ``timeshift timeline --json`` object."""
        return {
            "current": self.current,
            "requested": self.requested.to_dict(),
            "ranges": [s.to_dict() for s in self.ranges],
            "gaps": [s.to_dict() for s in self.gaps],
            "covered_seconds": self.covered_seconds,
        }
