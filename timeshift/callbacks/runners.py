"""Job runners the receiver can be started with, chosen by name (``--runner``).

- ``archive`` (the default): a ``session`` job archives the session into the rule's bucket
  with :func:`timeshift.archive.archive_job` (options ``bucket``, ``endpoint``, and
  optionally ``prefix``, ``index``, ``region``, ``signing``; OSS credentials from the
  receiver's environment); a ``record_file`` job verifies that the recording the service
  wrote is in the bucket (an index: every segment it names, via ``verify_index``);
- ``log``: records each job as done without moving any data, to try the wiring (register,
  callbacks, queue) before archives are written;
- ``MODULE:FUNCTION``: any async callable taking a :class:`~timeshift.callbacks.jobs.JobSpec`
  and returning a JSON-ready mapping (``{"status": "failed", "error": ...}`` fails it).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any, cast

from ..errors import UsageError
from .jobs import JobRunner, JobSpec

__all__ = ["archive_runner", "load_runner", "log_runner"]

log = logging.getLogger(__name__)


def _archive_job(spec: JobSpec) -> Any:
    from ..archive import DEFAULT_INDEX_TEMPLATE, DEFAULT_SEGMENT_TEMPLATE, ArchiveJob

    o = spec.options
    if spec.start is None:
        raise UsageError(f"job {spec.id} has no session start")
    return ArchiveJob(domain=spec.domain, app=spec.app, stream=spec.stream, start=spec.start,
                      end=spec.end, bucket=o.get("bucket", ""), endpoint=o.get("endpoint", ""),
                      template=o.get("prefix") or DEFAULT_SEGMENT_TEMPLATE,
                      index_template=o.get("index") or DEFAULT_INDEX_TEMPLATE)


async def archive_runner(spec: JobSpec, /) -> Mapping[str, Any]:
    """Archive a session into OSS, or verify a recording file the service wrote there."""
    import asyncio

    from ..archive import ArchiveOptions, StoreSpec, archive_job
    from ..archive.serverside import verify_index
    from ..edge import EdgePolicy
    from ..errors import TimeshiftError

    o = spec.options
    store_spec = StoreSpec(region=o.get("region") or None, signing=o.get("signing") or "v1")
    try:
        if spec.kind == "record_file":
            if not spec.uri:
                return {"status": "failed", "error": {"message": "the event names no file"}}
            # The store is the rule's bucket; a file event carries no session start.
            located = spec if spec.start is not None else spec.with_start(spec.end - 1)
            store = store_spec.open(_archive_job(located))
            key = spec.uri.lstrip("/")
            if key.endswith(".m3u8"):
                n, seconds, size = await asyncio.to_thread(verify_index, store, key)
                return {"status": "ok", "verified": key, "segments": n, "duration": seconds,
                        "bytes": size}
            info = await asyncio.to_thread(store.head, key)
            if info is None or not info.size:
                return {"status": "failed", "error": {"message": f"{key} is missing or empty"}}
            return {"status": "ok", "verified": key, "bytes": info.size}
        job = _archive_job(spec)
        # A publish_done can come before the session's last segment is published: wait for
        # it (the live edge, issue 14) rather than archive a session one segment short.
        options = ArchiveOptions(scheme=spec.scheme, edge=EdgePolicy())
        result = await archive_job(job, store_spec.open(job), options)
        return result.to_dict()
    except TimeshiftError as exc:
        return {"status": "failed", "error": exc.to_dict()}


async def log_runner(job: JobSpec, /) -> Mapping[str, Any]:
    """Log the job and call it done; nothing is fetched or stored."""
    log.warning("job %s (%s %s/%s/%s %s-%s): logged only, nothing archived (--runner log)",
                job.id, job.kind, job.domain, job.app, job.stream, job.start, job.end)
    return {"status": "ok", "archived": False, "runner": "log"}


def load_runner(name: str) -> JobRunner:
    """The runner named by ``--runner``.

    Raises:
        UsageError: an unknown name, or a MODULE:FUNCTION that cannot be imported.
    """
    if name == "log":
        return log_runner
    if name == "archive":
        return archive_runner
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise UsageError(f"{name!r} is neither 'log' nor MODULE:FUNCTION", field="runner")
    try:
        target = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot load {name}: {exc}", field="runner") from None
    if not callable(target):
        raise UsageError(f"{name} is not callable", field="runner")
    return cast(JobRunner, target)
