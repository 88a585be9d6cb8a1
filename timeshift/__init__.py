"""timeshift: time-shifted (catch-up) HLS from Alibaba Cloud ApsaraVideo Live.

Build and parse replay URLs, sign them for the CDN, ask which times hold data,
and (in later modules) cut exact clips and archive recordings into OSS.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .auth import Signer
from .errors import (
    AuthError,
    CutError,
    GapError,
    NotFoundError,
    RemoteError,
    TimelineError,
    TimeshiftError,
    TransportError,
    UsageError,
    VerificationError,
)
from .timeline import Span, Timeline, query_timeline
from .times import LhsParam, format_iso, parse_duration, parse_time
from .urls import Mode, TimeshiftURL, parse_url, timeline_url

__all__ = [
    "AuthError",
    "CutError",
    "GapError",
    "LhsParam",
    "Mode",
    "NotFoundError",
    "RemoteError",
    "Signer",
    "Span",
    "Timeline",
    "TimelineError",
    "TimeshiftError",
    "TimeshiftURL",
    "TransportError",
    "UsageError",
    "VerificationError",
    "__version__",
    "format_iso",
    "parse_duration",
    "parse_time",
    "parse_url",
    "query_timeline",
    "timeline_url",
]
