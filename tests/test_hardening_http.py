"""Hardening of the synchronous transports (timeline query, OpenAPI client, OSS store) against
hostile servers on 127.0.0.1 (issue 11, items 1-3 and 7): no redirect leaves the origin,
answers are capped in decoded bytes, Retry-After is capped and every operation has a deadline,
and -vv logs carry no signature, token or Authorization header."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from hostile import Hostile, gzip_bomb, raw, redirect, text

from timeshift.archive.store import OssStore
from timeshift.auth import Signer
from timeshift.errors import ForeignHostError, RemoteError, TransportError
from timeshift.http import make_session
from timeshift.openapi.client import LiveClient
from timeshift.openapi.credentials import Credentials
from timeshift.redact import install_log_redaction
from timeshift.sim.oss import OssServer
from timeshift.timeline import query_timeline

TIMELINE = "/openapi/timeline/query"
GOOD = '{"retCode": 0, "content": {"timeline": [{"start": 100, "end": 200}], "current": 300}}'
SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def origin() -> Iterator[Hostile]:
    with Hostile() as srv:
        yield srv


@pytest.fixture
def internal() -> Iterator[Hostile]:
    with Hostile({"/secret": text(GOOD)}) as srv:
        yield srv


def _bounded(fn: Callable[[], Any], limit: float) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    began = time.monotonic()
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"still running after {limit} s"
    box["elapsed"] = time.monotonic() - began
    return box


def _timeline(srv: Hostile, **kw: Any) -> Any:
    return query_timeline(srv.netloc, "live", "cam1", 100, 200, scheme="http", **kw)


# ---- 1. redirects

def test_timeline_redirect_to_another_service_is_refused(origin: Hostile,
                                                         internal: Hostile) -> None:
    origin.routes[TIMELINE] = redirect(f"{internal.url}/secret")
    with pytest.raises(ForeignHostError, match="redirect"):
        _timeline(origin)
    assert internal.total == 0


def test_timeline_redirect_within_the_origin_is_followed(origin: Hostile) -> None:
    origin.routes[TIMELINE] = redirect("/moved")
    origin.routes["/moved"] = text(GOOD)
    assert _timeline(origin).covered_seconds == 100


def test_openapi_redirect_is_not_followed_off_the_endpoint(origin: Hostile,
                                                           internal: Hostile) -> None:
    origin.routes["/"] = redirect(f"{internal.url}/secret")
    c = LiveClient(Credentials("ak", "sk"), endpoint=origin.netloc, scheme="http",
                   sleep=lambda s: None)
    with pytest.raises(ForeignHostError):
        c.call("DescribeLiveStreamRecordIndexFiles")
    assert internal.total == 0


# ---- 2. decoded size caps

def test_timeline_gzip_bomb_is_refused_at_the_cap(origin: Hostile) -> None:
    origin.routes[TIMELINE] = raw(gzip_bomb(256 << 20), **{"Content-Encoding": "gzip"})
    box = _bounded(lambda: _timeline(origin), 30)
    assert isinstance(box.get("error"), RemoteError) and "over" in str(box["error"]), box


def test_timeline_gzip_answer_is_decoded(origin: Hostile) -> None:
    import gzip
    origin.routes[TIMELINE] = raw(gzip.compress(GOOD.encode()), **{"Content-Encoding": "gzip"})
    assert _timeline(origin).covered_seconds == 100


def test_openapi_gzip_bomb_is_refused_at_the_cap(origin: Hostile) -> None:
    origin.routes["/"] = raw(gzip_bomb(256 << 20), **{"Content-Encoding": "gzip",
                                                       "Content-Type": "application/json"})
    c = LiveClient(Credentials("ak", "sk"), endpoint=origin.netloc, scheme="http",
                   sleep=lambda s: None)
    box = _bounded(lambda: c.call("DescribeLiveStreamRecordIndexFiles"), 30)
    assert isinstance(box.get("error"), RemoteError) and "over" in str(box["error"]), box


# ---- 3. Retry-After capped, a deadline per operation

def test_timeline_retry_after_is_capped(origin: Hostile) -> None:
    calls = {"n": 0}

    async def busy_once(request: web.Request) -> web.StreamResponse:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(status=503, headers={"Retry-After": "86400"})
        return web.Response(text=GOOD)

    origin.routes[TIMELINE] = busy_once
    session = make_session(retries=2, backoff=0.01, retry_after_cap=0.2)
    box = _bounded(lambda: _timeline(origin, session=session), 10)
    assert box.get("value") is not None and box["value"].covered_seconds == 100, box
    assert calls["n"] == 2 and box["elapsed"] < 5


def test_timeline_gives_up_at_its_deadline(origin: Hostile) -> None:
    origin.routes[TIMELINE] = text("busy", status=503, **{"Retry-After": "1"})
    session = make_session(retries=100, backoff=0.01, deadline=2.5)
    box = _bounded(lambda: _timeline(origin, session=session), 15)
    assert isinstance(box.get("error"), RemoteError) and box["error"].status == 503, box
    assert box["elapsed"] < 5 and origin.hits[TIMELINE] <= 4


def test_timeline_dripping_answer_fails_at_the_try_deadline(origin: Hostile) -> None:
    from hostile import drip
    origin.routes[TIMELINE] = drip(1000, 1.0, b" ")
    session = make_session(retries=0, attempt_timeout=1.5)
    box = _bounded(lambda: _timeline(origin, session=session), 15)
    assert isinstance(box.get("error"), TransportError), box
    assert box["elapsed"] < 6


def test_openapi_throttling_stops_at_the_deadline(origin: Hostile) -> None:
    body = '{"Code": "Throttling", "Message": "slow down", "RequestId": "r"}'
    origin.routes["/"] = text(body, status=503)
    waits: list[float] = []
    clock = {"t": 0.0}

    def sleep(s: float) -> None:
        waits.append(s)
        clock["t"] += s

    c = LiveClient(Credentials("ak", "sk"), endpoint=origin.netloc, scheme="http",
                   retries=50, backoff=1.0, deadline=20.0, sleep=sleep,
                   clock=lambda: clock["t"])
    with pytest.raises(RemoteError, match="Throttling"):
        c.call("DescribeLiveStreamRecordIndexFiles")
    assert sum(waits) < 20 and len(waits) < 50


# ---- 7. -vv logs carry no secret

def test_debug_logs_of_a_signed_timeline_query_carry_no_signature(
        origin: Hostile, caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    origin.routes[TIMELINE] = text(GOOD)
    signer = Signer("A", "domain-key")
    # The CLI (run by other tests in this process) quiets urllib3 below -vv: name it here.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="urllib3"):
        _timeline(origin, signer=signer)
    lines = [r.getMessage() for r in caplog.records]
    assert any("auth_key=***" in line for line in lines), lines  # urllib3 logged the request
    assert not any("auth_key=1" in line for line in lines)


def test_debug_logs_of_openapi_and_oss_carry_no_token_or_authorization(
        origin: Hostile, make_oss: Callable[..., OssServer],
        caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    origin.routes["/"] = text('{"RequestId": "r"}')
    # V2 puts the signature in the query, where urllib3's debug line shows it (V3 sends it in
    # a header that urllib3 does not log); the callback token is in the query either way.
    c = LiveClient(Credentials("ak", "sk"), endpoint=origin.netloc, scheme="http",
                   sleep=lambda s: None, signature_version="v2")
    oss = make_oss(buckets=("bkt-logs",))
    store = OssStore(oss.url, "bkt-logs", Credentials("testid", "testsecret"))
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="urllib3"), \
            caplog.at_level(logging.DEBUG, logger="oss2"):
        c.call("SetLiveStreamsNotifyUrlConfig", DomainName="d",
               NotifyUrl=f"https://cb.example.com/hook?token={SECRET}x")
        store.put("k.json", b"{}", "application/json")
    text_all = "\n".join(r.getMessage() for r in caplog.records)
    assert "Signature=***" in text_all and "token" in text_all  # the requests were logged
    assert SECRET not in text_all
    assert "'authorization': '***'" in text_all.lower()  # oss2 logged its headers, redacted
    assert "OSS testid:" not in text_all and "'authorization': 'oss" not in text_all.lower()


# ---- 2, 12.5. OSS answers capped; OSS retries under the one policy

def test_oss_listing_gzip_bomb_is_refused_at_the_cap(origin: Hostile) -> None:
    # A bucket endpoint that answers a listing with a gzip bomb (as a hostile or broken proxy
    # in front of OSS could): the store fails with a StoreError instead of inflating it.
    from timeshift.errors import StoreError
    # An IP endpoint is addressed path-style: the bucket is the first path segment.
    origin.routes["/bkt-bomb/"] = raw(gzip_bomb(256 << 20), **{"Content-Encoding": "gzip",
                                                                "Content-Type": "application/xml"})
    store = OssStore(origin.url, "bkt-bomb", Credentials("testid", "testsecret"),
                     max_answer_bytes=4 << 20)
    box = _bounded(lambda: store.list("a/"), 30)
    assert isinstance(box.get("error"), StoreError) and "over" in str(box["error"]), box


def test_oss_qos_delay_is_capped_and_the_deadline_holds(origin: Hostile) -> None:
    from timeshift.errors import StoreError
    from timeshift.retry import RetryPolicy
    origin.routes["/bkt-qos/"] = text("<Error><Code>ServiceUnavailable</Code></Error>", status=503,
                              **{"x-oss-qos-delay-time": "86400000",
                                 "Content-Type": "application/xml"})
    waits: list[float] = []
    store = OssStore(origin.url, "bkt-qos", Credentials("testid", "testsecret"),
                     retry=RetryPolicy(retries=3, retry_after_cap=0.05), sleep=waits.append)
    with pytest.raises(StoreError):
        store.list("a/")
    assert waits == [0.05, 0.05, 0.05]
