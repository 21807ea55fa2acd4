# opsmop: `make` builds, `make example` runs the local example, `make test`
# runs every test (installing openssh-server, sudo and iproute2 when root).
GO       ?= go
BIN      := bin
LDFLAGS  := -s -w
EMBED    := opsmop_embedworker
EXAMPLE_ROOT ?= /tmp/opsmop-example

.PHONY: all build example test unit e2e bench bench-ansible clean

all: build

# Static binaries. opsmop carries the worker-only build (cmd/opsmop-worker)
# for each architecture, zstd-compressed (internal/workerbin): that is what
# it uploads to hosts. bin/opsmop-worker is the same worker alone, for
# debugging on a host.
build:
	$(GO) run ./internal/workerbin/pack
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(EMBED) -ldflags '$(LDFLAGS)' -o $(BIN)/opsmop ./cmd/opsmop
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/opsmop-worker ./cmd/opsmop-worker
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags $(EMBED) -ldflags '$(LDFLAGS)' -o $(BIN)/opsmop-linux-arm64 ./cmd/opsmop
	ln -sf opsmop $(BIN)/opsmop-push

example: build
	rm -rf $(EXAMPLE_ROOT)
	@echo '== check: what would change (nothing is touched)'
	$(BIN)/opsmop check --extra-vars root=$(EXAMPLE_ROOT) examples/local/policy.star
	@echo '== apply: make it so'
	$(BIN)/opsmop apply --extra-vars root=$(EXAMPLE_ROOT) examples/local/policy.star
	@echo '== apply again: nothing changes'
	$(BIN)/opsmop apply --extra-vars root=$(EXAMPLE_ROOT) examples/local/policy.star

test: build
	@if [ "$$(id -u)" = 0 ]; then bash e2e/setup.sh; fi
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

unit:
	$(GO) test -count=1 -short ./...

bench: build
	@if [ "$$(id -u)" = 0 ]; then bash e2e/setup.sh; fi
	BENCH_HOSTS='$(BENCH_HOSTS)' BENCH_RTT='$(BENCH_RTT)' BENCH_REPEAT='$(BENCH_REPEAT)' \
		$(GO) test -run '^$$' -bench '$(or $(BENCH),^BenchmarkPush$$)' -benchtime 1x -timeout 60m ./e2e/bench $(BENCHFLAGS)

bench-ansible: build
	@if [ "$$(id -u)" = 0 ]; then bash e2e/setup.sh; fi
	@command -v ansible-playbook >/dev/null 2>&1 || { \
		if [ "$$(id -u)" != 0 ]; then echo "bench-ansible: ansible-playbook missing; run as root to install Debian's ansible-core" >&2; exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends ansible-core >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends ansible-core >/dev/null; }; }
	BENCH_HOSTS='$(BENCH_HOSTS)' BENCH_RTT='$(BENCH_RTT)' BENCH_REPEAT='$(BENCH_REPEAT)' \
		$(GO) test -run '^$$' -bench '^BenchmarkAnsible$$' -benchtime 1x -timeout 30m ./e2e/bench $(BENCHFLAGS)

clean:
	rm -rf $(BIN)
