"""Time-shift configuration (SPEC §8) and the newer recording-index actions: the typed client,
the CLI, the official SDK and the local Live API, and the local origin honouring the switch
(``timeshift shift enable`` → a clip works; ``disable`` → the clip's error names the fix)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_live20161101 import models as live_models
from alibabacloud_live20161101.client import Client as OfficialLiveClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from timeshift.errors import ApiError, UsageError
from timeshift.openapi.client import LiveClient
from timeshift.openapi.credentials import Credentials
from timeshift.openapi.live import LiveApi, ShiftConfig
from timeshift.sim.liveapi import LiveApiConfig, LiveApiServer
from timeshift.sim.liveshift import ShiftConfigs
from timeshift.sim.origin import OriginConfig, OriginServer
from timeshift.sim.stack import build_stack

AK, SK = "ak-shift", "sk-shift-secret"
PLAY = "play.example.com"
NO_RETRY = RuntimeOptions(autoretry=False)


@pytest.fixture
def api() -> Iterator[LiveApiServer]:
    with LiveApiServer(LiveApiConfig(access_key_id=AK, access_key_secret=SK,
                                     domains=(PLAY,))) as srv:
        yield srv


def live(srv: LiveApiServer) -> LiveApi:
    return LiveApi(LiveClient(Credentials(AK, SK), endpoint=srv.netloc, scheme="http",
                              sleep=lambda s: None))


def run(*args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "timeshift", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env={**os.environ, **(env or {})})


# -- the actions


def test_open_describe_close_with_the_services_errors(api: LiveApiServer) -> None:
    client = live(api)
    client.open_shift(PLAY, "live", "cam1", duration=3, vision=15)
    client.open_shift(PLAY, "live", "*", ignore_transcode=False)
    assert client.describe_shift_configs(PLAY) == [
        ShiftConfig(PLAY, "live", "*", 7, False, None),
        ShiftConfig(PLAY, "live", "cam1", 15, True, 3)]
    with pytest.raises(ApiError) as info:
        client.open_shift(PLAY, "live", "cam1")
    assert (info.value.code, info.value.status) == ("ConfigAlreadyExists", 400)
    # Checked before sending, and by the server for a caller that does not check.
    with pytest.raises(UsageError, match="^vision: "):
        client.open_shift(PLAY, "live", "cam2", vision=2)
    with pytest.raises(UsageError, match="^duration: "):
        client.open_shift(PLAY, "live", "cam2", duration=0)
    for bad in ({"Vision": "2"}, {"Duration": "²"}, {"Duration": "9" * 5000},
                {"IgnoreTranscode": "maybe"}):
        with pytest.raises(ApiError) as info:
            client.call("OpenLiveShift", DomainName=PLAY, AppName="live", StreamName="cam3", **bad)
        assert (info.value.code, info.value.status) == ("InvalidParam", 400), bad
    with pytest.raises(ApiError) as info:
        client.open_shift("other.example.com", "live", "cam1")
    assert info.value.code == "InvalidDomain.NotFound"
    client.close_shift(PLAY, "live", "cam1")
    with pytest.raises(ApiError) as info:
        client.close_shift(PLAY, "live", "cam1")
    assert (info.value.code, info.value.status) == ("InvalidDataNotFound", 404)
    assert [c.stream for c in client.describe_shift_configs(PLAY)] == ["*"]


def test_stream_rows_wildcards_and_transcoded_streams() -> None:
    shift = ShiftConfigs()
    assert not shift.enabled(PLAY, "live", "cam1")
    shift.open(PLAY, {"AppName": "live", "StreamName": "*"})
    assert shift.enabled(PLAY, "live", "cam1") and not shift.enabled(PLAY, "other", "cam1")
    # IgnoreTranscode defaults to true: cam1_lld (template lld) has no time-shift ...
    assert not shift.enabled(PLAY, "live", "cam1_lld")
    assert shift.enabled(PLAY, "live", "cam1_backup")  # not a template: a stream of its own
    shift.open(PLAY, {"AppName": "live", "StreamName": "cam2", "IgnoreTranscode": "false"})
    assert shift.enabled(PLAY, "live", "cam2_lld")  # ... unless the source's row says false


def test_the_official_sdk_configures_time_shift(api: LiveApiServer) -> None:
    sdk = OfficialLiveClient(Config(access_key_id=AK, access_key_secret=SK, endpoint=api.netloc,
                                    protocol="http"))
    sdk.open_live_shift_with_options(live_models.OpenLiveShiftRequest(
        domain_name=PLAY, app_name="live", stream_name="cam1", duration=3, vision=3,
        ignore_transcode=False), NO_RETRY)
    got = sdk.describe_live_shift_configs_with_options(
        live_models.DescribeLiveShiftConfigsRequest(domain_name=PLAY), NO_RETRY)
    (row,) = got.body.content.config
    assert (row.app_name, row.stream_name, row.vision, row.ignore_transcode) == (
        "live", "cam1", 3, False)
    with pytest.raises(ClientException) as info:
        sdk.open_live_shift_with_options(live_models.OpenLiveShiftRequest(
            domain_name=PLAY, app_name="live", stream_name="cam1"), NO_RETRY)
    assert info.value.code == "ConfigAlreadyExists"
    sdk.close_live_shift_with_options(live_models.CloseLiveShiftRequest(
        domain_name=PLAY, app_name="live", stream_name="cam1"), NO_RETRY)
    assert live(api).describe_shift_configs(PLAY) == []


# -- the origin honours it, and the CLI says what to do


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[OriginServer, LiveApiServer, dict[str, str]]]:
    s = build_stack("all", origin=OriginConfig(history=600), root=tmp_path / "sim",
                    buckets=("archive",))
    for srv in s.servers.values():
        srv.start()
    try:
        s.wire()
        origin, api = s.servers["origin"], s.servers["liveapi"]
        assert isinstance(origin, OriginServer) and isinstance(api, LiveApiServer)
        cred, oss = s.live_credential, s.oss_credential
        assert cred is not None and oss is not None
        env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": cred.access_key_id,
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": cred.access_key_secret,
               "OSS_ACCESS_KEY_ID": oss.access_key_id,
               "OSS_ACCESS_KEY_SECRET": oss.access_key_secret,
               "TIMESHIFT_OSS_ENDPOINT": s.servers["oss"].url}
        yield origin, api, env
    finally:
        for srv in s.servers.values():
            srv.stop()


def test_shift_enable_then_clip_works_and_disable_makes_the_clip_name_the_fix(
        stack: tuple[OriginServer, LiveApiServer, dict[str, str]], tmp_path: Path) -> None:
    origin, api, env = stack
    domain = origin.netloc
    api_args = ["--endpoint", api.netloc, "--scheme", "http"]
    where = ["--domain", domain, "--app", "live", "--stream", "cam1"]
    t0 = int(origin.stream_start)
    window = ["--scheme", "http", "--start", str(t0 + 100), "--end", str(t0 + 110)]
    # The stack starts with time-shift on for every stream; switch to one stream only.
    assert run("shift", "disable", "--domain", domain, "--app", "*", "--stream", "*", *api_args,
               env=env).returncode == 0
    off = run("clip", *where, *window, "-o", "a.ts", cwd=tmp_path, env=env)
    assert off.returncode == 1
    (line,) = off.stderr.strip().splitlines()
    assert f"timeshift shift enable --domain {domain} --app live --stream cam1" in line, line
    assert not (tmp_path / "a.ts").exists()
    timeline = run("timeline", *where, "--scheme", "http", "--start", str(t0 + 100),
                   "--end", str(t0 + 110), env=env)
    assert timeline.returncode == 1 and "timeshift shift enable" in timeline.stderr
    archive = run("archive", *where, *window, "--bucket", "archive", "--endpoint",
                  env["TIMESHIFT_OSS_ENDPOINT"], "--attempts", "1", "--json", env=env)
    assert archive.returncode == 1
    (job,) = json.loads(archive.stdout)["jobs"]
    assert f"timeshift shift enable --domain {domain} --app live" in job["error"]["message"]

    on = run("shift", "enable", *where, "--vision", "3", *api_args, "--json", env=env)
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout)["time_shift"] == "on"
    clip = run("clip", *where, *window, "-o", "a.ts", "--json", cwd=tmp_path, env=env)
    assert clip.returncode == 0, clip.stderr
    assert (tmp_path / "a.ts").stat().st_size > 0
    shown = run("shift", "show", "--domain", domain, *api_args, "--json", env=env)
    assert json.loads(shown.stdout) == [{"domain": domain, "app": "live", "stream": "cam1",
                                         "vision": 3, "ignore_transcode": True, "duration": None}]
    # The transcoded stream has none (IgnoreTranscode defaults to true) until asked for.
    lld = run("clip", *where, "--template", "lld", *window, "-o", "b.ts", cwd=tmp_path, env=env)
    assert lld.returncode == 1
    assert "--stream cam1 --with-transcodes" in lld.stderr and "live/cam1_lld" in lld.stderr
    assert run("shift", "disable", *where, *api_args, env=env).returncode == 0
    assert run("shift", "enable", *where, "--with-transcodes", *api_args, env=env).returncode == 0
    ok = run("clip", *where, "--template", "lld", *window, "-o", "b.ts", cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stderr
    assert origin.config.counters["shift_off"] >= 3  # each refusal was the origin's


def test_shift_cli_refuses_bad_input_in_one_line(
        stack: tuple[OriginServer, LiveApiServer, dict[str, str]]) -> None:
    origin, api, env = stack
    r = run("shift", "enable", "--domain", origin.netloc, "--app", "live", "--stream", "cam1",
            "--vision", "2", "--endpoint", api.netloc, "--scheme", "http", env=env)
    assert r.returncode == 2 and "--vision" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("shift", "enable", "--domain", origin.netloc, "--app", "*", "--stream", "*",
            "--endpoint", api.netloc, "--scheme", "http", env=env)
    assert r.returncode == 1 and "ConfigAlreadyExists" in r.stderr


# -- recording index additions


def test_index_end_time_included_format_and_delete_with_remove_file(tmp_path: Path) -> None:
    with OriginServer(OriginConfig(history=3600)) as origin:
        cfg = LiveApiConfig(access_key_id=AK, access_key_secret=SK, origin=origin.netloc,
                            record_root=tmp_path / "oss")
        with LiveApiServer(cfg) as srv:
            client = live(srv)
            t0 = int(origin.stream_start)
            # 10 s to 31 s: the segment [30, 32) holds the end.
            args = dict(start=t0 + 10, end=t0 + 31, oss_endpoint="e", oss_bucket="archive")
            without = client.create_record_index_files("play.example.com", "live", "cam1",
                                                       oss_object="live/a.m3u8", **args)
            with_end = client.create_record_index_files("play.example.com", "live", "cam1",
                                                        oss_object="live/b.m3u8",
                                                        end_time_included=True, **args)
            root = tmp_path / "oss" / "archive" / "live"
            assert (root / "a.m3u8").read_text().count("#EXTINF") == 10
            assert (root / "b.m3u8").read_text().count("#EXTINF") == 11
            listed = list(client.iter_record_index_files("play.example.com", "live", "cam1",
                                                         start=t0, end=t0 + 60, page_size=5))
            assert {i.format for i in listed} == {"m3u8"} and len(listed) == 2

            env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK}
            api_args = ["--endpoint", srv.netloc, "--scheme", "http"]
            where = ["--domain", "play.example.com", "--app", "live", "--stream", "cam1"]
            r = run("index", "delete", *where, "--record-id", without.record_id,
                    "--record-id", "no-such-id", *api_args, "--json", env=env)
            assert r.returncode == 1  # one of the two was not there
            assert json.loads(r.stdout) == [
                {"record_id": without.record_id, "message": "OK"},
                {"record_id": "no-such-id", "message": "record not found"}]
            assert (root / "a.m3u8").exists()  # without --remove-file the object stays
            r = run("index", "delete", *where, "--record-id", with_end.record_id,
                    "--remove-file", *api_args, env=env)
            assert r.returncode == 0, r.stderr
            assert not (root / "b.m3u8").exists()
            assert list(client.iter_record_index_files("play.example.com", "live", "cam1",
                                                       start=t0, end=t0 + 60)) == []


@pytest.mark.parametrize(
    ("url", "command"),
    [
        pytest.param("https://play.example.com/live/cam1.m3u8?aliyunols=on&lhs_start_unix_s_0=1",
                     "timeshift shift enable --domain play.example.com --app live --stream cam1",
                     id="playlist"),
        pytest.param("http://127.0.0.1:8080/openapi/timeline/query?app=live&stream=cam1_lld&format=ts",
                     "timeshift shift enable --domain 127.0.0.1:8080 --app live --stream cam1 "
                     "--with-transcodes", id="timeline-transcoded"),
        pytest.param("https://p.example.com/live/my%20cam.m3u8?lhs_start=1",
                     "--stream 'my cam'", id="quoted"),
        pytest.param("https://p.example.com/live/cam1/12.ts?t=1", None, id="segment"),
        pytest.param("https://p.example.com/live/cam1.m3u8", None, id="not-time-shift"),
        pytest.param("http://[::1/x.m3u8?lhs_start=1", None, id="broken-url"),
    ],
)
def test_a_404_names_the_command_only_for_time_shift_playlists_and_timelines(
        url: str, command: str | None) -> None:
    from timeshift.errors import NotFoundError
    from timeshift.shifthint import shift_off_hint

    hint = shift_off_hint(url)
    if command is None:
        assert hint is None and NotFoundError("x", status=404, url=url).hint is None
    else:
        assert hint is not None and command in hint
        assert command in str(NotFoundError("playlist: not found", status=404, url=url))


def test_the_official_sdk_deletes_index_files_by_id(api: LiveApiServer) -> None:
    client = live(api)
    info = client.create_record_index_files(PLAY, "live", "cam1", start=1_800_000_000,
                                            end=1_800_000_600, oss_endpoint="e", oss_bucket="b",
                                            oss_object="live/cam1/a.m3u8")
    assert info.format == "m3u8"
    sdk = OfficialLiveClient(Config(access_key_id=AK, access_key_secret=SK, endpoint=api.netloc,
                                    protocol="http"))
    got = sdk.delete_live_stream_record_index_files_with_options(
        live_models.DeleteLiveStreamRecordIndexFilesRequest(
            domain_name=PLAY, app_name="live", stream_name="cam1",
            record_id=[info.record_id, "missing"], remove_file="true"), NO_RETRY)
    rows = [(r.record_id, r.message) for r in got.body.record_delete_info_list.record_delete_info]
    assert rows == [(info.record_id, "OK"), ("missing", "record not found")]
    with pytest.raises(ApiError) as err:
        client.describe_record_index_file(PLAY, "live", "cam1", info.record_id)
    assert err.value.code == "InvalidRecordId.NotFound"
