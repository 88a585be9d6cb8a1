#!/usr/bin/env bash
# Install a pinned uv into DIR (a private virtual environment) from PyPI: the one tool the
# Makefile needs to build .venv from uv.lock. Usage: bootstrap-uv.sh PYTHON DIR VERSION
set -euo pipefail
python=$1 dir=$2 version=$3

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: timeshift needs Python 3.10 or newer as '$python' (make PYTHON=python3.12 ...)" >&2
    exit 1
fi
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian and Ubuntu ship venv's ensurepip separately.
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing python3-venv (Python's venv module, needed once to install uv)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        echo "error: '$python -m venv' is unavailable; install it (Debian/Ubuntu:" \
             "sudo apt-get install python3-venv) and run make again" >&2
        exit 1
    fi
fi
rm -rf "$dir"
"$python" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$version"
"$dir/bin/uv" --version
