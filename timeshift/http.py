"""The synchronous HTTP adapter over ``requests``: one GET under the house's fetch rules.

The same rules as the segment fetcher, for the timeline query and the OpenAPI:

- **no automatic redirects**: a 3xx is followed by hand, each ``Location`` held to a
  :class:`~timeshift.netpolicy.HostPolicy` (by default the URL's own scheme, host and
  port), at most ``max_redirects`` times;
- **capped answers**: the body is read raw and decoded by the one capped reader
  (:class:`~timeshift.capped.CappedBody`), which counts decoded bytes, so a gzip bomb
  fails at the cap instead of filling memory;
- **retries from the one policy** (:class:`~timeshift.retry.RetryPolicy`): 5xx, 429,
  connection and read errors, with jittered backoff, ``Retry-After`` capped, and a
  deadline over the whole operation; each try also has its own deadline (a body that
  drips a byte every few seconds never trips a socket timeout).

``requests`` errors are translated into the timeshift tree here, once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from .capped import AnswerTooLarge, CappedBody, UnsupportedEncoding
from .errors import (
    SIGNING_HINT,
    AuthError,
    NotFoundError,
    RemoteError,
    TransportError,
    redact_url,
)
from .netpolicy import REDIRECTS, HostPolicy
from .retry import RetryPolicy, parse_retry_after

__all__ = ["DEFAULT_MAX_ANSWER_BYTES", "DEFAULT_TIMEOUT", "Answer", "Hiccup", "Session", "get",
           "make_session", "send"]

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
DEFAULT_ATTEMPT_TIMEOUT = 60.0


class Session(requests.Session):
    """A ``requests`` session carrying the retry policy and the answer cap its GETs use."""

    def __init__(self, retry: RetryPolicy | None = None,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
                 attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT) -> None:
        super().__init__()
        self.retry = retry or RetryPolicy(retries=3)
        self.max_answer_bytes = max_answer_bytes
        self.attempt_timeout = attempt_timeout


def make_session(retries: int = 3, backoff: float = 0.25, *, retry_after_cap: float = 30.0,
                 deadline: float | None = 120.0,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
                 attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT) -> Session:
    """A session whose GETs retry 5xx, 429 and connection trouble under the one policy."""
    session = Session(RetryPolicy(retries=retries, backoff=backoff, max_backoff=8.0,
                                  retry_after_cap=retry_after_cap, deadline=deadline),
                      max_answer_bytes, attempt_timeout)
    adapter = HTTPAdapter(max_retries=0)  # retries are ours (timeshift.retry), not urllib3's
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "timeshift/0.1"
    return session


@dataclass(frozen=True)
class Answer:
    """A whole HTTP answer: status, headers, the decoded body (capped) and the final URL."""

    url: str
    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Hiccup(Exception):
    """A try that gave no usable answer and may be retried (a retryable status, a slow body)."""

    def __init__(self, reason: str, delay: float | None = None,
                 answer: Answer | None = None) -> None:
        super().__init__(reason)
        self.delay = delay
        self.answer = answer


def _read(resp: requests.Response, limit: int, what: str, url: str, deadline: float) -> bytes:
    """The decoded body, capped; fails past the try's deadline even if bytes keep dripping."""
    try:
        body = CappedBody(limit, resp.headers.get("Content-Encoding"), what)
        while True:
            chunk = resp.raw.read1(1 << 16, decode_content=False)
            if not chunk:
                return body.finish()
            body.feed(chunk)
            if time.monotonic() > deadline:
                raise Hiccup(f"{what}: no whole answer within the try's deadline")
    except AnswerTooLarge as exc:
        raise RemoteError(str(exc), url=url) from None
    except UnsupportedEncoding as exc:
        raise RemoteError(f"{what}: {exc}", url=url) from None


