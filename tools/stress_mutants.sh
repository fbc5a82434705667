#!/usr/bin/env bash
# stress_mutants.sh - mutation self-test of tg-stress: does the stress tool
# catch bugs put into the library?
#
# Copies what a build of tg-stress needs (CMakeLists.txt, cmake/, include/,
# src/, tools/) into a scratch directory, checks that the unmutated
# library passes (a plain and, when a mutant needs it, a TSan baseline),
# then for each mutant: applies one edit to one file of the copy, builds
# tg-stress against it (TSan where the mutant weakens a memory order,
# which only ThreadSanitizer sees on x86), runs tg-stress with its default
# tree options for a bounded time, and restores the file.  Verdicts:
#   caught    tg-stress exited 1 with a FAILED invariant (or a hang that
#             its watchdog reported), or TSan reported (exit 66), or the
#             program crashed;
#   survived  the run ended after its time with every invariant held.
# Each mutant has an expected verdict (a survivor's reason is written next
# to it below; "either" for one that a run of the given time catches only
# sometimes, with its measured rate); an unexpected verdict, a baseline that fails, a mutant
# whose edit does not apply (its text must occur exactly once: in the
# file named, or else in exactly one file of src/, where it may have
# moved) or that does not build fails the script.  Nothing is ever
# counted as caught without a run that reported it.
#
# Usage: tools/stress_mutants.sh [options] [NAME...]
#   -s DIR    source tree (default: the project this script is in)
#   -w DIR    scratch directory (default: a new temporary one, removed
#             afterwards unless something failed)
#   -t SEC    seconds per plain run (default 60)
#   -T SEC    seconds per TSan run (default 120)
#   -b SEC    seconds per baseline run (default 20)
#   -S SEED   tg-stress seed (default 20240601: runs are reproducible up
#             to the scheduling)
#   -l        list the mutants and exit
#   -n        only check that every edit still applies (no builds, no runs)
#   NAME...   run only these mutants
# Environment: CC (plain build, default cc), TSAN_CC (default clang), JOBS
# (build jobs, default nproc).
#
# docs/testing.md has the table of the last run and why each survivor
# survives.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
work=""
plain_time=60
tsan_time=120
base_time=20
seed=20240601
list_only=false
check_only=false
while getopts "s:w:t:T:b:S:ln" opt; do
	case $opt in
	s) src=$(cd "$OPTARG" && pwd) ;;
	w) work=$OPTARG ;;
	t) plain_time=$OPTARG ;;
	T) tsan_time=$OPTARG ;;
	b) base_time=$OPTARG ;;
	S) seed=$OPTARG ;;
	l) list_only=true ;;
	n) check_only=true ;;
	*) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//' | head -40; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
only=("$@")
cc=${CC:-cc}
tsan_cc=${TSAN_CC:-clang}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# ---------------------------------------------------------------------
# The mutants.  mutant NAME FLAVOUR EXPECT FILE <<'EOF'
#   the exact text to replace
#   @@@@
#   its replacement
#   EOF
# FLAVOUR: plain or tsan.  EXPECT: caught, survives (with the reason in
# the comment above it) or either.  Extra tg-stress options:
# $EXTRA_<NAME>.

names=()
declare -A flavour expect file body

mutant() {
	names+=("$1")
	flavour[$1]=$2
	expect[$1]=$3
	file[$1]=$4
	body[$1]=$(cat)
}

# group_collect.c: a join with more than 32 failures drops one (the
# heap-array path).  Needs a wide join: error-multiset.
mutant collect_drop_over32 plain caught src/group_collect.c <<'EOF'
	if (body_err != NULL)
		children[n++] = body_err;
	result = tg__error_group_for_join(n, children);
@@@@
	if (n > 32)
		tg_error_decref(children[--n]); /* MUTANT: one error lost */
	if (body_err != NULL)
		children[n++] = body_err;
	result = tg__error_group_for_join(n, children);
EOF

# group_collect.c: the failures sorted backwards: error-order.
mutant collect_sort_reversed plain caught src/group_collect.c <<'EOF'
		tg__frame **smaller = a->key <= b->key ? &a : &b;
@@@@
		tg__frame **smaller = a->key > b->key ? &a : &b; /* MUTANT */
EOF

