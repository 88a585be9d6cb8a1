"""Where archives go: the OSS adapter on ``oss2`` of the small object-store interface.

The archiver needs six operations (list a prefix, head, put, get, delete, presign),
so the store is a Protocol of those six (:class:`ObjectStore`, defined without oss2 in
:mod:`.destination` and re-exported here); replacing ``oss2`` by the V2 SDK
(``alibabacloud-oss-v2``) means writing one more class here, nothing else.

``oss2`` does not retry, so :class:`OssStore` does, under the one retry policy
(:mod:`timeshift.retry`): connection errors, 5xx, 429 and 503 (waiting
``x-oss-qos-delay-time`` when OSS says how long, capped like Retry-After), with
jittered exponential backoff and a deadline per operation. Every answer oss2 reads
(listings, heads, gets) goes through the one capped reader: an HTTP adapter hands oss2
a body that counts decoded bytes and fails past ``max_answer_bytes``.

CRC-64 is checked on every PUT and GET: the store compares the data's CRC-64 with the
``x-oss-hash-crc64ecma`` OSS answers; when they differ after a PUT, the object is asked
for again (HEAD) before anything is uploaded twice, since a wrong header in transit and
a damaged object look the same from the PUT alone. The comparison is made here, not by
oss2's ``enable_crc``: oss2 would feed every body through a Python adapter in 8 KB
pieces with a CRC pass in crcmod (~0.4 s of CPU per 160 MB); ``fastcrc`` takes ~15 ms
for the same bytes, and the body goes out in one piece.

Errors from oss2 are translated once, here, into :class:`~timeshift.errors.StoreError`
(code, status, RequestId, key; never a secret).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import oss2
import oss2.exceptions
import requests
from requests.adapters import HTTPAdapter

from ..capped import AnswerTooLarge, CappedBody, UnsupportedEncoding
from ..errors import StoreError, UsageError
from ..openapi.credentials import Credentials
from ..retry import RetryPolicy
from .destination import (
    JSON_TYPE,
    M3U8_TYPE,
    TS_TYPE,
    ObjectInfo,
    ObjectStore,
    crc64,
    https_default,
    oss_credentials,
)

__all__ = ["JSON_TYPE", "M3U8_TYPE", "TS_TYPE", "ObjectInfo", "ObjectStore", "OssStore", "crc64",
           "oss_credentials"]

log = logging.getLogger(__name__)

T = TypeVar("T")

STORE_RETRY = RetryPolicy(retries=6, backoff=0.2, max_backoff=8.0, deadline=600.0)
MAX_ANSWER_BYTES = 64 * 1024 * 1024


def _retryable(exc: oss2.exceptions.OssError, policy: RetryPolicy) -> bool:
    # status -2: RequestError (connection refused/reset, timeout); -3: the body was short.
    return exc.status in (-2, -3) or policy.retry_status(exc.status) or exc.status >= 500


class _CappedRaw:
    """Stands in for urllib3's response under ``requests``: the body as the one capped
    reader decodes it, so whatever oss2 reads (``iter_content``) is counted and capped."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._body = CappedBody(limit, raw.headers.get("Content-Encoding"), "OSS answer")

    def stream(self, amt: int = 1 << 16, decode_content: bool | None = None) -> Iterator[bytes]:
        for chunk in self._raw.stream(amt, decode_content=False):
            out = self._body.decode(chunk)
            if out:
                yield out
        tail = self._body.finish()
        if tail:
            yield tail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _CappedAdapter(HTTPAdapter):
    def __init__(self, limit: int, pool: int = 10) -> None:
        super().__init__(pool_connections=pool, pool_maxsize=pool, max_retries=0)
        self.limit = limit

    def build_response(self, req: Any, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        response.raw = _CappedRaw(response.raw, self.limit)
        return response


def _qos_delay(exc: oss2.exceptions.OssError) -> float | None:
    value = (exc.headers or {}).get("x-oss-qos-delay-time")
    try:
        return int(value) / 1000 if value else None
    except ValueError:
        return None


class OssStore:
    """A bucket on OSS (or the local OSS server), through ``oss2`` with CRC checks on."""

    def __init__(self, endpoint: str, bucket: str, credentials: Credentials | None = None, *,
                 region: str | None = None, signing: str = "v1",
                 retry: RetryPolicy | None = None, connect_timeout: float = 10.0,
                 max_answer_bytes: int = MAX_ANSWER_BYTES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = endpoint = https_default(endpoint)
        self.bucket = bucket
        cred = credentials or oss_credentials()
        auth: Any
        if signing == "v4":
            if not region:
                raise UsageError("V4 signing needs the bucket's region (cn-hangzhou, ...)",
                                 field="region")
            auth = (oss2.StsAuth(cred.access_key_id, cred.access_key_secret, cred.security_token,
                                 auth_version=oss2.AUTH_VERSION_4)
                    if cred.security_token else
                    oss2.AuthV4(cred.access_key_id, cred.access_key_secret))
        elif signing == "v1":
            auth = (oss2.StsAuth(cred.access_key_id, cred.access_key_secret, cred.security_token)
                    if cred.security_token else oss2.Auth(cred.access_key_id, cred.access_key_secret))
        else:
            raise UsageError(f"signing must be v1 or v4, got {signing!r}", field="signing")
        try:
            session = oss2.Session(adapter=_CappedAdapter(max_answer_bytes))
            # enable_crc off: the CRC-64 checks are made in put and get (module docstring).
            self._bucket = oss2.Bucket(auth, endpoint, bucket, enable_crc=False, session=session,
                                       connect_timeout=connect_timeout, region=region)
        except oss2.exceptions.ClientError as exc:
            raise UsageError(f"{bucket!r} is not a valid bucket name ({exc.message or exc})",
                             field="bucket") from None
        self.retry = retry or STORE_RETRY
        self.sleep = sleep
        self.stats: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"OssStore(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    # ---- the six operations

    def list(self, prefix: str) -> dict[str, ObjectInfo]:
        out: dict[str, ObjectInfo] = {}
        token = ""

        def page_of(t: str) -> Callable[[], Any]:
            return lambda: self._bucket.list_objects_v2(prefix=prefix, continuation_token=t,
                                                        max_keys=1000)

        while True:
            page = self._call("list", prefix, page_of(token))
            for obj in page.object_list:
                out[obj.key] = ObjectInfo(obj.key, int(obj.size), obj.etag)
            if not page.is_truncated:
                return out
            token = page.next_continuation_token

    def head(self, key: str) -> ObjectInfo | None:
        try:
            r = self._call("head", key, lambda: self._bucket.head_object(key))
        except StoreError as exc:
            if exc.status == 404:
                return None
            raise
        return ObjectInfo(key, int(r.content_length or 0), r.etag, r.server_crc)

    def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        """Store ``data`` under ``key``, checking OSS's CRC-64 of the object against ours.

        Raises:
            StoreError: OSS refused, or its CRC-64 of the object still differs from the
                data's after the re-checks below (code ``InconsistentError``).
        """
        local = crc64(data)  # ~1.5 ms for a 530 KB segment
        headers = {"Content-Type": content_type}
        for attempt in range(self.retry.retries + 1):
            r = self._call("put", key, lambda: self._bucket.put_object(key, data, headers=headers))
            if r.crc is None or r.crc == local:
                return ObjectInfo(key, len(data), r.etag, local)
            # The CRC OSS answered differs from ours: a damaged header or a damaged object.
            # Ask again (a header can be damaged on the way back too); a matching CRC-64
            # cannot come from a damaged object, so one match settles it.
            for _ in range(3):
                head = self.head(key)
                if head is not None and head.crc64 == local and head.size == len(data):
                    self._count("put.crc_recheck_ok")
                    return head
            self._count("put.crc_mismatch")
            if attempt < self.retry.retries:
                self.sleep(self.retry.delay(attempt))
        raise StoreError("OSS put failed: the stored object's CRC-64 differs from the data's",
                         code="InconsistentError", bucket=self.bucket, key=key)

    def get(self, key: str) -> bytes:
        def read() -> bytes:
            with self._bucket.get_object(key) as r:
                data: bytes = r.read()
                if r.server_crc is not None and r.server_crc != crc64(data):
                    raise StoreError("OSS get failed: the object's CRC-64 differs from the "
                                     "one OSS gives", code="InconsistentError",
                                     request_id=r.request_id or None, bucket=self.bucket,
                                     key=key)
                return data
        return self._call("get", key, read)

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self._bucket.delete_object(key))

    def presign(self, key: str, expires: int = 3600, *, hls: bool = False) -> str:
        """A GET URL valid for ``expires`` seconds. ``hls`` asks OSS to sign the segment
        URIs inside an m3u8 as it serves it (``x-oss-process=hls/sign``), so a private
        archive plays from the one URL."""
        params = {"x-oss-process": "hls/sign"} if hls else None
        url: str = self._bucket.sign_url("GET", key, expires, slash_safe=True, params=params)
        return url

    # ---- retries and error translation

    def _count(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    def _call(self, op: str, key: str, fn: Callable[[], T]) -> T:
        run = self.retry.begin()
        while True:
            try:
                result = fn()
                self._count(op)
                return result
            except oss2.exceptions.InconsistentError as exc:
                # CRC mismatch: never retried blindly here (see put); reported with its code.
                raise self._error(op, key, exc, code="InconsistentError") from exc
            except (AnswerTooLarge, UnsupportedEncoding) as exc:
                raise StoreError(f"OSS {op} failed: {exc}", bucket=self.bucket,
                                 key=key) from None
            except oss2.exceptions.OssError as exc:
                wait = run.next_delay(_qos_delay(exc)) if _retryable(exc, self.retry) else None
                if wait is None:
                    raise self._error(op, key, exc) from exc
                self._count(f"{op}.retry")
                log.debug("%s %s: %s %s, retrying", op, key, exc.status, exc.code)
                self.sleep(wait)

    def _error(self, op: str, key: str, exc: oss2.exceptions.OssError,
               code: str | None = None) -> StoreError:
        status = exc.status if exc.status > 0 else None
        message = (exc.message or "").strip() or type(exc).__name__
        if exc.status == -2:
            message = f"cannot reach {self.endpoint}: {message[:200]}"
        return StoreError(f"OSS {op} failed: {message}", status=status,
                          code=code or exc.code or None, request_id=exc.request_id or None,
                          bucket=self.bucket, key=key)
