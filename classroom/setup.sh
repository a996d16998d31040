#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Ubuntu; choose the
# Ubuntu 22.04 base image or newer: the graders need Python 3.10+). It installs Python and
# the graders' dependencies into a venv at $AUTOGRADER_ROOT/venv (default /autograder/venv).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive

apt-get update
apt-get install -y python3 python3-pip python3-venv

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup.sh: $(python3 --version) is too old; the graders need Python 3.10 or newer." >&2
    echo "setup.sh: pick a newer base image in the autograder settings (Ubuntu 22.04+)." >&2
    exit 1
fi

python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip
"$ROOT/venv/bin/python" -m pip install --disable-pip-version-check \
    -r "$ROOT/source/requirements.txt"
"$ROOT/venv/bin/python" -m pytest --version
