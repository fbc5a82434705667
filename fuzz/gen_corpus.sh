#!/usr/bin/env bash
# gen_corpus.sh - writes the seed corpus: fuzz/corpus/fuzz_api/* and
# fuzz/corpus/fuzz_error/*, one small program per file, each named after
# what it exercises.  The encoding is in fuzz/README.md (and the enums of
# fuzz_api.c and fuzz_error.c): one opcode byte (modulo the opcode count),
# then its operands.  Deterministic: running it again rewrites the same
# bytes.  Usage: fuzz/gen_corpus.sh  (from anywhere)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
API=corpus/fuzz_api
ERR=corpus/fuzz_error
rm -rf "$API" "$ERR"
mkdir -p "$API" "$ERR"

# emit FILE BYTE... : writes the decimal bytes to FILE.
emit() {
	local file=$1 b out=""
	shift
	for b in "$@"; do
		out+=$(printf '\\x%02x' $((b & 255)))
	done
	printf '%b' "$out" >"$file"
}

# ---------------------------------------------------------------- fuzz_api
# Opcodes (byte % 12).
OPEN=0 SPAWN=1 SPAWN_AT=2 CANCEL=3 JOIN=4 JOIN_WRONG=5 MISUSE=6
CHECKPOINT=7 DEADLINE=8 REPEAT=9 ROOT_FAIL=10 ABANDON=11
# Error types (fuzz_util.c fz_leaf_type, byte % 16).
ValueError=0 TypeError=1 RuntimeError=2 OSError=3 ParseError=4 DeepError=5
UnicodeDecodeError=6 FileNotFoundError=7 CancelledError=8 Interrupt=9
TimeoutError=10 NotImplementedError=11 Abort=12
# Group policies.
FF=0 CA=1 FS=2
# Nested-group options.
N_CANCEL=1 N_DEADLINE=2 N_LIMIT=4 N_TRY=8

# open POLICY [LIMIT 1..3] [named]: the OP_OPEN operand.
open_byte() {
	local pol=$1 limit=${2:-0} named=${3:-0} b
	for ((b = 0; b < 256; b++)); do
		if ((b % 3 == pol && ((b & 8) != 0) == named &&
		     ((b & 16) != 0) == (limit != 0) &&
		     (limit == 0 || (b >> 5) % 3 + 1 == limit))); then
			echo $b
			return
		fi
	done
}
# A child's own error: none, or type T.
none=0
fails() { echo $((2 * $1 + 1)); }
# Children (specs).
ok() { echo 0; }
fail() { echo 1 "$1"; }
ckpt() { echo 2 "${1:-0}"; }     # checkpoint, then own error
cancel_own() { echo 6 "${1:-0}"; }
misuse() { echo 7 "${1:-0}"; }
# nested|abandon|sibs POLICY OPTS OWN_ERROR KID...: a group of its own
# (sibs: the kids go into the child's own group; policy/opts unused).
group_spec() {
	local kind=$1 pol=$2 opts=$3 own=$4 b
	shift 4
	for ((b = 0; b < 256; b++)); do
		((b % 3 == pol && (b >> 2) == opts)) && break
	done
	echo "$kind" "$b" $# "${@//,/ }" "$own"
}
nested() { group_spec 4 "$@"; }
abandon() { group_spec 5 "$@"; }
sibs() { group_spec 3 0 0 "$@"; }
# join BODY: 0 none, 2 CancelledError, or an error of type T (body T);
# then the fz_exercise operands (all operations on).
body() { echo $((4 * $1 + 3)); }
ALLOPS="127 200 5 9 3 102 111 111 1 40 7 1 2"

k() { echo "$@" | tr ' ' ','; } # a kid as one word for group_spec

emit $API/collect_all_two_failures \
	$OPEN "$(open_byte $CA)" \
	$SPAWN $(fail $ValueError) $SPAWN $(fail $TypeError) $SPAWN $(ok) \
	$JOIN 0 $ALLOPS
emit $API/fail_fast_cancels_checkpoints \
	$OPEN "$(open_byte $FF)" $REPEAT 7 $(ckpt) \
	$SPAWN $(fail $OSError) $REPEAT 7 $(ckpt "$(fails $ValueError)") \
	$JOIN 0 $ALLOPS
