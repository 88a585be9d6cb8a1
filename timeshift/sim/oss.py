"""A local OSS-protocol (Alibaba Cloud Object Storage Service) server for tests and demos.

No OSS-protocol server exists in any package registry, so this one speaks enough of the
real protocol that the official ``oss2`` SDK works against it unmodified (and the
``alibabacloud-oss-v2`` SDK for simple puts and gets). Objects live on disk under
``OssConfig.root`` and survive restarts.

Addressing
    Path style (``http://127.0.0.1:PORT/bucket/key``, what both SDKs use for an IP or
    ``localhost`` endpoint) and virtual-host style (``Host: bucket.127.0.0.1:PORT``: any
    Host that is not itself an IP address or ``localhost`` names the bucket in its first
    label).

Operations
    ListBuckets (``GET /``); PutBucket, DeleteBucket (empty buckets only), ListObjects (V1,
    ``marker``) and ListObjectsV2 (``list-type=2``: prefix, delimiter -> CommonPrefixes,
    max-keys, continuation-token, start-after, fetch-owner, ``encoding-type=url``),
    DeleteMultipleObjects (``POST ?delete``, Content-MD5 checked); PutObject (Content-MD5
    checked, ``x-oss-forbid-overwrite``), GetObject (Range -> 206, ``x-oss-range-behavior:
    standard``, If-Match/If-None-Match/If-Modified-Since/If-Unmodified-Since,
    ``response-*`` overrides; ``x-oss-process=hls/sign`` on a V1-presigned m3u8 answers it
    with every relative segment URI presigned, as GetSignedPlaylist does), HeadObject, GetObjectMeta (``?objectMeta``), DeleteObject,
    CopyObject (``x-oss-copy-source``, ``x-oss-metadata-directive``); multipart:
    InitiateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload (also
    ``x-oss-complete-all: yes``), AbortMultipartUpload.

Responses
    OSS-shaped XML, quoted upper-case MD5 ETags (``"<md5 of part md5s>-N"`` for multipart
    objects), ``x-oss-request-id``, ``x-oss-hash-crc64ecma`` (CRC-64/XZ, the whole object's
    CRC, combined from the parts' CRCs for multipart objects), ``x-oss-object-type``,
    stored Content-Type (default ``application/octet-stream``) and the other standard
    entity headers, ``x-oss-meta-*``. Errors are ``<Error><Code/><Message/><RequestId/>
    <HostId/>...</Error>``; a HEAD error has no body but an ``x-oss-err`` header holding the
    base64 of that XML, as OSS does.

Authentication
    Signature V1 (``Authorization: OSS ak:sig`` and presigned ``OSSAccessKeyId/Expires/
    Signature``) and V4 (``OSS4-HMAC-SHA256`` header and presigned ``x-oss-signature-version``
    query). Anonymous requests get AccessDenied; expired presigned URLs get AccessDenied
    "Request has expired."; a bad signature gets SignatureDoesNotMatch with the
    ``<StringToSign>`` the server computed.

Faults (per request, drawn from ``random.Random(seed)``)
    ``fail_rate`` (500 InternalError), ``throttle_rate`` (``throttle_status`` 503
    TotalQpsLimitExceeded or 429, with ``x-oss-qos-delay-time``), ``drop_rate`` (GetObject
    closes the connection halfway through the body), ``corrupt_crc_rate`` (a wrong
    ``x-oss-hash-crc64ecma``). Every fault and every operation is counted in ``counters``;
    ``writes`` lists each stored PutObject, so tests can tell whether anything was uploaded twice.

Not supported: ACLs and policies (every authenticated request with the configured key is
allowed), versioning, STS tokens, signature V2, append/symlink/tagging/select, payload
SHA-256 verification under V4, UploadPartCopy, ListMultipartUploads.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import email.utils
import hashlib
import hmac
import json
import os
import posixpath
import random
import re
import shutil
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, unquote_plus, unquote_to_bytes

import crcmod
from aiohttp import web
from oss2.crc64_combine import mkCombineFun

from ..localserver import BackgroundServer

__all__ = [
    "OssConfig",
    "OssServer",
    "crc64",
    "crc64_combine",
    "make_oss_app",
    "v1_canonical_resource",
    "v1_string_to_sign",
    "v4_canonical_request",
    "v4_signing_key",
    "v4_string_to_sign",
]

MAX_SKEW = 15 * 60  # OSS rejects header-signed requests whose date is further off than this
MAX_PRESIGN_V4 = 7 * 86400  # x-oss-expires may not exceed 7 days
MIN_PART_SIZE = 100 * 1024  # every part but the last must be at least 100 KiB
MAX_PARTS = 10000
MAX_OBJECT_SIZE = 5 * 1024**3
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
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_UPLOAD_ID_RE = re.compile(r"^[0-9A-F]{32}$")
_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

# The query parameters signature V1 signs (oss2.auth.ProviderAuth._subresource_key_set):
# any other parameter is left out of the canonicalized resource.
V1_SUBRESOURCES = frozenset([
    "response-content-type", "response-content-language", "response-cache-control", "logging",
    "response-content-encoding", "acl", "uploadId", "uploads", "partNumber", "group", "link",
    "delete", "website", "location", "objectInfo", "objectMeta", "response-expires",
    "response-content-disposition", "cors", "lifecycle", "restore", "qos", "referer", "stat",
    "bucketInfo", "append", "position", "security-token", "live", "comp", "status", "vod",
    "startTime", "endTime", "x-oss-process", "symlink", "callback", "callback-var", "tagging",
    "encryption", "versions", "versioning", "versionId", "policy", "requestPayment",
    "x-oss-traffic-limit", "qosInfo", "asyncFetch", "x-oss-request-payer", "sequential",
    "inventory", "inventoryId", "continuation-token", "worm", "wormId", "wormExtend",
    "replication", "replicationLocation", "replicationProgress", "transferAcceleration",
    "cname", "metaQuery", "x-oss-ac-source-ip", "x-oss-ac-subnet-mask", "x-oss-ac-vpc-id",
    "x-oss-ac-forward-allow", "resourceGroup", "style", "styleName", "x-oss-async-process",
    "regionList", "x-oss-write-get-object-response", "bucketArchiveDirectRead", "httpsConfig",
    "redundancyTransition", "x-oss-target-redundancy-type", "x-oss-redundancy-transition-taskid",
    "accessPoint", "accessPointPolicy", "publicAccessBlock", "x-oss-access-point-name",
    "requesterQosInfo", "qosRequester", "resourcePoolInfo", "resourcePool",
    "resourcePoolBuckets",
])


@dataclass
class OssConfig:
    """The server's one account, its storage and its faults.

    ``root`` holds the objects (a fresh temporary directory when not given); ``buckets``
    are created at start if missing. ``region`` (when set) is the only region V4
    signatures may be scoped to. The ``*_rate`` fields are probabilities per request and
    may be changed while the server runs. ``clock`` is the server's idea of now (for
    expiry, skew and Last-Modified), so tests can move it.
    """

    access_key_id: str = "testid"
    access_key_secret: str = field(default="testsecret", repr=False)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="timeshift-oss-")))
    buckets: tuple[str, ...] = ()
    region: str | None = None
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_status: int = 503
    drop_rate: float = 0.0
    corrupt_crc_rate: float = 0.0
    seed: int | None = None
    clock: Callable[[], float] = time.time
    counters: dict[str, int] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)  # "bucket/key" of every PutObject stored


# --------------------------------------------------------------------------- CRC-64

_MASK64 = 0xFFFFFFFFFFFFFFFF
_CRC64_POLY = 0x142F0E1EBA9EA3693  # ECMA-182, reflected with all-ones xor-out: CRC-64/XZ
# crcmod (an oss2 dependency, with a C extension) computes it; oss2's own combiner joins
# the CRCs of multipart parts, exactly as the client that verifies them does.
_crc64_fun = crcmod.mkCrcFun(_CRC64_POLY, initCrc=0, rev=True, xorOut=_MASK64)
_crc64_combine_fun = mkCombineFun(_CRC64_POLY, initCrc=0, rev=True, xorOut=_MASK64)


MAX_SIGNED_PLAYLIST = 5 * 1024 * 1024


def crc64(data: bytes, crc: int = 0) -> int:
    """CRC-64/XZ of ``data`` continuing from ``crc`` (a previous result), as OSS reports it.

    ``crc64(b"123456789") == 0x995DC9BBDF1939FA``.
    """
    return int(_crc64_fun(data, crc))


def crc64_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC of ``a + b`` from ``crc64(a)``, ``crc64(b)`` and ``len(b)``."""
    return int(_crc64_combine_fun(crc1, crc2, len2)) if len2 else crc1


