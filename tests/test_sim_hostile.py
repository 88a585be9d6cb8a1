"""The local servers against hostile or careless callers (issue 11, item 11): concurrent
forbid-overwrite writers, presigned URLs missing a part, signatures that are not ASCII,
and chunked bodies with no end. Each answer is a 4xx, never a 500, and what is stored is
what one writer sent.

Real sockets and the real ``oss2`` SDK; the racing requests run in two threads released
together, and the bodies are large enough that each write's copy or join is still under
way when the other one arrives.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import oss2
import pytest
import requests

from timeshift.auth import Signer
from timeshift.openapi.client import LiveClient
from timeshift.openapi.credentials import Credentials
from timeshift.sim.liveapi import LiveApiConfig, LiveApiServer
from timeshift.sim.origin import OriginServer
from timeshift.sim.oss import OssServer

AK, SK, BUCKET = "testid", "testsecret", "media"
BIG = 16 * 1024 * 1024
FORBID = {"x-oss-forbid-overwrite": "true"}


def _bucket(srv: OssServer) -> oss2.Bucket:
    b = oss2.Bucket(oss2.Auth(AK, SK), srv.url, BUCKET, enable_crc=True)
    b.create_bucket()
    return b


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once, one thread each; each one's result or the error it raised."""
    gate = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        gate.wait(5)
        try:
            out[i] = calls[i]()
        except Exception as exc:  # the loser's 409 is a result here
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def _one_won(results: list[Any]) -> int:
    wins = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1, f"{len(wins)} forbid-overwrite writers succeeded: {results}"
    assert all(isinstance(e, oss2.exceptions.ServerError) and e.status == 409
               and e.code == "FileAlreadyExists" for e in losses), losses
    return wins[0]


def test_concurrent_forbid_overwrite_copies_let_one_win(
        make_oss: Callable[..., OssServer]) -> None:
    b = _bucket(make_oss())
    bodies = [os.urandom(BIG), os.urandom(BIG)]
    for i, body in enumerate(bodies):
        b.put_object(f"src{i}", body)
    results = _race(*(lambda i=i: b.copy_object(BUCKET, f"src{i}", "dst", headers=FORBID)
                      for i in range(2)))
    winner = _one_won(results)
    assert b.get_object("dst").read() == bodies[winner]


def test_concurrent_forbid_overwrite_completes_let_one_win(
        make_oss: Callable[..., OssServer]) -> None:
    b = _bucket(make_oss())
    bodies = [os.urandom(BIG), os.urandom(BIG)]
    uploads = []
    for body in bodies:
        upload_id = b.init_multipart_upload("joined").upload_id
        part = b.upload_part("joined", upload_id, 1, body)
        uploads.append((upload_id, [oss2.models.PartInfo(1, part.etag)]))
    results = _race(*(lambda u=u: b.complete_multipart_upload("joined", u[0], u[1],
                                                              headers=FORBID)
                      for u in uploads))
    winner = _one_won(results)
    assert b.get_object("joined").read() == bodies[winner]


def test_presigned_url_without_expires_is_refused(make_oss: Callable[..., OssServer]) -> None:
    srv = make_oss()
    b = _bucket(srv)
    b.put_object("k", b"x")
    url = b.sign_url("GET", "k", 60)
    stripped = "&".join(p for p in url.split("&") if not p.startswith("Expires="))
    assert "Expires" not in stripped and "Signature=" in stripped
    r = requests.get(stripped, timeout=5)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text


@pytest.mark.parametrize("where", ["presigned-v1", "header-v1", "header-v4"])
def test_non_ascii_signature_is_a_mismatch_not_a_crash(
        make_oss: Callable[..., OssServer], where: str) -> None:
    srv = make_oss()
    b = _bucket(srv)
    b.put_object("k", b"x")
    if where == "presigned-v1":
        url = f"{srv.url}/{BUCKET}/k?OSSAccessKeyId={AK}&Expires={int(time.time()) + 60}" \
              f"&Signature={quote('sïg')}"
        r = requests.get(url, timeout=5)
    elif where == "header-v1":
        r = requests.get(f"{srv.url}/{BUCKET}/k", timeout=5, headers={
            "Authorization": f"OSS {AK}:sïg".encode("latin-1"),
            "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())})
    else:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        cred = f"{AK}/{stamp[:8]}/cn-hangzhou/oss/aliyun_v4_request"
        r = requests.get(f"{srv.url}/{BUCKET}/k", timeout=5, headers={
            "Authorization": f"OSS4-HMAC-SHA256 Credential={cred},Signature=sïg".encode("latin-1"),
            "x-oss-date": stamp, "x-oss-content-sha256": "UNSIGNED-PAYLOAD"})
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text


def test_chunked_put_over_the_size_bound_is_refused(make_oss: Callable[..., OssServer]) -> None:
    srv = make_oss(max_object_size=1024 * 1024)
    b = _bucket(srv)
    url = b.sign_url("PUT", "endless", 60)

    def body() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(48):
            yield os.urandom(64 * 1024)

    r = requests.put(url, data=body(), timeout=30)
    assert r.status_code == 400 and "<Code>EntityTooLarge</Code>" in r.text
    assert not b.object_exists("endless")
    assert not list((srv.config.root / BUCKET / "tmp").iterdir())  # the partial body is gone
    # Under the bound a chunked PUT still works.
    ok = requests.put(url, data=iter([b"a" * 1000, b"b" * 1000]), timeout=30)
    assert ok.status_code == 200 and b.get_object("endless").read() == b"a" * 1000 + b"b" * 1000


def test_origin_answers_a_non_ascii_signature_with_403(
        make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, signer=Signer("A", "k3y"))
    for token in (quote("1700000000-0-0-sïg"), quote("١٧٠٠٠٠٠٠٠٠-0-0-abc")):
        r = requests.get(f"{o.url}/live/cam1/0.ts?auth_key={token}", timeout=5)
        assert r.status_code == 403, (token, r.status_code)


def test_live_api_answers_a_non_ascii_signature_with_400() -> None:
    cfg = LiveApiConfig(access_key_id="ak-1", access_key_secret="s3cret")
    with LiveApiServer(cfg) as srv:
        c = LiveClient(Credentials("ak-1", "s3cret"), endpoint=srv.netloc, scheme="http")
        url = c.signed_url("DescribeLiveStreamRecordIndexFiles",
                           {"DomainName": "play.example.com", "AppName": "live",
                            "StreamName": "cam1", "StartTime": "2026-11-21T00:00:00Z",
                            "EndTime": "2026-11-21T01:00:00Z"})
        head, _, _ = url.partition("Signature=")
        tail = url.partition("Signature=")[2].partition("&")[2]
        r = requests.get(f"{head}Signature={quote('sïg')}&{tail}".rstrip("&"), timeout=5)
        assert r.status_code == 400 and r.json()["Code"] == "SignatureDoesNotMatch"
