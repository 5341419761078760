# Flotilla — build, test and run targets. Every target installs what it
# needs itself: the test control planes and developer tools are built from
# the Go module proxy into bin/ (pinned by the modules under hack/tools).

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

K8S_VERSION      ?= 1.37.2
BIN              := $(CURDIR)/bin
KUBEBUILDER_ASSETS ?= $(BIN)/k8s/$(K8S_VERSION)
TOOLS            := $(BIN)/tools
CONTROLLER_GEN   := $(TOOLS)/controller-gen
GOLANGCI_LINT    := $(TOOLS)/golangci-lint

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/flotilla-gitops/flotilla/internal/version.Version=$(VERSION) \
           -X github.com/flotilla-gitops/flotilla/internal/version.Commit=$(COMMIT)

# Test timeout for the whole suite; e2e packages start real control planes.
TEST_TIMEOUT ?= 25m
# Packages tested in parallel: each e2e package runs several apiservers.
TEST_PARALLEL ?= 2
# Packages run a second time with the race detector: the pure ones, the CLI,
# and the apply engine and reconcilers (one apiserver each); about 4 minutes
# on 2 cores. The e2e, demo and bench packages are left out for time.
RACE_PKGS ?= ./fleet/ ./placement/ ./render/... ./source/... ./status/... ./internal/fleetdiff/ ./internal/pipeline/ \
             ./apply/... ./agent/bundle/ ./agent/seal/ ./dashboard/

export KUBEBUILDER_ASSETS

.PHONY: all
all: build

##@ Build

.PHONY: build
build: ## Build bin/flotilla, stamped with the version and commit from git.
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/flotilla ./cmd/flotilla

.PHONY: build-image-binary
build-image-binary: ## Build bin/flotilla-image: the image's binary (no demo, no test machinery).
	CGO_ENABLED=0 go build -trimpath -tags nodemo -ldflags "$(LDFLAGS)" -o $(BIN)/flotilla-image ./cmd/flotilla

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code and CRDs (config/crd) from api/.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd rbac:roleName=flotilla-controller paths=./api/... paths=./controllers/... paths=./dashboard/... output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	go run ./hack/crd2schema -crds config/crd/bases -out docs/schema

.PHONY: manifests
manifests: generate ## Alias of generate.

##@ Test

.PHONY: test-binaries
test-binaries: ## Build the test control planes (kube-apiserver, etcd, kubectl, ...) when missing.
	@./hack/build-test-binaries.sh $(KUBEBUILDER_ASSETS)

.PHONY: chromium
chromium: ## Install Debian's Chromium for the browser tests when missing (says so).
	@./hack/ensure-chromium.sh

.PHONY: vet
vet: ## go vet every package.
	go vet ./...

.PHONY: test
test: test-binaries chromium vet ## Run vet, every test against real control planes, then the race detector on RACE_PKGS.
	go test -p $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT) ./...
	go test -race -p $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT) $(RACE_PKGS)
	go test ./render -run '^$$' -fuzz '^FuzzRender$$' -fuzztime 20s -fuzzminimizetime 10x

.PHONY: bench
bench: test-binaries ## Run the benchmarks one package at a time (results go in docs/benchmarks.md).
	go test -p 1 -run '^$$' -bench . -benchmem -benchtime 1x -timeout 60m ./render/... ./dashboard/ ./test/bench/...

##@ Quality

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (config: .golangci.yml).
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: generate ## Fail when generated files are stale or go mod tidy changes anything.
	go mod tidy
	@if [ -n "$$(git status --porcelain -- go.mod go.sum api config/crd config/rbac docs/schema)" ]; then \
		echo "generated files or go.mod are stale: run 'make generate' and 'go mod tidy' and commit the result"; \
		git status --porcelain -- go.mod go.sum api config/crd config/rbac docs/schema; \
		git --no-pager diff --stat -- go.mod go.sum api config/crd config/rbac docs/schema; \
		exit 1; \
	fi
	@if go list -deps -tags nodemo ./cmd/flotilla | grep -E '^(testing|github.com/fluxcd/pkg/gittestserver|sigs.k8s.io/controller-runtime/pkg/envtest|github.com/flotilla-gitops/flotilla/internal/(testenv|demo))$$'; then \
		echo "the image binary (-tags nodemo) links the test machinery listed above"; exit 1; \
	fi
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "not gofmt-formatted:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

$(CONTROLLER_GEN): hack/tools/dev/go.mod
	cd hack/tools/dev && go build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

$(GOLANGCI_LINT): hack/tools/dev/go.mod
	@echo ">> building golangci-lint (first time only: a few minutes)"
	cd hack/tools/dev && go build -o $(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

##@ Run

.PHONY: demo
demo: build test-binaries ## Run the factory fleet locally: a hub, one cluster per factory and a Git server.
	$(BIN)/flotilla demo --assets $(KUBEBUILDER_ASSETS) --fleet examples/factory-fleet

.PHONY: clean
clean: ## Remove built binaries (keeps the test control planes).
	rm -f $(BIN)/flotilla

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
