"""Playlists to segments with wall-clock times, and the segments that cover a window. Pure.

A segment's wall-clock start comes from ``#EXT-X-PROGRAM-DATE-TIME`` when the
playlist has it. Otherwise it is derived: the first segment is anchored on the
timeline entry that holds the window's start (the service answers one entry per
segment), later ones follow by EXTINF, and after a discontinuity the timeline
says whether time was skipped (a gap) so the run resumes where data resumes.

Two more HLS forms are carried through to the fetcher (RFC 8216): AES-128 encryption
(``#EXT-X-KEY``: the key's URI and its IV, or None for the IV derived from the media
sequence number) and sub-ranges of a resource (``#EXT-X-BYTERANGE``, offsets made
explicit). Forms the clip pipeline cannot use are refused with one line that names
them: SAMPLE-AES and other methods, key formats other than ``identity``, and master
playlists. CMAF (fMP4 behind ``#EXT-X-MAP``) is carried through: each segment names the
init section (``Segment.init``) that applies to it (see :mod:`timeshift.cmaf`).

A playlist is hostile input: one over :class:`PlaylistLimits` (bytes, segments, keys)
is refused before it is parsed, and ``#EXT-X-KEY`` tags are read here, not by ``m3u8``,
whose key lookup is quadratic (20,000 rotated keys took 32 s inside it).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urljoin

import m3u8

from .errors import RemoteError, UsageError
from .netpolicy import HostPolicy
from .spans import Span, merge_spans
from .window import Window

__all__ = [
    "ByteRange",
    "Gap",
    "InitSection",
    "Key",
    "Playlist",
    "PlaylistLimits",
    "Segment",
    "Selection",
    "assign_wall_clock",
    "check_hosts",
    "lookahead_segment",
    "parse_playlist",
    "select_window",
]

log = logging.getLogger(__name__)

# Spans shorter than this are rounding (integer-second timelines, ms PDTs), not gaps.
TOLERANCE = 0.25
MAX_PLAYLIST_BYTES = 32 * 1024 * 1024
MAX_PLAYLIST_SEGMENTS = 100_000  # 55 hours of 2 s segments


@dataclass(frozen=True)
class PlaylistLimits:
    """What a playlist may hold before it is refused unparsed (the README's "Limits").

    ``max_keys`` counts ``#EXT-X-KEY`` tags: one per segment is legitimate rotation.
    """

    max_bytes: int = MAX_PLAYLIST_BYTES
    max_segments: int = MAX_PLAYLIST_SEGMENTS
    max_keys: int = MAX_PLAYLIST_SEGMENTS

GapReason = Literal["timeline", "playlist", "missing", "before-start", "after-end"]


@dataclass(frozen=True)
class Key:
    """An AES-128 key as a playlist names it: where to get it, and the IV if the playlist gives one.

    The key's bytes are not part of this value (they are fetched, and kept, by the
    fetcher), so a ``Key`` may be logged or put into an error.
    """

    uri: str
    iv: bytes | None = None  # None: derived from the media sequence number (RFC 8216 §5.2)
    method: Literal["AES-128"] = "AES-128"

    def iv_for(self, sequence: int) -> bytes:
        """The IV of the segment with media sequence number ``sequence``."""
        return self.iv if self.iv is not None else sequence.to_bytes(16, "big")

    def copy_with(self, **changes: object) -> Key:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ByteRange:
    """A segment that is ``length`` bytes of its URI's resource from ``offset`` on."""

    length: int
    offset: int

    @property
    def end(self) -> int:
        """The offset just past the range."""
        return self.offset + self.length

    def header(self) -> str:
        """The value of the HTTP ``Range`` header that asks for it."""
        return f"bytes={self.offset}-{self.end - 1}"


@dataclass(frozen=True)
class InitSection:
    """A CMAF/fMP4 segment's ``#EXT-X-MAP``: the init section's URI and, if given, its range."""

    uri: str
    byterange: ByteRange | None = None


