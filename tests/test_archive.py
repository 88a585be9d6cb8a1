"""The archiver end to end: the local origin → the real oss2 client → the local OSS server.

Archives are read back with oss2 and played with PyAV (FFmpeg's libraries; no ffprobe
binary is installed here), from downloaded files and from a presigned index URL.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import m3u8
import oss2
import pytest

from timeshift.archive import (
    ArchiveJob,
    ArchiveOptions,
    JobResult,
    OssStore,
    archive_job,
    crc64,
    manifest_key,
    run_jobs,
)
from timeshift.archive.executors import StoreSpec
from timeshift.fetch import FetchOptions
from timeshift.openapi.credentials import Credentials
from timeshift.sim.origin import OriginServer
from timeshift.sim.oss import OssServer
from timeshift.times import NS_PER_S

BUCKET = "archive"
CRED = Credentials("testid", "testsecret")
OSS_ENV = {"OSS_ACCESS_KEY_ID": "testid", "OSS_ACCESS_KEY_SECRET": "testsecret"}


def _job(origin: OriginServer, oss: OssServer, offset: float = 100, seconds: float = 30,
         **kw: Any) -> ArchiveJob:
    t0 = int(origin.stream_start + offset)
    return ArchiveJob(domain=origin.netloc, app="live", stream="cam", start=t0 * NS_PER_S,
                      end=(t0 + int(seconds)) * NS_PER_S, bucket=BUCKET, endpoint=oss.url, **kw)


def _archive(job: ArchiveJob, store: OssStore, tmp_path: Path, **opts: Any) -> JobResult:
    options = ArchiveOptions(scheme="http", cache_dir=tmp_path / "cache",
                             fetch=FetchOptions(backoff=0.01, max_backoff=0.05), **opts)
    return asyncio.run(archive_job(job, store, options))


def _download(bucket: oss2.Bucket, index_key: str, folder: Path) -> Path:
    """Fetch an index and every segment it names with oss2, keeping the relative layout."""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / Path(index_key).name
    bucket.get_object_to_file(index_key, str(index))
    base = index_key.rsplit("/", 1)[0]
    for seg in m3u8.load(str(index)).segments:
        target = folder / seg.uri
        target.parent.mkdir(parents=True, exist_ok=True)
        bucket.get_object_to_file(os.path.normpath(f"{base}/{seg.uri}"), str(target))
    return index


def _play(url: str) -> tuple[int, float]:
    """Decode every video frame: (frames, seconds at 25 fps)."""
    with av.open(url, options={"protocol_whitelist": "file,http,tcp,crypto,data"}) as c:
        frames = sum(1 for _ in c.decode(video=0))
    return frames, frames / 25


@pytest.fixture
def oss(make_oss: Callable[..., OssServer]) -> OssServer:
    return make_oss(buckets=(BUCKET,))


@pytest.fixture
def store(oss: OssServer) -> OssStore:
    return OssStore(oss.url, BUCKET, CRED)


def test_archive_plays_from_oss_and_rerun_uploads_nothing(
        origin: OriginServer, oss: OssServer, store: OssStore, tmp_path: Path) -> None:
    job = _job(origin, oss, seconds=40)
    result = _archive(job, store, tmp_path)
    assert result.ok, result.error
    assert (result.segments, result.uploaded, result.skipped) == (20, 20, 0)
    assert result.gaps == () and result.duration == pytest.approx(40.0)
    writes = list(oss.config.writes)
    # Segments first, then the manifest, and the index last: the commit marker.
    assert writes[-2:] == [f"{BUCKET}/{result.manifest_key}", f"{BUCKET}/{result.index_key}"]
    assert len(writes) == 22

    bucket = oss2.Bucket(oss2.Auth("testid", "testsecret"), oss.url, BUCKET)
    assert bucket.head_object(result.index_key).content_type == "application/vnd.apple.mpegurl"
    index = _download(bucket, result.index_key or "", tmp_path / "dl")
    frames, seconds = _play(str(index))
    assert frames == 1000 and seconds == pytest.approx(40.0)
    seg_key = json.loads(bucket.get_object(result.manifest_key).read())["Segments"][0]["key"]
    assert bucket.head_object(seg_key).content_type == "video/MP2T"

    # A private archive plays from one presigned URL (GetSignedPlaylist signs the segments).
    assert _play(store.presign(result.index_key or "", 600, hls=True))[0] == 1000

    manifest = json.loads(bucket.get_object(result.manifest_key).read())
    assert manifest["RecordId"] == job.record_id
    assert (manifest["Width"], manifest["Height"]) == (320, 180)
    for s in manifest["Segments"]:
        assert bucket.head_object(s["key"]).server_crc == int(s["crc64"])

    again = _archive(job, store, tmp_path)
    assert again.ok and again.complete_before
    assert (again.uploaded, again.skipped) == (0, 20)
    assert oss.config.writes == writes, "a finished job's re-run uploaded something"
    verified = _archive(job, store, tmp_path, verify=True)
    assert verified.complete_before and oss.config.writes == writes


def test_damaged_archive_is_repaired_on_rerun(origin: OriginServer, oss: OssServer,
                                              store: OssStore, tmp_path: Path) -> None:
    job = _job(origin, oss, seconds=20)
    first = _archive(job, store, tmp_path)
    manifest = json.loads(store.get(first.manifest_key or ""))
    victim = manifest["Segments"][3]["key"]
    store.put(victim, b"not the segment", "video/MP2T")
    before = len(oss.config.writes)
    again = _archive(job, store, tmp_path)
    assert again.ok and not again.complete_before
    assert again.uploaded == 1 and again.skipped == 9
    repaired = [w.split("/", 1)[1] for w in oss.config.writes[before:]]
    assert repaired[0] == victim and repaired[-1] == first.index_key


def test_gaps_are_reported_and_marked(make_origin: Callable[..., OriginServer], oss: OssServer,
                                      store: OssStore, tmp_path: Path) -> None:
    origin = make_origin(history=3600, gaps=((110, 120),))
    job = _job(origin, oss, offset=100, seconds=30)
    result = _archive(job, store, tmp_path)
    assert result.ok
    assert [(round(g["start"] - origin.stream_start), round(g["end"] - origin.stream_start))
            for g in result.gaps] == [(110, 120)]
    assert result.segments == 10 and result.duration == pytest.approx(20.0)
    pl = m3u8.loads(store.get(result.index_key or "").decode())
    after_gap = [s for s in pl.segments
                 if s.program_date_time.timestamp() == origin.stream_start + 120]
    assert after_gap and after_gap[0].discontinuity
    manifest = json.loads(store.get(manifest_key(result.index_key or "")))
    assert len(manifest["Gaps"]) == 1 and manifest["Gaps"][0]["reason"] in ("playlist", "timeline")


def test_faults_lose_nothing_and_upload_nothing_twice(
        make_origin: Callable[..., OriginServer], make_oss: Callable[..., OssServer],
        tmp_path: Path) -> None:
    origin = make_origin(history=3600, fail_rate=0.15, truncate_rate=0.1, seed=3)
    oss = make_oss(buckets=(BUCKET,), fail_rate=0.15, throttle_rate=0.1, throttle_status=429,
                   corrupt_crc_rate=0.15, drop_rate=0.2, seed=5)
    from timeshift.archive.store import RetryPolicy
    store = OssStore(oss.url, BUCKET, CRED, retry=RetryPolicy(retries=10, backoff=0.01,
                                                              max_backoff=0.05))
    result = _archive(_job(origin, oss, seconds=40), store, tmp_path)
    assert result.ok, result.error
    assert result.uploaded == 20 and result.gaps == ()
    faults = {k: v for k, v in oss.config.counters.items() if k.startswith("fault.")}
    assert faults.get("fault.fail") and faults.get("fault.throttle") and faults.get("fault.corrupt_crc")
    assert store.stats.get("put.crc_recheck_ok"), "no corrupted PUT answer was re-checked"
    counts = collections.Counter(oss.config.writes)
    assert max(counts.values()) == 1, counts.most_common(3)
    oss.config.fail_rate = oss.config.throttle_rate = oss.config.corrupt_crc_rate = 0.0
    oss.config.drop_rate = 0.0
    assert _play(store.presign(result.index_key or "", 600, hls=True))[0] == 1000


def _cli(*args: str, env: dict[str, str] | None = None,
         **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "timeshift", "archive", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **OSS_ENV, **(env or {})}, **kw)


def test_killed_run_leaves_no_index_and_resumes(make_origin: Callable[..., OriginServer],
                                                make_oss: Callable[..., OssServer],
                                                tmp_path: Path) -> None:
    origin = make_origin(history=3600, latency=0.05)
    oss = make_oss(buckets=(BUCKET, "clean"))
    t0 = int(origin.stream_start) + 100
    args = ["--domain", origin.netloc, "--scheme", "http", "--app", "live", "--stream", "cam",
            "--start", str(t0), "--end", str(t0 + 120), "--endpoint", oss.url,
            "--segment-concurrency", "2", "--uploads", "1", "--cache-dir", str(tmp_path / "c1")]
    proc = _cli(*args, "--bucket", BUCKET)
    deadline = time.monotonic() + 60
    while len(oss.config.writes) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed_writes = list(oss.config.writes)
    assert 8 <= len(killed_writes) < 60, "the run was not killed half-way"
    store = OssStore(oss.url, BUCKET, CRED)
    assert not [k for k in store.list("") if k.endswith((".m3u8", ".json"))], \
        "a killed run left an index or manifest"

    resumed = _cli(*args, "--bucket", BUCKET, "--json")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    report = json.loads(out)["jobs"][0]
    assert report["status"] == "ok" and report["segments"] == 60
    assert report["skipped"] == len(killed_writes) and report["uploaded"] == 60 - len(killed_writes)
    counts = collections.Counter(oss.config.writes)
    assert max(counts.values()) == 1, "a segment was uploaded twice"

    clean = _cli(*args[:-1], str(tmp_path / "c2"), "--bucket", "clean", "--json")
    out, err = clean.communicate(timeout=120)
    assert clean.returncode == 0, err
    clean_store = OssStore(oss.url, "clean", CRED)
    resumed_objs = {k: v.size for k, v in store.list("").items() if not k.endswith(".json")}
    clean_objs = {k: v.size for k, v in clean_store.list("").items() if not k.endswith(".json")}
    assert resumed_objs == clean_objs
    for key in resumed_objs:
        assert crc64(store.get(key)) == crc64(clean_store.get(key))


def test_cli_batch_report_and_rerun_of_failures(origin: OriginServer,
                                                make_oss: Callable[..., OssServer],
                                                tmp_path: Path) -> None:
    oss = make_oss(buckets=(BUCKET,))
    t0 = int(origin.stream_start) + 100
    jobs = tmp_path / "jobs.jsonl"
    rows = [{"domain": origin.netloc, "app": "live", "stream": "cam", "start": t0,
             "end": t0 + 10},
            {"domain": origin.netloc, "app": "live", "stream": "cam2", "start": t0,
             "end": t0 + 10, "bucket": "missing"}]
    jobs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tmp_path / "report.json"
    proc = _cli("--jobs", str(jobs), "--bucket", BUCKET, "--endpoint", oss.url, "--scheme",
                "http", "--report", str(report), "--attempts", "1",
                "--cache-dir", str(tmp_path / "cache"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "1 of 2 job(s) ok" in out
    body = json.loads(report.read_text())
    by_stream = {j["stream"]: j for j in body["jobs"]}
    assert by_stream["cam"]["status"] == "ok" and by_stream["cam"]["uploaded"] == 5
    assert by_stream["cam2"]["status"] == "failed"
    assert by_stream["cam2"]["error"]["code"] == "NoSuchBucket"
    assert body["summary"] == {"jobs": 2, "ok": 1, "failed": 1, "segments": 5, "uploaded": 5,
                               "skipped": 0, "bytes": by_stream["cam"]["bytes"], "gaps": 0}
    assert "testsecret" not in out + err + report.read_text()

    OssStore(oss.url, "missing", CRED)._bucket.create_bucket()
    rerun = _cli("--jobs", str(report), "--endpoint", oss.url, "--scheme", "http", "--json",
                 "--cache-dir", str(tmp_path / "cache"))
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    again = json.loads(out)["jobs"]
    assert [(j["stream"], j["status"], j["uploaded"]) for j in again] == [("cam2", "ok", 5)]


@pytest.mark.parametrize("args,message", [
    pytest.param(["--stream", "cam"], "needs --domain", id="incomplete"),
    pytest.param(["--domain", "d", "--app", "a", "--stream", "s", "--start", "1", "--end", "2",
                  "--prefix", "{App}.ts", "--bucket", "bkt", "--endpoint", "e"],
                 "unknown variable", id="bad-template"),
    pytest.param(["--domain", "d", "--app", "a", "--stream", "s", "--start", "1", "--end", "2"],
                 "--bucket", id="no-bucket"),
    pytest.param(["--jobs", "/nonexistent.jsonl"], "cannot read", id="no-jobs-file"),
    pytest.param(["--domain", "d", "--app", "a", "--stream", "s", "--start", "1", "--end", "2",
                  "--bucket", "B_", "--endpoint", "e"], "not a valid bucket name", id="bad-bucket"),
    pytest.param(["--domain", "d", "--app", "a", "--stream", "s", "--start", "1", "--end", "2",
                  "--bucket", "bkt", "--endpoint", "e", "--executor", "spark"],
                 "expected local, dask", id="bad-executor"),
])
def test_cli_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    proc = _cli(*args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert message in err and len(err.strip().splitlines()) == 1


def test_v4_signing_store(origin: OriginServer, make_oss: Callable[..., OssServer],
                          tmp_path: Path) -> None:
    oss = make_oss(buckets=(BUCKET,), region="cn-hangzhou")
    store = OssStore(oss.url, BUCKET, CRED, region="cn-hangzhou", signing="v4")
    result = _archive(_job(origin, oss, seconds=6), store, tmp_path)
    assert result.ok and result.uploaded == 3
    assert oss.config.counters.get("PutObject", 0) >= 5


def test_dask_executor_runs_each_job_once(origin: OriginServer, oss: OssServer,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    for k, v in OSS_ENV.items():
        monkeypatch.setenv(k, v)
    a, b = _job(origin, oss, seconds=6), _job(origin, oss, offset=200, seconds=6)
    options = ArchiveOptions(scheme="http", cache_dir=tmp_path / "cache")
    results = run_jobs([a, b, a], options=options, executor="dask", concurrency=2,
                       store=StoreSpec())
    assert [r.job for r in results] == [a, b]
    assert all(r.ok for r in results), [r.error for r in results]
    counts = collections.Counter(oss.config.writes)
    assert max(counts.values()) == 1 and len(counts) == 2 * (3 + 2)


def test_server_side_index_is_created_and_verified(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--server-side: the local Live API writes the index into the local OSS server (as the
    service does for streams it records); the archiver verifies every segment it names."""
    from timeshift.sim.origin import OriginConfig
    from timeshift.sim.stack import build_stack

    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "live-ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "live-sk",
           **OSS_ENV}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    stack = build_stack("all", origin=OriginConfig(history=3600), root=tmp_path / "sim",
                        buckets=(BUCKET,))
    servers = list(stack.servers.values())
    for srv in servers:
        srv.start()
    try:
        stack.wire()
        t0 = int(stack.servers["origin"].stream_start) + 100  # type: ignore[attr-defined]
        common = ["--domain", "play.example.com", "--app", "live", "--stream", "cam",
                  "--bucket", BUCKET, "--endpoint", stack.servers["oss"].url,
                  "--api-endpoint", stack.servers["liveapi"].netloc, "--api-scheme", "http",
                  "--server-side", "--json"]
        proc = _cli(*common, "--start", str(t0), "--end", str(t0 + 20), env=env)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        job = json.loads(out)["jobs"][0]
        assert job["status"] == "ok" and job["segments"] == 10
        assert job["duration"] == pytest.approx(20.0)
        store = OssStore(stack.servers["oss"].url, BUCKET, CRED)
        assert _play(store.presign(job["index_key"], 600, hls=True))[0] == 500

        # A window with no publishing: the service refuses it, and the job fails with its code.
        proc = _cli(*common, "--start", str(t0 - 7200), "--end", str(t0 - 7000), env=env)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1
        assert json.loads(out)["jobs"][0]["error"]["code"] == "InvalidStream.NotFound"
    finally:
        for srv in servers:
            srv.stop()


