"""timeshift: time-shifted (catch-up) HLS from Alibaba Cloud ApsaraVideo Live.

Build and parse replay URLs, sign them for the CDN, ask which times hold data,
and (in later modules) cut exact clips and archive recordings into OSS.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING

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
from .times import LhsParam, format_iso, parse_duration, parse_time
from .urls import Mode, TimeshiftURL, parse_url, timeline_url

if TYPE_CHECKING:
    from .timeline import Span, Timeline, query_timeline

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


def __getattr__(name: str) -> object:
    # `timeshift --help` and `timeshift url` must start fast, and the timeline's query pulls in
    # requests: its names are imported when first used (PEP 562), not with the package.
    if name in ("Span", "Timeline", "query_timeline"):
        from . import timeline

        return getattr(timeline, name)
    raise AttributeError(f"module 'timeshift' has no attribute {name!r}")
