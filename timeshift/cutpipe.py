"""The pipe between the clip and the exact cutter's child process: framed segments.

Each segment goes down the child's stdin behind a header (magic, its length, and the
ticks :class:`~timeshift.mpegts.TimestampNormalizer` adds to its timestamps). The child
reads it through :class:`FramedInput`, which hands PyAV the plain MPEG-TS and shifts each
demuxed packet's PTS/DTS by its own segment's offset (found from ``packet.pos``) where
PyAV has them parsed: rewriting the TS bytes in the parent cost it more than the pipe.
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_right
from typing import Any

from .errors import CutError
from .tspsi import _MASK, _signed

__all__ = ["READ_SIZE", "FramedInput", "frame_header", "open_input", "widen_pipe"]

# Backpressure: the downloader waits once this much is queued ahead of the cutter.
PIPE_SIZE = 1 << 20
# What PyAV asks the framed input for at a time: fewer, larger hand-overs than its 32 KB.
READ_SIZE = 1 << 18
_FRAME = struct.Struct(">4sQQ")
_MAGIC = b"TSG1"


def frame_header(length: int, offset: int) -> bytes:
    """The header that goes before a segment of ``length`` bytes whose timestamps the
    cutter shifts by ``offset`` ticks (modulo 2**33)."""
    return _FRAME.pack(_MAGIC, length, offset & _MASK)


def widen_pipe(fd: int) -> None:
    """Enlarge the pipe at ``fd`` to :data:`PIPE_SIZE`: with Linux's 64 KB default, 160 MB
    of segments take ~2,500 partial hand-overs, each an event-loop wake-up in the parent."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except (ImportError, OSError):
        pass  # another OS, or a pipe-max-size below it: the default pipe works too


def open_input(fd: int) -> FramedInput:
    """The child's framed stdin, its pipe enlarged (fewer, larger hand-overs)."""
    widen_pipe(fd)
    return FramedInput(fd)


class FramedInput:
    """The parent's framed segments (see :func:`frame_header`) as the file PyAV reads, unframed;
    remembers where each segment starts in the unframed stream and its offset, so a
    packet's timestamps are shifted by its own segment's (found from ``packet.pos``)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.starts: list[int] = []  # unframed position of each segment's first byte
        self.offsets: list[int] = []  # ...and the ticks added to its timestamps
        self.pos = 0  # bytes handed to PyAV so far
        self.left = 0  # bytes of the current segment not yet read
        self._last: int | None = None  # the last timestamp given out (unwrapping reference)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = os.read(self.fd, n - len(data))
            if not chunk:
                if data:
                    raise CutError("the cutter's input ended inside a frame header")
                return b""
            data += chunk
        return data

    def read(self, n: int) -> bytes:
        while self.left == 0:
            header = self._exactly(_FRAME.size)
            if not header:
                return b""
            magic, length, offset = _FRAME.unpack(header)
            if magic != _MAGIC:
                raise CutError("the cutter's input is out of step (bad frame header)")
            if length:
                self.starts.append(self.pos)
                self.offsets.append(offset)
            self.left = length
        chunk = os.read(self.fd, min(n, self.left))
        if not chunk:
            raise CutError("the cutter's input ended inside a segment")
        self.left -= len(chunk)
        self.pos += len(chunk)
        return chunk

    def retime(self, pkt: Any) -> None:
        """Shift a demuxed packet's PTS/DTS by its segment's offset onto the continuous
        timeline, unwrapped against the previous packet's (the normalized stream is
        continuous, so each timestamp is the one nearest the last, modulo 2**33)."""
        if pkt.pts is None or pkt.dts is None:
            return
        pos = pkt.pos
        i = bisect_right(self.starts, pos) - 1 if pos is not None and pos >= 0 else -1
        off = self.offsets[i] if i >= 0 else (self.offsets[-1] if self.offsets else 0)
        dts = (pkt.dts + off) & _MASK
        last = self._last
        if last is not None:
            dts = last + _signed(dts - last)
        pts = dts + _signed(((pkt.pts + off) & _MASK) - (dts & _MASK))
        pkt.dts, pkt.pts = dts, pts
        self._last = dts
