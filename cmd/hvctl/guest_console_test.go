package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/testio"
)

func TestGuestConsole_TailFlag(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *GuestConsoleOptions
	require.NoError(t, parse(newCmdGuestConsole(b.f, capture(&got)), guestID, "--tail", "3", "-f"))
	require.Equal(t, 3, *got.Tail)
	require.True(t, got.Follow)
	require.NoError(t, parse(newCmdGuestConsole(b.f, capture(&got)), guestID))
	require.Nil(t, got.Tail)
	requireUsage(t, parse(newCmdGuestConsole(b.f, capture(&got)), guestID, "--tail", "x"), `--tail "x": want a number of lines, 0 or more`)
	requireUsage(t, parse(newCmdGuestConsole(b.f, capture(&got)), guestID, "-n", "-1"), `want a number of lines`)
}

func TestGuestConsole_Tail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, log string
		n         int
		want      string
	}{
		{"Last2", "a\nb\nc\n", 2, "b\nc\n"},
		{"Unfinished", "a\nb\nc", 1, "c"},
		{"MoreThanThere", "a\nb\n", 5, "a\nb\n"},
		{"Zero", "a\nb\n", 0, ""},
		{"Empty", "", 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.fake.DoFunc = func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
				return &hvagent.Result{Stream: io.NopCloser(strings.NewReader(tc.log)), Size: -1}, nil
			}
			require.NoError(t, guestConsoleRun(&GuestConsoleOptions{cmdBase: b.base(t), ID: guestID, Tail: &tc.n}))
			require.Equal(t, tc.want, b.out.String())
		})
	}
}

// session is an attached console whose output the test writes and whose
// input it reads.
type session struct {
	outR *io.PipeReader
	outW *io.PipeWriter
	mu   sync.Mutex
	in   bytes.Buffer
}

func newSession() *session {
	r, w := io.Pipe()
	return &session{outR: r, outW: w}
}

func (s *session) result() *hvagent.Result {
	return &hvagent.Result{Stream: s.outR, Input: writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.in.Write(p)
	}), Size: -1}
}

func (s *session) typed() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestPipeConsole(t *testing.T) {
	t.Parallel()
	t.Run("Detach", func(t *testing.T) {
		t.Parallel()
		s := newSession()
		out := &testio.Buffer{}
		inR, inW := io.Pipe()
		defer inR.Close()
		ended := make(chan string, 1)
		go func() {
			end, err := pipeConsole(t.Context(), inR, out, s.result())
			require.NoError(t, err)
			ended <- end
		}()
		_, err := s.outW.Write([]byte("/ # "))
		require.NoError(t, err)
		_, err = inW.Write([]byte("ls\r"))
		require.NoError(t, err)
		_, err = inW.Write([]byte("x\x1dy")) // Ctrl-] in the middle: x is sent, y is not
		require.NoError(t, err)
		require.Equal(t, "detached", <-ended)
		require.Equal(t, "ls\rx", s.typed())
		require.Equal(t, "/ # ", out.String())
	})
	t.Run("GuestStopped", func(t *testing.T) {
		t.Parallel()
		s := newSession()
		inR, _ := io.Pipe()
		defer inR.Close()
		require.NoError(t, s.outW.Close())
		end, err := pipeConsole(t.Context(), inR, io.Discard, s.result())
		require.NoError(t, err)
		require.Equal(t, "console ended", end)
	})
	t.Run("Interrupted", func(t *testing.T) {
		t.Parallel()
		s := newSession()
		inR, _ := io.Pipe()
		defer inR.Close()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		end, err := pipeConsole(ctx, inR, io.Discard, s.result())
		require.NoError(t, err)
		require.Equal(t, "interrupted", end)
	})
	t.Run("EndOfInput", func(t *testing.T) {
		t.Parallel()
		s := newSession()
		end, err := pipeConsole(t.Context(), strings.NewReader("uptime\r"), io.Discard, s.result())
		require.NoError(t, err)
		require.Equal(t, "detached", end)
		require.Equal(t, "uptime\r", s.typed())
	})
}

func TestGuestConsole_NotATerminalReadsTheLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got hvagent.Request
	b.fake.DoFunc = func(_ context.Context, _, _ string, req hvagent.Request) (*hvagent.Result, error) {
		got = req
		return &hvagent.Result{Stream: io.NopCloser(strings.NewReader("log\n")), Size: -1}, nil
	}
	require.NoError(t, guestConsoleRun(&GuestConsoleOptions{cmdBase: b.base(t), ID: guestID}))
	require.False(t, got.Attach)
	require.Equal(t, "log\n", b.out.String())
}
