"""The synchronous HTTP adapter: one ``requests`` session with bounded retries.

Retries (5xx, connection errors, read errors, with exponential backoff and jitter)
come from urllib3's ``Retry`` rather than a hand-written loop. ``requests`` errors
are translated into the timeshift tree here, once.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import AuthError, NotFoundError, RemoteError, TransportError, redact_url

__all__ = ["DEFAULT_TIMEOUT", "get", "make_session"]

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
SIGNING_HINT = (
    "the domain may have URL signing on: pass --auth-type and --auth-key-env, "
    "or check that the key is right and the signed URL has not expired"
)


def make_session(retries: int = 3, backoff: float = 0.25) -> requests.Session:
    """A session that retries GETs on 5xx and connection trouble, with backoff."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_jitter=backoff,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,  # the last 5xx comes back to be reported with its body
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "timeshift/0.1"
    return session


def get(session: requests.Session, url: str, *, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        what: str = "request") -> requests.Response:
    """GET ``url`` and return the response, or raise a timeshift error for a failure.

    Raises:
        AuthError: 403.
        NotFoundError: 404.
        RemoteError: any other status >= 400.
        TransportError: no answer (refused, reset, timeout, retries exhausted).
    """
    try:
        resp = session.get(url, timeout=timeout)
    except requests.RequestException as exc:
        reason = type(exc).__name__
        root = getattr(exc.args[0], "reason", None) if exc.args else None
        if root is not None:
            reason = f"{reason}: {type(root).__name__}"
        raise TransportError(f"{what} failed ({reason})", url=url) from exc
    if resp.status_code >= 400:
        body = resp.text[:200].strip()
        kwargs: dict[str, Any] = dict(status=resp.status_code, url=redact_url(url))
        if resp.status_code == 403:
            raise AuthError(f"{what} refused", hint=SIGNING_HINT, **kwargs)
        if resp.status_code == 404:
            raise NotFoundError(f"{what}: not found", **kwargs)
        raise RemoteError(f"{what} failed{': ' + body if body else ''}", **kwargs)
    return resp
