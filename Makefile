# SPDX-License-Identifier: BSD-2-Clause
# Front door.  `make run` and `make test` do all set-up on a fresh Debian 12.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test test-plain test-asan test-tsan test-qemu test-clang bench clean

all: build

deps:
	@./scripts/deps.sh

configure: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	cmake --build build -j$(JOBS)

# The main job: the embedded default machine, end to end (builds only the tool).
run: configure
	cmake --build build --target irqkit-tool -j$(JOBS)
	./build/irqkit

# The whole suite: plain, then ASan+UBSan, then the threaded stress under TSan,
# then the bare-metal port on QEMU.
test: test-plain test-asan test-tsan test-qemu

test-plain: build
	cd build && ctest --output-on-failure -j$(JOBS)

test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DIK_SANITIZE=ON -DIK_BUILD_BENCH=OFF >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS)

test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIK_TSAN=ON -DIK_BUILD_BENCH=OFF >/dev/null
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L threaded

# The unchanged library on QEMU's emulated hardware (port/x86_64): build the
# freestanding kernel, boot it once per line of port/x86_64/tests/*.list.
test-qemu:
	@./scripts/deps.sh --qemu
	$(MAKE) -C port/x86_64 O=$(CURDIR)/build-port -j2
	./port/x86_64/run-tests.sh $(CURDIR)/build-port/kernel.elf $(CURDIR)/build-port/logs

# Warning check with the other compiler, and a brief libFuzzer run of the
# scenario parser (CI).
test-clang:
	@./scripts/deps.sh --clang
	CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build-clang -j$(JOBS)
	cd build-clang && ctest --output-on-failure -L fuzz

bench: deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DIK_LOCKDEP=OFF >/dev/null
	cmake --build build-bench -j$(JOBS)
	@for b in build-bench/bench/bench_*; do echo "== $$b"; $$b || exit 1; done

clean:
	rm -rf build build-asan build-tsan build-clang build-bench build-port
