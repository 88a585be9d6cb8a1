"""CMAF (fMP4) sources: init sections fetched once, fragments repackaged as MPEG-TS.

ApsaraVideo Live's HLS-CMAF packaging serves fMP4 fragments behind ``#EXT-X-MAP``. The
clip pipeline works on MPEG-TS (timestamps made continuous across discontinuities in
:mod:`timeshift.mpegts`, keyframes found from the random-access indicator, TS output as
whole segments), so each fragment is repackaged on arrival: its init section and the
fragment are demuxed together with PyAV and muxed into MPEG-TS, packets copied, not
re-encoded, timestamps kept as they are (``tfdt`` on the 90 kHz clock, no muxer offset,
negative decode times of a stream's first fragment left as they are, so every fragment
of a run lands on one timeline). Everything downstream (every cut mode, TS output, gap
handling) is then the same as for an MPEG-TS source.

Init sections are fetched through the segment fetcher, so they get its host policy,
retries, cache and (where a key applies to the map) AES-128 decryption; each distinct
URI (a discontinuity may name a new map) is fetched once per run.
"""

from __future__ import annotations

import asyncio
import io
import logging
import posixpath
from dataclasses import replace

import aiohttp

from .errors import RemoteError, UsageError
from .fetch import FetchOptions, FetchStats, SegmentCache, fetch_segments
from .pieces import Fetched
from .playlist import InitSection, Segment

__all__ = ["CmafSource", "fmp4_to_ts", "init_key", "looks_like_mp4"]

log = logging.getLogger(__name__)

_BOXES = (b"ftyp", b"styp", b"moov", b"moof", b"sidx", b"free", b"emsg", b"prft")


def looks_like_mp4(data: bytes) -> bool:
    """True when ``data`` starts with an ISO BMFF box (an init section in the clear)."""
    return len(data) >= 8 and data[4:8] in _BOXES


def fmp4_to_ts(init: bytes, fragment: bytes) -> bytes:
    """One fMP4 fragment (with its init section) as MPEG-TS, packets copied.

    Raises:
        RemoteError: the bytes are not an fMP4 fragment PyAV can read.
    """
    import av

    out = io.BytesIO()
    try:
        with av.open(io.BytesIO(init + fragment), "r", format="mp4") as inp, \
                av.open(out, "w", format="mpegts",
                        options={"mpegts_copyts": "1", "avoid_negative_ts": "disabled"}) as ts:
            wanted = [s for s in inp.streams if s.type in ("video", "audio")]
            if not any(s.type == "video" for s in wanted):
                raise RemoteError("the CMAF fragment has no video track")
            outs = {s.index: ts.add_stream_from_template(s) for s in wanted}
            for pkt in inp.demux(wanted):
                if pkt.dts is None:
                    continue  # the demuxer's end-of-stream flush
                pkt.stream = outs[pkt.stream.index]
                ts.mux(pkt)
    except av.FFmpegError as exc:
        raise RemoteError(f"a CMAF fragment could not be read: {exc}") from exc
    return out.getvalue()


class CmafSource:
    """Turns a run's fetched segments into MPEG-TS: fMP4 ones repackaged, others as they are.

    ``await to_ts(seg, data)`` returns the bytes to feed the cut; the init section the
    segment names is fetched once (through ``fetch_segments`` and its cache) and kept.
    Without a ``session`` it opens its own on first use (``await aclose()`` closes it).
    """

    def __init__(self, session: aiohttp.ClientSession | None, cache: SegmentCache,
                 opts: FetchOptions, *, keep_cache: bool = True) -> None:
        self.session, self.cache, self.opts = session, cache, opts
        self.keep_cache = keep_cache
        self._own: aiohttp.ClientSession | None = None
        self.stats = FetchStats()
        self._inits: dict[InitSection, bytes] = {}
        self._fetched: list[Segment] = []

    async def finish(self) -> None:
        """The run succeeded: close, and drop the init sections from the cache unless kept."""
        await self.aclose()
        if not self.keep_cache:
            self.discard()

    async def aclose(self) -> None:
        if self._own is not None:
            await self._own.close()
            self._own = None

    async def _fetch(self, seg: Segment) -> bytes:
        session = self.session
        if session is None:
            if self._own is None:
                from .fetch import make_client_session

                self._own = make_client_session(self.opts)
            session = self._own
        async for piece in fetch_segments(session, [seg], self.cache, self.opts, self.stats):
            if not isinstance(piece, Fetched):
                raise RemoteError("the init section (#EXT-X-MAP) is gone", url=seg.uri)
            self._fetched.append(seg)
            return piece.data
        raise RemoteError("the init section (#EXT-X-MAP) was not fetched", url=seg.uri)

    async def init_for(self, seg: Segment) -> bytes:
        """The init section ``seg`` names, fetched on first use."""
        assert seg.init is not None
        if seg.init not in self._inits:
            # The map as a segment of its own: no EXTINF, no key unless it proves encrypted.
            as_seg = Segment(uri=seg.init.uri, sequence=seg.sequence, duration=0.0,
                             start=seg.start, byterange=seg.init.byterange, init=seg.init)
            data = await self._fetch(as_seg)
            if not looks_like_mp4(data) and seg.key is not None:
                # RFC 8216 4.3.2.5: a map after an EXT-X-KEY is encrypted with it, and
                # then the tag must give the IV (there is no sequence number to derive it).
                if seg.key.iv is None:
                    raise UsageError("the CMAF init section is AES-128 encrypted without an "
                                     "explicit IV, which RFC 8216 requires")
                self.cache.discard([as_seg])
                data = await self._fetch(replace(as_seg, key=seg.key))
            if not looks_like_mp4(data):
                raise RemoteError("the #EXT-X-MAP init section is not an MP4 init segment",
                                  url=seg.init.uri)
            self._inits[seg.init] = data
        return self._inits[seg.init]

    async def to_ts(self, seg: Segment, data: bytes) -> bytes:
        """``data`` as MPEG-TS: repackaged when ``seg`` is a CMAF fragment."""
        if seg.init is None:
            return data
        init = await self.init_for(seg)
        return await asyncio.to_thread(fmp4_to_ts, init, data)

    def discard(self) -> None:
        """Drop the init sections from the cache (with the segments, once a clip succeeded)."""
        self.cache.discard(self._fetched)



def init_key(segment_key: str, init: InitSection) -> str:
    """Where an archive stores an init section: beside the segment that first needs it,
    named by its source URI (signing parameters left out), so a re-run names it the same."""
    ident = SegmentCache.key(init.uri, init.byterange)[:16]
    return posixpath.join(posixpath.dirname(segment_key), f"init-{ident}.mp4")
