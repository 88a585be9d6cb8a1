"""A user's service code on top of timeshift: replay links, highlights, nightly archives."""

from .service import ReplayService, Settings

__all__ = ["ReplayService", "Settings"]
