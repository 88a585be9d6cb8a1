"""Whether a job is archived already: asked of the bucket, never of a local record.

A finished archive is its index (the commit marker, written last), the manifest beside
it, and every segment the manifest names, present with its size. :func:`committed` reads
exactly that: the index, the manifest (the same stream and window, the same key
template, not marked Retry), the index compared with the one the manifest's segments
make (a run killed between a new manifest and its index leaves an old index, which must
not pass for the new archive), and one listing per folder the segments are in.

The archiver asks it through :class:`~timeshift.archive.store.OssStore`. The CLI asks it
first through :class:`~timeshift.archive.ossread.OssReader` (:func:`confirm_finished`),
so that a re-run of finished jobs reports them without importing ``oss2``, ``aiohttp``
or PyAV; a job it cannot confirm, for any reason, goes the ordinary way, which asks
again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreError
from ..openapi.credentials import Credentials
from .destination import ObjectInfo, ReadableStore, StoreSpec, oss_credentials
from .index import ArchivedSegment, build_index, manifest_key
from .model import ArchiveJob, ArchiveProgress, JobResult, index_key_of

__all__ = ["Confirmation", "committed", "confirm_finished", "finished_result", "list_folders"]

log = logging.getLogger(__name__)

Manifest = dict[str, Any]


def list_folders(store: ReadableStore, keys: Sequence[str]) -> dict[str, ObjectInfo]:
    """What the store has in the keys' folders: one LIST per distinct folder (a window has
    one or two, by day), never a broader prefix that would list the stream's whole past."""
    out: dict[str, ObjectInfo] = {}
    for folder in sorted({k[: k.rfind("/") + 1] for k in keys}):
        out.update(store.list(folder))
    return out


def committed(store: ReadableStore, job: ArchiveJob, index_key: str, *,
              warn: bool = True) -> tuple[Manifest, list[ArchivedSegment]] | None:
    """The manifest and segments of a finished archive of ``job``, if the bucket has all of
    it; None when it has not (or not all of it, or not this job's).

    Raises:
        StoreError: the bucket could not be read (other than the index being absent).
    """
    try:
        index = store.get(index_key)
    except StoreError as exc:
        if exc.status == 404:
            return None
        raise
    try:
        manifest = json.loads(store.get(manifest_key(index_key)))
        segs = [ArchivedSegment.from_dict(d) for d in manifest["Segments"]]
    except (StoreError, ValueError, KeyError, TypeError) as exc:
        if warn:
            log.warning("%s: index present but its manifest is unreadable (%s); archiving "
                        "again", job.job_id, exc)
        return None
    if manifest.get("RecordId") != job.record_id or manifest.get("SegmentTemplate") != job.template:
        return None
    if manifest.get("Retry"):
        return None  # segments that were gone, or not yet there, may be there now
    if index.decode("utf-8", "replace") != build_index(segs, index_key):
        return None
    listing = list_folders(store, [s.key for s in segs])
    for s in segs:
        have = listing.get(s.key)
        if have is None or have.size != s.size:
            return None
    return manifest, segs


def finished_result(job: ArchiveJob, manifest: Manifest, index_key: str,
                    elapsed: float) -> JobResult:
    """The result of a job found finished: nothing fetched, nothing uploaded."""
    n = len(manifest["Segments"])
    return JobResult(job, "ok", segments=n, skipped=n, bytes=0,
                     duration=float(manifest.get("Duration", 0.0)),
                     gaps=tuple(manifest.get("Gaps", [])), index_key=index_key,
                     manifest_key=manifest_key(index_key), complete_before=True,
                     elapsed=elapsed)


def done_event(result: JobResult) -> ArchiveProgress:
    """The progress event of a job found finished (as the archiver emits it)."""
    n = result.segments
    return ArchiveProgress("done", result.job.job_id, n, n, 0, n, 0, result.elapsed,
                           "already archived")


@dataclass(frozen=True)
class Confirmation:
    """What the bucket said of each job: ``finished`` (by job id, with its result);
    ``unfinished``, the ids of jobs it answered for and does not hold all of; any other
    job could not be asked (see :func:`confirm_finished`)."""

    finished: Mapping[str, JobResult] = field(default_factory=dict)
    unfinished: frozenset[str] = frozenset()


def _confirm(job: ArchiveJob, credentials: Credentials) -> JobResult | bool:
    """The job's result if the bucket holds it finished, False if it does not, True if
    that could not be found out."""
    from .ossread import OssReader

    began = time.monotonic()
    index_key = index_key_of(job)
    reader = OssReader(job.endpoint, job.bucket, credentials)
    try:
        found = committed(reader, job, index_key, warn=False)
    except Exception as exc:  # noqa: BLE001  whatever it is, the ordinary way decides
        log.debug("%s: not confirmed finished (%s: %s)", job.job_id, type(exc).__name__, exc)
        return True
    finally:
        reader.close()
    if found is None:
        return False
    return finished_result(job, found[0], index_key, time.monotonic() - began)


def confirm_finished(jobs: Sequence[ArchiveJob], spec: StoreSpec, *, concurrency: int = 2,
                     progress: Callable[[ArchiveProgress], None] | None = None,
                     credentials: Credentials | None = None) -> Confirmation:
    """Which jobs' archives the bucket shows finished, each asked with :func:`committed`
    through the light reader. Jobs not in ``finished`` must be run the ordinary way; those
    in neither set could not be asked (unreachable, refused, or a store the light reader
    does not do: V4 signing, a proxy) and are checked again there.

    Jobs must have passed :func:`~timeshift.archive.destination.check_jobs`.
    ``credentials``: the OSS key, else :func:`oss_credentials` (the environment, ...).

    Raises:
        UsageError: no credentials given or found.
    """
    from .ossread import proxy_configured

    if spec.signing != "v1" or proxy_configured() or not jobs:
        return Confirmation()
    cred = credentials or oss_credentials()
    if len(jobs) == 1 or concurrency <= 1:
        found = [_confirm(j, cred) for j in jobs]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs))) as pool:
            found = list(pool.map(lambda j: _confirm(j, cred), jobs))
    done = {r.job.job_id: r for r in found if isinstance(r, JobResult)}
    if progress is not None:
        for r in done.values():
            progress(done_event(r))
    return Confirmation(done, frozenset(j.job_id for j, r in zip(jobs, found, strict=True)
                                        if r is False))
