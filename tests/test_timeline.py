"""The timeline model (pure) and the timeline query over HTTP against the local origin."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp import web

from timeshift.auth import Signer
from timeshift.errors import AuthError, RemoteError, TimelineError, TransportError, UsageError
from timeshift.http import make_session
from timeshift.localserver import BackgroundServer
from timeshift.sim.origin import OriginServer
from timeshift.timeline import Span, Timeline, clip_spans, find_gaps, merge_spans, query_timeline

W = Span(100, 200)


@pytest.mark.parametrize(
    ("spans", "merged"),
    [
        pytest.param([], (), id="empty"),
        pytest.param([Span(110, 120)], (Span(110, 120),), id="one"),
        pytest.param([Span(110, 120), Span(120, 130)], (Span(110, 130),), id="touching"),
        pytest.param([Span(110, 125), Span(120, 130), Span(121, 122)], (Span(110, 130),),
                     id="overlapping-and-contained"),
        pytest.param([Span(150, 160), Span(110, 120), Span(118, 140)],
                     (Span(110, 140), Span(150, 160)), id="unsorted"),
        pytest.param([Span(5, 5), Span(7, 6)], (), id="empty-spans-dropped"),
    ],
)
def test_merge(spans: list[Span], merged: tuple[Span, ...]) -> None:
    assert merge_spans(spans) == merged


def test_clip_and_gaps_outside_the_window() -> None:
    spans = [Span(0, 50), Span(90, 110), Span(150, 160), Span(190, 300), Span(400, 500)]
    assert clip_spans(spans, W) == (Span(100, 110), Span(150, 160), Span(190, 200))
    assert find_gaps(spans, W) == (Span(110, 150), Span(160, 190))
    assert find_gaps([], W) == (W,)
    assert find_gaps([Span(0, 1000)], W) == ()


def test_model_from_documented_response() -> None:
    payload = {"retCode": 0, "description": "success", "content": {"current": 1514269063,
               "timeline": [{"start": 1514269054, "end": 1514269058},
                            {"start": 1514269058, "end": 1514269062}]}}
    tl = Timeline.from_response(payload, Span(1514269050, 1514269070))
    assert tl.to_dict() == {
        "current": 1514269063,
        "requested": {"start": 1514269050, "end": 1514269070},
        "ranges": [{"start": 1514269054, "end": 1514269062}],
        "gaps": [{"start": 1514269050, "end": 1514269054}, {"start": 1514269062, "end": 1514269070}],
        "covered_seconds": 8,
    }
    assert tl.clock_skew(local_now=1514269060) == 3


@pytest.mark.parametrize("payload", [{"retCode": 7, "description": "bad stream"}, [], {"x": 1},
                                     {"retCode": 0, "content": {"timeline": [{"start": 1}]}}])
def test_model_rejects_error_and_malformed(payload: object) -> None:
    with pytest.raises(TimelineError):
        Timeline.from_response(payload, W)


# -- over HTTP, against the local origin


def _window(o: OriginServer, a: float, b: float) -> tuple[int, int]:
    return int(o.stream_start + a), int(o.stream_start + b)


def test_query_against_origin_with_gaps(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=3600, gaps=((60, 90), (200, 210)))
    start, end = _window(o, 30, 300)
    tl = query_timeline(o.netloc, "live", "cam1", start, end, scheme="http")
    assert [(s.start - start, s.end - start) for s in tl.gaps] == [(30, 60), (170, 180)]
    assert tl.covered_seconds == 270 - 30 - 10
    assert abs(tl.clock_skew()) < 5


def test_query_window_reaching_the_future(origin: OriginServer) -> None:
    start = int(origin.stream_start + 3600 - 20)
    tl = query_timeline(origin.netloc, "live", "cam1", start, start + 600, scheme="http")
    assert tl.ranges and tl.ranges[-1].end <= tl.current + 2
    assert tl.gaps[-1].end == start + 600


def test_signed_query(make_origin: Callable[..., OriginServer]) -> None:
    signer = Signer("A", "secret-key")
    o = make_origin(history=600, signer=signer)
    start, end = _window(o, 0, 60)
    tl = query_timeline(o.netloc, "live", "cam1", start, end, scheme="http", signer=signer)
    assert tl.covered_seconds == 60
    with pytest.raises(AuthError) as info:
        query_timeline(o.netloc, "live", "cam1", start, end, scheme="http")
    assert info.value.status == 403 and "signing" in str(info.value)
    with pytest.raises(AuthError):
        query_timeline(o.netloc, "live", "cam1", start, end, scheme="http",
                       signer=signer.copy_with(key="wrong"))
    assert "secret-key" not in str(info.value)


def test_retries_5xx_then_succeeds(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, fail_rate=0.5, seed=3)
    start, end = _window(o, 0, 60)
    for _ in range(5):
        assert query_timeline(o.netloc, "live", "cam1", start, end, scheme="http",
                              session=make_session(retries=8, backoff=0.01)).covered_seconds == 60
    assert o.config.counters["5xx"] > 0


def test_persistent_5xx_is_a_remote_error(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, fail_rate=1.0)
    start, end = _window(o, 0, 60)
    with pytest.raises(RemoteError) as info:
        query_timeline(o.netloc, "live", "cam1", start, end, scheme="http",
                       session=make_session(retries=2, backoff=0.01))
    assert info.value.status == 503
    assert o.config.counters["5xx"] == 3  # the first try and two retries


def test_service_error_from_origin(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, streams=("live/cam1",))
    start, end = _window(o, 0, 60)
    assert query_timeline(o.netloc, "live", "cam1", start, end, scheme="http").covered_seconds
    with pytest.raises(TimelineError) as info:
        query_timeline(o.netloc, "live", "nope", start, end, scheme="http")
    assert info.value.code != 0 and "not found" in str(info.value)


def test_non_json_answer() -> None:
    # A CDN error page served with 200: a real server on loopback that answers HTML.
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>busy</html>", content_type="text/html")

    def app() -> web.Application:
        a = web.Application()
        a.router.add_get("/openapi/timeline/query", html)
        return a

    with BackgroundServer(app) as srv:
        with pytest.raises(TimelineError, match="not JSON"):
            query_timeline(srv.netloc, "live", "cam1", 100, 200, scheme="http")


def test_bad_format_is_refused_before_sending() -> None:
    with pytest.raises(UsageError):
        query_timeline("127.0.0.1:9", "a", "s", 100, 200, format="mp4")  # type: ignore[arg-type]


def test_connection_refused_is_a_transport_error() -> None:
    with pytest.raises(TransportError):
        query_timeline("127.0.0.1:9", "a", "s", 100, 200, scheme="http",
                       session=make_session(retries=1, backoff=0.01), timeout=2)
