#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Boot the port kernel in QEMU once per line of port/x86_64/tests/*.list:
#   NAME | qemu extra args | kernel command line extras
# with "test=NAME" appended to the command line.  A test passes when QEMU
# exits with status 33 (isa-debug-exit 0x10) and printed "PORT: PASS NAME".
# A line whose command line extras hold "expect-fail" (harness self-tests)
# passes when the guest fails it instead (status 35).  Two boots at a time.
#
#   run-tests.sh KERNEL OUTDIR [NAME-SUBSTRING]
# Environment: QEMU (default qemu-system-x86_64), PORT_JOBS (2),
# PORT_HOST_TIMEOUT (seconds per boot, 40).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
QEMU=${QEMU:-qemu-system-x86_64}
JOBS=${PORT_JOBS:-2}
HOST_TIMEOUT=${PORT_HOST_TIMEOUT:-40}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

trim() {
	printf '%s' "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'
}

# One boot: run-tests.sh --one KERNEL OUTDIR LINE
if [ "${1:-}" = "--one" ]; then
	kernel=$2 out=$3 line=$4
	name=$(trim "$(printf '%s' "$line" | cut -d'|' -f1)")
	qargs=$(trim "$(printf '%s' "$line" | cut -s -d'|' -f2)")
	kargs=$(trim "$(printf '%s' "$line" | cut -s -d'|' -f3)")
	log="$out/$name.log"
	t0=$(now_ms)
	set +e
	# shellcheck disable=SC2086
	timeout -k 5 "$HOST_TIMEOUT" "$QEMU" -machine q35 -accel tcg -m 128M -display none \
		-nodefaults -no-reboot -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$kernel" $qargs -append "test=$name $kargs" >"$log" 2>&1 </dev/null
	rc=$?
	set -e
	ms=$(($(now_ms) - t0))
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		verdict="FAIL(host timeout)"
	else
		case " $kargs " in
		*" expect-fail "*)
			# A harness self-test: the guest must fail it (status 35, its FAIL line).
			if [ "$rc" -eq 35 ] && grep -q "^PORT: FAIL $name" "$log"; then
				verdict=PASS
			else
				verdict="FAIL(status $rc, expected a guest FAIL)"
			fi ;;
		*)
			if [ "$rc" -eq 33 ] && grep -q "^PORT: PASS $name" "$log"; then
				verdict=PASS
			else
				verdict="FAIL(status $rc)"
			fi ;;
		esac
	fi
	printf '%-28s %-20s %6d ms\n' "$name" "$verdict" "$ms" >"$out/$name.result"
	exit 0
fi

kernel=${1:?usage: run-tests.sh KERNEL OUTDIR [FILTER]}
out=${2:?usage: run-tests.sh KERNEL OUTDIR [FILTER]}
filter=${3:-}
mkdir -p "$out"
rm -f "$out"/*.result "$out"/*.log "$out/lines"

for list in "$here"/tests/*.list; do
	[ -f "$list" ] || continue
	while IFS= read -r line || [ -n "$line" ]; do
		case $(trim "$line") in
		'' | '#'*) continue ;;
		esac
		name=$(trim "$(printf '%s' "$line" | cut -d'|' -f1)")
		case $name in
		*"$filter"*) printf '%s\n' "$line" >>"$out/lines" ;;
		esac
	done <"$list"
done
[ -s "$out/lines" ] || { echo "run-tests: no tests${filter:+ matching $filter}" >&2; exit 1; }

t0=$(now_ms)
tr '\n' '\0' <"$out/lines" | xargs -0 -n 1 -P "$JOBS" "$0" --one "$kernel" "$out"
total=$(($(now_ms) - t0))

pass=0 fail=0
while IFS= read -r line; do
	name=$(trim "$(printf '%s' "$line" | cut -d'|' -f1)")
	if [ -f "$out/$name.result" ]; then
		cat "$out/$name.result"
		if grep -q " PASS " "$out/$name.result"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "---- $out/$name.log (last lines):"
			tail -n 25 "$out/$name.log" | sed 's/^/    /'
		fi
	else
		echo "$name: no result"
		fail=$((fail + 1))
	fi
done <"$out/lines"
echo "qemu suite: $pass passed, $fail failed, $total ms total (boot-to-verdict per test above, $JOBS at a time)"
[ "$fail" -eq 0 ]