@dataclass(frozen=True)
class Segment:
    """One media segment: where to get it and which wall-clock span it holds (unix seconds).

    ``key`` is set when the segment is AES-128 encrypted; ``byterange`` when it is a
    sub-range of the resource at ``uri``.
    """

    uri: str
    sequence: int
    duration: float
    start: float
    discontinuity: bool = False
    dated: bool = False  # start came from PROGRAM-DATE-TIME
    key: Key | None = None
    byterange: ByteRange | None = None
    init: InitSection | None = None  # CMAF: the #EXT-X-MAP in force (None: MPEG-TS)

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def iv(self) -> bytes | None:
        """The AES-128 IV of this segment, or None if it is not encrypted."""
        return self.key.iv_for(self.sequence) if self.key is not None else None

    def copy_with(self, **changes: object) -> Segment:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Gap:
    """A span of the window without data, and how it was found."""

    start: float
    end: float
    reason: GapReason

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, object]:
        return {"start": round(self.start, 3), "end": round(self.end, 3),
                "duration": round(self.duration, 3), "reason": self.reason}


@dataclass(frozen=True)
class Playlist:
    """A media playlist as parsed: segments (times relative until assigned) and its flags."""

    uri: str
    segments: tuple[Segment, ...]
    endlist: bool
    target_duration: float
    dated: bool


def _refuse_unsupported(pl: m3u8.M3U8) -> None:
    if pl.is_variant:
        raise UsageError(
            "this is a master (variant) playlist; pass the URL of one media playlist", field="url")


_IV = re.compile(r"0[xX]([0-9a-fA-F]{1,32})")
_BYTERANGE = re.compile(r"\s*(\d+)\s*(?:@\s*(\d+)\s*)?")


@dataclass(frozen=True)
class _KeyTag:
    """An ``#EXT-X-KEY`` as written (attributes as text), with its URI made absolute."""

    method: str | None
    uri: str | None
    iv: str | None
    keyformat: str | None
    absolute_uri: str


_KEY_TAG = "#EXT-X-KEY:"
_ATTRIBUTE = re.compile(r'\s*([A-Za-z0-9-]+)\s*=\s*("[^"]*"|[^,]*)\s*(?:,|$)')


def _key_tag(line: str, base: str) -> _KeyTag:
    attrs = {m.group(1).upper(): m.group(2).strip().strip('"')
             for m in _ATTRIBUTE.finditer(line[len(_KEY_TAG):])}
    uri = attrs.get("URI") or None
    return _KeyTag(attrs.get("METHOD"), uri, attrs.get("IV"), attrs.get("KEYFORMAT"),
                   _join(base, uri) if uri else "")


def _join(base: str, uri: str) -> str:
    # urljoin costs ~50 us; rotated keys are mostly plain relative names, joined by hand.
    if base.count("/") >= 3 and _PLAIN_RELATIVE.fullmatch(uri):
        return base.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[0] + "/" + uri
    return urljoin(base, uri)


_PLAIN_RELATIVE = re.compile(
    r"(?!.*(?:^|/)\.{1,2}(?:/|\?|$))[A-Za-z0-9_\-.]+(?:/[A-Za-z0-9_\-.]+)*(?:\?[^#]*)?")


def _split_keys(text: str, base: str) -> tuple[str, list[_KeyTag | None]]:
    """The text without its ``#EXT-X-KEY`` lines, and the key tag in force for each
    segment (each URI line), in order. Linear, unlike m3u8's lookup."""
    if _KEY_TAG not in text:
        return text, []
    kept: list[str] = []
    per_segment: list[_KeyTag | None] = []
    seen: dict[str, _KeyTag] = {}
    current: _KeyTag | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(_KEY_TAG):
            current = seen.get(stripped)
            if current is None:
                current = seen[stripped] = _key_tag(stripped, base)
            continue
        kept.append(line)
        if stripped and not stripped.startswith("#"):
            per_segment.append(current)
    return "\n".join(kept) + "\n", per_segment


def _check_limits(text: str, uri: str, limits: PlaylistLimits) -> None:
    if len(text) > limits.max_bytes:
        raise RemoteError(f"the playlist is {len(text)} bytes, over the limit of "
                          f"{limits.max_bytes} bytes", url=uri)
    segments = text.count("#EXTINF")
    if segments > limits.max_segments:
        raise RemoteError(f"the playlist lists {segments} segments, over the limit of "
                          f"{limits.max_segments} segments; ask for a shorter window", url=uri)
    keys = text.count(_KEY_TAG)
    if keys > limits.max_keys:
        raise RemoteError(f"the playlist has {keys} #EXT-X-KEY tags, over the limit of "
                          f"{limits.max_keys} keys", url=uri)


