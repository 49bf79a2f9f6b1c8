#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Check a Promela model with spin:  run_spin.sh MODEL.pml WORKDIR
#
# The checks are listed in MODEL.checks next to the model, one per line
# ('#' starts a comment):
#
#   EXPECT MODE [DEFINE...]
#
#   EXPECT  pass (no error may be found), fail (an error must be found) or
#           fail+trail (the same, and its shortest trail is printed, trimmed
#           to the model's own steps)
#   MODE    safety (assertions and invalid end states, never claim off)
#           or ltl (the model's LTL property, acceptance cycles, weak fairness)
#   DEFINE  passed to spin as -DDEFINE (a variant of the model)
#
# Each check runs `spin -a`, compiles pan.c and runs ./pan.  Exit 0 if
# every check met its expectation, 1 otherwise, 77 (skipped for ctest)
# when spin or a C compiler is not installed.
set -u

model=$1
work=$2
checks=${model%.pml}.checks

if ! command -v spin >/dev/null 2>&1; then
	echo "SKIPPED: spin is not installed (apt-get install spin; scripts/deps.sh does it as root)"
	exit 77
fi
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "SKIPPED: no C compiler ($cc) to build spin's verifier"
	exit 77
fi
[ -f "$model" ] && [ -f "$checks" ] || { echo "run_spin: missing $model or $checks" >&2; exit 1; }
mkdir -p "$work" || exit 1

status=0
n=0
while read -r expect mode defines; do
	case "$expect" in ''|'#'*) continue ;; esac
	n=$((n + 1))
	dir="$work/check$n"
	rm -rf "$dir" && mkdir -p "$dir" || exit 1
	dflags=""
	for d in $defines; do dflags="$dflags -D$d"; done
	label="$expect $mode${defines:+ ($defines)}"
	# shellcheck disable=SC2086
	if ! (cd "$dir" && spin -a $dflags "$model" >spin.log 2>&1); then
		echo "FAIL  $label: spin -a failed"; cat "$dir/spin.log"; status=1; continue
	fi
	case "$mode" in
	safety) ccflags="-DNOCLAIM"; panflags="" ;;
	ltl) ccflags=""; panflags="-a -f" ;;
	*) echo "FAIL  $label: unknown mode"; status=1; continue ;;
	esac
	# Shortest counterexample for expected failures (-i needs REACH to be exact).
	case "$expect" in
	pass) ;;
	fail|fail+trail) panflags="$panflags -i"; ccflags="$ccflags -DREACH" ;;
	*) echo "FAIL  $label: unknown expectation"; status=1; continue ;;
	esac
	# The models are small: a 2^20-slot hash table, and no optimisation (compiling
	# pan.c at -O2 costs more than the search).
	panflags="$panflags -w20"
	# shellcheck disable=SC2086
	if ! (cd "$dir" && "$cc" -O0 $ccflags -o pan pan.c >cc.log 2>&1); then
		echo "FAIL  $label: cannot compile pan.c"; cat "$dir/cc.log"; status=1; continue
	fi
	# shellcheck disable=SC2086
	(cd "$dir" && ./pan $panflags >pan.log 2>&1)
	errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$dir/pan.log" | tail -1)
	states=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$dir/pan.log" | tail -1)
	what=$(grep -m1 -E '^pan:[0-9]+: ' "$dir/pan.log" | sed 's/^pan:[0-9]*: //')
	if [ -z "$errors" ]; then
		echo "FAIL  $label: no verdict from pan"; cat "$dir/pan.log"; status=1; continue
	fi
	if [ "$expect" = pass ] && [ "$errors" = 0 ]; then
		echo "ok    $label: no error, $states states stored"
	elif [ "$expect" != pass ] && [ "$errors" != 0 ]; then
		echo "ok    $label: error found as required: $what"
		[ "$expect" = fail+trail ] || continue
		echo "      counterexample (spin -t -p$dflags, model steps only):"
		# shellcheck disable=SC2086
		(cd "$dir" && spin -t -p -k "$(basename "$model").trail" $dflags "$model" 2>&1) |
			grep -E 'proc  *[1-9][0-9]* \(|assertion violated|CYCLE' |
			grep -v -e 'goto :b' -e 'valid end state' | sed 's/^/        /'
	else
		echo "FAIL  $label: errors: $errors, $states states stored ${what:+($what)}"
		status=1
	fi
done <"$checks"
[ "$n" -gt 0 ] || { echo "run_spin: no checks in $checks" >&2; exit 1; }
exit $status
