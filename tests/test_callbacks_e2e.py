"""The whole callback loop on loopback: register through the local Live API, the local origin's
publish / publish_done callbacks, the receiver, its queue, and an archive in the local OSS.

The archiver (timeshift.archive) is not on this branch: the runner here is a small stand-in
that copies the session's segments and a VOD index into the local OSS, so "the archive
plays from OSS" is checked against what it wrote. On merge the real archiver replaces it.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import m3u8
import oss2
import pytest
import requests
from callback_helpers import jobs_in
from callback_helpers import wait_until as _wait_until

from timeshift.archive import OssStore
from timeshift.callbacks.register import register_callbacks
from timeshift.callbacks.rules import parse_rules
from timeshift.callbacks.runners import load_runner
from timeshift.callbacks.server import ReceiverConfig, ReceiverServer
from timeshift.openapi.client import LiveClient
from timeshift.openapi.credentials import Credentials
from timeshift.openapi.live import LiveApi
from timeshift.sim.liveapi import LiveApiConfig, LiveApiServer
from timeshift.sim.origin import OriginConfig, OriginServer, publish_events, publish_sessions
from timeshift.sim.oss import OssConfig, OssServer

wait_until = functools.partial(_wait_until, timeout=20.0)

AK, SK = "ak-callbacks", "sk-callbacks-secret"
OSS_AK, OSS_SK, BUCKET = "oss-ak", "oss-sk", "archive"
SECRET = "cb-shared-secret-123"
PLAY = "play.example.com"
NS = 10**9
RULES = {
    "record": [{"app": "live", "codec": "h264", "need_record": True, "format": ["m3u8"],
                "interval": {"m3u8": 600}}],
    "archive": [{"app": "live", "scheme": "http", "options": {"bucket": BUCKET}}],
}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "timeshift", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})






@pytest.fixture
def liveapi() -> Iterator[LiveApiServer]:
    with LiveApiServer(LiveApiConfig(access_key_id=AK, access_key_secret=SK,
                                     domains=(PLAY,))) as srv:
        yield srv


@pytest.fixture
def oss(tmp_path: Path) -> Iterator[OssServer]:
    with OssServer(OssConfig(access_key_id=OSS_AK, access_key_secret=OSS_SK,
                             root=tmp_path / "oss", buckets=(BUCKET,))) as srv:
        yield srv


def live_api(srv: LiveApiServer) -> LiveApi:
    return LiveApi(LiveClient(Credentials(AK, SK), endpoint=srv.netloc, scheme="http",
                              sleep=lambda s: None))


# -- registering


def test_register_through_the_cli_sets_both_callbacks_with_the_secret(
        liveapi: LiveApiServer) -> None:
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK,
           "TIMESHIFT_CALLBACK_SECRET": SECRET}
    args = ["callbacks", "register", "--domain", PLAY,
            "--notify-url", "https://hooks.example.com/publish",
            "--record-notify-url", "https://hooks.example.com/record",
            "--on-demand-url", "https://hooks.example.com/on-demand", "--need-status-notify",
            "--endpoint", liveapi.netloc, "--scheme", "http", "--json"]
    r = run_cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["notify_url"] == "https://hooks.example.com/publish?token=***"
    assert SECRET not in r.stdout + r.stderr
    api = live_api(liveapi)
    assert api.describe_streams_notify_url(PLAY) == {
        "DomainName": PLAY, "NotifyUrl": f"https://hooks.example.com/publish?token={SECRET}"}
    conf = api.describe_record_notify_config(PLAY)
    assert conf is not None
    assert conf["NotifyUrl"] == f"https://hooks.example.com/record?token={SECRET}"
    assert conf["OnDemandUrl"] == f"https://hooks.example.com/on-demand?token={SECRET}"
    assert conf["NeedStatusNotify"] is True
    # Again, with another URL: the recording callback is updated, not added twice.
    r2 = run_cli(*[a.replace("/record", "/record2") for a in args], env=env)
    assert r2.returncode == 0, r2.stderr
    conf = api.describe_record_notify_config(PLAY)
    assert conf is not None and conf["NotifyUrl"].startswith("https://hooks.example.com/record2?")
    # Bad input is one line and exit 2, before any call.
    bad = run_cli("callbacks", "register", "--domain", PLAY, "--notify-url", "ftp://x",
                  "--endpoint", liveapi.netloc, "--scheme", "http", env=env)
    assert bad.returncode == 2 and "--notify-url" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_notify_actions_with_the_official_sdk(liveapi: LiveApiServer) -> None:
    """aliyun-python-sdk-core's CommonRequest against the local Live API, unmodified."""
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    sdk = AcsClient(AK, SK, "cn-shanghai")

    def call(action: str, **params: str) -> dict[str, Any]:
        r = CommonRequest(domain=liveapi.netloc, version="2016-11-01", action_name=action)
        r.set_protocol_type("http")
        r.set_accept_format("json")
        for k, v in params.items():
            r.add_query_param(k, v)
        body: dict[str, Any] = json.loads(sdk.do_action_with_exception(r))
        return body

    assert "RequestId" in call("SetLiveStreamsNotifyUrlConfig", DomainName=PLAY,
                               NotifyUrl="http://api.example.com/publish")
    got = call("DescribeLiveStreamsNotifyUrlConfig", DomainName=PLAY)
    assert got["LiveStreamsNotifyConfig"] == {"DomainName": PLAY,
                                              "NotifyUrl": "http://api.example.com/publish"}
    call("DeleteLiveStreamsNotifyUrlConfig", DomainName=PLAY)
    assert "LiveStreamsNotifyConfig" not in call("DescribeLiveStreamsNotifyUrlConfig",
                                                 DomainName=PLAY)
    call("AddLiveRecordNotifyConfig", DomainName=PLAY, NotifyUrl="http://api.example.com/rec",
         NeedStatusNotify="true")
    rec = call("DescribeLiveRecordNotifyConfig", DomainName=PLAY)["LiveRecordNotifyConfig"]
    assert (rec["NotifyUrl"], rec["NeedStatusNotify"]) == ("http://api.example.com/rec", True)
    call("DeleteLiveRecordNotifyConfig", DomainName=PLAY)
    assert "LiveRecordNotifyConfig" not in call("DescribeLiveRecordNotifyConfig", DomainName=PLAY)


