# The two entry points: `make demo` and `make test`. Both install missing
# Debian packages first (scripts/install-deps.sh), so they work on a fresh
# Debian 12 machine as root.
JOBS     ?= $(shell nproc)
BUILD    ?= build
ASAN     ?= build-asan
FUZZ     ?= build-fuzz
FUZZ_SECONDS ?= 10

.PHONY: all deps build build-asan build-fuzz test test-unit test-asan test-fuzz demo clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DTR_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN) -DTR_WERROR=ON -DTR_SANITIZE=ON >/dev/null
	cmake --build $(ASAN) -j $(JOBS)

build-fuzz: deps
	CC=clang cmake -S . -B $(FUZZ) -DTR_WERROR=ON -DTR_FUZZ=ON -DTR_SANITIZE=ON >/dev/null
	cmake --build $(FUZZ) -j $(JOBS) --target fuzzers

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

test-fuzz: build-fuzz
	bash scripts/run-fuzz.sh $(FUZZ)/fuzz $(FUZZ_SECONDS)

# The whole suite: -Werror build, then ASan+UBSan build, then each fuzzer.
test: test-unit test-asan test-fuzz

demo: build
	bash scripts/demo.sh $(BUILD)/bin

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
