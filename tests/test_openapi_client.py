"""The OpenAPI client and the local Live API server, over real HTTP; the official SDK as a peer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from timeshift.errors import ApiError, UsageError
from timeshift.openapi.client import LiveClient
from timeshift.openapi.credentials import Credentials, resolve_credentials
from timeshift.openapi.live import LiveApi, split_window
from timeshift.sim.liveapi import LiveApiConfig, LiveApiServer

SECRET = "s3cr3t-value-xyz"
WINDOW = {"DomainName": "play.example.com", "AppName": "live", "StreamName": "cam1",
          "StartTime": "2026-11-20T00:00:00Z", "EndTime": "2026-11-20T06:00:00Z"}


@pytest.fixture
def api() -> Iterator[LiveApiServer]:
    with LiveApiServer(LiveApiConfig(access_key_id="ak-1", access_key_secret=SECRET)) as srv:
        yield srv


def client(api: LiveApiServer, secret: str = SECRET, **kw: object) -> LiveClient:
    return LiveClient(Credentials("ak-1", secret), endpoint=api.netloc, scheme="http",
                      sleep=lambda s: None, **kw)  # type: ignore[arg-type]


def create(c: LiveClient, hour: int) -> dict[str, object]:
    return c.call("CreateLiveStreamRecordIndexFiles", **{
        **WINDOW, "StartTime": f"2026-11-20T{hour:02d}:00:00Z",
        "EndTime": f"2026-11-20T{hour:02d}:30:00Z", "OssEndpoint": "oss-cn-shanghai.aliyuncs.com",
        "OssBucket": "b", "OssObject": f"live/cam1/{hour}.m3u8"})


def test_create_and_describe(api: LiveApiServer) -> None:
    c = client(api)
    info = create(c, 1)["RecordInfo"]
    assert info["StartTime"] == "2026-11-20T01:00:00Z"  # type: ignore[index]
    got = c.call("DescribeLiveStreamRecordIndexFile", RecordId=info["RecordId"], **{  # type: ignore[index]
        k: WINDOW[k] for k in ("DomainName", "AppName", "StreamName")})
    assert got["RecordIndexInfo"] == info


def test_pagination_pages(api: LiveApiServer) -> None:
    c = client(api)
    for hour in range(6):
        create(c, hour)
    page1 = c.call("DescribeLiveStreamRecordIndexFiles", PageSize=5, PageNum=1, **WINDOW)
    page2 = c.call("DescribeLiveStreamRecordIndexFiles", PageSize=5, PageNum=2, **WINDOW)
    assert (page1["TotalNum"], page1["TotalPage"]) == (6, 2)
    assert len(page1["RecordIndexInfoList"]["RecordIndexInfo"]) == 5
    assert len(page2["RecordIndexInfoList"]["RecordIndexInfo"]) == 1


def test_throttling_is_retried_with_fresh_nonces(api: LiveApiServer) -> None:
    api.config.throttle = 2
    c = client(api)
    assert create(c, 1)["RecordInfo"]
    assert len(c.attempts) == 3 and len(set(c.attempts)) == 3
    assert api.config.counters["throttled"] == 2


def test_signature_mismatch_is_not_retried_and_hides_the_secret(api: LiveApiServer) -> None:
    c = client(api, secret="wrong-" + SECRET)
    with pytest.raises(ApiError) as info:
        create(c, 1)
    assert info.value.code == "SignatureDoesNotMatch" and info.value.status == 400
    assert len(c.attempts) == 1 and info.value.request_id
    text = str(info.value) + repr(info.value) + json.dumps(info.value.to_dict()) + repr(c)
    assert SECRET not in text and "wrong-" not in text


def test_replayed_nonce_and_skewed_timestamp(api: LiveApiServer) -> None:
    import requests

    c = client(api)
    url = c.signed_url("DescribeLiveStreamRecordIndexFiles", WINDOW, nonce="fixed-nonce")
    assert requests.get(url, timeout=5).status_code == 200
    again = requests.get(url, timeout=5)
    assert again.json()["Code"] == "SignatureNonceUsed"
    old = c.signed_url("DescribeLiveStreamRecordIndexFiles", WINDOW, timestamp="2016-01-01T00:00:00Z")
    assert requests.get(old, timeout=5).json()["Code"] == "InvalidTimeStamp.Expired"


def test_four_day_window_refused_by_server(api: LiveApiServer) -> None:
    with pytest.raises(ApiError) as info:
        client(api).call("DescribeLiveStreamRecordIndexFiles", **{
            **WINDOW, "EndTime": "2026-11-25T00:00:00Z"})
    assert info.value.code == "InvalidParameter.Interval"


def test_official_sdk_common_request_against_local_server(api: LiveApiServer) -> None:
    """aliyun-python-sdk-core's CommonRequest, pointed at the local server over http, unmodified."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    def request(action: str, params: dict[str, str]) -> CommonRequest:
        r = CommonRequest(domain=api.netloc, version="2016-11-01", action_name=action)
        r.set_protocol_type("http")
        r.set_method("POST")
        r.set_accept_format("json")
        for k, v in params.items():
            r.add_query_param(k, v)
        return r

    sdk = AcsClient("ak-1", SECRET, "cn-shanghai")
    created = json.loads(sdk.do_action_with_exception(request(
        "CreateLiveStreamRecordIndexFiles", {**WINDOW, "OssEndpoint": "e", "OssBucket": "b",
                                             "OssObject": "live/cam1/x.m3u8"})))
    assert created["RecordInfo"]["OssObject"] == "live/cam1/x.m3u8"
    listed = json.loads(sdk.do_action_with_exception(request(
        "DescribeLiveStreamRecordIndexFiles", WINDOW)))
    assert listed["TotalNum"] == 1
    bad = AcsClient("ak-1", "not-the-secret", "cn-shanghai")
    req = request("DescribeLiveStreamRecordIndexFiles", WINDOW)
    with pytest.raises(ServerException) as info:
        bad.do_action_with_exception(req)
    assert info.value.get_http_status() == 400
    assert info.value.get_error_code() == "SignatureDoesNotMatch"
    # The server reports its StringToSign, as the service does; it equals the SDK's own.
    server_sts = info.value.get_error_msg().split("server string to sign is:", 1)[1]
    assert server_sts == req.request.string_to_sign


