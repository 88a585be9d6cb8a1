"""The command line as a user runs it: a subprocess per call, exit codes, one-line errors, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from timeshift.sim.origin import OriginServer

BASE = ["--domain", "play.example.com", "--app", "live", "--stream", "cam1"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "timeshift", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        pytest.param([*BASE, "--start", "now-1h", "--end", "now-2h"], "--end", id="end-before-start"),
        pytest.param([*BASE, "--start", "now-1h", "--time-format", "human", "--zone", "10"],
                     "--zone", id="zone-10"),
        pytest.param([*BASE, "--start", "now-1h", "--zone", "8"], "--zone", id="unix-zone-8"),
        pytest.param([*BASE, "--start", "now-1h", "--unit", "min"], "--unit", id="unknown-unit"),
        pytest.param(["--parse", "https://h/a/s.m3u8?lhs_start=1&lhs_start_human_s_8=2017080920001"],
                     "lhs_start_human_s_8", id="human-wrong-digits"),
        pytest.param(["--app", "live", "--stream", "cam1", "--start", "now"], "--domain",
                     id="missing-domain"),
        pytest.param([*BASE, "--start", "yesterday"], "--start", id="bad-time"),
        pytest.param([*BASE, "--start", "now", "--auth-type", "A", "--auth-key-env", "NO_SUCH_VAR"],
                     "--auth-key-env", id="missing-key-env"),
        pytest.param([*BASE, "--offset", "soon"], "--offset", id="bad-offset"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], flag: str) -> None:
    r = run("url", *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_url_json_and_parse_round_trip() -> None:
    r = run("url", *BASE, "--start", "2026-11-21T14:03:10+08:00", "--vodend",
            "2026-11-21T14:05:40+08:00", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mode"] == "vod"
    assert out["start"] == {"iso": "2026-11-21T06:03:10Z", "unix": 1795240990}
    assert out["end"]["unix"] - out["start"]["unix"] == 150
    back = json.loads(run("url", "--parse", out["url"], "--json").stdout)
    assert (back["start"], back["end"], back["mode"]) == (out["start"], out["end"], "vod")


def test_human_zone_8_url() -> None:
    r = run("url", *BASE, "--start", "2017-08-09T20:00:10+08:00", "--time-format", "human",
            "--zone", "8", "--marker", "lhs_start")
    assert r.stdout.strip() == ("https://play.example.com/live/cam1.m3u8?lhs_start=1"
                                "&lhs_start_human_s_8=20170809200010")


def test_signing_key_from_environment_not_argv() -> None:
    r = run("url", *BASE, "--start", "1444435200", "--auth-type", "A", "--auth-key-env", "K",
            "--auth-timestamp", "1444435200", env={"K": "aliyuncdnexp1234"})
    assert r.returncode == 0 and "auth_key=1444435200-0-0-" in r.stdout
    assert "aliyuncdnexp1234" not in r.stdout + r.stderr
    r = run("url", *BASE, "--start", "now", "--auth-type", "A", "--auth-key", "x")
    assert r.returncode == 2  # there is no flag that takes the key itself


def test_timeline_json_against_origin(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, gaps=((10, 20),))
    t0 = int(o.stream_start)
    r = run("timeline", "--domain", o.netloc, "--scheme", "http", "--app", "live", "--stream",
            "cam1", "--start", str(t0), "--end", str(t0 + 60), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"current", "requested", "ranges", "gaps", "covered_seconds"}
    assert out["requested"] == {"start": t0, "end": t0 + 60}
    assert out["ranges"] == [{"start": t0, "end": t0 + 10}, {"start": t0 + 20, "end": t0 + 60}]
    assert out["gaps"] == [{"start": t0 + 10, "end": t0 + 20}] and out["covered_seconds"] == 50
    text = run("timeline", "--domain", o.netloc, "--scheme", "http", "--app", "live", "--stream",
               "cam1", "--start", str(t0), "--end", str(t0 + 60))
    assert "GAP" in text.stdout and "covered 50 of 60 s" in text.stdout


def test_timeline_remote_errors_exit_1(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, streams=("live/cam1",), signer=None)
    r = run("timeline", "--domain", o.netloc, "--scheme", "http", "--app", "live", "--stream",
            "other", "--start", "now-1m", "--end", "now")
    assert r.returncode == 1 and "stream not found" in r.stderr
    from timeshift.auth import Signer

    s = make_origin(history=600, signer=Signer("A", "k"))
    r = run("timeline", "--domain", s.netloc, "--scheme", "http", "--app", "live", "--stream",
            "cam1", "--start", "now-1m", "--end", "now")
    assert r.returncode == 1 and "HTTP 403" in r.stderr and "--auth-type" in r.stderr


def test_sim_origin_serves_until_stopped() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "timeshift", "sim", "origin", "--json"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
            if lines[-1].startswith("}"):
                break
        info = json.loads("".join(lines))
        assert info["domain"].startswith("127.0.0.1:")
        r = run("timeline", "--domain", info["domain"], "--scheme", "http", "--app", "live",
                "--stream", "cam1", "--start", "now-5m", "--end", "now-1m", "--json")
        out = json.loads(r.stdout)
        assert out["gaps"] == [] and 240 <= out["covered_seconds"] <= 241
        assert out["covered_seconds"] == out["requested"]["end"] - out["requested"]["start"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_python_m_and_console_script_are_one_program() -> None:
    from timeshift.cli import main

    assert main(["url", *BASE, "--offset", "30m", "--unit", "ms"]) == 0
    assert run("--version").stdout.startswith("timeshift ")


@pytest.mark.parametrize(
    ("args", "code", "flag"),
    [
        pytest.param(["--url", "ftp://h/a.m3u8", "-o", "x.mp4"], 2, "--url", id="ftp-url"),
        pytest.param([*BASE, "--start", "now-1h", "-o", "x.mp4"], 2, "--start", id="no-end"),
        pytest.param([*BASE, "--start", "now", "--end", "now-1h", "-o", "x.mp4"], 2, "--end",
                     id="end-before-start"),
        pytest.param([*BASE, "--start", "now-1h", "--end", "now", "-o", "/nonexistent/x.mp4"], 2,
                     "-o", id="no-such-folder"),
        pytest.param(["--domain", "127.0.0.1:9", "--scheme", "http", "--app", "a", "--stream", "s",
                      "--start", "now-1h", "--end", "now", "-o", "x.mp4"], 1, "playlist",
                     id="connection-refused"),
    ],
)
def test_clip_errors_are_one_line(args: list[str], code: int, flag: str, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "timeshift", "clip", *args], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == code
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0], r.stderr


def _start_sim(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], dict]:  # type: ignore[type-arg]
    proc = subprocess.Popen([sys.executable, "-m", "timeshift", "sim", *args, "--json"],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines.append(proc.stdout.readline())
        if lines[-1].startswith("}"):
            break
    return proc, json.loads("".join(lines))


def test_openapi_commands_against_sim_liveapi() -> None:
    keys = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "cli-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "cli-secret"}
    proc, info = _start_sim("liveapi", env=keys)
    try:
        assert info["access_key_id"] == "cli-id" and "access_key_secret" not in info
        api = ["--endpoint", info["liveapi_endpoint"], "--scheme", "http"]
        stream = ["--domain", "play.example.com", "--app", "live", "--stream", "cam1"]
        r = run("index", "create", *stream, "--start", "2026-11-20T00:00:00Z", "--end",
                "2026-11-20T01:00:00Z", "--oss-endpoint", "e", "--bucket", "b", "--object",
                "live/cam1/a.m3u8", "--json", *api, env=keys)
        assert r.returncode == 0, r.stderr
        created = json.loads(r.stdout)
        assert created["duration"] == 3600
        r = run("index", "list", *stream, "--start", "2026-11-15T00:00:00Z", "--end",
                "2026-11-21T00:00:00Z", "--json", *api, env=keys)
        assert [i["record_id"] for i in json.loads(r.stdout)] == [created["record_id"]]
        assert run("record", "start", *stream, *api, env=keys).returncode == 0
        again = run("record", "start", *stream, *api, env=keys)
        assert again.returncode == 1 and "TaskAlreadyStarted" in again.stderr
        r = run("api", "call", "DescribeLiveStreamRecordIndexFile", "DomainName=play.example.com",
                "AppName=live", "StreamName=cam1", f"RecordId={created['record_id']}", *api, env=keys)
        assert json.loads(r.stdout)["RecordIndexInfo"]["RecordId"] == created["record_id"]
        signed = run("api", "sign", "DescribeLiveStreamRecordContent", "DomainName=d",
                     "--nonce", "n1", "--timestamp", "2026-11-21T06:00:00Z", *api, env=keys)
        assert "SignatureNonce=n1" in signed.stdout and "cli-secret" not in signed.stdout
        wrong = run("api", "call", "DescribeLiveStreamRecordIndexFiles", "DomainName=d", *api,
                    env={**keys, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "bad-secret"})
        assert wrong.returncode == 1 and "SignatureDoesNotMatch" in wrong.stderr
        assert "bad-secret" not in wrong.stderr + wrong.stdout
        secret_arg = run("api", "call", "X", "AccessKeySecret=zzz", *api, env=keys)
        assert secret_arg.returncode == 2 and "AccessKeySecret" in secret_arg.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sim_all_generates_credentials_when_none_are_set() -> None:
    env = {k: "" for k in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")}
    proc, info = _start_sim("all", "--bucket", "archive", env=env)
    try:
        assert info["origin"].startswith("http://127.0.0.1:")
        assert info["liveapi"].startswith("http://127.0.0.1:")
        assert info["access_key_id"].startswith("LTAItest") and len(info["access_key_secret"]) > 20
        assert info["oss_endpoint"].startswith("http://127.0.0.1:")
        # The Live API knows a stream as published where the origin's timeline has data.
        keys = {"ALIBABA_CLOUD_ACCESS_KEY_ID": info["access_key_id"],
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": info["access_key_secret"]}
        t0 = info["stream_start"]
        create = ["index", "create", "--domain", "play.example.com", "--app", "live", "--stream",
                  "cam1", "--oss-endpoint", info["oss_endpoint"].split("//")[1], "--bucket",
                  "archive", "--object", "x.m3u8", "--endpoint", info["liveapi_endpoint"],
                  "--scheme", "http"]
        before = run(*create, "--start", str(t0 - 7200), "--end", str(t0 - 3600), env=keys)
        assert before.returncode == 1 and "InvalidStream.NotFound" in before.stderr
        during = run(*create, "--start", str(t0 + 60), "--end", str(t0 + 120), "--json", env=keys)
        assert during.returncode == 0, during.stderr
        made = json.loads(during.stdout)
        assert made["duration"] == 60
        from timeshift.clip import probe_media

        # The index and its segments went into the local OSS bucket; the RecordUrl plays.
        assert abs(probe_media(made["record_url"])["duration"] - 60) < 0.2
        missing = run(*create[:-8], "--oss-endpoint", "e", "--bucket", "nope", "--object",
                      "x.m3u8", *create[-4:], "--start", str(t0 + 60), "--end", str(t0 + 120),
                      env=keys)
        assert missing.returncode == 1 and "InvalidOssBucket" in missing.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sim_oss_with_oss2(tmp_path: Path) -> None:
    import oss2

    keys = {"OSS_ACCESS_KEY_ID": "oss-id", "OSS_ACCESS_KEY_SECRET": "oss-secret"}
    proc, info = _start_sim("oss", "--bucket", "archive", "--root", str(tmp_path), env=keys)
    try:
        assert info["oss_access_key_id"] == "oss-id" and "oss_access_key_secret" not in info
        bucket = oss2.Bucket(oss2.Auth("oss-id", "oss-secret"), info["oss_endpoint"], "archive")
        bucket.put_object("live/cam1/a.ts", b"\x47" * 188, headers={"Content-Type": "video/MP2T"})
        assert bucket.get_object("live/cam1/a.ts").read() == b"\x47" * 188
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sim_origin_refuses_signing_types_it_cannot_check() -> None:
    r = subprocess.run([sys.executable, "-m", "timeshift", "sim", "origin", "--auth-type", "B",
                        "--auth-key-env", "K"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "K": "secret"})
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--auth-type" in lines[0] and "type A" in lines[0]


def test_sim_origin_hls_form_flags() -> None:
    proc, info = _start_sim("origin", "--encrypt", "aes-128", "--iv", "explicit",
                            "--key-rotation", "2", "--byte-ranges", "3", "--history", "10m")
    try:
        t0 = info["stream_start"]
        text = requests.get(f"http://{info['domain']}/live/cam1.m3u8?lhs_start=1"
                            f"&lhs_start_unix_s_0={t0}&lhs_vodend_unix_s_0={t0 + 8}",
                            timeout=5).text
        assert text.count("#EXT-X-KEY:METHOD=AES-128") == 2 and ",IV=0x" in text
        assert text.count("#EXT-X-BYTERANGE:") == 4 and "cam1/r0.ts" in text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
