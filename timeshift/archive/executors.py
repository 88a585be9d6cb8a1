"""Running many archive jobs: on this machine, or one task per job on Dask distributed.

Both executors run the same function per job (:func:`run_one`): archive, and try a
failed job again (``attempts``) after a pause. Jobs are independent, so concurrency
is bounded twice: ``concurrency`` jobs at once, and within each job the fetcher's and
the uploads' own limits.

On Dask each job is one task whose key is derived from the job's identity, so the
same job submitted twice (two overlapping batch runs on one scheduler) runs once, and
the scheduler re-runs the task if its worker dies. Workers build their own store from
their own environment (credentials never travel in a task); the CDN signing key does
travel inside the task's options when URLs are signed, so use TLS to a remote
scheduler (``tls://``) in that case.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from ..errors import TimeshiftError, UsageError
from ..redact import redact
from ..retry import RetryPolicy
from .archiver import ArchiveJob, ArchiveOptions, ArchiveProgress, JobResult, archive_job
from .destination import (
    ObjectInfo,
    ObjectStore,
    StoreSpec,
    check_jobs,
    https_default,
    oss_credentials,
)
from .model import summary

__all__ = ["StoreSpec", "parse_executor", "run_jobs", "run_one", "summary", "task_key"]

log = logging.getLogger(__name__)


def parse_executor(text: str) -> tuple[str, str | None]:
    """``local``, ``dask`` (a LocalCluster here) or ``dask:ADDRESS`` (a running scheduler)."""
    kind, _, address = text.partition(":")
    if kind == "local" and not address:
        return "local", None
    if kind == "dask":
        return "dask", address or None
    raise UsageError(f"{text!r}: expected local, dask or dask:SCHEDULER_ADDRESS",
                     field="executor")


async def run_one(job: ArchiveJob, store: ObjectStore, options: ArchiveOptions, *,
                  attempts: int = 2, progress: Callable[[ArchiveProgress], None] | None = None,
                  pause: float = 1.0) -> JobResult:
    """Archive one job, trying again up to ``attempts`` times in all when it fails.

    A retry is cheap: segments already uploaded are skipped and the fetch cache holds
    what was downloaded.
    """
    result = await archive_job(job, store, options, progress)
    for attempt in range(1, attempts):
        if result.ok:
            break
        log.warning("%s failed (%s); attempt %d of %d", job.job_id,
                    (result.error or {}).get("message"), attempt + 1, attempts)
        # Doubling from ``pause`` (the one retry policy's arithmetic, unjittered).
        await asyncio.sleep(RetryPolicy(backoff=pause, max_backoff=math.inf,
                                        jitter=0.0).delay(attempt - 1))
        result = await archive_job(job, store, options, progress)
    return result


class _Opening:
    """A bucket whose :class:`~timeshift.archive.store.OssStore` is still being made in a
    worker thread (importing oss2 takes ~0.2 s): each operation waits for it. A job that
    needs the store only once its plan is made and its first segments are arriving (see
    ``checked`` in :func:`run_jobs`) spends that time importing instead of waiting."""

    def __init__(self, future: Future[ObjectStore], job: ArchiveJob) -> None:
        self._future = future
        self.bucket, self.endpoint = job.bucket, https_default(job.endpoint)

    def _store(self) -> ObjectStore:
        return self._future.result()

    def list(self, prefix: str) -> dict[str, ObjectInfo]:
        return self._store().list(prefix)

    def head(self, key: str) -> ObjectInfo | None:
        return self._store().head(key)

    def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        return self._store().put(key, data, content_type)

    def get(self, key: str) -> bytes:
        return self._store().get(key)

    def delete(self, key: str) -> None:
        self._store().delete(key)

    def presign(self, key: str, expires: int = 3600, *, hls: bool = False) -> str:
        return self._store().presign(key, expires, hls=hls)


def _failed(job: ArchiveJob, exc: BaseException) -> JobResult:
    error = (exc.to_dict() if isinstance(exc, TimeshiftError)
             else {"error": type(exc).__name__, "message": redact(str(exc))[:500]})
    return JobResult(job, "failed", error=error)


async def _run_local(jobs: Sequence[ArchiveJob], spec: StoreSpec, options: ArchiveOptions,
                     concurrency: int, attempts: int,
                     progress: Callable[[ArchiveProgress], None] | None,
                     on_result: Callable[[JobResult], None] | None,
                     checked: Collection[str] = ()) -> list[JobResult]:
    # oss2 is synchronous: its calls run in threads, enough for every upload in flight.
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=concurrency * (options.uploads + 2) + 4,
                              thread_name_prefix="timeshift-store")
    loop.set_default_executor(pool)
    stores: dict[tuple[str, str], ObjectStore] = {}
    gate = asyncio.Semaphore(concurrency)

    async def one(job: ArchiveJob) -> JobResult:
        async with gate:
            try:
                key = (job.endpoint, job.bucket)
                if key not in stores:
                    stores[key] = _Opening(pool.submit(spec.open, job), job)
                # A job the caller found unfinished in the bucket a moment ago is not asked
                # again (force): its first store operation is then the listing, which the
                # sink makes in the background while the window is planned and fetched.
                opts = replace(options, force=True) if job.job_id in checked else options
                result = await run_one(job, stores[key], opts, attempts=attempts,
                                       progress=progress)
            except UsageError:
                raise
            except Exception as exc:  # one job's failure, whatever it is, is not the batch's
                log.exception("%s failed", job.job_id)
                result = _failed(job, exc)
            if on_result is not None:
                on_result(result)
            return result

    try:
        return list(await asyncio.gather(*(one(j) for j in jobs)))
    finally:
        pool.shutdown(wait=False)


def _dask_task(job: ArchiveJob, spec: StoreSpec, options: ArchiveOptions,
               attempts: int) -> JobResult:
    """One job on a Dask worker (module level, so it pickles by reference)."""
    async def go() -> JobResult:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=options.uploads + 4))
        return await run_one(job, spec.open(job), options, attempts=attempts)

    try:
        return asyncio.run(go())
    except TimeshiftError as exc:
        return _failed(job, exc)


def task_key(job: ArchiveJob) -> str:
    """The Dask key of a job: one key per job identity, so it never runs twice at once."""
    return "timeshift-archive-" + hashlib.sha256(job.job_id.encode()).hexdigest()[:24]


def _run_dask(jobs: Sequence[ArchiveJob], spec: StoreSpec, options: ArchiveOptions,
              address: str | None, concurrency: int, attempts: int, retries: int,
              on_result: Callable[[JobResult], None] | None) -> list[JobResult]:
    try:
        import distributed
    except ImportError:
        raise UsageError("the Dask executor needs the optional extra: pip install "
                         "'timeshift[dask]'", field="executor") from None
    dd: Any = distributed  # untyped library: one Any at the boundary
    cluster = None
    if address is None:
        cluster = dd.LocalCluster(n_workers=concurrency, threads_per_worker=1,
                               processes=True, dashboard_address=None)
    client = dd.Client(cluster if cluster is not None else address)
    try:
        futures = {client.submit(_dask_task, job, spec, options, attempts, key=task_key(job),
                                 retries=retries, pure=False): job for job in jobs}
        done: dict[str, JobResult] = {}
        for fut in dd.as_completed(list(futures)):
            job = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # the task died (worker lost) past its retries
                result = _failed(job, exc)
            done[job.job_id] = result
            if on_result is not None:
                on_result(result)
        return [done[j.job_id] for j in jobs]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_jobs(jobs: Sequence[ArchiveJob], *, options: ArchiveOptions | None = None,
             executor: str = "local", concurrency: int = 2, attempts: int = 2,
             retries: int = 2, store: StoreSpec | None = None,
             progress: Callable[[ArchiveProgress], None] | None = None,
             on_result: Callable[[JobResult], None] | None = None,
             checked: Collection[str] = ()) -> list[JobResult]:
    """Run ``jobs``; one result per distinct job, in the jobs' order (a job listed twice runs once).

    ``executor`` is ``local``, ``dask`` or ``dask:ADDRESS``; ``retries`` is Dask's
    (a task whose worker died); ``attempts`` counts tries of a failed job on either.
    ``checked``: ids of jobs the caller has just found not finished in the bucket
    (:func:`~timeshift.archive.committed.confirm_finished`); the local executor does not
    ask again before copying them (the index is written only at the end of a copy, so
    a failed attempt cannot have made one).

    Raises:
        UsageError: bad executor or concurrency.
    """
    kind, address = parse_executor(executor)
    if concurrency < 1:
        raise UsageError("must be at least 1", field="concurrency")
    opts = options or ArchiveOptions()
    spec = store or StoreSpec()
    unique = list({j.job_id: j for j in jobs}.values())
    check_jobs(unique, spec)  # bad input fails the batch up front, not job by job
    if kind == "local" and unique:
        oss_credentials()  # missing credentials are bad input here; Dask workers have their own
    began = time.monotonic()
    if kind == "local":
        results = asyncio.run(_run_local(unique, spec, opts, concurrency, attempts, progress,
                                         on_result, checked))
    else:
        results = _run_dask(unique, spec, opts, address, concurrency, attempts, retries,
                            on_result)
    log.debug("%d job(s) in %.1f s", len(unique), time.monotonic() - began)
    return results
