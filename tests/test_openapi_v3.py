"""V3 signatures (ACS3-HMAC-SHA256, SPEC §7): our signer against the official one
(``alibabacloud-tea-openapi``, test-only), the official ``alibabacloud-live20161101`` client
against the local Live API unmodified, and the service's refusals over real sockets."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest
import requests
from alibabacloud_live20161101 import models as live_models
from alibabacloud_live20161101.client import Client as OfficialLiveClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils as OfficialUtils
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions
from hypothesis import given, settings
from hypothesis import strategies as st

from timeshift.errors import ApiError
from timeshift.openapi.client import LiveClient
from timeshift.openapi.credentials import Credentials
from timeshift.openapi.live import LiveApi
from timeshift.openapi.signing import utc_timestamp, v3_authorization
from timeshift.sim.liveapi import LiveApiConfig, LiveApiServer

AK, SK = "ak-v3", "sk-v3-secret"
PLAY = "play.example.com"
NO_RETRY = RuntimeOptions(autoretry=False)


@pytest.fixture
def api() -> Iterator[LiveApiServer]:
    with LiveApiServer(LiveApiConfig(access_key_id=AK, access_key_secret=SK,
                                     domains=(PLAY,))) as srv:
        yield srv


def official(srv: LiveApiServer, secret: str = SK) -> OfficialLiveClient:
    return OfficialLiveClient(Config(access_key_id=AK, access_key_secret=secret,
                                     endpoint=srv.netloc, protocol="http"))


def ours(srv: LiveApiServer, **kw: object) -> LiveClient:
    return LiveClient(Credentials(AK, SK), endpoint=srv.netloc, scheme="http",
                      sleep=lambda s: None, **kw)  # type: ignore[arg-type]


# -- byte for byte with the official signer

# RPC parameter names (RecordFormat.1.Format) and any text as values, header values too.
_names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,11}(\.[0-9]{1,2}(\.[A-Za-z]{1,8})?)?",
                       fullmatch=True)
_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_header_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                         max_size=40)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "POST"]), query=st.dictionaries(_names, _values, max_size=8),
       extra=st.dictionaries(st.from_regex(r"x-acs-[a-z]{1,10}", fullmatch=True), _header_values,
                             max_size=3),
       body=st.binary(max_size=200), secret=st.text(min_size=1, max_size=40),
       host=st.sampled_from(["live.aliyuncs.com", "127.0.0.1:8081"]),
       action=st.from_regex(r"[A-Z][A-Za-z]{2,30}", fullmatch=True))
def test_v3_authorization_equals_the_official_signer(
        method: str, query: dict[str, str], extra: dict[str, str], body: bytes, secret: str,
        host: str, action: str) -> None:
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-acs-action": action, "x-acs-version": "2016-11-01",
               "x-acs-date": utc_timestamp(), "x-acs-signature-nonce": "n" + payload[:16],
               "x-acs-content-sha256": payload, **extra}
    request = SimpleNamespace(method=method, pathname="/", query=query, headers=headers)
    expected = OfficialUtils.get_authorization(request, "ACS3-HMAC-SHA256", payload, AK, secret)
    assert v3_authorization(method, "/", query, headers, payload, AK, secret) == expected


@settings(max_examples=200, deadline=None)
@given(params=st.dictionaries(_names, _values, max_size=8),
       nonce=st.from_regex(r"[A-Za-z0-9-]{1,36}", fullmatch=True),
       secret=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
       token=st.none() | _header_values)
def test_our_clients_random_requests_carry_the_official_signature(
        params: dict[str, str], nonce: str, secret: str, token: str | None) -> None:
    client = LiveClient(Credentials(AK, secret, security_token=token), endpoint="127.0.0.1:8081")
    url, headers, _ = client.signed_request("DescribeLiveShiftConfigs", params, nonce=nonce)
    # What goes on the wire, read back as the official signer would be given it.
    query = dict(parse_qsl(url.split("?", 1)[1], keep_blank_values=True)) if "?" in url else {}
    assert query == params
    signed = {k: v for k, v in headers.items() if k != "Authorization"}
    request = SimpleNamespace(method="GET", pathname="/", query=query, headers=signed)
    assert headers["Authorization"] == OfficialUtils.get_authorization(
        request, "ACS3-HMAC-SHA256", signed["x-acs-content-sha256"], AK, secret)


def test_our_client_signs_what_the_official_signer_signs() -> None:
    client = LiveClient(Credentials(AK, SK, security_token="sts-tok"), endpoint="127.0.0.1:9",
                        region="cn-shanghai")
    url, headers, nonce = client.signed_request(
        "DescribeLiveStreamRecordIndexFiles",
        {"DomainName": PLAY, "RecordFormat": [{"Format": "m3u8"}], "StartTime": "2026-11-20T00:00:00Z"},
        nonce="nonce-1", timestamp="2026-11-21T06:00:00Z")
    assert nonce == "nonce-1" and "Signature=" not in url and "AccessKeyId" not in url
    assert headers["x-acs-security-token"] == "sts-tok"
    query = dict(parse_qsl(url.split("?", 1)[1]))
    assert query["RecordFormat.1.Format"] == "m3u8" and query["RegionId"] == "cn-shanghai"
    signed = {k: v for k, v in headers.items() if k != "Authorization"}
    request = SimpleNamespace(method="GET", pathname="/", query=query, headers=signed)
    assert headers["Authorization"] == OfficialUtils.get_authorization(
        request, "ACS3-HMAC-SHA256", signed["x-acs-content-sha256"], AK, SK)


# -- the official SDK against the local Live API


def test_the_official_v3_sdk_works_against_the_local_live_api(api: LiveApiServer) -> None:
    sdk = official(api)
    sdk.set_live_streams_notify_url_config_with_options(
        live_models.SetLiveStreamsNotifyUrlConfigRequest(
            domain_name=PLAY, notify_url="https://hooks.example.com/publish?a=1 2"), NO_RETRY)
    got = sdk.describe_live_streams_notify_url_config_with_options(
        live_models.DescribeLiveStreamsNotifyUrlConfigRequest(domain_name=PLAY), NO_RETRY)
    assert got.status_code == 200
    assert got.body.live_streams_notify_config.notify_url == "https://hooks.example.com/publish?a=1 2"
    # The service's own refusal of a bad parameter reaches the SDK as its code.
    with pytest.raises(ClientException) as info:
        sdk.describe_live_streams_notify_url_config_with_options(
            live_models.DescribeLiveStreamsNotifyUrlConfigRequest(domain_name="nope.example.com"),
            NO_RETRY)
    assert info.value.code == "InvalidDomain.NotFound"


def test_the_official_sdk_with_a_wrong_secret_gets_signature_does_not_match(
        api: LiveApiServer) -> None:
    with pytest.raises(ClientException) as info:
        official(api, "not-the-secret").describe_live_streams_notify_url_config_with_options(
            live_models.DescribeLiveStreamsNotifyUrlConfigRequest(domain_name=PLAY), NO_RETRY)
    assert info.value.code == "SignatureDoesNotMatch" and info.value.status_code == 400
    assert SK not in str(info.value)


# -- our client: V3 by default, V2 on request, and the service's refusals


def test_our_client_speaks_v3_by_default_and_v2_on_request(api: LiveApiServer) -> None:
    v3, v2 = ours(api), ours(api, signature_version="v2")
    assert v3.signature_version == "v3"
    LiveApi(v3).set_streams_notify_url(PLAY, "https://hooks.example.com/p")
    assert LiveApi(v2).describe_streams_notify_url(PLAY) == {
        "DomainName": PLAY, "NotifyUrl": "https://hooks.example.com/p"}
    with pytest.raises(Exception, match="v4"):
        ours(api, signature_version="v4")


def _send(srv: LiveApiServer, url: str, headers: dict[str, str]) -> dict[str, str]:
    r = requests.get(url, headers=headers, timeout=5)
    assert r.status_code >= 400, r.text
    return r.json()  # type: ignore[no-any-return]


def test_missing_wrong_replayed_and_expired_v3_requests_get_the_services_codes(
        api: LiveApiServer) -> None:
    client = ours(api)
    url, headers, _ = client.signed_request("DescribeLiveStreamsNotifyUrlConfig",
                                            {"DomainName": PLAY})
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    assert _send(api, url, headers)["Code"] == "SignatureNonceUsed"  # the same request again

    def fresh(**changes: str | None) -> dict[str, str]:
        _, h, _ = client.signed_request("DescribeLiveStreamsNotifyUrlConfig", {"DomainName": PLAY})
        for k, v in changes.items():
            if v is None:
                h.pop(k.replace("_", "-"), None)
            else:
                h[k.replace("_", "-")] = v
        return h

    cases = {
        "IncompleteSignature": fresh(x_acs_signature_nonce=None),
        "InvalidAccessKeyId.NotFound": {**fresh(), "Authorization": fresh()["Authorization"]
                                        .replace(f"Credential={AK}", "Credential=someone")},
    }
    # An x-acs header the signature does not cover is refused, not ignored.
    cases["IncompleteSignature "] = {**fresh(), "x-acs-extra": "1"}
    # The query changed after signing.
    for code, h in cases.items():
        assert _send(api, url, h)["Code"] == code.strip(), code
    assert _send(api, url.replace(PLAY, "other.example.com"), fresh())["Code"] == \
        "SignatureDoesNotMatch"
    old = time.time() - 20 * 60
    _, stale, _ = client.signed_request("DescribeLiveStreamsNotifyUrlConfig", {"DomainName": PLAY},
                                        timestamp=utc_timestamp(old))
    assert _send(api, url, stale)["Code"] == "InvalidTimeStamp.Expired"
    # No signature of either kind: the AccessKeyId is missing, as the service says.
    assert _send(api, url, {})["Code"] == "MissingParameter"
    # Through the client, a refusal is an ApiError with the code; no secret in it.
    bad = LiveClient(Credentials(AK, "wrong"), endpoint=api.netloc, scheme="http",
                     sleep=lambda s: None)
    with pytest.raises(ApiError) as info:
        bad.call("DescribeLiveStreamsNotifyUrlConfig", DomainName=PLAY)
    assert info.value.code == "SignatureDoesNotMatch" and "wrong" not in str(info.value)


def test_v3_authorization_matches_a_fixed_vector() -> None:
    """A fixed request, so a change of the signer shows as a diff (value from the official
    signer, which the property test compares against for random requests)."""
    headers = {"host": "live.aliyuncs.com", "x-acs-action": "DescribeLiveShiftConfigs",
               "x-acs-version": "2016-11-01", "x-acs-date": "2026-12-02T00:00:00Z",
               "x-acs-signature-nonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
               "x-acs-content-sha256": hashlib.sha256(b"").hexdigest()}
    query = {"DomainName": "test.com"}
    request = SimpleNamespace(method="GET", pathname="/", query=query, headers=headers)
    official_value = OfficialUtils.get_authorization(
        request, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"], "testid", "testsecret")
    ours_value = v3_authorization("GET", "/", query, headers, headers["x-acs-content-sha256"],
                                  "testid", "testsecret")
    assert ours_value == official_value
    assert ours_value.startswith("ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;"
                                 "x-acs-action;x-acs-content-sha256;x-acs-date;"
                                 "x-acs-signature-nonce;x-acs-version,Signature=")


def test_a_non_ascii_signature_is_refused_not_a_500(api: LiveApiServer) -> None:
    v2 = ours(api, signature_version="v2")
    url = v2.signed_url("DescribeLiveStreamsNotifyUrlConfig", {"DomainName": PLAY})
    bad = url.split("&Signature=")[0] + "&Signature=%C3%A9%E2%82%AC"
    assert _send(api, bad, {})["Code"] == "SignatureDoesNotMatch"
    _, headers, _ = ours(api).signed_request("DescribeLiveStreamsNotifyUrlConfig",
                                             {"DomainName": PLAY})
    headers["Authorization"] = headers["Authorization"].rsplit("=", 1)[0] + "=\u00e9t\u00e9"
    r = requests.get(f"http://{api.netloc}/?DomainName={PLAY}",
                     headers={k: v.encode("utf-8") for k, v in headers.items()},  # type: ignore[misc]
                     timeout=5)
    assert r.status_code == 400 and r.json()["Code"] == "SignatureDoesNotMatch"
