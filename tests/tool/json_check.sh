#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Every JSON output of the tool parses.  Usage: json_check.sh IRQKIT PYTHON3 SOURCE_DIR
set -u
irqkit=$1
py=$2
src=$3
tmp=${TMPDIR:-/tmp}/irqkit-json.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail=0
n=0
for scn in "" "$src/examples/hotplug.scn" "$src/examples/shared_spurious.scn"; do
	for v in tree interrupts vectors devices run; do
		n=$((n + 1))
		if ! "$irqkit" $v $scn --format json >"$tmp/$n.json" 2>"$tmp/err"; then
			fail=$((fail + 1)); echo "FAIL: irqkit $v $scn --format json"; cat "$tmp/err"
		fi
	done
	n=$((n + 1))
	if ! "$irqkit" trace $scn --out "$tmp/$n.json" 2>"$tmp/err"; then
		fail=$((fail + 1)); echo "FAIL: irqkit trace $scn"; cat "$tmp/err"
	fi
done
# One interpreter for all files (python3 -m json.tool per file is slow).
"$py" - "$tmp"/*.json <<'PY' || fail=$((fail + 1))
import json, sys
bad = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            json.load(f)
    except Exception as e:
        print("FAIL: %s: %s" % (path, e))
        bad += 1
print("%d passed, %d failed" % (len(sys.argv) - 1 - bad, bad))
sys.exit(1 if bad else 0)
PY
# The JSON summary carries the platform's summary lines: "dmar" on x86 with
# remapping (the default machine), "its" on the ITS platform.
"$irqkit" run --format json >"$tmp/sum_dmar.json" 2>"$tmp/err" || fail=$((fail + 1))
"$irqkit" run "$src/examples/its.scn" --format json >"$tmp/sum_its.json" 2>"$tmp/err" ||
	fail=$((fail + 1))
"$py" - "$tmp/sum_dmar.json" "$tmp/sum_its.json" <<'PY' || fail=$((fail + 1))
import json, sys
d = json.load(open(sys.argv[1]))
i = json.load(open(sys.argv[2]))
ok = ("dmar" in d and "faults" in d["dmar"] and "fault_irq" in d["dmar"] and "its" not in d
      and "its" in i and i["its"]["translations"] > 0 and "dmar" not in i)
print("summary keys: dmar %s, its %s" % ("dmar" in d, "its" in i))
sys.exit(0 if ok else 1)
PY
# The trace has one track per CPU and one per device of the run.
"$irqkit" trace --out "$tmp/tracks.json" >/dev/null 2>&1 || fail=$((fail + 1))
"$py" - "$tmp/tracks.json" "$tmp/sum_dmar.json" <<'PY' || fail=$((fail + 1))
import json, sys
t = json.load(open(sys.argv[1]))
ev = t["traceEvents"] if isinstance(t, dict) else t
s = json.load(open(sys.argv[2]))
procs = {e["pid"]: e["args"]["name"] for e in ev
         if e.get("ph") == "M" and e.get("name") == "process_name"}
tracks = {}
for e in ev:
    if e.get("ph") == "M" and e.get("name") == "thread_name":
        tracks.setdefault(procs.get(e["pid"]), set()).add(e["args"]["name"])
cpus = {"cpu%d" % i for i in range(s["machine"]["cpus"])}
devs = {d["name"] for d in s["devices"]}
ok = tracks.get("CPUs") == cpus and tracks.get("devices") == devs
print("trace tracks: %s" % ("ok" if ok else tracks))
sys.exit(0 if ok else 1)
PY
[ $fail -eq 0 ]
