"""Copy one stream's window into an object store as a playable HLS recording.

1. If the job's index already exists, its manifest says what was archived: when every
   object it names is in the bucket with its size (one LIST), the job is done and
   nothing is fetched or uploaded. ``verify`` also compares each object's CRC-64.
2. Otherwise plan the window (timeline, playlist, selection: :mod:`timeshift.plan`),
   render each segment's key, and LIST the keys' common prefix once.
3. Fetch the segments with the clip's fetcher (parallel, retried, hedged, cached on
   disk so a re-run after a crash does not download again); upload each one whose
   key is absent, or present with another size or CRC-64 (HEAD), with a bounded
   number of uploads in flight behind the downloads.
4. Write the manifest, then the index m3u8 **last**: the index is the commit marker,
   so no index ever names an object that is not there, and a killed run is finished
   by running it again.

A gap (time without data, a segment the origin no longer has) is never silent: it is
in the result, in the manifest, and marked in the index by a discontinuity.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..auth import Signer
from ..cmaf import CmafSource, init_key
from ..edge import EdgePolicy, check_horizon
from ..errors import StoreError, TimeshiftError, UsageError
from ..fetch import FetchOptions, SegmentCache, default_cache_dir
from ..follow import EdgeEvent, LiveEdgeSource
from ..pieces import Fetched
from ..pipeline import PlaylistSource, WindowEvent, WindowOptions, WindowSource, run_window
from ..plan import Source, resolve_source
from ..playlist import TOLERANCE, Gap, InitSection, Segment, Selection
from ..window import iso_seconds
from .committed import committed, finished_result, list_folders
from .destination import JSON_TYPE, M3U8_TYPE, TS_TYPE, ObjectInfo, ObjectStore, crc64
from .index import ArchivedSegment, build_index, build_manifest, manifest_key
from .model import ArchiveJob, ArchiveProgress, JobResult, index_key_of
from .template import KeyTemplate, named_by_form

__all__ = [
    "ArchiveJob",
    "ArchiveOptions",
    "ArchiveProgress",
    "JobResult",
    "archive_job",
]

log = logging.getLogger(__name__)

# A window ending less than this before now may still be filling in at the origin.
LIVE_EDGE_MARGIN = 120.0


@dataclass(frozen=True)
class ArchiveOptions:
    """How jobs are run. Passed explicitly; nothing is read from global state."""

    scheme: str = "https"
    signer: Signer | None = None
    allowed_hosts: tuple[str, ...] = ()
    fetch: FetchOptions = field(default_factory=FetchOptions)
    uploads: int = 8
    cache_dir: Path | None = None
    verify: bool = False
    force: bool = False
    #: Wait for a window that reaches past what is published (the live edge), as a clip
    #: does, instead of archiving what exists and marking the job Retry (None: do not).
    edge: EdgePolicy | None = None


def _probe_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height of the first video stream of a TS segment, read with PyAV."""
    import av

    try:
        with av.open(io.BytesIO(data), format="mpegts") as c:
            v = next((s for s in c.streams if s.type == "video"), None)
            if v is None:
                return None, None
            return v.codec_context.width or None, v.codec_context.height or None
    except (av.FFmpegError, StopIteration):
        return None, None


async def _committed(store: ObjectStore, job: ArchiveJob, index_key: str,
                     verify: bool) -> dict[str, Any] | None:
    """The manifest of a finished archive of this job, if every object it names is intact
    (``verify``: with its CRC-64 too, one HEAD each)."""
    found = await asyncio.to_thread(committed, store, job, index_key)
    if found is None:
        return None
    manifest, segs = found
    if verify:
        heads = await asyncio.gather(*(asyncio.to_thread(store.head, s.key) for s in segs))
        if any(h is None or h.crc64 != s.crc64 for h, s in zip(heads, segs, strict=True)):
            return None
    return manifest


async def archive_job(job: ArchiveJob, store: ObjectStore, options: ArchiveOptions | None = None,
                      progress: Callable[[ArchiveProgress], None] | None = None) -> JobResult:
    """Archive ``job`` into ``store``; returns the result (``status="failed"`` with the error
    for failures of the job; :class:`UsageError` for bad arguments is raised).

    Raises:
        UsageError: a bad template, key or window.
    """
    began = time.monotonic()
    opts = options or ArchiveOptions()
    seg_template = KeyTemplate(job.template).require_per_segment("template")
    index_key = index_key_of(job)
    counts = {"done": 0, "total": 0, "uploaded": 0, "skipped": 0, "bytes": 0}

    def emit(kind: str, detail: str = "") -> None:
        if progress is not None:
            progress(ArchiveProgress(kind, job.job_id, counts["done"], counts["total"],
                                     counts["uploaded"], counts["skipped"], counts["bytes"],
                                     time.monotonic() - began, detail))

    try:
        if not opts.force:
            manifest = await _committed(store, job, index_key, opts.verify)
            if manifest is not None:
                n = len(manifest["Segments"])
                counts.update(done=n, total=n, skipped=n)
                emit("done", "already archived")
                return finished_result(job, manifest, index_key, time.monotonic() - began)
        result = await _run(job, store, opts, seg_template, index_key, counts, emit)
        emit("done", index_key)
        return replace(result, elapsed=time.monotonic() - began)
    except UsageError:
        raise
    except TimeshiftError as exc:
        emit("failed", str(exc))
        return JobResult(job, "failed", uploaded=counts["uploaded"], skipped=counts["skipped"],
                         bytes=counts["bytes"], elapsed=time.monotonic() - began,
                         error=exc.to_dict())


