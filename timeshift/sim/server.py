"""Kept for imports written before the runner moved: it lives in :mod:`timeshift.localserver`
(the callback receiver uses it too, and product code never imports a simulator)."""

from ..localserver import BackgroundServer, serve_forever

__all__ = ["BackgroundServer", "serve_forever"]