# --------------------------------------------------------------------------- signatures

def v1_canonical_resource(bucket: str | None, key: str, params: Mapping[str, str]) -> str:
    """``/bucket/key?sub=res`` with only the V1 sub-resources, sorted, values unencoded."""
    subs = sorted((k, v) for k, v in params.items() if k in V1_SUBRESOURCES)
    query = "&".join(f"{k}={v}" if v else k for k, v in subs)
    base = f"/{bucket}/{key}" if bucket else "/"
    return base + ("?" + query if query else "")


def v1_string_to_sign(method: str, headers: Mapping[str, str], date: str, resource: str) -> str:
    """VERB, Content-MD5, Content-Type, Date, then the ``x-oss-*`` headers and the resource.

    ``headers`` must have lower-case names.
    """
    oss = sorted((k, v) for k, v in headers.items() if k.startswith("x-oss-"))
    canon = "".join(f"{k}:{v}\n" for k, v in oss)
    return "\n".join([method, headers.get("content-md5", ""), headers.get("content-type", ""),
                      date, canon + resource])


def _v4_quote(text: str, keep_slash: bool) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX upper-case.
    return quote(text, safe="/~" if keep_slash else "~")


def v4_canonical_request(method: str, bucket: str | None, key: str, params: Mapping[str, str],
                         headers: Mapping[str, str], additional: Iterable[str],
                         payload_hash: str) -> str:
    """The V4 canonical request: verb, URI, query, headers, additional header names, hash.

    ``headers`` must have lower-case names; signed are ``x-oss-*``, Content-Type,
    Content-MD5 and the ``additional`` ones.
    """
    uri = _v4_quote(f"/{bucket}/{key}" if bucket else "/", keep_slash=True)
    pairs = sorted((_v4_quote(k, False), _v4_quote(v, False)) for k, v in params.items())
    query = "&".join(f"{k}={v}" if v else k for k, v in pairs)
    extra = sorted(set(additional))
    signed = sorted((k, v) for k, v in headers.items()
                    if k.startswith("x-oss-") or k in ("content-type", "content-md5") or k in extra)
    canon_headers = "".join(f"{k}:{v.strip()}\n" for k, v in signed)
    return "\n".join([method, uri, query, canon_headers, ";".join(extra), payload_hash])


