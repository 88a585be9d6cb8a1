"""Archives of time-shift windows in OSS: key templates and the index (pure), the object
store adapter, the archiver, batch jobs and their executors.

Names are loaded on first use (PEP 562): ``from timeshift.archive import ArchiveJob``
does not import ``oss2``, ``aiohttp`` or PyAV, so the CLI can read jobs and confirm a
re-run of finished ones (:mod:`.committed`) without them; ``archive_job`` or ``OssStore``
bring in what they need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .archiver import ArchiveOptions, archive_job
    from .destination import ObjectInfo, ObjectStore, StoreSpec, crc64, oss_credentials
    from .executors import run_jobs, run_one
    from .index import ArchivedSegment, build_index, build_manifest, manifest_key, record_id
    from .jobs import jobs_from_publish_list, load_jobs, parse_jobs
    from .model import ArchiveJob, ArchiveProgress, JobResult, summary
    from .store import OssStore
    from .template import (
        DEFAULT_INDEX_TEMPLATE,
        DEFAULT_SEGMENT_TEMPLATE,
        KeyTemplate,
        validate_key,
    )

_WHERE = {
    "ArchiveOptions": "archiver", "archive_job": "archiver",
    "ObjectInfo": "destination", "ObjectStore": "destination", "StoreSpec": "destination",
    "oss_credentials": "destination",
    "run_jobs": "executors", "run_one": "executors", "summary": "model",
    "ArchivedSegment": "index", "build_index": "index", "build_manifest": "index",
    "manifest_key": "index", "record_id": "index",
    "jobs_from_publish_list": "jobs", "load_jobs": "jobs", "parse_jobs": "jobs",
    "ArchiveJob": "model", "ArchiveProgress": "model", "JobResult": "model",
    "OssStore": "store", "crc64": "destination",
    "DEFAULT_INDEX_TEMPLATE": "template", "DEFAULT_SEGMENT_TEMPLATE": "template",
    "KeyTemplate": "template", "validate_key": "template",
}

__all__ = [
    "DEFAULT_INDEX_TEMPLATE",
    "DEFAULT_SEGMENT_TEMPLATE",
    "ArchiveJob",
    "ArchiveOptions",
    "ArchiveProgress",
    "ArchivedSegment",
    "JobResult",
    "KeyTemplate",
    "ObjectInfo",
    "ObjectStore",
    "OssStore",
    "StoreSpec",
    "archive_job",
    "build_index",
    "build_manifest",
    "crc64",
    "jobs_from_publish_list",
    "load_jobs",
    "manifest_key",
    "oss_credentials",
    "parse_jobs",
    "record_id",
    "run_jobs",
    "run_one",
    "summary",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
