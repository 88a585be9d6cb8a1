"""CDN URL signing: every official vector of SPEC §3, URL forms, and sign → verify round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.auth import Signer, md5_hex

KEY = "aliyuncdnexp1234"


@pytest.mark.parametrize(
    ("hash_input", "expected"),
    [
        pytest.param("/video/standard/1K.html-1444435200-0-0-aliyuncdnexp1234",
                     "80cd3862d699b7118eed99103f2a3a4f", id="A-cdn"),
        pytest.param("/video/standard-1622194197-0-0-aliyunliveexp1234",
                     "5552ff52b5e4e20387c6dc18afce206b", id="A-live"),
        pytest.param("aliyuncdnexp1234201508150800/4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3",
                     "9044548ef1527deadafa49a890a377f0", id="B"),
        pytest.param("aliyuncdnexp1234/test.flv55CE8100",
                     "a37fa50a5fb8f71214b1e7c95ec7a1bd", id="C"),
    ],
)
def test_official_vectors_md5(hash_input: str, expected: str) -> None:
    assert md5_hex(hash_input) == expected


def test_type_a_vector_through_signer() -> None:
    s = Signer("A", KEY)
    url = s.sign("http://cdn.example.com/video/standard/1K.html", timestamp=1444435200)
    assert url == ("http://cdn.example.com/video/standard/1K.html?auth_key="
                   "1444435200-0-0-80cd3862d699b7118eed99103f2a3a4f")


def test_type_a_live_vector_through_signer() -> None:
    s = Signer("A", "aliyunliveexp1234")
    assert s.sign("rtmp://live.example.com/video/standard", timestamp=1622194197).endswith(
        "auth_key=1622194197-0-0-5552ff52b5e4e20387c6dc18afce206b")


def test_type_b_vector_through_signer() -> None:
    # 201508150800 in UTC+8 is 1439596800.
    s = Signer("B", KEY)
    url = s.sign("http://cdn.example.com/4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3",
                 timestamp=1439596800)
    assert url == ("http://cdn.example.com/201508150800/9044548ef1527deadafa49a890a377f0"
                   "/4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3")


def test_type_c_vector_both_forms() -> None:
    path = Signer("C", KEY).sign("http://cdn.example.com/test.flv", timestamp=0x55CE8100)
    assert path == "http://cdn.example.com/a37fa50a5fb8f71214b1e7c95ec7a1bd/55CE8100/test.flv"
    query = Signer("C", KEY, c_form="query").sign("http://cdn.example.com/test.flv",
                                                  timestamp=0x55CE8100)
    assert query == "http://cdn.example.com/test.flv?KEY1=a37fa50a5fb8f71214b1e7c95ec7a1bd&KEY2=55CE8100"


def test_type_f_form_and_names() -> None:
    s = Signer("F", KEY, param_names=("s", "t"))
    url = s.sign("http://h/app/s.m3u8?lhs_start=1", timestamp=1700000000)
    assert url == f"http://h/app/s.m3u8?lhs_start=1&s={md5_hex(KEY + '/app/s.m3u8' + '1700000000')}&t=1700000000"


def test_query_is_not_signed_and_is_kept() -> None:
    s = Signer("A", KEY)
    a = s.sign("https://h/app/s.m3u8?lhs_start=1&x=2", timestamp=1700000000)
    b = s.sign("https://h/app/s.m3u8", timestamp=1700000000)
    assert a.split("auth_key=")[1] == b.split("auth_key=")[1]
    assert "?lhs_start=1&x=2&auth_key=" in a


def test_rand_uuid_is_hyphen_free_and_fresh() -> None:
    s = Signer("A", KEY, rand=None)
    t1 = s.sign("/a/b.m3u8", timestamp=1).split("auth_key=")[1].split("-")
    t2 = s.sign("/a/b.m3u8", timestamp=1).split("auth_key=")[1].split("-")
    assert len(t1) == 4 and len(t1[1]) == 32 and t1[1] != t2[1]


def test_repr_hides_key() -> None:
    assert KEY not in repr(Signer("A", KEY))


@pytest.mark.parametrize(
    "signer",
    [Signer("A", KEY), Signer("A", KEY, rand=None, uid="42"), Signer("B", KEY), Signer("C", KEY),
     Signer("C", KEY, c_form="query"), Signer("F", KEY)],
    ids=["A", "A-rand-uid", "B", "C-path", "C-query", "F"],
)
def test_verify_accepts_own_signature_rejects_wrong_key_and_expiry(signer: Signer) -> None:
    signed = signer.sign("/live/cam%201.m3u8?lhs_start=1", timestamp=1_700_000_040)
    path, _, query = signed.partition("?")
    ok = signer.verify(path, query, now=1_700_000_100)
    assert ok.ok and ok.uri == "/live/cam%201.m3u8"
    assert not signer.copy_with(key="other").verify(path, query, now=1_700_000_100).ok
    assert signer.verify(path, query, now=1_700_000_040 + 1801).reason == "expired"


@given(st.integers(min_value=0, max_value=2**32 - 1),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.%", min_size=1, max_size=20))
def test_sign_verify_round_trip_property(ts: int, name: str) -> None:
    for signer in (Signer("A", KEY), Signer("C", KEY), Signer("C", KEY, c_form="query"),
                   Signer("F", KEY)):
        path, _, query = signer.sign(f"/app/{name}.m3u8", timestamp=ts).partition("?")
        assert signer.verify(path, query, now=ts).ok


@pytest.mark.parametrize("kwargs", [dict(type="X"), dict(key=""), dict(ttl=0),
                                    dict(rand="a-b"), dict(uid="1/2")])
def test_bad_signer_settings(kwargs: dict[str, object]) -> None:
    from timeshift.errors import UsageError

    base: dict[str, object] = dict(type="A", key=KEY)
    base.update(kwargs)
    with pytest.raises(UsageError):
        Signer(**base)  # type: ignore[arg-type]
