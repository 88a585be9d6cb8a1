"""The clip's media sinks: one class per way of writing the window's MPEG-TS.

Each takes the fetched segments in order (a :class:`~timeshift.pipeline.Sink`), makes
their timestamps one continuous timeline (:class:`~timeshift.mpegts.TimestampNormalizer`:
discontinuities and gaps closed up), and writes them to a temporary path:

* :class:`TsFileSink`: the segments as they are, into a ``.ts`` file;
* :class:`RemuxSink`: into ffmpeg's stdin, stream-copied into an MP4 (the keyframe cut);
* :class:`ExactCutSink`: into the frame-exact cutter (:mod:`timeshift.smartcut`).

``finish`` returns what the cut did (:class:`~timeshift.smartcut.CutStats`, or None);
``abort`` stops the writer and removes the temporary file. Which one a clip uses is
decided once, from its plan (:mod:`timeshift.clip`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiofiles

from .cutplan import CutWindow
from .mpegts import TimestampNormalizer
from .pieces import Fetched
from .playlist import Selection
from .remux import MuxPlan, Remuxer, mp4_command
from .remux import ffmpeg_exe as find_ffmpeg
from .smartcut import CutStats, PipeCutter

__all__ = ["ExactCutSink", "MediaSink", "RemuxSink", "TsFileSink"]


class MediaSink:
    """Normalized MPEG-TS into a writer at ``path``; subclasses open, put, close, stop it."""

    #: A probe of the finished file made by the writer itself (the exact cutter's), or None.
    media: dict[str, Any] | None = None

    def __init__(self, path: Path) -> None:
        self.path = path
        self._normalizer = TimestampNormalizer()

    async def start(self, selection: Selection) -> None:
        await self._open()

    async def write(self, piece: Fetched) -> None:
        seg = piece.segment
        await self._put(self._normalizer.feed(piece.data, seg.duration,
                                              seg.discontinuity or piece.follows_gap))

    async def finish(self, final: Selection) -> CutStats | None:
        return await self._close()

    async def abort(self) -> None:
        try:
            await self._stop()
        finally:
            self.path.unlink(missing_ok=True)

    async def _open(self) -> None:
        raise NotImplementedError

    async def _put(self, data: bytes) -> None:
        raise NotImplementedError

    async def _close(self) -> CutStats | None:
        raise NotImplementedError

    async def _stop(self) -> None:
        raise NotImplementedError


class TsFileSink(MediaSink):
    """Whole segments into an MPEG-TS file (no cut)."""

    _file: Any = None

    async def _open(self) -> None:
        self._file = await aiofiles.open(self.path, "wb")

    async def _put(self, data: bytes) -> None:
        await self._file.write(data)

    async def _close(self) -> None:
        file, self._file = self._file, None
        await file.close()

    async def _stop(self) -> None:
        if self._file is not None:
            await self._close()


class RemuxSink(MediaSink):
    """ffmpeg stream-copying the piped stream into a faststart MP4 (``plan`` says where
    it starts and how long it runs)."""

    def __init__(self, path: Path, plan: MuxPlan, ffmpeg: str | None = None) -> None:
        super().__init__(path)
        self.argv = mp4_command(path, plan, exe=ffmpeg or find_ffmpeg())
        self._remuxer: Remuxer | None = None

    async def _open(self) -> None:
        self._remuxer = await Remuxer(self.argv).start()

    async def _put(self, data: bytes) -> None:
        assert self._remuxer is not None
        await self._remuxer.write(data)

    async def _close(self) -> None:
        assert self._remuxer is not None
        await self._remuxer.finish()

    async def _stop(self) -> None:
        if self._remuxer is not None:
            await self._remuxer.abort()


class ExactCutSink(MediaSink):
    """The frame-exact cutter, in a child process, cutting ``window`` out of the stream."""

    def __init__(self, path: Path, window: CutWindow) -> None:
        super().__init__(path)
        self.window = window
        self._cutter: PipeCutter | None = None

    async def write(self, piece: Fetched) -> None:
        # The segment goes as it is, with the normalizer's offset beside it: the cutter
        # shifts each packet's timestamps itself (cheaper than rewriting the TS here).
        assert self._cutter is not None
        seg = piece.segment
        offset = self._normalizer.offset_for(piece.data, seg.duration,
                                             seg.discontinuity or piece.follows_gap)
        await self._cutter.write(piece.data, offset)

    async def _open(self) -> None:
        self._cutter = await PipeCutter(self.path, self.window).start()

    async def _put(self, data: bytes) -> None:
        assert self._cutter is not None
        await self._cutter.write(data)

    async def _close(self) -> CutStats:
        assert self._cutter is not None
        stats = await self._cutter.finish()
        self.media = self._cutter.media
        return stats

    async def _stop(self) -> None:
        if self._cutter is not None:
            await self._cutter.abort()
