#!/usr/bin/env bash
# Run the whole test suite (CPU only; 14 minutes on a fresh clone with 2 cores, all but about
# 2 minutes of it the first build, which includes fauve-train's parquet and Hub stack; measured
# 2026-11-27 in CI).
#
# Tests that need a program a fresh Debian machine lacks (ffmpeg for video files, strace for the
# flush order) are ignored there and reported as such; `--tools` runs just those, and fails if
# the programs are missing (.ci/run installs them first). Tests that need a CUDA GPU are run by
# scripts/gpu-check.sh.
#
# Usage: scripts/test.sh [--tools] [cargo test arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --tools ]; then
    shift
    for tool in ffmpeg strace; do
        command -v $tool >/dev/null || { echo "test: --tools needs $tool (apt install $tool)" >&2; exit 1; }
    done
    exec cargo test --workspace --locked --test video --test export "$@" -- --ignored
fi
cargo test --workspace --locked "$@"
