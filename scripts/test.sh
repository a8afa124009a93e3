#!/usr/bin/env bash
# Run the whole test suite (CPU only; 7.6 minutes on a fresh clone with 2 cores, all but about
# 20 seconds of it the first build; measured 2026-11-27).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
