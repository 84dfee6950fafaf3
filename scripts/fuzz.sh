#!/usr/bin/env bash
# Runs every fuzz target for a while: `bash scripts/fuzz.sh [SECONDS]`
# (default 30 per target). Needs the nightly toolchain; installs
# cargo-fuzz itself. New inputs go to fuzz/corpus/<target> (not committed);
# the committed seeds are in fuzz/seeds/<target>. A crash, a leak, a
# timeout or an allocation beyond the limits below fails the run.
#
# Long runs: `FUZZ_RUNS=10000000 FUZZ_SANITIZER=none bash scripts/fuzz.sh`
# runs each target for that many inputs instead of a time. Without a
# sanitizer a target runs 5 to 20 times faster, but only the RSS limit
# holds (the per-allocation limit and leak checks need AddressSanitizer).
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-30}
sanitizer=${FUZZ_SANITIZER:-address}
if [ -n "${FUZZ_RUNS:-}" ]; then
    budget=(-runs="$FUZZ_RUNS")
else
    budget=(-max_total_time="$seconds")
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

for target in $(cargo +nightly fuzz list); do
    mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target"
    echo "==> $target (${budget[*]}, sanitizer $sanitizer)"
    # Frames are capped at 64 KiB here, so no input needs more than a few
    # MiB; anything past the limits is a bug.
    cargo +nightly fuzz run -s "$sanitizer" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        "${budget[@]}" -max_len=70000 -malloc_limit_mb=64 -rss_limit_mb=1024 \
        -print_final_stats=1
done
