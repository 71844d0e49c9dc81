package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/host"
	"github.com/hvagent/hvagent/internal/settings"
)

// parseCase is a command line, an environment and config files; "@A" and
// "@B" in args and env values stand for the paths of files A and B.
type parseCase struct {
	args  []string
	env   map[string]string
	fileA string
	fileB string
}

// parse runs Main.ParseFlags on c.
func (c parseCase) parse(t *testing.T) (*Main, error) {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, content := range map[string]string{"@A": c.fileA, "@B": c.fileB} {
		if content != "" {
			paths[name] = filepath.Join(dir, name[1:]+".json")
			require.NoError(t, os.WriteFile(paths[name], []byte(content), 0o600))
		}
	}
	subst := func(s string) string {
		for k, v := range paths {
			s = strings.ReplaceAll(s, k, v)
		}
		return s
	}
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = subst(a)
	}
	m := NewMain()
	m.LookupEnv = func(key string) (string, bool) {
		v, ok := c.env[key]
		return subst(v), ok
	}
	return m, m.ParseFlags(args)
}

// effective returns the JSON of config key in m's effective config.
func effective(t *testing.T, m *Main, key string) string {
	t.Helper()
	b, err := json.Marshal(&settings.File{Config: *m.Config, Daemon: *m.Daemon})
	require.NoError(t, err)
	var all map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &all))
	return string(all[key])
}

