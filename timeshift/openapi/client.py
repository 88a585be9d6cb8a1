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

from ..errors import ApiError, TransportError, UsageError
from ..http import DEFAULT_MAX_ANSWER_BYTES, Answer, Hiccup, send
from ..netpolicy import HostPolicy
from ..retry import RetryPolicy
from .credentials import Credentials
from .signing import (
    API_VERSION,
    EMPTY_SHA256,
    common_params,
    flatten,
    sign,
    v3_authorization,
    v3_headers,
)

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
        signature_version: ``"v3"`` (ACS3-HMAC-SHA256 headers, as the current official SDKs
            send; the default) or ``"v2"`` (HMAC-SHA1 in the query, the seeds' form).
    """

    def __init__(self, credentials: Credentials, *, endpoint: str = DEFAULT_ENDPOINT,
                 scheme: str = "https", region: str | None = None, version: str = API_VERSION,
                 timeout: float | tuple[float, float] = (5.0, 30.0), retries: int = 4,
                 backoff: float = 0.5, deadline: float | None = 120.0,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 signature_version: str = "v3") -> None:
        if signature_version not in ("v2", "v3"):
            raise UsageError(f"{signature_version!r} is not v2 or v3", field="signature_version")
        self.signature_version = signature_version
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
                f"{self.credentials.access_key_id!r}, region={self.region!r}, "
                f"signature_version={self.signature_version!r})")

    def signed_url(self, action: str, params: Mapping[str, Any] | None = None, *,
                   nonce: str | None = None, timestamp: str | None = None) -> str:
        """The full signed GET URL of a request, without sending it."""
        query = common_params(action, self.credentials.access_key_id, version=self.version,
                              region=self.region, security_token=self.credentials.security_token,
                              nonce=nonce, timestamp=timestamp)
        query.update(flatten(params or {}))
        query["Signature"] = sign(query, self.credentials.access_key_secret)
        return f"{self.scheme}://{self.endpoint}/?{urlencode(query)}"

    # -- api (issue 16): the signing step, V3 by default, V2 on request

    def signed_request(self, action: str, params: Mapping[str, Any] | None = None, *,
                       nonce: str | None = None,
                       timestamp: str | None = None) -> tuple[str, dict[str, str], str]:
        """The URL, headers and nonce of one signed GET, without sending it.

        V3 keeps the action's parameters in the query and signs ``host`` and the ``x-acs-*``
        headers (SPEC §7); V2 puts everything, the signature too, in the query (SPEC §4).
        """
        if self.signature_version == "v2":
            url = self.signed_url(action, params, nonce=nonce, timestamp=timestamp)
            return url, {}, url.split("SignatureNonce=", 1)[1].split("&", 1)[0]
        query = flatten(params or {})
        if self.region:
            query.setdefault("RegionId", self.region)
        headers = v3_headers(action, self.endpoint, version=self.version, nonce=nonce,
                             timestamp=timestamp,
                             security_token=self.credentials.security_token,
                             payload_sha256=EMPTY_SHA256)
        headers["Authorization"] = v3_authorization(
            "GET", "/", query, headers, EMPTY_SHA256, self.credentials.access_key_id,
            self.credentials.access_key_secret)
        url = f"{self.scheme}://{self.endpoint}/" + (f"?{urlencode(query)}" if query else "")
        return url, headers, headers["x-acs-signature-nonce"]

    # -- end api

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
            url, headers, nonce = self.signed_request(action, params)  # api: V3 or V2
            self.attempts.append(nonce)
            try:
                answer = send(self.session, url, hosts=hosts, timeout=self.timeout,
                              what=action, limit=self.max_answer_bytes, headers=headers)
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
