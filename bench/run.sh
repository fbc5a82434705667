#!/usr/bin/env bash
# bench/run.sh - builds the benchmarks (Release, standalone CMake build of
# bench/ in build-bench/) and runs them all: see bench/run.py --help.
#
#   bench/run.sh              full run, both suites (median of 5; ~10 min
#                             on 2 cores)
#   bench/run.sh --quick      smaller sizes, median of 3 (~1-2 min)
#   bench/run.sh --no-build --kernels fib --impls tg
#   bench/run.sh --suite cancel           the cancellation benchmarks only
#   bench/run.sh --suite forkjoin         the fork-join kernels only
#   bench/run.sh --suite blocking         the blocking benchmarks (sleepy,
#                                         barrier; not part of the default)
#
# Environment: BUILD_DIR (default build-bench), CC (compiler for the
# library and the C programs; the other OpenMP runtime is built with the
# other compiler when it is installed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}

build_it=1
args=()
for a in "$@"; do
	case $a in
	--no-build) build_it=0 ;;
	*) args+=("$a") ;;
	esac
done

if [ "$build_it" = 1 ]; then
	cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$build" -j "$(nproc)" >/dev/null
fi

exec python3 "$here/run.py" --build-dir "$build" ${args[@]+"${args[@]}"}
