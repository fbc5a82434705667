#!/bin/sh
# run_mutants.sh - mutation self-test of the deque's memory orders.
#
# Builds tests/relacy/deque_model.cpp once per mutant (-DTG_MUTANT=N: one
# order at one call site of src/deque.h / src/deque.c weakened through the
# Relacy back end's TG_RL_ORDER hook), runs each under Relacy (random
# scheduler, then context bound 2 exhaustive) and compares the verdict
# with the one expected in deque_model.cpp's mutant_table:
#   caught    Relacy must report a failure (a duplicate or lost item, a
#             data race on a payload, an uninitialised slot read);
#   survives  the order is provably not needed by the model, or needs a
#             behaviour Relacy does not generate; the reason is written
#             next to the mutant in mutant_table.
# Any other outcome (a mutant expected caught that passes, a survivor
# that is now caught, a crash, a build failure) fails the script.
#
# Usage: run_mutants.sh [SRC_DIR [WORK_DIR]]
#   SRC_DIR   the project root (default: two levels above this script)
#   WORK_DIR  where the mutants are built (default: a temporary directory)
# Environment: CXX (default c++; clang++ rejects the model, use g++),
#   CXXFLAGS (extra flags, e.g. -I for Relacy), JOBS (parallel builds,
#   default 2), RANDOM_ITERS (default 200000).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$(cd "$here/../.." && pwd)}
work=${2:-}
cxx=${CXX:-c++}
# shellcheck disable=SC2086 # CXXFLAGS is a list of flags
extra=${CXXFLAGS:-}
jobs=${JOBS:-2}
iters=${RANDOM_ITERS:-200000}
model=$src/tests/relacy/deque_model.cpp

if [ -z "$work" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

# The list and the expected verdicts come from the model itself.
"$cxx" -std=c++11 -O1 $extra -iquote "$src/src" "$model" -o "$work/model_list"
"$work/model_list" --list >"$work/list"
count=$(wc -l <"$work/list")
echo "run_mutants: $count mutants, building with $cxx ($jobs jobs)"

start=$(date +%s)
cut -d' ' -f1 "$work/list" |
	xargs -P "$jobs" -I{} sh -c \
		'"$1" -std=c++11 -O1 $6 -DTG_MUTANT=$2 -iquote "$3/src" "$4" \
		 -o "$5/mutant_$2" >"$5/build_$2.log" 2>&1 ||
		 echo "build of mutant $2 failed" >"$5/build_$2.failed"' \
		sh "$cxx" {} "$src" "$model" "$work" "$extra"

status=0
caught=0
survived=0
while read -r n name expect; do
	if [ -e "$work/build_$n.failed" ]; then
		echo "mutant $n ($name): BUILD FAILED"
		cat "$work/build_$n.log"
		status=1
		continue
	fi
	t0=$(date +%s)
	rc=0
	"$work/mutant_$n" --random "$iters" --bound 2 >"$work/run_$n.log" 2>&1 ||
		rc=$?
	t1=$(date +%s)
	if [ "$rc" -eq 1 ] && grep -q '^FAILED:' "$work/run_$n.log"; then
		got=caught
		caught=$((caught + 1))
		why=$(grep -m1 -E 'DATA RACE|ASSERT|UNINITIALIZED|LEAK|DOUBLE FREE|ACCESS TO FREED|DEADLOCK|LIVELOCK' \
			"$work/run_$n.log" || true)
		where=$(grep -m1 '^FAILED:' "$work/run_$n.log")
	elif [ "$rc" -eq 0 ]; then
		got=survives
		survived=$((survived + 1))
		why="passed random $iters + context bound 2"
		where=""
	else
		echo "mutant $n ($name): model exited $rc"
		tail -20 "$work/run_$n.log"
		status=1
		continue
	fi
	if [ "$got" = "$expect" ]; then
		verdict=ok
	else
		verdict="UNEXPECTED (expected $expect)"
		status=1
	fi
	printf '%-2s %-22s %-9s %-4ss %s %s -> %s\n' "$n" "$name" "$got" \
		"$((t1 - t0))" "$why" "$where" "$verdict"
done <"$work/list"
end=$(date +%s)

echo "run_mutants: $caught caught, $survived survived (documented), $((end - start)) s"
if [ "$status" -ne 0 ]; then
	echo "run_mutants: FAILED (see above; logs in $work)"
	trap - EXIT
fi
exit "$status"
