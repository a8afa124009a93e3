#!/usr/bin/env bash
# Fuzz every public loader (model and VGG files, images, configs, parquet shards, checkpoints)
# for MINUTES minutes in all, shared equally by the targets (train/examples/fuzz/). A panic, an
# allocation above 1 GiB or more than 1 GiB live at once is a finding: the input is kept in
# fuzz-findings/ and the script exits 1. Prints, per target, the inputs tried, accepted and rejected, the peak memory and the
# most frequent reasons for rejection.
#
# Usage: scripts/fuzz.sh MINUTES [--targets model,image,...] [--seed N]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: scripts/fuzz.sh MINUTES [--targets LIST] [--seed N]}
shift
# The same build as scripts/demo.sh (the whole workspace, one feature set): nothing to redo
# after it.
cargo build --release --locked --workspace --bins --examples
# The checkpoint reader warns about each damaged checkpoint it passes over: thousands here.
target/release/examples/fuzz --minutes "$minutes" --out fuzz-findings "$@" \
    2> >(grep -v '^warning: skipping damaged checkpoint' >&2)
