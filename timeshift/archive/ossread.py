"""A read-only OSS client on the standard library, for confirming finished archives.

A re-run of a finished job asks the bucket three things (the index, the manifest, one
listing per folder; :mod:`.committed`) and uploads nothing. Through ``oss2`` that costs
more in imports (``oss2`` and ``requests``, ~0.3 s) than in requests, so this client
makes those reads with ``http.client``: OSS signature V1 (with an STS token when there is
one), the same URLs oss2 makes, answers capped by the one capped reader, the object's
CRC-64 checked on GET. It is only ever a shortcut: anything it cannot do (V4 signing, a
proxy, a redirect) or any failure makes the caller go the ordinary way, through
:class:`~timeshift.archive.store.OssStore`, with its retries and error reports. It never
writes.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import hashlib
import hmac
import http.client
import os
import socket
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ..capped import CappedBody
from ..errors import StoreError
from ..openapi.credentials import Credentials
from .destination import ObjectInfo, crc64, https_default

__all__ = ["OssReader", "proxy_configured", "sign_v1"]

MAX_ANSWER_BYTES = 64 * 1024 * 1024
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy")


def proxy_configured(env: Any = None) -> bool:
    """Whether a proxy is set in the environment (requests would use it; this client
    does not, so the caller goes through oss2 instead)."""
    environ = os.environ if env is None else env
    return any(environ.get(v) or environ.get(v.upper()) for v in _PROXY_VARS)


def http_date(now: float | None = None) -> str:
    """An RFC 7231 date, as oss2 sends in ``Date`` (the standard library's, locale-independent;
    ``http.client`` has already imported it)."""
    return email.utils.formatdate(now, usegmt=True)


def sign_v1(secret: str, method: str, resource: str, date: str,
            oss_headers: dict[str, str]) -> str:
    """The V1 signature oss2's ``Auth`` makes for a request without a body: HMAC-SHA1 of
    the verb, empty Content-MD5 and Content-Type, the date, the ``x-oss-`` headers sorted,
    and the canonical resource (``/bucket/key`` plus signed sub-resources)."""
    canon = "".join(f"{k}:{v}\n" for k, v in sorted((k.lower(), v)
                                                    for k, v in oss_headers.items()))
    text = "\n".join([method, "", "", date, canon + resource])
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _is_ip_or_localhost(host: str) -> bool:
    # As oss2 decides between path-style and virtual-hosted URLs (oss2.utils.is_ip_or_localhost).
    if host.startswith("["):
        try:
            socket.inet_pton(socket.AF_INET6, host[1:host.index("]")])
            return True
        except (OSError, ValueError):
            return False
    host = host.split(":")[0]
    if host == "localhost":
        return True
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        return False


class OssReader:
    """GET, HEAD and LIST on one bucket, signed V1, over one kept-alive connection.

    Not thread-safe: one reader per thread. Errors are :class:`StoreError` (an answer
    that is not 2xx, or whose CRC-64 is wrong), the capped reader's (too large, an
    unknown encoding), the transport's (``OSError``, ``http.client.HTTPException``) or
    the XML parser's; the caller takes any of them as "could not confirm".
    """

    def __init__(self, endpoint: str, bucket: str, credentials: Credentials, *,
                 timeout: float = 10.0, page_size: int = 1000,
                 max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        endpoint = https_default(endpoint)  # as OssStore
        parts = urlsplit(endpoint)
        if not parts.hostname:
            raise StoreError("no host in the OSS endpoint", bucket=bucket)
        self.endpoint, self.bucket = endpoint, bucket
        self._https = parts.scheme == "https"
        netloc = parts.netloc
        if _is_ip_or_localhost(netloc):
            self._host, self._prefix = netloc, f"/{bucket}/"  # path-style, as oss2 for IPs
        else:
            self._host, self._prefix = f"{bucket}.{netloc}", "/"
        self._cred = credentials
        self.timeout, self.page_size, self.limit = timeout, page_size, max_answer_bytes
        self._conn: http.client.HTTPConnection | None = None
        self.requests = 0

    def __repr__(self) -> str:
        return f"OssReader(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---- the reads

    def get(self, key: str) -> bytes:
        status, headers, body = self._request("GET", key, {})
        _ok(status, headers, self.bucket, key, "get")
        crc = headers.get("x-oss-hash-crc64ecma")
        if crc is not None:
            if not crc.isdigit() or int(crc) != crc64(body):
                raise StoreError("OSS get: the object's CRC-64 differs from the one OSS gives",
                                 code="InconsistentError", bucket=self.bucket, key=key)
        return body

    def head(self, key: str) -> ObjectInfo | None:
        status, headers, _ = self._request("HEAD", key, {})
        if status == 404:
            return None
        _ok(status, headers, self.bucket, key, "head")
        crc = headers.get("x-oss-hash-crc64ecma", "")
        return ObjectInfo(key, int(headers.get("content-length") or 0), headers.get("etag"),
                          int(crc) if crc.isdigit() else None)

    def list(self, prefix: str) -> dict[str, ObjectInfo]:
        import xml.etree.ElementTree as ET

        out: dict[str, ObjectInfo] = {}
        token = ""
        for _ in range(1_000_000):  # bounded: a listing that never ends is an error below
            params = {"list-type": "2", "prefix": prefix, "max-keys": str(self.page_size),
                      "encoding-type": "url"}
            if token:
                params["continuation-token"] = token
            status, headers, body = self._request("GET", "", params)
            _ok(status, headers, self.bucket, prefix, "list")
            root = ET.fromstring(body)
            encoded = (root.findtext("EncodingType") or "") == "url"
            for c in root.iter("Contents"):
                key = c.findtext("Key") or ""
                key = unquote(key) if encoded else key
                out[key] = ObjectInfo(key, int(c.findtext("Size") or "0"), c.findtext("ETag"))
            if (root.findtext("IsTruncated") or "").lower() != "true":
                return out
            token = root.findtext("NextContinuationToken") or ""
            if not token:
                break
        raise StoreError("OSS list: a truncated listing without a continuation token",
                         bucket=self.bucket, key=prefix)

    # ---- one signed request

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = (http.client.HTTPSConnection(self._host, timeout=self.timeout,
                                                      context=_tls_context())
                          if self._https else
                          http.client.HTTPConnection(self._host, timeout=self.timeout))
        return self._conn

    def _request(self, method: str, key: str,
                 params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        date = http_date()
        oss_headers = ({"x-oss-security-token": self._cred.security_token}
                       if self._cred.security_token else {})
        # The canonical resource: the raw key, and of these parameters only the signed
        # sub-resource (continuation-token), as oss2 signs them.
        sub = f"?continuation-token={params['continuation-token']}" \
            if params.get("continuation-token") else ""
        resource = f"/{self.bucket}/{key}{sub}"
        signature = sign_v1(self._cred.access_key_secret, method, resource, date, oss_headers)
        path = self._prefix + quote(key, safe="")
        if params:
            path += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        headers = {"Date": date, "Authorization": f"OSS {self._cred.access_key_id}:{signature}",
                   "User-Agent": "timeshift-ossread", **oss_headers}
        conn = self._connection()
        try:
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            body = self._read(resp) if method != "HEAD" else b""
            if method == "HEAD":
                resp.read()
        except BaseException:
            self.close()
            raise
        self.requests += 1
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body

    def _read(self, resp: http.client.HTTPResponse) -> bytes:
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            raise StoreError(f"OSS answer over {self.limit} bytes", bucket=self.bucket)
        body = CappedBody(self.limit, resp.getheader("Content-Encoding"), "OSS answer")
        out = []
        while chunk := resp.read(1 << 16):
            out.append(body.decode(chunk))
        out.append(body.finish())
        return b"".join(out)


def _ok(status: int, headers: dict[str, str], bucket: str, key: str, op: str) -> None:
    if not 200 <= status < 300:
        raise StoreError(f"OSS {op}: HTTP {status}", status=status,
                         request_id=headers.get("x-oss-request-id") or None, bucket=bucket,
                         key=key)


@functools.cache
def _tls_context() -> Any:
    """The TLS context requests would use: certifi's CA bundle when it is installed."""
    import ssl

    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())
