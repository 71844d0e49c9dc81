package settings

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

const (
	mistifyFile    = "testdata/mistify-agent.agent.json"
	extensionsFile = "testdata/extensions.json"
)

func dur(d time.Duration) hvagent.Duration { return hvagent.Duration{Duration: d} }

// requireInvalid checks that err is an EINVALID *hvagent.Error with message want.
func requireInvalid(t *testing.T, err error, want string) {
	t.Helper()
	var e *hvagent.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, hvagent.EINVALID, e.Code)
	require.Equal(t, want, e.Message)
}

// extensionsDaemon is the daemon part of extensions.json.
func extensionsDaemon() Daemon {
	return Daemon{
		Listen:          "0.0.0.0:8443",
		Socket:          "/run/hvagent.sock",
		SocketGroup:     "hvagent",
		AdminListen:     "127.0.0.1:9090",
		TokensFile:      "/etc/hvagent/tokens.json",
		TLSCert:         "/etc/hvagent/cert.pem",
		TLSKey:          "/etc/hvagent/key.pem",
		ClientCA:        "/etc/hvagent/ca.pem",
		LogLevel:        "warning",
		LogFormat:       "console",
		ShutdownTimeout: dur(90 * time.Second),

		MaxConnections:          100,
		MaxConnectionsPerClient: 10,
		MaxStreams:              8,
		MaxEventClients:         32,
		RequestRate:             2.5,
		RequestBurst:            20,
	}
}

func TestLoad_Mistify(t *testing.T) {
	t.Parallel()
	f, err := Load(mistifyFile)
	require.NoError(t, err)
	require.NoError(t, f.Validate())
	require.NoError(t, f.WithDefaults().Validate())
	require.Equal(t, Daemon{}, f.Daemon)
	require.Equal(t, "/mistify/.agent.db", f.DBPath)
	require.Len(t, f.Services, 4)
	require.Len(t, f.Actions, 31)

	lib, err := hvagent.LoadConfig(mistifyFile)
	require.NoError(t, err)
	require.Equal(t, lib, &f.Config, "the library reads the same config")
}

func TestLoad_Extensions(t *testing.T) {
	t.Parallel()
	f, err := Load(extensionsFile)
	require.NoError(t, err)
	require.Equal(t, extensionsDaemon(), f.Daemon)
	require.Equal(t, "/srv/hvagent/state.db", f.DBPath)
	require.Equal(t, 20, f.MaxQueued)
	require.Equal(t, "kvm", f.QEMUAccel)
	require.Equal(t, dur(15*time.Minute), f.Actions[hvagent.ActionCreate].Timeout)
	require.NoError(t, f.Validate())
	require.NoError(t, f.CheckExposure(), "0.0.0.0 is allowed: tokens and client certificates guard it")

	// Every JSON key of both parts appears in the fixture.
	var raw map[string]json.RawMessage
	data, err := os.ReadFile(extensionsFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &raw))
	for _, typ := range []reflect.Type{reflect.TypeFor[hvagent.Config](), reflect.TypeFor[Daemon]()} {
		for field := range typ.Fields() {
			if key, _, _ := strings.Cut(field.Tag.Get("json"), ","); key != "-" {
				require.Contains(t, raw, key, "extensions.json lacks a top-level key")
			}
		}
	}
	require.Len(t, raw, 31, "no other key")
}

