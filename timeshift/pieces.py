"""What the fetcher hands the pipeline, one typed value per segment. Pure values.

:func:`timeshift.fetch.fetch_segments` yields, in playlist order, a :class:`Fetched`
for a segment whose bytes are here (downloaded now or read from the cache of an earlier
run) and a :class:`Missing` for one the origin no longer has (a gap, never silent).
``Piece`` is the union; a consumer matches on the type instead of guessing from which
fields are None.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .playlist import Segment

__all__ = ["Fetched", "Missing", "Piece"]


@dataclass(frozen=True)
class Fetched:
    """A segment's bytes: plaintext MPEG-TS (decrypted, cut to its byte range).

    ``index`` counts in the window (0 is the first segment asked for); ``path`` is the
    segment's cache file; ``cached`` says it came from an earlier run's cache.
    ``follows_gap`` is set by the pipeline when the segment before it was missing, so a
    sink marks a discontinuity there. ``init`` is the initialization section
    (``#EXT-X-MAP``) the segment needs, for sources whose segments have one (fMP4):
    set on the first segment and whenever the section changes, else None.
    ``lookahead`` marks the segment after the window (``Selection.lookahead``), written
    last for a cutter's end edge and never part of the output's own segments.
    """

    segment: Segment
    index: int
    data: bytes
    path: Path
    cached: bool = False
    follows_gap: bool = False
    init: bytes | None = None
    lookahead: bool = False

    def __repr__(self) -> str:  # the bytes are big and say nothing in a log line
        return (f"Fetched(sequence={self.segment.sequence}, index={self.index}, "
                f"bytes={len(self.data)}, cached={self.cached})")


@dataclass(frozen=True)
class Missing:
    """A segment the origin answered 404/410 for: a gap in the window."""

    segment: Segment
    index: int
    reason: str = "404 from the origin"


Piece = Fetched | Missing
