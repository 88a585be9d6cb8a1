"""What a service built on timeshift does; its tests run against timeshift's local servers.

Nothing in here knows about tests: the settings point at the real CDN and bucket in
production, and at the fixtures' local servers in tests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from timeshift import Signer, TimeshiftURL
from timeshift.archive import ArchiveJob, ArchiveOptions, OssStore, archive_job
from timeshift.clip import ClipResult, clip
from timeshift.openapi.credentials import Credentials

NS = 1_000_000_000


@dataclass(frozen=True)
class Settings:
    """Where the streams play from and where archives go (from the service's config)."""

    play_domain: str
    auth_key: str = field(repr=False)  # the domain's URL-signing key (type A)
    oss_endpoint: str
    bucket: str
    oss_key_id: str
    oss_key_secret: str = field(repr=False)
    scheme: str = "https"
    app: str = "live"


class ReplayService:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.signer = Signer("A", settings.auth_key, ttl=3600)

    def replay_url(self, stream: str, start: float, end: float) -> str:
        """A signed VOD replay link for ``[start, end)`` (unix seconds) of ``stream``."""
        url = TimeshiftURL.vod(self.s.play_domain, self.s.app, stream, round(start * NS),
                               round(end * NS), scheme=self.s.scheme)
        return self.signer.sign(str(url))

    def highlight(self, stream: str, start: float, end: float, out: Path) -> ClipResult:
        """A frame-exact MP4 of a moment; raises timeshift's GapError if it has holes."""
        return clip(out, domain=self.s.play_domain, app=self.s.app, stream=stream,
                    start=round(start * NS), end=round(end * NS), scheme=self.s.scheme,
                    signer=self.signer, cache_dir=out.parent / ".cache")

    def archive(self, stream: str, start: float, end: float, cache: Path) -> str:
        """Copy a window into the archive bucket; the key of its playable index."""
        store = OssStore(self.s.oss_endpoint, self.s.bucket,
                         Credentials(self.s.oss_key_id, self.s.oss_key_secret, source="config"))
        job = ArchiveJob(domain=self.s.play_domain, app=self.s.app, stream=stream,
                         start=round(start * NS), end=round(end * NS), bucket=self.s.bucket,
                         endpoint=self.s.oss_endpoint)
        options = ArchiveOptions(scheme=self.s.scheme, signer=self.signer, cache_dir=cache)
        result = asyncio.run(archive_job(job, store, options))
        if not result.ok or result.index_key is None:
            raise RuntimeError(f"archive of {stream} failed: {result.error}")
        return result.index_key
