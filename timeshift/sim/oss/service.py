"""The local OSS server itself: one request's way through parsing, authentication,
faults and the routing table, the state the handlers share, and the server to run it."""

from __future__ import annotations

import base64
import hashlib
import inspect
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ...localserver import BackgroundServer
from .auth import authenticate
from .config import OssConfig
from .crc import crc64
from .faults import Faults
from .storage import Store
from .wire import (
    BUCKET_RE,
    CHUNK,
    Fail,
    Req,
    decode_key,
    etag,
    is_ip_or_localhost,
    no_bucket,
    no_key,
    parse_query,
    validate_key,
)
from .xmlbody import error_xml

__all__ = ["OssServer", "OssService", "make_oss_app"]


class OssService:
    """Request handling; one per application, sharing the config object with the server."""

    def __init__(self, cfg: OssConfig) -> None:
        self.cfg = cfg
        self.store = Store(cfg.root)
        self.faults = Faults(cfg, self.count)
        cfg.root.mkdir(parents=True, exist_ok=True)
        for b in cfg.buckets:
            if not BUCKET_RE.match(b):
                raise ValueError(f"invalid bucket name {b!r}")
            if not self.store.has_bucket(b):
                self.store.create_bucket(b)
        self.store.recover()

    def count(self, name: str) -> None:
        self.cfg.counters[name] = self.cfg.counters.get(name, 0) + 1

    async def handle(self, request: web.Request) -> web.StreamResponse:
        from .routes import dispatch  # the table names the handlers, which name this class

        request_id = uuid.uuid4().hex[:24].upper()
        host = request.headers.get("Host", "")
        try:
            req = self.parse(request, request_id, host)
            authenticate(self.cfg, req)
            self.faults.check()
            resp = dispatch(self, req)
            if inspect.isawaitable(resp):
                resp = await resp
        except Fail as fail:
            resp = self.error(request, request_id, host, fail)
        except (OSError, ValueError) as exc:  # storage trouble: report it as OSS would
            resp = self.error(request, request_id, host,
                              Fail(500, "InternalError", f"We encountered an internal error. "
                                   f"Please try again. ({type(exc).__name__})"))
        if not resp.prepared:
            resp.headers["x-oss-request-id"] = request_id
            resp.headers.setdefault("Server", "AliyunOSS")
        return resp

    def error(self, request: web.Request, request_id: str, host: str,
              fail: Fail) -> web.Response:
        self.count(f"error.{fail.code}")
        body = error_xml(fail, request_id, host.rsplit(":", 1)[0] if host else "127.0.0.1")
        headers = {"x-oss-request-id": request_id, "Server": "AliyunOSS", **fail.headers}
        if fail.status == 304:  # Not Modified carries no body at all
            return web.Response(status=304, headers=headers)
        if request.method == "HEAD":
            # A HEAD answer cannot carry a body, so OSS puts the error XML in a header.
            headers["x-oss-err"] = base64.b64encode(body).decode()
            return web.Response(status=fail.status, headers=headers)
        return web.Response(status=fail.status, body=body, content_type="application/xml",
                            headers=headers)

    def parse(self, request: web.Request, request_id: str, host: str) -> Req:
        raw_path, _, raw_query = request.raw_path.partition("?")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        bucket: str | None
        label, _, rest = hostname.partition(".")
        if rest and not is_ip_or_localhost(hostname) and (
                is_ip_or_localhost(rest) or self.store.has_bucket(label)):
            # Virtual-host style: the first label of the Host is the bucket. Any other named
            # host (e.g. a path-style client given a DNS name) keeps the bucket in the path.
            bucket = label
            key = decode_key(raw_path[1:])
        else:
            path = raw_path[1:]
            name, _, rest = path.partition("/")
            bucket = unquote(name) or None
            key = decode_key(rest)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if key:
            validate_key(key)
        return Req(request, request_id, bucket, key, parse_query(raw_query), headers)

    # ---- what the handlers share

    def require_bucket(self, bucket: str) -> None:
        if not self.store.has_bucket(bucket):
            raise no_bucket(bucket)

    def forbid_overwrite(self, req: Req) -> None:
        if (req.headers.get("x-oss-forbid-overwrite", "").lower() == "true"
                and req.bucket is not None and req.key in self.store.index(req.bucket)):
            raise Fail(409, "FileAlreadyExists", "The object you specified already exists and "
                       "can not be overwritten.", Key=req.key)

    def commit(self, req: Req, tmp: Path, meta: dict[str, Any]) -> None:
        """Store ``tmp`` as the request's object, checking forbid-overwrite again first.

        A write awaits (the body, a copy, the parts' concatenation) between its first
        check and here; another writer of the key may have committed meanwhile. This
        check and the commit run with no await between them, so on the one event loop
        exactly one of two concurrent forbid-overwrite writers succeeds.
        """
        assert req.bucket is not None
        try:
            self.forbid_overwrite(req)
        except Fail:
            tmp.unlink(missing_ok=True)
            raise
        self.store.commit(req.bucket, req.key, tmp, meta)

    def meta(self, req: Req) -> dict[str, Any]:
        assert req.bucket is not None
        meta = self.store.index(req.bucket).get(req.key)
        if meta is None:
            raise no_key(req.key)
        return meta

    def crc_header(self, crc: int) -> str:
        return self.faults.crc_header(crc)

    def write_headers(self, meta: Mapping[str, Any]) -> dict[str, str]:
        return {"ETag": etag(meta["etag"]), "x-oss-hash-crc64ecma": self.crc_header(meta["crc64"])}

    async def receive(self, req: Req) -> tuple[Path, int, str, int]:
        """Stream the body into a temp file: (path, size, md5 hex, crc64).

        The size bound holds for chunked bodies too (no Content-Length to check first).
        """
        assert req.bucket is not None
        limit = self.cfg.max_object_size
        length = req.request.content_length
        if length is not None and length > limit:
            raise _too_large()
        tmp = self.store.temp(req.bucket)
        md5, crc, size = hashlib.md5(), 0, 0
        try:
            with open(tmp, "wb") as f:
                async for chunk in req.request.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise _too_large()
                    f.write(chunk)
                    md5.update(chunk)
                    crc = crc64(chunk, crc)
            want = req.headers.get("content-md5")
            if want is not None and want != base64.b64encode(md5.digest()).decode():
                raise Fail(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, size, md5.hexdigest(), crc


def _too_large() -> Fail:
    return Fail(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")


def make_oss_app(cfg: OssConfig) -> web.Application:
    """The OSS server as an aiohttp application (every path goes to one dispatcher)."""
    oss = OssService(cfg)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", oss.handle)
    return app


class OssServer(BackgroundServer):
    """OSS in a background thread: ``with OssServer(OssConfig(root=p)) as oss: oss.url``."""

    def __init__(self, cfg: OssConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = cfg or OssConfig()
        super().__init__(lambda: make_oss_app(self.config), host, port)
