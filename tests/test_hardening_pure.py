"""The pure halves of the hardening (issue 11; issue 12 item 5): the host policy, the capped
reader, the retry policy and the redaction, as tables of vectors."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.auth import Signer
from timeshift.capped import AnswerTooLarge, CappedBody, decode_capped
from timeshift.errors import ForeignHostError, RemoteError, TransportError, UsageError
from timeshift.netpolicy import HostPolicy
from timeshift.playlist import Segment, check_hosts
from timeshift.redact import redact
from timeshift.retry import RetryPolicy, parse_retry_after

PLAYLIST = "https://play.example.com/live/cam1.m3u8"


# ---- one fetch policy

@pytest.mark.parametrize(
    ("origin", "allowed", "url", "ok"),
    [
        pytest.param(PLAYLIST, (), "https://play.example.com/live/1.ts", True, id="same-origin"),
        pytest.param(PLAYLIST, (), "https://play.example.com:443/1.ts", True, id="explicit-port"),
        pytest.param(PLAYLIST, (), "http://play.example.com/1.ts", False, id="https-to-http"),
        pytest.param(PLAYLIST, (), "https://play.example.com:8443/1.ts", False, id="other-port"),
        pytest.param("http://127.0.0.1:8080/p.m3u8", (), "http://127.0.0.1:9090/s", False,
                     id="loopback-other-port"),
        pytest.param("http://cdn.example.com/p.m3u8", (), "https://cdn.example.com/1.ts", True,
                     id="upgrade-to-tls"),
        pytest.param(PLAYLIST, ("cdn.example.com",), "https://cdn.example.com/1.ts", True,
                     id="allowed-default-port"),
        pytest.param(PLAYLIST, ("cdn.example.com",), "https://cdn.example.com:8443/1.ts", False,
                     id="allowed-host-not-its-other-ports"),
        pytest.param(PLAYLIST, ("cdn.example.com",), "http://cdn.example.com/1.ts", False,
                     id="allowed-no-downgrade"),
        pytest.param(PLAYLIST, ("http://cdn.example.com",), "http://cdn.example.com/1.ts", True,
                     id="allowed-explicit-http"),
        pytest.param(PLAYLIST, ("cdn.example.com:8443",), "https://cdn.example.com:8443/1", True,
                     id="allowed-with-port"),
        pytest.param(PLAYLIST, ("[::1]:8080",), "https://[::1]:8080/1.ts", True, id="ipv6"),
        pytest.param(PLAYLIST, (), "https://PLAY.example.com./1.ts", True, id="case-and-dot"),
        pytest.param(PLAYLIST, (), "file:///etc/passwd", False, id="file-scheme"),
        pytest.param(PLAYLIST, (), "https://play.example.com:99999/1.ts", False, id="bad-port"),
    ],
)
def test_host_policy(origin: str, allowed: tuple[str, ...], url: str, ok: bool) -> None:
    policy = HostPolicy.for_origin(origin, allowed)
    assert (policy.refusal(url) is None) == ok, policy.refusal(url)


def test_check_hosts_refuses_a_downgrade_and_another_port() -> None:
    with pytest.raises(ForeignHostError, match="port or scheme"):
        check_hosts([Segment("http://play.example.com/live/1.ts", 1, 2.0, 0.0)], PLAYLIST)
    with pytest.raises(ForeignHostError, match="port or scheme"):
        check_hosts([Segment("https://play.example.com:8443/1.ts", 1, 2.0, 0.0)], PLAYLIST)


@pytest.mark.parametrize("entry", ["ftp://h", "h/path", "h:notaport", "user@h", ""])
def test_malformed_allow_host_is_a_usage_error(entry: str) -> None:
    with pytest.raises(UsageError):
        HostPolicy.for_origin(PLAYLIST, (entry,))


def test_redirect_hops() -> None:
    policy = HostPolicy.for_origin(PLAYLIST, max_redirects=2)
    assert policy.next_hop(PLAYLIST, 302, "/b.m3u8", 0) == "https://play.example.com/b.m3u8"
    with pytest.raises(RemoteError, match="more than 2 redirects"):
        policy.next_hop(PLAYLIST, 302, "/b.m3u8", 2)
    with pytest.raises(RemoteError, match="without a Location"):
        policy.next_hop(PLAYLIST, 302, None, 0)
    with pytest.raises(ForeignHostError, match="redirect"):
        policy.next_hop(PLAYLIST, 302, "http://169.254.169.254/latest/meta-data", 0)


# ---- one capped reader

@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        pytest.param(None, lambda b: b, id="identity"),
        pytest.param("gzip", gzip.compress, id="gzip"),
        pytest.param("deflate", zlib.compress, id="deflate-zlib"),
        pytest.param("deflate", lambda b: zlib.compress(b)[2:-4], id="deflate-raw"),
    ],
)
def test_capped_body_decodes_and_caps(encoding: str | None, encode: object) -> None:
    data = b"#EXTM3U\n" + b"x" * 100_000
    raw = encode(data)  # type: ignore[operator]
    assert decode_capped(raw, encoding, len(data)) == data
    with pytest.raises(AnswerTooLarge):
        decode_capped(raw, encoding, len(data) - 1)


def test_a_bomb_fails_without_inflating_it() -> None:
    import tracemalloc
    bomb = gzip.compress(b"\0" * (200 << 20))
    tracemalloc.start()
    with pytest.raises(AnswerTooLarge):
        decode_capped(bomb, "gzip", 1 << 20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20, peak  # steps of 1 MiB, not 200 MiB


def test_streaming_decode_counts_what_it_hands_out() -> None:
    body = CappedBody(10, "gzip")
    raw = gzip.compress(b"0123456789")
    assert body.decode(raw[:5]) + body.decode(raw[5:]) + body.finish() == b"0123456789"
    body = CappedBody(9, "gzip")
    with pytest.raises(AnswerTooLarge):
        body.decode(raw)
        body.finish()


# ---- one retry policy

def test_backoff_grows_with_jitter_and_is_capped() -> None:
    p = RetryPolicy(backoff=0.5, max_backoff=4.0)
    assert p.delay(0, rand=lambda a, b: 1.0) == 0.5
    assert p.delay(3, rand=lambda a, b: 1.0) == 4.0
    assert p.delay(200, rand=lambda a, b: 1.0) == 4.0  # no float overflow
    assert 0.25 <= p.delay(0) <= 0.75
    assert RetryPolicy(backoff=30, max_backoff=1e9, jitter=0).delay(2) == 120


@pytest.mark.parametrize(("hint", "waited"), [(86400.0, 30.0), (2.0, 2.0), (-3.0, 0.0)])
def test_retry_after_is_capped(hint: float, waited: float) -> None:
    assert RetryPolicy(retry_after_cap=30).delay(0, hint) == waited


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), ("0", 0.0), ("-5", 0.0), ("nan", None), ("inf", None), ("soon", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("", None), (None, None),
     ("Fri, 31 Dec 9999 23:59:59 GMT", "large")],
)
def test_parse_retry_after(value: str | None, seconds: object) -> None:
    got = parse_retry_after(value, now=1_800_000_000)
    if seconds == "large":
        assert got is not None and got > 1e9
    else:
        assert got == seconds


def test_attempts_stop_at_the_count_and_at_the_deadline() -> None:
    now = {"t": 0.0}
    run = RetryPolicy(retries=2, backoff=1, jitter=0, deadline=None).begin(lambda: now["t"])
    assert [run.next_delay(), run.next_delay(), run.next_delay()] == [1, 2, None]
    assert run.why_stopped() == "3 tries"
    run = RetryPolicy(retries=50, backoff=1, jitter=0, max_backoff=4,
                      deadline=10).begin(lambda: now["t"])
    waits = []
    while (w := run.next_delay()) is not None:
        waits.append(w)
        now["t"] += w
    assert sum(waits) < 10 and run.expired and "deadline of 10 s" in run.why_stopped()
    assert run.timeout(60) <= 10


# ---- one redaction

def _forms() -> list[tuple[str, str]]:
    url = "https://play.example.com:8443/live/cam1.m3u8?lhs_start=1&x=2"
    signers = {
        "A": Signer("A", "k", rand=None), "B": Signer("B", "k"), "C-path": Signer("C", "k"),
        "C-query": Signer("C", "k", c_form="query"), "F": Signer("F", "k"),
        "F-custom": Signer("F", "k", param_names=("hh", "tt")),
        "C-custom": Signer("C", "k", c_form="query", param_names=("zz", "yy")),
    }
    return [(name, s.sign(url, timestamp=1_795_240_800)) for name, s in signers.items()]


@pytest.mark.parametrize(("form", "signed"), _forms(), ids=[f for f, _ in _forms()])
def test_redaction_knows_every_signing_form(form: str, signed: str) -> None:
    out = redact(signed)
    digests = [p for p in signed.replace("?", "/").replace("&", "/").replace("=", "/")
               .replace("-", "/").split("/") if len(p) == 32]
    assert digests and not any(d in out for d in digests), out
    assert "lhs_start=1" in out and "/live/cam1.m3u8" in out  # the shape stays readable


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("NotifyUrl=https%3A%2F%2Fcb%2Fhook%3Ftoken%3Dabc123%26x%3D1", "abc123"),
        ("https://cb/hook?token=abc123", "abc123"),
        ("?Signature=s1g%2Bn&SecurityToken=STS.tok&AccessKeyId=ak", "STS.tok"),
        ("headers: {'Authorization': 'OSS ak:c2lnbmF0dXJl', 'Date': 'x'}", "c2lnbmF0dXJl"),
        ("Authorization: OSS4-HMAC-SHA256 Credential=ak/20261121, Signature=abcd", "abcd"),
        ("?OSSAccessKeyId=ak&Expires=1&Signature=zzz%3D", "zzz"),
        ("x-oss-security-token: STS.secret", "STS.secret"),
    ],
)
def test_redaction_hides_tokens_and_headers(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_errors_are_redacted_where_they_are_made() -> None:
    signed = Signer("B", "k").sign("http://h/live/s.ts", timestamp=1_795_240_800)
    err = TransportError(f"connection reset while reading {signed}", url=signed)
    digest = signed.split("/")[4]
    assert digest not in str(err) and digest not in repr(err.to_dict())


@given(st.text(max_size=200))
def test_redaction_never_fails_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
