#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make fuzz: runs each libFuzzer target of tests/fuzz for FUZZ_SECONDS
# (default 60) from its seed corpus (tests/fuzz/corpus/TARGET), one after
# the other, and prints one line per target:
#   PASS config: 1234567 runs in 60 s (20576/s), corpus 412 inputs, 0 crashes
#   FAIL control: crash, input in .output/fuzz/crashes/control/crash-...
# Exits non-zero if any target crashed (a sanitizer report, a failed check
# of the target, a leak, a timeout or running out of memory).
#
# What a run finds beyond the seeds stays in DIR/corpus/TARGET for the next
# run; crashes go to DIR/crashes/TARGET, libFuzzer's log to DIR/logs. To
# reproduce a crash: DIR/fuzz_TARGET CRASH_FILE.
#
# Usage: tools/fuzz.sh DIR [TARGET...]   (DIR: where make put fuzz_TARGET)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(cd "${1:?usage: tools/fuzz.sh DIR [TARGET...]}" && pwd) || exit 2
shift
secs=${FUZZ_SECONDS:-60}
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
	for f in "$dir"/fuzz_*; do
		[ -x "$f" ] && targets+=("${f##*/fuzz_}")
	done
fi
[ ${#targets[@]} -gt 0 ] || { echo "tools/fuzz.sh: no fuzz targets in $dir (make fuzz)" >&2; exit 2; }

rc=0
for t in "${targets[@]}"; do
	bin=$dir/fuzz_$t seeds=$top/tests/fuzz/corpus/$t
	corpus=$dir/corpus/$t crashes=$dir/crashes/$t log=$dir/logs/$t.log
	mkdir -p "$corpus" "$crashes" "$dir/logs"
	# New inputs go to the first directory; the seeds are only read.
	# stderr is closed for the target (the capture reader's warnings on
	# every bad file); libFuzzer's own lines and any report still come.
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-close_fd_mask=2 -artifact_prefix="$crashes/" "$corpus" "$seeds" >"$log" 2>&1
	status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n1)
	size=$(find "$corpus" -type f | wc -l)
	crash=$(sed -n "s/.*Test unit written to \(.*\)/\1/p" "$log" | tail -n1)
	if [ "$status" = 0 ] && [ -z "$crash" ]; then
		echo "PASS $t: ${runs:-?} runs in ${took:-?} s ($(( ${runs:-0} / (${took:-1} > 0 ? ${took:-1} : 1) ))/s), corpus $size inputs, 0 crashes"
	else
		rc=1
		echo "FAIL $t: $(grep -m1 -E '^(SUMMARY|==[0-9]+== ?ERROR|fuzz_[a-z]*: )' "$log" || echo "exit status $status"), input in ${crash:-?} (log: $log)"
	fi
done
exit $rc
