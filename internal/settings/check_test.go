package settings

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// tokensFile writes a valid tokens file and returns its path.
func tokensFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.json")
	require.NoError(t, os.WriteFile(path, []byte(`[{"name":"ops","sha256":"`+strings.Repeat("0f", 32)+`","scope":"admin"}]`), 0o600))
	return path
}

func TestCheck(t *testing.T) {
	t.Parallel()
	stage := hvagent.StageConfig{Service: "q", Method: "QEMU.Start"}
	wired := func(f *File) {
		f.Services = map[string]hvagent.ServiceConfig{"q": {Port: 20002}}
		f.Actions = map[string]hvagent.ActionConfig{hvagent.ActionStart: {Stages: []hvagent.StageConfig{stage}}}
	}
	group, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	require.NoError(t, err)
	tokens := tokensFile(t)
	tests := []struct {
		name     string
		modify   func(f *File)
		warnings []string
		err      string // "" = accepted
	}{
		{"OK", wired, nil, ""},
		{"NoAction", func(f *File) { f.Services = map[string]hvagent.ServiceConfig{"q": {Port: 20002}} }, []string{NoActionWarning}, ""},
		{"Simulation", func(f *File) {
			wired(f)
			f.Services["sim"], f.Services["a"] = hvagent.ServiceConfig{Builtin: "sim"}, hvagent.ServiceConfig{Builtin: "sim", Path: "/x"}
		}, []string{"services using the SIMULATED driver (no real guests): a, sim"}, ""},
		{"NoActionSimulation", func(f *File) { f.Services = map[string]hvagent.ServiceConfig{"sim": {Builtin: "sim"}} },
			[]string{NoActionWarning, "services using the SIMULATED driver (no real guests): sim"}, ""},
		{"TokensGuardExposure", func(f *File) { wired(f); f.Listen, f.TokensFile = "0.0.0.0:8443", tokens }, nil, ""},
		{"SocketGroup", func(f *File) { wired(f); f.SocketGroup = group.Name }, nil, ""},
		{"SocketGroupID", func(f *File) { wired(f); f.SocketGroup = group.Gid }, nil, ""},
		{"Invalid", func(f *File) { wired(f); f.LogLevel = "loud" }, nil, `config: log_level "loud" is not one of debug, info, warn, warning, error`},
		{"Exposed", func(f *File) { wired(f); f.AdminListen = "192.0.2.1:9000" }, nil, "config: admin_listen 192.0.2.1:9000 is not a loopback address: " +
			"refusing to serve the API there without authentication; set tokens_file (--tokens-file) or client_ca (--client-ca), or listen on 127.0.0.1"},
		{"MissingTokens", func(f *File) { wired(f); f.TokensFile = "/nonexistent/tokens.json" }, nil,
			"config: tokens_file: tokens file: open /nonexistent/tokens.json: no such file or directory"},
		{"BadTLSAndGroup", func(f *File) {
			wired(f)
			f.TLSCert, f.TLSKey, f.SocketGroup = tokens, tokens, "no-such-group-hvagent"
		}, nil, "config: load tls_cert and tls_key: tls: failed to find any PEM data in certificate input; socket_group no-such-group-hvagent: no such group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &File{}
			tt.modify(f)
			v, err := Check(f)
			if tt.err != "" {
				requireInvalid(t, err, tt.err)
				require.Nil(t, v)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.warnings, v.Warnings)
			// The same verdict after the defaults are applied, as hvagentd
			// checks its effective config.
			eff, err := Check(f.WithDefaults())
			require.NoError(t, err)
			require.Equal(t, v.Warnings, eff.Warnings)
		})
	}
}

func TestDaemon_LoadFiles(t *testing.T) {
	t.Parallel()
	t.Run("None", func(t *testing.T) {
		t.Parallel()
		files, err := (&Daemon{}).LoadFiles()
		require.NoError(t, err)
		require.Equal(t, &Files{SocketGID: -1}, files)
	})
	t.Run("Tokens", func(t *testing.T) {
		t.Parallel()
		files, err := (&Daemon{TokensFile: tokensFile(t), SocketGroup: strconv.Itoa(os.Getgid())}).LoadFiles()
		require.NoError(t, err)
		require.Len(t, files.Tokens, 1)
		require.Equal(t, "ops", files.Tokens[0].Name)
		require.Nil(t, files.TLS)
		require.Equal(t, os.Getgid(), files.SocketGID)
	})
}
