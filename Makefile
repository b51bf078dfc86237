# keyedge: `make dev` runs it locally, `make test` runs every test. Both install what is
# missing first (pinned versions, into ~/.cache/keyedge and node_modules/) and are safe to repeat.

SHELL := /bin/bash
WORKER_BUILD_VERSION := 0.8.7
# Must equal the wasm-bindgen version in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/,"",$$3); print $$3}' Cargo.lock)
# Rust tools are per-user and per-version, so fresh clones (and CI) reuse an earlier install.
TOOLS ?= $(HOME)/.cache/keyedge/tools-wb$(WORKER_BUILD_VERSION)-bg$(WASM_BINDGEN_VERSION)
BIN := $(CURDIR)/node_modules/.bin
export PATH := $(TOOLS)/bin:$(BIN):$(PATH)
export WASM_BINDGEN_BIN := $(TOOLS)/bin/wasm-bindgen
export ESBUILD_BIN := $(BIN)/esbuild
export WASM_OPT_BIN := $(BIN)/wasm-opt
export WRANGLER_SEND_METRICS := false
# `make dev` and the end-to-end tests embed the demo configuration.
DEV_CONFIG ?= dev/keyedge.dev.toml

# .dev.vars is phony: dev/dev-vars.mjs adds entries that newer versions need and keeps the rest.
.PHONY: dev test fuzz soak bench wasm-startup size profile steps tools node-tools rust-tools browser saml-idps worker worker-realm worker-origin build unit lint e2e clean .dev.vars check deploy

dev: tools saml-idps .dev.vars
	@KEYEDGE_CONFIG=$(DEV_CONFIG) bash dev/run.sh

test: tools browser saml-idps .dev.vars
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	# The Worker with nothing optional compiled in (keyedge.toml) and with everything (the demo
	# configuration): build.rs compiles in only what the embedded file uses.
	KEYEDGE_CONFIG=keyedge.toml cargo clippy --lib --target wasm32-unknown-unknown --release -- -D warnings
	KEYEDGE_CONFIG=$(DEV_CONFIG) cargo clippy --lib --target wasm32-unknown-unknown --release -- -D warnings
	bash dev/check-imports.sh
	cargo test
	KEYEDGE_KV=strong cargo test --test it
	KEYEDGE_CONFIG=$(DEV_CONFIG) $(MAKE) --no-print-directory worker
	$(MAKE) --no-print-directory worker-realm worker-origin
	node --test bench/
	node bench/bench.mjs --smoke > /dev/null
	node bench/bench.mjs --render bench/results/smoke.json > /dev/null
	node --test --test-concurrency=1 tests/e2e/
	KEYEDGE_CONFIG=$(DEV_CONFIG) KEEP_NAMES=1 $(MAKE) --no-print-directory worker
	node bench/wasm-names.mjs build/index_bg.wasm --expect 'Keyedge::pick_other::h'
	KEEP_NAMES=1 node bench/profile.mjs userinfo --seconds 1 > /dev/null
	KEEP_NAMES=1 node bench/steps.mjs --smoke --profile > /dev/null

# keyedge under load through wrangler dev and the demo IdPs: 1,000 logins, 50 in flight, with
# refresh chains, gate pages and races; fails if anything is lost or spent twice.
# `make soak LOGINS=200` for a shorter run.
LOGINS ?= 1000
soak: tools .dev.vars
	KEYEDGE_CONFIG=$(DEV_CONFIG) $(MAKE) --no-print-directory worker
	node bench/soak.mjs --logins $(LOGINS)

# Long runs of the fuzz and property tests (short ones are in `make test`):
# `make fuzz ROUNDS=100000`.
ROUNDS ?= 20000
fuzz:
	KEYEDGE_FUZZ_ROUNDS=$(ROUNDS) PROPTEST_CASES=$(ROUNDS) cargo test --test it -- hostile_input properties

