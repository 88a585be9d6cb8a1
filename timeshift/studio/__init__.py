"""``timeshift studio``: a local web page to find the moment in a stream and cut it.

The page shows the window's timeline (covered ranges and gaps), keyframe thumbnails,
the exact frame on screen at any instant (chosen as the exact cut chooses it), short
previews, and exports exact clips in the background. Layout:

* :mod:`.frames` (pure): which frame is on screen at an instant, names;
* :mod:`.media`: segments through the clip pipeline, stills and thumbnails (PyAV);
* :mod:`.exports`: the export queue and previews (the clip pipeline in worker threads);
* :mod:`.app`: the HTTP surface and its security; :mod:`.server`: starting one;
* ``static/``: the page (HTML, CSS, JavaScript modules; no build step).
"""

from __future__ import annotations

from .media import StreamSource
from .server import StudioConfig, StudioServer

__all__ = ["StreamSource", "StudioConfig", "StudioServer"]
