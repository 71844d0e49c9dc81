package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// options are benchreport's flags.
type options struct {
	md, raw, in, durability, goCmd string
	testArgs                       []string
}

// parseFlags parses args into options.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.md, "md", "BENCHMARKS.md", "the Markdown file whose bench regions are rewritten")
	fs.StringVar(&o.raw, "raw", filepath.Join("bin", "bench.txt"), "where the run's output is saved")
	fs.StringVar(&o.in, "in", "", "read this saved output instead of running the benchmarks")
	fs.StringVar(&o.durability, "durability", "full", "the durability the benchmarks ran with, for the header")
	fs.StringVar(&o.goCmd, "go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.testArgs = fs.Args()
	switch {
	case o.in != "" && len(o.testArgs) > 0:
		return nil, fmt.Errorf("-in reads a saved output: go test arguments %q make no sense with it", o.testArgs)
	case o.in == "" && len(o.testArgs) == 0:
		return nil, fmt.Errorf("no go test arguments (e.g. -- -bench . ./...) and no -in file")
	}
	return o, nil
}

// run is the command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 2
	}
	in := o.in
	var testErr error
	if in == "" {
		in = o.raw
		testErr = runBenchmarks(ctx, o, stdout)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "benchreport: interrupted; BENCHMARKS.md left as it was")
			return 1
		}
	}
	if err := report(in, o.md); err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 1
	}
	fmt.Fprintf(stderr, "benchreport: %s rewritten from %s\n", o.md, in)
	if testErr != nil {
		fmt.Fprintln(stderr, "benchreport: the benchmarks failed:", testErr)
		return 1
	}
	return 0
}

// runBenchmarks runs go test with o.testArgs, echoing its output to stdout
// and saving it to o.raw after lines describing the run.
func runBenchmarks(ctx context.Context, o *options, stdout io.Writer) (err error) {
	if err := os.MkdirAll(filepath.Dir(o.raw), 0o755); err != nil {
		return fmt.Errorf("create the directory of %s: %w", o.raw, err)
	}
	f, err := os.Create(o.raw)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	args := append([]string{"test", "-run", "^$"}, o.testArgs...)
	fmt.Fprint(f, describeRun(o, args, time.Now()))

	sampler := newLoadSampler()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sampler.run(sctx, 5*time.Second)
	}()
	cmd := exec.CommandContext(ctx, o.goCmd, args...)
	cmd.Stdout = io.MultiWriter(stdout, f)
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 10 * time.Second
	runErr := cmd.Run()
	stop()
	<-done
	if load := sampler.String(); load != "" {
		fmt.Fprintf(f, "hvagent-load: %s\n", load)
	}
	return runErr
}

// describeRun returns the configuration lines that head a saved output.
func describeRun(o *options, args []string, now time.Time) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	lines := [][2]string{
		{"hvagent-date", now.UTC().Format("2006-01-02 15:04 MST")},
		{"hvagent-go", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
		{"hvagent-cpu", readProc("/proc/cpuinfo", cpuModel)},
		{"hvagent-cores", fmt.Sprint(runtime.NumCPU())},
		{"hvagent-ram", readProc("/proc/meminfo", memTotal)},
		{"hvagent-durability", o.durability},
		{"hvagent-command", "go " + strings.Join(quoted, " ")},
	}
	var sb strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&sb, "%s: %s\n", l[0], l[1])
	}
	return sb.String()
}

// shellQuote quotes s for a shell when it holds anything but plain
// characters.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+", r)
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// report parses the saved output in and rewrites the regions of md.
func report(in, md string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	out, err := Parse(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(out.Benches) == 0 && len(out.Failed) == 0 {
		return fmt.Errorf("%s holds no benchmark result", in)
	}
	if err := checkTargets(targets); err != nil {
		return err
	}
	doc, err := os.ReadFile(md)
	if err != nil {
		return err
	}
	previous, err := Contents(string(doc))
	if err != nil {
		return fmt.Errorf("%s: %w", md, err)
	}
	next, err := Rewrite(string(doc), NewReport(out, targets).Regions(previous))
	if err != nil {
		return fmt.Errorf("%s: %w", md, err)
	}
	return os.WriteFile(md, []byte(next), 0o644)
}
