"""Take the README's screenshot of ``timeshift studio`` (docs/studio.png).

Runs the local origin (the bundled samples, a 30 s gap), a studio on ten minutes of it,
and the system Chromium through Playwright: it seeks, marks in and out, exports, makes
a preview, and photographs the page. ``python tools/studio_screenshot.py [OUT.png]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from timeshift.sim.origin import OriginConfig, OriginServer
from timeshift.studio import StreamSource, StudioConfig, StudioServer
from timeshift.times import NS_PER_S

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp, \
            OriginServer(OriginConfig(history=3600, gaps=((300, 330),))) as origin:
        t0 = origin.stream_start
        cfg = StudioConfig(StreamSource(origin.netloc, "live", "cam1", "http"),
                           round(t0 * NS_PER_S), round((t0 + 600) * NS_PER_S), Path(tmp))
        with StudioServer(cfg) as studio, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 1010},
                                    timezone_id="Asia/Shanghai")
            page.goto(studio.page_url)
            page.wait_for_selector("body[data-ready=true]")
            still = '[data-testid="still"][data-state="ready"]'
            page.wait_for_selector(still)
            line = page.locator('[data-testid="timeline"]').bounding_box()
            assert line is not None
            page.mouse.click(line["x"] + line["width"] * 0.405, line["y"] + 20)
            page.wait_for_timeout(600)
            page.wait_for_selector(still)
            page.click('[data-testid="mark-in"]')
            for _ in range(4):
                page.keyboard.press("Shift+ArrowRight")
            for _ in range(6):
                page.keyboard.press("ArrowRight")
            page.wait_for_timeout(1500)
            page.wait_for_selector(still)
            page.click('[data-testid="mark-out"]')
            page.click('[data-testid="export"]')
            page.locator('[data-testid="export-item"]').wait_for(timeout=60_000)
            page.click('[data-testid="preview-button"]')
            page.wait_for_function("() => document.querySelector('video').readyState >= 2",
                                   timeout=30_000)
            page.evaluate("() => { const v = document.querySelector('video'); v.pause(); "
                          "v.currentTime = 1.2; }")
            page.locator('[data-zoom="window"]').click()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/studio.png"))
