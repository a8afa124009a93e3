#!/usr/bin/env bash
# Run the whole test suite (CPU only; 14 minutes on a fresh clone with 2 cores, all but about
# 2 minutes of it the first build, which includes fauve-train's parquet and Hub stack; measured
# 2026-11-27 in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
