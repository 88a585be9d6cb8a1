"""``timeshift studio`` end to end in a real browser: Chromium driven through Playwright.

The page is loaded against the local origin with a gap; the test sees the gap drawn,
clicks the timeline, steps frames with the keyboard and the buttons, reads the still
(the frame index the samples draw into every picture, decoded from the JPEG the page
shows), marks in and out, exports, downloads the MP4 from the page's link and checks
that it starts and ends on exactly the marked frames.

Needs the system Chromium (Debian ``chromium``, at /usr/bin/chromium) and the python
``playwright`` package; Playwright's own browser download is never used.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import av
import pytest

from timeshift.sim.frameindex import decode_frame_indices, read_frame_index
from timeshift.sim.origin import OriginServer
from timeshift.studio import StreamSource, StudioConfig, StudioServer
from timeshift.times import NS_PER_S, parse_time

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
FPS = 25

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the python playwright package: pip install playwright")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs the system Chromium at /usr/bin/chromium: apt-get install chromium")


def ns(o: OriginServer, seconds: float) -> int:
    return round((o.stream_start + seconds) * NS_PER_S)


def index_at(o: OriginServer, unix: str) -> int:
    return int(round((Decimal(unix) - Decimal(repr(o.stream_start))) * FPS)) % 500


class Page:
    """The studio page, by its data-testid hooks."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def hook(self, name: str) -> Any:
        return self.page.locator(f'[data-testid="{name}"]')

    def frame_start(self) -> str:
        return str(self.hook("still").get_attribute("data-frame-start"))

    def wait_still(self, start: str | None = None, changed_from: str | None = None) -> str:
        """Wait until the still shows the frame starting at ``start`` (or any other frame)."""
        self.page.wait_for_function(
            """([want, old]) => {
                const s = document.querySelector('[data-testid="still"]');
                return s.dataset.state === 'ready' && s.complete &&
                    (want === null || s.dataset.frameStart === want) &&
                    (old === null || s.dataset.frameStart !== old);
            }""", arg=[start, changed_from], timeout=30_000)
        return self.frame_start()

    def still_index(self, hook: str = "still") -> int:
        """Decode the JPEG the page shows and read the frame index drawn in it."""
        src = self.hook(hook).get_attribute("src")
        image = self.page.request.get(self.page.url.rstrip("/") + src)
        assert image.ok and image.headers["content-type"] == "image/jpeg"
        with av.open(io.BytesIO(image.body())) as c:
            return read_frame_index(next(iter(c.decode(video=0))))


def step(start: str, frames: int) -> str:
    return f"{Decimal(start) + Decimal(frames) / FPS:.9f}"


