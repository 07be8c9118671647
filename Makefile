# Gatehouse — the commands CI and developers share. `make help` lists them.
GO       ?= go
PKGS     ?= ./...
BIN      ?= bin/gatehouse
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/gatehouse/gatehouse/internal/app.Version=$(VERSION)
GOBIN    ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION ?= v0.8.2
GOSEC_VERSION       ?= v2.30.0
GOVULNCHECK_VERSION ?= v1.1.4
FUZZTIME ?= 5s

.PHONY: help run build test test-short race lint vet staticcheck gosec fmt fmt-check fuzz fuzz-short bench load vuln tools check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## run Gatehouse on embedded SQLite (data in ./data)
	$(GO) run ./cmd/gatehouse serve

build: ## build bin/gatehouse
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse

test: fmt-check vet ## run every test (SQLite always; PostgreSQL/Redis when GATEHOUSE_TEST_*_URL are set), with the race detector, then each fuzz target briefly
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(MAKE) --no-print-directory fuzz-short

test-short: ## run the tests without the race detector or fuzzing
	$(GO) test -count=1 $(PKGS)

vet: ## go vet
	$(GO) vet $(PKGS)

fmt: ## gofmt -w
	gofmt -w $$(git ls-files '*.go')

fmt-check: ## fail when gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^examples/.*/vendor/')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; echo "run: make fmt"; exit 1; fi

tools: ## install staticcheck and gosec (pinned versions)
	@command -v staticcheck >/dev/null || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@command -v gosec >/dev/null || GOFLAGS= $(GO) install github.com/securego/gosec/v2/cmd/gosec@$(GOSEC_VERSION)

staticcheck: tools
	PATH="$(GOBIN):$$PATH" staticcheck $(PKGS)

gosec: tools
	PATH="$(GOBIN):$$PATH" gosec -quiet -exclude-generated -exclude-dir=examples $(PKGS)

lint: vet staticcheck gosec ## go vet, staticcheck and gosec

FUZZ_TARGETS = $(shell grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)

# A run that ends in the fuzz engine's own "context deadline exceeded" (the
# time ran out while it was minimizing a new corpus entry) without a failing
# input is retried once; any crasher fails at once (it is written to testdata/fuzz).
fuzz-short: ## run every fuzz target for FUZZTIME (5s) — what CI does
	@for dir in $(FUZZ_TARGETS); do \
	  for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$dir $$f ($(FUZZTIME))"; \
	    out=$$($(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=10x $$dir 2>&1); rc=$$?; echo "$$out" | tail -3; \
	    if [ $$rc -ne 0 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input'; then \
	      echo "fuzz engine timed out while minimizing; retrying $$f once"; \
	      $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=10x $$dir || exit 1; \
	    elif [ $$rc -ne 0 ]; then echo "$$out"; exit 1; fi; \
	  done; \
	done

fuzz: ## fuzz every target for 2 minutes each
	$(MAKE) --no-print-directory fuzz-short FUZZTIME=2m

bench: ## Go benchmarks (benchstat-ready) and the HTTP load test; figures go to docs/benchmarks.md
	$(GO) test -run='^$$' -bench=. -benchmem -count=6 $(PKGS) | tee bench.txt
	@command -v wrk >/dev/null || echo "note: wrk is not installed; the fixed-request scenarios fall back to the Go generator (apt-get install wrk for figures comparable with docs/benchmarks.md)"
	$(GO) run ./internal/loadtest -duration 10s

vuln: ## govulncheck against the offline database in ../shared
	@db=$$(mktemp -d); tar -xzf ../shared/govulndb-*.tgz -C $$db; \
	dir=$$(find $$db -maxdepth 2 -name index -o -maxdepth 2 -name 'db.json*' | head -1 | xargs dirname); \
	GOFLAGS= $(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db file://$$dir $(PKGS)

check: test lint ## everything CI checks
