#  shic: the two commands of the README (make demo, make test), and the rest.
#
#    make demo           install what is missing, build, run the main job through
#                        shicd (examples/demo_spawned.sh)
#    make demo-attach    the same through an attached (stand-in or real) Ollama
#    make demo-embedded  the same inside one process (build/shic_demo)
#    make test           install what is missing, build, then: every ctest
#                        (test-plain), every test again under AddressSanitizer +
#                        UBSan (test-asan), shicd end to end under valgrind
#                        (test-memcheck), the Python and Node clients against a
#                        real shicd (test-bindings)
#    make bench          every benchmark against a real shicd: bench/RESULTS.md and
#                        bench/latency.png (figures, not assertions; about 3 minutes)
#    make fuzz           the libFuzzer targets of fuzz/, SECONDS_PER_TARGET each (60)
#    make soak           chaos soak of a real shicd, SOAK_SECONDS long (300)
#    make build          configure and build into build/ (BUILD=dir, JOBS=2)
#    make install        cmake --install build (prefix: CMAKE_INSTALL_PREFIX,
#                        /usr/local unless configured otherwise; needs root there)
#    make deps           only install the missing Debian packages
#    make clean

BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= 2
DEBS = cmake make gcc pkg-config libczmq-dev libzmq3-dev libmsgpack-dev libcurl4-openssl-dev \
       libjansson-dev libmicrohttpd-dev curl python3 python3-zmq python3-msgpack python3-pytest valgrind \
       prometheus chromium nodejs etcd-server etcd-client

.PHONY: all deps build test test-plain test-asan test-memcheck test-bindings demo demo-attach demo-embedded bench bench-deps clean install fuzz fuzz-deps soak

all: build

#  Installs the Debian packages that are missing (as root, or through sudo)
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "shic: installing$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: test-plain test-asan test-memcheck test-bindings

#  The daemon end to end under valgrind memcheck (errors and definite leaks fail)
test-memcheck: build
	SHICD_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
	    bash tests/daemon_test.sh $(BUILD)

#  The Python and Node clients against a real shicd
test-bindings: build
	bash bindings/run_tests.sh $(BUILD)

test-plain: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 180

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSHIC_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	bash tests/run_sanitized.sh $(ASAN_BUILD)

#  The main job: shicd up, an endpoint ensured (a cold start of llama-server,
#  or its stand-in), a chat completion answered through it, the lease
#  released, the daemon stopped
demo: build
	bash examples/demo_spawned.sh $(BUILD)

demo-attach: build
	bash examples/demo_attach.sh $(BUILD)

demo-embedded: build
	$(BUILD)/shic_demo

#  gnuplot draws bench/latency.png; only the benchmarks need it
bench-deps:
	@dpkg -s gnuplot-nox >/dev/null 2>&1 || { \
	    echo "shic: installing gnuplot-nox"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        $$SUDO apt-get install -y -qq --no-install-recommends gnuplot-nox; }

bench: build bench-deps
	bash bench/run.sh $(BUILD)
	$(BUILD)/shic_bench_kernel 20000 --json $(BUILD)/bench_kernel.json

install: build
	cmake --install $(BUILD)

#  clang with libFuzzer (Debian 12: libclang-rt-14-dev); only fuzzing needs it
FUZZ_DEBS = clang libclang-rt-14-dev
SECONDS_PER_TARGET ?= 60
SOAK_SECONDS ?= 300

fuzz-deps: deps
	@missing=""; for p in $(FUZZ_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "shic: installing$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

fuzz: fuzz-deps
	SECONDS_PER_TARGET=$(SECONDS_PER_TARGET) bash fuzz/run.sh

soak: build
	/usr/bin/python3 tests/soak.py $(BUILD) $(SOAK_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
