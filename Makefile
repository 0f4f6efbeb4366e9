# kapokmq: build, demo and test entry points. One release build is shared
# by every test suite (Rust, C, Python, Node).

CARGO   ?= cargo
PYTHON  ?= python3
# cargo's target directory (CARGO_TARGET_DIR and cargo config honoured).
RELEASE := $(shell bash tests/artifacts.sh --target-dir)/release
LIB     := $(RELEASE)/libkapokmq.so
BROKER  := $(RELEASE)/kmq-broker
KMQ_RELEASE_DIR ?= $(RELEASE)

export KAPOKMQ_LIB := $(LIB)
export KMQ_BROKER  := $(BROKER)

.PHONY: test-real bench-real record real-loss
.PHONY: all build demo docs header test test-lint test-rust test-header test-c test-memcheck test-python test-python-install test-node test-readme dist test-dist test-cross bench bench-quick profile clean

all: build

build:
	$(CARGO) build --release --workspace

# The main job: a broker, the C producer and consumer examples, and what
# went through them.
demo: build
	bash examples/demo.sh

test: build test-lint test-header test-rust test-c test-memcheck test-python test-python-install test-node test-readme test-install test-dist test-cross

# Formatting (rustfmt.toml) and clippy with every warning an error.
test-lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets --features kapokmq/test-hooks -- -D warnings

# tests/panics.rs needs the test hooks (panics on demand in link tasks):
# one more build of the library, with the test-hooks feature, for the Rust
# tests only. The library the other suites load stays the one `build` made.
test-rust: build
	$(CARGO) test --release --workspace --features kapokmq/test-hooks

# The committed header must be, byte for byte, what cbindgen generates from
# the sources (build.rs writes it into cargo's OUT_DIR; tests/header.rs
# compares). `make header` writes the generated header over the committed one.
test-header:
	$(CARGO) test --release --test header

header:
	KMQ_UPDATE_HEADER=1 $(CARGO) test --release --test header the_committed_header_is_the_generated_one

test-c: build
	bash tests/c/run.sh

# The C suite under valgrind (memcheck: no errors, no definite leaks) and
# under AddressSanitizer.
test-memcheck: build
	bash tests/c/run.sh --valgrind
	bash tests/c/run.sh --asan

test-python: build
	PYTHONPATH=bindings/python/src $(PYTHON) -m pytest -q bindings/python/tests

# pip install ./bindings/python into a fresh venv, as a user would (it
# compiles the crate once more, for the package).
test-python-install: build
	bash bindings/python/check_install.sh

test-node: build
	cd bindings/node && npm ci --no-audit --no-fund --loglevel=error && npm test

# The suites and the Go client interop against the real KapokMQ node and
# Serena, built from source trees (KAPOKMQ_SERVER_SRC, SERENA_SRC,
# KAPOKMQ_GO_CLIENT_SRC; see tests/real/realmq.sh). Not part of `make test`.
test-real: build
	bash tests/real/realmq.sh test

# The benchmark on a real node with the Go client's rows: docs/bench/real/.
bench-real: build
	bash tests/real/realmq.sh bench

# Records the real KapokMQ node and Serena (built as for test-real) into
# tests/recorded/; test-rust replays the recordings without them (tests/replay.rs).
record: build
	bash tests/real/realmq.sh record

# What the real node loses of confirmed messages when killed and restarted
# (not part of make test). LOSS_ARGS e.g. "--runs 3 --snapshot".
real-loss: build
	bash tests/real/realmq.sh loss $(LOSS_ARGS)

# Every code block of every Markdown file runs as written (or says why not,
# see tests/readme/run.py); then the runner must fail on examples that send
# before their consumer connects.
READMES = $(shell find . -name '*.md' -not -path './target/*' -not -path '*/node_modules/*' -not -path './tests/readme/*' | sort)

test-readme: build
	@[ -d bindings/node/node_modules ] || (cd bindings/node && npm ci --no-audit --no-fund --loglevel=error)
	$(PYTHON) tests/readme/run.py $(READMES)
	$(PYTHON) tests/readme/run.py --expect-failure tests/readme/wrong_order.md

# What ships, in dist/, for Linux x86_64 and aarch64 (glibc 2.17 and musl)
# and Windows x64 (scripts/platforms.sh): a Python wheel per platform and the
# sdist, one npm tarball with a library per platform, a C SDK per platform.
# One build of the library per platform (the `dist` profile) serves its
# wheel, npm prebuild and SDK. scripts/dist-tools.sh installs the tools into
# a cache directory, scripts/cross-tools.sh Debian's Rust and the cross
# tools (apt-get, as root). KMQ_PLATFORMS="linux-x86_64 ..." builds fewer.
dist:
	bash scripts/dist.sh

# Each artifact installed outside the checkout as a user would, then a round
# trip against kmq-broker: this machine's natively (tests/dist/run.sh), the
# other platforms' under qemu-aarch64, musl's loader and Wine
# (tests/dist/cross.sh).
test-dist: build dist
	bash tests/dist/run.sh
	bash tests/dist/cross.sh

# The whole C suite against the aarch64, x86_64 musl and aarch64 musl
# libraries, under emulation (tests/c/cross.sh); the library type-checked
# for macOS, which cannot be linked here (scripts/check-macos.sh).
test-cross: build dist
	bash tests/c/cross.sh
	bash scripts/check-macos.sh

# API reference: rustdoc for the Rust API, Doxygen (when installed) for
# the C header and the C++ wrapper. Doxygen prints a warning for every
# undocumented entry (docs/Doxyfile) and needs no Graphviz.
docs:
	$(CARGO) doc --no-deps -p kapokmq
	@if command -v doxygen >/dev/null; then mkdir -p target/doc/c && doxygen docs/Doxyfile && echo "C reference: target/doc/c/html/index.html"; \
	 else echo "doxygen is not installed: the C reference is the comments in include/kapokmq.h"; fi

# Throughput, latency and footprint on a fresh kmq-broker; writes
# docs/bench/results.csv, results.txt and throughput.png.
bench: build
	bash cli/bench/run.sh

bench-quick: build
	bash cli/bench/run.sh --quick

# Where the library spends its instructions (perf if available, else callgrind).
profile: build
	bash cli/bench/profile.sh throughput 50000
	bash cli/bench/profile.sh e2e 30000

clean:
	$(CARGO) clean
	rm -rf dist

# install, uninstall, test-install: the C and C++ install tree.
include mk/install.mk
