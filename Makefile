# gatewatch — run `make help` for the targets.
GO       ?= go
TOOLS    ?= $(CURDIR)/.cache/bin
export GATEWATCH_TOOLS_DIR := $(TOOLS)

VERSION  := $(shell sed -n 's/^const Release = "\(.*\)"/\1/p' internal/version/version.go)
IMAGE    := ghcr.io/gatewatch/gatewatch:$(VERSION)

.PHONY: help build dist install-plugin image test test-unit test-integration tools lint bench update-golden demo

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/gatewatch
	$(GO) build -trimpath -ldflags='-s -w' -o bin/gatewatch ./cmd/gatewatch

PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

dist: ## Release archives kubectl-gatewatch_<version>_<os>_<arch>.tar.gz (for .krew.yaml) in dist/
	@rm -rf dist && mkdir -p dist
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; d=dist/kubectl-gatewatch_$(VERSION)_$${os}_$${arch}; \
	  mkdir -p $$d && CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags='-s -w' -o $$d/kubectl-gatewatch ./cmd/gatewatch && \
	  tar -C $$d -czf $$d.tar.gz . && rm -rf $$d && echo $$d.tar.gz; done

install-plugin: ## Install the kubectl plugin (kubectl gatewatch) into $$(go env GOPATH)/bin
	$(GO) build -trimpath -ldflags='-s -w' -o "$$($(GO) env GOPATH)/bin/kubectl-gatewatch" ./cmd/gatewatch

image: ## Build the container image $(IMAGE) (docker)
	docker build -t $(IMAGE) .

tools: ## Build the pinned promtool and amtool into .cache/bin (once)
	./scripts/tools.sh
	./scripts/k8s-tools.sh

test: tools lint ## Run every check and test, including the real promtool/amtool checks
	$(GO) test -count=1 ./...

test-unit: ## Run the tests that need no external tools
	$(GO) test -short ./...

test-integration: tools ## Run only the integration tests (real promtool/amtool)
	$(GO) test -count=1 ./test/...

lint: ## gofmt, go vet, go mod tidy must leave no diff
	@test -z "$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))" || { gofmt -l $$(git ls-files -co --exclude-standard '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy && git diff --exit-code -- go.mod go.sum

bench: ## Run the benchmarks and write BENCHMARKS.md
	./scripts/bench.sh

update-golden: ## Rewrite the golden files from the current code
	$(GO) test ./internal/render/ -run TestGolden -update
	$(GO) test ./internal/bridge/ -run TestGolden -update
	$(GO) test ./test/ -run TestChartFilesCurrent -update
