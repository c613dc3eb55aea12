# The two commands of the README: `make run` and `make test`. Each installs what is missing first.
SWIFT ?= swift
ARGS ?=
EXAMPLES ?= 100
FUZZ_SECONDS ?= 60

.PHONY: deps test-deps build provider provider-speed http-lint run test replicas-test asan-test api-fuzz fuzz container-test deploy-check ci clean

deps:
	@scripts/install-deps
	@command -v $(SWIFT) >/dev/null || { echo "swift is not on PATH: install Swift 6 (swift.org)"; exit 1; }

# What the tests need besides: openssl, Chromium and its driver, the Python modules.
test-deps: deps
	@scripts/install-deps --tests

build: deps
	$(SWIFT) build -c release --product offload-http

# The simulated accelerator as a loadable OpenSSL provider module, where OPENSSL_MODULES can
# find it: OPENSSL_MODULES=.build/release/ossl-modules openssl ... -provider offloadsim
provider: test-deps
	$(SWIFT) build -c release --product offloadsim
	mkdir -p .build/release/ossl-modules
	cp .build/release/liboffloadsim.so .build/release/ossl-modules/offloadsim.so

# `openssl speed` with 64 ASYNC jobs against 1, through the module (bench/provider-speed).
provider-speed: provider
	bench/provider-speed

run: build
	.build/release/offload-http $(ARGS)

# One test at a time: the suite starts real servers and child processes, and on two cores a
# parallel run starves the timing bounds that prove overlap.
test: test-deps
	$(SWIFT) build --product offloadsim  # the module tests load it into openssl
	$(SWIFT) test --no-parallel
	python3 -m pytest -q tests/api tests/page

# Three replicas on a throwaway PostgreSQL behind HAProxy: jobs polled through the balancer,
# replicas killed, the store stopped and started (scripts/replicas-test).
replicas-test: test-deps
	scripts/replicas-test

# The suite under AddressSanitizer (and LeakSanitizer; .ci/lsan.supp lists the test
# harness's own leaks).
asan-test: test-deps
	$(SWIFT) build --product offloadsim
	LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp $(SWIFT) test --sanitize=address --scratch-path .build-asan --no-parallel

# libFuzzer on the request parsing code for FUZZ_SECONDS.
fuzz: test-deps
	scripts/fuzz-parser $(FUZZ_SECONDS)

# Property-based API fuzzing with schemathesis against the served OpenAPI document.
api-fuzz: test-deps
	scripts/api-fuzz $(EXAMPLES)

# HTTPolice on raw exchanges of every route and REDbot on the GET routes (scripts/http-lint).
http-lint: test-deps
	scripts/http-lint

# Builds the image, runs it, checks it, removes it (podman or docker; works offline).
container-test:
	scripts/container-smoke

# Validates the Kubernetes manifests against the Kubernetes schemas (offline, from PyPI).
deploy-check:
	scripts/deploy-check

# What CI runs (.ci/run), with shorter fuzzing.
ci: test
	$(MAKE) replicas-test
	$(MAKE) api-fuzz EXAMPLES=50
	$(MAKE) http-lint
	$(MAKE) asan-test
	$(MAKE) fuzz FUZZ_SECONDS=30
	$(MAKE) container-test
	$(MAKE) deploy-check

clean:
	rm -rf .build