def test_find_step_mark_and_export_in_chromium(make_origin: Callable[..., OriginServer],
                                               tmp_path: Path) -> None:
    o = make_origin(history=3600, gaps=((60, 90),))
    out = tmp_path / "exports"
    out.mkdir()
    cfg = StudioConfig(StreamSource(o.netloc, "live", "cam1", "http"), ns(o, 0), ns(o, 120), out)
    with StudioServer(cfg) as studio, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(accept_downloads=True, timezone_id="Asia/Shanghai",
                                          viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            tab = context.new_page()
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(studio.page_url)
            tab.wait_for_selector("body[data-ready=true]", timeout=30_000)
            p = Page(tab)
            first = p.wait_still()

            # The gap (60-90 s of a 120 s window) is drawn where it is.
            assert p.hook("gap").count() == 1
            line = p.hook("timeline").bounding_box()
            gap = p.hook("gap").bounding_box()
            assert gap["x"] - line["x"] == pytest.approx(line["width"] * 0.5, abs=3)
            assert gap["width"] == pytest.approx(line["width"] * 0.25, abs=3)
            # Keyframe thumbnails along the covered part, loaded (and none in the gap).
            tab.wait_for_function("""() => [...document.querySelectorAll('[data-testid="thumbnail"]')]
                .filter((i) => i.complete && i.naturalWidth === 160).length >= 3""")

            # Labels in the user's zone and in UTC (Asia/Shanghai is 8 h ahead).
            local = tab.locator(".tl-tick .tl-local").first.inner_text()
            utc = tab.locator(".tl-tick .tl-utc").first.inner_text()
            assert utc.endswith("Z") and (int(local.split()[-1][:2]) - int(utc[:2])) % 24 == 8
            # Zoom from a day down to single frames (the frame grid appears), and back.
            tab.locator('[data-zoom="86400"]').click()
            assert "24 h 00 min" in tab.locator("#view-info").inner_text()
            tab.locator('[data-zoom="frames"]').click()
            assert "0.400 s in view" in tab.locator("#view-info").inner_text()
            assert tab.locator(".tl-frame").count() >= 9  # 40 ms frames in 400 ms
            tab.locator('[data-zoom="window"]').click()
            assert p.hook("gap").count() == 1

            # Click a quarter of the way in (about 30 s), then step frames: keys and buttons.
            tab.mouse.click(line["x"] + line["width"] * 0.25, line["y"] + 20)
            clicked = p.wait_still(changed_from=first)
            assert abs(Decimal(clicked) - Decimal(repr(o.stream_start)) - 30) < 1
            for _ in range(2):
                tab.keyboard.press("ArrowRight")
            p.hook("forward-frame").click()
            in_start = p.wait_still(step(clicked, 3))
            in_index = p.still_index()
            assert in_index == index_at(o, in_start)  # the still is the frame its time names
            p.hook("mark-in").click()
            tab.wait_for_function(
                "() => document.querySelector('[data-testid=\"in-time\"]').value.endsWith('+08:00')")
            typed = p.hook("in-time").input_value()
            assert parse_time(typed) == int(Decimal(in_start) * NS_PER_S)  # the local-time input

            # One second and seven frames on (Shift+→ is a second), and mark out there.
            tab.keyboard.press("Shift+ArrowRight")
            p.wait_still(step(in_start, FPS))
            for _ in range(8):
                tab.keyboard.press("ArrowRight")
            tab.keyboard.press("ArrowLeft")
            out_start = p.wait_still(step(in_start, FPS + 7))
            out_index = p.still_index()
            assert out_index == index_at(o, out_start)
            p.hook("mark-out").click()
            tab.wait_for_function(
                "() => document.querySelector('[data-testid=\"out-time\"]').value !== ''")
            assert parse_time(p.hook("out-time").input_value()) == int(Decimal(out_start) * NS_PER_S)

            # Space plays a few seconds from the playhead in the <video> (an exact clip).
            tab.keyboard.press("Space")
            tab.wait_for_function("""() => { const v = document.querySelector('video');
                return v.readyState >= 2 && Math.abs(v.duration - 4) < 0.05; }""",
                                  timeout=60_000)

            # The frames beside the marks are the marked frames.
            tab.wait_for_function("""() => ['in-still', 'out-still'].every((h) => {
                const i = document.querySelector(`[data-testid="${h}"]`);
                return i.src && i.complete && i.naturalWidth > 0; })""")
            assert (p.still_index("in-still"), p.still_index("out-still")) == (in_index, out_index)

            p.hook("export").click()
            item = p.hook("export-item")
            item.wait_for(timeout=60_000)
            assert "s ·" in item.inner_text()  # its duration is listed
            with tab.expect_download(timeout=30_000) as info:
                item.locator("a").click()
            saved = tmp_path / "downloaded.mp4"
            info.value.save_as(saved)

            # Marks typed in the CLI's formats (unix seconds here) follow into the page, and
            # an export across the gap fails with the CLI's words.
            for hook, at in (("in-time", 58), ("out-time", 92)):
                p.hook(hook).fill(f"{o.stream_start + at:.3f}")
                p.hook(hook).press("Tab")
                tab.wait_for_function(
                    f"() => document.querySelector('[data-testid=\"{hook}\"]').value.endsWith('+08:00')")
                assert parse_time(p.hook(hook).input_value()) == ns(o, at)
            p.wait_still(f"{Decimal(repr(o.stream_start)) + 92:.9f}")  # the still follows the mark
            p.hook("export").click()
            failure = p.hook("export-error")
            failure.wait_for(timeout=60_000)
            assert ("timeshift clip: error: the window has 1 gap(s), 30 s without data; "
                    "pass --allow-gaps") in failure.inner_text()
            assert p.hook("export-item").count() == 1
            tab.screenshot(path=str(tmp_path / "studio.png"))
            assert errors == []
        finally:
            browser.close()
    frames = [index for _, index in decode_frame_indices(saved)]
    assert (frames[0], frames[-1]) == (in_index, out_index)
    assert len(frames) == FPS + 8 and all((b - a) % 500 == 1 for a, b in zip(frames, frames[1:], strict=False))
    assert saved.read_bytes() == next(out.glob("*.mp4")).read_bytes()
