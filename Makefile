# Herald — plain GNU Makefile (STYLE.md §6).
#   make deps   install missing Debian packages (no-op when present)
#   make all    release build: build/release/herald
#   make run    deps + build + start on embedded defaults
#   make test   deps + sanitizer build + unit, fuzz-corpus replay, end-to-end and browser tests
#   make ui / ui-test / ui-screenshots   the web UI (web/, docs/ui.md), its browser tests
#   make bench  load generator + scenarios against Herald
#   make fuzz   each libFuzzer target for FUZZ_SECONDS (60)
#   make install   release binary to $(PREFIX)/bin (PREFIX=/usr/local, DESTDIR honoured) and
#                  the systemd unit to $(PREFIX)/lib/systemd/system; make uninstall removes both
#   make fmt / fmt-check / clean

CC ?= cc
MODE ?= release
SANITIZER ?=
ifneq ($(SANITIZER),)
MODE := san
endif
BUILD := build/$(MODE)

LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
        -Wwrite-strings
ifneq ($(CI),)
WERROR := -Werror
endif
WERROR ?= -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(WERROR) -Isrc -I$(LLHTTP_INC) -I/usr/include/postgresql -MMD -MP \
              -pthread
LDLIBS := -luv -lcjson -lcurl -lsqlite3 -lpq -lhiredis -lcrypt -lssl -lcrypto -lm -pthread
# libvips (thumbnails, src/media/thumb.c): its headers only where they are included, as system
# headers so that glib's own warnings stay out of -Werror; its libraries linked only into the
# binaries that use it (--as-needed), so the other tests do not load it.
VIPS_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags vips 2>/dev/null))
VIPS_LIBS := $(shell pkg-config --libs vips 2>/dev/null)
LDLIBS += -Wl,--push-state,--as-needed $(VIPS_LIBS) -Wl,--pop-state
ifneq ($(SANITIZER),)
ALL_CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZER)
endif

SRC := $(shell find src -name '*.c' | sort)
LIB_SRC := $(filter-out src/main.c,$(SRC))
LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(BUILD)/ui/ui_embed.o
# the API documentation built into the binary (/api/docs; rules below, "the API documentation")
LIB_OBJ += $(BUILD)/apidoc/apidoc_embed.o
LLHTTP_OBJ := $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o $(BUILD)/llhttp/llhttp.o
LIB := $(BUILD)/libherald.a
BIN := $(BUILD)/herald

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 60

PY := /usr/bin/python3

.PHONY: all herald ui ui-test ui-screenshots FORCE deps run install uninstall test test-pg unit unit-build unit-pg e2e fuzz fuzz-replay bench bench-auth bench-store fmt fmt-check clean asan

all: $(BIN) $(UNIT_BIN) bench-tools

# the server binary of the current MODE (build/release or build/san)
herald: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(BUILD)/src/media/thumb.o: ALL_CFLAGS += $(VIPS_CFLAGS)
$(BUILD)/tests/test_media: ALL_CFLAGS += $(VIPS_CFLAGS)

