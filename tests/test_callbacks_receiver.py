"""The callback receiver over real sockets: answers, 400s, de-duplication, security, restarts.

The archiver (timeshift.archive) is not on this branch, so the job runner here is a small
recording function; binding the real archiver is one line where the receiver is built.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from callback_helpers import jobs_in
from callback_helpers import wait_until as _wait_until

from timeshift.callbacks.jobs import JobSpec, thread_runner
from timeshift.callbacks.rules import MAX_ANSWER_BYTES, parse_rules
from timeshift.callbacks.security import parse_networks
from timeshift.callbacks.server import ReceiverConfig, ReceiverServer
from timeshift.callbacks.worker import timeline_resolver
from timeshift.sim.origin import OriginServer

wait_until = functools.partial(_wait_until, timeout=15.0)

NS = 10**9
RULES = {
    "record": [
        {"app": "live", "stream": "vip-*", "codec": "h264", "min_vbitrate": 1000,
         "need_record": True, "format": ["mp4", "m3u8"], "interval": {"mp4": 300, "m3u8": 3600}},
        {"stream": "test-*", "need_record": False},
    ],
    "default_record": True,
    "archive": [{"app": "live", "on": ["publish_done", "record_file"],
                 "options": {"bucket": "archive"}}],
}
DOMAIN = "push.example.com"




class Recorder:
    """A job runner that records the jobs it ran (optionally waiting on a gate first)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.jobs: list[JobSpec] = []
        self.gate = gate
        self.lock = threading.Lock()

    async def __call__(self, job: JobSpec, /) -> Mapping[str, Any]:
        if self.gate is not None:
            while not self.gate.is_set():
                await asyncio.sleep(0.02)
        with self.lock:
            self.jobs.append(job)
        return {"status": "ok", "uploaded": 1}


@pytest.fixture
def make_receiver(tmp_path: Path) -> Iterator[Callable[..., ReceiverServer]]:
    started: list[ReceiverServer] = []

    def make(runner: Any = None, *, rules: dict[str, Any] | None = None,
             queue: Path | None = None, resolver: Any = None,
             clock: Callable[[], float] = time.time, **fields: Any) -> ReceiverServer:
        cfg = ReceiverConfig(rules=parse_rules(json.dumps(rules or RULES)), **fields)
        srv = ReceiverServer(cfg, queue or tmp_path / "queue.sqlite", runner or Recorder(),
                             resolver=resolver, clock=clock).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def publish(srv: ReceiverServer, action: str, t: int | None, stream: str = "cam1",
            **extra: str) -> requests.Response:
    q = {"action": action, "app": DOMAIN, "appname": "live", "id": stream,
         "ip": "192.0.2.10", "node": "edge-1", "usrargs": "", **extra}
    if t is not None:
        q["time"] = str(t)
    return requests.get(srv.url + "/publish", params=q, timeout=5)




# -- malformed payloads


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        pytest.param("GET", "/publish", {}, id="publish-empty"),
        pytest.param("GET", "/publish", {"action": "publish", "app": DOMAIN, "appname": "live"},
                     id="publish-no-stream"),
        pytest.param("GET", "/publish", {"action": "explode", "app": DOMAIN, "appname": "live",
                                         "id": "cam1"}, id="publish-bad-action"),
        pytest.param("GET", "/publish", {"action": "publish_done", "app": DOMAIN,
                                         "appname": "live", "id": "cam1", "time": "soon"},
                     id="publish-bad-time"),
        pytest.param("POST", "/record", b"{", id="record-not-json"),
        pytest.param("POST", "/record", b'{"domain": "d.com", "app": "live"}',
                     id="record-partial"),
        pytest.param("POST", "/record", json.dumps(
            {"domain": "d.com", "app": "live", "stream": "s", "uri": "../../etc/passwd",
             "duration": 1, "start_time": 1, "stop_time": 2}).encode(), id="record-climbing-uri"),
        pytest.param("POST", "/record", b"x" * 70000, id="record-too-large"),
        pytest.param("GET", "/on-demand", {"domain": "d.com", "app": "live"}, id="on-demand-partial"),
        pytest.param("GET", "/on-demand", {"domain": "d.com", "app": "live", "stream": "s",
                                           "vbitrate": "fast"}, id="on-demand-bad-bitrate"),
    ],
)
def test_malformed_callbacks_get_400_and_the_receiver_keeps_serving(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path, method: str, path: str,
        payload: Any, caplog: pytest.LogCaptureFixture) -> None:
    srv = make_receiver()
    if method == "GET":
        r = requests.get(srv.url + path, params=payload, timeout=5)
    else:
        r = requests.post(srv.url + path, data=payload, timeout=5)
    # A body over the limit is refused by aiohttp itself with 413, which the service
    # treats like any non-200; everything else is our 400 with the field named.
    expected = 413 if len(payload) > 65536 else 400
    assert r.status_code == expected, r.text
    if expected == 400:
        assert r.json()["ok"] is False and r.json()["error"]
        assert any("400" in rec.getMessage() for rec in caplog.records)  # and it is logged
    ok = requests.get(srv.url + "/on-demand", params={"domain": "d.com", "app": "live",
                                                      "stream": "s"}, timeout=5)
    assert ok.status_code == 200 and ok.json()["NeedRecord"] is True
    assert jobs_in(tmp_path / "queue.sqlite") == []


