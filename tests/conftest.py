"""Shared fixtures: local servers started and stopped by the tests, on 127.0.0.1 only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from timeshift.sim.origin import OriginConfig, OriginServer


@pytest.fixture
def make_origin() -> Iterator[Callable[..., OriginServer]]:
    """Start local origins with the given OriginConfig fields; all are stopped after the test."""
    started: list[OriginServer] = []

    def make(**fields: Any) -> OriginServer:
        srv = OriginServer(OriginConfig(**fields)).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def origin(make_origin: Callable[..., OriginServer]) -> OriginServer:
    """A fault-free origin whose stream began an hour ago."""
    return make_origin(history=3600)
