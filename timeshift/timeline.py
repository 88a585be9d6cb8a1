"""Which times hold data: the timeline's HTTP query (SPEC §2).

The answer's model (spans merged, clipped to the window, and the gaps) is pure and
lives in :mod:`timeshift.spans`; its names are re-exported here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

from .auth import Signer
from .errors import TimelineError
from .spans import Span, Timeline, clip_spans, find_gaps, merge_spans
from .urls import Marker, timeline_url

if TYPE_CHECKING:
    import requests

__all__ = [
    "Span",
    "Timeline",
    "clip_spans",
    "find_gaps",
    "merge_spans",
    "query_timeline",
]


def query_timeline(
    domain: str,
    app: str,
    stream: str,
    start: int,
    end: int,
    *,
    format: Literal["ts", "flv"] = "ts",
    scheme: str = "https",
    marker: Marker = "both",
    signer: Signer | None = None,
    session: requests.Session | None = None,
    timeout: float | tuple[float, float] = (5.0, 30.0),
) -> Timeline:
    """Ask the origin which parts of ``[start, end)`` (unix seconds) hold data.

    Raises:
        UsageError: end not after start, or a bad domain.
        AuthError: 403 (signing missing, wrong or expired).
        TimelineError: ``retCode != 0`` or a body that is not JSON.
        RemoteError, TransportError: other HTTP failures after the retries.
    """
    # requests (~50 ms to import) only when a timeline is asked for: a clip of a playlist
    # URL never does.
    from .http import get, make_session

    url = timeline_url(domain, app, stream, start, end, format=format, scheme=scheme,
                       marker=marker)
    if signer is not None:
        url = signer.sign(url)
    resp = get(session if session is not None else make_session(), url, timeout=timeout, what="timeline query")
    try:
        payload = resp.json()
    except (json.JSONDecodeError, ValueError) as exc:
        snippet = resp.text[:80].replace("\n", " ")
        raise TimelineError(
            f"the timeline answer is not JSON (starts {snippet!r})", status=resp.status_code
        ) from exc
    return Timeline.from_response(payload, Span(start, end))
