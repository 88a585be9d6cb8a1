"""The Live OpenAPI client over ``requests``: sign, send, retry the retryable, translate errors.

Every retry is signed again with a fresh ``SignatureNonce`` and ``Timestamp`` (the
service refuses a reused nonce as a replay), and what is retryable is decided by the
answer's ``Code`` (``Throttling*``, ``ServiceUnavailable``, ``InternalError``), not its
status; the waits and the deadline come from the one policy (:mod:`timeshift.retry`).
The transport is :func:`timeshift.http.send`: no redirect leaves the endpoint, and the
answer is read through the decoded-size cap.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3.exceptions

from ..errors import ApiError, TransportError
from ..http import DEFAULT_MAX_ANSWER_BYTES, Answer, Hiccup, send
from ..netpolicy import HostPolicy
from ..retry import RetryPolicy
from .credentials import Credentials
from .signing import API_VERSION, common_params, flatten, sign

__all__ = ["DEFAULT_ENDPOINT", "LiveClient"]

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "live.aliyuncs.com"


class LiveClient:
    """A client for one endpoint and set of credentials.

    Args:
        credentials: the AccessKey pair (and STS token) to sign with.
        endpoint: host[:port] of the API (``live.aliyuncs.com``; a local server in tests).
        scheme: ``https`` by default.
        region: sent as ``RegionId`` when given.
        retries: how many times a retryable answer or a connection failure is retried.
        backoff: base seconds of the exponential backoff (with jitter).
        deadline: seconds after which one call stops retrying (None: no limit).
        max_answer_bytes: the largest answer read (decoded).
        session: an injectable ``requests.Session``.
        sleep, clock: injectable for tests that count backoff instead of waiting.
    """

    def __init__(self, credentials: Credentials, *, endpoint: str = DEFAULT_ENDPOINT,
                 scheme: str = "https", region: str | None = None, version: str = API_VERSION,
                 timeout: float | tuple[float, float] = (5.0, 30.0), retries: int = 4,
                 backoff: float = 0.5, deadline: float | None = 120.0,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self.endpoint = endpoint
        self.scheme = scheme
        self.region = region
        self.version = version
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.retry = RetryPolicy(retries=retries, backoff=backoff, max_backoff=20.0,
                                 deadline=deadline)
        self.max_answer_bytes = max_answer_bytes
        self.attempts: list[str] = []  # the nonces sent, most recent last (for diagnostics)

    def __repr__(self) -> str:
        return (f"LiveClient(endpoint={self.endpoint!r}, access_key_id="
                f"{self.credentials.access_key_id!r}, region={self.region!r})")

    def signed_url(self, action: str, params: Mapping[str, Any] | None = None, *,
                   nonce: str | None = None, timestamp: str | None = None) -> str:
        """The full signed GET URL of a request, without sending it."""
        query = common_params(action, self.credentials.access_key_id, version=self.version,
                              region=self.region, security_token=self.credentials.security_token,
                              nonce=nonce, timestamp=timestamp)
        query.update(flatten(params or {}))
        query["Signature"] = sign(query, self.credentials.access_key_secret)
        return f"{self.scheme}://{self.endpoint}/?{urlencode(query)}"

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        """Send one action and return its decoded JSON answer.

        Raises:
            ApiError: the service answered with an error code (after retries if retryable).
            TransportError: no answer after the retries.
        """
        base = f"{self.scheme}://{self.endpoint}/"
        hosts = HostPolicy.for_origin(base)
        run = self.retry.copy_with(retries=self.retries, backoff=self.backoff).begin(self.clock)
        while True:
            url = self.signed_url(action, params)
            self.attempts.append(url.split("SignatureNonce=", 1)[1].split("&", 1)[0])
            try:
                answer = send(self.session, url, hosts=hosts, timeout=self.timeout,
                              what=action, limit=self.max_answer_bytes)
            except (requests.RequestException, urllib3.exceptions.HTTPError, Hiccup) as exc:
                wait = run.next_delay()
                if wait is None:
                    raise TransportError(f"{action} failed after {run.why_stopped()} "
                                         f"({type(exc).__name__})", url=base) from exc
                self._wait(wait, action, type(exc).__name__)
                continue
            try:
                return self._decode(action, answer)
            except ApiError as err:
                wait = run.next_delay() if err.retryable else None
                if wait is None:
                    raise
                self._wait(wait, action, str(err.code))

    def _wait(self, delay: float, action: str, why: str) -> None:
        log.info("%s: %s, retrying in %.2f s", action, why, delay)
        self.sleep(delay)

    @staticmethod
    def _decode(action: str, resp: Answer) -> dict[str, Any]:
        try:
            body = resp.json()
        except (json.JSONDecodeError, ValueError):
            body = None
        if resp.status_code >= 400 or (isinstance(body, dict) and "Code" in body
                                       and resp.status_code >= 300):
            data = body if isinstance(body, dict) else {}
            raise ApiError(str(data.get("Message") or resp.reason or "error"),
                           status=resp.status_code, code=data.get("Code"),
                           request_id=data.get("RequestId"), host_id=data.get("HostId"))
        if not isinstance(body, dict):
            raise ApiError(f"{action}: the answer is not JSON", status=resp.status_code)
        return body
