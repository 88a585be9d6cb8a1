"""Signed callbacks (SPEC §5a) and the receiver's hardening (issue 11 items 4, 8, 9, 10),
over real sockets: the receiver, the local origin and the local Live API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from callback_helpers import jobs_in
from callback_helpers import wait_until as _wait_until

from timeshift.callbacks.jobs import JobSpec
from timeshift.callbacks.register import register_callbacks
from timeshift.callbacks.rules import parse_rules
from timeshift.callbacks.server import ReceiverConfig, ReceiverServer
from timeshift.callbacks.signing import CallbackAuth, callback_signature, signed_headers
from timeshift.openapi.client import LiveClient
from timeshift.openapi.credentials import Credentials
from timeshift.openapi.live import LiveApi
from timeshift.sim.liveapi import LiveApiConfig, LiveApiServer
from timeshift.sim.origin import OriginConfig, OriginServer

wait_until = functools.partial(_wait_until, timeout=15.0)

KEY, OLD_KEY = "notify-key-2026", "notify-key-2025"
PUSH, PLAY = "push.example.com", "play.example.com"
AK, SK = "ak-signed", "sk-signed-secret"
RULES = {"archive": [{"app": "live", "on": ["publish_done", "record_file"],
                      "play_domain": PLAY, "options": {"bucket": "b"}}]}


class Recorder:
    def __init__(self) -> None:
        self.jobs: list[JobSpec] = []

    async def __call__(self, job: JobSpec, /) -> Mapping[str, Any]:
        self.jobs.append(job)
        return {"status": "ok"}


@pytest.fixture
def make_receiver(tmp_path: Path) -> Iterator[Callable[..., ReceiverServer]]:
    started: list[ReceiverServer] = []

    def make(runner: Any = None, *, rules: dict[str, Any] | None = None,
             queue: str = "queue.sqlite", **fields: Any) -> ReceiverServer:
        cfg = ReceiverConfig(rules=parse_rules(json.dumps(rules or RULES)), **fields)
        srv = ReceiverServer(cfg, tmp_path / queue, runner or Recorder()).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def publish(srv: ReceiverServer, action: str, *, headers: dict[str, str] | None = None,
            stream: str = "cam1", t: int = 1_800_000_000, **extra: str) -> requests.Response:
    q = {"action": action, "app": PUSH, "appname": "live", "id": stream, "time": str(t), **extra}
    return requests.get(srv.url + "/publish", params=q, headers=headers, timeout=5)


def record_event(srv: ReceiverServer, headers: dict[str, str] | None) -> requests.Response:
    event = {"domain": PUSH, "app": "live", "stream": "cam1", "uri": "live/cam1/a.m3u8",
             "duration": 60.0, "start_time": 1_800_000_000, "stop_time": 1_800_000_060}
    return requests.post(srv.url + "/record", json=event, headers=headers, timeout=5)


# -- the signature itself


def test_signature_is_md5_of_domain_timestamp_key_and_headers_carry_it() -> None:
    # SPEC §5a's vector input; the digest is md5 of exactly that text, lowercase hex.
    expected = hashlib.md5(b"learn.aliyundoc.com|1519375990|yourkey").hexdigest()
    assert callback_signature("learn.aliyundoc.com", 1519375990, "yourkey") == expected
    assert signed_headers("learn.aliyundoc.com", "yourkey", 1519375990.7) == {
        "ALI-LIVE-TIMESTAMP": "1519375990", "ALI-LIVE-SIGNATURE": expected}
    auth = CallbackAuth(KEY, OLD_KEY, max_skew=300)
    now = 1_800_000_000
    good = callback_signature(PUSH, now, KEY)
    assert auth.check(PUSH, str(now), good, now) is None
    assert auth.check(PUSH, str(now), good.upper(), now) is None
    assert auth.check(PUSH, str(now), callback_signature(PUSH, now, OLD_KEY), now) is None
    assert "stale" in (auth.check(PUSH, str(now), good, now + 301) or "")
    assert "wrong" in (auth.check(PLAY, str(now), good, now) or "")
    assert "unsigned" in (auth.check(PUSH, None, None, now) or "")
    assert "not unix" in (auth.check(PUSH, "²", good, now) or "")
    assert "not unix" in (auth.check(PUSH, "9" * 5000, good, now) or "")
    assert KEY not in repr(auth) and OLD_KEY not in repr(auth)


# -- the receiver checks signatures


def test_signed_callbacks_accepted_bad_ones_403_and_a_valid_one_still_200(
        make_receiver: Callable[..., ReceiverServer], caplog: pytest.LogCaptureFixture) -> None:
    srv = make_receiver(auth=CallbackAuth(KEY, OLD_KEY, max_skew=300))
    now = time.time()
    assert publish(srv, "publish", headers=signed_headers(PUSH, KEY, now)).status_code == 200
    refused = {
        "unsigned": None,
        "wrong-key": signed_headers(PUSH, "not-the-key", now),
        # publish callbacks are signed over the ingest domain, not the play domain
        "wrong-domain": signed_headers(PLAY, KEY, now),
        "stale": signed_headers(PUSH, KEY, now - 320),
        "future": signed_headers(PUSH, KEY, now + 320),
        "timestamp-changed": {**signed_headers(PUSH, KEY, now),
                              "ALI-LIVE-TIMESTAMP": str(int(now) - 1)},
    }
    for name, headers in refused.items():
        r = publish(srv, "publish_done", headers=headers, t=1_800_000_060)
        assert r.status_code == 403, (name, r.text)
        assert r.json()["ok"] is False
    # The same address, signed with the key before the rotation: still accepted.
    r = publish(srv, "publish_done", headers=signed_headers(PUSH, OLD_KEY, time.time()),
                t=1_800_000_060)
    assert r.status_code == 200 and r.json()["job"]
    assert srv.counters["403"] == len(refused)
    assert KEY not in caplog.text and OLD_KEY not in caplog.text


def test_recording_callbacks_are_signed_over_the_callback_urls_host(
        make_receiver: Callable[..., ReceiverServer]) -> None:
    srv = make_receiver(auth=CallbackAuth(KEY))
    now = time.time()
    # The receiver is reached as 127.0.0.1:port: the host, without the port, is signed.
    assert record_event(srv, signed_headers("127.0.0.1", KEY, now)).status_code == 200
    assert record_event(srv, signed_headers(f"127.0.0.1:{srv.port}", KEY, now)).status_code == 403
    assert record_event(srv, signed_headers(PUSH, KEY, now)).status_code == 403
    od = requests.get(srv.url + "/on-demand", params={"domain": PUSH, "app": "live",
                                                      "stream": "cam1"},
                      headers=signed_headers("127.0.0.1", KEY, now), timeout=5)
    assert od.status_code == 200
    # Behind a proxy the registered host is configured; the Host header no longer counts.
    proxied = make_receiver(auth=CallbackAuth(KEY), callback_host="hooks.example.com",
                            queue="q2.sqlite")
    assert record_event(proxied, signed_headers("hooks.example.com", KEY, now)).status_code == 200
    assert record_event(proxied, signed_headers("127.0.0.1", KEY, now)).status_code == 403


def test_the_shared_secret_stays_an_extra_layer(
        make_receiver: Callable[..., ReceiverServer]) -> None:
    srv = make_receiver(auth=CallbackAuth(KEY), secret="tok-123")
    now = time.time()
    assert publish(srv, "publish", headers=signed_headers(PUSH, KEY, now)).status_code == 403
    assert publish(srv, "publish", token="tok-123").status_code == 403
    assert publish(srv, "publish", headers=signed_headers(PUSH, KEY, now),
                   token="tok-123").status_code == 200


# -- issue 11 item 8: failures cannot lock out valid callbacks


def test_forty_wrong_tokens_do_not_lock_out_the_real_publish_done(
        make_receiver: Callable[..., ReceiverServer]) -> None:
    srv = make_receiver(secret="tok-123")  # the defaults: 10/s, burst 30
    assert publish(srv, "publish", token="tok-123").status_code == 200
    codes = [publish(srv, "publish_done", token=f"guess-{i}", t=1_800_000_060).status_code
             for i in range(40)]
    assert set(codes) <= {403, 429} and codes[0] == 403 and 429 in codes  # failures are limited
    # The service's real publish_done, from the same address, right after the flood.
    r = publish(srv, "publish_done", token="tok-123", t=1_800_000_060)
    assert r.status_code == 200 and r.json()["job"]


# -- issue 11 item 9: bad callbacks are 400 naming the field, never 500


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        pytest.param("GET", "/publish", {"action": "publish", "app": PUSH, "appname": "live",
                                         "id": "cam1", "time": "²"}, "time", id="superscript"),
        pytest.param("GET", "/publish", {"action": "publish", "app": PUSH, "appname": "live",
                                         "id": "cam1", "time": "9" * 5000}, "time",
                     id="5000-digits"),
        pytest.param("GET", "/on-demand", {"domain": PUSH, "app": "live", "stream": "s",
                                           "vbitrate": "١٢"}, "vbitrate", id="arabic-digits"),
        pytest.param("POST", "/record", b"[" * 50000, "body", id="nested-50000"),
        pytest.param("POST", "/record", json.dumps(
            {"domain": PUSH, "app": "live", "stream": "s", "uri": "a.flv", "duration": 1,
             "start_time": "٣", "stop_time": 2}).encode(), "start_time", id="record-digits"),
        pytest.param("POST", "/record", b'{"domain": "d.com", "app": "live", "stream": "s", '
                     b'"uri": "a.flv", "duration": 1, "start_time": ' + b"7" * 5000 + b"}",
                     "body", id="record-5000-digit-int"),
    ],
)
def test_bad_callbacks_get_400_naming_the_field(
        make_receiver: Callable[..., ReceiverServer], method: str, path: str, payload: Any,
        field: str) -> None:
    srv = make_receiver()
    if method == "GET":
        r = requests.get(srv.url + path, params=payload, timeout=5)
    else:
        r = requests.post(srv.url + path, data=payload, timeout=5)
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith(field), r.json()


# -- issue 11 item 10: a callback does not choose the fetched host


def test_an_unauthenticated_callback_cannot_name_an_address_to_fetch(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    rec = Recorder()
    wildcard = {"archive": [{"app": "live", "options": {"bucket": "b"}}]}
    srv = make_receiver(rec, rules=wildcard)
    for domain in ("127.0.0.1:6379", "10.0.0.5", "metadata.internal", "localhost"):
        r = requests.get(srv.url + "/publish", params={
            "action": "publish_done", "app": domain, "appname": "live", "id": "cam1",
            "time": "1800000060"}, timeout=5)
        assert r.status_code == 400 and r.json()["error"].startswith("app"), (domain, r.text)
    # A rule that names the domain, or gives play_domain, decides instead.
    named = {"archive": [{"domain": "127.0.0.1:8080", "app": "live"},
                         {"app": "live", "play_domain": PLAY}]}
    srv2 = make_receiver(rec, rules=named, queue="q2.sqlite")
    for domain in ("127.0.0.1:8080", "10.0.0.5"):
        r = requests.get(srv2.url + "/publish", params={
            "action": "publish_done", "app": domain, "appname": "live", "id": "cam1",
            "time": "1800000060"}, timeout=5)
        assert r.status_code == 200 and r.json()["job"], r.text
    jobs = jobs_in(tmp_path / "q2.sqlite")
    assert sorted(j.spec.domain for j in jobs) == sorted(["127.0.0.1:8080", PLAY])
    assert jobs_in(tmp_path / "queue.sqlite") == []


# -- issue 11 item 4: one stalled job does not stall the queue


def test_a_stalled_job_times_out_and_the_next_one_runs(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    ran: list[str] = []

    async def runner(job: JobSpec, /) -> Mapping[str, Any]:
        if job.stream == "stalled":
            await asyncio.Event().wait()  # a transfer that never ends
        ran.append(job.stream)
        return {"status": "ok"}

    srv = make_receiver(runner, job_timeout=0.5, max_attempts=1, poll=0.05)
    for stream in ("stalled", "cam2"):
        assert publish(srv, "publish", stream=stream).status_code == 200
    t0 = time.monotonic()
    assert publish(srv, "publish_done", stream="stalled", t=1_800_000_060).status_code == 200
    assert publish(srv, "publish_done", stream="cam2", t=1_800_000_060).status_code == 200
    wait_until(lambda: ran == ["cam2"], what="the second job")
    assert time.monotonic() - t0 < 10
    failed = [j for j in jobs_in(tmp_path / "queue.sqlite") if j.state == "failed"]
    assert [j.spec.stream for j in failed] == ["stalled"]
    assert "timed out after 0.5 s" in (failed[0].last_error or "")


# -- the whole loop, signed


def test_register_with_a_key_then_the_origins_signed_callbacks_make_the_job(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    rec = Recorder()
    srv = make_receiver(rec, auth=CallbackAuth(KEY), secret="tok-9")
    with LiveApiServer(LiveApiConfig(access_key_id=AK, access_key_secret=SK,
                                     domains=(PLAY,))) as api_srv:
        live = LiveApi(LiveClient(Credentials(AK, SK), endpoint=api_srv.netloc, scheme="http"))
        out = register_callbacks(live, PLAY, srv.url + "/publish",
                                 record_notify_url=srv.url + "/record", secret="tok-9",
                                 auth_key=KEY)
        assert out["signed"] is True and KEY not in json.dumps(out)
        conf = live.describe_streams_notify_url(PLAY)
        assert conf is not None and (conf["NotifyReqAuth"], conf["NotifyAuthKey"]) == ("yes", KEY)
        rconf = live.describe_record_notify_config(PLAY)
        assert rconf is not None and (rconf["NotifyReqAuth"], rconf["NotifyAuthKey"]) == ("yes", KEY)
    t0 = float(int(time.time()) - 4)
    good = OriginConfig(stream_start=t0, gaps=((6, 10**7),), streams=("live/cam1",),
                        notify_url=conf["NotifyUrl"], notify_domain=PUSH,
                        notify_auth_key=conf["NotifyAuthKey"], notify_retry_interval=0.05)
    with OriginServer(good):
        wait_until(lambda: good.counters.get("notify_publish_done") == 1, what="publish_done")
    wait_until(lambda: rec.jobs, what="the job")
    assert (rec.jobs[0].domain, rec.jobs[0].start) == (PLAY, int(t0) * 10**9)
    assert srv.counters.get("403") is None
    # An origin with the wrong key is refused every time and gives up, as the service would.
    bad = OriginConfig(stream_start=t0, streams=("live/cam9",), notify_url=conf["NotifyUrl"],
                       notify_domain=PUSH, notify_auth_key="wrong", notify_retries=2,
                       notify_retry_interval=0.02)
    with OriginServer(bad):
        wait_until(lambda: bad.counters.get("notify_failed") == 1, what="the give-up")
    assert srv.counters["403"] == 3


def test_cli_serve_takes_the_key_from_the_environment_only(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    env = {**os.environ, "MY_KEY": KEY, "MY_OLD_KEY": OLD_KEY}
    env.pop("TIMESHIFT_NOTIFY_AUTH_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "timeshift", "callbacks", "serve", "--port", "0", "--rules",
         str(rules), "--queue", str(tmp_path / "q.sqlite"), "--runner", "log",
         "--notify-auth-key-env", "MY_KEY", "--previous-key-env", "MY_OLD_KEY",
         "--ingest-domain", PUSH, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        while lines[-1] and lines[-1].rstrip() != "}":
            lines.append(proc.stdout.readline())
        info = json.loads("".join(lines))
        assert info["signed"] == {"previous_key": True, "max_skew": 300}
        base = info["url"] + "/publish"
        q = {"action": "publish", "app": PUSH, "appname": "live", "id": "cam1"}
        now = time.time()
        assert requests.get(base, params=q, timeout=5).status_code == 403
        for key in (KEY, OLD_KEY):
            r = requests.get(base, params=q, headers=signed_headers(PUSH, key, now), timeout=5)
            assert r.status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert KEY not in err and OLD_KEY not in err
    bad = subprocess.run(
        [sys.executable, "-m", "timeshift", "callbacks", "serve", "--port", "0", "--rules",
         str(rules), "--notify-auth-key-env", "NO_SUCH_KEY_VAR"],
        capture_output=True, text=True, timeout=30, env=env)
    assert bad.returncode == 2 and "--notify-auth-key-env" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_the_local_live_apis_recording_callbacks_are_signed_over_the_url_host(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    rec = Recorder()
    srv = make_receiver(rec, auth=CallbackAuth(KEY))
    other = make_receiver(auth=CallbackAuth("another-key"), queue="q2.sqlite")
    cfg = LiveApiConfig(access_key_id=AK, access_key_secret=SK, domains=(PLAY, "other.example.com"),
                        notify_retry_interval=0.02)
    with LiveApiServer(cfg) as api_srv:
        live = LiveApi(LiveClient(Credentials(AK, SK), endpoint=api_srv.netloc, scheme="http"))
        register_callbacks(live, PLAY, srv.url + "/publish", record_notify_url=srv.url + "/record",
                           need_status_notify=True, auth_key=KEY)
        register_callbacks(live, "other.example.com", other.url + "/publish",
                           record_notify_url=other.url + "/record", auth_key=KEY)
        info = live.create_record_index_files(PLAY, "live", "cam1", start=1_800_000_000,
                                              end=1_800_000_600, oss_endpoint="e",
                                              oss_bucket="b", oss_object="live/cam1/a.m3u8")
        live.real_time_record_command(PLAY, "live", "cam1", "start")
        wait_until(lambda: cfg.counters.get("record_notify") == 2, what="two signed callbacks")
        # The other receiver holds another key: refused every time, then given up.
        live.create_record_index_files("other.example.com", "live", "cam1", start=1_800_000_000,
                                       end=1_800_000_600, oss_endpoint="e", oss_bucket="b",
                                       oss_object="live/cam1/b.m3u8")
        wait_until(lambda: cfg.counters.get("record_notify_failed") == 1, what="the give-up")
    assert srv.counters["record_file"] == 1 and srv.counters["record_started"] == 1
    assert srv.counters.get("403") is None and other.counters["403"] == 6
    (job,) = jobs_in(tmp_path / "queue.sqlite")
    assert (job.spec.kind, job.spec.uri, job.spec.domain) == ("record_file", info.oss_object, PLAY)


def test_cli_register_sets_the_key_from_the_environment() -> None:
    with LiveApiServer(LiveApiConfig(access_key_id=AK, access_key_secret=SK,
                                     domains=(PLAY,))) as api_srv:
        env = {**os.environ, "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK, "TIMESHIFT_NOTIFY_AUTH_KEY": KEY}
        r = subprocess.run(
            [sys.executable, "-m", "timeshift", "callbacks", "register", "--domain", PLAY,
             "--notify-url", "https://hooks.example.com/publish", "--record-notify-url",
             "https://hooks.example.com/record", "--endpoint", api_srv.netloc, "--scheme", "http",
             "--json"], capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["signed"] is True and KEY not in r.stdout + r.stderr
        live = LiveApi(LiveClient(Credentials(AK, SK), endpoint=api_srv.netloc, scheme="http"))
        for conf in (live.describe_streams_notify_url(PLAY),
                     live.describe_record_notify_config(PLAY)):
            assert conf is not None and (conf["NotifyReqAuth"], conf["NotifyAuthKey"]) == ("yes", KEY)


def test_sim_origin_from_the_cli_signs_its_callbacks(
        make_receiver: Callable[..., ReceiverServer]) -> None:
    srv = make_receiver(auth=CallbackAuth(KEY))
    proc = subprocess.Popen(
        [sys.executable, "-m", "timeshift", "sim", "origin", "--history", "60", "--notify-url",
         srv.url + "/publish", "--notify-domain", PUSH, "--notify-auth-key-env", "SIM_KEY",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SIM_KEY": KEY})
    try:
        wait_until(lambda: srv.counters.get("publish") == 1, what="the signed publish")
        assert srv.counters.get("403") is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert KEY not in err
