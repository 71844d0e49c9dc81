package hvagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

const (
	mistifyConfig        = "testdata/config/mistify-agent.agent.json"
	testRPCServiceConfig = "testdata/config/test-rpc-service.agent.json"
	extensionsConfig     = "testdata/config/extensions.json"
)

func dur(d time.Duration) Duration { return Duration{d} }

// requireInvalid checks that err is an EINVALID *Error with message want.
func requireInvalid(t *testing.T, err error, want string) {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, EINVALID, e.Code)
	require.Equal(t, want, e.Message)
}

func TestLoadConfig_Mistify(t *testing.T) {
	t.Parallel()

	paths := map[string]string{"Copy": mistifyConfig}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(path)
			require.NoError(t, err)
			require.NoError(t, cfg.Validate())
			require.NoError(t, cfg.WithDefaults().Validate())

			require.Equal(t, "/mistify/.agent.db", cfg.DBPath)
			require.Equal(t, map[string]ServiceConfig{
				"libvirt":         {Port: 20001},
				"mdocker":         {Port: 30001},
				"storage":         {Port: 19999},
				"storageDownload": {Port: 19999, Path: "/snapshots/download"},
			}, cfg.Services)
			require.Len(t, cfg.Actions, 31)
			require.Equal(t, []StageConfig{
				{Service: "storage", Method: "ImageStore.CreateGuestDisks"},
				{Service: "libvirt", Method: "Libvirt.CreateGuest"},
			}, cfg.Actions[ActionCreate].Stages)
		})
	}
}

func TestLoadConfig_TestRPCService(t *testing.T) {
	t.Parallel()

	paths := map[string]string{"Copy": testRPCServiceConfig}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(path)
			requireInvalid(t, err, "config "+path+": invalid JSON at line 283, column 5: "+
				"invalid character '}' looking for beginning of object key string")
			var syn *json.SyntaxError
			require.ErrorAs(t, err, &syn)
		})
	}

	t.Run("TrailingCommaRemoved", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile(testRPCServiceConfig)
		require.NoError(t, err)
		data = bytes.Replace(data, []byte("        },\n    },\n    \"services\""), []byte("        }\n    },\n    \"services\""), 1)
		cfg, err := ParseConfig(data)
		require.NoError(t, err)
		requireInvalid(t, cfg.Validate(), "config: "+
			"action deleteContainerImage is not a valid action; "+
			"action getContainerImage is not a valid action; "+
			"action listContainerImages is not a valid action; "+
			"action pullContainerImage is not a valid action; "+
			"action run is not a valid action")
	})
}