def _key(tag: _KeyTag | None, sequence: int, uri: str) -> Key | None:
    """The segment's key, None when clear (no key, or METHOD=NONE), or a refusal."""
    if tag is None or tag.method in (None, "NONE"):
        return None
    if tag.method != "AES-128":
        raise UsageError(f"segment {sequence} is encrypted with METHOD={tag.method}, which is not "
                         "supported: only AES-128 (whole-segment) encryption is decrypted")
    if tag.keyformat not in (None, "identity"):
        raise UsageError(f"segment {sequence} has an AES-128 key in KEYFORMAT={tag.keyformat}, "
                         "which is not supported: only the identity format (the key itself)")
    if not tag.uri:
        raise RemoteError(f"the #EXT-X-KEY of segment {sequence} has no URI", url=uri)
    iv = None
    if tag.iv is not None:
        m = _IV.fullmatch(str(tag.iv).strip())
        if m is None:
            raise RemoteError(f"the #EXT-X-KEY IV {tag.iv!r} of segment {sequence} is not a "
                              "128-bit hexadecimal number", url=uri)
        iv = bytes.fromhex(m.group(1).rjust(32, "0"))
    elif not 0 <= sequence < 1 << 128:
        raise RemoteError(f"segment {sequence} is AES-128 encrypted without an IV, and its media "
                          "sequence number (from #EXT-X-MEDIA-SEQUENCE) cannot be one: it must be "
                          "0 to 2^128-1", url=uri)
    return Key(uri=tag.absolute_uri, iv=iv)


def _byterange(text: str | None, seg_uri: str, previous: Segment | None, sequence: int,
               uri: str) -> ByteRange | None:
    """The segment's byte range with its offset made explicit (RFC 8216 §4.3.2.2)."""
    if not text:
        return None
    m = _BYTERANGE.fullmatch(str(text))
    if m is None or int(m.group(1)) == 0:
        raise RemoteError(f"the #EXT-X-BYTERANGE {text!r} of segment {sequence} is not "
                          "LENGTH[@OFFSET]", url=uri)
    if m.group(2) is not None:
        return ByteRange(int(m.group(1)), int(m.group(2)))
    # No offset: the range starts where the previous segment's range of the same resource ended.
    if previous is None or previous.byterange is None or previous.uri != seg_uri:
        raise RemoteError(f"the #EXT-X-BYTERANGE of segment {sequence} has no offset and does "
                          "not follow a range of the same resource", url=uri)
    return ByteRange(int(m.group(1)), previous.byterange.end)


def _init_section(tag: object, sequence: int, uri: str) -> InitSection | None:
    """The segment's #EXT-X-MAP (URI absolute, range explicit), or None."""
    if tag is None:
        return None
    target = getattr(tag, "absolute_uri", None) or getattr(tag, "uri", None)
    if not target:
        raise RemoteError(f"the #EXT-X-MAP of segment {sequence} has no URI", url=uri)
    text = getattr(tag, "byterange", None)
    if not text:
        return InitSection(str(target))
    m = _BYTERANGE.fullmatch(str(text))
    if m is None or m.group(2) is None or int(m.group(1)) == 0:
        raise RemoteError(f"the #EXT-X-MAP BYTERANGE {text!r} of segment {sequence} is not "
                          "LENGTH@OFFSET", url=uri)
    return InitSection(str(target), ByteRange(int(m.group(1)), int(m.group(2))))


