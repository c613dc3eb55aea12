# The two commands of the README: `make run` and `make test`. Each installs what is missing first.
SWIFT ?= swift
ARGS ?=

.PHONY: deps build run test clean

deps:
	@scripts/install-deps
	@command -v $(SWIFT) >/dev/null || { echo "swift is not on PATH: install Swift 6 (swift.org)"; exit 1; }

build: deps
	$(SWIFT) build -c release --product offload-http

run: build
	.build/release/offload-http $(ARGS)

test: deps
	$(SWIFT) test
	python3 -m pytest -q tests/api

clean:
	rm -rf .build
