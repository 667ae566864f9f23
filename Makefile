# windwatch: the two commands are `make run` and `make test`.
#   make run     install what is missing, build, start Kafka + the four binaries
#   make test    install what is missing, build, run every test through CTest
#   make bench   run the benchmarks and write docs/benchmarks.md
#   make test-faults  the long fault scenarios (about 5 minutes on 2 idle cores)
#   make fuzz    run the libFuzzer targets for FUZZ_SECONDS each (needs clang)
#   make format  rewrite the C sources in the house style; format-check only checks (CI)
#   make clean   remove the build directory

BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
# CI=true (set by .ci/run) turns warnings into errors.
ifeq ($(CI),true)
WERROR := ON
else
WERROR ?= OFF
endif
CMAKE_ARGS ?=

.PHONY: all bootstrap configure build run test test-unit test-integration test-browser test-sanitize test-faults soak bench fuzz format format-check clean

all: build

bootstrap:
	@scripts/bootstrap

configure:
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DWW_WERROR=$(WERROR) $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: bootstrap build
	@scripts/run-local $(BUILD)

test: bootstrap build
	@cd $(BUILD) && ctest --output-on-failure $(CTEST_ARGS)

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit $(CTEST_ARGS)

test-integration: bootstrap build
	@cd $(BUILD) && ctest --output-on-failure -L integration $(CTEST_ARGS)

test-browser: bootstrap build
	@cd $(BUILD) && ctest --output-on-failure -L browser $(CTEST_ARGS)

# The unit, fuzz-corpus, integration and browser tests again under
# AddressSanitizer + UBSan (tests/sanitize/run; options and leak suppressions
# in tests/sanitize/). Its own build directory and its own test broker port,
# so it never meets the broker of `make test` on 19092.
SANITIZE_KAFKA_PORT ?= 19192
test-sanitize: bootstrap
	@cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWW_WERROR=$(WERROR) \
	  -DWW_SANITIZE=address,undefined -DWW_TEST_KAFKA_PORT=$(SANITIZE_KAFKA_PORT) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@tests/sanitize/run $(BUILD)-asan $(CTEST_ARGS)

# The long fault scenarios (kill -9, broker outage, malformed input, disk full).
test-faults: bootstrap build
	@tests/faults/run $(BUILD)

# One hour at 5k readings/s, RSS and fds of every binary sampled each minute.
soak: bootstrap build
	@tests/soak/run $(BUILD)

bench: bootstrap build
	@bench/run $(BUILD)

fuzz:
	@scripts/fuzz $(FUZZ_SECONDS)

# .clang-format, with the clang-format 14 that scripts/bootstrap installs.
format: bootstrap
	@scripts/format

format-check: bootstrap
	@scripts/format --check

clean:
	rm -rf $(BUILD) $(BUILD)-asan build-fuzz
