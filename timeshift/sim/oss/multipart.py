"""Multipart uploads: Initiate, UploadPart, ListParts, Complete (also
``x-oss-complete-all``), Abort."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from .crc import crc64_combine
from .wire import (
    CHUNK,
    DEFAULT_CONTENT_TYPE,
    MAX_PARTS,
    MIN_PART_SIZE,
    Fail,
    Req,
    etag,
    iso,
    stored_headers,
    user_meta,
    write_json,
)
from .xmlbody import parse_complete, sub, to_xml

if TYPE_CHECKING:
    from .service import OssService


def init_upload(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    oss.forbid_overwrite(req)
    upload_id = uuid.uuid4().hex.upper()
    d = oss.store.upload_dir(req.bucket, upload_id)
    d.mkdir(parents=True)
    write_json(d / "upload.json", {
        "key": req.key, "initiated": oss.cfg.clock(),
        "content_type": req.headers.get("content-type") or DEFAULT_CONTENT_TYPE,
        "user_meta": user_meta(req.headers), "headers": stored_headers(req.request),
    })
    root = ET.Element("InitiateMultipartUploadResult")
    sub(root, "Bucket", req.bucket)
    sub(root, "Key", req.key)
    sub(root, "UploadId", upload_id)
    return web.Response(body=to_xml(root), content_type="application/xml")


async def upload_part(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    upload_id = req.params["uploadId"]
    oss.store.upload(req.bucket, req.key, upload_id)
    try:
        number = int(req.params["partNumber"])
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PARTS:
        raise Fail(400, "InvalidArgument", "Part number must be an integer between 1 and "
                    "10000, inclusive.", ArgumentName="partNumber",
                    ArgumentValue=req.params["partNumber"])
    tmp, size, md5_hex, crc = await oss.receive(req)
    try:
        oss.store.upload(req.bucket, req.key, upload_id)  # not aborted meanwhile
    except Fail:
        tmp.unlink(missing_ok=True)
        raise
    meta = {"size": size, "etag": md5_hex.upper(), "crc64": crc,
            "last_modified": oss.cfg.clock()}
    oss.store.commit_part(req.bucket, upload_id, number, tmp, meta)
    return web.Response(headers=oss.write_headers(meta))


def list_parts(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    upload_id = req.params["uploadId"]
    oss.store.upload(req.bucket, req.key, upload_id)
    try:
        max_parts = int(req.params.get("max-parts", "1000"))
        marker = int(req.params.get("part-number-marker", "0") or 0)
    except ValueError:
        raise Fail(400, "InvalidArgument", "max-parts and part-number-marker must be "
                    "integers.") from None
    if not 1 <= max_parts <= 1000:
        raise Fail(400, "InvalidArgument", "max-parts must be between 1 and 1000.",
                    ArgumentName="max-parts", ArgumentValue=str(max_parts))
    parts = oss.store.parts(req.bucket, upload_id)
    numbers = sorted(n for n in parts if n > marker)
    page, truncated = numbers[:max_parts], len(numbers) > max_parts
    root = ET.Element("ListPartsResult")
    sub(root, "Bucket", req.bucket)
    sub(root, "Key", req.key)
    sub(root, "UploadId", upload_id)
    sub(root, "PartNumberMarker", marker)
    sub(root, "NextPartNumberMarker", page[-1] if page else marker)
    sub(root, "MaxParts", max_parts)
    sub(root, "IsTruncated", "true" if truncated else "false")
    for n in page:
        part = parts[n]
        el = sub(root, "Part")
        sub(el, "PartNumber", n)
        sub(el, "LastModified", iso(part["last_modified"]))
        sub(el, "ETag", etag(part["etag"]))
        sub(el, "HashCrc64ecma", part["crc64"])
        sub(el, "Size", part["size"])
    return web.Response(body=to_xml(root), content_type="application/xml")


def abort_upload(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    upload_id = req.params["uploadId"]
    oss.store.upload(req.bucket, req.key, upload_id)
    shutil.rmtree(oss.store.upload_dir(req.bucket, upload_id), ignore_errors=True)
    return web.Response(status=204)


async def complete_upload(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    upload_id = req.params["uploadId"]
    record = oss.store.upload(req.bucket, req.key, upload_id)
    oss.forbid_overwrite(req)
    stored = oss.store.parts(req.bucket, upload_id)
    body = await req.request.read()
    if req.headers.get("x-oss-complete-all", "").lower() == "yes":
        if body:
            raise Fail(400, "InvalidArgument", "Should not specify both complete all "
                        "header and body.", ArgumentName="x-oss-complete-all")
        wanted = [(n, stored[n]["etag"]) for n in sorted(stored)]
    else:
        wanted = parse_complete(body)
    if not wanted:
        raise Fail(400, "MalformedXML", "The XML you provided was not well-formed or did "
                    "not validate against our published schema.")
    numbers = [n for n, _ in wanted]
    if numbers != sorted(set(numbers)):
        raise Fail(400, "InvalidPartOrder", "The list of parts was not in ascending order. "
                    "Parts list must specified in order by part number.", UploadId=upload_id)
    chosen = []
    for i, (n, given) in enumerate(wanted):
        part = stored.get(n)
        if part is None or part["etag"] != given.strip('"').upper():
            raise Fail(400, "InvalidPart", "One or more of the specified parts could not "
                        "be found or the specified entity tag might not have matched the "
                        "part's entity tag.", UploadId=upload_id, PartNumber=str(n),
                        ETag=given)
        if i < len(wanted) - 1 and part["size"] < MIN_PART_SIZE:
            raise Fail(400, "EntityTooSmall", "Your proposed upload is smaller than the "
                        "minimum allowed size.", PartNumber=str(n), MinSizeAllowed=str(
                            MIN_PART_SIZE), ProposedSize=str(part["size"]))
        chosen.append(part)
    paths = [oss.store.upload_dir(req.bucket, upload_id) / p["data"] for p in chosen]
    tmp = oss.store.temp(req.bucket)
    await asyncio.to_thread(concat, paths, tmp)
    crc, size = 0, 0
    for p in chosen:
        crc = crc64_combine(crc, int(p["crc64"]), int(p["size"]))
        size += int(p["size"])
    md5s = b"".join(bytes.fromhex(p["etag"]) for p in chosen)
    meta = {
        "size": size, "etag": f"{hashlib.md5(md5s).hexdigest().upper()}-{len(chosen)}",
        "crc64": crc, "type": "Multipart", "content_type": record["content_type"],
        "last_modified": oss.cfg.clock(), "user_meta": record.get("user_meta", {}),
        "headers": record.get("headers", {}),
    }
    oss.commit(req, tmp, meta)  # another writer may have won while we joined the parts
    shutil.rmtree(oss.store.upload_dir(req.bucket, upload_id), ignore_errors=True)
    encode = req.params.get("encoding-type") == "url"
    root = ET.Element("CompleteMultipartUploadResult")
    if encode:
        sub(root, "EncodingType", "url")
    key = quote(req.key, safe="") if encode else req.key
    sub(root, "Location", f"http://{req.request.host}/{req.bucket}/{quote(req.key)}")
    sub(root, "Bucket", req.bucket)
    sub(root, "Key", key)
    sub(root, "ETag", etag(meta["etag"]))
    return web.Response(body=to_xml(root), content_type="application/xml",
                        headers=oss.write_headers(meta))


def concat(paths: list[Path], dest: Path) -> None:
    with open(dest, "wb") as out:
        for p in paths:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out, CHUNK)
