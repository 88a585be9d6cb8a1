"""The local servers as context managers, and the handles the pytest fixtures yield.

See :mod:`timeshift.testing` for the overview; names are re-exported there.
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..auth import Signer
from ..openapi.credentials import Credentials
from ..sim.origin import OriginConfig, OriginServer, parse_gaps
from ..sim.stack import Credential, SimStack, build_stack
from ..times import NS_PER_S

if TYPE_CHECKING:
    import oss2

    from ..archive.store import OssStore
    from ..openapi.client import LiveClient
    from ..sim.liveapi import LiveApiServer
    from ..sim.oss import OssServer

__all__ = ["DEFAULT_BUCKET", "LocalLiveApi", "LocalOrigin", "LocalOss", "LocalStack",
           "local_liveapi", "local_origin", "local_oss", "local_stack", "origin_config"]

DEFAULT_BUCKET = "timeshift-test"
SCHEME = "http"  # the local servers speak plain HTTP on loopback


def _credential() -> Credential:
    return Credential("LTAItest" + secrets.token_hex(8), secrets.token_urlsafe(24), generated=True)


def _credentials(cred: Credential) -> Credentials:
    return Credentials(cred.access_key_id, cred.access_key_secret, source="timeshift.testing")


def _check(config: Any, options: Mapping[str, Any], what: str) -> None:
    """Refuse option names that are not fields of a server's config dataclass."""
    known = {f.name for f in dataclasses.fields(config)}
    for name in options:
        if name not in known:
            raise TypeError(f"{what}: unknown option {name!r}; known: {', '.join(sorted(known))}")


def _configure(config: Any, options: Mapping[str, Any], what: str) -> None:
    """Set fields of a server's config (before the server starts)."""
    _check(config, options, what)
    for name, value in options.items():
        setattr(config, name, value)


def origin_config(*, signing: str | Signer | None = None, gaps: Any = (),
                  **options: Any) -> OriginConfig:
    """An :class:`~timeshift.sim.origin.OriginConfig` from fixture-style options.

    ``signing`` is a CDN signing type (``"A"``, ``"B"``, ``"C"``, ``"F"``; a fresh key is
    generated) or a ready :class:`~timeshift.auth.Signer`. ``gaps`` are spans in seconds
    after the stream's start, as pairs or as ``"60-90,300-330"``. Every other option is an
    ``OriginConfig`` field: faults (``latency``, ``bandwidth``, ``fail_rate``,
    ``truncate_rate``, ``seed``), playlist and media forms (``program_date_time``,
    ``encryption``, ``iv``, ``key_rotation``, ``byte_ranges``, ``range_fault``,
    ``fmp4_map``, …), ``history``, ``streams``, ``samples``.
    """
    _check(OriginConfig, options, "timeshift origin")
    if isinstance(signing, str):
        signing = Signer(cast(Any, signing.upper()), secrets.token_urlsafe(18))
    if signing is not None:
        if options.get("signer") is not None:
            raise TypeError("timeshift origin: give signing or signer, not both")
        options["signer"] = signing
    spans = parse_gaps(gaps) if isinstance(gaps, str) else tuple(
        (float(a), float(b)) for a, b in gaps)
    return OriginConfig(gaps=spans, **options)


@dataclass(frozen=True)
class LocalOrigin:
    """A running local time-shift origin (every ``app/stream`` name serves the samples).

    ``domain`` is the play domain to give clients (``127.0.0.1:PORT``), with ``scheme``
    ``"http"``; ``signer`` (and ``auth_key``) when signing is on.
    """

    server: OriginServer

    @property
    def config(self) -> OriginConfig:
        return self.server.config

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def domain(self) -> str:
        return self.server.netloc

    @property
    def scheme(self) -> str:
        return SCHEME

    @property
    def signer(self) -> Signer | None:
        return self.server.config.signer

    @property
    def auth_key(self) -> str | None:
        """The generated CDN signing key (None without signing)."""
        return self.signer.key if self.signer else None

    @property
    def stream_start(self) -> float:
        """When the simulated stream began, unix seconds (a whole segment boundary)."""
        return self.server.stream_start

    @property
    def segment_duration(self) -> float:
        return self.server.segment_duration

    @property
    def requests(self) -> Mapping[str, int]:
        """The origin's request counters (by route and fault), live."""
        return self.server.config.counters

    def at(self, seconds: float) -> int:
        """The instant ``seconds`` after the stream's start, in ns since the epoch."""
        return round((self.stream_start + seconds) * NS_PER_S)


