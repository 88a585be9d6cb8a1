"""What every part of the local OSS server shares: the protocol's limits and header tables,
the error value, one parsed request, and the small codecs (dates, ETags, query, keys,
Range). Pure."""

from __future__ import annotations

import base64
import email.utils
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from aiohttp import web

MAX_SKEW = 15 * 60  # OSS rejects header-signed requests whose date is further off than this
MAX_PRESIGN_V4 = 7 * 86400  # x-oss-expires may not exceed 7 days
MIN_PART_SIZE = 100 * 1024  # every part but the last must be at least 100 KiB
MAX_PARTS = 10000
MAX_OBJECT_SIZE = 5 * 1024**3
MAX_SIGNED_PLAYLIST = 5 * 1024 * 1024
CHUNK = 256 * 1024
OWNER_ID = "1000000000000000"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Entity headers OSS stores with an object and returns on GET/HEAD.
STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding",
                  "Content-Language", "Expires")
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
UPLOAD_ID_RE = re.compile(r"^[0-9A-F]{32}$")


class Fail(Exception):
    """An OSS error response: status, Code, Message and extra ``<Error>`` children."""

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers: dict[str, str] = {}


def no_bucket(bucket: str) -> Fail:
    return Fail(404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=bucket)


def no_key(key: str) -> Fail:
    return Fail(404, "NoSuchKey", "The specified key does not exist.", Key=key)


def no_upload(upload_id: str) -> Fail:
    return Fail(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be "
                 "invalid, or the upload may have been aborted or completed.", UploadId=upload_id)


@dataclass
class Req:
    """One request, parsed: addressing, query, lower-cased headers."""

    request: web.Request
    request_id: str
    bucket: str | None
    key: str
    params: dict[str, str]
    headers: dict[str, str]

    @property
    def method(self) -> str:
        return self.request.method


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def parse_http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def etag(md5_hex: str) -> str:
    return f'"{md5_hex.upper()}"'


def parse_query(raw: str) -> dict[str, str]:
    # Form decoding ('+' is a space): oss2 sends its params through requests, which encodes
    # a space as '+' and a '+' as %2B, and it signs the decoded values. Blank values are kept
    # (``?uploads``), and a parameter without '=' counts as blank, as both SDKs sign it.
    params: dict[str, str] = {}
    for pair in raw.split("&"):
        if pair:
            k, _, v = pair.partition("=")
            params[unquote_plus(k)] = unquote_plus(v)
    return params


def decode_key(raw: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise Fail(400, "InvalidObjectName", "The object name must be UTF-8.") from None


def validate_key(key: str) -> None:
    raw = key.encode()
    if not key or len(raw) >= 1024:
        raise Fail(400, "InvalidObjectName", "The Length of Object name must be less than 1024.",
                    Key=key[:64])
    if "\x00" in key or key.startswith(("/", "\\")) or ".." in key.replace("\\", "/").split("/"):
        raise Fail(400, "InvalidObjectName", "The specified object is not valid.", Key=key)


def is_ip_or_localhost(host: str) -> bool:
    if host == "localhost" or host.startswith("["):
        return True
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)


def user_meta(headers: Mapping[str, str]) -> dict[str, str]:
    # OSS lower-cases user metadata names.
    return {k: v for k, v in headers.items() if k.startswith("x-oss-meta-")}


def stored_headers(request: web.Request) -> dict[str, str]:
    return {h: request.headers[h] for h in STORED_HEADERS if h in request.headers}


def object_headers(meta: Mapping[str, Any]) -> dict[str, str]:
    """The headers GetObject and HeadObject return for an object."""
    h = {
        "Content-Type": meta.get("content_type") or DEFAULT_CONTENT_TYPE,
        "ETag": etag(meta["etag"]),
        "Last-Modified": http_date(meta["last_modified"]),
        "Accept-Ranges": "bytes",
        "x-oss-object-type": meta.get("type", "Normal"),
        "x-oss-storage-class": "Standard",
        "x-oss-hash-crc64ecma": str(meta["crc64"]),
    }
    if meta.get("type", "Normal") == "Normal":
        h["Content-MD5"] = base64.b64encode(bytes.fromhex(meta["etag"])).decode()
    h.update(meta.get("headers", {}))
    h.update(meta.get("user_meta", {}))
    return h


def parse_range(value: str | None, size: int, standard: bool) -> tuple[int | None, int | None]:
    """``(start, end)`` inclusive, or ``(None, None)`` for the whole object.

    OSS answers an invalid or unsatisfiable range with the whole object (200) unless
    ``x-oss-range-behavior: standard`` asks for 416 / a clipped 206.
    """
    if not value:
        return None, None
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", value.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None, None
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None, None
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size:
        if standard:
            fail = Fail(416, "InvalidRange", "The requested range cannot be satisfied.")
            fail.headers["Content-Range"] = f"bytes */{size}"
            raise fail
        return None, None
    if end >= size:
        if not standard:
            return None, None
        end = size - 1
    return start, end
