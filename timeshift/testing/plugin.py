"""pytest fixtures for the local origin, Live API and OSS servers (entry point ``pytest11``).

pytest loads this plugin wherever timeshift is installed; it imports the servers only
when a test asks for one of its fixtures. Like :mod:`timeshift.testing`, it is a
test-support layer on top with the simulators. Fixtures (each server on 127.0.0.1, a free
port, a generated AccessKey pair; stopped, and its files removed, after the test):

``timeshift_origin``
    a :class:`~timeshift.testing.LocalOrigin`: ``.domain``, ``.scheme``, ``.at(seconds)``,
    ``.signer``/``.auth_key`` when signing is on.
``timeshift_origin_factory``
    a callable making more origins in one test: ``timeshift_origin_factory(gaps="0-30")``.
``timeshift_oss``
    a :class:`~timeshift.testing.LocalOss`: ``.bucket`` (a ready ``oss2.Bucket``),
    ``.endpoint``, ``.credentials``, ``.env``, ``.store()``, ``.keys()``.
``timeshift_liveapi``
    a :class:`~timeshift.testing.LocalLiveApi`: ``.endpoint``, ``.credentials``, ``.env``,
    ``.client()``.
``timeshift_stack``
    a :class:`~timeshift.testing.LocalStack`: ``.origin``, ``.liveapi``, ``.oss``, wired.

Options come from a marker of the fixture's name, or from indirect parametrization (which
wins), so one test can run against several origin forms::

    @pytest.mark.timeshift_origin(gaps="60-90", signing="A", fail_rate=0.1, seed=1)
    def test_gap_is_reported(timeshift_origin): ...

    @pytest.mark.parametrize("timeshift_origin", [{}, {"encryption": "aes-128"},
                             {"byte_ranges": 3}], indirect=True)
    def test_every_form(timeshift_origin): ...

    @pytest.mark.timeshift_oss(bucket="archive", throttle_rate=0.2, seed=3)
    @pytest.mark.timeshift_stack(origin={"history": 3600}, bucket="records")

Markers on a class or module apply to every test in it; the nearest one wins, key by key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from .servers import LocalLiveApi, LocalOrigin, LocalOss, LocalStack

__all__ = ["timeshift_liveapi", "timeshift_origin", "timeshift_origin_factory", "timeshift_oss",
           "timeshift_stack"]

T = TypeVar("T")

_MARKERS = {
    "timeshift_origin": "timeshift_origin(**options): the timeshift_origin fixture's options "
                        "(gaps, signing, faults, media forms: OriginConfig fields)",
    "timeshift_oss": "timeshift_oss(bucket=..., **options): the timeshift_oss fixture's options "
                     "(OssConfig fields: faults, region, more buckets)",
    "timeshift_liveapi": "timeshift_liveapi(**options): the timeshift_liveapi fixture's options "
                         "(LiveApiConfig fields: domains, streams, throttle)",
    "timeshift_stack": "timeshift_stack(origin={...}, liveapi={...}, oss={...}, bucket=...): "
                       "the timeshift_stack fixture's options",
}


def pytest_configure(config: pytest.Config) -> None:
    for line in _MARKERS.values():
        config.addinivalue_line("markers", line)


def _options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    """Marker keywords (nearest marker last, so it wins), then an indirect parameter."""
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(name))):
        if marker.args:
            raise TypeError(f"@pytest.mark.{name} takes keyword options only")
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, dict):
            raise TypeError(f"an indirect parameter of {name} must be a dict of options, "
                            f"not {type(param).__name__}")
        options.update(param)
    return options


def _served(request: pytest.FixtureRequest, name: str,
            start: Callable[..., AbstractContextManager[T]],
            tmp_path_factory: pytest.TempPathFactory | None = None) -> Iterator[T]:
    """Run the server ``start(**options)`` makes for the fixture ``name`` until the test ends.

    With ``tmp_path_factory``, a server that keeps files gets a fresh folder of its own
    (``root``) unless the options name one.
    """
    options = _options(request, name)
    if tmp_path_factory is not None:
        options.setdefault("root", tmp_path_factory.mktemp(name.replace("_", "-")))
    with start(**options) as server:
        yield server


@pytest.fixture
def timeshift_origin(request: pytest.FixtureRequest) -> Iterator[LocalOrigin]:
    """A local time-shift origin (see the module's docstring for its options)."""
    from .servers import local_origin

    yield from _served(request, "timeshift_origin", local_origin)


@pytest.fixture
def timeshift_origin_factory() -> Iterator[Callable[..., LocalOrigin]]:
    """Start origins with the given options; all are stopped after the test."""
    from .servers import local_origin

    with ExitStack() as exits:
        def make(**options: Any) -> LocalOrigin:
            return exits.enter_context(local_origin(**options))

        yield make


@pytest.fixture
def timeshift_oss(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOss]:
    """A local OSS server with a created bucket and an ``oss2.Bucket`` on it."""
    from .servers import local_oss

    yield from _served(request, "timeshift_oss", local_oss, tmp_path_factory)


@pytest.fixture
def timeshift_liveapi(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLiveApi]:
    """A local Live OpenAPI server on its own."""
    from .servers import local_liveapi

    yield from _served(request, "timeshift_liveapi", local_liveapi, tmp_path_factory)


@pytest.fixture
def timeshift_stack(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Origin, Live API and OSS, wired to each other."""
    from .servers import local_stack

    yield from _served(request, "timeshift_stack", local_stack, tmp_path_factory)