emit $API/first_success_winner \
	$OPEN "$(open_byte $FS)" \
	$SPAWN $(fail $ValueError) $SPAWN $(ok) $SPAWN $(fail $TypeError) \
	$JOIN 0 $ALLOPS
emit $API/first_success_no_winner \
	$OPEN "$(open_byte $FS 0 1)" \
	$SPAWN $(fail $ValueError) $SPAWN $(fail $DeepError) \
	$JOIN "$(body $RuntimeError)" $ALLOPS
# A child that returns CancelledError is not a success: it must not win
# (and the others' errors must not be dropped).
emit $API/first_success_cancelled_child_is_no_winner \
	$OPEN "$(open_byte $FS)" \
	$SPAWN $(fail $CancelledError) $SPAWN $(fail $ValueError) \
	$JOIN 0 1
emit $API/nested_groups_in_the_body \
	$OPEN "$(open_byte $CA)" $OPEN "$(open_byte $FF 0 1)" \
	$SPAWN $(fail $ParseError) $SPAWN $(ok) $JOIN 0 $ALLOPS \
	$SPAWN $(fail $UnicodeDecodeError) $JOIN "$(body $TypeError)" $ALLOPS
emit $API/nested_groups_in_children \
	$OPEN "$(open_byte $CA)" \
	$SPAWN $(nested $CA 0 "$(fails $RuntimeError)" "$(k $(fail $ValueError))" \
		"$(k $(fail $TypeError))" "$(k $(ok))") \
	$SPAWN $(nested $FF 0 $none "$(k $(fail $OSError))" "$(k $(ckpt))") \
	$SPAWN $(nested $FS 0 $none "$(k $(ok))" "$(k $(fail $ValueError))") \
	$JOIN 0 $ALLOPS
emit $API/siblings_spawned_by_children \
	$OPEN "$(open_byte $CA)" \
	$SPAWN $(sibs "$(fails $ValueError)" "$(k $(fail $TypeError))" \
		"$(k $(ok))" "$(k $(fail $FileNotFoundError))") \
	$REPEAT 3 $(sibs $none "$(k $(fail $DeepError))") \
	$JOIN 0 $ALLOPS
emit $API/spawn_into_outer_group \
	$OPEN "$(open_byte $CA)" $OPEN "$(open_byte $CA)" \
	$SPAWN_AT 0 $(fail $ValueError) $SPAWN_AT 1 $(fail $TypeError) \
	$JOIN 0 0 $JOIN 0 $ALLOPS
emit $API/cancel_then_spawn_and_checkpoint \
	$OPEN "$(open_byte $CA)" $SPAWN $(ckpt) $CANCEL 0 \
	$SPAWN $(ok) $CHECKPOINT $JOIN 2 $ALLOPS
emit $API/cancel_outer_group \
	$OPEN "$(open_byte $CA)" $OPEN "$(open_byte $CA)" \
	$REPEAT 5 $(ckpt "$(fails $ValueError)") $CANCEL 0 $CHECKPOINT \
	$OPEN "$(open_byte $FF)" $SPAWN $(ok) $JOIN 0 0 $JOIN 0 0 $JOIN 0 0
emit $API/join_misuse \
	$OPEN "$(open_byte $CA)" $OPEN "$(open_byte $FF)" \
	$JOIN_WRONG "$(body $ValueError)" $JOIN 0 0 $JOIN 0 0 \
	$JOIN "$(body $TypeError)" 0 $JOIN 2 0
emit $API/misuse_every_kind \
	$OPEN "$(open_byte $CA)" \
	$MISUSE 0 $MISUSE 1 $MISUSE 2 $MISUSE 3 $MISUSE 4 $MISUSE 5 \
	$MISUSE 6 $MISUSE 7 $MISUSE 8 $MISUSE 9 $MISUSE 10 $MISUSE 11 \
	$JOIN 0 0 $MISUSE 5 $MISUSE 20 $MISUSE 36
emit $API/misuse_from_children \
	$OPEN "$(open_byte $CA)" $SPAWN $(misuse) \
	$SPAWN $(misuse "$(fails $RuntimeError)") $JOIN 0 $ALLOPS