def test_credentials_resolution_order(tmp_path: Path) -> None:
    ini = tmp_path / "creds"
    ini.write_text("[default]\ntype = access_key\naccess_key_id = ini-id\naccess_key_secret = ini-s\n"
                   "[sts]\ntype = sts\naccess_key_id = sts-id\naccess_key_secret = sts-s\n"
                   "security_token = tok\n")
    cli = tmp_path / ".aliyun" / "config.json"
    cli.parent.mkdir()
    cli.write_text(json.dumps({"current": "p", "profiles": [
        {"name": "p", "mode": "AK", "access_key_id": "cli-id", "access_key_secret": "cli-s"}]}))
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "env-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-s",
           "ALIBABA_CLOUD_CREDENTIALS_FILE": str(ini)}
    assert resolve_credentials("arg-id", "arg-s", env=env, home=tmp_path).access_key_id == "arg-id"
    assert resolve_credentials(env=env, home=tmp_path).source == "environment"
    del env["ALIBABA_CLOUD_ACCESS_KEY_ID"], env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    assert resolve_credentials(env=env, home=tmp_path).access_key_id == "ini-id"
    sts = resolve_credentials(env={**env, "ALIBABA_CLOUD_PROFILE": "sts"}, home=tmp_path)
    assert sts.security_token == "tok" and "tok" not in repr(sts) and "sts-s" not in repr(sts)
    assert resolve_credentials(env={}, home=tmp_path).access_key_id == "cli-id"
    with pytest.raises(UsageError, match="no Alibaba Cloud credentials"):
        resolve_credentials(env={}, home=tmp_path / "empty")