def test_encrypted_byte_range_origin_archives_clear_segments(
        make_origin: Callable[..., OriginServer], oss: OssServer, store: OssStore,
        tmp_path: Path) -> None:
    """AES-128 and byte-range sources are archived as whole clear segments (the fetcher
    decrypts and cuts ranges), so the index needs no key and plays anywhere."""
    origin = make_origin(history=3600, encryption="aes-128", key_rotation=4, byte_ranges=3)
    result = _archive(_job(origin, oss, seconds=20), store, tmp_path)
    assert result.ok and result.uploaded == 10
    index = store.get(result.index_key or "").decode()
    assert "EXT-X-KEY" not in index and "BYTERANGE" not in index
    manifest = json.loads(store.get(result.manifest_key or ""))
    for seg in manifest["Segments"]:
        data = store.get(seg["key"])
        assert data[0] == 0x47 and data[188] == 0x47 and len(data) % 188 == 0
    assert _play(store.presign(result.index_key or "", 600, hls=True))[0] == 500


class _FailingPut(OssStore):
    """The real oss2 store, with one key's uploads failing (an injected fault the local OSS
    server cannot aim at a single key)."""

    def __init__(self, *args: Any, victim_index: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.victim_index, self.puts = victim_index, 0

    def put(self, key: str, data: bytes, content_type: str) -> Any:
        self.puts += 1
        if self.puts == self.victim_index:
            from timeshift.errors import StoreError
            raise StoreError("injected", code="InternalError", bucket=self.bucket, key=key)
        return super().put(key, data, content_type)


@pytest.mark.parametrize("victim", [1, 7, 10])
def test_a_failed_upload_fails_the_job_and_commits_nothing(
        origin: OriginServer, oss: OssServer, tmp_path: Path, victim: int) -> None:
    store = _FailingPut(oss.url, BUCKET, CRED, victim_index=victim)
    result = _archive(_job(origin, oss, seconds=20), store, tmp_path)
    assert not result.ok and result.error and result.error["code"] == "InternalError"
    assert not [k for k in store.list("") if k.endswith((".m3u8", ".json"))]


def test_an_index_that_is_not_the_manifests_is_not_taken_as_finished(
        origin: OriginServer, oss: OssServer, store: OssStore, tmp_path: Path) -> None:
    job = _job(origin, oss, seconds=10)
    first = _archive(job, store, tmp_path)
    stale = store.get(first.index_key or "").decode().replace("#EXT-X-ENDLIST\n", "")
    store.put(first.index_key or "", stale.encode(), "application/vnd.apple.mpegurl")
    again = _archive(job, store, tmp_path)
    assert again.ok and not again.complete_before and again.uploaded == 0
    assert store.get(first.index_key or "").decode().endswith("#EXT-X-ENDLIST\n")


def test_a_window_at_the_live_edge_is_tried_again(origin: OriginServer, oss: OssServer,
                                                 store: OssStore, tmp_path: Path) -> None:
    now = int(time.time())
    job = ArchiveJob(domain=origin.netloc, app="live", stream="cam", start=(now - 20) * NS_PER_S,
                     end=(now + 10) * NS_PER_S, bucket=BUCKET, endpoint=oss.url)
    first = _archive(job, store, tmp_path)
    assert first.ok and any(g["reason"] == "after-end" for g in first.gaps)
    assert json.loads(store.get(first.manifest_key or ""))["Retry"] is True
    assert not _archive(job, store, tmp_path).complete_before


def test_signed_playlist_signs_only_its_own_folder(oss: OssServer, store: OssStore) -> None:
    import requests

    store.put("a/b/x.ts", b"\x47" * 188, "video/MP2T")
    store.put("other/secret.ts", b"\x47" * 188, "video/MP2T")
    store.put("a/b/i.m3u8", b"#EXTM3U\n#EXTINF:2,\nx.ts\n#EXTINF:2,\n../../other/secret.ts\n",
              "application/vnd.apple.mpegurl")
    text = requests.get(store.presign("a/b/i.m3u8", 600, hls=True), timeout=10).text
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[0].startswith("x.ts?OSSAccessKeyId=") and lines[1] == "../../other/secret.ts"


class _FailingList(OssStore):
    """The real oss2 store whose listings fail (the local OSS server's faults cannot be
    aimed at one operation)."""

    def list(self, prefix: str) -> Any:
        from timeshift.errors import StoreError
        raise StoreError("injected", code="InternalError", bucket=self.bucket, key=prefix)


def test_a_failed_listing_fails_the_job_before_anything_is_uploaded(
        origin: OriginServer, oss: OssServer, tmp_path: Path) -> None:
    # The sink lists the bucket in the background while the first segments download; each
    # upload waits for that listing, so a listing that fails uploads and commits nothing.
    store = _FailingList(oss.url, BUCKET, CRED)
    result = _archive(_job(origin, oss, seconds=20), store, tmp_path)
    assert not result.ok and result.error and result.error["code"] == "InternalError"
    assert not oss.config.counters.get("PutObject")
    assert not OssStore(oss.url, BUCKET, CRED).list("")