def test_register_library_refuses_bad_urls_before_calling(liveapi: LiveApiServer) -> None:
    from timeshift.errors import UsageError

    with pytest.raises(UsageError) as info:
        register_callbacks(live_api(liveapi), PLAY, "https://h/p", record_notify_url="rec")
    assert info.value.option == "--record-notify-url"


# -- the origin's sessions


@pytest.mark.parametrize(
    ("gaps", "sessions"),
    [
        pytest.param((), [(0.0, None)], id="always-on"),
        pytest.param(((30, 60),), [(0.0, 30), (60, None)], id="one-gap"),
        pytest.param(((0, 10), (20, 30), (25, 40)), [(10, 20), (40, None)], id="leading-overlapping"),
    ],
)
def test_origin_sessions_are_the_stretches_between_gaps(
        gaps: tuple[tuple[float, float], ...], sessions: list[tuple[float, float | None]]) -> None:
    assert publish_sessions(gaps) == sessions
    events = publish_events(1000.0, gaps, -1e18, 1e18)
    assert [a for _, a in events] == ["publish", "publish_done"] * (len(sessions) - 1) + ["publish"]


# -- the whole loop


def test_publish_then_publish_done_five_times_makes_one_archive_that_plays_from_oss(
        liveapi: LiveApiServer, oss: OssServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole loop with the real archiver (``--runner archive``, the default)."""
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", OSS_AK)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", OSS_SK)
    monkeypatch.setenv("TIMESHIFT_CACHE_DIR", str(tmp_path / "cache"))
    rules = {**RULES, "archive": [{"app": "live", "scheme": "http",
                                   "options": {"bucket": BUCKET, "endpoint": oss.url}}]}
    queue = tmp_path / "queue.sqlite"
    cfg = ReceiverConfig(rules=parse_rules(json.dumps(rules)), secret=SECRET)
    with ReceiverServer(cfg, queue, load_runner("archive")) as receiver:
        register_callbacks(live_api(liveapi), PLAY, receiver.url + "/publish",
                           record_notify_url=receiver.url + "/record",
                           on_demand_url=receiver.url + "/on-demand", secret=SECRET)
        notify = live_api(liveapi).describe_streams_notify_url(PLAY)
        assert notify is not None
        # A session that began 4 s ago and ends 2 s from now; every callback is delivered
        # five times, as the service does when it misses the answers.
        t0 = float(int(time.time()) - 4)
        origin_cfg = OriginConfig(stream_start=t0, gaps=((6, 10**7),), streams=("live/cam1",),
                                  notify_url=notify["NotifyUrl"], notify_deliveries=5,
                                  notify_retry_interval=0.05)
        with OriginServer(origin_cfg) as origin:
            wait_until(lambda: origin_cfg.counters.get("notify_publish_done") == 5,
                       what="five publish_done deliveries")
            done = wait_until(lambda: [j for j in jobs_in(queue) if j.state == "done"],
                              what="the archive job")
            jobs = jobs_in(queue)
            assert len(jobs) == 1 and done[0].deliveries == 5 and done[0].attempts == 1
            assert origin_cfg.counters["notify_publish"] == 5
            assert receiver.counters["publish"] == 5 and receiver.counters["publish_done"] == 5
            spec = jobs[0].spec
            assert (spec.domain, spec.app, spec.stream) == (origin.netloc, "live", "cam1")
            assert (spec.start, spec.end) == (int(t0) * NS, (int(t0) + 6) * NS)
            result = done[0].result
            assert result is not None and result["uploaded"] == 3

            # The archive plays from OSS: every segment the index names is there, and the
            # whole session decodes from a presigned index URL (PyAV: FFmpeg's libraries).
            assert result["status"] == "ok" and result["gaps"] == []
            bucket = oss2.Bucket(oss2.Auth(OSS_AK, OSS_SK), oss.url, BUCKET)
            index = m3u8.loads(bucket.get_object(result["index_key"]).read().decode())
            assert index.is_endlist and sum(s.duration for s in index.segments) == 6
            store = OssStore(oss.url, BUCKET, Credentials(OSS_AK, OSS_SK))
            with av.open(store.presign(result["index_key"], 600, hls=True)) as c:
                assert sum(1 for _ in c.decode(video=0)) == 150  # 6 s at 25 fps

            # The other callbacks of the same receiver, with the registered secret.
            od = requests.get(receiver.url + "/on-demand", params={
                "domain": PLAY, "app": "live", "stream": "cam1", "codec": "h264",
                "vbitrate": "1500", "token": SECRET}, timeout=5)
            assert od.json() == {"ApiVersion": "1.0", "NeedRecord": True,
                                 "Interval": {"M3U8": 600}, "Format": ["m3u8"]}
            bad = requests.get(notify["NotifyUrl"] + "&action=publish_done&app=x", timeout=5)
            assert bad.status_code == 400
            assert requests.get(receiver.url + "/publish", timeout=5).status_code == 403

    r = run_cli("callbacks", "jobs", "--queue", str(queue), "--json")
    assert r.returncode == 0, r.stderr
    (listed,) = json.loads(r.stdout)
    assert (listed["state"], listed["deliveries"], listed["kind"]) == ("done", 5, "session")


def test_serve_from_the_cli_with_the_log_runner(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    queue = tmp_path / "q.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "timeshift", "callbacks", "serve", "--port", "0", "--rules",
         str(rules), "--queue", str(queue), "--runner", "log", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TIMESHIFT_CALLBACK_SECRET": SECRET})
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        while lines[-1] and lines[-1].rstrip() != "}":
            lines.append(proc.stdout.readline())
        info = json.loads("".join(lines))
        assert info["secret"] is True and info["runner"] == "log"
        base = info["url"] + "/publish"
        q = {"app": PLAY, "appname": "live", "id": "cam1", "token": SECRET}
        assert requests.get(base, params={**q, "action": "publish", "time": "1800000000"},
                            timeout=5).status_code == 200
        assert requests.get(base, params={**q, "action": "publish_done", "time": "1800000060"},
                            timeout=5).status_code == 200

        def listed() -> list[dict[str, Any]]:
            r = run_cli("callbacks", "jobs", "--queue", str(queue), "--json")
            assert r.returncode == 0, r.stderr
            return [j for j in json.loads(r.stdout) if j["state"] == "done"]

        (job,) = wait_until(listed, what="the logged job")
        assert job["result"] == {"status": "ok", "archived": False, "runner": "log"}
        text = run_cli("callbacks", "jobs", "--queue", str(queue))
        assert "done" in text.stdout and "1 job(s)" in text.stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        pytest.param(["--runner", "log", "--rules", "/nonexistent.json"], "--rules", id="no-rules"),
        pytest.param(["--runner", "nomodule", "--rules", "RULES"], "--runner", id="bad-runner"),
        pytest.param(["--runner", "log", "--rules", "RULES", "--allow", "10.0.0.0/40"], "--allow",
                     id="bad-cidr"),
        pytest.param(["--runner", "log", "--rules", "RULES", "--secret-env", "NO_SUCH_VAR_X"],
                     "--secret-env", id="missing-secret-env"),
    ],
)
def test_serve_refuses_bad_input_in_one_line(tmp_path: Path, args: list[str], flag: str) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    r = run_cli("callbacks", "serve", "--port", "0", "--queue", str(tmp_path / "q.sqlite"),
                *[str(rules) if a == "RULES" else a for a in args])
    assert r.returncode == 2 and flag in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_origin_retries_a_failed_callback_as_the_service_does() -> None:
    """A receiver that fails twice gets the callback on the third try; one that never
    answers 200 is given up after 1 + 5 tries, and the origin goes on."""
    from aiohttp import web

    from timeshift.localserver import BackgroundServer

    seen: list[dict[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        if request.query["id"] == "down" or len([s for s in seen if s["id"] == "cam1"]) <= 2:
            return web.Response(status=503)
        return web.Response(text="ok")

    def app() -> web.Application:
        a = web.Application()
        a.router.add_get("/hook", hook)
        return a

    with BackgroundServer(app) as hooks:
        t0 = float(int(time.time()) - 30)
        cfg = OriginConfig(stream_start=t0, notify_url=hooks.url + "/hook?token=x",
                           notify_streams=("live/cam1", "live/down"), notify_domain=PLAY,
                           notify_retry_interval=0.02)
        with OriginServer(cfg):
            wait_until(lambda: cfg.counters.get("notify_failed") == 1, what="the give-up")
            wait_until(lambda: cfg.counters.get("notify_publish") == 1, what="the delivery")
    cam = [s for s in seen if s["id"] == "cam1"]
    assert len(cam) == 3 and len([s for s in seen if s["id"] == "down"]) == 6
    # The session under way at start-up is announced with its real start, in the seed's form.
    assert cam[-1] == {"token": "x", "action": "publish", "app": PLAY, "appname": "live",
                       "id": "cam1", "ip": "127.0.0.1", "node": "timeshift-sim-origin",
                       "usrargs": "", "time": str(int(t0))}