# group_collect.c: a first-success group with a winner drops its fatal
# errors too (they must survive a success): error-multiset / join-result.
mutant drop_fatal_after_win plain caught src/group_collect.c <<'EOF'
		if (tg__error_is_fatal(failed->error)) {
@@@@
		if (0 && tg__error_is_fatal(failed->error)) { /* MUTANT */
EOF

# deque.c: the grown ring published with a relaxed store (the bug of the
# paper's code, found by CDSChecker).  Needs a deque that grows while
# thieves steal (wide groups on fresh pools): TSan, a race on the ring.
mutant grow_buf_relaxed tsan caught src/deque.c <<'EOF'
	tg_atomic_store_release_ptr(&d->buf, buf);
@@@@
	tg_atomic_store_relaxed_ptr(&d->buf, buf); /* MUTANT */
EOF

# deque.h: a thief's load of the ring relaxed (the other half of the grow
# edge): TSan, as grow_buf_relaxed.
mutant steal_buf_relaxed tsan caught src/deque.h <<'EOF'
	buf = tg_atomic_load_acquire_ptr(&d->buf);
@@@@
	buf = tg_atomic_load_relaxed_ptr(&d->buf); /* MUTANT */
EOF

# deque.h: share publishes split with a relaxed store: a thief reads a
# frame nothing published to it (TSan).
mutant share_split_relaxed tsan caught src/deque.h <<'EOF'
	ns = s + (b - s + 1) / 2;
	d->split_owner = ns;
	/* release: publishes the slots [s, ns) and the items' contents.
	 * Pairs with the acquire load of split in tg__deque_steal. */
	tg_atomic_store_release_i64(&d->split, ns);
@@@@
	ns = s + (b - s + 1) / 2;
	d->split_owner = ns;
	tg_atomic_store_relaxed_i64(&d->split, ns); /* MUTANT */
EOF

# deque.h: a worker about to block (tg_sleep, a blocking region, a
# barrier wait) publishes its queue with a relaxed store (TSan).
mutant share_all_split_relaxed tsan caught src/deque.h <<'EOF'
	d->split_owner = b;
	/* release: publishes the slots below b and the items' contents.
	 * Pairs with the acquire load of split in tg__deque_steal. */
	tg_atomic_store_release_i64(&d->split, b);
@@@@
	d->split_owner = b;
	tg_atomic_store_relaxed_i64(&d->split, b); /* MUTANT */
EOF

# deque.c: the owner's take of a public item without its seq_cst fence
# (store->load): on x86 the split store can pass the top load, and a task
# is taken by both the owner and a thief (exactly-once), or a join waits
# for ever (progress).  TSan ignores fences, so this is a plain build; the
# window is a few instructions on the owner's rare public take, so a
# 60-second run catches it only sometimes (3 of 4 runs here, after 12, 57
# and 60 s).  The Relacy model catches it at once (tests/relacy, mutants 1
# and 2).
mutant take_public_no_fence plain either src/deque.c <<'EOF'
	 * with the fence in tg__deque_steal (store->load, Dekker). */
	tg_atomic_fence_seqcst();
@@@@
	 * with the fence in tg__deque_steal (store->load, Dekker). */
	/* MUTANT: no fence */
EOF

# park.c: a wake is skipped when exactly one thread sleeps (a lost
# wake-up): a join parked for a remote child never wakes (progress; the
# tree watchdog's timeout is lowered to 20 s for every run).
mutant park_lost_wakeup plain caught src/park.c <<'EOF'
	if (tg_atomic_load_seqcst_u32(&p->sleepers) != 0)
@@@@
	if (tg_atomic_load_seqcst_u32(&p->sleepers) > 1) /* MUTANT */
EOF

# barrier.c: a round is released one arrival early (off by one): barrier.
mutant barrier_release_early plain caught src/barrier.c <<'EOF'
	if (me.index + 1 == k->parties) {
@@@@
	if (me.index + 2 >= k->parties) { /* MUTANT */
EOF

# barrier.c: a waiter that leaves cancelled is not counted out: the round
# keeps its place (n_waiting after the join, or a round released early).
mutant barrier_cancel_uncounted plain caught src/barrier.c <<'EOF'
		outcome = OUT_CANCELLED;
	}
	leave_counted(k);
@@@@
		outcome = OUT_CANCELLED;
	}
	if (outcome != OUT_CANCELLED) /* MUTANT */
		leave_counted(k);
EOF

# barrier.c: an abort that comes after a round's release but before a
# waiter woke makes that waiter broken (CPython's behaviour, which
# barrier.h says the library does not have): a round released for some
# parties only.
mutant barrier_abort_beats_release plain caught src/barrier.c <<'EOF'
	if (k->round != round) {
		outcome = OUT_INDEX; /* released, whatever came after */
@@@@
	if (k->round != round && k->state != BROKEN) { /* MUTANT */
		outcome = OUT_INDEX; /* released, whatever came after */
EOF

# batch.c: a split gives the upper half away but keeps running it too:
# exactly-once.
mutant batch_split_runs_twice plain caught src/batch.c <<'EOF'
	tg__group_count_frame(w, r->frame.group);
	run->hi = mid;
@@@@
	tg__group_count_frame(w, r->frame.group);
	/* MUTANT: run->hi = mid; */
EOF

# batch.c: a batch does not stop at a cancellation (a missing cancel
# propagation): its later children start in a cancelled scope
# (cancel-bound).
mutant batch_ignores_cancel plain caught src/batch.c <<'EOF'
		if (__builtin_expect(tg__attention(w), 0) && tg__attend(w))
			break; /* the rest is skipped, never run */
@@@@
		if (__builtin_expect(tg__attention(w), 0) && tg__attend(w))
			(void)0; /* MUTANT: the rest runs on */
EOF

# timer.c: a deadline set in the past does not cancel the group at once
# (deadline).
mutant timer_past_not_expired plain caught src/timer.c <<'EOF'
	if (deadline <= tg_now_ns()) {
		heap_remove(t, gc);
		gc->deadline = deadline;
		expire(pool, gc);
@@@@
	if (deadline <= tg_now_ns()) {
		heap_remove(t, gc);
		gc->deadline = deadline;
		/* MUTANT: not expired */
EOF

# timer.c: an expiry does not wake parked workers.  SURVIVES: nothing
# waits for that wake.  A join parked for its children is woken by their
# completions (they see the cancellation at their next checkpoint), tasks
# in tg_sleep or a barrier wait are woken through the cancel waiters
# (wait.h), and a skipped queued child is counted by its joiner, which is
# awake.  The wake only makes idle workers look again sooner.
mutant timer_expiry_no_wake plain survives src/timer.c <<'EOF'
	tg__scope_cancel(pool, gc, TG__CANCEL_DEADLINE);
	/* Parked joiners and workers re-check their conditions; running
	 * tasks see the cancellation at their next checkpoint. */
	tg__park_wake(&pool->park);
@@@@
	tg__scope_cancel(pool, gc, TG__CANCEL_DEADLINE);
	/* MUTANT: no wake */
EOF

# error.c: every note after an error's first is dropped: a fatal error
# promoted up a chain of groups loses the tags of the tasks that passed it
# on, and the root's result no longer names the root (join-result).
mutant note_dropped plain caught src/error.c <<'EOF'
	if (note == NULL)
		return TG_ENOMEM;
	/* A block holds a class's worth: it moves only when it is full. */
@@@@
	if (note == NULL)
		return TG_ENOMEM;
	if (e->n_notes >= 1) { /* MUTANT: the note is lost */
		tg__block_free(note);
		return TG_OK;
	}
	/* A block holds a class's worth: it moves only when it is full. */
EOF

# ---------------------------------------------------------------------

if $list_only; then
	for n in "${names[@]}"; do
		printf '%-28s %-5s %-8s %s\n' "$n" "${flavour[$n]}" \
			"${expect[$n]}" "${file[$n]}"
	done
	exit 0
fi
if ((${#only[@]})); then
	for n in "${only[@]}"; do
		[[ -v "flavour[$n]" ]] || { echo "unknown mutant $n" >&2; exit 2; }
	done
	run_names=("${only[@]}")
else
	run_names=("${names[@]}")
fi

if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/stress_mutants.XXXXXX")
	cleanup=true
else
	mkdir -p "$work"
	cleanup=false
fi
tree=$work/tree
pristine=$work/pristine
# Fresh builds: objects of an earlier run may be newer than the copy.
rm -rf "$tree" "$pristine" "$work"/build-*
mkdir -p "$tree" "$pristine"
for d in CMakeLists.txt cmake include src tools; do
	cp -a "$src/$d" "$tree/"
	cp -a "$src/$d" "$pristine/"
done
echo "stress_mutants: ${#run_names[@]} mutants, source $src, scratch $work," \
	"seed $seed, ${plain_time}s plain / ${tsan_time}s TSan per run"

# ASLR off for TSan (its shadow mapping), when setarch allows.
noaslr=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
	noaslr=(setarch "$(uname -m)" -R)
fi

configure() { # flavour
	local b=$work/build-$1
	[ -f "$b/CMakeCache.txt" ] && return 0
	local args=(-DTG_BUILD_TESTS=OFF -DTG_BUILD_EXAMPLES=OFF
		    -DTG_BUILD_BENCH=OFF -DTG_INSTALL=OFF -DBUILD_TESTING=OFF)
	if [ "$1" = tsan ]; then
		args+=(-DCMAKE_C_COMPILER="$tsan_cc" -DCMAKE_BUILD_TYPE=Debug
		       "-DCMAKE_C_FLAGS_DEBUG=-g -O1" -DTG_SANITIZE=thread)
	else
		args+=(-DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release)
	fi
	cmake -S "$tree" -B "$b" "${args[@]}" >"$work/configure-$1.log" 2>&1 ||
		{ cat "$work/configure-$1.log"; return 1; }
}

build() { # flavour log
	configure "$1" && cmake --build "$work/build-$1" --target tg-stress \
		--parallel "$jobs" >"$2" 2>&1
}

# run flavour seconds log [extra options]: sets rc and secs
run() {
	local fl=$1 t=$2 log=$3
	shift 3
	local t0 t1 cmd=("$work/build-$fl/tools/tg-stress" --duration "${t}s"
		--seed "$seed" --quiet --tree-timeout 20s "$@")
	[ "$fl" = tsan ] && cmd=("${noaslr[@]}" "${cmd[@]}")
	t0=$(date +%s.%N)
	rc=0
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" \
		timeout -k 10 $((t + 60)) "${cmd[@]}" >"$log" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}

# What a run says: sets verdict and why.
judge() { # log
	local log=$1 line
	if [ "$rc" -eq 0 ] && ! grep -q 'FAILED\|ThreadSanitizer' "$log"; then
		verdict=survives
		why=$(grep -o 'trees [0-9]*, tasks [0-9]*' "$log" | head -1)
		why="passed (${why:-no summary})"
		return
	fi
	verdict=caught
	if line=$(grep -m1 'FAILED invariant' "$log"); then
		why="invariant ${line#*FAILED invariant }"
		why=${why:0:160}
	elif line=$(grep -m1 '^SUMMARY: ThreadSanitizer' "$log"); then
		why="TSan: ${line#SUMMARY: ThreadSanitizer: }"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="hang (killed by timeout)"
	elif [ "$rc" -gt 128 ]; then
		why="crash (signal $((rc - 128)))"
	else
		why="exit $rc: $(tail -1 "$log" | cut -c1-120)"
	fi
}

# apply NAME: the edit, exactly once, in its file or (moved) in exactly
# one file of src/.  Sets target.
apply() {
	local n=$1 hit
	printf '%s\n' "${body[$n]}" >"$work/$n.edit"
	target=${file[$n]}
	count_in() { # file
		perl -e '
			local $/; open my $e, "<", $ARGV[0] or die;
			my ($old) = split /^\@\@\@\@\n/m, <$e>;
			open my $f, "<", $ARGV[1] or die; my $s = <$f>;
			my $n = 0; my $i = 0;
			while (($i = index($s, $old, $i)) >= 0) { $n++; $i++ }
			print $n;' "$work/$n.edit" "$1"
	}
	if [ ! -f "$tree/$target" ] || [ "$(count_in "$tree/$target")" != 1 ]; then
		hit=()
		for f in "$tree"/src/*.c "$tree"/src/*.h; do
			[ "$(count_in "$f")" = 0 ] || hit+=("${f#"$tree"/}")
		done
		if [ "${#hit[@]}" -ne 1 ] ||
			[ "$(count_in "$tree/${hit[0]}")" != 1 ]; then
			echo "mutant $n: EDIT DOES NOT APPLY: its text occurs" \
				"$( [ -f "$tree/$target" ] && count_in "$tree/$target" || echo 0)" \
				"times in $target and in ${#hit[@]} file(s) of src/" \
				"(${hit[*]:-none})"
			return 1
		fi
		echo "mutant $n: moved: applied to ${hit[0]} (not ${file[$n]})"
		target=${hit[0]}
	fi
	perl -e '
		local $/; open my $e, "<", $ARGV[0] or die;
		my ($old, $new) = split /^\@\@\@\@\n/m, <$e>;
		open my $f, "<", $ARGV[1] or die; my $s = <$f>; close $f;
		my $i = index($s, $old);
		substr($s, $i, length $old) = $new;
		open $f, ">", $ARGV[1] or die; print $f $s; close $f;' \
		"$work/$n.edit" "$tree/$target"
	if cmp -s "$tree/$target" "$pristine/$target"; then
		echo "mutant $n: EDIT CHANGED NOTHING in $target"
		return 1
	fi
}

restore() {
	cp "$pristine/$target" "$tree/$target"
	touch "$tree/$target"
}

status=0
start=$SECONDS

if $check_only; then
	for n in "${run_names[@]}"; do
		if apply "$n"; then
			echo "mutant $n: applies to $target"
			restore
		else
			status=1
		fi
	done
	$cleanup && rm -rf "$work"
	exit "$status"
fi

# Baselines: the flavours the chosen mutants need.
need_tsan=false
for n in "${run_names[@]}"; do
	[ "${flavour[$n]}" = tsan ] && need_tsan=true
done
flavours=(plain)
$need_tsan && flavours+=(tsan)
for fl in "${flavours[@]}"; do
	if ! build "$fl" "$work/build-$fl-baseline.log"; then
		echo "baseline ($fl): BUILD FAILED"
		tail -30 "$work/build-$fl-baseline.log"
		exit 1
	fi
	run "$fl" "$base_time" "$work/baseline-$fl.log"
	judge "$work/baseline-$fl.log"
	stalls=$(grep -c 'warning: barrier stall' "$work/baseline-$fl.log" || true)
	printf '%-28s %-5s %-8s %6ss  %s%s\n' "baseline" "$fl" "$verdict" \
		"$secs" "$why" \
		"$([ "$stalls" -gt 0 ] && echo ", $stalls barrier stall(s)")"
	if [ "$verdict" != survives ]; then
		echo "stress_mutants: the unmutated library FAILED ($fl, log" \
			"$work/baseline-$fl.log): no verdict would mean anything"
		exit 1
	fi
done

caught=0
survived=0
for n in "${run_names[@]}"; do
	fl=${flavour[$n]}
	if ! apply "$n"; then
		status=1
		continue
	fi
	if ! build "$fl" "$work/build-$n.log"; then
		echo "mutant $n: BUILD FAILED (log $work/build-$n.log)"
		tail -20 "$work/build-$n.log"
		restore
		status=1
		continue
	fi
	t=$plain_time
	[ "$fl" = tsan ] && t=$tsan_time
	extra_var=EXTRA_${n}
	# shellcheck disable=SC2086 # a list of options
	run "$fl" "$t" "$work/run-$n.log" ${!extra_var:-}
	judge "$work/run-$n.log"
	restore
	if [ "$verdict" = caught ]; then
		caught=$((caught + 1))
	else
		survived=$((survived + 1))
	fi
	if [ "$verdict" = "${expect[$n]}" ] || [ "${expect[$n]}" = either ]; then
		mark=ok
	else
		mark="UNEXPECTED (expected ${expect[$n]})"
		status=1
	fi
	printf '%-28s %-5s %-8s %6ss  %s -> %s\n' "$n" "$fl" "$verdict" "$secs" \
		"$why" "$mark"
done

echo "stress_mutants: $caught caught, $survived survived, $((SECONDS - start)) s"
if [ "$status" -ne 0 ]; then
	echo "stress_mutants: FAILED (see above; logs in $work)"
elif $cleanup; then
	rm -rf "$work"
fi
exit "$status"
