"""Server-side archiving: the service writes the index (CreateLiveStreamRecordIndexFiles).

For streams the service itself records into the user's bucket, no segment needs to be
copied: the service can write an index m3u8 over the recorded segments. A window over
four days is split (the action's limit), one index per piece, each named by the index
template for its piece. Each returned index is then verified: read from the bucket,
parsed, and every segment it names must be present (one LIST per folder) and non-empty.
"""

from __future__ import annotations

import posixpath
import time
from urllib.parse import unquote, urlsplit

import m3u8

from ..errors import StoreError, TimeshiftError
from ..openapi.live import LiveApi, split_window
from .archiver import ArchiveJob, JobResult
from .store import ObjectStore
from .template import KeyTemplate

__all__ = ["archive_server_side", "verify_index"]

MAX_INDEX_BYTES = 32 * 1024 * 1024


def verify_index(store: ObjectStore, index_key: str) -> tuple[int, float, int]:
    """Check that every segment an index in ``store`` names is there and non-empty.

    Returns ``(segments, seconds, bytes)``.

    Raises:
        StoreError: the index is missing, unreadable, or names a missing or empty object.
    """
    data = store.get(index_key)
    if len(data) > MAX_INDEX_BYTES:
        raise StoreError(f"the index is over {MAX_INDEX_BYTES >> 20} MiB", bucket=store.bucket,
                         key=index_key)
    pl = m3u8.loads(data.decode("utf-8", errors="replace"))
    if pl.is_variant or not pl.segments:
        raise StoreError("the index names no segment", bucket=store.bucket, key=index_key)
    base = posixpath.dirname(index_key)
    keys = []
    for seg in pl.segments:
        uri = str(seg.uri)
        parts = urlsplit(uri)
        path = unquote(parts.path).lstrip("/") if parts.scheme else posixpath.normpath(
            posixpath.join(base, unquote(parts.path)))
        if path.startswith("../") or path == "..":
            raise StoreError("the index names a segment outside the bucket", bucket=store.bucket,
                             key=index_key)
        if parts.scheme and parts.path.lstrip("/").startswith(store.bucket + "/"):
            path = parts.path.lstrip("/")[len(store.bucket) + 1:]  # path-style absolute URL
        keys.append(path)
    listings: dict[str, dict[str, int]] = {}
    total = 0
    for key in keys:
        folder = posixpath.dirname(key) + "/"
        if folder not in listings:
            listings[folder] = {k: v.size for k, v in store.list(folder).items()}
        size = listings[folder].get(key)
        if not size:
            raise StoreError("the index names a segment that is missing or empty",
                             bucket=store.bucket, key=key)
        total += size
    return len(keys), float(sum(s.duration or 0 for s in pl.segments)), total


def archive_server_side(job: ArchiveJob, live: LiveApi, store: ObjectStore) -> JobResult:
    """Have the service write ``job``'s index files, split at four days, and verify each."""
    began = time.monotonic()
    template = KeyTemplate(job.index_template)
    endpoint = urlsplit(job.endpoint).netloc or job.endpoint
    segments, seconds, size = 0, 0.0, 0
    keys: list[str] = []
    try:
        for a, b in split_window(*job.window.unix):
            key = template.render(domain=job.domain, app=job.app, stream=job.stream,
                                  start=a, end=b)
            info = live.create_record_index_files(job.domain, job.app, job.stream, start=a,
                                                  end=b, oss_endpoint=endpoint,
                                                  oss_bucket=store.bucket, oss_object=key)
            n, secs, nbytes = verify_index(store, info.oss_object or key)
            segments, seconds, size = segments + n, seconds + secs, size + nbytes
            keys.append(info.oss_object or key)
    except TimeshiftError as exc:
        return JobResult(job, "failed", segments=segments, elapsed=time.monotonic() - began,
                         index_key=keys[-1] if keys else None, error=exc.to_dict())
    return JobResult(job, "ok", segments=segments, duration=seconds, bytes=size,
                     index_key=keys[0], more_index_keys=tuple(keys[1:]),
                     elapsed=time.monotonic() - began)