# llhttp's generated C is compiled from the Debian package, with its own (looser) warnings, in
# its strict mode (docs/adr/0003). The Makefile is a prerequisite so that a flag change rebuilds it.
LLHTTP_DEFS := -DLLHTTP_STRICT_MODE=1
$(BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(LLHTTP_DEFS) $(CFLAGS) -I$(LLHTTP_INC) $(filter -fsanitize=%,$(ALL_CFLAGS)) -c $< -o $@

$(LIB): $(LIB_OBJ) $(LLHTTP_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDLIBS)

deps:
	@scripts/deps.sh

# ---- the web UI (web/, docs/ui.md; /chat bundles the SDK, clients/js/index.js): built with
# Node.js when its sources changed, then built
# into the binary (build/ui/ui_embed.c, scripts/embed_ui.py). `npm ci` runs when node_modules
# is missing or the lockfile changed. Without node and npm the server is built API-only.
NODE := $(shell command -v node 2>/dev/null)
NPM := $(shell command -v npm 2>/dev/null)
UI_SRC := web/index.html web/vite.config.js web/package.json web/package-lock.json \
          clients/js/index.js $(shell find web/src web/public web/scripts -type f 2>/dev/null)
UI_NODE_STAMP := web/node_modules/.herald-ci
UI_DIST_STAMP := web/dist/.herald-built
ifneq ($(and $(NODE),$(NPM)),)
UI_MODE := built
else
UI_MODE := none
endif

$(UI_NODE_STAMP): web/package-lock.json web/package.json
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

$(UI_DIST_STAMP): $(UI_SRC) $(UI_NODE_STAMP)
	cd web && npm run --silent build
	@touch $@

ui: $(UI_DIST_STAMP)

# The console in a real browser (tests/ui/, playwright-core driving Debian's /usr/bin/chromium;
# no browser is downloaded) against a real herald serve of this MODE. Screenshots go to
# build/ui-shots; `make ui-screenshots` refreshes the ones of docs/img instead.
UI_TESTS := $(wildcard tests/ui/*.test.mjs)
ui-test: $(BIN) $(UI_NODE_STAMP)
	@command -v node >/dev/null || { echo "ui-test: node not found (make deps installs nodejs)"; exit 1; }
	HERALD_BIN=$(abspath $(BIN)) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  node --test --test-concurrency=1 $(UI_TESTS)

ui-screenshots: $(BIN) $(UI_NODE_STAMP)
	HERALD_BIN=$(abspath $(BIN)) HERALD_UI_SHOTS=$(abspath docs/img) node --test --test-concurrency=1 $(UI_TESTS)

# build/ui/mode holds "built" or "none" and changes only when Node.js comes or goes
build/ui/mode: FORCE
	@mkdir -p build/ui
	@echo $(UI_MODE) | cmp -s - $@ || echo $(UI_MODE) > $@
	@if [ "$(UI_MODE)" = none ]; then echo "*** node/npm not found: building herald WITHOUT the web UI" \
	  "(API only; / answers a page saying so). Install Node.js 20 + npm (make deps) and run make again."; fi

build/ui/ui_embed.c: build/ui/mode scripts/embed_ui.py $(if $(filter built,$(UI_MODE)),$(UI_DIST_STAMP))
	$(PY) scripts/embed_ui.py $(if $(filter built,$(UI_MODE)),web/dist) > $@.tmp
	@mv $@.tmp $@

$(BUILD)/ui/ui_embed.o: build/ui/ui_embed.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# ---- the API documentation (/api/docs, src/apidoc): the OpenAPI document and its page, checked
# (a wrong document stops the build) and built into the binary by scripts/embed_apidoc.py
APIDOC_SRC := src/apidoc/openapi.json src/apidoc/page.html
build/apidoc/apidoc_embed.c: $(APIDOC_SRC) scripts/embed_apidoc.py
	@mkdir -p build/apidoc
	$(PY) scripts/embed_apidoc.py $(APIDOC_SRC) > $@.tmp
	@mv $@.tmp $@

$(BUILD)/apidoc/apidoc_embed.o: build/apidoc/apidoc_embed.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

FORCE:

run: deps $(BIN)
	./$(BIN) serve

# ---- install (docs/deployment.md)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/herald
	sed 's|^ExecStart=/usr/local/bin/herald |ExecStart=$(BINDIR)/herald |' contrib/herald.service \
	  > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/herald.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/herald.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/herald $(DESTDIR)$(SYSTEMD_UNIT_DIR)/herald.service

# The whole suite runs on the ASan + UBSan build: on SQLite, and again on a throwaway
# PostgreSQL that scripts/pg-test.sh starts (initdb, random port) and stops. The builds use
# every core (TEST_JOBS, CI: 2). The two end-to-end passes run side by side on a machine of
# two cores or more (scripts/side-by-side.sh: each waits on its servers most of the time; their
# outputs are printed one after the other), one after the other on one core.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
test: deps
	$(MAKE) fmt-check
	$(MAKE) -j$(TEST_JOBS) SANITIZER=address,undefined unit-build herald bench-tools
	$(MAKE) SANITIZER=address,undefined unit
	$(MAKE) -j$(TEST_JOBS) fuzz-build
	$(MAKE) fuzz-replay
	$(MAKE) js-test
	SIDE_BY_SIDE=$$([ $(TEST_JOBS) -gt 1 ] && echo 1 || echo 0) scripts/side-by-side.sh \
	  "$(MAKE) --no-print-directory SANITIZER=address,undefined e2e" \
	  "$(MAKE) --no-print-directory SANITIZER=address,undefined test-pg"
	$(MAKE) SANITIZER=address,undefined ui-test

# The store contract and the end-to-end suite on PostgreSQL, without the tests marked
# store_independent (their outcome cannot depend on the store: tests/e2e/NOTES.md), which the
# SQLite pass (`make e2e`) has run. -j1: the two share the one PostgreSQL, one after the other
# even under `make -j`.
test-pg: $(UNIT_BIN) $(BIN) bench-tools
	scripts/pg-test.sh $(MAKE) --no-print-directory -j1 SANITIZER=$(SANITIZER) unit-pg e2e \
	  E2E_ARGS='-m "not store_independent"'

# the store contract on both backends (test_store runs its cases on PostgreSQL too when
# HERALD_TEST_PG_URL is set), and every statement of src/store/sql/ prepared on PostgreSQL
unit-pg: $(BUILD)/tests/test_store $(BUILD)/tests/test_store_sql $(BUILD)/tests/test_notify_sql
	ASAN_OPTIONS=detect_leaks=1 ./$(BUILD)/tests/test_store
	ASAN_OPTIONS=detect_leaks=1 ./$(BUILD)/tests/test_store_sql
	ASAN_OPTIONS=detect_leaks=1 ./$(BUILD)/tests/test_notify_sql

# the JavaScript SDK's unit tests (Vitest, clients/js/package-lock.json; docs/client.md)
.PHONY: js-test
js-test:
	cd clients/js && npm ci --no-audit --no-fund --loglevel=error && npm test

unit-build: $(UNIT_BIN)

unit: $(UNIT_BIN)
	@set -e; fail=0; for t in $(UNIT_BIN); do echo "== $$t"; \
	  ASAN_OPTIONS=detect_leaks=1 ./$$t || fail=1; done; exit $$fail

# E2E_ARGS: more pytest arguments (test-pg passes -m "not store_independent")
E2E_ARGS ?=
e2e: $(BIN) bench-tools
	HERALD_BIN=$(abspath $(BIN)) HERALD_BENCH_BIN=$(abspath $(BUILD)/herald-bench) \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  $(PY) -m pytest -q -p no:cacheprovider $(E2E_ARGS) tests/e2e

# ---- bench
bench-tools: $(BUILD)/herald-bench

$(BUILD)/herald-bench: bench/herald_bench.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ -lm $(filter -fsanitize=%,$(LDFLAGS))

$(BUILD)/auth-bench: bench/auth_bench.c $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/store-bench: bench/store_bench.c $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# group commit on SQLite, then on a throwaway PostgreSQL (BENCHMARKS.md)
bench-store: $(BUILD)/store-bench
	$(BUILD)/store-bench --closed --seconds 5 --warmup 1
	$(BUILD)/store-bench --closed --seconds 5 --warmup 1 --strict
	scripts/pg-test.sh sh -c 'B=$${HERALD_TEST_PG_URL%/*}; \
	  psql "$$HERALD_TEST_PG_URL" -qc "CREATE DATABASE bench_normal" -c "CREATE DATABASE bench_strict" && \
	  $(BUILD)/store-bench --closed --seconds 5 --warmup 1 --url "$$B/bench_normal" && \
	  $(BUILD)/store-bench --closed --seconds 5 --warmup 1 --strict --url "$$B/bench_strict"'

# token check and password hashing costs (issue 3 targets; BENCHMARKS.md)
bench-auth: $(BUILD)/auth-bench
	$(BUILD)/auth-bench --seconds 3 --revoked 10000

bench: deps
	$(MAKE) $(BIN) bench-tools
	bench/run.sh $(abspath $(BIN)) $(abspath $(BUILD)/herald-bench)

# ---- fuzz (clang + libFuzzer)
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Isrc -I$(LLHTTP_INC) -I/usr/include/postgresql -fsanitize=fuzzer-no-link,address,undefined \
               -fno-omit-frame-pointer -pthread
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(LIB_SRC)) \
                $(FUZZ_BUILD)/llhttp/api.o $(FUZZ_BUILD)/llhttp/http.o $(FUZZ_BUILD)/llhttp/llhttp.o
FUZZ_BIN := $(patsubst fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(WARN) -Werror -c $< -o $@
$(FUZZ_BUILD)/src/media/thumb.o: FUZZ_CFLAGS += $(VIPS_CFLAGS)
$(FUZZ_BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c Makefile
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(LLHTTP_DEFS) -c $< -o $@
$(FUZZ_BUILD)/libherald.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_BUILD)/libherald.a
	clang $(FUZZ_CFLAGS) $(WARN) -Werror -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libherald.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: deps fuzz-build
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n fuzz/corpus/$$n; done

# Replays every seed corpus once (part of make test).
fuzz-replay: fuzz-build
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); echo "== replay $$n"; \
	  $$f -runs=0 -artifact_prefix=build/fuzz/ fuzz/corpus/$$n > build/fuzz/$$n.replay.log 2>&1 \
	    || { cat build/fuzz/$$n.replay.log; exit 1; }; tail -n 2 build/fuzz/$$n.replay.log; done

# ---- formatting
FMT_FILES := $(shell find src tests/unit fuzz bench -name '*.[ch]' 2>/dev/null)
fmt:
	clang-format -i $(FMT_FILES)
fmt-check:
	@clang-format --dry-run -Werror $(FMT_FILES) && echo "fmt-check: clean"

compile_commands.json:
	bear -- $(MAKE) -B all

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
