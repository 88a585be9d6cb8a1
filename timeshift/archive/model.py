"""What an archive job is and what it did: the job, its progress events and its result.

Light on purpose (no oss2, aiohttp or PyAV): the CLI reads jobs and a re-run of finished
jobs reports them (:mod:`.committed`) without loading the machinery that fetches and
uploads segments.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from ..errors import UsageError
from ..times import NS_PER_S, format_iso
from ..window import Window
from .index import record_id
from .template import DEFAULT_INDEX_TEMPLATE, DEFAULT_SEGMENT_TEMPLATE, KeyTemplate

__all__ = ["ArchiveJob", "ArchiveProgress", "JobResult", "Status", "index_key_of", "summary"]

Status = Literal["ok", "failed"]


@dataclass(frozen=True)
class ArchiveJob:
    """One stream and window to archive, and where to. ``start``/``end`` are ns since the epoch.

    ``bucket`` and ``endpoint`` may be left empty in a jobs file and given once for all
    jobs (see :meth:`with_defaults`).
    """

    domain: str
    app: str
    stream: str
    start: int
    end: int
    bucket: str = ""
    endpoint: str = ""
    template: str = DEFAULT_SEGMENT_TEMPLATE
    index_template: str = DEFAULT_INDEX_TEMPLATE

    def __post_init__(self) -> None:
        for name in ("domain", "app", "stream"):
            if not getattr(self, name):
                raise UsageError(f"an archive job needs a {name}", field=name)
        Window(self.start, self.end)  # integer ns, end after start: checked once, here

    @property
    def job_id(self) -> str:
        """Stable for the same stream, window, destination and layout: a job's identity
        for re-runs, reports and distributed task keys."""
        ident = json.dumps([self.domain, self.app, self.stream, self.start, self.end,
                            self.bucket, self.endpoint, self.template, self.index_template])
        digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
        return f"{self.app}/{self.stream}@{self.start // NS_PER_S}-{self.end // NS_PER_S}#{digest}"

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)

    @property
    def record_id(self) -> str:
        return record_id(self.domain, self.app, self.stream, self.start, self.end)

    def with_defaults(self, *, bucket: str = "", endpoint: str = "", template: str = "",
                      index_template: str = "") -> ArchiveJob:
        """Fill the destination fields a jobs file left empty."""
        return replace(
            self, bucket=self.bucket or bucket, endpoint=self.endpoint or endpoint,
            template=template if template and self.template == DEFAULT_SEGMENT_TEMPLATE else self.template,
            index_template=(index_template if index_template
                            and self.index_template == DEFAULT_INDEX_TEMPLATE else self.index_template))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"] = format_iso(self.start)
        d["end"] = format_iso(self.end)
        return d


@dataclass(frozen=True)
class ArchiveProgress:
    """A progress event of one job: plan, skip, upload, retry, gap, commit, done or failed."""

    kind: str
    job_id: str
    segments_done: int
    segments_total: int
    uploaded: int
    skipped: int
    bytes: int
    elapsed: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "job": self.job_id, "segments_done": self.segments_done,
                "segments_total": self.segments_total, "uploaded": self.uploaded,
                "skipped": self.skipped, "bytes": self.bytes, "elapsed": round(self.elapsed, 3),
                **({"detail": self.detail} if self.detail else {})}


@dataclass(frozen=True)
class JobResult:
    """What a job did: its status, counts, gaps, and the index it committed (or its error)."""

    job: ArchiveJob
    status: Status
    segments: int = 0
    uploaded: int = 0
    skipped: int = 0
    bytes: int = 0
    duration: float = 0.0
    gaps: tuple[dict[str, Any], ...] = ()
    index_key: str | None = None
    manifest_key: str | None = None
    more_index_keys: tuple[str, ...] = ()  # server-side windows over four days: one per piece
    complete_before: bool = False
    elapsed: float = 0.0
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job.job_id, "status": self.status,
            "domain": self.job.domain, "app": self.job.app, "stream": self.job.stream,
            "start": format_iso(self.job.start), "end": format_iso(self.job.end),
            "bucket": self.job.bucket, "record_id": self.job.record_id,
            "segments": self.segments, "uploaded": self.uploaded, "skipped": self.skipped,
            "bytes": self.bytes, "duration": round(self.duration, 3), "gaps": list(self.gaps),
            "index_key": self.index_key, "manifest_key": self.manifest_key,
            **({"more_index_keys": list(self.more_index_keys)} if self.more_index_keys else {}),
            "already_complete": self.complete_before, "elapsed": round(self.elapsed, 3),
            "error": self.error, "job": self.job.to_dict(),
        }


def index_key_of(job: ArchiveJob) -> str:
    """The key of ``job``'s index: its index template rendered for its stream and window.

    Raises:
        UsageError: a bad template, or a key that does not end in ``.m3u8``.
    """
    index_key = KeyTemplate(job.index_template).render(
        domain=job.domain, app=job.app, stream=job.stream, start=job.window.start_s,
        end=job.window.end_s)
    if not index_key.endswith(".m3u8"):
        raise UsageError(f"the index key {index_key!r} must end in .m3u8", field="index_template")
    return index_key


def summary(results: Sequence[JobResult]) -> dict[str, Any]:
    """Totals over a batch, for the report."""
    return {
        "jobs": len(results),
        "ok": sum(r.ok for r in results),
        "failed": sum(not r.ok for r in results),
        "segments": sum(r.segments for r in results),
        "uploaded": sum(r.uploaded for r in results),
        "skipped": sum(r.skipped for r in results),
        "bytes": sum(r.bytes for r in results),
        "gaps": sum(len(r.gaps) for r in results),
    }
