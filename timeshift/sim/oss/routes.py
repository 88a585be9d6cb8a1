"""Which operation a request is: a table, not an if-chain.

A route names the OSS operation, the addressing it applies to (the service, a bucket, an
object), the method, and a condition on the query and headers. The conditions are
written to exclude each other, so the table's order does not matter:
:func:`dispatch` finds every route that matches and refuses to guess when two do
(``test_oss_server`` checks the table against every method and sub-resource).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aiohttp import web

from . import buckets, multipart, objects
from .auth import V1_SUBRESOURCES
from .wire import RESPONSE_OVERRIDES, Fail, Req

if TYPE_CHECKING:
    from .service import OssService

__all__ = ["ROUTES", "Route", "dispatch", "matching"]

Scope = Literal["service", "bucket", "object"]
Response = web.StreamResponse | Awaitable[web.StreamResponse]
Handler = Callable[["OssService", Req], Response]


@dataclass(frozen=True)
class Route:
    """One operation: where, which method, when, and who handles it."""

    op: str
    scope: Scope
    method: str
    when: Callable[[Req], bool]
    handler: Handler
    #: GetObject/HeadObject are counted as asked (a miss too); the others once answered.
    count_asked: bool = False
    #: PutBucket is the one bucket operation on a bucket that need not exist.
    needs_bucket: bool = True


def _subresources(req: Req) -> set[str]:
    return set(req.params) & V1_SUBRESOURCES


def _plain(req: Req) -> bool:
    return not req.params


def _copy(req: Req) -> bool:
    return "x-oss-copy-source" in req.headers


def _readable(req: Req) -> bool:
    # A plain read: any sub-resource but the response-* overrides makes it another operation.
    return not (_subresources(req) - set(RESPONSE_OVERRIDES))


ROUTES: tuple[Route, ...] = (
    Route("ListBuckets", "service", "GET", lambda r: True, buckets.list_buckets),
    Route("PutBucket", "bucket", "PUT", _plain, buckets.put_bucket, needs_bucket=False),
    Route("ListObjectsV2", "bucket", "GET", lambda r: r.params.get("list-type") == "2",
          lambda oss, r: buckets.list_objects(oss, r, v2=True)),
    Route("ListObjects", "bucket", "GET",
          lambda r: r.params.get("list-type") != "2" and not _subresources(r),
          lambda oss, r: buckets.list_objects(oss, r, v2=False)),
    Route("DeleteMultipleObjects", "bucket", "POST", lambda r: "delete" in r.params,
          buckets.delete_multiple),
    Route("DeleteBucket", "bucket", "DELETE", _plain, buckets.delete_bucket),
    Route("PutObject", "object", "PUT", lambda r: not _subresources(r) and not _copy(r),
          objects.put_object),
    Route("CopyObject", "object", "PUT", lambda r: not _subresources(r) and _copy(r),
          objects.copy_object),
    Route("GetObject", "object", "GET", _readable, objects.get_object, count_asked=True),
    Route("HeadObject", "object", "HEAD", _readable, objects.get_object, count_asked=True),
    Route("GetObjectMeta", "object", "HEAD", lambda r: "objectMeta" in r.params,
          objects.get_object_meta),
    Route("GetSignedPlaylist", "object", "GET",
          lambda r: r.params.get("x-oss-process", "").startswith("hls/sign")
          and "uploadId" not in r.params, objects.get_object),
    Route("DeleteObject", "object", "DELETE", _plain, objects.delete_object),
    Route("InitiateMultipartUpload", "object", "POST", lambda r: "uploads" in r.params,
          multipart.init_upload),
    Route("UploadPart", "object", "PUT",
          lambda r: "uploadId" in r.params and "partNumber" in r.params, multipart.upload_part),
    Route("ListParts", "object", "GET", lambda r: "uploadId" in r.params, multipart.list_parts),
    Route("CompleteMultipartUpload", "object", "POST",
          lambda r: "uploadId" in r.params and "uploads" not in r.params,
          multipart.complete_upload),
    Route("AbortMultipartUpload", "object", "DELETE", lambda r: "uploadId" in r.params,
          multipart.abort_upload),
)


def _scope(req: Req) -> Scope:
    if req.bucket is None:
        return "service"
    return "object" if req.key else "bucket"


def matching(req: Req) -> list[Route]:
    """Every route that matches the request (one, or none; two is a bug in the table)."""
    scope = _scope(req)
    return [r for r in ROUTES if r.scope == scope and r.method == req.method and r.when(req)]


async def _counted(oss: OssService, op: str, answer: Response) -> web.StreamResponse:
    resp = await answer if not isinstance(answer, web.StreamResponse) else answer
    oss.count(op)
    return resp


def dispatch(oss: OssService, req: Req) -> Response:
    """Run the request's operation (counted in the config's ``counters``)."""
    routes = matching(req)
    if len(routes) > 1:
        raise AssertionError(f"routes overlap: {', '.join(r.op for r in routes)}")
    scope = _scope(req)
    if not routes:
        if scope == "service":
            raise Fail(405, "MethodNotAllowed", "The specified method is not allowed.")
        if req.bucket is not None:
            oss.require_bucket(req.bucket)
        raise Fail(501, "NotImplemented", f"This {scope} operation is not supported here.")
    route = routes[0]
    if req.bucket is not None and route.needs_bucket:
        oss.require_bucket(req.bucket)
    if route.count_asked:
        oss.count(route.op)
        return route.handler(oss, req)
    return _counted(oss, route.op, route.handler(oss, req))