@dataclass(frozen=True)
class LocalOss:
    """A running local OSS server, a created bucket, and an ``oss2.Bucket`` on it."""

    server: OssServer
    credentials: Credentials
    bucket_name: str = DEFAULT_BUCKET
    bucket: oss2.Bucket = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bucket", self.make_bucket(self.bucket_name))

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint for ``oss2.Bucket`` and ``--endpoint``."""
        return self.server.url

    @property
    def env(self) -> dict[str, str]:
        """The variables timeshift's CLI and your code read the key pair from."""
        return {"OSS_ACCESS_KEY_ID": self.credentials.access_key_id,
                "OSS_ACCESS_KEY_SECRET": self.credentials.access_key_secret}

    def make_bucket(self, name: str) -> oss2.Bucket:
        """An ``oss2.Bucket`` for ``name`` (created when missing), CRC checks on."""
        import oss2

        bucket = oss2.Bucket(oss2.Auth(self.credentials.access_key_id,
                                       self.credentials.access_key_secret),
                             self.endpoint, name, enable_crc=True)
        if name not in self.server.config.buckets:
            try:
                bucket.create_bucket()
            except oss2.exceptions.ServerError as exc:  # made earlier: fine
                if exc.code != "BucketAlreadyExists":
                    raise
        return bucket

    def store(self, name: str | None = None) -> OssStore:
        """timeshift's own store (what the archiver writes through) for a bucket."""
        from ..archive.store import OssStore

        return OssStore(self.endpoint, name or self.bucket_name, self.credentials)

    def keys(self, prefix: str = "", name: str | None = None) -> list[str]:
        """Every object key under ``prefix``, sorted."""
        import oss2

        bucket = self.bucket if name is None else self.make_bucket(name)
        return sorted(o.key for o in oss2.ObjectIteratorV2(bucket, prefix=prefix))


@dataclass(frozen=True)
class LocalLiveApi:
    """A running local Live OpenAPI server and the AccessKey pair it accepts."""

    server: LiveApiServer
    credentials: Credentials

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``: the endpoint for ``LiveClient`` and ``--endpoint``."""
        return self.server.netloc

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def scheme(self) -> str:
        return SCHEME

    @property
    def env(self) -> dict[str, str]:
        """The variables the official SDKs and timeshift's CLI read the key pair from."""
        return {"ALIBABA_CLOUD_ACCESS_KEY_ID": self.credentials.access_key_id,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": self.credentials.access_key_secret}

    @property
    def calls(self) -> Mapping[str, int]:
        """The server's counters (``calls``, ``throttled``, …), live."""
        return self.server.config.counters

    def client(self, **options: Any) -> LiveClient:
        """timeshift's OpenAPI client, pointed here (``LiveApi(client)`` for typed actions)."""
        from ..openapi.client import LiveClient

        return LiveClient(self.credentials, endpoint=self.endpoint, scheme=SCHEME, **options)


@dataclass(frozen=True)
class LocalStack:
    """The three servers, wired as ``timeshift sim all`` wires them: the Live API sees a
    stream as published where the origin has data, and writes recordings (with
    CreateLiveStreamRecordIndexFiles) from the origin into the OSS bucket."""

    origin: LocalOrigin
    liveapi: LocalLiveApi
    oss: LocalOss

    @property
    def env(self) -> dict[str, str]:
        return {**self.liveapi.env, **self.oss.env}


def _start(stack: SimStack, exits: ExitStack) -> None:
    for server in stack.servers.values():
        exits.enter_context(server)
    stack.wire()


def _workdir(root: Path | None, exits: ExitStack) -> Path:
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        return root
    return Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="timeshift-test-")))


