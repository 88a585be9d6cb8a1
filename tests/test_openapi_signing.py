"""OpenAPI RPC signing (SPEC §4): both published vectors, flattening, and the official SDK's signer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.openapi.signing import (
    canonical_query,
    common_params,
    flatten,
    percent_encode,
    sign,
    string_to_sign,
)

SEED_VECTOR = {
    "Format": "XML", "SignatureMethod": "HMAC-SHA1", "Action": "DescribeLiveSnapshotConfig",
    "RegionId": "cn-shanghai", "ServiceCode": "live", "DomainName": "test.com", "AppName": "test",
    "SignatureNonce": "c2fe8fbb-2977-4414-8d39-348d02419c1c", "Version": "2016-11-01",
    "SignatureVersion": "1.0", "Timestamp": "2017-06-14T09:51:14Z", "AccessKeyId": "testid",
}
SDK_VECTOR = {
    "Action": "DescribeRegions", "Version": "2014-05-26", "Format": "XML", "AccessKeyId": "testid",
    "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Timestamp": "2016-02-23T12:46:24Z",
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [pytest.param(SEED_VECTOR, "3I5a3myPjp8FXWT4rvxX5pKb/aw=", id="seed-3.5"),
     pytest.param(SDK_VECTOR, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=", id="sdk-docs")],
)
def test_published_vectors(params: dict[str, str], expected: str) -> None:
    assert sign(params, "testsecret") == expected


def test_string_to_sign_encodes_inner_ampersands() -> None:
    sts = string_to_sign(SDK_VECTOR)
    assert sts.startswith("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions")
    assert "&" not in sts[len("GET&%2F&"):]


@pytest.mark.parametrize(("raw", "encoded"), [(" ", "%20"), ("*", "%2A"), ("~", "~"), ("+", "%2B"),
                                              ("中", "%E4%B8%AD"), ("a/b", "a%2Fb")])
def test_percent_encode(raw: str, encoded: str) -> None:
    assert percent_encode(raw) == encoded


def test_flatten_nested_lists() -> None:
    assert flatten({"DomainName": "d", "RecordFormat": [
        {"Format": "m3u8", "CycleDuration": 3600}, {"Format": "mp4"}], "OnDemand": None,
        "NeedStatusNotify": True}) == {
        "DomainName": "d", "RecordFormat.1.Format": "m3u8", "RecordFormat.1.CycleDuration": "3600",
        "RecordFormat.2.Format": "mp4", "NeedStatusNotify": "true"}


def test_nonces_are_unique() -> None:
    assert len({common_params("A", "id")["SignatureNonce"] for _ in range(1000)}) == 1000


def test_canonical_query_leaves_signature_out() -> None:
    assert "Signature=" not in canonical_query({"Signature": "x", "A": "1"})


texts = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=20)


@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9.]{0,15}", fullmatch=True), texts,
                       max_size=6), texts)
def test_matches_the_official_sdk_signer(extra: dict[str, str], secret: str) -> None:
    """Byte for byte what aliyun-python-sdk-core (a test-only dependency) computes."""
    from aliyunsdkcore.auth.algorithm import sha_hmac1
    from aliyunsdkcore.auth.composer.rpc_signature_composer import (
        __compose_string_to_sign as sdk_sts,  # type: ignore[attr-defined]
    )

    params = {**common_params("DescribeLiveStreamRecordIndexFiles", "testid",
                              nonce="n-1", timestamp="2026-11-21T06:00:00Z"), **extra}
    assert string_to_sign(params) == sdk_sts("GET", params)
    assert sign(params, secret) == sha_hmac1.get_sign_string(sdk_sts("GET", params), secret + "&")
