#!/usr/bin/env bash
# Regenerate tests/fixtures/ from the PyTorch reference (scripts/make-fixtures.py).
# Makes its own venv with torch (several GB) under .venv-ref/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-ref
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet torch numpy safetensors
fi
exec "$VENV/bin/python" scripts/make-fixtures.py "$@"