@contextmanager
def local_origin(**options: Any) -> Iterator[LocalOrigin]:
    """A local origin for the block; options as for :func:`origin_config`."""
    stack = build_stack("origin", origin=origin_config(**options))
    with ExitStack() as exits:
        _start(stack, exits)
        yield LocalOrigin(cast(OriginServer, stack.servers["origin"]))


@contextmanager
def local_oss(*, bucket: str = DEFAULT_BUCKET, root: Path | None = None,
              **options: Any) -> Iterator[LocalOss]:
    """A local OSS server with ``bucket`` created, objects under ``root`` (default: a
    temporary folder, removed afterwards). Options are ``OssConfig`` fields: more
    ``buckets``, ``region``, and faults (``fail_rate``, ``throttle_rate``,
    ``throttle_status``, ``drop_rate``, ``corrupt_crc_rate``, ``seed``)."""
    with ExitStack() as exits:
        cred = _credential()
        stack = build_stack("oss", root=_workdir(root, exits), oss_credential=cred,
                            buckets=(bucket,))
        _configure(stack.servers["oss"].config, options,  # type: ignore[attr-defined]
                   "timeshift oss")
        _start(stack, exits)
        yield LocalOss(cast("OssServer", stack.servers["oss"]), _credentials(cred), bucket)


@contextmanager
def local_liveapi(*, root: Path | None = None, **options: Any) -> Iterator[LocalLiveApi]:
    """A local Live API on its own (every window counts as published; recordings are
    written under ``root``). Options are ``LiveApiConfig`` fields: ``domains``,
    ``streams``, ``throttle`` (answer the next N calls with Throttling), ``clock``."""
    with ExitStack() as exits:
        cred = _credential()
        stack = build_stack("liveapi", root=_workdir(root, exits), live_credential=cred)
        _configure(stack.servers["liveapi"].config, options,  # type: ignore[attr-defined]
                   "timeshift liveapi")
        _start(stack, exits)
        yield LocalLiveApi(cast("LiveApiServer", stack.servers["liveapi"]), _credentials(cred))


@contextmanager
def local_stack(*, origin: Mapping[str, Any] | None = None,
                liveapi: Mapping[str, Any] | None = None, oss: Mapping[str, Any] | None = None,
                bucket: str = DEFAULT_BUCKET, root: Path | None = None) -> Iterator[LocalStack]:
    """Origin, Live API and OSS, wired; each takes the options of its own function.

    The Live API accepts ``play.example.com`` and the origin's own ``127.0.0.1:PORT`` as
    the DomainName (plus any ``liveapi={"domains": …}``).
    """
    with ExitStack() as exits:
        live_cred, oss_cred = _credential(), _credential()
        stack = build_stack("all", origin=origin_config(**(origin or {})),
                            root=_workdir(root, exits), buckets=(bucket,),
                            live_credential=live_cred, oss_credential=oss_cred)
        live_server = cast("LiveApiServer", stack.servers["liveapi"])
        oss_server = cast("OssServer", stack.servers["oss"])
        _configure(live_server.config, liveapi or {}, "timeshift liveapi")
        _configure(oss_server.config, oss or {}, "timeshift oss")
        _start(stack, exits)
        origin_server = cast(OriginServer, stack.servers["origin"])
        # The local play domain is 127.0.0.1:PORT, known only once the origin is bound.
        if origin_server.netloc not in live_server.config.domains:
            live_server.config.domains = (*live_server.config.domains, origin_server.netloc)
        yield LocalStack(LocalOrigin(origin_server),
                         LocalLiveApi(live_server, _credentials(live_cred)),
                         LocalOss(oss_server, _credentials(oss_cred), bucket))