def send(session: requests.Session, url: str, *, hosts: HostPolicy | None = None,
         timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, what: str = "request",
         limit: int | None = None, attempt_timeout: float | None = None,
         headers: Mapping[str, str] | None = None) -> Answer:
    """One GET, redirects followed by hand within ``hosts``, the body read under the cap.

    No retries and no status check (see :func:`get`).

    Raises:
        ForeignHostError: a redirect out of ``hosts``.
        RemoteError: over the cap, too many redirects, an undecodable body.
        requests.RequestException, urllib3 errors, Hiccup: no usable answer (retryable).
    """
    policy = hosts or HostPolicy.for_origin(url)
    cap = limit if limit is not None else getattr(session, "max_answer_bytes",
                                                  DEFAULT_MAX_ANSWER_BYTES)
    per_try: float = (attempt_timeout if attempt_timeout is not None
                      else getattr(session, "attempt_timeout", DEFAULT_ATTEMPT_TIMEOUT))
    deadline = time.monotonic() + per_try
    hops = 0
    while True:
        resp = session.get(url, timeout=timeout, allow_redirects=False, stream=True,
                           headers={**(headers or {}), "Accept-Encoding": "gzip, deflate"})
        with resp:
            if resp.status_code in REDIRECTS:
                location = resp.headers.get("Location")
                url = policy.next_hop(url, resp.status_code, location, hops)
                hops += 1
                continue
            content = _read(resp, cap, what, url, deadline)
            return Answer(url, resp.status_code, resp.reason or "", dict(resp.headers), content)


def get(session: requests.Session, url: str, *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, what: str = "request",
        hosts: HostPolicy | None = None, limit: int | None = None) -> Answer:
    """GET ``url`` under the session's retry policy; return the answer or raise.

    Raises:
        AuthError: 403.
        NotFoundError: 404.
        RemoteError: any other status >= 400 (the last one, after retries), over the cap.
        ForeignHostError: a redirect out of ``hosts`` (default: the URL's own origin).
        TransportError: no answer (refused, reset, timeout, retries or deadline exhausted).
    """
    policy: RetryPolicy = getattr(session, "retry", None) or RetryPolicy(retries=3)
    run = policy.begin()
    while True:
        try:
            answer = send(session, url, hosts=hosts, timeout=timeout, what=what, limit=limit,
                          attempt_timeout=run.timeout(getattr(session, "attempt_timeout",
                                                              DEFAULT_ATTEMPT_TIMEOUT)))
            if policy.retry_status(answer.status_code):
                raise Hiccup(f"HTTP {answer.status_code}",
                              parse_retry_after(answer.headers.get("Retry-After")), answer)
            break
        except (Hiccup, requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            wait = run.next_delay(exc.delay if isinstance(exc, Hiccup) else None)
            if wait is not None:
                time.sleep(wait)
                continue
            if isinstance(exc, Hiccup) and exc.answer is not None:
                answer = exc.answer  # the last 5xx is reported with its body
                break
            raise TransportError(f"{what} failed after {run.why_stopped()} "
                                 f"({_reason(exc)})", url=url) from exc
    return _checked(answer, url, what)


def _reason(exc: BaseException) -> str:
    reason = type(exc).__name__
    root = getattr(exc.args[0], "reason", None) if exc.args else None
    if root is not None:
        reason = f"{reason}: {type(root).__name__}"
    elif isinstance(exc, Hiccup):
        reason = str(exc)
    return reason


def _checked(answer: Answer, url: str, what: str) -> Answer:
    if answer.status_code >= 400:
        body = answer.text[:200].strip()
        kwargs: dict[str, Any] = dict(status=answer.status_code, url=redact_url(url))
        if answer.status_code == 403:
            raise AuthError(f"{what} refused", hint=SIGNING_HINT, **kwargs)
        if answer.status_code == 404:
            raise NotFoundError(f"{what}: not found", **kwargs)
        raise RemoteError(f"{what} failed{': ' + body if body else ''}", **kwargs)
    if 300 <= answer.status_code < 400:
        raise RemoteError(f"{what}: unexpected HTTP {answer.status_code}",
                          status=answer.status_code, url=redact_url(url))
    return answer
