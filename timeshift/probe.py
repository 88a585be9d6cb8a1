"""What PyAV tells about media: a finished file's probe (what the clip's verification
reads), and whether this PyAV can re-encode a codec's edges for an exact cut.

Only the head and the tail are demuxed (the MP4's ``moov`` says the rest), so a probe
costs the same for any length. The exact cutter's child runs it on its own output (it
has PyAV loaded already); the clip process runs it for the other outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["exact_cut_supported", "probe_media"]


def probe_media(path: Path) -> dict[str, Any]:
    """Duration, streams, codecs and first/last timestamps of a media file, read with PyAV.

    Per stream: ``start`` (first presentation time), ``last`` (the last packet's) and
    ``end`` (``last`` plus its duration), in seconds on the file's timeline (MP4 edit
    lists applied), and ``frames`` (packets counted). Only the head and the tail are
    demuxed (a seek to near the end), so probing costs the same for any length.
    """
    import av

    with av.open(str(path)) as container:
        duration = container.duration / 1_000_000 if container.duration else None
        firsts: dict[int, float] = {}
        lasts: dict[int, tuple[float, float]] = {}
        counts: dict[int, int] = {}

        def see(pkt: Any) -> None:
            if pkt.pts is None or pkt.time_base is None:
                return
            i = pkt.stream.index
            t = float(pkt.pts * pkt.time_base)
            end = t + float((pkt.duration or 0) * pkt.time_base)
            if i not in lasts or t >= lasts[i][0]:
                lasts[i] = (t, end)
            counts[i] = counts.get(i, 0) + 1

        for pkt in container.demux():
            if pkt.pts is not None and pkt.stream.index not in firsts:
                firsts[pkt.stream.index] = float(pkt.pts * pkt.time_base)
            see(pkt)
            if len(firsts) == len(container.streams) and counts.get(0, 0) > 64:
                break
        # The last packets: from a keyframe a few seconds before the end (or all of it).
        if duration and duration > 4:
            counts = {}
            lasts = {}
            container.seek(int((duration - 4) * 1_000_000), backward=True, any_frame=False)
        for pkt in container.demux():
            see(pkt)
        out: dict[str, Any] = {"duration": duration, "streams": []}
        for s in container.streams:
            entry: dict[str, Any] = {"type": s.type, "codec": s.codec_context.name}
            if s.type == "video":
                entry.update(width=s.codec_context.width, height=s.codec_context.height,
                             fps=float(s.average_rate) if s.average_rate else None)
            elif s.type == "audio":
                entry.update(sample_rate=s.codec_context.sample_rate)
            first = firsts.get(s.index)
            last = lasts.get(s.index)
            # A negative start is the audio pre-roll that the edit list hides: presentation
            # starts at 0, which is what a player (and a decoder) shows.
            entry.update(start=None if first is None else round(max(first, 0.0), 6),
                         last=None if last is None else round(last[0], 6),
                         end=None if last is None else round(last[1], 6),
                         frames=s.frames or None)
            out["streams"].append(entry)
    return out


#: The encoder each codec's edges are re-encoded with.
_ENCODERS = {"h264": "libx264", "hevc": "libx265"}


def exact_cut_supported(codec: str) -> bool:
    """True when the video codec can be cut exactly: H.264 with libx264, HEVC with libx265
    (both in the ``av`` wheel)."""
    if codec not in _ENCODERS:
        return False
    import importlib.util

    # The av wheel bundles its libraries in ``av.libs``: libx264 there means libavcodec was
    # built with it, and the clip process need not load PyAV (~18 MB) to know. Any other
    # build of av is asked.
    spec = importlib.util.find_spec("av")
    if spec is not None and spec.origin is not None:
        libs = Path(spec.origin).parent.parent / "av.libs"
        if any(libs.glob(f"{_ENCODERS[codec]}-*.so*")):
            return True
    import av

    return _ENCODERS[codec] in av.codecs_available
