package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hvagent/hvagent/hvagent"
)

// consoleRetry is how often `guest console -f` reopens an ended stream.
const consoleRetry = time.Second

// detachKey is Ctrl-], which ends an interactive console.
const detachKey = 0x1d

// GuestConsoleOptions are the options of `hvctl guest console`.
type GuestConsoleOptions struct {
	cmdBase
	ID string
	// Follow reopens the console when its stream ends and prints what is
	// new, until Ctrl-C.
	Follow bool
	// Tail, when set, prints only the log's last Tail lines (then what is
	// new, with Follow).
	Tail *int
	// retry is how long Follow waits before reopening; default consoleRetry.
	retry time.Duration
}

const guestConsoleLong = `Attach to the guest's serial console, or print its log.

When stdin is a terminal (and neither --follow nor --tail is given), hvctl attaches:
the terminal is put in raw mode, what you type goes to the guest and its output is
shown as it comes. Ctrl-] detaches (the guest keeps running) and the terminal is
restored. Attaching needs a running guest and, over REST, a token of scope write.

Otherwise hvctl prints the console log and ends; with -f it keeps following (reopens
the log every second and prints what is new, until Ctrl-C); with --tail N it starts
with the log's last N lines.

`

// newCmdGuestConsole returns `hvctl guest console`.
func newCmdGuestConsole(f *Factory, runF func(*GuestConsoleOptions) error) *cobra.Command {
	opts := &GuestConsoleOptions{cmdBase: newBase(f), retry: consoleRetry}
	var tail string
	cmd := &cobra.Command{
		Use:               "console GUEST",
		Short:             "Attach to a guest's serial console, or print its log",
		Long:              guestConsoleLong + guestArgHelp,
		Example:           "  hvctl guest console web1\n  hvctl guest console web1 -f --tail 20\n  hvctl guest console web1 > web1.log",
		Args:              exactArgs("GUEST"),
		ValidArgsFunction: completeGuestIDs(f),
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "print the log and keep following it until Ctrl-C (no attach)")
	cmd.Flags().StringVarP(&tail, "tail", "n", "", "print only the log's last `N` lines (no attach)")
	cmd.RunE = runE(opts, &opts.cmdBase, runF, guestConsoleRun, func(args []string) error {
		opts.ID = args[0]
		if cmd.Flags().Changed("tail") {
			n, err := strconv.Atoi(tail)
			if err != nil || n < 0 {
				return usageErrorf("--tail %q: want a number of lines, 0 or more", tail)
			}
			opts.Tail = &n
		}
		return nil
	})
	return cmd
}

func guestConsoleRun(opts *GuestConsoleOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	if fd, ok := terminalFd(opts.IO.In); ok && !opts.Follow && opts.Tail == nil {
		return consoleAttach(opts, svc, fd)
	}
	return consoleLog(opts, svc)
}

// terminalFd returns the file descriptor of in when it is a terminal.
func terminalFd(in io.Reader) (int, bool) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// consoleAttach runs an interactive console on the terminal fd (stdin):
// raw mode, restored however the session ends.
func consoleAttach(opts *GuestConsoleOptions, svc hvagent.Service, fd int) error {
	ctx, stop := signal.NotifyContext(opts.context(), syscall.SIGHUP, syscall.SIGQUIT)
	defer stop()
	res, err := svc.Do(ctx, hvagent.ActionConsole, opts.ID, hvagent.Request{Attach: true})
	if hvagent.ErrorCode(err) == hvagent.ECONFLICT {
		return fmt.Errorf("%w (to read its console log instead, use --tail N or -f)", err)
	}
	if err != nil {
		return err
	}
	if res == nil || res.Stream == nil || res.Input == nil {
		return errors.New("console: the agent returned no session")
	}
	defer res.Stream.Close()
	old, err := term.MakeRaw(fd)
	if err != nil {
		return fmt.Errorf("console: raw terminal: %w", err)
	}
	defer func() { _ = term.Restore(fd, old) }()
	_, _ = fmt.Fprintf(opts.IO.ErrOut, "Connected to the console of %s. Ctrl-] detaches.\r\n", opts.ID)
	end, err := pipeConsole(ctx, opts.IO.In, opts.IO.Out, res)
	_ = term.Restore(fd, old)
	_, _ = fmt.Fprintln(opts.IO.ErrOut)
	_, _ = fmt.Fprintln(opts.IO.ErrOut, end)
	return err
}

