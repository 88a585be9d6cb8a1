"""PyAV helpers of the exact cut's edge re-encode: one encoder session whose packets continue
the source's DTS grid, a decode that skips undecodable leading pictures, and an HEVC packet
whose CRA slices are made BLA (the bit work itself is pure, in :mod:`timeshift.cutplan`)."""

from __future__ import annotations

from collections import deque
from typing import Any

from .cutplan import cra_to_bla, edge_dts
from .errors import CutError

__all__ = ["Encoder", "cra_to_bla_packet", "decode_or_skip"]


class Encoder:
    """One libx264 session: frames in (in presentation order), packets out with joined DTS."""

    def __init__(self, ctx: Any, reorder: int) -> None:
        self.ctx = ctx
        self.reorder = reorder
        self._fed: deque[int] = deque()  # PTS of frames fed, in order: sorted, for edge_dts
        self.packets = 0

    def encode(self, frame: Any) -> list[Any]:
        import av

        if frame is not None:
            self._fed.append(frame.pts)
            frame.pict_type = av.video.frame.PictureType.NONE  # let x264 place its own IDR
        out = []
        for pkt in self.ctx.encode(frame):
            try:
                pkt.dts = edge_dts(self._fed.popleft(), self.reorder, pkt.pts)
            except (ValueError, IndexError, TypeError) as exc:
                raise CutError(f"edge encode: {exc}") from exc
            out.append(pkt)
        self.packets += len(out)
        return out


def decode_or_skip(dec: Any, pkt: Any) -> list[Any]:
    """Decode one packet; a picture that cannot be decoded (a leading picture whose
    references are not in this decoder) yields nothing, and the frame count the clip
    is checked against says whether a wanted one was lost."""
    import av

    try:
        return list(dec.decode(pkt))
    except av.error.InvalidDataError:
        return []


def cra_to_bla_packet(pkt: Any) -> Any:
    """A copy of an HEVC packet with its CRA slices made BLA_N_LP (:func:`cra_to_bla`)."""
    import av

    out = av.Packet(cra_to_bla(bytes(pkt)))
    out.pts, out.dts, out.time_base = pkt.pts, pkt.dts, pkt.time_base
    out.duration = pkt.duration
    out.is_keyframe = True
    return out
