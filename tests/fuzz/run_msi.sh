#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run the MSI/MSI-X layout fuzzer briefly: first every checked-in
# regression input (tests/fuzz/corpus_msi/) once, then a time- and
# run-bounded session from the generated seeds plus those inputs.
# Usage: run_msi.sh FUZZER GENERATOR SOURCE_DIR WORK_DIR
# IK_FUZZ_TIME (seconds, default 20) and IK_FUZZ_RUNS (default 200000)
# bound the session.
set -eu
fuzzer=$1
gen=$2
src=$3
work=$4
corpus=$work/corpus
rm -rf "$corpus"
mkdir -p "$corpus" "$work/artifacts"
"$gen" "$corpus"
regress=$src/tests/fuzz/corpus_msi
if [ -d "$regress" ] && [ -n "$(ls -A "$regress" 2>/dev/null)" ]; then
	cp "$regress"/* "$corpus/"
	"$fuzzer" -runs=0 "$regress"/*
fi
exec "$fuzzer" -seed=1 -runs="${IK_FUZZ_RUNS:-200000}" -max_total_time="${IK_FUZZ_TIME:-20}" \
	-max_len=818 -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$corpus"
