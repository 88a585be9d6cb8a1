"""Object operations: PutObject, GetObject and HeadObject (Range, preconditions,
``response-*``), GetSignedPlaylist (``x-oss-process=hls/sign``), GetObjectMeta,
DeleteObject, CopyObject."""

from __future__ import annotations

import asyncio
import base64
import posixpath
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote

from aiohttp import web

from .auth import sign_v1, v1_canonical_resource, v1_string_to_sign
from .wire import (
    CHUNK,
    DEFAULT_CONTENT_TYPE,
    MAX_SIGNED_PLAYLIST,
    RESPONSE_OVERRIDES,
    Fail,
    Req,
    etag,
    http_date,
    iso,
    no_bucket,
    no_key,
    object_headers,
    parse_http_date,
    parse_range,
    stored_headers,
    user_meta,
    validate_key,
)
from .xmlbody import sub, to_xml

if TYPE_CHECKING:
    from .service import OssService


async def put_object(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    oss.forbid_overwrite(req)
    tmp, size, md5_hex, crc = await oss.receive(req)
    meta = {
        "size": size, "etag": md5_hex.upper(), "crc64": crc, "type": "Normal",
        "content_type": req.headers.get("content-type") or DEFAULT_CONTENT_TYPE,
        "last_modified": oss.cfg.clock(), "user_meta": user_meta(req.headers),
        "headers": stored_headers(req.request),
    }
    oss.commit(req, tmp, meta)  # another writer may have won while we received
    oss.cfg.writes.append(f"{req.bucket}/{req.key}")
    headers = oss.write_headers(meta)
    headers["Content-MD5"] = base64.b64encode(bytes.fromhex(md5_hex)).decode()
    return web.Response(headers=headers)


def preconditions(oss: OssService, req: Req, meta: Mapping[str, Any]) -> None:
    h, tag, mtime = req.headers, etag(meta["etag"]), int(meta["last_modified"])
    if "if-match" in h and h["if-match"] not in (tag, "*"):
        raise Fail(412, "PreconditionFailed", "At least one of the pre-conditions you "
                    "specified did not hold.", Condition="If-Match")
    since = parse_http_date(h.get("if-unmodified-since", ""))
    if since is not None and mtime > since:
        raise Fail(412, "PreconditionFailed", "At least one of the pre-conditions you "
                    "specified did not hold.", Condition="If-Unmodified-Since")
    if "if-none-match" in h and h["if-none-match"] in (tag, "*"):
        raise Fail(304, "NotModified", "Not Modified")
    since = parse_http_date(h.get("if-modified-since", ""))
    if since is not None and mtime <= since:
        raise Fail(304, "NotModified", "Not Modified")


async def get_object(oss: OssService, req: Req) -> web.StreamResponse:
    meta = oss.meta(req)
    preconditions(oss, req, meta)
    if req.params.get("x-oss-process", "").startswith("hls/sign") and req.method == "GET":
        return signed_playlist(oss, req, meta)
    size = int(meta["size"])
    headers = object_headers(meta)
    headers["x-oss-hash-crc64ecma"] = oss.crc_header(meta["crc64"])
    for param, header in RESPONSE_OVERRIDES.items():
        if param in req.params:
            headers[header] = req.params[param]
    start, end = parse_range(req.headers.get("range"), size,
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
    f: BinaryIO = open(oss.store.data_path(req.bucket, meta), "rb")
    drop = oss.faults.drop()
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
            oss.count("fault.drop")
            transport = req.request.transport
            if transport is not None:
                transport.abort()  # the client sees a short body on a closed connection
            return resp
        await resp.write_eof()
        return resp
    finally:
        f.close()


def signed_playlist(oss: OssService, req: Req, meta: Mapping[str, Any]) -> web.Response:
    """GetSignedPlaylist: the m3u8 with each relative segment URI presigned (V1) with
    the request's own expiry, so a private recording plays from one presigned URL."""
    p = req.params
    if "Signature" not in p or "Expires" not in p:
        raise Fail(403, "AccessDenied", "The request is not authenticated by using a "
                    "signed URL.", EC="0044-00000410")
    if int(meta["size"]) > MAX_SIGNED_PLAYLIST:
        raise Fail(400, "InvalidArgument", "The m3u8 file is too large to sign.",
                    EC="0044-00000404")
    assert req.bucket is not None
    text = oss.store.data_path(req.bucket, meta).read_text(encoding="utf-8", errors="replace")
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
            sig = sign_v1(oss.cfg.access_key_secret, to_sign)
            line = (f"{uri.split('?', 1)[0]}?OSSAccessKeyId={quote(p['OSSAccessKeyId'], safe='')}"
                    f"&Expires={p['Expires']}&Signature={quote(sig, safe='')}")
        out.append(line)
    body = ("\n".join(out) + "\n").encode()
    oss.count("hls_sign")
    return web.Response(status=200, body=body, headers={
        "Content-Type": "application/vnd.apple.mpegurl", "x-oss-request-id": req.request_id,
        "Server": "AliyunOSS"})


def get_object_meta(oss: OssService, req: Req) -> web.Response:
    meta = oss.meta(req)
    return web.Response(headers={
        "ETag": etag(meta["etag"]), "Content-Length": str(meta["size"]),
        "Last-Modified": http_date(meta["last_modified"]),
        "x-oss-last-access-time": http_date(meta["last_modified"]),
        "x-oss-request-id": req.request_id,
    })


def delete_object(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    oss.store.delete(req.bucket, req.key)  # OSS answers 204 for a missing key too
    return web.Response(status=204)


async def copy_object(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    source = req.headers["x-oss-copy-source"].split("?", 1)[0]
    src_bucket, _, src_key = unquote(source.lstrip("/")).partition("/")
    if not src_key:
        raise Fail(400, "InvalidArgument", "Copy Source must mention the source bucket "
                    "and key: /sourcebucket/sourcekey.", ArgumentName="x-oss-copy-source",
                    ArgumentValue=source)
    validate_key(src_key)
    if not oss.store.has_bucket(src_bucket):
        raise no_bucket(src_bucket)
    src = oss.store.index(src_bucket).get(src_key)
    if src is None:
        raise no_key(src_key)
    oss.forbid_overwrite(req)
    tmp = oss.store.temp(req.bucket)
    await asyncio.to_thread(shutil.copyfile, oss.store.data_path(src_bucket, src), tmp)
    meta = dict(src)
    if req.headers.get("x-oss-metadata-directive", "COPY").upper() == "REPLACE":
        meta["content_type"] = req.headers.get("content-type") or DEFAULT_CONTENT_TYPE
        meta["user_meta"] = user_meta(req.headers)
        meta["headers"] = stored_headers(req.request)
    meta["last_modified"] = oss.cfg.clock()
    oss.commit(req, tmp, meta)  # another writer may have won while we copied
    root = ET.Element("CopyObjectResult")
    sub(root, "ETag", etag(meta["etag"]))
    sub(root, "LastModified", iso(meta["last_modified"]))
    return web.Response(body=to_xml(root), content_type="application/xml",
                        headers=oss.write_headers(meta))