func TestLoadConfig_Errors(t *testing.T) {
	t.Parallel()

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "missing.json")
		_, err := LoadConfig(path)
		require.Equal(t, ENOTFOUND, ErrorCode(err))
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Contains(t, err.Error(), path)
	})
	t.Run("ErrDirectory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		_, err := LoadConfig(dir)
		require.Equal(t, EINVALID, ErrorCode(err))
		require.Contains(t, err.Error(), dir)
	})
	t.Run("ErrUnknownKeyNamesFile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "agent.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"services": {"a": {"port": 1, "foo": 2}}}`), 0o600))
		_, err := LoadConfig(path)
		requireInvalid(t, err, "config "+path+`: unknown key "foo" in services.a`)
	})
}

func TestParseConfig_Errors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, input, want string
	}{
		{"UnknownTopLevel", `{"foo": 1}`, `config: unknown key "foo" at top level`},
		{"UnknownInService", `{"services": {"libvirt": {"port": 1, "foo": {"x": [1]}}}}`, `config: unknown key "foo" in services.libvirt`},
		{"UnknownInStage", `{"actions": {"create": {"stages": [{"service": "s", "method": "A.B"}, {"servce": "s"}]}}}`,
			`config: unknown key "servce" in actions.create.stages[1]`},
		{"UnknownInRetry", `{"actions": {"start": {"retry": {"tries": 2}}}}`, `config: unknown key "tries" in actions.start.retry`},
		{"UnknownCaseFolded", `{"Services": {}}`, `config: unknown key "Services" at top level`},
		{"UnknownCodeOnlyField", `{"InfoLimit": 5}`, `config: unknown key "InfoLimit" at top level`},
		{"UnknownOddServiceName", `{"services": {"my svc": {"prot": 1}}}`, `config: unknown key "prot" in services["my svc"]`},
		{"DuplicateAction", `{"actions": {"create": {}, "create": {}}}`, `config: duplicate key "create" in actions`},
		{"DuplicateTopLevel", `{"dbpath": "a", "dbpath": "b"}`, `config: duplicate key "dbpath" at top level`},
		{"DuplicateArg", `{"actions": {"create": {"stages": [{"args": {"a": "1", "a": "2"}}]}}}`,
			`config: duplicate key "a" in actions.create.stages[0].args`},
		{"PortString", `{"services": {"libvirt": {"port": "20001"}}}`,
			`config: services.libvirt.port: expected a non-negative integer, got string "20001"`},
		{"PortNegative", `{"services": {"libvirt": {"port": -1}}}`, `config: services.libvirt.port: expected a non-negative integer, got -1`},
		{"PortFraction", `{"services": {"libvirt": {"port": 1.5}}}`, `config: services.libvirt.port: expected a non-negative integer, got 1.5`},
		{"MaxPendingOverflow", `{"services": {"a": {"max_pending": 1e400}}}`,
			`config: services.a.max_pending: expected a non-negative integer, got 1e400`},
		{"MaxEventsString", `{"max_events": "many"}`, `config: max_events: expected an integer, got string "many"`},
		{"MaxQueuedOverflow", `{"max_queued": 99999999999999999999}`, `config: max_queued: expected an integer, got 99999999999999999999`},
		{"DurationNumber", `{"services": {"a": {"timeout": 30}}}`, `config: services.a.timeout: expected a duration string such as "1m30s", got 30`},
		{"DurationObject", `{"actions": {"start": {"retry": {"backoff": {}}}}}`,
			`config: actions.start.retry.backoff: expected a duration string such as "1m30s", got an object`},
		{"UnknownDaemonKey", `{"listen": "127.0.0.1:1", "log_level": "info"}`,
			`config: unknown key "listen" at top level; unknown key "log_level" at top level`},
		{"DurationInvalid", `{"services": {"a": {"timeout": "5 minutes"}}}`,
			`config: services.a.timeout: invalid duration string "5 minutes": expected a Go duration such as "1m30s"`},
		{"StagesObject", `{"actions": {"create": {"stages": {}}}}`, `config: actions.create.stages: expected an array, got an object`},
		{"ServicesArray", `{"services": []}`, `config: services: expected an object, got an array`},
		{"ArgNumber", `{"actions": {"create": {"stages": [{"args": {"n": 1}}]}}}`, `config: actions.create.stages[0].args.n: expected a string, got 1`},
		{"AllowedPathsString", `{"allowed_paths": "/srv"}`, `config: allowed_paths: expected an array, got string "/srv"`},
		{"LongStringTruncated", `{"dbpath": true, "durability": 1, "data_dir": "` + strings.Repeat("x", 50) + `"}`,
			`config: dbpath: expected a string, got true; durability: expected a string, got 1`},
		{"LongDurationTruncated", `{"services": {"a": {"timeout": "` + strings.Repeat("x", 50) + `"}}}`,
			`config: services.a.timeout: invalid duration string "` + strings.Repeat("x", 40) + `…": expected a Go duration such as "1m30s"`},
		{"TopLevelArray", `[]`, `config: expected a JSON object at top level, got an array`},
		{"TopLevelNull", `null`, `config: expected a JSON object at top level, got null`},
		{"Several", `{"zz": 1, "services": {"a": {"port": "x"}}, "aa": 2, "aa": 3}`,
			`config: unknown key "zz" at top level; services.a.port: expected a non-negative integer, got string "x"; ` +
				`unknown key "aa" at top level; duplicate key "aa" at top level; unknown key "aa" at top level`},
		{"Empty", ``, `config: invalid JSON at line 1, column 1: unexpected end of JSON input`},
		{"Truncated", "{\n  \"services\": {\n", `config: invalid JSON at line 3, column 1: unexpected end of JSON input`},
		{"TrailingComma", "{\n  \"services\": {},\n}", `config: invalid JSON at line 3, column 1: invalid character '}' looking for beginning of object key string`},
		{"BadValue", "{\n\t\"dbpath\": x}", `config: invalid JSON at line 2, column 12: invalid character 'x' looking for beginning of value`},
		{"TrailingData", "{}\n{}", `config: invalid JSON at line 2, column 1: invalid character '{' after top-level value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseConfig([]byte(tt.input))
			require.Nil(t, cfg)
			requireInvalid(t, err, tt.want)
		})
	}
}

