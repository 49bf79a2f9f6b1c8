#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run the scenario fuzzer briefly from a seed corpus of the examples and the
# embedded default.  Usage: fuzz_run.sh FUZZER SOURCE_DIR WORK_DIR
# IK_FUZZ_TIME (seconds, default 20) and IK_FUZZ_RUNS (default 20000) bound it.
set -eu
fuzzer=$1
src=$2
work=$3
corpus=$work/corpus
rm -rf "$corpus"
mkdir -p "$corpus" "$work/artifacts"
for f in "$src"/examples/*.scn "$src"/tools/irqkit/default.scn "$src"/tests/tool/bad/*.scn; do
	[ -f "$f" ] && cp "$f" "$corpus/"
done
exec "$fuzzer" -seed=1 -runs="${IK_FUZZ_RUNS:-20000}" -max_total_time="${IK_FUZZ_TIME:-20}" \
	-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-dict="$src/tools/irqkit/fuzz/scenario.dict" \
	-artifact_prefix="$work/artifacts/" "$corpus"
