package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

func TestTokenCreate_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *TokenCreateOptions
	require.NoError(t, parse(newCmdTokenCreate(b.f, capture(&got)), "ci", "--scope", "write", "-q"))
	require.Equal(t, "ci", got.Name)
	require.Equal(t, rest.ScopeWrite, got.Scope)
	require.True(t, got.Out.Quiet)
	require.NoError(t, parse(newCmdTokenCreate(b.f, capture(&got)), "ops team", "--scope", "admin", "-o", "json"))
	require.Equal(t, "ops team", got.Name)
	require.True(t, got.Out.json())

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--scope", "read"}, "needs NAME"},
		{[]string{"a", "b", "--scope", "read"}, "takes 1 argument(s), got 2"},
		{[]string{"ci"}, "--scope: required: read, write or admin"},
		{[]string{"ci", "--scope", "root"}, `--scope: "root" is not read, write or admin`},
		{[]string{"", "--scope", "read"}, "token name is empty"},
		{[]string{strings.Repeat("n", 65), "--scope", "read"}, "65 characters long, more than 64"},
		{[]string{"a\tb", "--scope", "read"}, "not printable"},
		{[]string{"a\x00b", "--scope", "read"}, "not printable"},
		{[]string{"\xff", "--scope", "read"}, "not valid UTF-8"},
		{[]string{" ci", "--scope", "read"}, "starts or ends with a space"},
		{[]string{"ci", "--scope", "read", "-q", "-o", "json"}, "-q and -o json cannot be used together"},
		{[]string{"ci", "--scope", "read", "-o", "yaml"}, `--output: "yaml" is not table or json`},
	} {
		requireUsage(t, parse(newCmdTokenCreate(b.f, capture(&got)), tc.args...), tc.msg)
	}
	require.NoError(t, parse(newCmdTokenCreate(b.f, capture(&got)), strings.Repeat("é", 64), "--scope", "read"), "64 characters, not bytes")
}

// fixedRand returns a reader of n bytes of value v.
func fixedRand(v byte) *bytes.Reader {
	return bytes.NewReader(bytes.Repeat([]byte{v}, tokenBytes))
}

func TestTokenCreate_Run(t *testing.T) {
	t.Parallel()
	want := tokenPrefix + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, tokenBytes))
	sum := sha256.Sum256([]byte(want))
	entry := `{"name":"ci","sha256":"` + hex.EncodeToString(sum[:]) + `","scope":"write"}`

	t.Run("Table", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		opts := &TokenCreateOptions{cmdBase: b.base(t), Name: "ci", Scope: rest.ScopeWrite, Out: outputOptions{Format: formatTable}, Rand: fixedRand(0xfb)}
		require.NoError(t, tokenCreateRun(opts))
		require.Equal(t, want+"\n", b.out.String())
		require.Contains(t, want, "_-", "URL-safe alphabet")
		lines := strings.Split(strings.TrimSuffix(b.errOut.String(), "\n"), "\n")
		require.Equal(t, entry, lines[len(lines)-1], "the entry is stderr's last line")
		require.Contains(t, b.errOut.String(), "HVAGENT_TOKEN=<token>")
		require.Contains(t, b.errOut.String(), "hvctl --token <token>")
		require.NotContains(t, b.errOut.String(), want, "the token is only on stdout")
	})
	t.Run("Quiet", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		opts := &TokenCreateOptions{cmdBase: b.base(t), Name: "ci", Scope: rest.ScopeWrite, Out: outputOptions{Format: formatTable, Quiet: true}, Rand: fixedRand(0xfb)}
		require.NoError(t, tokenCreateRun(opts))
		require.Equal(t, want+"\n", b.out.String())
		require.Empty(t, b.errOut.String())
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		opts := &TokenCreateOptions{cmdBase: b.base(t), Name: "ci", Scope: rest.ScopeWrite, Out: outputOptions{Format: formatJSON}, Rand: fixedRand(0xfb)}
		require.NoError(t, tokenCreateRun(opts))
		require.JSONEq(t, `{"name":"ci","scope":"write","token":"`+want+`","entry":`+entry+`}`, b.out.String())
		require.Empty(t, b.errOut.String())
	})
	t.Run("RandomFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		opts := &TokenCreateOptions{cmdBase: b.base(t), Name: "ci", Scope: rest.ScopeRead, Out: outputOptions{Format: formatTable}, Rand: bytes.NewReader(make([]byte, 5))}
		err := tokenCreateRun(opts)
		require.ErrorContains(t, err, "read random bytes")
		require.Empty(t, b.out.String(), "no short token is printed")
	})
	t.Run("NoAgent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.f.Service = func() (hvagent.Service, error) { return nil, errors.New("must not be asked") }
		require.Equal(t, exitOK, b.run(t.Context(), "token", "create", "ci", "--scope", "read", "--addr", "127.0.0.1:1"))
		require.Regexp(t, `^hva_[A-Za-z0-9_-]{43}\n$`, b.out.String())
	})
	t.Run("Random", func(t *testing.T) {
		t.Parallel()
		seen := map[string]bool{}
		for range 20 {
			tok, err := newToken(nil)
			require.NoError(t, err)
			require.Len(t, tok, len(tokenPrefix)+43)
			require.False(t, seen[tok], "token repeated")
			seen[tok] = true
		}
	})
}

// createToken runs `hvctl token create NAME --scope SCOPE -o json`.
func createToken(t *testing.T, name, scope string) createdToken {
	t.Helper()
	b := setup(t)
	require.Equal(t, exitOK, b.run(t.Context(), "token", "create", name, "--scope", scope, "-o", "json"), b.errOut.String())
	var c createdToken
	require.NoError(t, json.Unmarshal(b.out.Bytes(), &c))
	return c
}

func TestTokenCreate_AcceptedByHandler(t *testing.T) {
	t.Parallel()
	reader, admin := createToken(t, "monitor", rest.ScopeRead), createToken(t, "ops", rest.ScopeAdmin)
	file, err := json.Marshal([]rest.Token{reader.Entry, admin.Entry})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "tokens.json")
	require.NoError(t, os.WriteFile(path, file, 0o600))
	tokens, err := rest.LoadTokens(path)
	require.NoError(t, err)

	paused := ""
	fake := setup(t).fake
	fake.JobsFunc = func(context.Context, hvagent.JobFilter) ([]*hvagent.Job, error) { return nil, nil }
	fake.PauseQueueFunc = func(_ context.Context, action string) error { paused = action; return nil }
	fake.HealthFunc = func(context.Context) (*hvagent.Health, error) { return &hvagent.Health{Status: "ok"}, nil }
	h := rest.NewHandler(fake, rest.HandlerOptions{Tokens: tokens})
	do := func(method, path, token string) int {
		r := httptest.NewRequestWithContext(t.Context(), method, path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusOK, do("GET", "/jobs", reader.Token))
	require.Equal(t, http.StatusOK, do("GET", "/jobs", admin.Token))
	require.Equal(t, http.StatusUnauthorized, do("GET", "/jobs", ""))
	require.Equal(t, http.StatusUnauthorized, do("GET", "/jobs", reader.Token+"x"))
	require.Equal(t, http.StatusUnauthorized, do("GET", "/jobs", reader.Entry.SHA256), "the file's hash is not a token")
	require.Equal(t, http.StatusForbidden, do("POST", "/queue/pause?action=reboot", reader.Token), "read scope")
	require.Empty(t, paused)
	require.Equal(t, http.StatusOK, do("POST", "/queue/pause?action=reboot", admin.Token), "admin scope")
	require.Equal(t, "reboot", paused)
}
