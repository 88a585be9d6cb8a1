"""Archives of time-shift windows in OSS: key templates and the index (pure), the object
store adapter, the archiver, batch jobs and their executors."""

from .archiver import ArchiveJob, ArchiveOptions, ArchiveProgress, JobResult, archive_job
from .executors import StoreSpec, run_jobs, run_one, summary
from .index import ArchivedSegment, build_index, build_manifest, manifest_key, record_id
from .jobs import jobs_from_publish_list, load_jobs, parse_jobs
from .store import ObjectInfo, ObjectStore, OssStore, crc64, oss_credentials
from .template import DEFAULT_INDEX_TEMPLATE, DEFAULT_SEGMENT_TEMPLATE, KeyTemplate, validate_key

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
