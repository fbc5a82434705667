# A thin wrapper over CMake and its presets (CMakePresets.json).
#
#   make demo    install missing Debian packages, build, run the demo
#   make check   install missing Debian packages, build, run every test
#   make asan    the same tests under AddressSanitizer + UBSan (build-asan/)
#   make tsan    the same tests under ThreadSanitizer, clang (build-tsan/)
#   make debug   a debug build and its tests (build-debug/)
#   make clean   remove the preset build directories
#
# Variables: TG_CMAKE_ARGS (extra configure arguments, e.g.
# TG_CMAKE_ARGS=-DTG_WERROR=ON), JOBS (parallel build and test jobs).
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

# The demo: count_lines on the sample files, one of them missing on
# purpose.  Documented exit status: 0 all counted, 1 errors reported.
DEMO_BIN := build/docs/examples/count_lines
DEMO_DATA := docs/examples/data
DEMO_FILES := rot13.txt poem.txt tasks.txt empty_file.txt not_utf8.txt wrong_name.txt

.PHONY: all demo check asan tsan debug build clean deps deps-tsan

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

clean:
	rm -rf build build-debug build-asan build-tsan build-clang
