# The two commands of the README: `make run` and `make test`. Each installs what is missing first.
SWIFT ?= swift
ARGS ?=

.PHONY: deps build run test container-test deploy-check ci clean

deps:
	@scripts/install-deps
	@command -v $(SWIFT) >/dev/null || { echo "swift is not on PATH: install Swift 6 (swift.org)"; exit 1; }

build: deps
	$(SWIFT) build -c release --product offload-http

run: build
	.build/release/offload-http $(ARGS)

# One test at a time: the suite starts real servers and child processes, and on two cores a
# parallel run starves the timing bounds that prove overlap.
test: deps
	$(SWIFT) test --no-parallel
	python3 -m pytest -q tests/api

# Builds the image, runs it, checks it, removes it (podman or docker; works offline).
container-test:
	scripts/container-smoke

# Validates the Kubernetes manifests against the Kubernetes schemas (offline, from PyPI).
deploy-check:
	@python3 -c "import kubernetes_validate" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check kubernetes-validate
	kubernetes-validate --strict deploy/kubernetes/*.yaml

# What CI runs: the tests, the container smoke test, the manifests.
ci: test container-test deploy-check

clean:
	rm -rf .build
