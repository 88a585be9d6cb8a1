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

Limits
    A PUT or part larger than ``OssConfig.max_object_size`` (5 GiB, as OSS) is refused
    with EntityTooLarge, chunked bodies included. Writes with ``x-oss-forbid-overwrite``
    (PutObject, CopyObject, CompleteMultipartUpload) check and commit under the key's
    lock, so of two concurrent writers exactly one succeeds.

The package, one module per part: :mod:`.routes` (which operation a request is, a
table), :mod:`.auth` (V1, V4, presigned), :mod:`.storage` (objects on disk),
:mod:`.buckets`, :mod:`.objects` and :mod:`.multipart` (the operations), :mod:`.faults`,
:mod:`.xmlbody` (the XML documents), :mod:`.wire` (limits, header tables, codecs),
:mod:`.crc`, :mod:`.config`, and :mod:`.service` (a request's way through them, and the
server).

Not supported: ACLs and policies (every authenticated request with the configured key is
allowed), versioning, STS tokens, signature V2, append/symlink/tagging/select, payload
SHA-256 verification under V4, UploadPartCopy, ListMultipartUploads.
"""

from __future__ import annotations

from .auth import (
    v1_canonical_resource,
    v1_string_to_sign,
    v4_canonical_request,
    v4_signing_key,
    v4_string_to_sign,
)
from .config import OssConfig
from .crc import crc64, crc64_combine
from .service import OssServer, make_oss_app

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
