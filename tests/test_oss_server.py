"""The local OSS server against the real SDKs: oss2 (V1 and V4) and alibabacloud-oss-v2."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import oss2
import pytest
import requests

from timeshift.sim.oss import (
    OssServer,
    crc64,
    crc64_combine,
)

AK, SK, REGION, BUCKET = "testid", "testsecret", "cn-hangzhou", "media"


def _auth(version: str, secret: str = SK) -> oss2.Auth | oss2.AuthV4:
    return oss2.Auth(AK, secret) if version == "v1" else oss2.AuthV4(AK, secret)


def _bucket(srv: OssServer, version: str = "v1", name: str = BUCKET,
            secret: str = SK) -> oss2.Bucket:
    return oss2.Bucket(_auth(version, secret), srv.url, name, enable_crc=True, region=REGION)


@pytest.fixture(params=["v1", "v4"])
def bucket(request: pytest.FixtureRequest, make_oss: Callable[..., OssServer]) -> oss2.Bucket:
    """A created bucket on a fresh server, signed with V1 or V4."""
    b = _bucket(make_oss(), request.param)
    b.create_bucket()
    return b


def test_crc64_check_value_and_combine() -> None:
    data = b"123456789"
    assert crc64(data) == 0x995DC9BBDF1939FA
    assert crc64(b"6789", crc64(b"12345")) == crc64(data)
    blob = os.urandom(5000)
    assert crc64_combine(crc64(blob[:1234]), crc64(blob[1234:]), len(blob) - 1234) == crc64(blob)
    assert crc64_combine(crc64(blob), crc64(b""), 0) == crc64(blob)
    ref = oss2.utils.Crc64(0)
    ref.update(blob)
    assert ref.crc == crc64(blob)


def test_put_get_head_meta(bucket: oss2.Bucket) -> None:
    body = b"#EXTM3U\n" + os.urandom(1000)
    put = bucket.put_object("live/cam1/index.m3u8", body,
                            headers={"x-oss-meta-stream": "cam1",
                                     "Content-Type": "application/vnd.apple.mpegurl"})
    md5 = hashlib.md5(body).hexdigest().upper()
    assert put.status == 200 and put.etag == md5 and put.crc == crc64(body)
    assert put.request_id

    got = bucket.get_object("live/cam1/index.m3u8")
    assert got.read() == body and got.client_crc == got.server_crc == crc64(body)
    assert got.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert got.headers["x-oss-meta-stream"] == "cam1"
    assert got.etag == md5

    head = bucket.head_object("live/cam1/index.m3u8")
    assert head.content_length == len(body) and head.etag == md5
    assert head.object_type == "Normal" and head.last_modified > 0

    meta = bucket.get_object_meta("live/cam1/index.m3u8")
    assert meta.content_length == len(body) and meta.etag == md5

    # oss2 guesses Content-Type from the extension; without one OSS's default applies.
    bucket.put_object("noext", b"x")
    assert bucket.head_object("noext").content_type == "application/octet-stream"
    assert bucket.object_exists("noext") and not bucket.object_exists("missing")


def test_range_and_missing(bucket: oss2.Bucket) -> None:
    body = bytes(range(256)) * 4
    bucket.put_object("seg.ts", body)
    part = bucket.get_object("seg.ts", byte_range=(10, 19))
    assert part.status == 206 and part.read() == body[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(body)}"
    assert bucket.get_object("seg.ts", byte_range=(None, 5)).read() == body[-5:]
    assert bucket.get_object("seg.ts", byte_range=(1000, None)).read() == body[1000:]
    # OSS ignores a range past the end and answers the whole object.
    whole = bucket.get_object("seg.ts", byte_range=(0, 5000))
    assert whole.status == 200 and whole.read() == body

    with pytest.raises(oss2.exceptions.NoSuchKey) as err:
        bucket.get_object("nope.ts")
    assert err.value.status == 404 and err.value.request_id
    # HEAD errors carry no body: oss2 reads the code from the base64 x-oss-err header.
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("nope.ts")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        oss2.Bucket(bucket.auth, bucket.endpoint, "other", region=REGION).get_object("a")


def test_forbid_overwrite(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"one")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        bucket.put_object("k", b"two", headers={"x-oss-forbid-overwrite": "true"})
    assert err.value.status == 409 and err.value.code == "FileAlreadyExists"
    assert bucket.get_object("k").read() == b"one"
    bucket.put_object("k", b"three", headers={"x-oss-forbid-overwrite": "false"})
    assert bucket.get_object("k").read() == b"three"


def test_copy_object(bucket: oss2.Bucket) -> None:
    bucket.put_object("src/a b+c.ts", b"payload", headers={"x-oss-meta-x": "1"})
    res = bucket.copy_object(BUCKET, "src/a b+c.ts", "dst/copy.ts")
    assert res.status == 200
    head = bucket.head_object("dst/copy.ts")
    assert head.etag == hashlib.md5(b"payload").hexdigest().upper()
    assert head.headers["x-oss-meta-x"] == "1"
    assert bucket.get_object("dst/copy.ts").read() == b"payload"
    bucket.update_object_meta("dst/copy.ts", {"x-oss-meta-y": "2", "Content-Type": "video/mp2t"})
    head = bucket.head_object("dst/copy.ts")
    assert head.headers["x-oss-meta-y"] == "2" and "x-oss-meta-x" not in head.headers
    assert head.content_type == "video/mp2t"
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.copy_object(BUCKET, "missing", "dst/x")


def test_delete_and_batch_delete(bucket: oss2.Bucket) -> None:
    for i in range(5):
        bucket.put_object(f"d/{i}", b"x")
    bucket.delete_object("d/0")
    bucket.delete_object("d/0")  # deleting a missing key is not an error in OSS
    assert not bucket.object_exists("d/0")
    res = bucket.batch_delete_objects(["d/1", "d/2", "d/nope"])
    assert sorted(res.deleted_keys) == ["d/1", "d/2", "d/nope"]
    assert [o.key for o in oss2.ObjectIteratorV2(bucket)] == ["d/3", "d/4"]


def test_list_objects_v2(bucket: oss2.Bucket) -> None:
    keys = sorted([f"live/cam{c}/{i:03d}.ts" for c in (1, 2) for i in range(7)]
                  + ["live/index.m3u8", "other/x", "top", "live/cam1/ü ±&<.ts"])
    for k in keys:
        bucket.put_object(k, k.encode())
    res = bucket.list_objects_v2(prefix="live/", delimiter="/")
    assert res.prefix_list == ["live/cam1/", "live/cam2/"]
    assert [o.key for o in res.object_list] == ["live/index.m3u8"]
    assert not res.is_truncated

    page = bucket.list_objects_v2(prefix="live/cam1/", max_keys=3)
    assert page.is_truncated and len(page.object_list) == 3
    page2 = bucket.list_objects_v2(prefix="live/cam1/", max_keys=3,
                                   continuation_token=page.next_continuation_token)
    assert page2.object_list[0].key == "live/cam1/003.ts"

    assert [o.key for o in oss2.ObjectIteratorV2(bucket, max_keys=2)] == keys
    assert [o.key for o in oss2.ObjectIterator(bucket, max_keys=2)] == keys
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, prefix="live/cam2/", max_keys=4)] == \
        [k for k in keys if k.startswith("live/cam2/")]
    # Paging through rolled-up prefixes must not repeat one.
    rolled = [o.key for o in oss2.ObjectIteratorV2(bucket, delimiter="/", max_keys=1)]
    assert rolled == ["live/", "other/", "top"]
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, start_after="live/index.m3u8")] == \
        ["other/x", "top"]
    res = bucket.list_objects_v2(prefix="live/cam1/ü")
    assert [o.key for o in res.object_list] == ["live/cam1/ü ±&<.ts"]
    assert res.object_list[0].size == len("live/cam1/ü ±&<.ts".encode())


def test_resumable_multipart_upload(bucket: oss2.Bucket, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 12345)
    src.write_bytes(data)
    result = oss2.resumable_upload(bucket, "vod/big.bin", str(src),
                                   store=oss2.ResumableStore(root=str(tmp_path)),
                                   multipart_threshold=512 * 1024, part_size=1024 * 1024,
                                   num_threads=2)
    assert result.crc == crc64(data)  # oss2 also compared it with the parts' combined CRC
    md5s = b"".join(hashlib.md5(data[i:i + 1024 * 1024]).digest()
                    for i in range(0, len(data), 1024 * 1024))
    assert result.etag == f"{hashlib.md5(md5s).hexdigest().upper()}-4"
    head = bucket.head_object("vod/big.bin")
    assert head.object_type == "Multipart" and head.content_length == len(data)
    assert bucket.get_object("vod/big.bin").read() == data


def test_multipart_low_level(bucket: oss2.Bucket) -> None:
    up = bucket.init_multipart_upload("mp.bin").upload_id
    p1 = bucket.upload_part("mp.bin", up, 1, b"a" * (100 * 1024))
    p2 = bucket.upload_part("mp.bin", up, 2, b"b" * 10)
    listed = bucket.list_parts("mp.bin", up)
    assert [(p.part_number, p.size) for p in listed.parts] == [(1, 100 * 1024), (2, 10)]
    assert listed.parts[0].etag == p1.etag
    with pytest.raises(oss2.exceptions.ServerError) as err:
        bucket.complete_multipart_upload("mp.bin", up, [oss2.models.PartInfo(1, "0" * 32)])
    assert err.value.code == "InvalidPart"
    parts = [oss2.models.PartInfo(1, p1.etag, size=100 * 1024, part_crc=p1.crc),
             oss2.models.PartInfo(2, p2.etag, size=10, part_crc=p2.crc)]
    bucket.complete_multipart_upload("mp.bin", up, parts)
    assert bucket.get_object("mp.bin").read() == b"a" * (100 * 1024) + b"b" * 10
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("mp.bin", up)

    small = bucket.init_multipart_upload("small.bin").upload_id
    q1 = bucket.upload_part("small.bin", small, 1, b"tiny")
    q2 = bucket.upload_part("small.bin", small, 2, b"tiny")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        bucket.complete_multipart_upload("small.bin", small, [
            oss2.models.PartInfo(1, q1.etag), oss2.models.PartInfo(2, q2.etag)])
    assert err.value.code == "EntityTooSmall"
    bucket.abort_multipart_upload("small.bin", small)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.abort_multipart_upload("small.bin", small)


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_wrong_credentials(make_oss: Callable[..., OssServer], version: str) -> None:
    srv = make_oss(buckets=(BUCKET,))
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as err:
        _bucket(srv, version, secret="wrong").put_object("k", b"x")
    assert err.value.status == 403 and "StringToSign" in err.value.details
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        _bucket(srv, version, secret="wrong").head_object("k")
    bad_id = oss2.Bucket(oss2.Auth("nobody", SK), srv.url, BUCKET)
    with pytest.raises(oss2.exceptions.ServerError) as err:
        bad_id.get_object("k")
    assert (err.value.status, err.value.code) == (403, "InvalidAccessKeyId")
    anon = requests.get(f"{srv.url}/{BUCKET}/k", timeout=5)
    assert anon.status_code == 403 and b"<Code>AccessDenied</Code>" in anon.content


def test_bucket_errors(make_oss: Callable[..., OssServer]) -> None:
    srv = make_oss()
    b = _bucket(srv)
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        b.put_object("k", b"x")
    b.create_bucket()
    with pytest.raises(oss2.exceptions.ServerError) as err:
        b.create_bucket()
    assert (err.value.status, err.value.code) == (409, "BucketAlreadyExists")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        b.put_object("a/../b", b"x")
    assert (err.value.status, err.value.code) == (400, "InvalidObjectName")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        b.list_objects_v2(max_keys=5000)
    assert (err.value.status, err.value.code) == (400, "InvalidArgument")
    assert [x.name for x in oss2.Service(_auth("v1"), srv.url).list_buckets().buckets] == [BUCKET]


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_presigned_urls(make_oss: Callable[..., OssServer], version: str) -> None:
    srv = make_oss(buckets=(BUCKET,))
    b = _bucket(srv, version)
    b.put_object("seg 1.ts", b"0123456789")
    url = b.sign_url("GET", "seg 1.ts", 60)
    r = requests.get(url, timeout=5)
    assert r.status_code == 200 and r.content == b"0123456789"
    r = requests.get(url, headers={"Range": "bytes=2-"}, timeout=5)  # as ffmpeg asks
    assert r.status_code == 206 and r.content == b"23456789"

    expired = b.sign_url("GET", "seg 1.ts", -10)
    r = requests.get(expired, timeout=5)
    assert r.status_code == 403 and b"Request has expired" in r.content
    srv.config.clock = lambda: time.time() + 3600  # the URL above outlived its 60 s
    r = requests.get(url, timeout=5)
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content
    assert b"Request has expired" in r.content

    srv.config.clock = time.time
    tampered = url.replace("seg%201.ts", "other.ts")
    assert requests.get(tampered, timeout=5).status_code == 403


def _tiny_ts(frames: int = 10) -> bytes:
    av = pytest.importorskip("av")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        st = out.add_stream("mpeg2video", rate=25)
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([i * 20]) * plane.buffer_size)
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return buf.getvalue()


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_pyav_reads_presigned_url(make_oss: Callable[..., OssServer], version: str) -> None:
    """ffmpeg's HTTP client (Range: bytes=0-, its own headers) against a presigned URL."""
    import av

    srv = make_oss(buckets=(BUCKET,))
    b = _bucket(srv, version)
    b.put_object("live/cam1/seg 1.ts", _tiny_ts())
    with av.open(b.sign_url("GET", "live/cam1/seg 1.ts", 60)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10


def test_virtual_host_style(make_oss: Callable[..., OssServer]) -> None:
    srv = make_oss(buckets=(BUCKET,))
    b = _bucket(srv)
    b.put_object("a/b.ts", b"vh")
    # The signature covers /bucket/key in either style, so the path-style URL's query works
    # when the bucket moves into the Host header.
    url = b.sign_url("GET", "a/b.ts", 60)
    query = url.split("?", 1)[1]
    r = requests.get(f"{srv.url}/a/b.ts?{query}", timeout=5,
                     headers={"Host": f"{BUCKET}.127.0.0.1:{srv.port}"})
    assert r.status_code == 200 and r.content == b"vh"
    r = requests.get(f"{srv.url}/a/b.ts?{query}", timeout=5,
                     headers={"Host": f"{BUCKET}.oss-cn-hangzhou.aliyuncs.com"})
    assert r.status_code == 200 and r.content == b"vh"
    r = requests.get(f"{srv.url}/a/b.ts?{query}", timeout=5,
                     headers={"Host": f"nosuch.127.0.0.1:{srv.port}"})
    assert r.status_code == 403  # signed for another bucket
    # A named host whose first label is not a bucket is path style.
    r = requests.get(url, timeout=5, headers={"Host": "oss.example.com"})
    assert r.status_code == 200 and r.content == b"vh"


def test_restart_keeps_objects(make_oss: Callable[..., OssServer], tmp_path: Path) -> None:
    srv = make_oss(buckets=(BUCKET,))
    b = _bucket(srv)
    b.put_object("keep/me.ts", b"persist", headers={"x-oss-meta-a": "b"})
    b.put_object("keep/me.ts", b"persisted")  # the older data file must be gone
    srv.stop()
    srv2 = make_oss(buckets=(BUCKET,))
    b2 = _bucket(srv2, "v4")
    assert b2.get_object("keep/me.ts").read() == b"persisted"
    assert [o.key for o in oss2.ObjectIteratorV2(b2)] == ["keep/me.ts"]
    data_files = list((tmp_path / "oss" / BUCKET / "objects").glob("*.data"))
    assert len(data_files) == 1


def test_fault_injection(make_oss: Callable[..., OssServer], tmp_path: Path) -> None:
    srv = make_oss(buckets=(BUCKET,), seed=1)
    b = _bucket(srv)
    b.put_object("k", b"data")

    srv.config.fail_rate = 1.0
    with pytest.raises(oss2.exceptions.ServerError) as err:
        b.get_object("k")
    assert (err.value.status, err.value.code) == (500, "InternalError")
    srv.config.fail_rate = 0.0

    srv.config.throttle_rate = 1.0
    with pytest.raises(oss2.exceptions.ServerError) as err:
        b.put_object("k2", b"x")
    assert err.value.status == 503 and err.value.headers["x-oss-qos-delay-time"]
    assert err.value.code == "TotalQpsLimitExceeded"
    srv.config.throttle_status = 429
    with pytest.raises(oss2.exceptions.ServerError) as err:
        b.get_object("k")
    assert err.value.status == 429 and err.value.headers["x-oss-qos-delay-time"]
    srv.config.throttle_rate = 0.0

    srv.config.corrupt_crc_rate = 1.0
    with pytest.raises(oss2.exceptions.InconsistentError):
        b.put_object("k3", b"corrupt me")
    with pytest.raises(oss2.exceptions.InconsistentError):  # oss2 checks GET CRCs only here
        b.get_object_to_file("k", str(tmp_path / "k.bin"))
    srv.config.corrupt_crc_rate = 0.0

    srv.config.drop_rate = 1.0
    b.put_object("big", os.urandom(1 << 20))
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(b.sign_url("GET", "big", 60), timeout=5)
    srv.config.drop_rate = 0.0
    assert len(requests.get(b.sign_url("GET", "big", 60), timeout=5).content) == 1 << 20

    c = srv.config.counters
    assert c["fault.fail"] == 1 and c["fault.throttle"] == 2 and c["fault.drop"] == 1
    assert c["fault.corrupt_crc"] == 2 and c["PutObject"] >= 3


def test_alibabacloud_oss_v2_smoke(make_oss: Callable[..., OssServer]) -> None:
    oss = pytest.importorskip("alibabacloud_oss_v2")
    srv = make_oss(buckets=(BUCKET,), region=REGION)
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(AK, SK)
    cfg.region = REGION
    cfg.endpoint = srv.url
    cfg.use_path_style = True
    cfg.disable_ssl = True
    client = oss.Client(cfg)
    body = os.urandom(4096)
    put = client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="v2/obj.bin", body=body))
    assert put.status_code == 200 and put.hash_crc64 == str(crc64(body))
    got = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="v2/obj.bin"))
    assert got.body.read() == body
    head = client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="v2/obj.bin"))
    assert head.content_length == len(body)
    with pytest.raises(oss.exceptions.OperationError) as err:
        client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="v2/missing"))
    assert "NoSuchKey" in str(err.value)
    pre = client.presign(oss.GetObjectRequest(bucket=BUCKET, key="v2/obj.bin"))
    r = requests.get(pre.url, timeout=5)
    assert r.status_code == 200 and r.content == body


def test_content_md5_checked(bucket: oss2.Bucket) -> None:
    good = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    bucket.put_object("m", b"abc", headers={"Content-MD5": good})
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.put_object("m", b"abd", headers={"Content-MD5": good})