emit $API/deadline_already_past \
	$OPEN "$(open_byte $CA)" $SPAWN $(ok) $DEADLINE 0 $SPAWN $(ok) \
	$CHECKPOINT $JOIN 0 $ALLOPS
emit $API/deadline_soon_far_removed \
	$OPEN "$(open_byte $FF)" $DEADLINE 2 $DEADLINE 3 \
	$REPEAT 4 $(ckpt) $DEADLINE 253 $REPEAT 4 $(ckpt) $JOIN 0 0
emit $API/nested_group_deadline_and_cancel \
	$OPEN "$(open_byte $CA)" \
	$SPAWN $(nested $CA $N_DEADLINE $none "$(k $(ok))") \
	$SPAWN $(nested $FF $N_CANCEL "$(fails $ValueError)" "$(k $(ckpt))") \
	$JOIN 0 $ALLOPS
emit $API/limit_one_siblings_deadlock \
	$OPEN "$(open_byte $CA 1)" \
	$REPEAT 3 $(sibs $none "$(k $(ok))" "$(k $(fail $ValueError))") \
	$JOIN 0 0
emit $API/limit_and_try_spawn \
	$OPEN "$(open_byte $CA 2)" $REPEAT 7 $(ok) \
	$SPAWN $(nested $CA $((N_LIMIT | N_TRY)) $none "$(k $(ckpt))" \
		"$(k $(fail $TypeError))" "$(k $(ok))") \
	$JOIN 0 0
emit $API/fatal_error_promoted \
	$OPEN "$(open_byte $CA)" \
	$SPAWN $(fail $ValueError) $SPAWN $(fail $Interrupt) \
	$SPAWN $(fail $TypeError) $JOIN 0 $ALLOPS
emit $API/fatal_body_error \
	$OPEN "$(open_byte $FF)" $SPAWN $(fail $ValueError) \
	$SPAWN $(nested $CA 0 $none "$(k $(fail $Abort))" "$(k $(fail $OSError))") \
	$JOIN "$(body $Abort)" $ALLOPS
emit $API/child_returns_open_group \
	$OPEN "$(open_byte $CA)" \
	$SPAWN $(abandon $FF 0 "$(fails $ValueError)" "$(k $(fail $TypeError))" \
		"$(k $(ok))") \
	$SPAWN $(abandon $CA 0 $none "$(k $(misuse))") \
	$JOIN 0 $ALLOPS
emit $API/root_returns_open_groups \
	$OPEN "$(open_byte $FF 0 1)" $OPEN "$(open_byte $CA)" \
	$SPAWN $(fail $ValueError) $SPAWN_AT 0 $(ckpt) \
	$ROOT_FAIL "$(fails $TypeError)" $ABANDON
emit $API/child_cancels_its_group \
	$OPEN "$(open_byte $CA)" $REPEAT 3 $(ckpt "$(fails $ValueError)") \
	$SPAWN $(cancel_own) $REPEAT 3 $(ckpt) $JOIN 0 0
emit $API/cancelled_errors_are_dropped \
	$OPEN "$(open_byte $CA)" $SPAWN $(fail $CancelledError) \
	$SPAWN $(fail $ValueError) \
	$SPAWN $(nested $CA 0 "$(fails $CancelledError)" "$(k $(ok))") \
	$JOIN 2 $ALLOPS

