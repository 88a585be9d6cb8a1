"""How the local origin behaves (:class:`OriginConfig`), and its inputs: gap spans, sample folders."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...auth import Signer
from ...errors import UsageError

__all__ = ["DEFAULT_SAMPLES", "OriginConfig", "load_init", "load_segments", "parse_gaps"]

# The bundled samples: a folder in an installed wheel, a link to samples/ in a checkout.
DEFAULT_SAMPLES = Path(__file__).resolve().parents[1] / "samples"


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