# Benchmarks against OpenAuth and oidc-provider on this machine (~5 minutes); writes
# bench/results/latest.{json,md} and the table in docs/performance.md.
bench: tools .dev.vars
	cargo bench --bench core -- --warm-up-time 1 --measurement-time 3 2>&1 | grep -E '^[a-zA-Z].*|time:' | tee bench/results/native.txt
	$(MAKE) --no-print-directory wasm-startup
	node bench/bench.mjs

# The Worker's wasm with and without SAML: size, and compile + instantiate time in Chromium's
# V8 (docs/saml.md). SAML is compiled into the Worker only when its configuration has a SAML
# identity provider (build.rs), so "without" is keyedge.toml as it is (one OIDC IdP) and
# "with" is keyedge.toml plus one SAML IdP. Builds into build/ and leaves it to be rebuilt by
# the next `make worker`.
SAML_IDP := \n[[identity_providers]]\nalias = "corp"\ndisplay_name = "Corp SSO"\nkind = "saml"\nimport_metadata = "https://idp.example.org/metadata"\n
wasm-startup: tools browser
	@rm -f build/.built-* && mkdir -p target/wasm-startup
	{ cat keyedge.toml; printf '$(SAML_IDP)'; } > target/wasm-startup/with-saml.toml
	KEYEDGE_CONFIG=target/wasm-startup/with-saml.toml worker-build --release && $(STRIP_NAMES) && cp build/index_bg.wasm target/wasm-startup/with-saml.wasm
	KEYEDGE_CONFIG=keyedge.toml worker-build --release && $(STRIP_NAMES) && cp build/index_bg.wasm target/wasm-startup/without-saml.wasm
	@rm -f build/.built-*
	node bench/wasm-startup.mjs --json bench/results/wasm-startup.json target/wasm-startup/with-saml.wasm target/wasm-startup/without-saml.wasm | tee bench/results/wasm-startup.txt

# What the Worker's code is made of, by crate (docs/performance.md, "Size by owner"): twiggy
# over the release wasm of keyedge.toml (the Worker without SAML) before wasm-bindgen (it
# keeps the function names).
TWIGGY := $(HOME)/.cache/keyedge/twiggy-0.7.0/bin/twiggy
size: tools
	KEYEDGE_CONFIG=keyedge.toml $(MAKE) --no-print-directory worker
	@[ -x $(TWIGGY) ] || cargo install twiggy --version 0.7.0 --locked --root $(HOME)/.cache/keyedge/twiggy-0.7.0
	$(TWIGGY) top -n 100000 --format csv target/wasm32-unknown-unknown/release/keyedge.wasm | python3 bench/size_by_crate.py

# Where keyedge's CPU goes in one bench scenario (V8's sampling profiler on the Worker's
# isolate): `make profile SCENARIO=login` (refresh, refresh_es256, userinfo, gate, discovery, jwks).
SCENARIO ?= refresh
profile: tools .dev.vars
	KEYEDGE_CONFIG=$(DEV_CONFIG) KEEP_NAMES=1 $(MAKE) --no-print-directory worker
	KEEP_NAMES=1 node bench/profile.mjs $(SCENARIO)

# keyedge's login request by request, each against its twin on the floor Worker (the same
# platform calls), one login at a time; with the isolate's sampled time per step by kind.
steps: tools .dev.vars
	KEYEDGE_CONFIG=$(DEV_CONFIG) KEEP_NAMES=1 $(MAKE) --no-print-directory worker
	KEEP_NAMES=1 node bench/steps.mjs --profile

# The Worker bundle (build/). Called by wrangler's [build] command and by the targets above;
# rebuilt only when a source or the embedded config changed (wasm-opt alone takes ~30 s).
CONFIG_FILE := $(or $(KEYEDGE_CONFIG),keyedge.toml)
SOURCES := $(shell find src www -type f) Cargo.toml Cargo.lock build.rs askama.toml $(CONFIG_FILE)
STAMP := build/.built-$(subst /,_,$(CONFIG_FILE))$(if $(KEEP_NAMES),-names)

