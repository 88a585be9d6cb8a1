"""A re-run of finished archive jobs: confirmed against the bucket, light, and honest.

The CLI asks the bucket (the index, the manifest, one LIST per folder) through the
read-only standard-library reader before it loads oss2, aiohttp or PyAV; anything it
cannot confirm goes the ordinary way. Everything here runs against the local origin and
the local OSS server over real sockets; the reader's signatures are compared with oss2's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import oss2
import pytest

from timeshift.archive import ArchiveJob, OssStore, StoreSpec, manifest_key
from timeshift.archive.committed import committed, confirm_finished
from timeshift.archive.model import index_key_of
from timeshift.archive.ossread import OssReader, http_date, proxy_configured, sign_v1
from timeshift.errors import StoreError
from timeshift.openapi.credentials import Credentials
from timeshift.sim.origin import OriginServer
from timeshift.sim.oss import OssServer
from timeshift.times import NS_PER_S

BUCKET = "rerun"
CRED = Credentials("testid", "testsecret")
OSS_ENV = {"OSS_ACCESS_KEY_ID": "testid", "OSS_ACCESS_KEY_SECRET": "testsecret"}
HEAVY = ("oss2", "aiohttp", "av", "requests", "m3u8")

# Runs the CLI in a fresh interpreter and reports, on its last stderr line, which of the
# heavy modules it had loaded by the end.
_PROBE = f"""
import json, sys
from timeshift.cli import main
code = main(sys.argv[1:])
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)
sys.exit(code)
"""


@pytest.fixture
def oss(make_oss: Callable[..., OssServer]) -> OssServer:
    return make_oss(buckets=(BUCKET,))


def _args(origin: OriginServer, oss: OssServer, tmp_path: Path, seconds: int = 10) -> list[str]:
    t0 = int(origin.stream_start) + 100
    return ["archive", "--domain", origin.netloc, "--scheme", "http", "--app", "live",
            "--stream", "cam", "--start", str(t0), "--end", str(t0 + seconds),
            "--bucket", BUCKET, "--endpoint", oss.url, "--cache-dir", str(tmp_path / "cache"),
            "--progress", "none", "--json"]


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], list[str]]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **OSS_ENV, **(env or {})})
    loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, loaded


def _job(report: dict[str, Any]) -> dict[str, Any]:
    (job,) = report["jobs"]
    return job


def test_rerun_of_a_finished_job_asks_the_bucket_and_loads_no_sdk(
        origin: OriginServer, oss: OssServer, tmp_path: Path) -> None:
    args = _args(origin, oss, tmp_path)
    code, first, loaded = _run(args)
    assert code == 0 and _job(first)["uploaded"] == 5 and not _job(first)["already_complete"]
    assert "oss2" in loaded and "aiohttp" in loaded  # the first run really copies
    # It asked for the index once (absent), and the archiver did not ask again.
    assert oss.config.counters.get("GetObject") == 1

    counters = oss.config.counters
    before = dict(counters)
    served = origin.config.counters.get("requests", 0)
    code, again, loaded = _run(args)
    assert code == 0
    job = _job(again)
    assert (job["status"], job["uploaded"], job["skipped"], job["already_complete"]) == \
        ("ok", 0, 5, True)
    assert job["index_key"] == _job(first)["index_key"] and job["bytes"] == 0
    assert loaded == [], f"a finished re-run loaded {loaded}"
    # It asked the bucket (the index, the manifest, one listing) and nothing else:
    # not the origin, and no write.
    asked = {k: counters.get(k, 0) - before.get(k, 0) for k in counters}
    assert asked.get("GetObject") == 2 and asked.get("ListObjectsV2", asked.get("ListObjects")) == 1
    assert not asked.get("PutObject")
    assert origin.config.counters.get("requests", 0) == served


def test_rerun_with_a_segment_gone_goes_the_ordinary_way_and_repairs(
        origin: OriginServer, oss: OssServer, tmp_path: Path) -> None:
    args = _args(origin, oss, tmp_path)
    code, first, _ = _run(args)
    assert code == 0
    store = OssStore(oss.url, BUCKET, CRED)
    manifest = json.loads(store.get(manifest_key(_job(first)["index_key"])))
    store.delete(manifest["Segments"][2]["key"])
    code, again, loaded = _run(args)
    job = _job(again)
    assert code == 0 and job["uploaded"] == 1 and not job["already_complete"]
    assert "oss2" in loaded  # not confirmed by the light reader: the ordinary path ran


def test_rerun_that_cannot_confirm_fails_as_before(origin: OriginServer, oss: OssServer,
                                                   tmp_path: Path) -> None:
    # Wrong credentials: the light reader cannot confirm; the ordinary path reports the
    # service's error, exit 1, as it did before the reader existed.
    args = _args(origin, oss, tmp_path)
    assert _run(args)[0] == 0
    code, report, loaded = _run([*args, "--attempts", "1"],
                                env={"OSS_ACCESS_KEY_SECRET": "wrong"})
    assert code == 1 and _job(report)["status"] == "failed"
    assert _job(report)["error"]["code"] == "SignatureDoesNotMatch"
    assert "oss2" in loaded


def test_committed_reads_through_the_light_reader(origin: OriginServer, oss: OssServer,
                                                  tmp_path: Path) -> None:
    args = _args(origin, oss, tmp_path)
    assert _run(args)[0] == 0
    t0 = int(origin.stream_start) + 100
    job = ArchiveJob(domain=origin.netloc, app="live", stream="cam", start=t0 * NS_PER_S,
                     end=(t0 + 10) * NS_PER_S, bucket=BUCKET, endpoint=oss.url)
    key = index_key_of(job)
    reader = OssReader(oss.url, BUCKET, CRED)
    found = committed(reader, job, key)
    assert found is not None and len(found[1]) == 5

    # Another window of the same stream: its index is absent (404), so not finished.
    other = ArchiveJob(domain=job.domain, app="live", stream="cam", start=job.start,
                       end=job.end + NS_PER_S, bucket=BUCKET, endpoint=oss.url)
    assert committed(reader, other, index_key_of(other)) is None

    # An index that is not the manifest's (a run killed between the two writes).
    store = OssStore(oss.url, BUCKET, CRED)
    index = store.get(key)
    store.put(key, index.replace(b"#EXT-X-ENDLIST\n", b""), "application/vnd.apple.mpegurl")
    assert committed(reader, job, key) is None
    asked = confirm_finished([job], StoreSpec(), concurrency=1, credentials=CRED)
    assert not asked.finished and asked.unfinished == {job.job_id}
    store.put(key, index, "application/vnd.apple.mpegurl")
    assert committed(reader, job, key) is not None

    # A segment of another size.
    seg = found[1][0].key
    data = store.get(seg)
    store.put(seg, data + b"\0", "video/MP2T")
    assert committed(reader, job, key) is None
    store.put(seg, data, "video/MP2T")
    assert set(confirm_finished([job], StoreSpec(), concurrency=1,
                                credentials=CRED).finished) == {job.job_id}
    # Several jobs at once (one thread each): only the finished one is confirmed.
    asked = confirm_finished([other, job], StoreSpec(), concurrency=2, credentials=CRED)
    assert set(asked.finished) == {job.job_id} and asked.unfinished == {other.job_id}
    # V4 signing is not the light reader's: nothing is said, the ordinary path decides.
    asked = confirm_finished([job], StoreSpec(region="cn-hangzhou", signing="v4"),
                             credentials=CRED)
    assert not asked.finished and not asked.unfinished
    # A bucket that refuses the key: nothing is said either.
    asked = confirm_finished([job], StoreSpec(), credentials=Credentials("testid", "nope"))
    assert not asked.finished and not asked.unfinished
    reader.close()


def test_reader_lists_every_page_and_checks_crc(make_oss: Callable[..., OssServer]) -> None:
    srv = make_oss(buckets=(BUCKET,))
    store = OssStore(srv.url, BUCKET, CRED)
    keys = ["live/a b/1.ts", "live/a b/2.ts", "live/a b/ü 3.ts", "live/a b/4+5.ts",
            "live/a b/sub/6.ts", "live/other/7.ts"]
    for i, k in enumerate(keys):
        store.put(k, bytes([i]) * (100 + i), "video/MP2T")
    reader = OssReader(srv.url, BUCKET, CRED, page_size=2)
    listing = reader.list("live/a b/")
    assert {k: v.size for k, v in listing.items()} == {k: 100 + i for i, k in enumerate(keys[:5])}
    assert reader.get(keys[2]) == bytes([2]) * 102
    head = reader.head(keys[3])
    assert head is not None and head.size == 103 and head.crc64 == store.head(keys[3]).crc64
    assert reader.head("live/none.ts") is None
    with pytest.raises(StoreError) as err:
        reader.get("live/none.ts")
    assert err.value.status == 404
    srv.config.corrupt_crc_rate = 1.0  # every x-oss-hash-crc64ecma answered is wrong
    with pytest.raises(StoreError) as err:
        reader.get(keys[0])
    assert err.value.code == "InconsistentError"
    reader.close()
    with pytest.raises(StoreError):
        OssReader(srv.url, BUCKET, Credentials("testid", "nope")).get(keys[0])


@pytest.mark.parametrize("token", [None, "sts-token/+="])
@pytest.mark.parametrize("method,key,params", [
    ("GET", "live/cam/2026-11-20/1_2.ts", {}),
    ("HEAD", "a b/ü.m3u8", {}),
    ("GET", "", {"continuation-token": "tok/1+2"}),
])
def test_signature_is_oss2s(monkeypatch: pytest.MonkeyPatch, token: str | None, method: str,
                            key: str, params: dict[str, str]) -> None:
    date = http_date(1_700_000_000)
    assert date == "Tue, 14 Nov 2023 22:13:20 GMT"
    monkeypatch.setattr(oss2.utils, "http_date", lambda *a: date)
    auth = (oss2.StsAuth("testid", "testsecret", token) if token
            else oss2.Auth("testid", "testsecret"))
    req = oss2.http.Request(method, "http://127.0.0.1/x", params=dict(params))
    auth._sign_request(req, BUCKET, key)
    oss_headers = {"x-oss-security-token": token} if token else {}
    sub = f"?continuation-token={params['continuation-token']}" if params else ""
    ours = sign_v1("testsecret", method, f"/{BUCKET}/{key}{sub}", date, oss_headers)
    assert req.headers["authorization"] == f"OSS testid:{ours}"


def test_proxy_settings_leave_it_to_oss2() -> None:
    assert proxy_configured({"HTTPS_PROXY": "http://p:3128"})
    assert proxy_configured({"all_proxy": "socks5://p"})
    assert not proxy_configured({"NO_PROXY": "*", "PATH": "/bin"})
