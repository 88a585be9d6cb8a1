"""Decoders the project does not use to write its clips, as judges in the tests.

* GStreamer: ``filesrc ! qtdemux ! decodebin ! fakesink`` (qtdemux, the h264parse/
  h265parse parsers and the libav decoders), run by ``gst-launch-1.0``; the judge
  counts the decoded video buffers that reach the sink and collects every error, and
  every warning from the parsers and decoders.
* Chromium (Debian's ``chromium``, driven by Playwright with that executable; no browser
  is downloaded): the MP4 served from a 127.0.0.1 server is played to its end in a
  ``<video>`` element, and ``getVideoPlaybackQuality()`` says how many frames were
  decoded and whether any was corrupted.

When a judge is not installed the test skips and says what to install.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

GST_PACKAGES = ("gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad "
                "gstreamer1.0-libav")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def gst_decode(path: Path) -> tuple[int, list[str]]:
    """Decode the first video track of ``path`` with GStreamer: (frames decoded, problems)."""
    gst = shutil.which("gst-launch-1.0")
    if gst is None:
        pytest.skip(f"GStreamer is not installed (apt-get install {GST_PACKAGES})")
    argv = [gst, "-v", "filesrc", f"location={path}", "!", "qtdemux", "name=d", "d.video_0",
            "!", "queue", "!", "decodebin", "!", "fakesink", "silent=false", "sync=false"]
    env = {**os.environ, "GST_DEBUG_NO_COLOR": "1",
           "GST_DEBUG": "*:1,libav:2,videodecoder:2,h264parse:2,h265parse:2"}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    out = r.stdout + r.stderr
    if "no element" in out and "qtdemux" in out or "missing" in out.lower():
        pytest.skip(f"GStreamer lacks a plugin for {path.name} (apt-get install {GST_PACKAGES})")
    frames = sum(1 for line in out.splitlines()
                 if "fakesink0: last-message = chain" in line)
    problems = [line for line in out.splitlines()
                if " ERROR " in line or " WARN " in line or line.startswith(("ERROR", "WARNING"))]
    if r.returncode != 0:
        problems.append(f"gst-launch-1.0 exited with {r.returncode}")
    return frames, problems


def gst_play_playlist(playlist: Path) -> tuple[int, list[str]]:
    """Play an HLS playlist with GStreamer's ``playbin`` (hlsdemux, then the demuxer and
    decoder it picks for the segments' form): (video frames that reached the sink, problems).
    """
    gst = shutil.which("gst-launch-1.0")
    if gst is None:
        pytest.skip(f"GStreamer is not installed (apt-get install {GST_PACKAGES})")
    argv = [gst, "-v", "playbin", f"uri={playlist.resolve().as_uri()}",
            "video-sink=fakesink name=vs silent=false sync=false",
            "audio-sink=fakesink sync=false"]
    env = {**os.environ, "GST_DEBUG_NO_COLOR": "1",
           "GST_DEBUG": "*:1,libav:2,videodecoder:2,h264parse:2,h265parse:2,hlsdemux:2,"
                        "hlsdemux2:2,qtdemux:2,souphttpsrc:2"}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    out = r.stdout + r.stderr
    if "no element" in out and "playbin" in out or "missing" in out.lower():
        pytest.skip(f"GStreamer lacks a plugin for {playlist.name} (apt-get install {GST_PACKAGES})")
    frames = sum(1 for line in out.splitlines() if "vs: last-message = chain" in line)
    problems = [line for line in out.splitlines()
                if " ERROR " in line or " WARN " in line or line.startswith(("ERROR", "WARNING"))]
    if r.returncode != 0:
        problems.append(f"gst-launch-1.0 exited with {r.returncode}")
    return frames, problems


@contextmanager
def _serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) while the block runs."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


_PLAY = """async ([codecs]) => {
  const v = document.querySelector('video');
  if (!v.canPlayType(codecs)) return {unsupported: true};
  v.playbackRate = 2;
  const ended = new Promise((ok, fail) => {
    v.onended = ok; v.onerror = () => fail(new Error('media error ' + v.error.code));
  });
  await v.play();
  await ended;
  const q = v.getVideoPlaybackQuality();
  return {total: q.totalVideoFrames, corrupted: q.corruptedVideoFrames,
          dropped: q.droppedVideoFrames, duration: v.duration, time: v.currentTime};
}"""


def chromium_play(path: Path, codecs: str) -> dict[str, Any]:
    """Play ``path`` to its end in Chromium; the video's playback quality and times.

    ``codecs`` is the MIME type with codecs asked of ``canPlayType`` first; when the
    browser says it cannot play it (Debian's Chromium has no HEVC decoder), the test skips
    and says so.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright; no browser download)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    page_html = f'<video muted playsinline src="{path.name}"></video>'
    (path.parent / "play.html").write_text(page_html)
    with _serve(path.parent) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/play.html")
            result: dict[str, Any] = page.evaluate(_PLAY, [codecs], )
        finally:
            browser.close()
    if result.get("unsupported"):
        pytest.skip(f"this Chromium cannot play {codecs} (canPlayType says no); "
                    "GStreamer judges it instead")
    return result