func TestLoad_Errors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.json")
	_, err := Load(path)
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
	require.ErrorIs(t, err, os.ErrNotExist)

	dir := t.TempDir()
	_, err = Load(dir)
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
	require.Contains(t, err.Error(), dir)

	path = filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"services": {"a": {"port": 1}}, "listen": "x", "tls": {}}`), 0o600))
	_, err = Load(path)
	requireInvalid(t, err, "config "+path+`: unknown key "tls" at top level`)
}

func TestParse_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, input, want string }{
		{"UnknownTopLevel", `{"foo": 1}`, `config: unknown key "foo" at top level`},
		{"UnknownInLibraryPart", `{"listen": "127.0.0.1:1", "services": {"a": {"port": 1, "foo": 2}}}`, `config: unknown key "foo" in services.a`},
		{"UnknownCaseFolded", `{"Listen": "x", "Daemon": {}, "Config": {}}`,
			`config: unknown key "Listen" at top level; unknown key "Daemon" at top level; unknown key "Config" at top level`},
		{"UnknownCodeOnlyField", `{"InfoLimit": 5, "Logger": {}}`,
			`config: unknown key "InfoLimit" at top level; unknown key "Logger" at top level`},
		{"Duplicate", `{"listen": "a", "dbpath": "b", "listen": "c"}`, `config: duplicate key "listen" at top level`},
		{"LongStringTruncated", `{"dbpath": true, "listen": 1, "socket": "` + strings.Repeat("x", 50) + `"}`,
			`config: dbpath: expected a string, got true; listen: expected a string, got 1`},
		{"DurationNumber", `{"shutdown_timeout": 30}`, `config: shutdown_timeout: expected a duration string such as "1m30s", got 30`},
		{"DurationInvalid", `{"shutdown_timeout": "5 minutes"}`,
			`config: shutdown_timeout: invalid duration string "5 minutes": expected a Go duration such as "1m30s"`},
		{"TopLevelArray", `[]`, `config: expected a JSON object at top level, got an array`},
		{"InvalidJSON", "{\n  \"listen\": }", `config: invalid JSON at line 2, column 13: invalid character '}' looking for beginning of value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse([]byte(tt.input))
			require.Nil(t, f)
			requireInvalid(t, err, tt.want)
		})
	}
}

func TestFile_RoundTrip(t *testing.T) {
	t.Parallel()
	ext, err := Load(extensionsFile)
	require.NoError(t, err)
	mistify, err := Load(mistifyFile)
	require.NoError(t, err)
	for name, f := range map[string]*File{"Extensions": ext, "Mistify": mistify, "Empty": {}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := json.Marshal(f)
			require.NoError(t, err)
			got, err := Parse(data)
			require.NoError(t, err)
			require.Equal(t, f, got)
		})
	}
}

func TestFile_WithDefaults(t *testing.T) {
	t.Parallel()
	got := (&File{Config: hvagent.Config{DataDir: "/d"}}).WithDefaults()
	require.Equal(t, Daemon{
		Listen: "127.0.0.1:8080", Socket: "/d/hvagent.sock", LogLevel: "info", LogFormat: "json",
		ShutdownTimeout: dur(30 * time.Second), MaxConnections: 1024, MaxConnectionsPerClient: 64,
		MaxStreams: 64, MaxEventClients: 256,
	}, got.Daemon, "no request rate limit by default")
	require.Equal(t, 3, (&File{Daemon: Daemon{RequestRate: 2.5}}).WithDefaults().RequestBurst,
		"the burst defaults to the rate rounded up")
	require.Equal(t, "/d/hvagent.db", got.DBPath)
	require.Equal(t, 1000, got.MaxQueued, "the library's defaults too")
	require.NoError(t, got.Validate())

	ext, err := Load(extensionsFile)
	require.NoError(t, err)
	got = ext.WithDefaults()
	require.Equal(t, extensionsDaemon(), got.Daemon, "set values kept")
	got.Services["new"] = hvagent.ServiceConfig{}
	require.NotContains(t, ext.Services, "new", "a deep copy")

	var nilFile *File
	got = nilFile.WithDefaults()
	require.Equal(t, filepath.Join(got.DataDir, "hvagent.sock"), got.Socket)
}

