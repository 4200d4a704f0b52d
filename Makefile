# Port Traffic Dog. `make help` lists the targets.
SHELL    := /bin/bash
# sudo resets PATH, so fall back to the usual Go install location.
GO       ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
PREFIX   ?= /usr/local
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w \
	-X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION)
# Package-level time limit; the whole suite takes a few minutes, but
# deploy/deb cross-compiles both packages, minutes more on a cold cache.
TEST_TIMEOUT ?= 30m
# make deb: where the packages go and for which architectures.
DIST     ?= dist
DEB_ARCH ?= amd64,arm64

.PHONY: help deps test-deps build test test-unprivileged vet run bench fuzz clean install uninstall deb

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

deps: ## install the Debian packages the daemons use (root)
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nftables iproute2

test-deps: deps ## also install what the tests drive for real: iperf3, Prometheus, Alertmanager, lintian, tmux (root)
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 prometheus prometheus-alertmanager lintian tmux

build: ## build bin/dog-enforcer, bin/dog-exporter and bin/dog
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

vet: bin/golangci-lint ## gofmt, go vet and golangci-lint (.golangci.yml)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...
	$(GO) -C packaging vet ./...
	bin/golangci-lint run ./...

# Built from a module of its own, pinned there, so its dependencies stay out
# of go.mod; 4 to 5 minutes of CPU the first time, cached after.
bin/golangci-lint: internal/tools/golangci-lint/go.mod internal/tools/golangci-lint/go.sum
	$(GO) build -C internal/tools/golangci-lint -o $(CURDIR)/bin/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint

test: vet ## run every test (as root: namespace, nftables and tc tests need it)
	set -o pipefail; $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -json ./... | $(GO) run ./internal/tools/testsum
	$(GO) -C packaging test -count=1 ./...

test-unprivileged: ## run every test as nobody, as without root (privileged tests skip) (root)
	GO='$(GO)' TEST_TIMEOUT='$(TEST_TIMEOUT)' scripts/test-unprivileged.sh

run: build ## run enforcer + exporter in the foreground on deploy/config.example.yaml (root)
	deploy/run-local.sh deploy/config.example.yaml

fuzz: ## run every fuzz target for FUZZTIME each (default 1m; docs/RELIABILITY.md)
	FUZZTIME='$(FUZZTIME)' scripts/fuzz.sh

bench: build ## run the benchmarks and write bench/RESULTS.md (root, quiet machine)
	bench/run.sh

install: build ## install binaries, systemd units, example config (0600) and dirs into $(DESTDIR)$(PREFIX) (root)
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' deploy/install.sh install

uninstall: ## stop the services, remove rules, qdiscs, units and binaries; keep config and data unless PURGE=1 (root)
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' PURGE='$(PURGE)' deploy/install.sh uninstall

deb: ## build dist/port-traffic-dog_<version>_{amd64,arm64}.deb (version from git; VERSION=, DEB_ARCH=amd64 to choose)
	$(GO) -C packaging run . -root=$(CURDIR) -out=$(abspath $(DIST)) -arch=$(DEB_ARCH) $(if $(filter command line environment,$(origin VERSION)),-version='$(VERSION)')

clean:
	rm -rf bin dist