# -- typed actions


def live(api: LiveApiServer) -> LiveApi:
    return LiveApi(client(api))


T0 = 1795132800  # 2026-11-20T00:00:00Z


def test_typed_create_describe_and_iterate_every_page(api: LiveApiServer) -> None:
    la = live(api)
    made = [la.create_record_index_files("play.example.com", "live", "cam1", start=T0 + h * 3600,
                                         end=T0 + h * 3600 + 1800, oss_endpoint="e",
                                         oss_bucket="b", oss_object=f"live/cam1/{h}.m3u8")
            for h in range(12)]
    assert made[0].start == T0 and made[0].duration == 1800 and made[0].domain == "play.example.com"
    assert la.describe_record_index_file("play.example.com", "live", "cam1",
                                         made[3].record_id) == made[3]
    calls = api.config.counters["calls"]
    listed = list(la.iter_record_index_files("play.example.com", "live", "cam1", start=T0,
                                             end=T0 + 86400, page_size=5))
    assert [r.record_id for r in listed] == [r.record_id for r in made]
    assert api.config.counters["calls"] - calls == 3  # pages of 5, 5 and 2


def test_long_windows_split_into_four_day_calls(api: LiveApiServer) -> None:
    la = live(api)
    la.create_record_index_files("play.example.com", "live", "cam1", start=T0, end=T0 + 600,
                                 oss_endpoint="e", oss_bucket="b", oss_object="x.m3u8")
    calls = api.config.counters["calls"]
    got = list(la.iter_record_index_files("play.example.com", "live", "cam1", start=T0 - 9 * 86400,
                                          end=T0 + 86400))
    assert len(got) == 1 and api.config.counters["calls"] - calls == 3  # 10 days: 4 + 4 + 2
    assert len(la.record_content("play.example.com", "live", "cam1", start=T0 - 5 * 86400,
                                 end=T0 + 1000)) == 1
    with pytest.raises(UsageError, match="4 days"):
        la.create_record_index_files("play.example.com", "live", "cam1", start=T0,
                                     end=T0 + 5 * 86400, oss_endpoint="e", oss_bucket="b",
                                     oss_object="x.m3u8")
    assert split_window(0, 10 * 86400) == [(0, 4 * 86400), (4 * 86400, 8 * 86400),
                                           (8 * 86400, 10 * 86400)]


@pytest.mark.parametrize("kwargs", [dict(page_size=4), dict(page_size=31), dict(end=T0)])
def test_client_side_validation_sends_nothing(api: LiveApiServer, kwargs: dict[str, int]) -> None:
    args = {"start": T0, "end": T0 + 60, **kwargs}
    with pytest.raises(UsageError):
        list(live(api).iter_record_index_files("play.example.com", "live", "cam1", **args))  # type: ignore[arg-type]
    assert api.config.counters.get("calls", 0) == 0


def test_record_command_task_already_started(api: LiveApiServer) -> None:
    la = live(api)
    assert la.real_time_record_command("play.example.com", "live", "cam1", "start")
    with pytest.raises(ApiError) as info:
        la.real_time_record_command("play.example.com", "live", "cam1", "start")
    assert (info.value.code, info.value.status) == ("TaskAlreadyStarted", 409)
    la.real_time_record_command("play.example.com", "live", "cam1", "stop")
    with pytest.raises(ApiError) as missing:
        la.call("RealTimeRecordCommand", DomainName="play.example.com", AppName="live",
                StreamName="cam1")
    assert missing.value.code == "MissingCommand"
    with pytest.raises(ApiError) as domain:
        la.real_time_record_command("nope.example.com", "live", "cam1", "start")
    assert domain.value.code == "InvalidDomain.NotFound"


