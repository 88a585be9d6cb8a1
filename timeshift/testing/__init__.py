"""The local origin, Live API and OSS servers for users' own tests: moto for ApsaraVideo Live.

This is a test-support layer, like the simulators it starts: it sits on top with
``timeshift.sim`` (and the CLI), and no product module imports it. With pytest, the
fixtures of :mod:`timeshift.testing.plugin` (loaded through the ``pytest11`` entry point
wherever timeshift is installed) are the way in; the context managers of
:mod:`timeshift.testing.servers`, re-exported here, are the same servers for other test
runners::

    with local_origin(gaps="60-90", signing="A") as origin, local_oss() as oss:
        clip("out.mp4", domain=origin.domain, scheme=origin.scheme, signer=origin.signer,
             app="live", stream="cam1", start=origin.at(10), end=origin.at(40))
        oss.bucket.put_object("k", b"v")

Every server listens on 127.0.0.1 on a free port, with a freshly generated AccessKey pair
(nothing is read from the environment, so a developer's real keys never reach a test),
and is stopped, its files removed, when the block ends.

The names below are imported on first use, so that pytest loading the plugin (in every
project where timeshift is installed) does not import the servers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .servers import (
        DEFAULT_BUCKET,
        LocalLiveApi,
        LocalOrigin,
        LocalOss,
        LocalStack,
        local_liveapi,
        local_origin,
        local_oss,
        local_stack,
        origin_config,
    )

__all__ = ["DEFAULT_BUCKET", "LocalLiveApi", "LocalOrigin", "LocalOss", "LocalStack",
           "local_liveapi", "local_origin", "local_oss", "local_stack", "origin_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".servers", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
