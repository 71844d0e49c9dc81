// Command benchreport runs the project's benchmarks and rewrites the
// generated tables of BENCHMARKS.md from their results (`make bench`).
//
// It runs `go test -run '^$' ARGS...` with the arguments after its own
// flags, echoes the output and saves it, with a description of the machine
// and the run, to -raw; then it parses the benchmark results and rewrites
// the regions of -md marked "<!-- bench:NAME -->" … "<!-- /bench:NAME -->",
// keeping everything else. With -in it reads a saved output instead of
// running anything, so the tables can be regenerated after a change of the
// targets. The declared targets are the table in target.go.
//
// Usage:
//
//	go run ./internal/benchreport [-md BENCHMARKS.md] [-raw bin/bench.txt] [-durability full] -- -bench . -count 3 ./...
//	go run ./internal/benchreport -in bin/bench.txt
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
