# hvagent — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
PKGS := ./...
FUZZTIME ?= 30s
# FUZZMINIMIZE caps the minimizing of each new input (the default, 60s,
# would take a 30s run's whole time while the rate shows 0/sec).
FUZZMINIMIZE ?= 1000x
BENCH ?= .
COUNT ?= 3
BENCHTIME ?= 1s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install the Debian packages hvagent needs (only those missing).
	@./scripts/deps.sh

.PHONY: guest-image
guest-image: ## Build the tiny test guest into <data_dir>/images/testguest (data dir: make's DATA_DIR=... if given, else as hvagentd resolves it).
	@./scripts/guest-image.sh $(data_dir_flag)

.PHONY: build
build: ## Build every command into ./bin.
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# DATA_DIR, when given on the command line, is passed to hvagentd and to
# scripts/guest-image.sh; otherwise both use hvagentd's default data dir.
data_dir_flag = $(if $(filter command line,$(origin DATA_DIR)),--data-dir $(DATA_DIR))

.PHONY: run
run: deps build ## Build and start hvagentd (embedded default: QEMU + qcow2 storage), API on 127.0.0.1:8080 and the data dir's unix socket.
	./$(BIN)/hvagentd $(data_dir_flag) --listen 127.0.0.1:8080 --log-format console

.PHONY: check
check: ## Check gofmt, go vet and go mod tidy leave nothing to change.
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>&1); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff

# make test also runs every benchmark once, on small data
# (HVAGENT_BENCH_SMALL), so that none rots; make bench measures.
.PHONY: test
test: deps check ## Install what is missing, check, and run the whole test suite with -race (and every benchmark once).
	HVAGENT_BENCH_SMALL=1 $(GO) test -race -shuffle=on -bench . -benchtime 1x -timeout 20m $(PKGS)

.PHONY: bench
bench: deps ## Run the benchmarks matching BENCH in PKGS (COUNT, BENCHTIME) one package at a time and rewrite BENCHMARKS.md's tables; output in bin/bench.txt. hvagentd's run real QEMUs.
	$(GO) run ./internal/benchreport -md BENCHMARKS.md -raw $(BIN)/bench.txt -- \
		-bench '$(BENCH)' -benchmem -count $(COUNT) -benchtime $(BENCHTIME) -p 1 -timeout 90m $(PKGS)

.PHONY: bench-report
bench-report: ## Rewrite BENCHMARKS.md's tables from the last make bench's output (bin/bench.txt), e.g. after a target changed.
	$(GO) run ./internal/benchreport -md BENCHMARKS.md -in $(BIN)/bench.txt

.PHONY: chaos
chaos: ## Run the long fault-injection test: 1,000 jobs over 50 guests, hvagentd SIGKILLed under load, 3 rounds (results go in RELIABILITY.md by hand).
	HVAGENT_CHAOS=full $(GO) test -race -count 1 -run '^TestChaos' -v -timeout 30m ./cmd/hvagentd/ 2>&1 | grep -v '^        {'; exit $${PIPESTATUS[0]}

.PHONY: fuzz
fuzz: ## Fuzz every fuzz target for $(FUZZTIME) each (minimizing a new input for at most $(FUZZMINIMIZE)).
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
		done; \
	done

.PHONY: lint
lint: check ## Run staticcheck (and the checks).
	$(GO) run $(STATICCHECK) $(PKGS)

.PHONY: clean
clean: ## Remove build output.
	rm -rf $(BIN)