def v4_string_to_sign(timestamp: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return f"OSS4-HMAC-SHA256\n{timestamp}\n{scope}\n{digest}"


def v4_signing_key(secret: str, date: str, region: str, product: str = "oss") -> bytes:
    key = hmac.new(("aliyun_v4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, product, "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


# --------------------------------------------------------------------------- helpers

class _Fail(Exception):
    """An OSS error response: status, Code, Message and extra ``<Error>`` children."""

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers: dict[str, str] = {}


def _no_bucket(bucket: str) -> _Fail:
    return _Fail(404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=bucket)


def _no_key(key: str) -> _Fail:
    return _Fail(404, "NoSuchKey", "The specified key does not exist.", Key=key)


def _no_upload(upload_id: str) -> _Fail:
    return _Fail(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be "
                 "invalid, or the upload may have been aborted or completed.", UploadId=upload_id)


def _xml(root: ET.Element) -> bytes:
    return (_XML_DECL + ET.tostring(root, encoding="unicode")).encode()


def _sub(parent: ET.Element, tag: str, text: str | int | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _parse_http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _etag(md5_hex: str) -> str:
    return f'"{md5_hex.upper()}"'


def _parse_query(raw: str) -> dict[str, str]:
    # Form decoding ('+' is a space): oss2 sends its params through requests, which encodes
    # a space as '+' and a '+' as %2B, and it signs the decoded values. Blank values are kept
    # (``?uploads``), and a parameter without '=' counts as blank, as both SDKs sign it.
    params: dict[str, str] = {}
    for pair in raw.split("&"):
        if pair:
            k, _, v = pair.partition("=")
            params[unquote_plus(k)] = unquote_plus(v)
    return params


def _decode_key(raw: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _Fail(400, "InvalidObjectName", "The object name must be UTF-8.") from None


def _validate_key(key: str) -> None:
    raw = key.encode()
    if not key or len(raw) >= 1024:
        raise _Fail(400, "InvalidObjectName", "The Length of Object name must be less than 1024.",
                    Key=key[:64])
    if "\x00" in key or key.startswith(("/", "\\")) or ".." in key.replace("\\", "/").split("/"):
        raise _Fail(400, "InvalidObjectName", "The specified object is not valid.", Key=key)


def _is_ip_or_localhost(host: str) -> bool:
    if host == "localhost" or host.startswith("["):
        return True
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)


class _Store:
    """Objects on disk: ``root/<bucket>/objects/<sha256(key)>.json`` names its data file.

    Keys are hashed for file names (any key is safe and fits a file name); the sidecar JSON
    holds the original key and the metadata. Each write lands in ``tmp/``, is moved into
    place with a fresh data name, and is committed by replacing the JSON, so a reader never
    sees new data with old metadata and a crash leaves at most an orphan data file (swept
    at the next start). An in-memory index (loaded from the JSONs) answers listings.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index: dict[str, dict[str, dict[str, Any]]] = {}

    def has_bucket(self, bucket: str) -> bool:
        return bool(_BUCKET_RE.match(bucket)) and (self.root / bucket / "objects").is_dir()

    def create_bucket(self, bucket: str) -> None:
        for sub in ("objects", "uploads", "tmp"):
            (self.root / bucket / sub).mkdir(parents=True, exist_ok=True)
        _write_json(self.root / bucket / "bucket.json", {"created": time.time()})

    def bucket_created(self, bucket: str) -> float:
        try:
            return float(json.loads((self.root / bucket / "bucket.json").read_text())["created"])
        except (OSError, ValueError, KeyError):
            return 0.0

    def drop_bucket(self, bucket: str) -> None:
        shutil.rmtree(self.root / bucket)
        self._index.pop(bucket, None)

    def buckets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if self.has_bucket(p.name))

    def index(self, bucket: str) -> dict[str, dict[str, Any]]:
        idx = self._index.get(bucket)
        if idx is None:
            idx = self._index[bucket] = {}
            for meta_path in (self.root / bucket / "objects").glob("*.json"):
                meta = json.loads(meta_path.read_text())
                idx[meta["key"]] = meta
        return idx

    def recover(self) -> None:
        """At start (nothing in flight): drop temp files and data no metadata names."""
        for bucket in self.buckets():
            for p in (self.root / bucket / "tmp").glob("*"):
                p.unlink(missing_ok=True)
            referenced = {m["data"] for m in self.index(bucket).values()}
            for p in (self.root / bucket / "objects").glob("*.data"):
                if p.name not in referenced:
                    p.unlink(missing_ok=True)

    def temp(self, bucket: str) -> Path:
        return self.root / bucket / "tmp" / uuid.uuid4().hex

    def data_path(self, bucket: str, meta: Mapping[str, Any]) -> Path:
        return self.root / bucket / "objects" / str(meta["data"])

    def commit(self, bucket: str, key: str, tmp: Path, meta: dict[str, Any]) -> None:
        stem = hashlib.sha256(key.encode()).hexdigest()
        objects = self.root / bucket / "objects"
        idx = self.index(bucket)  # loaded before the write, so `old` is the previous version
        old = idx.get(key)
        meta = dict(meta, key=key, data=f"{stem}.{uuid.uuid4().hex[:12]}.data")
        os.replace(tmp, objects / meta["data"])
        _write_json(objects / f"{stem}.json", meta)
        idx[key] = meta
        if old is not None:
            (objects / old["data"]).unlink(missing_ok=True)

    def delete(self, bucket: str, key: str) -> bool:
        old = self.index(bucket).pop(key, None)
        if old is None:
            return False
        stem = hashlib.sha256(key.encode()).hexdigest()
        (self.root / bucket / "objects" / f"{stem}.json").unlink(missing_ok=True)
        (self.root / bucket / "objects" / old["data"]).unlink(missing_ok=True)
        return True

    def upload_dir(self, bucket: str, upload_id: str) -> Path:
        return self.root / bucket / "uploads" / upload_id

    def upload(self, bucket: str, key: str, upload_id: str) -> dict[str, Any]:
        """The upload's record, or NoSuchUpload (also for a well-formed id of another key)."""
        if not _UPLOAD_ID_RE.match(upload_id):
            raise _no_upload(upload_id)
        try:
            record: dict[str, Any] = json.loads(
                (self.upload_dir(bucket, upload_id) / "upload.json").read_text())
        except (OSError, ValueError):
            raise _no_upload(upload_id) from None
        if record.get("key") != key:
            raise _no_upload(upload_id)
        return record

    def parts(self, bucket: str, upload_id: str) -> dict[int, dict[str, Any]]:
        out = {}
        for p in self.upload_dir(bucket, upload_id).glob("part-*.json"):
            meta = json.loads(p.read_text())
            out[int(meta["number"])] = meta
        return out

    def commit_part(self, bucket: str, upload_id: str, number: int, tmp: Path,
                    meta: dict[str, Any]) -> None:
        d = self.upload_dir(bucket, upload_id)
        meta = dict(meta, number=number, data=f"part-{number:05d}.{uuid.uuid4().hex[:12]}.data")
        old_path = d / f"part-{number:05d}.json"
        old = json.loads(old_path.read_text()) if old_path.exists() else None
        os.replace(tmp, d / meta["data"])
        _write_json(old_path, meta)
        if old is not None:
            (d / old["data"]).unlink(missing_ok=True)


@dataclass
class _Req:
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


def _user_meta(headers: Mapping[str, str]) -> dict[str, str]:
    # OSS lower-cases user metadata names.
    return {k: v for k, v in headers.items() if k.startswith("x-oss-meta-")}


def _stored_headers(request: web.Request) -> dict[str, str]:
    return {h: request.headers[h] for h in STORED_HEADERS if h in request.headers}


def _object_headers(meta: Mapping[str, Any]) -> dict[str, str]:
    """The headers GetObject and HeadObject return for an object."""
    h = {
        "Content-Type": meta.get("content_type") or DEFAULT_CONTENT_TYPE,
        "ETag": _etag(meta["etag"]),
        "Last-Modified": _http_date(meta["last_modified"]),
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


# --------------------------------------------------------------------------- the service

class _Oss:
    """Request handling; one per application, sharing the config object with the server."""

    def __init__(self, cfg: OssConfig) -> None:
        self.cfg = cfg
        self.store = _Store(cfg.root)
        self.rng = random.Random(cfg.seed)
        cfg.root.mkdir(parents=True, exist_ok=True)
        for b in cfg.buckets:
            if not _BUCKET_RE.match(b):
                raise ValueError(f"invalid bucket name {b!r}")
            if not self.store.has_bucket(b):
                self.store.create_bucket(b)
        self.store.recover()

    def _count(self, name: str) -> None:
        self.cfg.counters[name] = self.cfg.counters.get(name, 0) + 1

    # ---- entry point

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = uuid.uuid4().hex[:24].upper()
        host = request.headers.get("Host", "")
        try:
            req = self._parse(request, request_id, host)
            self._authenticate(req)
            self._faults(req)
            resp = await self._route(req)
        except _Fail as fail:
            resp = self._error(request, request_id, host, fail)
        except (OSError, ValueError) as exc:  # storage trouble: report it as OSS would
            resp = self._error(request, request_id, host,
                               _Fail(500, "InternalError", f"We encountered an internal error. "
                                     f"Please try again. ({type(exc).__name__})"))
        if not resp.prepared:
            resp.headers["x-oss-request-id"] = request_id
            resp.headers.setdefault("Server", "AliyunOSS")
        return resp

    def _error(self, request: web.Request, request_id: str, host: str,
               fail: _Fail) -> web.Response:
        self._count(f"error.{fail.code}")
        root = ET.Element("Error")
        _sub(root, "Code", fail.code)
        _sub(root, "Message", fail.message)
        _sub(root, "RequestId", request_id)
        _sub(root, "HostId", host.rsplit(":", 1)[0] if host else "127.0.0.1")
        for k, v in fail.extra.items():
            _sub(root, k, v)
        body = _xml(root)
        headers = {"x-oss-request-id": request_id, "Server": "AliyunOSS", **fail.headers}
        if fail.status == 304:  # Not Modified carries no body at all
            return web.Response(status=304, headers=headers)
        if request.method == "HEAD":
            # A HEAD answer cannot carry a body, so OSS puts the error XML in a header.
            headers["x-oss-err"] = base64.b64encode(body).decode()
            return web.Response(status=fail.status, headers=headers)
        return web.Response(status=fail.status, body=body, content_type="application/xml",
                            headers=headers)

    def _parse(self, request: web.Request, request_id: str, host: str) -> _Req:
        raw_path, _, raw_query = request.raw_path.partition("?")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        bucket: str | None
        label, _, rest = hostname.partition(".")
        if rest and not _is_ip_or_localhost(hostname) and (
                _is_ip_or_localhost(rest) or self.store.has_bucket(label)):
            # Virtual-host style: the first label of the Host is the bucket. Any other named
            # host (e.g. a path-style client given a DNS name) keeps the bucket in the path.
            bucket = label
            key = _decode_key(raw_path[1:])
        else:
            path = raw_path[1:]
            name, _, rest = path.partition("/")
            bucket = unquote(name) or None
            key = _decode_key(rest)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if key:
            _validate_key(key)
        return _Req(request, request_id, bucket, key, _parse_query(raw_query), headers)

    # ---- authentication

    def _authenticate(self, req: _Req) -> None:
        auth = req.headers.get("authorization", "")
        p = req.params
        if auth.startswith("OSS "):
            self._auth_v1(req, auth[4:], presigned=False)
        elif auth.startswith("OSS4-HMAC-SHA256 "):
            self._auth_v4(req, auth[len("OSS4-HMAC-SHA256 "):])
        elif "OSSAccessKeyId" in p and "Signature" in p:
            self._auth_v1(req, f"{p['OSSAccessKeyId']}:{p['Signature']}", presigned=True)
        elif p.get("x-oss-signature-version") == "OSS4-HMAC-SHA256":
            self._auth_v4(req, None)
        elif auth:
            raise _Fail(400, "InvalidArgument", "Authorization header is invalid or unsupported.",
                        ArgumentName="Authorization", ArgumentValue=auth.split(" ", 1)[0])
        else:
            raise _Fail(403, "AccessDenied",
                        "You have no right to access this object because of bucket acl.")

    def _check_key_id(self, access_key_id: str) -> None:
        if access_key_id != self.cfg.access_key_id:
            raise _Fail(403, "InvalidAccessKeyId",
                        "The OSS Access Key Id you provided does not exist in our records.",
                        OSSAccessKeyId=access_key_id)

    def _expired(self, expires: float) -> _Fail:
        now = self.cfg.clock()
        return _Fail(403, "AccessDenied", "Request has expired.",
                     Expires=_iso(expires).replace(".000", ""), ServerTime=_iso(now).replace(".000", ""))

    def _check_skew(self, ts: float | None) -> None:
        now = self.cfg.clock()
        if ts is None:
            raise _Fail(403, "AccessDenied", "The request date is missing or invalid.")
        if abs(now - ts) > MAX_SKEW:
            raise _Fail(403, "RequestTimeTooSkewed", "The difference between the request time "
                        "and the current time is too large.", RequestTime=_iso(ts),
                        ServerTime=_iso(now), MaxAllowedSkewMilliseconds=str(MAX_SKEW * 1000))

    def _auth_v1(self, req: _Req, credential: str, presigned: bool) -> None:
        access_key_id, _, signature = credential.rpartition(":")
        self._check_key_id(access_key_id)
        if presigned:
            try:
                expires = int(req.params["Expires"])
            except ValueError:
                raise _Fail(403, "AccessDenied", "Invalid Expires.") from None
            if expires < self.cfg.clock():
                raise self._expired(expires)
            date = req.params["Expires"]
        else:
            date = req.headers.get("x-oss-date") or req.headers.get("date", "")
            self._check_skew(_parse_http_date(date))
        resource = v1_canonical_resource(req.bucket, req.key, req.params)
        to_sign = v1_string_to_sign(req.method, req.headers, date, resource)
        expected = base64.b64encode(hmac.new(self.cfg.access_key_secret.encode(),
                                             to_sign.encode(),
                                             hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            raise _Fail(403, "SignatureDoesNotMatch", "The request signature we calculated does "
                        "not match the signature you provided. Check your key and signing "
                        "method.", StringToSign=to_sign, SignatureProvided=signature,
                        OSSAccessKeyId=access_key_id)

    def _auth_v4(self, req: _Req, header: str | None) -> None:
        params = dict(req.params)
        if header is None:  # presigned: everything is in the query
            fields = {
                "Credential": params.get("x-oss-credential", ""),
                "Signature": params.pop("x-oss-signature", ""),
                "AdditionalHeaders": params.get("x-oss-additional-headers", ""),
            }
            timestamp = params.get("x-oss-date", "")
        else:
            fields = {}
            for item in header.split(","):
                name, _, value = item.strip().partition("=")
                fields[name] = value
            timestamp = req.headers.get("x-oss-date", "")
        scope_parts = fields.get("Credential", "").split("/")
        if len(scope_parts) != 5 or scope_parts[4] != "aliyun_v4_request":
            raise _Fail(400, "InvalidArgument", "Invalid credential in Authorization.",
                        ArgumentName="Credential", ArgumentValue=fields.get("Credential", ""))
        access_key_id, date, region, product, _ = scope_parts
        self._check_key_id(access_key_id)
        if product != "oss" or (self.cfg.region is not None and region != self.cfg.region):
            raise _Fail(400, "InvalidArgument", "Invalid signing region or product in "
                        "Authorization.", ArgumentName="Credential",
                        ArgumentValue=fields["Credential"])
        try:
            ts = datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise _Fail(403, "AccessDenied", "x-oss-date is missing or invalid.") from None
        if timestamp[:8] != date:
            raise _Fail(400, "InvalidArgument", "The date in the credential scope does not "
                        "match x-oss-date.", ArgumentName="Credential", ArgumentValue=date)
        if header is None:
            try:
                lifetime = int(params.get("x-oss-expires", ""))
            except ValueError:
                raise _Fail(400, "InvalidArgument", "x-oss-expires is invalid.",
                            ArgumentName="x-oss-expires") from None
            if lifetime > MAX_PRESIGN_V4:
                raise _Fail(400, "InvalidArgument", "x-oss-expires must be at most 7 days.",
                            ArgumentName="x-oss-expires", ArgumentValue=str(lifetime))
            if ts + lifetime < self.cfg.clock():
                raise self._expired(ts + lifetime)
        else:
            self._check_skew(ts)
        additional = [h for h in fields.get("AdditionalHeaders", "").split(";") if h]
        canonical = v4_canonical_request(
            req.method, req.bucket, req.key, params, req.headers, additional,
            req.headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD"))
        scope = "/".join(scope_parts[1:])
        to_sign = v4_string_to_sign(timestamp, scope, canonical)
        key = v4_signing_key(self.cfg.access_key_secret, date, region, product)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            raise _Fail(403, "SignatureDoesNotMatch", "The request signature we calculated does "
                        "not match the signature you provided. Check your key and signing "
                        "method.", StringToSign=to_sign, CanonicalRequest=canonical,
                        SignatureProvided=fields.get("Signature", ""),
                        OSSAccessKeyId=access_key_id)

    # ---- faults

    def _faults(self, req: _Req) -> None:
        cfg = self.cfg
        if cfg.fail_rate and self.rng.random() < cfg.fail_rate:
            self._count("fault.fail")
            raise _Fail(500, "InternalError", "We encountered an internal error. Please try again.")
        if cfg.throttle_rate and self.rng.random() < cfg.throttle_rate:
            self._count("fault.throttle")
            if cfg.throttle_status == 429:
                fail = _Fail(429, "TooManyRequests", "Please reduce your request rate.")
            else:
                fail = _Fail(cfg.throttle_status, "TotalQpsLimitExceeded",
                             "Max total qps limit is exceeded.")
            fail.headers["x-oss-qos-delay-time"] = "100"  # milliseconds to back off
            raise fail

    def _crc_header(self, crc: int) -> str:
        if self.cfg.corrupt_crc_rate and self.rng.random() < self.cfg.corrupt_crc_rate:
            self._count("fault.corrupt_crc")
            return str(crc ^ 0x1)
        return str(crc)

    # ---- routing

    async def _route(self, req: _Req) -> web.StreamResponse:
        m, p = req.method, req.params
        if req.bucket is None:
            if m == "GET":
                return self._op("ListBuckets", self.list_buckets(req))
            raise _Fail(405, "MethodNotAllowed", "The specified method is not allowed.")
        if not req.key:
            if m == "PUT" and not p:
                return self._op("PutBucket", self.put_bucket(req))
            self._require_bucket(req.bucket)
            if m == "GET" and p.get("list-type") == "2":
                return self._op("ListObjectsV2", self.list_objects(req, v2=True))
            if m == "GET" and not (set(p) & V1_SUBRESOURCES):
                return self._op("ListObjects", self.list_objects(req, v2=False))
            if m == "POST" and "delete" in p:
                return self._op("DeleteMultipleObjects", await self.delete_multiple(req))
            if m == "DELETE" and not p:
                return self._op("DeleteBucket", self.delete_bucket(req))
            raise _Fail(501, "NotImplemented", "This bucket operation is not supported here.")
        self._require_bucket(req.bucket)
        if m == "PUT" and "uploadId" in p and "partNumber" in p:
            return self._op("UploadPart", await self.upload_part(req))
        if m == "PUT" and not (set(p) & V1_SUBRESOURCES):
            if "x-oss-copy-source" in req.headers:
                return self._op("CopyObject", await self.copy_object(req))
            return self._op("PutObject", await self.put_object(req))
        if m == "GET" and "uploadId" in p:
            return self._op("ListParts", self.list_parts(req))
        if m in ("GET", "HEAD") and not (set(p) & (V1_SUBRESOURCES - set(RESPONSE_OVERRIDES))):
            name = "GetObject" if m == "GET" else "HeadObject"
            self._count(name)
            return await self.get_object(req)
        if m == "HEAD" and "objectMeta" in p:
            return self._op("GetObjectMeta", self.get_object_meta(req))
        if m == "GET" and p.get("x-oss-process", "").startswith("hls/sign"):
            return self._op("GetSignedPlaylist", await self.get_object(req))
        if m == "DELETE" and "uploadId" in p:
            return self._op("AbortMultipartUpload", self.abort_upload(req))
        if m == "DELETE" and not p:
            return self._op("DeleteObject", self.delete_object(req))
        if m == "POST" and "uploads" in p:
            return self._op("InitiateMultipartUpload", self.init_upload(req))
        if m == "POST" and "uploadId" in p:
            return self._op("CompleteMultipartUpload", await self.complete_upload(req))
        raise _Fail(501, "NotImplemented", "This object operation is not supported here.")

    def _op(self, name: str, resp: web.StreamResponse) -> web.StreamResponse:
        self._count(name)
        return resp

    def _require_bucket(self, bucket: str) -> None:
        if not self.store.has_bucket(bucket):
            raise _no_bucket(bucket)

    def _forbid_overwrite(self, req: _Req) -> None:
        if (req.headers.get("x-oss-forbid-overwrite", "").lower() == "true"
                and req.bucket is not None and req.key in self.store.index(req.bucket)):
            raise _Fail(409, "FileAlreadyExists", "The object you specified already exists and "
                        "can not be overwritten.", Key=req.key)

    # ---- service and bucket operations

    def list_buckets(self, req: _Req) -> web.Response:
        root = ET.Element("ListAllMyBucketsResult")
        owner = _sub(root, "Owner")
        _sub(owner, "ID", OWNER_ID)
        _sub(owner, "DisplayName", OWNER_ID)
        buckets = _sub(root, "Buckets")
        region = self.cfg.region or "cn-hangzhou"
        for name in self.store.buckets():
            b = _sub(buckets, "Bucket")
            _sub(b, "CreationDate", _iso(self.store.bucket_created(name)))
            _sub(b, "ExtranetEndpoint", req.request.host)
            _sub(b, "IntranetEndpoint", req.request.host)
            _sub(b, "Location", f"oss-{region}")
            _sub(b, "Name", name)
            _sub(b, "Region", region)
            _sub(b, "StorageClass", "Standard")
        return web.Response(body=_xml(root), content_type="application/xml")

    def put_bucket(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        if not _BUCKET_RE.match(req.bucket):
            raise _Fail(400, "InvalidBucketName", "The specified bucket is not valid.",
                        BucketName=req.bucket)
        if self.store.has_bucket(req.bucket):
            raise _Fail(409, "BucketAlreadyExists", "The requested bucket name is not available. "
                        "The bucket namespace is shared by all users of the system. Please select "
                        "a different name and try again.", BucketName=req.bucket)
        self.store.create_bucket(req.bucket)
        return web.Response(headers={"Location": f"/{req.bucket}"})

    def delete_bucket(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        if self.store.index(req.bucket) or any((self.store.root / req.bucket / "uploads").iterdir()):
            raise _Fail(409, "BucketNotEmpty", "The bucket has objects. Please delete them first.",
                        BucketName=req.bucket)
        self.store.drop_bucket(req.bucket)
        return web.Response(status=204)

    def list_objects(self, req: _Req, v2: bool) -> web.Response:
        assert req.bucket is not None
        p = req.params
        prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
        try:
            max_keys = int(p.get("max-keys", "100"))
        except ValueError:
            max_keys = -1
        if not 0 <= max_keys <= 1000:
            raise _Fail(400, "InvalidArgument", "max-keys must be between 0 and 1000.",
                        ArgumentName="max-keys", ArgumentValue=p.get("max-keys", ""))
        encode = p.get("encoding-type") == "url"
        if "encoding-type" in p and not encode:
            raise _Fail(400, "InvalidArgument", "Invalid Encoding Method specified in Request",
                        ArgumentName="encoding-type", ArgumentValue=p["encoding-type"])
        if v2:
            token = p.get("continuation-token")
            if token:  # oss2 always sends the parameter, blank on the first page
                try:
                    marker = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
                except ValueError:
                    raise _Fail(400, "InvalidArgument", "The continuation token provided is "
                                "incorrect.", ArgumentName="continuation-token",
                                ArgumentValue=token) from None
            else:
                marker = p.get("start-after", "")
        else:
            marker = p.get("marker", "")
        index = self.store.index(req.bucket)
        contents, prefixes, truncated, last = _list_keys(sorted(index), prefix, delimiter,
                                                         marker, max_keys)

        def enc(text: str) -> str:
            return quote(text, safe="") if encode else text

        root = ET.Element("ListBucketResult")
        _sub(root, "Name", req.bucket)
        _sub(root, "Prefix", enc(prefix))
        if v2:
            if p.get("start-after"):
                _sub(root, "StartAfter", enc(p["start-after"]))
            if p.get("continuation-token"):
                _sub(root, "ContinuationToken", p["continuation-token"])
        else:
            _sub(root, "Marker", enc(marker))
        _sub(root, "MaxKeys", max_keys)
        _sub(root, "Delimiter", enc(delimiter))
        if encode:
            _sub(root, "EncodingType", "url")
        _sub(root, "IsTruncated", "true" if truncated else "false")
        if truncated and last is not None:
            if v2:
                _sub(root, "NextContinuationToken",
                     base64.urlsafe_b64encode(last.encode()).decode().rstrip("="))
            else:
                _sub(root, "NextMarker", enc(last))
        fetch_owner = not v2 or p.get("fetch-owner") == "true"
        for k in contents:
            meta = index[k]
            c = _sub(root, "Contents")
            _sub(c, "Key", enc(k))
            _sub(c, "LastModified", _iso(meta["last_modified"]))
            _sub(c, "ETag", _etag(meta["etag"]))
            _sub(c, "Type", meta.get("type", "Normal"))
            _sub(c, "Size", meta["size"])
            _sub(c, "StorageClass", "Standard")
            if fetch_owner:
                owner = _sub(c, "Owner")
                _sub(owner, "ID", OWNER_ID)
                _sub(owner, "DisplayName", OWNER_ID)
        for cp in prefixes:
            _sub(_sub(root, "CommonPrefixes"), "Prefix", enc(cp))
        if v2:
            _sub(root, "KeyCount", len(contents) + len(prefixes))
        return web.Response(body=_xml(root), content_type="application/xml")

    async def delete_multiple(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        body = await req.request.read()
        md5 = req.headers.get("content-md5")
        if md5 is None:
            raise _Fail(400, "MissingArgument", "Missing Some Required Arguments.",
                        ArgumentName="Content-MD5")
        if md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            raise _Fail(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            root = ET.Element("Invalid")
        keys = [o.findtext("Key") or "" for o in root.findall("Object")]
        if root.tag != "Delete" or not keys or len(keys) > 1000:
            raise _Fail(400, "MalformedXML", "The XML you provided was not well-formed or did "
                        "not validate against our published schema.")
        quiet = (root.findtext("Quiet") or "false").lower() == "true"
        encode = req.params.get("encoding-type") == "url"
        out = ET.Element("DeleteResult")
        if encode:
            _sub(out, "EncodingType", "url")
        for key in keys:
            _validate_key(key)
            self.store.delete(req.bucket, key)  # deleting a missing key counts as deleted
            if not quiet:
                _sub(_sub(out, "Deleted"), "Key", quote(key, safe="") if encode else key)
        return web.Response(body=_xml(out), content_type="application/xml")

    # ---- object operations

    async def _receive(self, req: _Req) -> tuple[Path, int, str, int]:
        """Stream the body into a temp file: (path, size, md5 hex, crc64)."""
        assert req.bucket is not None
        length = req.request.content_length
        if length is not None and length > MAX_OBJECT_SIZE:
            raise _Fail(400, "EntityTooLarge", "Your proposed upload exceeds the maximum "
                        "allowed size.")
        tmp = self.store.temp(req.bucket)
        md5, crc, size = hashlib.md5(), 0, 0
        try:
            with open(tmp, "wb") as f:
                async for chunk in req.request.content.iter_chunked(CHUNK):
                    f.write(chunk)
                    md5.update(chunk)
                    crc = crc64(chunk, crc)
                    size += len(chunk)
            want = req.headers.get("content-md5")
            if want is not None and want != base64.b64encode(md5.digest()).decode():
                raise _Fail(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, size, md5.hexdigest(), crc

    def _write_headers(self, meta: Mapping[str, Any]) -> dict[str, str]:
        return {"ETag": _etag(meta["etag"]), "x-oss-hash-crc64ecma": self._crc_header(meta["crc64"])}

    async def put_object(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        self._forbid_overwrite(req)
        tmp, size, md5_hex, crc = await self._receive(req)
        try:
            self._forbid_overwrite(req)  # another writer may have won while we received
        except _Fail:
            tmp.unlink(missing_ok=True)
            raise
        meta = {
            "size": size, "etag": md5_hex.upper(), "crc64": crc, "type": "Normal",
            "content_type": req.headers.get("content-type") or DEFAULT_CONTENT_TYPE,
            "last_modified": self.cfg.clock(), "user_meta": _user_meta(req.headers),
            "headers": _stored_headers(req.request),
        }
        self.store.commit(req.bucket, req.key, tmp, meta)
        self.cfg.writes.append(f"{req.bucket}/{req.key}")
        headers = self._write_headers(meta)
        headers["Content-MD5"] = base64.b64encode(bytes.fromhex(md5_hex)).decode()
        return web.Response(headers=headers)

    def _meta(self, req: _Req) -> dict[str, Any]:
        assert req.bucket is not None
        meta = self.store.index(req.bucket).get(req.key)
        if meta is None:
            raise _no_key(req.key)
        return meta

    def _preconditions(self, req: _Req, meta: Mapping[str, Any]) -> None:
        h, etag, mtime = req.headers, _etag(meta["etag"]), int(meta["last_modified"])
        if "if-match" in h and h["if-match"] not in (etag, "*"):
            raise _Fail(412, "PreconditionFailed", "At least one of the pre-conditions you "
                        "specified did not hold.", Condition="If-Match")
        since = _parse_http_date(h.get("if-unmodified-since", ""))
        if since is not None and mtime > since:
            raise _Fail(412, "PreconditionFailed", "At least one of the pre-conditions you "
                        "specified did not hold.", Condition="If-Unmodified-Since")
        if "if-none-match" in h and h["if-none-match"] in (etag, "*"):
            raise _Fail(304, "NotModified", "Not Modified")
        since = _parse_http_date(h.get("if-modified-since", ""))
        if since is not None and mtime <= since:
            raise _Fail(304, "NotModified", "Not Modified")

    async def get_object(self, req: _Req) -> web.StreamResponse:
        meta = self._meta(req)
        self._preconditions(req, meta)
        if req.params.get("x-oss-process", "").startswith("hls/sign") and req.method == "GET":
            return self._signed_playlist(req, meta)
        size = int(meta["size"])
        headers = _object_headers(meta)
        headers["x-oss-hash-crc64ecma"] = self._crc_header(meta["crc64"])
        for param, header in RESPONSE_OVERRIDES.items():
            if param in req.params:
                headers[header] = req.params[param]
        start, end = _parse_range(req.headers.get("range"), size,
                                  req.headers.get("x-oss-range-behavior", "") == "standard")
        status = 200
        if start is not None and end is not None:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        else:
            start, end = 0, size - 1
        length = end - start + 1 if size else 0
        headers["Content-Length"] = str(length)
        headers["x-oss-request-id"] = req.request_id
        headers["Server"] = "AliyunOSS"
        if req.method == "HEAD":
            if status == 206:
                headers["Content-Length"] = str(size)
                del headers["Content-Range"]
            return web.Response(status=200, headers=headers)
        assert req.bucket is not None
        # Open before the first await: a concurrent overwrite then cannot change what we send.
        f: BinaryIO = open(self.store.data_path(req.bucket, meta), "rb")
        drop = bool(self.cfg.drop_rate) and self.rng.random() < self.cfg.drop_rate
        try:
            resp = web.StreamResponse(status=status, headers=headers)
            await resp.prepare(req.request)
            f.seek(start)
            remaining = length
            limit = length // 2 if drop else length
            sent = 0
            while remaining > 0 and sent < limit:
                chunk = f.read(min(CHUNK, remaining, limit - sent))
                if not chunk:
                    break
                try:
                    await resp.write(chunk)
                except ConnectionError:  # the client went away (e.g. ffmpeg seeking)
                    return resp
                remaining -= len(chunk)
                sent += len(chunk)
            if drop:
                self._count("fault.drop")
                transport = req.request.transport
                if transport is not None:
                    transport.abort()  # the client sees a short body on a closed connection
                return resp
            await resp.write_eof()
            return resp
        finally:
            f.close()

    def _signed_playlist(self, req: _Req, meta: Mapping[str, Any]) -> web.Response:
        """GetSignedPlaylist: the m3u8 with each relative segment URI presigned (V1) with
        the request's own expiry, so a private recording plays from one presigned URL."""
        p = req.params
        if "Signature" not in p or "Expires" not in p:
            raise _Fail(403, "AccessDenied", "The request is not authenticated by using a "
                        "signed URL.", EC="0044-00000410")
        if int(meta["size"]) > MAX_SIGNED_PLAYLIST:
            raise _Fail(400, "InvalidArgument", "The m3u8 file is too large to sign.",
                        EC="0044-00000404")
        assert req.bucket is not None
        text = self.store.data_path(req.bucket, meta).read_text(encoding="utf-8", errors="replace")
        folder = posixpath.dirname(req.key)
        out = []
        for line in text.splitlines():
            uri = line.strip()
            key = posixpath.normpath(posixpath.join(folder, unquote(uri.split("?", 1)[0])))
            # Only segments under the playlist's own folder get signed: an m3u8 must not be a
            # way to obtain signatures for the rest of the bucket.
            inside = not key.startswith("../") and key != ".." and (
                not folder or key.startswith(folder + "/"))
            if (uri and not uri.startswith("#") and "://" not in uri and not uri.startswith("/")
                    and inside):
                resource = v1_canonical_resource(req.bucket, key, {})
                to_sign = v1_string_to_sign("GET", {}, p["Expires"], resource)
                sig = base64.b64encode(hmac.new(self.cfg.access_key_secret.encode(),
                                                to_sign.encode(), hashlib.sha1).digest()).decode()
                line = (f"{uri.split('?', 1)[0]}?OSSAccessKeyId={quote(p['OSSAccessKeyId'], safe='')}"
                        f"&Expires={p['Expires']}&Signature={quote(sig, safe='')}")
            out.append(line)
        body = ("\n".join(out) + "\n").encode()
        self._count("hls_sign")
        return web.Response(status=200, body=body, headers={
            "Content-Type": "application/vnd.apple.mpegurl", "x-oss-request-id": req.request_id,
            "Server": "AliyunOSS"})

    def get_object_meta(self, req: _Req) -> web.Response:
        meta = self._meta(req)
        return web.Response(headers={
            "ETag": _etag(meta["etag"]), "Content-Length": str(meta["size"]),
            "Last-Modified": _http_date(meta["last_modified"]),
            "x-oss-last-access-time": _http_date(meta["last_modified"]),
            "x-oss-request-id": req.request_id,
        })

    def delete_object(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        self.store.delete(req.bucket, req.key)  # OSS answers 204 for a missing key too
        return web.Response(status=204)

    async def copy_object(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        source = req.headers["x-oss-copy-source"].split("?", 1)[0]
        src_bucket, _, src_key = unquote(source.lstrip("/")).partition("/")
        if not src_key:
            raise _Fail(400, "InvalidArgument", "Copy Source must mention the source bucket "
                        "and key: /sourcebucket/sourcekey.", ArgumentName="x-oss-copy-source",
                        ArgumentValue=source)
        _validate_key(src_key)
        if not self.store.has_bucket(src_bucket):
            raise _no_bucket(src_bucket)
        src = self.store.index(src_bucket).get(src_key)
        if src is None:
            raise _no_key(src_key)
        self._forbid_overwrite(req)
        tmp = self.store.temp(req.bucket)
        await asyncio.to_thread(shutil.copyfile, self.store.data_path(src_bucket, src), tmp)
        meta = dict(src)
        if req.headers.get("x-oss-metadata-directive", "COPY").upper() == "REPLACE":
            meta["content_type"] = req.headers.get("content-type") or DEFAULT_CONTENT_TYPE
            meta["user_meta"] = _user_meta(req.headers)
            meta["headers"] = _stored_headers(req.request)
        meta["last_modified"] = self.cfg.clock()
        self.store.commit(req.bucket, req.key, tmp, meta)
        root = ET.Element("CopyObjectResult")
        _sub(root, "ETag", _etag(meta["etag"]))
        _sub(root, "LastModified", _iso(meta["last_modified"]))
        return web.Response(body=_xml(root), content_type="application/xml",
                            headers=self._write_headers(meta))

    # ---- multipart

    def init_upload(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        self._forbid_overwrite(req)
        upload_id = uuid.uuid4().hex.upper()
        d = self.store.upload_dir(req.bucket, upload_id)
        d.mkdir(parents=True)
        _write_json(d / "upload.json", {
            "key": req.key, "initiated": self.cfg.clock(),
            "content_type": req.headers.get("content-type") or DEFAULT_CONTENT_TYPE,
            "user_meta": _user_meta(req.headers), "headers": _stored_headers(req.request),
        })
        root = ET.Element("InitiateMultipartUploadResult")
        _sub(root, "Bucket", req.bucket)
        _sub(root, "Key", req.key)
        _sub(root, "UploadId", upload_id)
        return web.Response(body=_xml(root), content_type="application/xml")

    async def upload_part(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        upload_id = req.params["uploadId"]
        self.store.upload(req.bucket, req.key, upload_id)
        try:
            number = int(req.params["partNumber"])
        except ValueError:
            number = 0
        if not 1 <= number <= MAX_PARTS:
            raise _Fail(400, "InvalidArgument", "Part number must be an integer between 1 and "
                        "10000, inclusive.", ArgumentName="partNumber",
                        ArgumentValue=req.params["partNumber"])
        tmp, size, md5_hex, crc = await self._receive(req)
        try:
            self.store.upload(req.bucket, req.key, upload_id)  # not aborted meanwhile
        except _Fail:
            tmp.unlink(missing_ok=True)
            raise
        meta = {"size": size, "etag": md5_hex.upper(), "crc64": crc,
                "last_modified": self.cfg.clock()}
        self.store.commit_part(req.bucket, upload_id, number, tmp, meta)
        return web.Response(headers=self._write_headers(meta))

    def list_parts(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        upload_id = req.params["uploadId"]
        self.store.upload(req.bucket, req.key, upload_id)
        try:
            max_parts = int(req.params.get("max-parts", "1000"))
            marker = int(req.params.get("part-number-marker", "0") or 0)
        except ValueError:
            raise _Fail(400, "InvalidArgument", "max-parts and part-number-marker must be "
                        "integers.") from None
        if not 1 <= max_parts <= 1000:
            raise _Fail(400, "InvalidArgument", "max-parts must be between 1 and 1000.",
                        ArgumentName="max-parts", ArgumentValue=str(max_parts))
        parts = self.store.parts(req.bucket, upload_id)
        numbers = sorted(n for n in parts if n > marker)
        page, truncated = numbers[:max_parts], len(numbers) > max_parts
        root = ET.Element("ListPartsResult")
        _sub(root, "Bucket", req.bucket)
        _sub(root, "Key", req.key)
        _sub(root, "UploadId", upload_id)
        _sub(root, "PartNumberMarker", marker)
        _sub(root, "NextPartNumberMarker", page[-1] if page else marker)
        _sub(root, "MaxParts", max_parts)
        _sub(root, "IsTruncated", "true" if truncated else "false")
        for n in page:
            part = parts[n]
            el = _sub(root, "Part")
            _sub(el, "PartNumber", n)
            _sub(el, "LastModified", _iso(part["last_modified"]))
            _sub(el, "ETag", _etag(part["etag"]))
            _sub(el, "HashCrc64ecma", part["crc64"])
            _sub(el, "Size", part["size"])
        return web.Response(body=_xml(root), content_type="application/xml")

    def abort_upload(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        upload_id = req.params["uploadId"]
        self.store.upload(req.bucket, req.key, upload_id)
        shutil.rmtree(self.store.upload_dir(req.bucket, upload_id), ignore_errors=True)
        return web.Response(status=204)

    async def complete_upload(self, req: _Req) -> web.Response:
        assert req.bucket is not None
        upload_id = req.params["uploadId"]
        record = self.store.upload(req.bucket, req.key, upload_id)
        self._forbid_overwrite(req)
        stored = self.store.parts(req.bucket, upload_id)
        body = await req.request.read()
        if req.headers.get("x-oss-complete-all", "").lower() == "yes":
            if body:
                raise _Fail(400, "InvalidArgument", "Should not specify both complete all "
                            "header and body.", ArgumentName="x-oss-complete-all")
            wanted = [(n, stored[n]["etag"]) for n in sorted(stored)]
        else:
            wanted = _parse_complete(body)
        if not wanted:
            raise _Fail(400, "MalformedXML", "The XML you provided was not well-formed or did "
                        "not validate against our published schema.")
        numbers = [n for n, _ in wanted]
        if numbers != sorted(set(numbers)):
            raise _Fail(400, "InvalidPartOrder", "The list of parts was not in ascending order. "
                        "Parts list must specified in order by part number.", UploadId=upload_id)
        chosen = []
        for i, (n, etag) in enumerate(wanted):
            part = stored.get(n)
            if part is None or part["etag"] != etag.strip('"').upper():
                raise _Fail(400, "InvalidPart", "One or more of the specified parts could not "
                            "be found or the specified entity tag might not have matched the "
                            "part's entity tag.", UploadId=upload_id, PartNumber=str(n),
                            ETag=etag)
            if i < len(wanted) - 1 and part["size"] < MIN_PART_SIZE:
                raise _Fail(400, "EntityTooSmall", "Your proposed upload is smaller than the "
                            "minimum allowed size.", PartNumber=str(n), MinSizeAllowed=str(
                                MIN_PART_SIZE), ProposedSize=str(part["size"]))
            chosen.append(part)
        paths = [self.store.upload_dir(req.bucket, upload_id) / p["data"] for p in chosen]
        tmp = self.store.temp(req.bucket)
        await asyncio.to_thread(_concat, paths, tmp)
        crc, size = 0, 0
        for p in chosen:
            crc = crc64_combine(crc, int(p["crc64"]), int(p["size"]))
            size += int(p["size"])
        md5s = b"".join(bytes.fromhex(p["etag"]) for p in chosen)
        meta = {
            "size": size, "etag": f"{hashlib.md5(md5s).hexdigest().upper()}-{len(chosen)}",
            "crc64": crc, "type": "Multipart", "content_type": record["content_type"],
            "last_modified": self.cfg.clock(), "user_meta": record.get("user_meta", {}),
            "headers": record.get("headers", {}),
        }
        self.store.commit(req.bucket, req.key, tmp, meta)
        shutil.rmtree(self.store.upload_dir(req.bucket, upload_id), ignore_errors=True)
        encode = req.params.get("encoding-type") == "url"
        root = ET.Element("CompleteMultipartUploadResult")
        if encode:
            _sub(root, "EncodingType", "url")
        key = quote(req.key, safe="") if encode else req.key
        _sub(root, "Location", f"http://{req.request.host}/{req.bucket}/{quote(req.key)}")
        _sub(root, "Bucket", req.bucket)
        _sub(root, "Key", key)
        _sub(root, "ETag", _etag(meta["etag"]))
        return web.Response(body=_xml(root), content_type="application/xml",
                            headers=self._write_headers(meta))


def _concat(paths: list[Path], dest: Path) -> None:
    with open(dest, "wb") as out:
        for p in paths:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out, CHUNK)


def _parse_complete(body: bytes) -> list[tuple[int, str]]:
    try:
        root = ET.fromstring(body)
        if root.tag != "CompleteMultipartUpload":
            raise ValueError(root.tag)
        return [(int(p.findtext("PartNumber") or ""), p.findtext("ETag") or "")
                for p in root.findall("Part")]
    except (ET.ParseError, ValueError):
        raise _Fail(400, "MalformedXML", "The XML you provided was not well-formed or did not "
                    "validate against our published schema.") from None


def _parse_range(value: str | None, size: int, standard: bool) -> tuple[int | None, int | None]:
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
            fail = _Fail(416, "InvalidRange", "The requested range cannot be satisfied.")
            fail.headers["Content-Range"] = f"bytes */{size}"
            raise fail
        return None, None
    if end >= size:
        if not standard:
            return None, None
        end = size - 1
    return start, end


def _list_keys(keys: list[str], prefix: str, delimiter: str, marker: str,
               max_keys: int) -> tuple[list[str], list[str], bool, str | None]:
    """One page of a listing: (keys, common prefixes, truncated, last item returned).

    ``marker`` is exclusive; a marker that is itself a common prefix skips that whole
    "directory", so continuation after a rolled-up prefix does not repeat it.
    """
    i = bisect.bisect_left(keys, prefix)
    if marker:
        i = max(i, bisect.bisect_right(keys, marker))
    contents: list[str] = []
    prefixes: list[str] = []
    last: str | None = None
    truncated = False
    while i < len(keys):
        k = keys[i]
        if not k.startswith(prefix):
            break
        cp = None
        if delimiter:
            j = k.find(delimiter, len(prefix))
            if j >= 0:
                cp = k[:j + len(delimiter)]
        if cp is not None and cp == marker:
            while i < len(keys) and keys[i].startswith(cp):
                i += 1
            continue
        if len(contents) + len(prefixes) >= max_keys:
            truncated = True
            break
        if cp is not None:
            prefixes.append(cp)
            last = cp
            while i < len(keys) and keys[i].startswith(cp):
                i += 1
        else:
            contents.append(k)
            last = k
            i += 1
    return contents, prefixes, truncated, last


def make_oss_app(cfg: OssConfig) -> web.Application:
    """The OSS server as an aiohttp application (every path goes to one dispatcher)."""
    oss = _Oss(cfg)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", oss.handle)
    return app


class OssServer(BackgroundServer):
    """OSS in a background thread: ``with OssServer(OssConfig(root=p)) as oss: oss.url``."""

    def __init__(self, cfg: OssConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = cfg or OssConfig()
        super().__init__(lambda: make_oss_app(self.config), host, port)
