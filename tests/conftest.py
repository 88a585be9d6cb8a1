"""Shared fixtures: local servers started and stopped by the tests, on 127.0.0.1 only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from timeshift.sim.origin import OriginConfig, OriginServer
from timeshift.sim.oss import OssConfig, OssServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--no-skips", action="store_true",
                     help="fail the run if any test is skipped (CI: every test must run, "
                          "so a missing GStreamer, Chromium or aria2 cannot pass quietly)")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not session.config.getoption("--no-skips") or reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter.ensure_newline()
        reporter.write_line(f"--no-skips: {len(skipped)} test(s) skipped, which fails this run "
                            "(the summary gives each reason; install what it names)", red=True)


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


@pytest.fixture
def make_oss(tmp_path: Path) -> Iterator[Callable[..., OssServer]]:
    """Start local OSS servers on 127.0.0.1 (key testid/testsecret, a tmp root); all are
    stopped after the test."""
    started: list[OssServer] = []

    def make(**fields: Any) -> OssServer:
        fields.setdefault("root", tmp_path / "oss")
        fields.setdefault("access_key_id", "testid")
        fields.setdefault("access_key_secret", "testsecret")
        srv = OssServer(OssConfig(**fields)).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
