# A thin layer over CMake so the README's commands stay short.
#   make run      install what is missing, build, start weir serve (http://127.0.0.1:5006)
#   make test     install, build normal + ASan/UBSan, run every test and the fuzz corpora;
#                 also build with clang and as Release (no tests: their warnings are errors)
#   make bench    build optimised and print the benchmark figures
#   make install  install weir, libweir (static + shared), weir.h, weir.pc under PREFIX
#   make fuzz     build the libFuzzer targets with clang and run each for FUZZ_SECONDS
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CLANG_BUILD ?= build-clang
RELEASE_BUILD ?= build-release
PREFIX     ?= /usr/local
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# -Werror is for developers and CI (make test turns it on), not packagers.
WERROR     ?= OFF

.PHONY: all deps build build-asan build-clang build-release run test test-normal test-asan bench install fuzz clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEIR_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWEIR_SANITIZE=ON -DWEIR_BENCH=OFF -DWEIR_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Other configurations' warnings (clang's own; gcc's at -O3 without debug
# info): compiled only, in make test, so none of them comes back.  Release
# builds what is installed; clang builds everything, tests included.
build-clang: deps
	@bash scripts/deps.sh --clang
	CC=clang cmake -S . -B $(CLANG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEIR_BENCH=OFF -DWEIR_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(CLANG_BUILD) -j $(JOBS)

build-release: deps
	cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release -DWEIR_TESTS=OFF -DWEIR_BENCH=OFF -DWEIR_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(RELEASE_BUILD) -j $(JOBS)

run: build
	$(BUILD)/weir serve

test-normal: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

test: WERROR = ON
test: build-clang build-release test-normal test-asan

bench: build
	@bash scripts/deps.sh --bench
	@bash bench/run.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

fuzz:
	@bash scripts/deps.sh --fuzz
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWEIR_SANITIZE=ON -DWEIR_FUZZ=ON -DWEIR_BENCH=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@for f in $(FUZZ_BUILD)/tests/fuzz_*; do \
	  name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; new=$(FUZZ_BUILD)/new-$${name#fuzz_}; \
	  mkdir -p $$new; \
	  echo "== $$name ($(FUZZ_SECONDS)s; new inputs in $$new) =="; \
	  $$f -max_total_time=$(FUZZ_SECONDS) $$new $$corpus || exit 1; \
	done
	@echo "To keep what was found: $(FUZZ_BUILD)/tests/fuzz_NAME -merge=1 tests/fuzz/corpus/NAME $(FUZZ_BUILD)/new-NAME"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(CLANG_BUILD) $(RELEASE_BUILD)