# -- on-demand answers


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"stream": "vip-1", "codec": "h264", "vbitrate": "2000"},
                     {"ApiVersion": "1.0", "NeedRecord": True,
                      "Interval": {"Mp4": 300, "M3U8": 3600}, "Format": ["mp4", "m3u8"]},
                     id="vip"),
        pytest.param({"stream": "vip-1", "codec": "h265", "vbitrate": "2000"},
                     {"ApiVersion": "1.0", "NeedRecord": True}, id="vip-other-codec-default"),
        pytest.param({"stream": "test-7", "codec": "h264", "vbitrate": "2000"},
                     {"ApiVersion": "1.0", "NeedRecord": False}, id="test-never"),
    ],
)
def test_on_demand_answers_follow_the_rules_quickly_while_a_job_runs(
        make_receiver: Callable[..., ReceiverServer], query: dict[str, str],
        expected: dict[str, Any]) -> None:
    started = threading.Event()

    def slow(job: JobSpec) -> Mapping[str, Any]:
        started.set()
        time.sleep(3)  # a blocking archive, as oss2 uploads are
        return {"status": "ok"}

    srv = make_receiver(thread_runner(slow))
    assert publish(srv, "publish", 1_800_000_000).status_code == 200
    t0 = time.monotonic()
    assert publish(srv, "publish_done", 1_800_000_100).status_code == 200
    assert started.wait(5)  # the job is running now, and keeps running for 3 s
    answers = []
    for _ in range(5):
        t = time.monotonic()
        r = requests.get(srv.url + "/on-demand",
                         params={"domain": "qt01.alivecdn.com", "app": "live", **query}, timeout=5)
        answers.append(time.monotonic() - t)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        assert r.json() == expected and len(r.content) < MAX_ANSWER_BYTES
    assert max(answers) < 0.5, answers  # the service gives up after 5 s
    assert time.monotonic() - t0 < 3  # all answered while the job was still running


# -- de-duplication