func TestParseConfig_Nulls(t *testing.T) {
	t.Parallel()

	cfg, err := ParseConfig([]byte(`{"services": null, "actions": {"start": {"stages": null, "timeout": null, "retry": null}},
		"dbpath": null, "max_events": null}`))
	require.NoError(t, err)
	require.Equal(t, &Config{Actions: map[string]ActionConfig{"start": {}}}, cfg)

	// Empty values of omitempty keys decode as nil, as if absent.
	cfg, err = ParseConfig([]byte(`{"allowed_paths": [], "actions": {"start": {"stages": [{"args": {}}]}}}`))
	require.NoError(t, err)
	require.Equal(t, &Config{Actions: map[string]ActionConfig{"start": {Stages: []StageConfig{{}}}}}, cfg)
}

// extensionsWant is extensions.json decoded.
func extensionsWant() *Config {
	return &Config{
		Services: map[string]ServiceConfig{
			"libvirt": {Port: 20001, MaxPending: 8, Timeout: dur(30 * time.Second)},
			"remote":  {URL: "https://hv1.example.com:8443/base/", Path: "/rpc"},
			"local":   {Socket: "/run/subagent.sock"},
			"qemu":    {Builtin: "qemu"},
			"storage": {Builtin: "storage", Timeout: dur(2 * time.Minute)},
		},
		Actions: map[string]ActionConfig{
			ActionCreate: {
				Stages: []StageConfig{
					{Service: "storage", Method: "ImageStore.CreateGuestDisks"},
					{Service: "qemu", Method: "Qemu.CreateGuest", Args: map[string]string{"emoji": "rocket"}},
				},
				Timeout:     dur(15 * time.Minute),
				Retry:       &RetryConfig{Attempts: 5, Backoff: dur(500 * time.Millisecond)},
				OnInterrupt: Fail,
			},
			ActionStart: {
				Stages:      []StageConfig{{Service: "libvirt", Method: "Libvirt.Run"}},
				OnInterrupt: Requeue,
				Retry:       &RetryConfig{},
			},
			"containerStart":       {Stages: []StageConfig{{Service: "remote", Method: "MDocker.StartContainer"}}},
			ActionDownloadSnapshot: {Stages: []StageConfig{{Service: "local", Method: "ImageStore.DownloadSnapshot"}}},
		},
		DBPath:          "/srv/hvagent/state.db",
		DataDir:         "/srv/hvagent",
		AllowedPaths:    []string{"/srv/images", "/srv/kernels"},
		QEMUAccel:       "kvm",
		MaxLoggedJobs:   50,
		MaxEvents:       5000,
		MaxQueued:       20,
		MaxMetadataKeys: 100, MaxMetadataKeyLen: 64, MaxMetadataValueLen: 512, MaxMetadataBytes: 8192,
		Durability: "normal",
	}
}

func TestLoadConfig_Extensions(t *testing.T) {
	t.Parallel()

	cfg, err := LoadConfig(extensionsConfig)
	require.NoError(t, err)
	require.Equal(t, extensionsWant(), cfg)
	require.NoError(t, cfg.Validate())

	// Every JSON key of Config appears in the fixture.
	var raw map[string]json.RawMessage
	data, err := os.ReadFile(extensionsConfig)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &raw))
	for f := range reflect.TypeFor[Config]().Fields() {
		if key, _, _ := strings.Cut(f.Tag.Get("json"), ","); key != "-" {
			require.Contains(t, raw, key, "extensions.json lacks a top-level key")
		}
	}
}

