# opsmop: `make` builds, `make example` runs the local example, `make test`
# runs every test (installing openssh-server, sudo and iproute2 when root).
GO       ?= go
BIN      := bin
LDFLAGS  := -s -w
EXAMPLE_ROOT ?= /tmp/opsmop-example

.PHONY: all build example test unit e2e bench bench-ansible clean

all: build

# Static binaries: the controller uploads itself as the worker, so the
# binary must run on any Linux host of its architecture.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/opsmop ./cmd/opsmop
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/opsmop-linux-arm64 ./cmd/opsmop
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
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

unit:
	$(GO) test -count=1 -short ./...

bench: build
	@if [ "$$(id -u)" = 0 ]; then bash e2e/setup.sh; fi
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./e2e/... $(BENCHFLAGS)

clean:
	rm -rf $(BIN)
