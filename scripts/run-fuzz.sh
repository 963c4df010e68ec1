#!/usr/bin/env bash
# Runs every libFuzzer binary in DIR for SECONDS each, starting from its seed
# corpus in tests/fuzz/corpus/<name>. New inputs go to a scratch copy so the
# committed corpus only changes on purpose. A crash fails the run.
set -euo pipefail
dir=$1; secs=${2:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
n=0
for f in "$dir"/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    seeds="$root/tests/fuzz/corpus/$name"
    work=$(mktemp -d)
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    echo "fuzz: $name for ${secs}s ($(ls "$work" | wc -l) seeds)"
    if ! "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$dir/$name-" "$work" >"$dir/$name.log" 2>&1; then
        tail -40 "$dir/$name.log"
        echo "fuzz: $name FAILED (log: $dir/$name.log)"
        rm -rf "$work"
        exit 1
    fi
    grep -E "^#[0-9]+.*DONE" "$dir/$name.log" | tail -1 || true
    rm -rf "$work"
    n=$((n + 1))
done
echo "fuzz: $n passed, 0 failed"