class UploadSink:
    """The archive's sink: each fetched segment uploaded under its key (skipped when the
    bucket has it with the same size and CRC-64), with at most ``uploads`` in flight
    behind the downloads; on finish the manifest, then the index **last**."""

    def __init__(self, job: ArchiveJob, store: ObjectStore, opts: ArchiveOptions,
                 template: KeyTemplate, index_key: str, counts: dict[str, int],
                 emit: Callable[[str, str], None]) -> None:
        self.job, self.store, self.opts, self.template = job, store, opts, template
        self.index_key, self.counts, self.emit = index_key, counts, emit
        self.keys: dict[int, str] = {}
        self.existing: asyncio.Future[dict[str, ObjectInfo]] | None = None
        self.archived: list[ArchivedSegment] = []
        # Every upload task is kept until the end and its result read: a failed upload must
        # fail the job before anything is committed.
        self.uploads: list[asyncio.Task[None]] = []
        self.slots = asyncio.Semaphore(max(1, opts.uploads))
        self.size: tuple[int | None, int | None] = (None, None)
        self.previous: Segment | None = None
        # CMAF (issue 13): each init section uploaded once, named by #EXT-X-MAP (cmaf.py).
        self.cmaf = CmafSource(None, SegmentCache(opts.cache_dir or default_cache_dir()),
                               opts.fetch)
        self.init_keys: dict[InitSection, str] = {}

    def _key(self, s: Segment) -> str:
        job = self.job
        # A CMAF fragment is named .m4s, not the default template's .ts (its init section
        # is an .mp4, see cmaf.init_key): what a player or a person finds is what it says.
        return named_by_form(self.template.render(domain=job.domain, app=job.app,
                                                  stream=job.stream, start=s.start, end=s.end,
                                                  sequence=s.sequence), s.init is not None)

    async def start(self, selection: Selection) -> None:
        job = self.job
        self.keys = {s.sequence: self._key(s) for s in selection.segments}
        if len(set(self.keys.values())) != len(self.keys):
            raise UsageError(f"template {job.template!r} gives two segments the same key; "
                             "include {UnixTimestamp} and {Sequence}", field="template")
        self.counts["total"] = len(selection.segments)
        # What the bucket has, listed while the first segments download: every upload
        # waits for the listing before it decides (skip or put).
        self.existing = asyncio.ensure_future(asyncio.to_thread(
            list_folders, self.store, list(self.keys.values())))

    async def write(self, piece: Fetched) -> None:
        seg, data = piece.segment, piece.data
        crc = crc64(data)
        if not self.archived:
            self.size = await asyncio.to_thread(_probe_size, data)
        jump = self.previous is not None and seg.start > self.previous.end + TOLERANCE
        key = self.keys.get(seg.sequence) or self._key(seg)  # or it came at the live edge
        self.archived.append(ArchivedSegment(
            key, seg.sequence, seg.start, seg.duration, len(data), crc,
            discontinuity=bool(self.archived) and (seg.discontinuity or piece.follows_gap or jump),
            init=await self._cmaf_init(seg, key)))
        self.previous = seg
        self.counts["done"] += 1
        await self.slots.acquire()
        kind = TS_TYPE if seg.init is None else "video/mp4"
        self.uploads.append(asyncio.ensure_future(self._upload(key, data, crc, kind)))
        for t in self.uploads:
            if t.done():
                t.result()  # a failed upload fails the job now, not at the end

    async def _cmaf_init(self, seg: Segment, key: str) -> str | None:
        """CMAF: the key of the init section ``seg`` needs, uploaded on first use."""
        if seg.init is None:
            return None
        if seg.init not in self.init_keys:
            self.init_keys[seg.init] = ikey = init_key(key, seg.init)
            data = await self.cmaf.init_for(seg)
            await self.slots.acquire()
            self.uploads.append(asyncio.ensure_future(
                self._upload(ikey, data, crc64(data), "video/mp4")))
        return self.init_keys[seg.init]

    async def _listing(self) -> dict[str, ObjectInfo]:
        return {} if self.existing is None else await self.existing

    async def _upload(self, key: str, data: bytes, crc: int, kind: str = TS_TYPE) -> None:
        try:
            have = (await self._listing()).get(key)
            if have is not None and have.size == len(data):
                head = await asyncio.to_thread(self.store.head, key)
                if head is not None and head.crc64 == crc:
                    self.counts["skipped"] += 1
                    self.emit("skip", key)
                    return
            info = await asyncio.to_thread(self.store.put, key, data, kind)
            if info.crc64 is not None and info.crc64 != crc:
                raise StoreError("the stored object's CRC-64 differs from the segment's",
                                 code="InconsistentError", bucket=self.store.bucket, key=key)
            self.counts["uploaded"] += 1
            self.counts["bytes"] += len(data)
            self.emit("upload", key)
        finally:
            self.slots.release()

    async def abort(self) -> None:
        await self.cmaf.aclose()
        pending: list[asyncio.Future[Any]] = [*self.uploads]
        if self.existing is not None:
            pending.append(self.existing)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def finish(self, final: Selection) -> JobResult:
        await self.cmaf.aclose()
        await self._listing()
        await asyncio.gather(*self.uploads)
        job, archived, index_key = self.job, self.archived, self.index_key
        # Worth another run later: segments that were gone (404) may come back, and a window
        # reaching the live edge may not be all there yet (the time-shift store lags a little).
        near_live = job.window.end_s > time.time() - LIVE_EDGE_MARGIN
        retry = bool(final.missing) or (near_live and any(g.reason == "after-end"
                                                          for g in final.gaps))
        manifest = build_manifest(
            domain=job.domain, app=job.app, stream=job.stream, start_ns=job.start,
            end_ns=job.end, index_key=index_key, segments=archived, gaps=final.gaps,
            bucket=self.store.bucket, endpoint=self.store.endpoint, width=self.size[0],
            height=self.size[1], created=time.time(), template=job.template)
        manifest["Retry"] = retry
        manifest["Missing"] = sorted(seg.sequence for seg in final.missing)
        mkey = manifest_key(index_key)
        self.emit("commit", index_key)
        await asyncio.to_thread(self.store.put, mkey,
                                (json.dumps(manifest, indent=1) + "\n").encode(), JSON_TYPE)
        # The index last: it is the commit marker, naming only objects already stored.
        await asyncio.to_thread(self.store.put, index_key,
                                build_index(archived, index_key).encode(), M3U8_TYPE)
        self.cmaf.discard()  # the init sections' cache entries, as the segments'
        return JobResult(job, "ok", segments=len(archived), uploaded=self.counts["uploaded"],
                         skipped=self.counts["skipped"], bytes=self.counts["bytes"],
                         duration=sum(s.duration for s in archived),
                         gaps=tuple(_gap_dict(g) for g in final.gaps),
                         index_key=index_key, manifest_key=mkey)


