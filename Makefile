# Thin front over CMake. The real build is CMakeLists.txt.
#   make run    install deps, build, start verifierd --dev (prints how to call it)
#   make test   install deps, build, run every test (ctest)
#   make demo   an agent and a relying party re-attesting over one TLS 1.3 connection
#   make bench  benchmarks (docs/performance.md)
#   make fuzz   build the libFuzzer targets with clang and run each FUZZ_SECONDS (default 60)
#   make build  just build
MAKEFLAGS += --no-print-directory
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
STATE_DIR ?= $(CURDIR)/.verifierd-dev
LISTEN ?= 127.0.0.1:8443

.PHONY: all deps configure build run test clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@./scripts/run-dev.sh $(BUILD) $(STATE_DIR) $(LISTEN)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)

.PHONY: fuzz
fuzz:
	@./scripts/fuzz.sh

.PHONY: demo
demo: build
	@./scripts/demo.sh $(BUILD)

.PHONY: bench
bench: build
	@./scripts/bench.sh $(BUILD)
