#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Tool behaviour tests.  Usage: run_cases.sh IRQKIT SOURCE_DIR
#  - tests/tool/bad/*.scn must exit 2 and report "FILE:LINE:COL: error: TEXT"
#    as declared by their first line "# expect-error: LINE:COL: TEXT";
#  - tests/tool/fail/*.scn must exit 1 and name "FILE:LINE:" from
#    "# expect-fail: LINE";
#  - includes, the shell, check, --help, dot and the default must work.
set -u
irqkit=$1
src=$2
tmp=${TMPDIR:-/tmp}/irqkit-cases.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

for f in "$src"/tests/tool/bad/*.scn; do
	want=$(sed -n '1s/^# expect-error: //p' "$f")
	loc=${want%%: *}
	msg=${want#*: }
	"$irqkit" run "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 2 ]; then
		bad "$f: exit $rc, expected 2"; cat "$tmp/err"; continue
	fi
	if ! grep -qF "$f:$loc: error: $msg" "$tmp/err"; then
		bad "$f: expected '$f:$loc: error: $msg', got:"; cat "$tmp/err"; continue
	fi
	ok
done

for f in "$src"/tests/tool/fail/*.scn; do
	line=$(sed -n '1s/^# expect-fail: //p' "$f")
	"$irqkit" run -q "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 1 ]; then
		bad "$f: exit $rc, expected 1"; cat "$tmp/err"; continue
	fi
	if ! grep -qF "$f:$line:" "$tmp/err"; then
		bad "$f: expected a failure at line $line, got:"; cat "$tmp/err"; continue
	fi
	ok
done

# Scenarios of device kinds that exist only with some library drivers:
# tests/tool/kinds/KIND.scn runs when 'irqkit kinds' lists KIND.
for f in "$src"/tests/tool/kinds/*.scn; do
	[ -f "$f" ] || continue
	kind=$(basename "$f" .scn)
	if ! "$irqkit" kinds | grep -q "^  device NAME $kind "; then
		echo "skip: kind $kind is not in this build"
		continue
	fi
	if "$irqkit" run -q "$f" >"$tmp/out" 2>&1; then ok; else bad "$f"; cat "$tmp/out"; fi
done

# Includes are relative to the including file.
if "$irqkit" run -q "$src/tests/tool/inc/main.scn" >"$tmp/out" 2>&1; then ok; else
	bad "include"; cat "$tmp/out"; fi

# check: every example is well formed.
for f in "$src"/examples/*.scn; do
	if "$irqkit" check "$f" >/dev/null 2>"$tmp/err"; then ok; else bad "check $f"; cat "$tmp/err"; fi
done

# --help for every command, and help COMMAND.
for c in run shell check tree interrupts vectors devices dot trace default kinds help; do
	if "$irqkit" $c --help >"$tmp/out" 2>&1 && grep -q "usage: irqkit" "$tmp/out"; then ok; else
		bad "$c --help"; fi
	if "$irqkit" help $c >/dev/null 2>&1; then ok; else bad "help $c"; fi
done
if "$irqkit" --help | grep -q "commands:"; then ok; else bad "--help"; fi
"$irqkit" --bogus >/dev/null 2>&1
if [ $? -eq 2 ]; then ok; else bad "unknown option must exit 2"; fi

# The shell: same language, errors do not stop it, the status tells.
printf '%s\n' 'machine x86 cpus 2' 'device d testdev slots 2' 'allocate d[*]' 'request d[*]' \
	'fire d[0] count 3 paced' 'expect d[0] delivered == 3' 'allocate d[5]' \
	'expect d[0] is started' 'show tree' 'quit' | "$irqkit" shell >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "<shell>:7:11: error: index 5 out of range" "$tmp/err" &&
	grep -q "VECTOR" "$tmp/out"; then ok; else
	bad "shell (exit $rc)"; cat "$tmp/out" "$tmp/err"; fi
printf '%s\n' 'device d testdev' 'allocate d[0]' 'allocate d[0]' 'expect error EEXIST' \
	'expect d[0] delivered == 1' | "$irqkit" shell >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "expectation failed" "$tmp/err"; then ok; else
	bad "shell expectation (exit $rc)"; cat "$tmp/out" "$tmp/err"; fi

# The default scenario, its text, views, dot.
if "$irqkit" default | grep -q "^machine x86"; then ok; else bad "default"; fi
if "$irqkit" run -q >/dev/null 2>&1; then ok; else bad "default run"; fi
if "$irqkit" dot --out "$tmp/h.dot" >/dev/null 2>&1 && grep -q "^digraph irqkit" "$tmp/h.dot"; then
	ok; else bad "dot"; fi
if "$irqkit" tree | grep -q "VECTOR"; then ok; else bad "tree"; fi
if "$irqkit" trace --out "$tmp/t.json" >/dev/null 2>&1 && grep -q "traceEvents" "$tmp/t.json"; then
	ok; else bad "trace"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
