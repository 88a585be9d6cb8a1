"""A local time-shift origin: HLS playlists in live, VOD and offset modes, the timeline API, segments.

It stands in for an ApsaraVideo Live play domain with time-shift on, for tests, demos
and users' own test suites. Every app/stream name serves the same content: the
MPEG-TS segments of a folder (``samples/`` by default), cycled. Segment ``k`` covers
``[stream_start + k*d, stream_start + (k+1)*d)``; a wrap of the cycle resets the
timestamps, so it is a discontinuity, as a publisher's reconnect is on the real service.

Faults for testing clients: per-request latency, per-connection bandwidth, gaps in the
stream, injected 5xx, truncated bodies, CDN signing type A, with or without
PROGRAM-DATE-TIME.

Other HLS forms (RFC 8216), so clients are tested end to end against each:

- AES-128 (``encryption="aes-128"``): every segment encrypted (CBC, PKCS#7) under a key
  the origin serves, rotated every ``key_rotation`` segments, with the IV written in the
  playlist (``iv="explicit"``) or derived from the media sequence number (``"sequence"``).
  Media sequence numbers count the segments that exist, so a segment has the same
  number, and the same IV, in every playlist that lists it.
- Byte ranges (``byte_ranges=N``): N consecutive segments concatenated into one
  resource, listed with ``#EXT-X-BYTERANGE`` (offsets written where a run starts,
  implied after); every byte route answers a single ``Range`` with 206.
- CMAF (a ``samples`` folder of fMP4 fragments ``*.m4s`` with ``init.mp4``, as
  ``tools/make_samples.py --container fmp4`` writes): segments ``{k}.m4s`` behind
  ``#EXT-X-MAP``, one init URI per cycle of the samples (``init/{n}.mp4``), so each
  discontinuity names its own map.
- Playlist forms only, for testing refusals: ``encryption="sample-aes"`` writes
  ``METHOD=SAMPLE-AES`` (segments stay clear), ``fmp4_map`` writes ``#EXT-X-MAP``.
Publishing sessions are the stretches between gaps. With ``notify_url`` the origin sends the
service's publish notify (seed 7.4) for them: ``publish`` when a session starts (and, at
start-up, for the session under way) and ``publish_done`` when it ends, retried like the
service (5 s timeout, 5 retries 1 s apart) and, to test receivers, delivered
``notify_deliveries`` times each.

URL layout::

    /{app}/{stream}.m3u8?lhs_start=1&...            playlists (SPEC §1)
    /{app}/{stream}.m3u8                             the plain live playlist (no lhs_*: the
                                                     newest list_size segments, growing as
                                                     each is published, in real time)
    /{app}/{stream}/{k}.ts?t={unix}                  segment k ({k}.m4s for CMAF)
    /{app}/{stream}/init/{n}.mp4                     CMAF init segment of sample cycle n
    /{app}/{stream}/r{j}.ts                          byte-range resource j (segments jN..jN+N-1)
    /{app}/{stream}/keys/{n}.key                     AES-128 key n
    /openapi/timeline/query?app&stream&format&...    timeline (SPEC §2)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import aiohttp
import m3u8
from aiohttp import web
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from yarl import URL

from ..auth import Signer
from ..callbacks.models import PublishAction, PublishNotify
from ..callbacks.signing import signed_headers
from ..errors import UsageError, redact_url
from ..times import NS_PER_S, LhsParam
from .protocol import publish_notify_query
from .server import BackgroundServer

__all__ = ["OriginConfig", "OriginServer", "load_init", "load_segments", "make_origin_app", "parse_gaps",
           "publish_events", "publish_sessions"]

log = logging.getLogger(__name__)

# The bundled samples: a folder in an installed wheel, a link to samples/ in a checkout.
DEFAULT_SAMPLES = Path(__file__).resolve().parent / "samples"
_CHUNK = 16 * 1024
ORIGIN_KEY: web.AppKey[_Origin] = web.AppKey("origin")


def parse_gaps(text: str) -> tuple[tuple[float, float], ...]:
    """Parse ``"a-b,c-d"`` (seconds after the stream's start) into spans.

    Raises:
        UsageError: not of that form, or a span that ends before it starts.
    """
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", part)
        if not m or float(m.group(2)) <= float(m.group(1)):
            raise UsageError(f"{part!r} is not a span; expected START-END seconds, e.g. 60-90",
                             option="--gaps")
        out.append((float(m.group(1)), float(m.group(2))))
    return tuple(out)


def publish_sessions(gaps: tuple[tuple[float, float], ...]) -> list[tuple[float, float | None]]:
    """The publishing sessions between gaps, in seconds after the stream's start (end None: open)."""
    sessions: list[tuple[float, float | None]] = []
    at = 0.0
    for gs, ge in sorted(gaps):
        if ge <= at:
            continue
        if gs > at:
            sessions.append((at, gs))
        at = max(at, ge)
    sessions.append((at, None))
    return sessions


def publish_events(t0: float, gaps: tuple[tuple[float, float], ...], after: float,
                   until: float) -> list[tuple[float, PublishAction]]:
    """The publish / publish_done moments in ``(after, until]``, unix seconds, in order."""
    out: list[tuple[float, PublishAction]] = []
    for a, b in publish_sessions(gaps):
        out.append((t0 + a, "publish"))
        if b is not None:
            out.append((t0 + b, "publish_done"))
    return [(t, action) for t, action in out if after < t <= until]


def load_segments(folder: Path) -> tuple[list[bytes], float]:
    """Read a folder's segments in name order and its segment duration (from manifest.json).

    The segments are ``*.ts`` (MPEG-TS), or ``*.m4s`` fMP4 fragments when the folder is a
    CMAF set (``init.mp4`` beside them; see :func:`load_init`).
    """
    files = sorted(folder.glob("*.ts")) or sorted(folder.glob("*.m4s"))
    if not files:
        raise UsageError(f"no .ts or .m4s segments in {folder}; run tools/make_samples.py",
                         option="--samples")
    duration = 2.0
    manifest = folder / "manifest.json"
    if manifest.exists():
        duration = float(json.loads(manifest.read_text())["segment_duration"])
    return [f.read_bytes() for f in files], duration


def load_init(folder: Path) -> bytes | None:
    """The CMAF init segment (``init.mp4``) of a folder of fMP4 fragments, or None for MPEG-TS."""
    init = folder / "init.mp4"
    if not any(folder.glob("*.m4s")):
        return None
    if not init.exists():
        raise UsageError(f"{folder} has .m4s fragments but no init.mp4", option="--samples")
    return init.read_bytes()


@dataclass
class OriginConfig:
    """How the local origin behaves. Times are unix seconds.

    Args:
        samples: folder of MPEG-TS segments (cycled).
        stream_start: when the simulated stream began; default: ``history`` seconds before start-up.
        history: how much past the stream has at start-up, in seconds.
        latency: seconds added before every answer.
        bandwidth: bytes per second per response (None: unlimited).
        gaps: spans, in seconds after ``stream_start``, with no data.
        fail_rate: chance that a request answers 503.
        truncate_rate: chance that a segment's body stops half-way (Content-Length kept).
        signer: check CDN signing on every request and sign segment URIs in playlists.
        program_date_time: write ``#EXT-X-PROGRAM-DATE-TIME`` on every segment.
        absolute_uris: write absolute segment URIs instead of relative ones.
        segment_host: host:port written into absolute segment URIs (e.g. to test host checks).
        list_size: segments in a live or offset playlist.
        streams: ``app/stream`` names that exist (None: every name does).
        seed: for the fault dice, so a run can be repeated.
        clock: the time source (tests may freeze it).
        sign_uris: with ``signer``, sign the segment and key URIs written into playlists
            (False: write them unsigned, so the client must sign them itself).
        encryption: None, ``"aes-128"``, or ``"sample-aes"`` (the playlist form only).
        iv: ``"sequence"`` (IV from the media sequence number) or ``"explicit"`` (IV= in the tag).
        key_rotation: segments per key (0: one key for the whole stream).
        key_length: bytes in each served key (not 16: tests a client's check).
        key_host: host:port written into absolute key URIs (e.g. to test host checks).
        key_secret: what the keys are derived from (random per origin).
        byte_ranges: segments per byte-range resource (0: one resource per segment, no ranges).
        range_fault: ``"ignore"`` answers a Range request 200 with the whole resource;
            ``"wrong"`` answers 206 with the range one byte later than asked.
        fmp4_map: write ``#EXT-X-MAP`` (the playlist form only; segments stay MPEG-TS).
        notify_url: send publish / publish_done callbacks here (seed 7.4).
        notify_domain: the callbacks' ``app`` (domain) value; default the origin's host:port,
            which is the play domain of the local stack.
        notify_streams: the ``app/stream`` names announced (default ``streams``, else live/cam1).
        notify_deliveries: how many times each callback is delivered even when answered
            (the service's retries after a lost answer), to test receivers' de-duplication.
        notify_retries, notify_retry_interval, notify_timeout: the service's retry policy
            for an unanswered or failed callback (5 retries, 1 s apart, 5 s timeout).
        notify_auth_key: the NotifyAuthKey: callbacks carry ``ALI-LIVE-TIMESTAMP`` and
            ``ALI-LIVE-SIGNATURE`` over the ingest domain (``notify_domain``), SPEC §5a.
        shift_enabled: ``(app, stream) -> bool``, whether time-shift is on for a stream
            (wired to the local Live API's OpenLiveShift configs); None: on for every stream.
    """

    samples: Path = DEFAULT_SAMPLES
    stream_start: float | None = None
    history: float = 24 * 3600
    latency: float = 0.0
    bandwidth: float | None = None
    gaps: tuple[tuple[float, float], ...] = ()
    fail_rate: float = 0.0
    truncate_rate: float = 0.0
    signer: Signer | None = None
    program_date_time: bool = True
    absolute_uris: bool = False
    segment_host: str | None = None
    list_size: int = 5
    streams: tuple[str, ...] | None = None
    seed: int | None = None
    clock: Callable[[], float] = time.time
    counters: dict[str, int] = field(default_factory=dict)
    sign_uris: bool = True
    encryption: str | None = None
    iv: str = "sequence"
    key_rotation: int = 0
    key_length: int = 16
    key_host: str | None = None
    key_secret: bytes = field(default_factory=lambda: os.urandom(16), repr=False)
    byte_ranges: int = 0
    range_fault: str | None = None
    fmp4_map: bool = False
    notify_url: str | None = None
    notify_domain: str | None = None
    notify_streams: tuple[str, ...] | None = None
    notify_deliveries: int = 1
    notify_retries: int = 5
    notify_retry_interval: float = 1.0
    notify_timeout: float = 5.0
    # -- api (issue 16): signed callbacks, the time-shift switch
    notify_auth_key: str | None = field(default=None, repr=False)
    shift_enabled: Callable[[str, str], bool] | None = None


class _Stream:
    """The segment grid of the simulated stream: which segment covers when, and which exist."""

    def __init__(self, cfg: OriginConfig) -> None:
        self.segments, self.duration = load_segments(cfg.samples)
        #: CMAF: the init segment the fragments need (None: the segments are MPEG-TS).
        self.init = load_init(cfg.samples)
        start = cfg.stream_start
        if start is None:
            start = math.floor((cfg.clock() - cfg.history) / self.duration) * self.duration
        self.t0 = float(start)
        self.cfg = cfg
        self.gaps = cfg.gaps
        # Grid slots inside gaps, as merged [lo, hi) runs (gaps may be years long, so never
        # one by one): a segment's media sequence number skips them.
        d = self.duration
        runs: list[list[int]] = []
        for lo, hi in sorted((max(0, math.floor(gs / d)), math.ceil(ge / d))
                             for gs, ge in self.gaps if ge > gs):
            if runs and lo <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], hi)
            elif hi > lo:
                runs.append([lo, hi])
        self.gap_runs = [(lo, hi) for lo, hi in runs]

    def span(self, k: int) -> tuple[float, float]:
        return self.t0 + k * self.duration, self.t0 + (k + 1) * self.duration

    def in_gap(self, k: int) -> bool:
        a, b = k * self.duration, (k + 1) * self.duration
        return any(a < ge and b > gs for gs, ge in self.gaps)

    def exists(self, k: int, now: float) -> bool:
        return k >= 0 and self.span(k)[1] <= now and not self.in_gap(k)

    def index_at(self, t: float) -> int:
        return math.floor((t - self.t0) / self.duration + 1e-9)

    def sequence(self, k: int) -> int:
        """Segment ``k``'s media sequence number: segments that exist are numbered one by one,
        so the number (and an IV derived from it) is the same in every playlist."""
        return k - sum(max(0, min(hi, k) - lo) for lo, hi in self.gap_runs)

    # -- AES-128 and byte ranges

    def key_index(self, k: int) -> int:
        return k // self.cfg.key_rotation if self.cfg.key_rotation else 0

    def key(self, n: int) -> bytes:
        """Key ``n``: the 16 bytes that encrypt segments ``n*key_rotation`` on."""
        return hashlib.sha256(self.cfg.key_secret + b"key" + n.to_bytes(8, "big")).digest()[:16]

    def served_key(self, n: int) -> bytes:
        """Key ``n`` as served: ``key_length`` bytes (the key, cut short or padded out)."""
        length = self.cfg.key_length
        return (self.key(n) * (length // 16 + 1))[:length]

    def explicit_iv(self, n: int) -> bytes:
        return hashlib.sha256(self.cfg.key_secret + b"iv" + n.to_bytes(8, "big")).digest()[:16]

    def iv(self, k: int) -> bytes:
        if self.cfg.iv == "explicit":
            return self.explicit_iv(self.key_index(k))
        return self.sequence(k).to_bytes(16, "big")

    def plain(self, k: int) -> bytes:
        return self.segments[k % len(self.segments)]

    def wire(self, k: int) -> bytes:
        """Segment ``k``'s bytes as served: encrypted under its key and IV when AES-128 is on."""
        data = self.plain(k)
        if self.cfg.encryption != "aes-128":
            return data
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self.key(self.key_index(k))),
                           modes.CBC(self.iv(k))).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def wire_length(self, k: int) -> int:
        n = len(self.plain(k))
        return (n // 16 + 1) * 16 if self.cfg.encryption == "aes-128" else n

    def range_of(self, k: int) -> tuple[int, int]:
        """Segment ``k``'s resource and its offset in it (byte-range mode)."""
        n = self.cfg.byte_ranges
        j = k // n
        return j, sum(self.wire_length(m) for m in range(j * n, k))

    def discontinuity_before(self, k: int) -> bool:
        """True where timestamps jump: the sample cycle wraps, or a gap ends."""
        return k > 0 and (k % len(self.segments) == 0 or self.in_gap(k - 1))

    def discontinuities_before(self, k: int) -> int:
        """How many discontinuities lie before segment ``k`` (EXT-X-DISCONTINUITY-SEQUENCE)."""
        if k <= 1:
            return 0
        wraps = (k - 1) // len(self.segments)
        gap_ends = {self.index_at(self.t0 + ge - 1e-9) + 1 for _, ge in self.gaps}
        extra = sum(1 for j in gap_ends if 0 < j < k and j % len(self.segments) != 0)
        return wraps + extra


def _playlist(stream: _Stream, indices: list[int], request: web.Request, app: str, name: str,
              endlist: bool, vod: bool) -> str:
    cfg = stream.cfg
    pl = m3u8.M3U8()
    # The lowest version that has every tag written: IV (2), BYTERANGE (4), MAP in a media playlist (6).
    pl.version = 6 if cfg.fmp4_map or stream.init else 4 if cfg.byte_ranges else 3
    pl.target_duration = math.ceil(stream.duration)
    pl.media_sequence = stream.sequence(indices[0]) if indices else 0
    pl.discontinuity_sequence = stream.discontinuities_before(indices[0]) if indices else 0
    pl.is_endlist = endlist
    if vod:
        pl.playlist_type = "vod"
    prefix = f"/{quote(app, safe='')}/{quote(name, safe='')}"

    def link(path: str, query: str = "", host: str | None = None) -> str:
        """A URI for ``path`` under the stream: relative, or absolute on ``host``; signed
        the same way the CDN would check it."""
        uri = f"{quote(name, safe='')}/{path}"
        if host or cfg.absolute_uris:
            uri = f"{request.scheme}://{host or request.host}{prefix}/{path}"
        params = [query] if query else []
        if cfg.signer is not None and cfg.sign_uris:
            signed = cfg.signer.sign(f"{prefix}/{path}", timestamp=int(cfg.clock()))
            params.append(signed.split("?", 1)[1])
        return uri + ("?" + "&".join(params) if params else "")

    keys: dict[int, m3u8.Key] = {}  # one tag object per key: m3u8 writes a tag where it changes

    def key_tag(k: int) -> m3u8.Key | None:
        if cfg.encryption is None:
            return None
        n = stream.key_index(k)
        if n not in keys:
            method = "SAMPLE-AES" if cfg.encryption == "sample-aes" else "AES-128"
            iv = "0x" + stream.explicit_iv(n).hex() if cfg.iv == "explicit" else None
            keys[n] = m3u8.Key(method, None, uri=link(f"keys/{n}.key", host=cfg.key_host), iv=iv)
        return keys[n]

    prev = None
    for k in indices:
        start, _ = stream.span(k)
        byterange = None
        if cfg.byte_ranges:
            j, offset = stream.range_of(k)
            uri = link(f"r{j}.ts", host=cfg.segment_host)
            # The offset is left out where it follows the previous segment of the same resource.
            implied = prev == k - 1 and prev // cfg.byte_ranges == j
            byterange = f"{stream.wire_length(k)}" + ("" if implied else f"@{offset}")
        else:
            ext = "m4s" if stream.init else "ts"
            uri = link(f"{k}.{ext}", f"t={int(start)}", host=cfg.segment_host)
        pdt = (datetime.fromtimestamp(start, timezone.utc)
               if cfg.program_date_time else None)
        disc = prev is not None and (k != prev + 1 or stream.discontinuity_before(k))
        init = {"uri": f"{quote(name, safe='')}/init.mp4"} if cfg.fmp4_map else None
        if stream.init is not None:
            # CMAF: one init segment per cycle of the samples, so every discontinuity (a
            # wrap restarts the encode, as a reconnect does) names its own map.
            init = {"uri": link(f"init/{k // len(stream.segments)}.mp4", host=cfg.segment_host)}
        pl.add_segment(m3u8.Segment(uri=uri, duration=stream.duration, program_date_time=pdt,
                                    discontinuity=disc, keyobject=key_tag(k),
                                    byterange=byterange, init_section=init))
        prev = k
    return str(pl.dumps())


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """A single ``bytes=`` range as ``(first, last)`` within ``size``; None if unsatisfiable.

    Raises:
        ValueError: not one range of that form (the caller then serves the whole body).
    """
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if m is None or not (m.group(1) or m.group(2)):
        raise ValueError(header)
    if not m.group(1):  # bytes=-n: the last n bytes
        n = int(m.group(2))
        return (max(0, size - n), size - 1) if n else None
    first = int(m.group(1))
    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if m.group(2) and int(m.group(2)) < first:
        raise ValueError(header)
    return (first, last) if first < size else None


class _Origin:
    def __init__(self, cfg: OriginConfig) -> None:
        if cfg.signer is not None and cfg.signer.type != "A":
            # Playlists carry the origin's own signature in each segment's query, as type A does.
            raise UsageError(f"the local origin checks type A signing only, not {cfg.signer.type}",
                             option="--auth-type")
        for value, allowed, option in (
                (cfg.encryption, (None, "aes-128", "sample-aes"), "--encrypt"),
                (cfg.iv, ("sequence", "explicit"), "--iv"),
                (cfg.range_fault, (None, "ignore", "wrong"), "--range-fault")):
            if value not in allowed:
                raise UsageError(f"{value!r} is not one of {', '.join(map(str, allowed))}",
                                 option=option)
        for number, option in ((cfg.key_rotation, "--key-rotation"),
                               (cfg.byte_ranges, "--byte-ranges"), (cfg.key_length, "--key-length")):
            if number < 0:
                raise UsageError(f"must be 0 or more, not {number}", option=option)
        self.cfg = cfg
        self.stream = _Stream(cfg)
        self.rng = random.Random(cfg.seed)
        self.sessions: dict[str, float] = {}
        self.domain = cfg.notify_domain
        self._bound = asyncio.Event()
        if self.domain is not None:
            self._bound.set()

    def count(self, what: str) -> None:
        self.cfg.counters[what] = self.cfg.counters.get(what, 0) + 1

    # -- middleware: latency, signing, 5xx

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], object]) -> web.StreamResponse:
        self.count("requests")
        if self.cfg.latency:
            await asyncio.sleep(self.cfg.latency)
        if self.cfg.signer is not None:
            result = self.cfg.signer.verify(request.raw_path.split("?", 1)[0],
                                            request.query_string, now=int(self.cfg.clock()))
            if not result.ok:
                self.count("403")
                return web.Response(status=403, text=f"403 Forbidden: {result.reason}\n")
        if self.cfg.fail_rate and self.rng.random() < self.cfg.fail_rate:
            self.count("5xx")
            return web.Response(status=503, text="503 injected fault\n")
        return await handler(request)  # type: ignore[misc,no-any-return]

    def known(self, app: str, stream: str) -> bool:
        return self.cfg.streams is None or f"{app}/{stream}" in self.cfg.streams

    def shift_off(self, app: str, stream: str) -> web.Response | None:
        """api (issue 16): a stream without time-shift has no time-shift content: 404."""
        if self.cfg.shift_enabled is None or self.cfg.shift_enabled(app, stream):
            return None
        self.count("shift_off")
        return web.Response(status=404, text="404 time-shift is not enabled for this stream\n")

    # -- handlers

    async def playlist(self, request: web.Request) -> web.Response:
        app, name = request.match_info["app"], request.match_info["stream"]
        if not self.known(app, name):
            return web.Response(status=404, text="404 no such stream\n")
        if (off := self.shift_off(app, name)) is not None:
            return off
        q = request.query
        plain = not any(k.startswith("lhs_") or k == "aliyunols" for k in q)  # live: issue 14
        if not plain and q.get("lhs_start") != "1" and q.get("aliyunols") != "on":
            return web.Response(status=404, text="not a time-shift request (no marker)\n")
        times: dict[str, int] = {}
        try:
            for key, value in q.items():
                if key.startswith("lhs_") and key != "lhs_start":
                    p = LhsParam.from_name(key)
                    times[p.type] = p.parse_value(value)
        except UsageError as exc:
            return web.Response(status=400, text=f"400 {exc}\n")
        now = self.cfg.clock()
        s = self.stream
        if plain:  # the normal live URL (SPEC §1): the newest segments, growing in real time
            times["offset"] = 0
        if "offset" in times:
            edge = now - times["offset"] / NS_PER_S
            last = s.index_at(edge) - 1
            first, endlist, vod = last - self.cfg.list_size + 1, False, False
        elif "start" in times:
            start = times["start"] / NS_PER_S
            first = s.index_at(start)
            if "vodend" in times:
                vodend = times["vodend"] / NS_PER_S
                if vodend <= start:
                    return web.Response(status=400, text="400 vodend is not after start\n")
                last, endlist, vod = math.ceil((vodend - s.t0) / s.duration - 1e-9) - 1, True, True
            else:
                # Live mode plays like a live stream delayed by (first request - start).
                key = request.path_qs
                first_seen = self.sessions.setdefault(key, now)
                edge = start + (now - first_seen) + self.cfg.list_size * s.duration
                end = times.get("end")
                endlist = end is not None and edge >= end / NS_PER_S
                if end is not None:
                    edge = min(edge, end / NS_PER_S)
                last = math.ceil((edge - s.t0) / s.duration - 1e-9) - 1
                first, vod = max(first, last - self.cfg.list_size + 1), False
        else:
            return web.Response(status=400, text="400 no lhs_start_*/lhs_offset_* time\n")
        indices = [k for k in range(max(first, 0), last + 1) if s.exists(k, now)]
        body = _playlist(s, indices, request, app, name, endlist, vod)
        return web.Response(text=body, content_type="application/vnd.apple.mpegurl")

    async def segment(self, request: web.Request) -> web.StreamResponse:
        k = int(request.match_info["k"])
        known = self.known(request.match_info["app"], request.match_info["stream"])
        if not known or not self.stream.exists(k, self.cfg.clock()):
            return web.Response(status=404, text="404 no such segment\n")
        self.count("segments")
        kind = "video/iso.segment" if self.stream.init else "video/MP2T"
        return await self.send(request, self.stream.wire(k), kind)

    async def init_segment(self, request: web.Request) -> web.StreamResponse:
        """CMAF init segment of sample cycle n (served in the clear, also under AES-128:
        the playlist writes no explicit IV an encrypted map would need)."""
        init = self.stream.init
        if init is None or not self.known(request.match_info["app"], request.match_info["stream"]):
            return web.Response(status=404, text="404 no such init segment\n")
        self.count("inits")
        return await self.send(request, init, "video/mp4")

    async def resource(self, request: web.Request) -> web.StreamResponse:
        """Byte-range resource j: segments jN..jN+N-1 end to end, as far as they have ended."""
        j, n, s = int(request.match_info["j"]), self.cfg.byte_ranges, self.stream
        now = self.cfg.clock()
        ks = [k for k in range(j * n, (j + 1) * n) if k >= 0 and s.span(k)[1] <= now]
        known = self.known(request.match_info["app"], request.match_info["stream"])
        if not n or not known or not any(s.exists(k, now) for k in ks):
            return web.Response(status=404, text="404 no such resource\n")
        self.count("segments")
        return await self.send(request, b"".join(s.wire(k) for k in ks))

    async def key(self, request: web.Request) -> web.Response:
        if self.cfg.encryption is None or not self.known(request.match_info["app"],
                                                         request.match_info["stream"]):
            return web.Response(status=404, text="404 no such key\n")
        self.count("keys")
        return web.Response(body=self.stream.served_key(int(request.match_info["n"])),
                            content_type="application/octet-stream",
                            headers={"Cache-Control": "private, no-store"})

    async def send(self, request: web.Request, data: bytes,
                   content_type: str = "video/MP2T") -> web.StreamResponse:
        """Answer with ``data`` (or the single range asked for), with the bandwidth and
        truncation faults applied."""
        status, headers = 200, {"Content-Type": content_type, "Accept-Ranges": "bytes"}
        if "Range" in request.headers and self.cfg.range_fault != "ignore":
            try:
                asked = _parse_range(request.headers["Range"], len(data))
            except ValueError:
                asked = (0, len(data) - 1)  # not one plain range: the whole body, as RFC 9110 allows
            else:
                if asked is None:
                    return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
                if self.cfg.range_fault == "wrong":  # one byte late, as a broken cache node might be
                    asked = (asked[0] + 1, min(asked[1] + 1, len(data) - 1))
                status = 206
                headers["Content-Range"] = f"bytes {asked[0]}-{asked[1]}/{len(data)}"
                self.count("ranges")
            data = data[asked[0]:asked[1] + 1]
        truncate = self.cfg.truncate_rate and self.rng.random() < self.cfg.truncate_rate
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = len(data)
        try:
            await resp.prepare(request)
            body = data[: len(data) // 2] if truncate else data
            bw = self.cfg.bandwidth
            if bw:
                for i in range(0, len(body), _CHUNK):
                    await resp.write(body[i:i + _CHUNK])
                    await asyncio.sleep(min(_CHUNK, len(body) - i) / bw)
            else:
                await resp.write(body)
            if truncate:
                self.count("truncated")
                # Close with the body short of its Content-Length, as a dying CDN node does.
                if request.transport is not None:
                    request.transport.close()
                return resp
            await resp.write_eof()
        except ConnectionResetError:
            self.count("client_gone")  # the client hung up (a hedged twin won, or it was killed)
        return resp

    async def timeline(self, request: web.Request) -> web.Response:
        q = request.query
        missing = [k for k in ("app", "stream", "format", "lhs_start_unix_s_0",
                               "lhs_end_unix_s_0") if not q.get(k)]
        if missing:
            return web.json_response({"retCode": 1, "description":
                                      f"missing parameter: {', '.join(missing)}"})
        if not self.known(q["app"], q["stream"]):
            return web.json_response({"retCode": 5, "description": "stream not found"})
        if (off := self.shift_off(q["app"], q["stream"])) is not None:
            return off
        if q["format"] not in ("ts", "flv"):
            return web.json_response({"retCode": 2, "description": "format must be ts or flv"})
        try:
            start, end = int(q["lhs_start_unix_s_0"]), int(q["lhs_end_unix_s_0"])
        except ValueError:
            return web.json_response({"retCode": 3, "description": "times must be unix seconds"})
        if end <= start:
            return web.json_response({"retCode": 4, "description": "end must be after start"})
        now = self.cfg.clock()
        s = self.stream
        entries = []
        for k in range(max(s.index_at(start), 0), s.index_at(end - 1e-9) + 1):
            if s.exists(k, now):
                a, b = s.span(k)
                entries.append({"start": math.floor(a), "end": math.ceil(b)})
        return web.json_response({"retCode": 0, "description": "success",
                                  "content": {"current": int(now), "timeline": entries}})


    # -- publish notify (seed 7.4)

    def bind(self, netloc: str) -> None:
        """The origin's own host:port is known: it names the domain in callbacks by default."""
        if self.domain is None:
            self.domain = netloc
        self._bound.set()

    async def notifier(self) -> None:
        """Announce sessions as the clock reaches their starts and ends."""
        cfg, s = self.cfg, self.stream
        await self._bound.wait()
        timeout = aiohttp.ClientTimeout(total=cfg.notify_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            after = cfg.clock()
            past = publish_events(s.t0, s.gaps, -math.inf, after)
            if past and past[-1][1] == "publish":
                # The session under way began before anyone could be told: tell now, with
                # its real start time, as the service did then.
                await self.announce(http, *past[-1])
            while True:
                upcoming = publish_events(s.t0, s.gaps, after, math.inf)
                if not upcoming:
                    return
                at, action = upcoming[0]
                while (wait := at - cfg.clock()) > 0:
                    await asyncio.sleep(min(wait, 1.0))
                await self.announce(http, at, action)
                after = at

    async def announce(self, http: aiohttp.ClientSession, at: float,
                       action: PublishAction) -> None:
        names = self.cfg.notify_streams or self.cfg.streams or ("live/cam1",)
        assert self.domain is not None
        notes = [PublishNotify(action, self.domain, app, stream, int(at), "127.0.0.1",
                               "timeshift-sim-origin")
                 for app, _, stream in (name.partition("/") for name in names)]
        await asyncio.gather(*(self.deliver(http, note) for note in notes))

    async def deliver(self, http: aiohttp.ClientSession, note: PublishNotify) -> None:
        """Deliver one callback ``notify_deliveries`` times, each retried as the service does."""
        cfg = self.cfg
        assert cfg.notify_url is not None
        url = URL(cfg.notify_url).extend_query(publish_notify_query(note))
        for n in range(cfg.notify_deliveries):
            if n:
                await asyncio.sleep(cfg.notify_retry_interval)
            for attempt in range(cfg.notify_retries + 1):
                if attempt:
                    await asyncio.sleep(cfg.notify_retry_interval)
                # api (issue 16): signed at each send, over the ingest domain (SPEC §5a).
                headers = (signed_headers(note.domain, cfg.notify_auth_key, cfg.clock())
                           if cfg.notify_auth_key else None)
                try:
                    async with http.get(url, headers=headers) as resp:
                        await resp.read()
                        if resp.status == 200:
                            self.count(f"notify_{note.action}")
                            break
                        why = f"HTTP {resp.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    why = type(exc).__name__
                log.info("%s %s/%s: %s (attempt %d)", note.action, note.app, note.stream, why,
                         attempt + 1)
            else:
                self.count("notify_failed")
                log.warning("%s %s/%s: not delivered to %s", note.action, note.app, note.stream,
                            redact_url(str(url)))


def make_origin_app(cfg: OriginConfig) -> web.Application:
    """The origin as an aiohttp application."""
    origin = _Origin(cfg)
    app = web.Application(middlewares=[origin.middleware])
    app[ORIGIN_KEY] = origin
    if cfg.notify_url:
        async def run_notifier(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(origin.notifier(), name="timeshift-origin-notify")
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(run_notifier)
    app.router.add_get("/openapi/timeline/query", origin.timeline)
    app.router.add_get("/{app}/{stream}.m3u8", origin.playlist)
    app.router.add_get(r"/{app}/{stream}/{k:\d+}.ts", origin.segment)
    app.router.add_get(r"/{app}/{stream}/{k:\d+}.m4s", origin.segment)
    app.router.add_get(r"/{app}/{stream}/init/{n:\d+}.mp4", origin.init_segment)
    app.router.add_get(r"/{app}/{stream}/r{j:\d+}.ts", origin.resource)
    app.router.add_get(r"/{app}/{stream}/keys/{n:\d+}.key", origin.key)
    return app


class OriginServer(BackgroundServer):
    """The origin in a background thread: ``with OriginServer(cfg) as o: o.url``."""

    def __init__(self, cfg: OriginConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = cfg or OriginConfig()
        super().__init__(lambda: make_origin_app(self.config), host, port)

    def bound(self) -> None:
        assert self.app is not None
        self.app[ORIGIN_KEY].bind(self.netloc)

    @property
    def stream_start(self) -> float:
        assert self.app is not None, "start the server first"
        return float(self.app[ORIGIN_KEY].stream.t0)

    @property
    def segment_duration(self) -> float:
        assert self.app is not None, "start the server first"
        return float(self.app[ORIGIN_KEY].stream.duration)