func TestConfig_RoundTrip(t *testing.T) {
	t.Parallel()

	mistify, err := LoadConfig(mistifyConfig)
	require.NoError(t, err)
	tests := map[string]*Config{
		"Mistify":    mistify,
		"Extensions": extensionsWant(),
		"Empty":      {},
		"Defaults":   extensionsWant().WithDefaults(),
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := json.Marshal(cfg)
			require.NoError(t, err)
			got, err := ParseConfig(data)
			require.NoError(t, err)
			if name == "Defaults" {
				// Code-only fields do not travel; WithDefaults restores them.
				got = got.WithDefaults()
				got.Now, cfg.Now = nil, nil
			}
			require.Equal(t, cfg, got)
		})
	}
}

func TestDuration_JSON(t *testing.T) {
	t.Parallel()

	data, err := json.Marshal(struct{ D Duration }{dur(90 * time.Second)})
	require.NoError(t, err)
	require.JSONEq(t, `{"D": "1m30s"}`, string(data))

	tests := []struct {
		name, input string
		want        time.Duration
		wantErr     string
	}{
		{name: "OK", input: `"1h2m3.5s"`, want: time.Hour + 2*time.Minute + 3500*time.Millisecond},
		{name: "Zero", input: `"0s"`},
		{name: "Negative", input: `"-5s"`, want: -5 * time.Second},
		{name: "NullKeeps", input: `null`, want: time.Minute},
		{name: "ErrNumber", input: `90`, wantErr: `duration: expected a string such as "1m30s", got 90`},
		{name: "ErrObject", input: `{}`, wantErr: `duration: expected a string such as "1m30s", got {}`},
		{name: "ErrNoUnit", input: `"90"`, wantErr: `duration "90": expected a Go duration such as "1m30s"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := dur(time.Minute)
			err := d.UnmarshalJSON([]byte(tt.input))
			if tt.input != "null" {
				require.Equal(t, err == nil, d.CheckJSON([]byte(tt.input)) == nil, "CheckJSON agrees with UnmarshalJSON")
			}
			if tt.wantErr != "" {
				requireInvalid(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, d.Duration)
		})
	}
}

func TestConfig_DefaultDataDir(t *testing.T) {
	t.Parallel()

	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "XDG_STATE_HOME" {
				return v
			}
			return ""
		}
	}
	home := func() (string, error) { return "/home/u", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }

	require.Equal(t, "/var/lib/hvagent", dataDirFor(0, env("/x"), home))
	require.Equal(t, "/x/state/hvagent", dataDirFor(1000, env("/x/state"), home))
	require.Equal(t, "/home/u/.local/state/hvagent", dataDirFor(1000, env(""), home))
	require.Equal(t, "/home/u/.local/state/hvagent", dataDirFor(1000, env("relative"), home))
	require.Equal(t, filepath.Join(os.TempDir(), "hvagent-1000"), dataDirFor(1000, env(""), noHome))
	require.NotEmpty(t, DefaultDataDir())
}

func TestConfig_WithDefaults(t *testing.T) {
	t.Parallel()

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		got := (&Config{DataDir: "/d"}).WithDefaults()
		require.NotNil(t, got.Now)
		require.Equal(t, zerolog.Nop(), got.Logger)
		got.Now = nil
		require.Equal(t, &Config{
			Services: map[string]ServiceConfig{}, Actions: map[string]ActionConfig{}, Builtins: map[string]http.Handler{},
			DataDir: "/d", DBPath: "/d/hvagent.db",
			MaxLoggedJobs: 1000, MaxEvents: 100000, MaxQueued: 1000, Durability: "full",
			MaxMetadataKeys: 256, MaxMetadataKeyLen: 256, MaxMetadataValueLen: 4096, MaxMetadataBytes: 16 << 10,
			InfoLimit: 100, StreamLimit: 5, HostJobLimit: 4, Logger: zerolog.Nop(),
		}, got)
		require.NoError(t, got.Validate())
	})

	t.Run("NilConfig", func(t *testing.T) {
		t.Parallel()
		var c *Config
		got := c.WithDefaults()
		require.NotEmpty(t, got.DataDir)
		require.Equal(t, filepath.Join(got.DataDir, "hvagent.db"), got.DBPath)
	})

	t.Run("Extensions", func(t *testing.T) {
		t.Parallel()
		in := extensionsWant()
		in.Actions["containerCreate"] = ActionConfig{}
		in.Actions["containerShutdown"] = ActionConfig{}
		in.Actions[ActionDelete] = ActionConfig{Stages: []StageConfig{{Service: "qemu", Method: "Qemu.Delete"}}}
		got := in.WithDefaults()

		require.Equal(t, extensionsWant().Services["libvirt"].Timeout, got.Services["libvirt"].Timeout, "set value kept")
		require.Equal(t, ServiceConfig{Socket: "/run/subagent.sock", Path: "/_mistify_RPC_", Timeout: dur(time.Minute)},
			got.Services["local"])
		require.Equal(t, "/rpc", got.Services["remote"].Path)

		require.Equal(t, &RetryConfig{Attempts: 5, Backoff: dur(500 * time.Millisecond)}, got.Actions[ActionCreate].Retry)
		require.Equal(t, &RetryConfig{Attempts: 3, Backoff: dur(time.Second)}, got.Actions[ActionStart].Retry)
		require.Nil(t, got.Actions[ActionDelete].Retry)
		require.Equal(t, dur(15*time.Minute), got.Actions[ActionCreate].Timeout)
		require.Equal(t, dur(10*time.Minute), got.Actions[ActionDelete].Timeout)
		require.Equal(t, dur(10*time.Minute), got.Actions[ActionDownloadSnapshot].Timeout)

		wantInterrupt := map[string]string{
			ActionCreate: Fail, ActionStart: Requeue, ActionDelete: Fail, ActionDownloadSnapshot: Fail,
			"containerStart":    Requeue, // base start is requeue
			"containerCreate":   Fail,    // base create is explicitly fail
			"containerShutdown": Requeue, // base not configured: DefaultOnInterrupt
		}
		for name, want := range wantInterrupt {
			require.Equal(t, want, got.Actions[name].OnInterrupt, name)
		}

		require.Equal(t, "/srv/hvagent/state.db", got.DBPath)
		require.Equal(t, 50, got.MaxLoggedJobs)
		require.NoError(t, got.Validate())
	})

	t.Run("DeepCopy", func(t *testing.T) {
		t.Parallel()
		in := extensionsWant()
		got := in.WithDefaults()
		got.Services["new"] = ServiceConfig{}
		got.Actions[ActionCreate].Stages[1].Args["emoji"] = "changed"
		got.Actions[ActionCreate].Stages[0] = StageConfig{}
		got.Actions[ActionCreate].Retry.Attempts = 99
		got.AllowedPaths[0] = "/changed"
		require.Equal(t, extensionsWant(), in)
	})

	t.Run("Idempotent", func(t *testing.T) {
		t.Parallel()
		once := extensionsWant().WithDefaults()
		twice := once.WithDefaults()
		once.Now, twice.Now = nil, nil
		require.Equal(t, once, twice)
	})
}

func TestConfig_ServiceURL(t *testing.T) {
	t.Parallel()

	cfg := &Config{Services: map[string]ServiceConfig{
		"port":      {Port: 20001},
		"portPath":  {Port: 19999, Path: "/snapshots/download"},
		"url":       {URL: "https://hv.example.com:8443"},
		"urlSlash":  {URL: "https://hv.example.com/base/", Path: "/rpc"},
		"socket":    {Socket: "/run/s.sock"},
		"builtin":   {Builtin: "qemu", Path: "/x"},
		"noSlash":   {Port: 1, Path: "rpc"},
		"nothing":   {Path: "/rpc"},
		"portFirst": {Port: 2, URL: "http://h"},
	}}
	tests := []struct{ name, want, wantCode string }{
		{"port", "http://127.0.0.1:20001/_mistify_RPC_", ""},
		{"portPath", "http://127.0.0.1:19999/snapshots/download", ""},
		{"url", "https://hv.example.com:8443/_mistify_RPC_", ""},
		{"urlSlash", "https://hv.example.com/base/rpc", ""},
		{"socket", "http://unix/_mistify_RPC_", ""},
		{"builtin", "http://builtin-qemu/x", ""},
		{"noSlash", "http://127.0.0.1:1/rpc", ""},
		{"portFirst", "http://127.0.0.1:2/_mistify_RPC_", ""},
		{"nothing", "", EINVALID},
		{"missing", "", ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cfg.ServiceURL(tt.name)
			require.Equal(t, tt.wantCode, ErrorCode(err))
			require.Equal(t, tt.want, got)
		})
	}
}
