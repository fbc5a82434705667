# A thin wrapper over CMake and its presets (CMakePresets.json).
#
#   make demo    install missing Debian packages, build, run the demo
#   make check   install missing Debian packages, build, run every test
#   make asan    the same tests under AddressSanitizer + UBSan (build-asan/)
#   make tsan    the same tests under ThreadSanitizer, clang (build-tsan/)
#   make debug   a debug build and its tests (build-debug/)
#   make portable  release build and tests with src/platform.c's portable
#                fallback instead of the Linux code (build-portable/)
#   make coverage  gcc --coverage -O0 build, every test, gcovr report of src/
#                (build-cov/; HTML per function in build-cov/coverage/)
#   make fuzz    libFuzzer targets in fuzz/ (clang, ASan+UBSan, build-fuzz/):
#                replay the committed corpus, then fuzz each for FUZZ_TIME s
#   make clean   remove the preset build directories
#
# Variables: TG_CMAKE_ARGS (extra configure arguments, e.g.
# TG_CMAKE_ARGS=-DTG_WERROR=ON), JOBS (parallel build and test jobs),
# FUZZ_TIME (seconds per fuzzer, default 120), COV_FAIL_LINE and
# COV_FAIL_BRANCH (make coverage fails below these percentages; default 0,
# report only).
#
# Missing packages are installed with apt-get when run as root; otherwise
# the exact command to run is printed and make stops.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

CMAKE ?= cmake
CTEST ?= ctest
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TG_CMAKE_ARGS ?=

# Debian packages: building and testing, plus clang and its sanitizer
# runtimes for the TSan build.
DEB_BUILD := cmake gcc make pkg-config libck-dev libcmocka-dev
DEB_TSAN := clang libclang-rt-14-dev
# Coverage reports.  libFuzzer needs nothing more than clang: its runtime
# (libclang_rt.fuzzer) ships in libclang-rt-14-dev.
DEB_COVERAGE := gcovr
DEB_FUZZ := clang libclang-rt-14-dev

# The demo: count_lines on the sample files, one of them missing on
# purpose.  Documented exit status: 0 all counted, 1 errors reported.
DEMO_BIN := build/docs/examples/count_lines
DEMO_DATA := docs/examples/data
DEMO_FILES := rot13.txt poem.txt tasks.txt empty_file.txt not_utf8.txt wrong_name.txt

.PHONY: all demo check asan tsan debug portable build clean deps deps-tsan \
	coverage deps-coverage fuzz fuzz-build deps-fuzz

all: build

# deps-check <packages>: installs what is missing (root) or prints the
# command and fails.
define deps-check
	@if ! command -v dpkg-query >/dev/null 2>&1; then \
	  echo "note: no dpkg-query (not Debian?); not checking for: $(1)"; \
	  exit 0; \
	fi; \
	missing=""; \
	for p in $(1); do \
	  if ! dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null \
	       | grep -q 'install ok installed'; then \
	    missing="$$missing $$p"; \
	  fi; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "missing Debian packages:$$missing"; \
	if [ "$$(id -u)" -eq 0 ]; then \
	  echo "+ apt-get update && apt-get install -y$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update && apt-get install -y $$missing; \
	else \
	  echo "Run this, then try again:"; \
	  echo; \
	  echo "    sudo apt-get install -y$$missing"; \
	  echo; \
	  exit 1; \
	fi
endef

deps:
	$(call deps-check,$(DEB_BUILD))

deps-tsan:
	$(call deps-check,$(DEB_BUILD) $(DEB_TSAN))

deps-coverage:
	$(call deps-check,$(DEB_BUILD) $(DEB_COVERAGE))

deps-fuzz:
	$(call deps-check,$(DEB_BUILD) $(DEB_FUZZ))

# configure-build <preset>
define configure-build
	$(CMAKE) --preset $(1) $(TG_CMAKE_ARGS)
	env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS $(CMAKE) --build --preset $(1) --parallel $(JOBS)
endef

build: deps
	$(call configure-build,release)

demo: build
	@test -x $(DEMO_BIN) || { echo "error: $(DEMO_BIN) was not built (docs/examples/count_lines.c missing?)"; exit 1; }
	@echo "+ cd $(DEMO_DATA) && count_lines $(DEMO_FILES)"
	@status=0; \
	(cd $(DEMO_DATA) && "$(CURDIR)/$(DEMO_BIN)" $(DEMO_FILES)) || status=$$?; \
	case $$status in \
	  1) echo; echo "demo: exit status 1 = errors were reported, as expected (wrong_name.txt does not exist, and more)";; \
	  0) echo; echo "demo: exit status 0, but errors were expected (wrong_name.txt is missing)"; exit 1;; \
	  *) echo; echo "demo: FAILED with exit status $$status (a crash or an unexpected error)"; exit 1;; \
	esac

