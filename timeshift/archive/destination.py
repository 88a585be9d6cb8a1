"""Where archives go, without the SDK: the store's interface, the bucket a job names, and
the OSS credentials.

Light on purpose (no oss2): the CLI checks jobs and a re-run of finished jobs confirms
them (:mod:`.committed`) before anything imports ``oss2``; :class:`StoreSpec` opens the
oss2-backed :class:`~timeshift.archive.store.OssStore` only when a job really runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import fastcrc

from ..errors import UsageError
from ..openapi.credentials import Credentials, resolve_credentials

if TYPE_CHECKING:
    from .model import ArchiveJob

__all__ = ["JSON_TYPE", "M3U8_TYPE", "TS_TYPE", "ObjectInfo", "ObjectStore", "ReadableStore",
           "StoreSpec", "check_jobs", "crc64", "https_default", "oss_credentials",
           "valid_bucket_name"]

TS_TYPE = "video/MP2T"
M3U8_TYPE = "application/vnd.apple.mpegurl"
JSON_TYPE = "application/json"


def crc64(data: bytes) -> int:
    """CRC-64/XZ (ECMA-182), as OSS reports it in ``x-oss-hash-crc64ecma``.

    ``fastcrc`` (Rust, ~10 GB/s here) rather than crcmod's C extension (~0.4 GB/s, what
    oss2 uses): every archived byte is checked, and at crcmod's speed that pass was the
    archive's largest CPU item after the HTTP itself.
    """
    return fastcrc.crc64.xz(data)


def https_default(endpoint: str) -> str:
    """An OSS endpoint as a URL: ``https://`` unless it names its scheme."""
    return endpoint if endpoint.startswith(("http://", "https://")) else "https://" + endpoint


@dataclass(frozen=True)
class ObjectInfo:
    """What the store says of an object. ``crc64`` is known from HEAD and PUT, not from LIST."""

    key: str
    size: int
    etag: str | None = None
    crc64: int | None = None


class ObjectStore(Protocol):
    """The operations an archive needs from a bucket."""

    bucket: str
    endpoint: str

    def list(self, prefix: str) -> dict[str, ObjectInfo]: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def presign(self, key: str, expires: int = 3600, *, hls: bool = False) -> str: ...


def oss_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """``OSS_ACCESS_KEY_ID``/``OSS_ACCESS_KEY_SECRET``/``OSS_SESSION_TOKEN`` (what OSS tools
    read), else the Alibaba Cloud chain (environment, credentials file, CLI config).

    Raises:
        UsageError: no credentials anywhere.
    """
    environ = os.environ if env is None else env
    ak, secret = environ.get("OSS_ACCESS_KEY_ID"), environ.get("OSS_ACCESS_KEY_SECRET")
    if ak or secret:
        return Credentials(ak or "", secret or "", environ.get("OSS_SESSION_TOKEN") or None,
                           source="environment (OSS_*)")
    try:
        return resolve_credentials(env=environ)
    except UsageError:
        raise UsageError("no OSS credentials: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET "
                         "(or ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, or a profile in "
                         "~/.alibabacloud/credentials)") from None


class ReadableStore(Protocol):
    """What confirming a finished archive needs: reads only (:mod:`.committed`)."""

    bucket: str

    def list(self, prefix: str) -> dict[str, ObjectInfo]: ...

    def get(self, key: str) -> bytes: ...


_BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def valid_bucket_name(name: str) -> bool:
    """What oss2's ``is_valid_bucket_name`` accepts (3-63 of a-z, 0-9 and ``-``, starting
    with a letter or digit, not ending in ``-``), without importing oss2."""
    return (3 <= len(name) <= 63 and name[0] != "-" and name[-1] != "-"
            and set(name) <= _BUCKET_CHARS)


@dataclass(frozen=True)
class StoreSpec:
    """How to open a job's bucket; picklable, holds no secret (credentials come from the
    environment of whichever machine runs the job)."""

    region: str | None = None
    signing: str = "v1"

    def check(self, job: ArchiveJob) -> None:
        """Refuse, before anything runs, a job that could never reach its bucket.

        Raises:
            UsageError: no bucket or endpoint, or a bucket name OSS would refuse.
        """
        if not job.bucket or not job.endpoint:
            raise UsageError(f"job {job.job_id} has no bucket or endpoint; give --bucket and "
                             "--endpoint", field="bucket")
        if not valid_bucket_name(job.bucket):
            raise UsageError(f"{job.bucket!r} is not a valid bucket name (3-63 characters: "
                             "lower-case letters, digits, hyphens)", field="bucket")

    def open(self, job: ArchiveJob) -> ObjectStore:
        from .store import OssStore  # oss2: only where objects are really stored

        self.check(job)
        return OssStore(job.endpoint, job.bucket, region=self.region, signing=self.signing)


def check_jobs(jobs: Iterable[ArchiveJob], spec: StoreSpec) -> None:
    """Bad input fails a batch up front, not job by job: every job's bucket, templates and
    index key.

    Raises:
        UsageError: the first bad job's problem.
    """
    from .model import index_key_of
    from .template import KeyTemplate

    for job in jobs:
        spec.check(job)
        KeyTemplate(job.template).require_per_segment("template")
        index_key_of(job)
