"""The pytest plugin for users' tests (timeshift.testing): its fixtures, options and teardown.

The fixtures come through the ``pytest11`` entry point when timeshift is installed (as
``make test`` installs it); examples/user-project uses them from outside this package.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import m3u8
import oss2
import pytest
import requests

from timeshift import TimeshiftURL, query_timeline
from timeshift.errors import AuthError
from timeshift.openapi.live import LiveApi
from timeshift.testing import LocalLiveApi, LocalOrigin, LocalOss, LocalStack, local_origin

pytest_plugins = ["pytester"]


def _entry_point_registered() -> bool:
    return any(ep.value == "timeshift.testing.plugin"
               for ep in importlib.metadata.entry_points(group="pytest11"))


def _vod(origin: LocalOrigin, start_s: float, end_s: float, stream: str = "cam1") -> str:
    url = str(TimeshiftURL.vod(origin.domain, "live", stream, origin.at(start_s),
                               origin.at(end_s), scheme=origin.scheme))
    return origin.signer.sign(url) if origin.signer else url


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_origin_fixture_serves_a_vod_playlist_on_loopback(timeshift_origin: LocalOrigin) -> None:
    assert timeshift_origin.domain.startswith("127.0.0.1:")
    assert timeshift_origin.signer is None and timeshift_origin.auth_key is None
    url = _vod(timeshift_origin, 10, 30)
    playlist = m3u8.loads(requests.get(url, timeout=10).text, uri=url)
    assert playlist.is_endlist and len(playlist.segments) == 10
    segment = requests.get(playlist.segments[0].absolute_uri, timeout=10)
    assert segment.status_code == 200 and segment.content[0] == 0x47
    assert timeshift_origin.requests  # the counters move as the origin answers


@pytest.mark.timeshift_origin(gaps="60-90", signing="A", history=600)
def test_origin_marker_sets_gaps_and_signing(timeshift_origin: LocalOrigin) -> None:
    signer = timeshift_origin.signer
    assert signer is not None and signer.type == "A" and timeshift_origin.auth_key
    t0 = int(timeshift_origin.stream_start)
    with pytest.raises(AuthError):  # unsigned: refused, as the CDN refuses it
        query_timeline(timeshift_origin.domain, "live", "cam1", t0, t0 + 120, scheme="http")
    tl = query_timeline(timeshift_origin.domain, "live", "cam1", t0, t0 + 120, scheme="http",
                        signer=signer)
    assert [(g.start - t0, g.end - t0) for g in tl.gaps] == [(60, 90)]


@pytest.mark.parametrize("timeshift_origin", [
    {"encryption": "aes-128", "key_rotation": 2},
    {"byte_ranges": 3},
    {"fmp4_map": True},
], indirect=True, ids=["aes-128", "byte-ranges", "fmp4-map"])
def test_origin_indirect_parametrization_picks_the_media_form(
        timeshift_origin: LocalOrigin) -> None:
    text = requests.get(_vod(timeshift_origin, 0, 20), timeout=10).text
    config = timeshift_origin.config
    assert ("#EXT-X-KEY:METHOD=AES-128" in text) == (config.encryption == "aes-128")
    assert ("#EXT-X-BYTERANGE" in text) == (config.byte_ranges > 0)
    assert ("#EXT-X-MAP" in text) == config.fmp4_map


@pytest.mark.timeshift_origin(fail_rate=0.5)
@pytest.mark.parametrize("timeshift_origin", [{"fail_rate": 0.0, "seed": 7}], indirect=True)
def test_indirect_parameter_wins_over_the_marker(timeshift_origin: LocalOrigin) -> None:
    assert timeshift_origin.config.fail_rate == 0.0 and timeshift_origin.config.seed == 7


def test_origin_factory_starts_several(timeshift_origin_factory) -> None:  # type: ignore[no-untyped-def]
    a = timeshift_origin_factory(history=100)
    b = timeshift_origin_factory(history=100, gaps=[(0, 50)])
    assert a.domain != b.domain
    t0 = int(b.stream_start)
    assert query_timeline(b.domain, "live", "x", t0, t0 + 100, scheme="http").covered_seconds \
        == 50
    with pytest.raises(TypeError, match="unknown option 'colour'"):
        timeshift_origin_factory(colour="red")


def test_oss_fixture_has_a_ready_bucket_and_generated_keys(
        timeshift_oss: LocalOss, monkeypatch: pytest.MonkeyPatch) -> None:
    timeshift_oss.bucket.put_object("a/b.txt", b"hello")
    assert timeshift_oss.bucket.get_object("a/b.txt").read() == b"hello"
    assert timeshift_oss.keys("a/") == ["a/b.txt"]
    assert timeshift_oss.store().get("a/b.txt") == b"hello"  # timeshift's own adapter too
    assert timeshift_oss.credentials.access_key_secret not in repr(timeshift_oss)
    wrong = oss2.Bucket(oss2.Auth(timeshift_oss.credentials.access_key_id, "not-the-secret"),
                        timeshift_oss.endpoint, timeshift_oss.bucket_name)
    with pytest.raises(oss2.exceptions.ServerError) as err:
        wrong.get_object("a/b.txt")
    assert err.value.code == "SignatureDoesNotMatch"
    assert set(timeshift_oss.env) == {"OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET"}


@pytest.mark.timeshift_oss(bucket="archive", fail_rate=1.0)
def test_oss_marker_names_the_bucket_and_injects_faults(timeshift_oss: LocalOss) -> None:
    assert timeshift_oss.bucket_name == "archive"
    with pytest.raises(oss2.exceptions.ServerError) as err:
        timeshift_oss.bucket.put_object("k", b"v")
    assert err.value.status >= 500


def test_credentials_are_generated_not_read_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", "LTAIrealkey")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIrealkey")
    stack: LocalStack = request.getfixturevalue("timeshift_stack")
    assert stack.oss.credentials.access_key_id != "LTAIrealkey"
    assert stack.liveapi.credentials.access_key_id != "LTAIrealkey"
    assert stack.oss.credentials.access_key_secret != stack.liveapi.credentials.access_key_secret


@pytest.mark.timeshift_liveapi(throttle=1)
def test_liveapi_fixture_answers_its_own_client(timeshift_liveapi: LocalLiveApi) -> None:
    client = timeshift_liveapi.client(retries=0)
    with pytest.raises(Exception, match="Throttling"):
        client.call("DescribeLiveStreamsOnlineList", DomainName="play.example.com")
    body = client.call("DescribeLiveStreamsOnlineList", DomainName="play.example.com")
    assert "RequestId" in body and timeshift_liveapi.calls["throttled"] == 1


@pytest.mark.timeshift_stack(origin={"history": 600}, bucket="records")
def test_stack_records_from_the_origin_into_oss(timeshift_stack: LocalStack) -> None:
    """CreateLiveStreamRecordIndexFiles on the local Live API copies the window from the
    local origin into the local OSS bucket; the play domain may be the origin's own."""
    origin, oss = timeshift_stack.origin, timeshift_stack.oss
    t0 = int(origin.stream_start)
    live = LiveApi(timeshift_stack.liveapi.client())
    info = live.create_record_index_files(origin.domain, "live", "cam1", start=t0 + 10,
                                          end=t0 + 30, oss_endpoint=oss.endpoint,
                                          oss_bucket="records", oss_object="rec/cam1.m3u8")
    assert info.duration == pytest.approx(20.0)
    keys = oss.keys("rec/")
    assert "rec/cam1.m3u8" in keys and sum(k.endswith(".ts") for k in keys) == 10
    index = m3u8.loads(oss.bucket.get_object("rec/cam1.m3u8").read().decode())
    assert index.is_endlist and len(index.segments) == 10