func TestFile_Validate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(f *File)
		want   string // "" = valid
	}{
		{"OK", func(*File) {}, ""},
		{"All", func(f *File) {
			f.LogLevel, f.LogFormat, f.TLSCert, f.TLSKey, f.ClientCA = "warn", "console", "c", "k", "ca"
			f.Listen, f.AdminListen, f.ShutdownTimeout = "[::1]:1", ":2", dur(time.Second)
		}, ""},
		{"ListenOff", func(f *File) { f.Listen = ListenOff }, ""},
		{"LogLevelWarning", func(f *File) { f.LogLevel = "warning" }, ""},
		{"LogLevel", func(f *File) { f.LogLevel = "trace" }, `log_level "trace" is not one of debug, info, warn, warning, error`},
		{"LogFormat", func(f *File) { f.LogFormat = "text" }, `log_format "text" is not one of json, console`},
		{"ShutdownTimeout", func(f *File) { f.ShutdownTimeout = dur(-time.Second) }, "shutdown_timeout must not be negative, got -1s"},
		{"MaxConnections", func(f *File) { f.MaxConnections = -1 }, "max_connections must not be negative, got -1"},
		{"MaxConnectionsPerClient", func(f *File) { f.MaxConnectionsPerClient = -2 }, "max_connections_per_client must not be negative, got -2"},
		{"MaxStreams", func(f *File) { f.MaxStreams = -1 }, "max_streams must not be negative, got -1"},
		{"MaxEventClients", func(f *File) { f.MaxEventClients = -3 }, "max_event_clients must not be negative, got -3"},
		{"RequestRate", func(f *File) { f.RequestRate = -0.5 }, "request_rate must be a number of requests per second, 0 or more, got -0.5"},
		{"RequestRateNaN", func(f *File) { f.RequestRate = math.NaN() }, "request_rate must be a number of requests per second, 0 or more, got NaN"},
		{"RequestBurst", func(f *File) { f.RequestRate, f.RequestBurst = 1, -1 }, "request_burst must not be negative, got -1"},
		{"RequestBurstWithoutRate", func(f *File) { f.RequestBurst = 10 },
			"request_burst needs request_rate (--request-rate): a burst above no rate limit means nothing"},
		{"TLSPair", func(f *File) { f.TLSKey = "k" }, "tls_cert and tls_key must be set together"},
		{"ClientCAWithoutTLS", func(f *File) { f.ClientCA = "ca" }, "client_ca needs TLS: set tls_cert and tls_key (--tls-cert, --tls-key) too"},
		{"ListenNoPort", func(f *File) { f.Listen = "localhost" },
			`listen "localhost": want host:port such as 127.0.0.1:8080: address localhost: missing port in address`},
		{"AdminListenNoPort", func(f *File) { f.AdminListen = "h:1:2" },
			`admin_listen "h:1:2": want host:port such as 127.0.0.1:8080: address h:1:2: too many colons in address`},
		{"BothPartsSorted", func(f *File) {
			f.MaxQueued, f.LogFormat = -1, "text"
			f.Services["x"] = hvagent.ServiceConfig{}
		}, `log_format "text" is not one of json, console; max_queued must not be negative, got -1; ` +
			"service x has no port, url, socket or builtin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &File{Config: hvagent.Config{Services: map[string]hvagent.ServiceConfig{"a": {Port: 1}}}}
			tt.modify(f)
			if tt.want == "" {
				require.NoError(t, f.Validate())
				require.NoError(t, f.WithDefaults().Validate())
				return
			}
			requireInvalid(t, f.Validate(), "config: "+tt.want)
			requireInvalid(t, f.WithDefaults().Validate(), "config: "+tt.want)
		})
	}
	var nilFile *File
	requireInvalid(t, nilFile.Validate(), "config: no config")
}

func TestDaemon_CheckExposure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    Daemon
		want string // "" = allowed
	}{
		{"Default", Daemon{}, ""},
		{"Loopback", Daemon{Listen: "127.0.0.1:1", AdminListen: "[::1]:2"}, ""},
		{"Localhost", Daemon{Listen: "localhost:1"}, ""},
		{"Off", Daemon{Listen: ListenOff, AdminListen: "127.0.0.1:0"}, ""},
		{"Tokens", Daemon{Listen: "0.0.0.0:1", TokensFile: "/t"}, ""},
		{"ClientCA", Daemon{Listen: ":1", ClientCA: "/ca"}, ""},
		{"AllInterfaces", Daemon{Listen: ":8080"}, "listen :8080 is not a loopback address: refusing to serve the API there " +
			"without authentication; set tokens_file (--tokens-file) or client_ca (--client-ca), or listen on 127.0.0.1"},
		{"Name", Daemon{Listen: "example.com:1"}, "listen example.com:1 is not a loopback address"},
		{"Admin", Daemon{AdminListen: "192.0.2.1:9000"}, "admin_listen 192.0.2.1:9000 is not a loopback address"},
		{"NoPort", Daemon{Listen: "localhost"}, `listen "localhost": want host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.d.CheckExposure()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}
