"""The local OSS server's routing table: its conditions exclude each other, so no request
matches two operations whatever order the table is in, and requests go where OSS sends them."""

from __future__ import annotations

import itertools

import pytest
from aiohttp.test_utils import make_mocked_request

from timeshift.sim.oss.routes import ROUTES, matching
from timeshift.sim.oss.wire import Req

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
# The query parameters the routes look at, and two they do not (a plain response override
# and an unrelated one).
PARAMS = ("list-type", "uploadId", "partNumber", "uploads", "delete", "objectMeta",
          "x-oss-process", "response-content-type", "acl", "foo")
SCOPES = {"service": (None, ""), "bucket": ("b1", ""), "object": ("b1", "k/x.ts")}


_REQUESTS = {m: make_mocked_request(m, "/") for m in METHODS}  # routing reads only the method


def _req(method: str, scope: str, params: dict[str, str], copy: bool = False) -> Req:
    bucket, key = SCOPES[scope]
    headers = {"x-oss-copy-source": "/b1/src"} if copy else {}
    return Req(_REQUESTS[method], "id", bucket, key, params, headers)


def _value(name: str) -> str:
    return {"list-type": "2", "x-oss-process": "hls/sign", "partNumber": "1"}.get(name, "")


def test_no_request_matches_two_routes() -> None:
    checked = 0
    for method, scope, copy in itertools.product(METHODS, SCOPES, (False, True)):
        for n in range(4):
            for names in itertools.combinations(PARAMS, n):
                req = _req(method, scope, {p: _value(p) for p in names}, copy)
                found = matching(req)
                assert len(found) <= 1, (method, scope, names, copy, [r.op for r in found])
                checked += 1
    assert checked > 5000


@pytest.mark.parametrize(("method", "scope", "params", "copy", "op"), [
    ("GET", "service", {}, False, "ListBuckets"),
    ("PUT", "bucket", {}, False, "PutBucket"),
    ("GET", "bucket", {"list-type": "2", "prefix": "a/"}, False, "ListObjectsV2"),
    ("GET", "bucket", {"marker": "a"}, False, "ListObjects"),
    ("POST", "bucket", {"delete": ""}, False, "DeleteMultipleObjects"),
    ("DELETE", "bucket", {}, False, "DeleteBucket"),
    ("PUT", "object", {}, False, "PutObject"),
    ("PUT", "object", {}, True, "CopyObject"),
    ("PUT", "object", {"uploadId": "U", "partNumber": "1"}, False, "UploadPart"),
    ("GET", "object", {"response-content-type": "text/plain"}, False, "GetObject"),
    ("HEAD", "object", {}, False, "HeadObject"),
    ("HEAD", "object", {"objectMeta": ""}, False, "GetObjectMeta"),
    ("GET", "object", {"x-oss-process": "hls/sign", "Expires": "1"}, False, "GetSignedPlaylist"),
    ("GET", "object", {"uploadId": "U"}, False, "ListParts"),
    ("POST", "object", {"uploads": ""}, False, "InitiateMultipartUpload"),
    ("POST", "object", {"uploadId": "U"}, False, "CompleteMultipartUpload"),
    ("DELETE", "object", {"uploadId": "U"}, False, "AbortMultipartUpload"),
    ("DELETE", "object", {}, False, "DeleteObject"),
])
def test_requests_go_where_oss_sends_them(method: str, scope: str, params: dict[str, str],
                                          copy: bool, op: str) -> None:
    assert [r.op for r in matching(_req(method, scope, params, copy))] == [op]


@pytest.mark.parametrize(("method", "scope", "params"), [
    ("PUT", "object", {"acl": ""}),            # PutObjectACL: not served
    ("PUT", "object", {"uploadId": "U"}),      # a part without its number
    ("POST", "service", {}),
    ("GET", "bucket", {"acl": ""}),
])
def test_unsupported_requests_match_nothing(method: str, scope: str,
                                            params: dict[str, str]) -> None:
    assert matching(_req(method, scope, params)) == []


def test_every_operation_is_reachable() -> None:
    assert len({r.op for r in ROUTES}) == len(ROUTES)