# The module that ships carries no name section (Rust function names: ~480 KB raw, ~115 KiB
# gzip; worker-build always keeps it). `make profile` and bench/coldstart.mjs --profile
# build with KEEP_NAMES=1, so that their samples name Rust functions. The same features
# worker-build gives wasm-opt, so nothing newer than workerd reads is written.
WASM_FEATURES := $(foreach f,mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling,--enable-$(f))
STRIP_NAMES = wasm-opt build/index_bg.wasm -o build/index_bg.stripped.wasm --strip-debug --strip-producers $(WASM_FEATURES) && mv build/index_bg.stripped.wasm build/index_bg.wasm

worker: $(STAMP)

$(STAMP): $(SOURCES)
	@rm -f build/.built-*
	KEYEDGE_CONFIG=$(CONFIG_FILE) worker-build --release
	$(if $(KEEP_NAMES),,$(STRIP_NAMES))
	@touch $@

# Workers with other configurations for the end-to-end tests, each in build-NAME/ from
# dev/keyedge.NAME.toml: `worker-realm` (a Keycloak realm's issuer, tests/e2e/realm.test.mjs
# and unbound.test.mjs) and `worker-origin` (the gate in front of an origin,
# tests/e2e/gate_origin.test.mjs). worker-build writes to build/, so the development build is
# moved aside meanwhile and put back.
worker-realm: build-realm/.built
worker-origin: build-origin/.built

build-%/.built: $(shell find src www -type f) Cargo.toml Cargo.lock build.rs askama.toml dev/keyedge.%.toml
	@rm -rf build.aside build-$*
	@if [ -d build ]; then mv build build.aside; fi
	KEYEDGE_CONFIG=dev/keyedge.$*.toml worker-build --release; status=$$?; \
	  if [ $$status -eq 0 ]; then mv build build-$*; else rm -rf build; fi; \
	  if [ -d build.aside ]; then mv build.aside build; fi; exit $$status
	sed 's#\.\./\.\./build/#./#g' src/edge/worker.mjs > build-$*/entry.mjs
	cp src/edge/header_lines.mjs src/edge/reuse.mjs build-$*/
	@touch $@

tools: rust-tools node-tools

rust-tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@[ -x $(TOOLS)/bin/worker-build ] && worker-build --version 2>/dev/null | grep -q "$(WORKER_BUILD_VERSION)" || \
	  cargo install --locked --root $(TOOLS) worker-build --version $(WORKER_BUILD_VERSION)
	@[ -x $(WASM_BINDGEN_BIN) ] && $(WASM_BINDGEN_BIN) --version | grep -q "$(WASM_BINDGEN_VERSION)" || \
	  cargo install --root $(TOOLS) wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

node-tools: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The loopback SAML IdPs of `make dev` and the end-to-end tests (dev/saml-idp/): SimpleSAMLphp
# and PHP from Debian, xmlsec1; nothing is done when they are installed.
saml-idps:
	@bash dev/saml-idp/install.sh

# Debian's Chromium for the browser test (playwright-core drives it; nothing is downloaded).
browser:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

.dev.vars:
	node dev/dev-vars.mjs .dev.vars
	@# wrangler reads .dev.vars next to its config: dev/wrangler.toml shares the root one.
	@ln -sfn ../.dev.vars dev/.dev.vars

# Validates the configuration offline (the file, the field, the fix); secrets not in the
# environment or .dev.vars are listed as reminders.
check:
	cargo run --quiet --bin keyedge -- check $(CONFIG_FILE)

# Checks, builds with keyedge.toml (or KEYEDGE_CONFIG) and deploys; see docs/deploy.md.
deploy: tools check
	$(MAKE) --no-print-directory worker
	wrangler deploy

clean:
	rm -rf build build-realm build-origin build.aside target/wasm32-unknown-unknown .wrangler test-artifacts