func TestParseFlags_Precedence(t *testing.T) {
	t.Parallel()
	cwd, err := os.Getwd()
	require.NoError(t, err)
	listen := func(port string) string { return `{"listen":"127.0.0.1:` + port + `"}` }
	for _, tt := range []struct {
		name string
		parseCase
		key, want string
	}{
		{name: "ListenDefault", key: "listen", want: `"127.0.0.1:8080"`},
		{name: "ListenFile", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: listen("1")}, key: "listen", want: `"127.0.0.1:1"`},
		{name: "ListenEnvOverFile", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: listen("1"),
			env: map[string]string{"HVAGENT_LISTEN": "127.0.0.1:2"}}, key: "listen", want: `"127.0.0.1:2"`},
		{name: "ListenFlagOverEnv", parseCase: parseCase{args: []string{"-c", "@A", "--listen", "127.0.0.1:3"}, fileA: listen("1"),
			env: map[string]string{"HVAGENT_LISTEN": "127.0.0.1:2"}}, key: "listen", want: `"127.0.0.1:3"`},
		{name: "ListenShortAddress", parseCase: parseCase{args: []string{"-a", "127.0.0.1:4"},
			env: map[string]string{"HVAGENT_LISTEN": "127.0.0.1:2"}}, key: "listen", want: `"127.0.0.1:4"`},
		{name: "ListenLongAddress", parseCase: parseCase{args: []string{"--address", "[::1]:5"}}, key: "listen", want: `"[::1]:5"`},
		{name: "ListenEmptyFlagIsOff", parseCase: parseCase{args: []string{"--listen", ""}}, key: "listen", want: `"off"`},
		{name: "ListenEnvOff", parseCase: parseCase{env: map[string]string{"HVAGENT_LISTEN": "off"}}, key: "listen", want: `"off"`},
		{name: "ListenFileOff", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: `{"listen":"off"}`}, key: "listen", want: `"off"`},
		{name: "EmptyEnvIgnored", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: listen("1"),
			env: map[string]string{"HVAGENT_LISTEN": ""}}, key: "listen", want: `"127.0.0.1:1"`},
		{name: "MaxQueuedDefault", key: "max_queued", want: `1000`},
		{name: "MaxQueuedFile", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: `{"max_queued":5}`}, key: "max_queued", want: `5`},
		{name: "MaxQueuedEnv", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: `{"max_queued":5}`,
			env: map[string]string{"HVAGENT_MAX_QUEUED": "6"}}, key: "max_queued", want: `6`},
		{name: "MaxQueuedFlag", parseCase: parseCase{args: []string{"-c", "@A", "--max-queued=7"}, fileA: `{"max_queued":5}`,
			env: map[string]string{"HVAGENT_MAX_QUEUED": "6"}}, key: "max_queued", want: `7`},
		{name: "MaxEventsEnv", parseCase: parseCase{env: map[string]string{"HVAGENT_MAX_EVENTS": "50"}}, key: "max_events", want: `50`},
		{name: "MaxLoggedJobsFlag", parseCase: parseCase{args: []string{"--max-logged-jobs", "9"}}, key: "max_logged_jobs", want: `9`},
		{name: "MaxStreamsDefault", key: "max_streams", want: `64`},
		{name: "MaxStreamsEnv", parseCase: parseCase{env: map[string]string{"HVAGENT_MAX_STREAMS": "3"}}, key: "max_streams", want: `3`},
		{name: "MaxEventClientsDefault", key: "max_event_clients", want: `256`},
		{name: "MaxEventClientsFlag", parseCase: parseCase{args: []string{"-c", "@A", "--max-event-clients", "9"}, fileA: `{"max_event_clients":5}`},
			key: "max_event_clients", want: `9`},
		{name: "RequestRateFlag", parseCase: parseCase{args: []string{"--request-rate", "0.5"}}, key: "request_rate", want: `0.5`},
		{name: "RequestBurstDefault", parseCase: parseCase{env: map[string]string{"HVAGENT_REQUEST_RATE": "7.2"}}, key: "request_burst", want: `8`},
		{name: "RequestBurstFile", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: `{"request_rate":10,"request_burst":40}`},
			key: "request_burst", want: `40`},
		{name: "ShutdownTimeoutDefault", key: "shutdown_timeout", want: `"30s"`},
		{name: "ShutdownTimeoutEnv", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: `{"shutdown_timeout":"5s"}`,
			env: map[string]string{"HVAGENT_SHUTDOWN_TIMEOUT": "6s"}}, key: "shutdown_timeout", want: `"6s"`},
		{name: "ShutdownTimeoutFlag", parseCase: parseCase{args: []string{"--shutdown-timeout", "1m"},
			env: map[string]string{"HVAGENT_SHUTDOWN_TIMEOUT": "6s"}}, key: "shutdown_timeout", want: `"1m0s"`},
		{name: "LogLevelShort", parseCase: parseCase{args: []string{"-l", "debug"}}, key: "log_level", want: `"debug"`},
		{name: "LogLevelEnv", parseCase: parseCase{env: map[string]string{"HVAGENT_LOG_LEVEL": "warning"}}, key: "log_level", want: `"warning"`},
		{name: "LogFormatFlag", parseCase: parseCase{args: []string{"--log-format", "console"}}, key: "log_format", want: `"console"`},
		{name: "DurabilityEnv", parseCase: parseCase{env: map[string]string{"HVAGENT_DURABILITY": "normal"}}, key: "durability", want: `"normal"`},
		{name: "DataDirRelative", parseCase: parseCase{args: []string{"--data-dir", "rel/dir"}}, key: "data_dir",
			want: `"` + filepath.Join(cwd, "rel/dir") + `"`},
		{name: "DBPathDefault", parseCase: parseCase{args: []string{"--data-dir", "/d"}}, key: "dbpath", want: `"/d/hvagent.db"`},
		{name: "DBPathEnv", parseCase: parseCase{args: []string{"--data-dir", "/d"}, env: map[string]string{"HVAGENT_DBPATH": "/x/j.db"}},
			key: "dbpath", want: `"/x/j.db"`},
		{name: "SocketDefault", parseCase: parseCase{env: map[string]string{"HVAGENT_DATA_DIR": "/e"}}, key: "socket", want: `"/e/hvagent.sock"`},
		{name: "SocketFlag", parseCase: parseCase{args: []string{"--socket", "/run/h.sock"}}, key: "socket", want: `"/run/h.sock"`},
		{name: "SocketGroupEnv", parseCase: parseCase{env: map[string]string{"HVAGENT_SOCKET_GROUP": "kvm"}}, key: "socket_group", want: `"kvm"`},
		{name: "AdminListenFlag", parseCase: parseCase{args: []string{"--admin-listen", "127.0.0.1:9"}}, key: "admin_listen", want: `"127.0.0.1:9"`},
		{name: "TokensFileEnv", parseCase: parseCase{env: map[string]string{"HVAGENT_TOKENS_FILE": "/t.json"}}, key: "tokens_file", want: `"/t.json"`},
		{name: "TLSFlags", parseCase: parseCase{args: []string{"--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--client-ca", "/ca.pem"}},
			key: "client_ca", want: `"/ca.pem"`},
		{name: "AllowedPathsFlag", parseCase: parseCase{args: []string{"--allowed-paths", "/a, /b"}}, key: "allowed_paths", want: `["/a","/b"]`},
		{name: "ConfigEnv", parseCase: parseCase{env: map[string]string{"HVAGENT_CONFIG": "@A"}, fileA: listen("1")}, key: "listen", want: `"127.0.0.1:1"`},
		{name: "ConfigFlagOverEnv", parseCase: parseCase{args: []string{"--config", "@B"}, env: map[string]string{"HVAGENT_CONFIG": "@A"},
			fileA: listen("1"), fileB: listen("2")}, key: "listen", want: `"127.0.0.1:2"`},
		{name: "ConfigFileFlag", parseCase: parseCase{args: []string{"--config-file", "@B"}, fileB: listen("2")}, key: "listen", want: `"127.0.0.1:2"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := tt.parse(t)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, effective(t, m, tt.key))
		})
	}
}

func TestParseFlags_Errors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		parseCase
		want string
	}{
		{name: "FlagInt", parseCase: parseCase{args: []string{"--max-queued", "x"}}, want: `invalid argument "x" for "--max-queued" flag: invalid integer "x"`},
		{name: "FlagNegative", parseCase: parseCase{args: []string{"--max-events=-1"}}, want: `-1 must not be negative`},
		{name: "FlagFloat", parseCase: parseCase{args: []string{"--request-rate", "fast"}}, want: `invalid argument "fast" for "--request-rate" flag: invalid number "fast"`},
		{name: "FlagFloatNaN", parseCase: parseCase{args: []string{"--request-rate", "NaN"}}, want: `invalid number "NaN"`},
		{name: "EnvFloatNegative", parseCase: parseCase{env: map[string]string{"HVAGENT_REQUEST_RATE": "-2"}}, want: `HVAGENT_REQUEST_RATE=-2: -2 must not be negative`},
		{name: "BurstWithoutRate", parseCase: parseCase{args: []string{"--request-burst", "5"}}, want: `request_burst needs request_rate`},
		{name: "FlagDuration", parseCase: parseCase{args: []string{"--shutdown-timeout", "5"}}, want: `invalid duration "5"`},
		{name: "EnvInt", parseCase: parseCase{env: map[string]string{"HVAGENT_MAX_QUEUED": "many"}}, want: `HVAGENT_MAX_QUEUED=many: invalid integer "many"`},
		{name: "EnvDuration", parseCase: parseCase{env: map[string]string{"HVAGENT_SHUTDOWN_TIMEOUT": "soon"}}, want: `HVAGENT_SHUTDOWN_TIMEOUT=soon: invalid duration`},
		{name: "LogLevel", parseCase: parseCase{args: []string{"-l", "loud"}}, want: `log_level`},
		{name: "Durability", parseCase: parseCase{env: map[string]string{"HVAGENT_DURABILITY": "maybe"}}, want: `durability`},
		{name: "UnknownFlag", parseCase: parseCase{args: []string{"--nope"}}, want: `unknown flag: --nope`},
		{name: "ExtraArgument", parseCase: parseCase{args: []string{"serve"}}, want: `unexpected argument "serve"`},
		{name: "ConfigMissing", parseCase: parseCase{args: []string{"-c", "/nonexistent/hvagent.json"}}, want: `read config`},
		{name: "ConfigInvalidJSON", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: "{\n\"listen\": }"}, want: `invalid JSON at line 2`},
		{name: "ConfigUnknownKey", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: `{"bogus": 1}`}, want: `unknown key "bogus"`},
		{name: "ConfigInvalid", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: `{"max_queued": -3}`}, want: `max_queued`},
		{name: "NotLoopback", parseCase: parseCase{args: []string{"--listen", "0.0.0.0:8080"}},
			want: `listen 0.0.0.0:8080 is not a loopback address: refusing to serve the API there without authentication; set tokens_file`},
		{name: "AllInterfaces", parseCase: parseCase{env: map[string]string{"HVAGENT_LISTEN": ":8080"}}, want: `listen :8080 is not a loopback address`},
		{name: "AdminNotLoopback", parseCase: parseCase{args: []string{"--admin-listen", "192.0.2.1:9000"}}, want: `admin_listen 192.0.2.1:9000 is not a loopback address`},
		{name: "ListenNoPort", parseCase: parseCase{args: []string{"--listen", "localhost"}}, want: `invalid argument "localhost" for "--listen" flag: want host:port`},
		{name: "ListenBadPort", parseCase: parseCase{args: []string{"-a", "127.0.0.1:99999"}},
			want: `"-a, --address" flag: want host:port such as 127.0.0.1:8080: address 99999: invalid port`},
		{name: "AdminBadPort", parseCase: parseCase{env: map[string]string{"HVAGENT_ADMIN_LISTEN": "127.0.0.1:x9"}},
			want: `HVAGENT_ADMIN_LISTEN=127.0.0.1:x9: want host:port`},
		{name: "ListenBadPortInFile", parseCase: parseCase{args: []string{"-c", "@A"}, fileA: `{"listen": "127.0.0.1:70000"}`},
			want: `listen "127.0.0.1:70000": want host:port such as 127.0.0.1:8080: address 70000: invalid port`},
		{name: "AdminListenOff", parseCase: parseCase{args: []string{"--admin-listen", "off"}},
			want: `invalid argument "off" for "--admin-listen" flag: want host:port`},
		{name: "ShutdownTimeoutNegative", parseCase: parseCase{args: []string{"--shutdown-timeout", "-1s"}},
			want: `invalid argument "-1s" for "--shutdown-timeout" flag: -1s: must not be negative`},
		{name: "ClientCAWithoutTLS", parseCase: parseCase{args: []string{"--client-ca", "/ca.pem"}}, want: `client_ca needs TLS`},
		{name: "TLSCertAlone", parseCase: parseCase{args: []string{"--tls-cert", "/c.pem"}}, want: `tls_cert and tls_key must be set together`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.parse(t)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestParseFlags_NotLoopbackAllowedWithAuth(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:8080", "--tokens-file", "/etc/hvagent/tokens.json"},
		{"--listen", ":8443", "--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--client-ca", "/ca.pem"},
		{"--listen", "off", "--admin-listen", "127.0.0.1:0"},
	} {
		_, err := parseCase{args: args}.parse(t)
		require.NoError(t, err, "%q", args)
	}
}

func TestParseFlags_EmbeddedDefault(t *testing.T) {
	t.Parallel()
	m, err := parseCase{}.parse(t)
	require.NoError(t, err)
	require.Empty(t, m.ConfigPath)
	require.Equal(t, len(host.Default().Actions), len(m.Config.Actions))
	require.Equal(t, "qemu", m.Config.Services["qemu"].Builtin)
	require.Equal(t, "storage", m.Config.Services["storage"].Builtin)
	require.Zero(t, m.Daemon.RequestRate, "no request rate limit by default")
	require.Zero(t, m.Daemon.RequestBurst)

	m, err = parseCase{args: []string{"--config", "../../testdata/sim.json"}}.parse(t)
	require.NoError(t, err)
	require.Equal(t, "../../testdata/sim.json", m.ConfigPath)
	require.Equal(t, len(sim.Config().Actions), len(m.Config.Actions))
}