// pipeConsole copies in to the session's input until Ctrl-] and the
// session's output to out, and says how the session ended: "detached"
// (Ctrl-] or the end of in), "console ended" (the guest stopped) or
// "interrupted" (ctx). Ctrl-] itself is not sent.
func pipeConsole(ctx context.Context, in io.Reader, out io.Writer, res *hvagent.Result) (string, error) {
	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, res.Stream)
		outDone <- err
	}()
	inDone := make(chan error, 1)
	go func() { inDone <- copyInput(res.Input, in) }()
	var end string
	var err error
	select {
	case <-ctx.Done():
		end = "interrupted"
	case err = <-inDone:
		end = "detached"
	case err = <-outDone:
		end = "console ended"
	}
	_ = res.Stream.Close()
	if end != "console ended" {
		<-outDone // the output copy ends with the stream's close
	}
	if err != nil {
		err = fmt.Errorf("console: %w", err)
	}
	return end, err
}

// copyInput sends what is read from in to w until Ctrl-] (nil) or the end
// of in (nil), or an error of either.
func copyInput(w io.Writer, in io.Reader) error {
	buf := make([]byte, 1024)
	for {
		n, err := in.Read(buf)
		chunk := buf[:n]
		detach := false
		if i := bytes.IndexByte(chunk, detachKey); i >= 0 {
			chunk, detach = chunk[:i], true
		}
		if len(chunk) > 0 {
			if _, werr := w.Write(chunk); werr != nil {
				return werr
			}
		}
		if detach || errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// consoleLog prints the console log, its last opts.Tail lines when set,
// and with Follow keeps printing what is new until ctx ends.
func consoleLog(opts *GuestConsoleOptions, svc hvagent.Service) error {
	ctx := opts.context()
	var seen int64
	for first := true; ; first = false {
		res, err := svc.Do(ctx, hvagent.ActionConsole, opts.ID, hvagent.Request{})
		if err == nil && (res == nil || res.Stream == nil) {
			err = errors.New("console: the agent returned no stream")
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // Ctrl-C ends the console
			}
			return err
		}
		var n int64
		if first && opts.Tail != nil {
			n, err = copyTail(opts.IO.Out, res.Stream, *opts.Tail)
		} else {
			n, err = copySkipping(opts.IO.Out, res.Stream, seen)
		}
		_ = res.Stream.Close()
		seen = max(seen, n)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		if !opts.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.retry):
		}
	}
}

// copyTail copies the last lines lines of r to w (a last line without its
// newline counts) and returns how many bytes it read from r.
func copyTail(w io.Writer, r io.Reader, lines int) (int64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return int64(len(b)), err
	}
	start := len(b)
	for i := 0; i < lines && start > 0; i++ {
		end := start
		if i == 0 && b[end-1] != '\n' {
			end++ // an unfinished last line is a line
		}
		j := bytes.LastIndexByte(b[:end-1], '\n')
		start = j + 1
	}
	_, err = w.Write(b[start:])
	return int64(len(b)), err
}

// copySkipping copies r to w except its first skip bytes, and returns how
// many bytes it read from r.
func copySkipping(w io.Writer, r io.Reader, skip int64) (int64, error) {
	skipped, err := io.CopyN(io.Discard, r, skip)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return skipped, err
	}
	n, err := io.Copy(w, r)
	return skipped + n, err
}
