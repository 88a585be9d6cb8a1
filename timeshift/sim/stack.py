"""Assembling the local servers (origin, Live API, OSS) as one stack, wired to each other.

The CLI's ``timeshift sim origin|liveapi|oss|all`` and users' own test suites build the
same stack here: the Live API counts a stream as published where the origin's timeline
has data and copies recordings from the origin; each server with credentials takes the
pair its client would read from the environment, or generates one.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..archive.store import OssStore
from ..localserver import BackgroundServer
from ..openapi.credentials import Credentials
from ..timeline import query_timeline
from .liveapi import LiveApiConfig, LiveApiServer
from .origin import OriginConfig, OriginServer
from .oss import OssConfig, OssServer

__all__ = ["Credential", "SimStack", "build_stack"]

LIVE_ENV = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")
OSS_ENV = ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET")


@dataclass(frozen=True)
class Credential:
    """A server's AccessKey pair; ``generated`` when none was found in the environment."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    generated: bool = False

    @classmethod
    def from_env(cls, names: tuple[str, str]) -> Credential:
        ak, secret = os.environ.get(names[0]), os.environ.get(names[1])
        if ak and secret:
            return cls(ak, secret)
        return cls("LTAItest" + secrets.token_hex(6), secrets.token_urlsafe(24), generated=True)


@dataclass
class SimStack:
    """The servers of one stack, by name, and the credentials of those that check them."""

    servers: dict[str, BackgroundServer]
    live_credential: Credential | None = None
    oss_credential: Credential | None = None

    def wire(self) -> None:
        """Connect servers once bound (the origin's port is known only then)."""
        live, origin = self.servers.get("liveapi"), self.servers.get("origin")
        if isinstance(live, LiveApiServer) and origin is not None:
            live.config.origin = origin.netloc
            if isinstance(origin, OriginServer):
                self._wire_shift(live, origin)
        oss = self.servers.get("oss")
        if isinstance(live, LiveApiServer) and oss is not None and self.oss_credential:
            # Recordings the Live API writes go into the local OSS server, as the service's do.
            cred = Credentials(self.oss_credential.access_key_id,
                               self.oss_credential.access_key_secret, source="sim")
            live.config.oss_store = lambda bucket: OssStore(oss.url, bucket, cred)

    @staticmethod
    def _wire_shift(live: LiveApiServer, origin: OriginServer) -> None:
        """The origin asks the Live API's OpenLiveShift rows whether a stream has time-shift.

        The origin's host:port becomes one of the API's domains, with time-shift on for every
        stream to begin with (``*/*``), so everything plays as before until someone runs
        ``timeshift shift disable --app '*' --stream '*'`` or enables streams one by one.
        """
        domain, shift = origin.netloc, live.config.shift
        if domain not in live.config.domains:
            live.config.domains = (*live.config.domains, domain)
        if not any(r["domain"] == domain for r in shift.rows()):
            shift.open(domain, {"AppName": "*", "StreamName": "*"})
        origin.config.shift_enabled = lambda app, stream: shift.enabled(domain, app, stream)

    def info(self) -> dict[str, Any]:
        """Endpoints and credentials; a secret appears only when it was generated here."""
        out: dict[str, Any] = {name: srv.url for name, srv in self.servers.items()}
        origin = self.servers.get("origin")
        if isinstance(origin, OriginServer):
            out["domain"] = origin.netloc
            out["stream_start"] = int(origin.stream_start)
        if self.live_credential is not None:
            out["liveapi_endpoint"] = self.servers["liveapi"].netloc
            out["access_key_id"] = self.live_credential.access_key_id
            if self.live_credential.generated:  # a throwaway pair: the user needs it to call us
                out["access_key_secret"] = self.live_credential.access_key_secret
        if self.oss_credential is not None:
            out["oss_endpoint"] = self.servers["oss"].url
            out["oss_access_key_id"] = self.oss_credential.access_key_id
            if self.oss_credential.generated:
                out["oss_access_key_secret"] = self.oss_credential.access_key_secret
        return out


def build_stack(which: str, *, host: str = "127.0.0.1", port: int = 0,
                origin: OriginConfig | None = None, domains: tuple[str, ...] = (),
                root: Path | None = None, buckets: tuple[str, ...] = (),
                live_credential: Credential | None = None,
                oss_credential: Credential | None = None) -> SimStack:
    """The servers for ``origin``, ``liveapi``, ``oss`` or ``all`` (not started).

    ``port`` goes to the single server, or to the first one of ``all``. A credential not
    given is read from the environment (or generated); tests pass their own so that
    nothing in the environment leaks in.
    """
    servers: dict[str, BackgroundServer] = {}
    stack = SimStack(servers)
    if which in ("origin", "all"):
        servers["origin"] = OriginServer(origin or OriginConfig(), host=host)
    if which in ("liveapi", "all"):
        stack.live_credential = cred = live_credential or Credential.from_env(LIVE_ENV)
        publish_spans = _publish_spans(servers["origin"]) if "origin" in servers else None
        records = root / "records" if root else Path(tempfile.mkdtemp(prefix="timeshift-records-"))
        servers["liveapi"] = LiveApiServer(LiveApiConfig(
            access_key_id=cred.access_key_id, access_key_secret=cred.access_key_secret,
            domains=domains or ("play.example.com",), publish_spans=publish_spans,
            record_root=records), host=host)
    if which in ("oss", "all"):
        stack.oss_credential = cred = oss_credential or Credential.from_env(OSS_ENV)
        oss = OssConfig(access_key_id=cred.access_key_id, access_key_secret=cred.access_key_secret,
                        buckets=buckets)
        if root:
            oss.root = root / "oss" if which == "all" else root
        servers["oss"] = OssServer(oss, host=host)
    if port and servers:
        next(iter(servers.values())).port = port
    return stack


def _publish_spans(origin: BackgroundServer) -> Any:
    def spans(app: str, stream: str, start: int, end: int) -> list[tuple[int, int]]:
        # A stream counts as published where the origin's timeline has data.
        tl = query_timeline(origin.netloc, app, stream, start, end, scheme="http")
        return [(r.start, r.end) for r in tl.ranges]

    return spans