def test_local_origin_stops_when_the_block_ends() -> None:
    with local_origin(history=60) as origin:
        port = int(origin.domain.rsplit(":", 1)[1])
        assert not _refused(port)
    assert _refused(port)


def test_plugin_from_a_user_test_file(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A test file of a user's project, run by pytest: markers are registered (strict),
    every server is on loopback, and every one is stopped after its test."""
    ports = tmp_path / "ports.jsonl"
    pytester.makepyfile(test_user=f"""
        import json, pytest

        def note(*servers):
            with open({str(ports)!r}, "a") as f:
                for s in servers:
                    f.write(json.dumps(s.server.netloc) + "\\n")

        @pytest.mark.timeshift_origin(gaps="10-20")
        def test_origin(timeshift_origin):
            assert timeshift_origin.config.gaps == ((10.0, 20.0),)
            note(timeshift_origin)

        @pytest.mark.timeshift_oss(bucket="user-bucket")
        def test_oss(timeshift_oss, timeshift_liveapi):
            timeshift_oss.bucket.put_object("x", b"1")
            note(timeshift_oss, timeshift_liveapi)

        def test_stack(timeshift_stack):
            note(timeshift_stack.origin, timeshift_stack.liveapi, timeshift_stack.oss)
    """)
    args = ["--strict-markers", "-p", "no:cacheprovider"]
    if not _entry_point_registered():  # a checkout on PYTHONPATH, not installed
        args += ["-p", "timeshift.testing.plugin"]
    result = pytester.runpytest_subprocess(*args, timeout=240)  # isolated, as a user runs it
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=3)
    netlocs = [json.loads(line) for line in ports.read_text().splitlines()]
    assert len(netlocs) == 6 and all(n.startswith("127.0.0.1:") for n in netlocs), netlocs
    open_ports = [n for n in netlocs if not _refused(int(n.rsplit(":", 1)[1]))]
    assert not open_ports, f"still listening after their tests: {open_ports}"


@pytest.mark.skipif(os.environ.get("CI") != "true" and not _entry_point_registered(),
                    reason="timeshift is not installed with its entry points (PYTHONPATH run)")
def test_entry_point_is_registered() -> None:
    """Installed (as make test and CI install it), pytest finds the plugin by itself."""
    assert _entry_point_registered()


def test_loading_the_plugin_starts_and_imports_no_server() -> None:
    """pytest loads the plugin in every project where timeshift is installed: loading it
    must not import the servers (aiohttp, oss2, the simulators)."""
    code = ("import sys, timeshift.testing.plugin; "
            "print(sorted(m for m in ('aiohttp', 'oss2', 'timeshift.sim.origin', "
            "'timeshift.testing.servers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