check: build
	$(CTEST) --preset release --parallel $(JOBS)

debug: deps
	$(call configure-build,debug)
	$(CTEST) --preset debug --parallel $(JOBS)

portable: deps
	$(call configure-build,portable)
	$(CTEST) --preset portable --parallel $(JOBS)

asan: deps
	$(call configure-build,asan)
	$(CTEST) --preset asan --parallel $(JOBS)

# ThreadSanitizer maps its shadow memory at fixed addresses; with the high
# mmap randomisation of recent kernels that can fail ("unexpected memory
# mapping"), so run the tests with ASLR off when setarch can do it.
TSAN_WRAP := $(shell a=$$(uname -m); setarch "$$a" -R true >/dev/null 2>&1 && echo "setarch $$a -R")

tsan: deps-tsan
	$(call configure-build,tsan)
	$(TSAN_WRAP) $(CTEST) --preset tsan --parallel $(JOBS)

# Coverage of src/ by the whole ctest suite, except test_install_consumer
# (it links the installed static library into a program built without
# --coverage, which cannot resolve the gcov runtime; it checks packaging,
# not library code, and runs in every other build).  The Relacy model is
# off as in the sanitizer presets: it compiles deque.c as C++ against
# Relacy's atomics, so it says nothing about the library's object code.
# Branches: --exclude-unreachable-branches drops the compiler's branches
# on lines without code, --exclude-throw-branches C++ exception edges;
# nothing in src/ is excluded.  Counters are reset before every run.
COV_DIR := build-cov
COV_FAIL_LINE ?= 0
COV_FAIL_BRANCH ?= 0
GCOVR := gcovr --root $(CURDIR) --filter 'src/'

# A failing test still gets its report; make fails afterwards.
coverage: deps-coverage
	$(call configure-build,coverage)
	find $(COV_DIR) -name '*.gcda' -delete
	@status=0; \
	$(CTEST) --preset coverage --parallel $(JOBS) || status=$$?; \
	mkdir -p $(COV_DIR)/coverage; \
	echo "+ gcovr (src/, $(COV_DIR))"; \
	$(GCOVR) --object-directory $(COV_DIR) -j $(JOBS) \
	  --exclude-unreachable-branches --exclude-throw-branches \
	  --json $(COV_DIR)/coverage/coverage.json; \
	echo; echo "== lines, per file (src/)"; \
	$(GCOVR) -a $(COV_DIR)/coverage/coverage.json --txt; \
	echo; echo "== branches, per file (src/)"; \
	$(GCOVR) -a $(COV_DIR)/coverage/coverage.json --txt --branches; \
	echo; echo "== summary (src/)"; \
	$(GCOVR) -a $(COV_DIR)/coverage/coverage.json \
	  --html-details $(COV_DIR)/coverage/index.html --print-summary \
	  --fail-under-line $(COV_FAIL_LINE) \
	  --fail-under-branch $(COV_FAIL_BRANCH) || status=$$?; \
	echo "per-function HTML: $(COV_DIR)/coverage/index.html"; \
	if [ $$status -ne 0 ]; then echo "make coverage: FAILED (status $$status)"; fi; \
	exit $$status

# The fuzzers (fuzz/README.md): build, replay the committed corpus (ctest),
# then run each for FUZZ_TIME seconds from that corpus.  New inputs go to
# build-fuzz/corpus/<fuzzer>/ (fuzz/corpus/ is never written); a crash,
# leak or timeout leaves build-fuzz/artifacts/<fuzzer>-crash-... and fails.
FUZZ_TIME ?= 120
FUZZERS := fuzz_api fuzz_error
FUZZ_DIR := build-fuzz

fuzz-build: deps-fuzz
	$(call configure-build,fuzz)
	$(CTEST) --preset fuzz --parallel $(JOBS)

fuzz: fuzz-build
	@for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$f $(FUZZ_DIR)/artifacts; \
	  echo; echo "== $$f: $(FUZZ_TIME) s from fuzz/corpus/$$f"; \
	  $(FUZZ_DIR)/fuzz/$$f -max_total_time=$(FUZZ_TIME) -timeout=30 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$f- \
	    $(FUZZ_DIR)/corpus/$$f fuzz/corpus/$$f || exit 1; \
	done

clean:
	rm -rf build build-debug build-asan build-tsan build-clang build-portable build-cov build-fuzz