def test_record_and_notify_configs(api: LiveApiServer) -> None:
    la = live(api)
    la.add_app_record_config("play.example.com", "live", oss_endpoint="e", oss_bucket="b",
                             formats=[{"Format": "m3u8", "CycleDuration": 3600,
                                       "OssObjectPrefix": "record/{AppName}/{StreamName}"}])
    conf = la.describe_record_config("play.example.com")
    assert conf[0]["RecordFormatList"]["RecordFormat"] == [
        {"Format": "m3u8", "CycleDuration": "3600", "OssObjectPrefix": "record/{AppName}/{StreamName}"}]
    la.delete_app_record_config("play.example.com", "live")
    assert la.describe_record_config("play.example.com") == []
    assert la.describe_record_notify_config("play.example.com") is None
    la.set_record_notify_config("play.example.com", "https://hooks.example.com/rec")
    with pytest.raises(ApiError):
        la.set_record_notify_config("play.example.com", "https://hooks.example.com/rec")
    la.set_record_notify_config("play.example.com", "https://hooks.example.com/v2",
                                need_status_notify=True, update=True)
    assert la.describe_record_notify_config("play.example.com") == {
        "DomainName": "play.example.com", "NotifyUrl": "https://hooks.example.com/v2",
        "NeedStatusNotify": True, "OnDemandUrl": ""}
    la.delete_record_notify_config("play.example.com")
    with pytest.raises(UsageError):
        la.set_record_notify_config("play.example.com", "ftp://x")


def test_publish_list_pages_follow_the_origin_timeline() -> None:
    from timeshift.sim.origin import OriginConfig, OriginServer
    from timeshift.timeline import query_timeline

    with OriginServer(OriginConfig(history=7200, gaps=((600, 900), (1800, 1900)))) as origin:
        def spans(app: str, stream: str, start: int, end: int) -> list[tuple[int, int]]:
            tl = query_timeline(origin.netloc, app, stream, start, end, scheme="http")
            return [(r.start, r.end) for r in tl.ranges]

        cfg = LiveApiConfig(access_key_id="ak-1", access_key_secret=SECRET, publish_spans=spans,
                            streams=tuple(f"live/cam{i}" for i in range(4)))
        with LiveApiServer(cfg) as srv:
            t0 = int(origin.stream_start)
            sessions = list(live(srv).iter_publish_list("play.example.com", start=t0,
                                                        end=t0 + 3600, page_size=5))
    # 4 streams x 3 sessions (the two gaps split the hour), over 3 pages of 5.
    assert len(sessions) == 12 and cfg.counters["calls"] == 3
    assert {(s.start - t0, s.end - t0) for s in sessions} == {(0, 600), (900, 1800), (1900, 3600)}


def test_created_index_file_plays(tmp_path: Path) -> None:
    """Create writes a real VOD index and its segments; its RecordUrl plays (PyAV over HTTP)."""
    from timeshift.sim.frameindex import decode_frame_indices
    from timeshift.sim.origin import OriginConfig, OriginServer

    with OriginServer(OriginConfig(history=3600)) as origin:
        cfg = LiveApiConfig(access_key_id="ak-1", access_key_secret=SECRET,
                            origin=origin.netloc, record_root=tmp_path / "oss")
        with LiveApiServer(cfg) as srv:
            t0 = int(origin.stream_start)
            info = live(srv).create_record_index_files(
                "play.example.com", "live", "cam1", start=t0 + 10, end=t0 + 30,
                oss_endpoint="e", oss_bucket="archive", oss_object="live/cam1/day.m3u8")
            assert info.record_url.endswith("/records/archive/live/cam1/day.m3u8")
            index = (tmp_path / "oss" / "archive" / "live" / "cam1" / "day.m3u8").read_text()
            assert index.count("#EXTINF") == 10 and "#EXT-X-ENDLIST" in index
            frames = [i for _, i in decode_frame_indices(info.record_url)]
    assert frames == [k % 500 for k in range(250, 750)]
