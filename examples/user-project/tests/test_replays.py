"""The service's tests: timeshift's fixtures stand in for the CDN origin and the bucket.

``timeshift_origin`` and ``timeshift_oss`` come from the plugin that installing timeshift
registers with pytest; no conftest, no server code here.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import m3u8
import pytest
import requests
from acme_replays import ReplayService, Settings

from timeshift.errors import GapError


def service(origin, oss) -> ReplayService:  # type: ignore[no-untyped-def]
    return ReplayService(Settings(
        play_domain=origin.domain, scheme=origin.scheme, auth_key=origin.auth_key,
        oss_endpoint=oss.endpoint, bucket=oss.bucket_name,
        oss_key_id=oss.credentials.access_key_id,
        oss_key_secret=oss.credentials.access_key_secret))


@pytest.mark.timeshift_origin(signing="A")
def test_replay_url_is_accepted_by_a_signing_origin(timeshift_origin, timeshift_oss) -> None:
    svc = service(timeshift_origin, timeshift_oss)
    t0 = timeshift_origin.stream_start
    url = svc.replay_url("cam1", t0 + 60, t0 + 80)
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert len(m3u8.loads(answer.text).segments) == 10
    unsigned = url.split("auth_key=")[0].rstrip("&?")
    assert requests.get(unsigned, timeout=10).status_code == 403


@pytest.mark.timeshift_origin(signing="A")
def test_highlight_is_the_exact_moment(timeshift_origin, timeshift_oss, tmp_path: Path) -> None:
    svc = service(timeshift_origin, timeshift_oss)
    t0 = timeshift_origin.stream_start
    result = svc.highlight("cam1", t0 + 13, t0 + 21, tmp_path / "goal.mp4")
    assert result.output.is_file()
    assert result.duration == pytest.approx(8.0, abs=0.05)


@pytest.mark.timeshift_origin(signing="A", gaps="30-40")
def test_highlight_across_a_gap_is_refused(timeshift_origin, timeshift_oss,
                                           tmp_path: Path) -> None:
    svc = service(timeshift_origin, timeshift_oss)
    t0 = timeshift_origin.stream_start
    with pytest.raises(GapError):
        svc.highlight("cam1", t0 + 25, t0 + 45, tmp_path / "gap.mp4")
    assert not (tmp_path / "gap.mp4").exists()


@pytest.mark.timeshift_origin(signing="A")
@pytest.mark.timeshift_oss(bucket="nightly-archive")
def test_archive_lands_in_the_bucket_and_plays(timeshift_origin, timeshift_oss,
                                               tmp_path: Path) -> None:
    svc = service(timeshift_origin, timeshift_oss)
    t0 = timeshift_origin.stream_start
    index_key = svc.archive("cam1", t0 + 100, t0 + 120, tmp_path / "cache")
    index = m3u8.loads(timeshift_oss.bucket.get_object(index_key).read().decode())
    assert index.is_endlist and len(index.segments) == 10
    folder = index_key.rsplit("/", 1)[0]
    for seg in index.segments:  # every segment the index names is in the bucket
        assert timeshift_oss.bucket.object_exists(posixpath.normpath(f"{folder}/{seg.uri}"))


@pytest.mark.timeshift_origin(signing="A")  # the parameters below add to it, key by key
@pytest.mark.parametrize("timeshift_origin", [{}, {"encryption": "aes-128"}, {"byte_ranges": 3}],
                         indirect=True, ids=["plain", "aes-128", "byte-ranges"])
def test_highlight_from_every_hls_form(timeshift_origin, timeshift_oss, tmp_path: Path) -> None:
    t0 = timeshift_origin.stream_start
    clip = service(timeshift_origin, timeshift_oss).highlight("cam1", t0 + 13, t0 + 21,
                                                              tmp_path / "h.mp4")
    assert clip.duration == pytest.approx(8.0, abs=0.05)
