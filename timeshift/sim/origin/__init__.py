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

The package, one module per part: :mod:`.config` (``OriginConfig``, gap spans, the sample
folder), :mod:`.stream` (the segment grid and each segment's bytes: gaps, sequence numbers,
discontinuities, AES-128 keys, byte-range offsets), :mod:`.state` (what the routes share:
the checked config, fault dice, counters, the time-shift switch), :mod:`.playlists` (the
playlist route and the m3u8 it writes), :mod:`.segments` (segments, init segments, byte-range
resources, keys), :mod:`.bodies` (``Range``, bandwidth and truncation faults),
:mod:`.timeline` (the timeline route), :mod:`.notify` (publish sessions and their callbacks),
and :mod:`.app` (the route table, the request gate, ``OriginServer``).
"""

from __future__ import annotations

from .app import ORIGIN_KEY, OriginServer, make_origin_app
from .config import DEFAULT_SAMPLES, OriginConfig, load_init, load_segments, parse_gaps
from .notify import publish_events, publish_sessions

__all__ = ["DEFAULT_SAMPLES", "ORIGIN_KEY", "OriginConfig", "OriginServer", "load_init",
           "load_segments", "make_origin_app", "parse_gaps", "publish_events", "publish_sessions"]
