#!/usr/bin/env bash
# The system packages the whole test suite needs beyond Python (`make test` runs this first).
#
# GStreamer (gst-launch-1.0 with the good, bad and libav plugins) is a second, independent
# decoder that judges our media; Chromium is the browser the page tests drive through
# Playwright (the system build, never a downloaded one); aria2 is a peer in the benchmark.
# Python packages come from uv.lock; ffmpeg comes with the imageio-ffmpeg wheel.
#
# As root on Debian/Ubuntu the missing ones are installed with apt-get. Otherwise this says
# what to install and returns 0: the tests that need a missing program are skipped (and
# say so), except under `make test CI=true`, where a skipped test fails the run.
set -euo pipefail

PACKAGES=(gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
          gstreamer1.0-libav chromium aria2)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system packages: not a Debian-based system; install with your package manager:" \
         "GStreamer 1.x (gst-launch-1.0, plugins good, bad and libav), Chromium, aria2." \
         "Until then the tests that need them are skipped." >&2
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "system packages: all present (${PACKAGES[*]})"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    echo "system packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
    echo "system packages: installed ${missing[*]}"
else
    cat >&2 <<MSG
system packages: missing ${missing[*]}
  Install them (they need root), then run make test again:
      sudo apt-get update && sudo apt-get install -y ${missing[*]}
  Until then the tests that need them are skipped; pytest lists each skip and its reason.
MSG
fi