def test_publish_then_publish_done_delivered_five_times_is_one_job(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    rec = Recorder()
    srv = make_receiver(rec)
    for _ in range(5):
        assert publish(srv, "publish", 1_800_000_000).json()["ok"]
    answers = [publish(srv, "publish_done", 1_800_000_600).json() for _ in range(5)]
    assert [a["new"] for a in answers] == [True, False, False, False, False]
    assert len({a["job"] for a in answers}) == 1
    wait_until(lambda: [j for j in jobs_in(tmp_path / "queue.sqlite") if j.state == "done"],
               what="the job to finish")
    (job,) = jobs_in(tmp_path / "queue.sqlite")
    assert (job.deliveries, job.attempts, job.result) == (5, 1, {"status": "ok", "uploaded": 1})
    assert len(rec.jobs) == 1
    spec = rec.jobs[0]
    assert (spec.kind, spec.domain, spec.app, spec.stream) == ("session", DOMAIN, "live", "cam1")
    assert (spec.start, spec.end) == (1_800_000_000 * NS, 1_800_000_600 * NS)
    assert spec.options == {"bucket": "archive"}


def test_retries_without_time_collapse_and_sessions_stay_apart(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    """The seed's example carries no time: the receipt time stands in, retries still collapse."""
    now = [1_800_000_000.0]
    rec = Recorder()
    srv = make_receiver(rec, clock=lambda: now[0])
    for _ in range(5):  # retries 1 s apart, as the service sends them
        publish(srv, "publish", None)
        now[0] += 1
    now[0] += 300
    answers = []
    for _ in range(5):
        answers.append(publish(srv, "publish_done", None).json())
        now[0] += 1
    assert [a["new"] for a in answers] == [True, False, False, False, False]
    ids = {a["job"] for a in answers}
    assert len(ids) == 1
    # A second session of the same stream is a second job.
    now[0] += 120
    publish(srv, "publish", None)
    now[0] += 60
    second = publish(srv, "publish_done", None).json()
    assert second["new"] and second["job"] not in ids
    wait_until(lambda: len(rec.jobs) == 2, what="two jobs")
    time.sleep(0.2)
    assert len(rec.jobs) == 2 and len(jobs_in(tmp_path / "queue.sqlite")) == 2
    first = rec.jobs[0]
    assert (first.start, first.end) == (1_800_000_000 * NS, 1_800_000_305 * NS)


def test_publish_done_without_publish_takes_the_session_from_the_timeline(
        make_receiver: Callable[..., ReceiverServer], make_origin: Callable[..., OriginServer],
        tmp_path: Path) -> None:
    now = int(time.time())
    t0 = now - 600
    origin = make_origin(stream_start=float(t0), gaps=((120, 240),))  # sessions [t0, t0+120), [t0+240, …)
    rules = {"archive": [{"app": "live", "play_domain": origin.netloc, "scheme": "http"}]}
    rec = Recorder()
    srv = make_receiver(rec, rules=rules, resolver=timeline_resolver())
    for _ in range(3):
        publish(srv, "publish_done", t0 + 120)
    wait_until(lambda: rec.jobs, what="the job")
    spec = rec.jobs[0]
    assert (spec.domain, spec.scheme) == (origin.netloc, "http")
    assert (spec.start, spec.end) == (t0 * NS, (t0 + 120) * NS)
    (job,) = jobs_in(tmp_path / "queue.sqlite")
    assert job.spec.start == t0 * NS and job.deliveries == 3


def test_record_file_event_queues_a_copy_and_status_events_are_acknowledged(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    rec = Recorder()
    srv = make_receiver(rec)
    event = {"domain": DOMAIN, "app": "live", "stream": "cam1",
             "uri": "live/cam1/0_2026-11-21-06:00:00_2026-11-21-06:05:00.flv",
             "duration": 300.0, "start_time": 1_800_000_000, "stop_time": 1_800_000_300}
    for _ in range(5):
        r = requests.post(srv.url + "/record", json=event, timeout=5)
        assert r.status_code == 200
    for name in ("record_started", "record_paused", "record_resumed"):
        r = requests.post(srv.url + "/record", json={"domain": DOMAIN, "app": "live",
                                                     "stream": "cam1", "event": name}, timeout=5)
        assert r.status_code == 200 and r.json() == {"ok": True}
    other = {**event, "app": "other"}  # no archive rule for it
    assert requests.post(srv.url + "/record", json=other, timeout=5).json()["job"] is None
    wait_until(lambda: rec.jobs, what="the copy job")
    (job,) = jobs_in(tmp_path / "queue.sqlite")
    assert (job.spec.kind, job.spec.uri, job.deliveries) == ("record_file", event["uri"], 5)
    assert srv.counters["record_started"] == 1


def test_a_failing_job_is_retried_then_failed_with_its_error(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    calls: list[str] = []

    async def broken(job: JobSpec, /) -> Mapping[str, Any]:
        calls.append(job.id)
        if len(calls) == 1:
            raise RuntimeError("bucket on fire")
        return {"status": "failed", "error": "3 segments missing"}

    srv = make_receiver(broken, max_attempts=3, retry_delay=0.05, poll=0.05)
    publish(srv, "publish", 1_800_000_000)
    publish(srv, "publish_done", 1_800_000_060)
    job = wait_until(lambda: [j for j in jobs_in(tmp_path / "queue.sqlite")
                              if j.state == "failed"], what="the job to fail")[0]
    assert job.attempts == 3 and len(calls) == 3
    assert job.last_error == "3 segments missing"
    # The receiver goes on serving.
    assert publish(srv, "publish", 1_800_000_100).status_code == 200


# -- authenticity


def test_sources_outside_the_allow_list_get_403(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    srv = make_receiver(allow=parse_networks(["10.0.0.0/8"]))
    assert publish(srv, "publish", 1_800_000_000).status_code == 403
    r = requests.get(srv.url + "/on-demand", params={"domain": "d.com", "app": "a",
                                                     "stream": "s"}, timeout=5)
    assert r.status_code == 403
    srv2 = make_receiver(allow=parse_networks(["127.0.0.0/8"]), queue=tmp_path / "q2.sqlite")
    assert publish(srv2, "publish", 1_800_000_000).status_code == 200


def test_the_shared_secret_must_match_and_never_reaches_the_log(
        make_receiver: Callable[..., ReceiverServer], caplog: pytest.LogCaptureFixture) -> None:
    secret = "k7-very-secret-value"
    srv = make_receiver(secret=secret, secret_param="token")
    assert publish(srv, "publish", 1_800_000_000).status_code == 403
    assert publish(srv, "publish", 1_800_000_000, token="guess").status_code == 403
    assert publish(srv, "publish", 1_800_000_000, token=secret).status_code == 200
    r = requests.get(srv.url + "/on-demand", params={"domain": "d.com", "app": "a", "stream": "s",
                                                     "token": secret}, timeout=5)
    assert r.status_code == 200
    assert "token=***" in caplog.text and "guess" not in caplog.text
    assert secret not in caplog.text and secret not in repr(srv.config)


def test_rate_limit_answers_429_with_retry_after(
        make_receiver: Callable[..., ReceiverServer]) -> None:
    srv = make_receiver(rate=0.5, burst=3)
    params = {"domain": "d.com", "app": "a", "stream": "s"}
    codes = [requests.get(srv.url + "/on-demand", params=params, timeout=5).status_code
             for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = requests.get(srv.url + "/on-demand", params=params, timeout=5)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


# -- restarts

CRASHING_RECEIVER = textwrap.dedent("""
    import asyncio, json, sys, threading
    from timeshift.callbacks.rules import parse_rules
    from timeshift.callbacks.server import ReceiverConfig, ReceiverServer

    async def stuck(job):
        print("RUNNING", job.id, flush=True)
        await asyncio.Event().wait()   # an archive in progress when the process is killed

    cfg = ReceiverConfig(rules=parse_rules(sys.argv[2]))
    srv = ReceiverServer(cfg, sys.argv[1], stuck).start()
    print("URL", srv.url, flush=True)
    threading.Event().wait()
""")


def test_a_receiver_killed_mid_job_loses_nothing_and_runs_the_job_once(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_RECEIVER, str(path), json.dumps(RULES)],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("URL "), line
        url = line.split()[1]

        class Remote:
            pass

        remote = Remote()
        remote.url = url  # type: ignore[attr-defined]
        publish(remote, "publish", 1_800_000_000)  # type: ignore[arg-type]
        job_id = publish(remote, "publish_done", 1_800_000_300).json()["job"]  # type: ignore[arg-type]
        assert proc.stdout.readline().split() == ["RUNNING", job_id]
        # A second publish, whose publish_done will come after the restart.
        publish(remote, "publish", 1_800_000_400)  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    (job,) = jobs_in(path)
    assert (job.state, job.attempts) == ("running", 1)  # what the crash left behind

    rec = Recorder()
    srv = make_receiver(rec, queue=path)
    done = wait_until(lambda: [j for j in jobs_in(path) if j.state == "done"], what="re-run")
    assert done[0].id == job_id and done[0].attempts == 2
    # The session opened before the crash is still known: its publish_done makes its job.
    second = publish(srv, "publish_done", 1_800_000_500).json()
    wait_until(lambda: len(rec.jobs) == 2, what="the second job")
    time.sleep(0.2)
    assert [j.id for j in rec.jobs] == [job_id, second["job"]]  # each ran exactly once
    assert rec.jobs[1].start == 1_800_000_400 * NS


def test_a_graceful_stop_puts_the_running_job_back(
        make_receiver: Callable[..., ReceiverServer], tmp_path: Path) -> None:
    gate = threading.Event()
    rec = Recorder(gate)
    srv = make_receiver(rec)
    publish(srv, "publish", 1_800_000_000)
    publish(srv, "publish_done", 1_800_000_060)
    wait_until(lambda: [j for j in jobs_in(tmp_path / "queue.sqlite") if j.state == "running"],
               what="the job to start")
    srv.stop()
    (job,) = jobs_in(tmp_path / "queue.sqlite")
    assert (job.state, job.attempts) == ("queued", 0)
    gate.set()
    rec2 = Recorder()
    make_receiver(rec2)
    wait_until(lambda: rec2.jobs, what="the job after the restart")
    assert rec.jobs == [] and len(rec2.jobs) == 1


def test_one_receiver_per_queue(make_receiver: Callable[..., ReceiverServer],
                                tmp_path: Path) -> None:
    """A second receiver would take the first one's running jobs for a crash's leftovers."""
    from timeshift.errors import UsageError

    first = make_receiver()
    with pytest.raises(UsageError) as info:
        make_receiver()
    assert info.value.option == "--queue" and "another receiver" in str(info.value)
    first.stop()
    make_receiver()  # free again once the first has stopped
    assert len(jobs_in(tmp_path / "queue.sqlite")) == 0  # readers need no lock
