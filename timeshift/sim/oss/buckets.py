"""Service and bucket operations: ListBuckets, PutBucket, DeleteBucket, ListObjects (V1
and V2), DeleteMultipleObjects."""

from __future__ import annotations

import base64
import bisect
import hashlib
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from .wire import (
    BUCKET_RE,
    OWNER_ID,
    Fail,
    Req,
    etag,
    iso,
    validate_key,
)
from .xmlbody import sub, to_xml

if TYPE_CHECKING:
    from .service import OssService


def list_buckets(oss: OssService, req: Req) -> web.Response:
    root = ET.Element("ListAllMyBucketsResult")
    owner = sub(root, "Owner")
    sub(owner, "ID", OWNER_ID)
    sub(owner, "DisplayName", OWNER_ID)
    buckets = sub(root, "Buckets")
    region = oss.cfg.region or "cn-hangzhou"
    for name in oss.store.buckets():
        b = sub(buckets, "Bucket")
        sub(b, "CreationDate", iso(oss.store.bucket_created(name)))
        sub(b, "ExtranetEndpoint", req.request.host)
        sub(b, "IntranetEndpoint", req.request.host)
        sub(b, "Location", f"oss-{region}")
        sub(b, "Name", name)
        sub(b, "Region", region)
        sub(b, "StorageClass", "Standard")
    return web.Response(body=to_xml(root), content_type="application/xml")


def put_bucket(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    if not BUCKET_RE.match(req.bucket):
        raise Fail(400, "InvalidBucketName", "The specified bucket is not valid.",
                    BucketName=req.bucket)
    if oss.store.has_bucket(req.bucket):
        raise Fail(409, "BucketAlreadyExists", "The requested bucket name is not available. "
                    "The bucket namespace is shared by all users of the system. Please select "
                    "a different name and try again.", BucketName=req.bucket)
    oss.store.create_bucket(req.bucket)
    return web.Response(headers={"Location": f"/{req.bucket}"})


def delete_bucket(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    if oss.store.index(req.bucket) or any((oss.store.root / req.bucket / "uploads").iterdir()):
        raise Fail(409, "BucketNotEmpty", "The bucket has objects. Please delete them first.",
                    BucketName=req.bucket)
    oss.store.drop_bucket(req.bucket)
    return web.Response(status=204)


def list_objects(oss: OssService, req: Req, v2: bool) -> web.Response:
    assert req.bucket is not None
    p = req.params
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    try:
        max_keys = int(p.get("max-keys", "100"))
    except ValueError:
        max_keys = -1
    if not 0 <= max_keys <= 1000:
        raise Fail(400, "InvalidArgument", "max-keys must be between 0 and 1000.",
                    ArgumentName="max-keys", ArgumentValue=p.get("max-keys", ""))
    encode = p.get("encoding-type") == "url"
    if "encoding-type" in p and not encode:
        raise Fail(400, "InvalidArgument", "Invalid Encoding Method specified in Request",
                    ArgumentName="encoding-type", ArgumentValue=p["encoding-type"])
    if v2:
        token = p.get("continuation-token")
        if token:  # oss2 always sends the parameter, blank on the first page
            try:
                marker = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            except ValueError:
                raise Fail(400, "InvalidArgument", "The continuation token provided is "
                            "incorrect.", ArgumentName="continuation-token",
                            ArgumentValue=token) from None
        else:
            marker = p.get("start-after", "")
    else:
        marker = p.get("marker", "")
    index = oss.store.index(req.bucket)
    contents, prefixes, truncated, last = list_keys(sorted(index), prefix, delimiter,
                                                     marker, max_keys)

    def enc(text: str) -> str:
        return quote(text, safe="") if encode else text

    root = ET.Element("ListBucketResult")
    sub(root, "Name", req.bucket)
    sub(root, "Prefix", enc(prefix))
    if v2:
        if p.get("start-after"):
            sub(root, "StartAfter", enc(p["start-after"]))
        if p.get("continuation-token"):
            sub(root, "ContinuationToken", p["continuation-token"])
    else:
        sub(root, "Marker", enc(marker))
    sub(root, "MaxKeys", max_keys)
    sub(root, "Delimiter", enc(delimiter))
    if encode:
        sub(root, "EncodingType", "url")
    sub(root, "IsTruncated", "true" if truncated else "false")
    if truncated and last is not None:
        if v2:
            sub(root, "NextContinuationToken",
                 base64.urlsafe_b64encode(last.encode()).decode().rstrip("="))
        else:
            sub(root, "NextMarker", enc(last))
    fetch_owner = not v2 or p.get("fetch-owner") == "true"
    for k in contents:
        meta = index[k]
        c = sub(root, "Contents")
        sub(c, "Key", enc(k))
        sub(c, "LastModified", iso(meta["last_modified"]))
        sub(c, "ETag", etag(meta["etag"]))
        sub(c, "Type", meta.get("type", "Normal"))
        sub(c, "Size", meta["size"])
        sub(c, "StorageClass", "Standard")
        if fetch_owner:
            owner = sub(c, "Owner")
            sub(owner, "ID", OWNER_ID)
            sub(owner, "DisplayName", OWNER_ID)
    for cp in prefixes:
        sub(sub(root, "CommonPrefixes"), "Prefix", enc(cp))
    if v2:
        sub(root, "KeyCount", len(contents) + len(prefixes))
    return web.Response(body=to_xml(root), content_type="application/xml")


def list_keys(keys: list[str], prefix: str, delimiter: str, marker: str,
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


async def delete_multiple(oss: OssService, req: Req) -> web.Response:
    assert req.bucket is not None
    body = await req.request.read()
    md5 = req.headers.get("content-md5")
    if md5 is None:
        raise Fail(400, "MissingArgument", "Missing Some Required Arguments.",
                    ArgumentName="Content-MD5")
    if md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
        raise Fail(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        root = ET.Element("Invalid")
    keys = [o.findtext("Key") or "" for o in root.findall("Object")]
    if root.tag != "Delete" or not keys or len(keys) > 1000:
        raise Fail(400, "MalformedXML", "The XML you provided was not well-formed or did "
                    "not validate against our published schema.")
    quiet = (root.findtext("Quiet") or "false").lower() == "true"
    encode = req.params.get("encoding-type") == "url"
    out = ET.Element("DeleteResult")
    if encode:
        sub(out, "EncodingType", "url")
    for key in keys:
        validate_key(key)
        oss.store.delete(req.bucket, key)  # deleting a missing key counts as deleted
        if not quiet:
            sub(sub(out, "Deleted"), "Key", quote(key, safe="") if encode else key)
    return web.Response(body=to_xml(out), content_type="application/xml")