def parse_playlist(text: str, uri: str, *, limits: PlaylistLimits | None = None) -> Playlist:
    """Parse a media playlist; segment URIs become absolute (query strings kept).

    Segments get provisional starts: PDT when present, else seconds from the first segment.

    Raises:
        RemoteError: the text is not an HLS playlist, is over ``limits`` (bytes, segments,
            keys), or holds values out of range (a date, an IV's sequence number).
        UsageError: a master playlist or a form this version does not fetch
            (SAMPLE-AES or another method, a key format other than identity).
    """
    _check_limits(text, uri, limits or PlaylistLimits())
    if not text.lstrip().startswith("#EXTM3U"):
        raise RemoteError("the answer is not an HLS playlist (no #EXTM3U)", url=uri)
    text, key_tags = _split_keys(text, uri)
    try:
        pl = m3u8.loads(text, uri=uri)
    except OverflowError as exc:
        raise RemoteError(f"a #EXT-X-PROGRAM-DATE-TIME of the playlist is out of range ({exc})",
                          url=uri) from None
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise RemoteError(f"the playlist is malformed ({exc})", url=uri) from exc
    _refuse_unsupported(pl)
    segments: list[Segment] = []
    seq0 = pl.media_sequence or 0
    offset = 0.0
    for i, s in enumerate(pl.segments):
        duration = float(s.duration or 0.0)
        if not math.isfinite(duration) or duration <= 0 or duration > 3600:
            raise RemoteError(f"segment {seq0 + i} has an impossible duration {s.duration!r}",
                              url=uri)
        pdt = s.current_program_date_time
        seg_uri = s.absolute_uri
        segments.append(Segment(
            uri=seg_uri, sequence=seq0 + i, duration=duration,
            start=pdt.timestamp() if pdt is not None else offset,
            discontinuity=bool(s.discontinuity) and i > 0, dated=pdt is not None,
            key=_key(key_tags[i] if i < len(key_tags) else None, seq0 + i, uri),
            byterange=_byterange(s.byterange, seg_uri, segments[-1] if segments else None,
                                 seq0 + i, uri),
            init=_init_section(s.init_section, seq0 + i, uri)))
        offset += duration
    return Playlist(uri=uri, segments=tuple(segments), endlist=bool(pl.is_endlist),
                    target_duration=float(pl.target_duration or 0),
                    dated=all(s.dated for s in segments) and bool(segments))


def assign_wall_clock(segments: Sequence[Segment], window_start: float,
                      entries: Sequence[Span] = ()) -> tuple[Segment, ...]:
    """Give undated segments wall-clock starts, cross-checked against timeline entries.

    Dated segments keep their PDT. ``entries`` are the timeline's spans, unmerged
    (one per segment where the service answers that way), around the window.
    """
    spans = sorted(entries)
    merged = merge_spans(spans)
    out: list[Segment] = []
    cursor: float | None = None
    for seg in segments:
        if seg.dated:
            start = seg.start
        elif cursor is None:
            start = _anchor(seg, window_start, spans)
        elif seg.discontinuity and merged:
            # After a reconnect, data resumes at the next timeline span if the cursor is in a gap.
            nxt = next((m for m in merged if m.end > cursor + TOLERANCE), None)
            start = max(cursor, float(nxt.start)) if nxt else cursor
        else:
            start = cursor
        out.append(seg.copy_with(start=start))
        cursor = start + seg.duration
    return tuple(out)


def _anchor(first: Segment, window_start: float, spans: Sequence[Span]) -> float:
    for s in spans:
        if s.start <= window_start < s.end and abs(s.duration - first.duration) <= 1.0:
            return float(s.start)
    # The timeline is merged or silent: the first segment is taken to start at the window start.
    return window_start


@dataclass(frozen=True)
class Selection:
    """What a window asked for, the segments that cover it, and every gap in it."""

    start: float
    end: float
    segments: tuple[Segment, ...]
    gaps: tuple[Gap, ...]
    #: Listed segments the origin turned out not to have (see :meth:`with_missing`).
    missing: tuple[Segment, ...] = ()
    #: The listed segment right after the window's last (see :func:`lookahead_segment`):
    #: not part of the window, fetched only for a cutter whose end edge may need it.
    lookahead: Segment | None = None

    @property
    def covered(self) -> tuple[float, float] | None:
        if not self.segments:
            return None
        return max(self.start, self.segments[0].start), min(self.end, self.segments[-1].end)

    @property
    def gap_seconds(self) -> float:
        return sum(g.duration for g in self.gaps)

    def with_missing(self, missing: Iterable[Segment]) -> Selection:
        """The selection once some listed segments turned out to be gone (404)."""
        gone = {s.sequence for s in missing}
        if not gone:
            return self
        kept = tuple(s for s in self.segments if s.sequence not in gone)
        extra = [Gap(max(s.start, self.start), min(s.end, self.end), "missing")
                 for s in self.segments if s.sequence in gone]
        return replace(self, segments=kept, gaps=union_gaps([*self.gaps, *extra]),
                       missing=self.missing + tuple(s for s in self.segments if s.sequence in gone))