def _gap_dict(g: Gap) -> dict[str, Any]:
    return g.to_dict() | {"start_iso": iso_seconds(g.start),
                          "end_iso": iso_seconds(g.end)}


async def _run(job: ArchiveJob, store: ObjectStore, opts: ArchiveOptions, template: KeyTemplate,
               index_key: str, counts: dict[str, int],
               emit: Callable[[str, str], None]) -> JobResult:
    def resolved() -> Source:
        return resolve_source(None, job.domain, job.app, job.stream, job.start, job.end,
                              opts.scheme, opts.signer)

    source: WindowSource = PlaylistSource(resolved(), opts.signer, opts.allowed_hosts,
                                          opts.fetch)
    if opts.edge is not None:  # the live edge (issue 14): wait for what is still to come
        check_horizon(job.start, job.end, time.time_ns(), opts.edge.horizon)

        def on_edge(ev: EdgeEvent) -> None:
            counts["total"] += ev.new_segments
            emit("edge", ev.detail())

        source = LiveEdgeSource(resolved(), opts.edge, signer=opts.signer,
                                allowed_hosts=opts.allowed_hosts, fetch=opts.fetch,
                                on_event=on_edge,
                                refresh=resolved)

    def on_event(ev: WindowEvent) -> None:
        if ev.kind == "plan":
            counts["total"] = ev.total
        if ev.kind in ("plan", "retry", "hedge", "gap"):
            emit(ev.kind, ev.detail)

    sink = UploadSink(job, store, opts, template, index_key, counts, emit)
    run = await run_window(source, WindowOptions(opts.fetch, opts.cache_dir), sink, on_event)
    return run.report