# -------------------------------------------------------------- fuzz_error
# Opcodes (byte % 11).
LEAF=0 ERRNO=1 GROUP=2 NOTE=3 CAUSE=4 DUP=5 SPLIT=6 EXCEPT=7 EXERCISE=8
POP=9 SWAP=10
# str TEXT: a length byte and the bytes of TEXT.
str() {
	local s=$1 i out
	out="${#s}"
	for ((i = 0; i < ${#s}; i++)); do
		out+=" $(printf '%d' "'${s:i:1}")"
	done
	echo "$out"
}
# GROUP n takes n + 1 children (n % 32).
# leaf TYPE CODE TEXT
leaf() { echo $LEAF "$1" "$2" $(str "$3") 1; }
# Match types: a leaf type, or 128 + n for ExceptionGroup (0),
# BaseExceptionGroup (1), Exception (2), BaseException (3).
EG=128 BEG=129 EXC=130 BASE=131
EXALL="127 9 3 2 5 4 110 111 116 101 1 0 1 3 1"

emit $ERR/two_leaves_group_everything \
	$(leaf $ValueError 0 "bad value") $(leaf $TypeError 0 "bad type") \
	$GROUP 1 $(str "two") $EXERCISE $EXALL
emit $ERR/messages_with_bytes_to_escape \
	$LEAF $ValueError 0 12 34 92 10 9 1 31 127 0xc3 0xa9 0xff 0xe2 0x82 1 \
	$LEAF $UnicodeDecodeError 0 6 0xed 0xa0 0x80 0xf4 0x90 0x80 0 \
	$GROUP 1 $(str 'q"\') $EXERCISE 2 0 7 $EXERCISE 2 3 200
emit $ERR/deeper_than_max_group_depth \
	$(leaf $ValueError 1 "deep") \
	$(for i in $(seq 12); do echo $GROUP 0 $(str "level $i"); done) \
	$EXERCISE $EXALL
emit $ERR/wider_than_max_group_width \
	$(for i in $(seq 20); do leaf $((i % 7)) $i "leaf $i"; done) \
	$GROUP 16 $(str "seventeen") $GROUP 3 $(str "four") $EXERCISE $EXALL
emit $ERR/base_group_split_by_exception \
	$(leaf $CancelledError 0 "") $(leaf $ValueError 0 "v") \
	$(leaf $Interrupt 0 "^C") $GROUP 2 $(str "base") \
	$SPLIT $EXC $EXERCISE $EXALL $SPLIT $BASE $EXERCISE 1 0 $BEG
emit $ERR/except_star_by_types \
	$(leaf $ValueError 0 "v") $(leaf $DeepError 0 "d") \
	$(leaf $OSError 0 "o") $GROUP 2 $(str "in") $GROUP 1 $(str "out") \
	$EXCEPT $ParseError $EXCEPT $EG $EXCEPT $ValueError $EXERCISE 1 0 $EXC
emit $ERR/notes_unshared_and_shared \
	$(leaf $RuntimeError 0 "r") $NOTE $(str "first") $DUP \
	$NOTE $(str "copy") $NOTE $(str "again") $SWAP 0 \
	$EXERCISE 4 0 $(str "note") 9
emit $ERR/cause_chains \
	$(leaf $ValueError 0 "cause") $(leaf $TypeError 0 "effect") \
	$SWAP 0 $CAUSE $(leaf $OSError 0 "top") $SWAP 0 $CAUSE \
	$EXERCISE $EXALL $DUP $(leaf $ValueError 0 "x") $CAUSE $CAUSE
emit $ERR/errno_subtypes \
	$ERRNO 2 $(str "missing") $ERRNO 13 $(str "denied") $ERRNO 32 0 \
	$ERRNO 110 0 $ERRNO 0 0 $ERRNO 139 0 $ERRNO 11 0 $ERRNO 4 0 \
	$GROUP 7 $(str "io") $SPLIT $FileNotFoundError $EXERCISE $EXALL
emit $ERR/fatal_types \
	$(leaf $Abort 0 "abort") $(leaf $ValueError 0 "v") $GROUP 1 0 \
	$(leaf $Interrupt 0 "int") $GROUP 1 0 $EXERCISE $EXALL \
	$EXCEPT $Interrupt $EXERCISE 3 0 $Abort 0
emit $ERR/shared_subtrees \
	$(leaf $ValueError 0 "shared") $DUP $DUP $GROUP 2 $(str "g") \
	$DUP $GROUP 1 $(str "h") $SPLIT $ValueError $EXERCISE $EXALL \
	$POP $EXERCISE $EXALL
emit $ERR/truncated_text_every_size \
	$(leaf $NotImplementedError 0 "not yet") $(leaf $TimeoutError 0 "late") \
	$GROUP 1 $(str "t") \
	$EXERCISE 2 1 2 $EXERCISE 2 17 33 $EXERCISE 2 64 128 $EXERCISE 2 255 254
emit $ERR/empty_group_and_nothing_left \
	$GROUP 0 0 $EXERCISE 0 $POP $SPLIT 0 $EXCEPT 0 $NOTE 0 $CAUSE $SWAP

echo "wrote $(ls $API | wc -l) fuzz_api and $(ls $ERR | wc -l) fuzz_error inputs"
