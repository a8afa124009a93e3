#!/usr/bin/env bash
# Run the whole test suite (CPU only; a few minutes on 2 cores, most of it the first build).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