def union_gaps(gaps: Iterable[Gap]) -> tuple[Gap, ...]:
    """Gaps sorted and merged where they touch (within TOLERANCE); slivers dropped."""
    out: list[Gap] = []
    for g in sorted(gaps, key=lambda g: (g.start, g.end)):
        if g.duration < TOLERANCE:
            continue
        if out and g.start <= out[-1].end + TOLERANCE:
            if g.end > out[-1].end:
                out[-1] = replace(out[-1], end=g.end)
        else:
            out.append(g)
    return tuple(out)


def select_window(segments: Sequence[Segment], start: float, end: float,
                  timeline_gaps: Iterable[Span] = ()) -> Selection:
    """The segments overlapping ``[start, end)`` and the gaps: uncovered time, PDT jumps, timeline.

    Raises:
        UsageError: end not after start.
    """
    Window.from_seconds(start, end)  # end after start, or UsageError (field "end")
    chosen = tuple(s for s in segments if s.end > start + 1e-6 and s.start < end - 1e-6)
    gaps: list[Gap] = []
    cursor = start
    for s in chosen:
        if s.start > cursor + TOLERANCE:
            reason: GapReason = "before-start" if cursor == start else "playlist"
            gaps.append(Gap(cursor, min(s.start, end), reason))
        cursor = max(cursor, s.end)
    if cursor < end - TOLERANCE:
        gaps.append(Gap(cursor, end, "after-end" if chosen else "playlist"))
    for span in timeline_gaps:
        a, b = max(float(span.start), start), min(float(span.end), end)
        if b - a >= TOLERANCE:
            gaps.append(Gap(a, b, "timeline"))
    return Selection(start, end, chosen, union_gaps(gaps))


#: How close to its last segment's end a window must end for the segment after it to be
#: worth fetching: leading pictures are fewer than the reorder depth (at most 16 frames),
#: so they are shown within this of the keyframe they precede.
LOOKAHEAD_SECONDS = 2.0


def lookahead_segment(segments: Sequence[Segment], sel: Selection) -> Segment | None:
    """The listed segment after ``sel``'s last, if the window's end edge may need it.

    With open GOPs (an H.264 open-GOP I frame, an HEVC CRA with RASL pictures) the
    leading pictures of a segment's first keyframe are shown before it, so before the
    segment's start: a window ending just before a segment boundary holds frames that
    travel in the next segment. That segment is the lookahead when it continues the
    last one (same encoding: no discontinuity, no gap) and the window ends within
    :data:`LOOKAHEAD_SECONDS` of the last segment's end; else None.
    """
    if not sel.segments:
        return None
    last = sel.segments[-1]
    if last.end < sel.end - TOLERANCE or last.end - sel.end > LOOKAHEAD_SECONDS:
        return None
    for s in segments:
        if s.sequence == last.sequence + 1:
            joined = abs(s.start - last.end) <= TOLERANCE and not s.discontinuity
            return s if joined else None
    return None


def check_hosts(segments: Iterable[Segment], playlist_uri: str,
                allowed: Iterable[str] = ()) -> None:
    """Refuse segment and key URIs outside the playlist's origin and the allowed hosts.

    A crafted playlist must not turn a clip or archive job into a proxy for other
    (for instance internal) addresses; a key URI is fetched like a segment, so it is
    held to the same rule. The rule is :class:`~timeshift.netpolicy.HostPolicy`'s:
    scheme, host and effective port, the same for redirects.

    Raises:
        ForeignHostError: a segment or key names another host, port or scheme.
    """
    policy = HostPolicy.for_origin(playlist_uri, allowed)
    for seg in segments:
        policy.check(seg.uri)
        if seg.key is not None:
            policy.check(seg.key.uri, "key ")
        if seg.init is not None:
            policy.check(seg.init.uri, "map ")
