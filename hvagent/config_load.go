package hvagent

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/internal/strictjson"
)

// Defaults filled in by Config.WithDefaults.
const (
	cfgRootDataDir        = "/var/lib/hvagent"
	cfgDefaultRPCPath     = "/_mistify_RPC_"
	cfgDefaultDurability  = "full"
	cfgServiceTimeout     = 60 * time.Second
	cfgActionTimeout      = 10 * time.Minute
	cfgMaxLoggedJobs      = 1000
	cfgMaxEvents          = 100000
	cfgMaxQueued          = 1000
	cfgInfoLimit          = 100
	cfgStreamLimit        = 5
	cfgHostJobLimit       = 4
	cfgRetryAttempts      = 3
	cfgRetryBackoff       = time.Second
	cfgMaxDescribedLength = 40
)

// ParseConfig decodes a config file's contents strictly: unknown keys,
// duplicate keys and values of the wrong type are errors naming the key and
// where it is; invalid JSON is reported with its line and column. Absent
// keys keep their zero value: ParseConfig neither fills defaults (see
// WithDefaults) nor validates (see Validate). Errors are EINVALID.
func ParseConfig(data []byte) (*Config, error) {
	return parseConfig(data, "config")
}

// LoadConfig reads and decodes the config file at path as ParseConfig does;
// error messages name the file. A missing file is ENOTFOUND, anything else
// EINVALID.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		code := EINVALID
		if errors.Is(err, fs.ErrNotExist) {
			code = ENOTFOUND
		}
		return nil, WrapError(code, err, "read config: %v", err)
	}
	return parseConfig(data, "config "+path)
}

// parseConfig decodes data strictly into a Config. where prefixes every
// error message.
func parseConfig(data []byte, where string) (*Config, error) {
	cfg := &Config{}
	if err := strictjson.Decode(data, cfg, where); err != nil {
		return nil, &Error{Code: EINVALID, Message: err.Error(), Err: err}
	}
	cfg.normalize()
	return cfg, nil
}

// normalize makes empty omitempty values nil, so that a config marshals and
// parses back to the same value.
func (c *Config) normalize() {
	if len(c.AllowedPaths) == 0 {
		c.AllowedPaths = nil
	}
	for _, a := range c.Actions {
		for i := range a.Stages {
			if len(a.Stages[i].Args) == 0 {
				a.Stages[i].Args = nil
			}
		}
	}
}

// problemsError joins problem messages into one EINVALID error whose Err
// joins one error per problem.
func problemsError(where string, problems []string) *Error {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return &Error{Code: EINVALID, Message: where + ": " + strings.Join(problems, "; "), Err: errors.Join(errs...)}
}

func truncate(s string) string {
	if r := []rune(s); len(r) > cfgMaxDescribedLength {
		return string(r[:cfgMaxDescribedLength]) + "…"
	}
	return s
}

// DefaultDataDir is Config.DataDir's default for the current user:
// /var/lib/hvagent as root, else $XDG_STATE_HOME/hvagent, else
// ~/.local/state/hvagent.
func DefaultDataDir() string {
	return dataDirFor(os.Geteuid(), os.Getenv, os.UserHomeDir)
}

// dataDirFor is /var/lib/hvagent for root, else $XDG_STATE_HOME/hvagent
// (when absolute), else ~/.local/state/hvagent, else a per-user directory
// under the system temp dir when there is no home.
func dataDirFor(euid int, getenv func(string) string, home func() (string, error)) string {
	if euid == 0 {
		return cfgRootDataDir
	}
	if x := getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "hvagent")
	}
	if h, err := home(); err == nil && h != "" {
		return filepath.Join(h, ".local", "state", "hvagent")
	}
	return filepath.Join(os.TempDir(), "hvagent-"+strconv.Itoa(euid))
}

// ServiceURL returns the URL that calls to service name are posted to:
// http://127.0.0.1:<port><path> for a port, <url><path> for a URL,
// http://unix<path> for a socket (the caller dials Socket) and
// http://builtin-<builtin><path> for a builtin (the caller routes to
// Builtins[builtin]). path defaults to /_mistify_RPC_. An unknown service is
// ENOTFOUND; a service without a locator is EINVALID.
func (c *Config) ServiceURL(name string) (string, error) {
	s, ok := c.Services[name]
	if !ok {
		return "", Errorf(ENOTFOUND, "service %s is not configured", name)
	}
	path := s.Path
	if path == "" {
		path = cfgDefaultRPCPath
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	switch {
	case s.Port != 0:
		return fmt.Sprintf("http://127.0.0.1:%d%s", s.Port, path), nil
	case s.URL != "":
		return strings.TrimRight(s.URL, "/") + path, nil
	case s.Socket != "":
		return "http://unix" + path, nil
	case s.Builtin != "":
		return "http://builtin-" + s.Builtin + path, nil
	}
	return "", Errorf(EINVALID, "service %s has no port, url, socket or builtin", name)
}

// WithDefaults returns a deep copy of c with every unset field given its
// default (see each field's doc). A container action without on_interrupt
// inherits its base action's configured policy. Nil maps become empty maps.
// c itself is not modified; a nil c is treated as an empty Config.
func (c *Config) WithDefaults() *Config {
	out := &Config{}
	if c != nil {
		*out = *c
	}
	out.AllowedPaths = slices.Clone(out.AllowedPaths)
	out.Builtins = cloneMap(out.Builtins)
	out.Services = make(map[string]ServiceConfig, len(out.Services))
	for name, s := range c.services() {
		setDefault(&s.Path, cfgDefaultRPCPath)
		setDefault(&s.Timeout.Duration, cfgServiceTimeout)
		out.Services[name] = s
	}
	out.Actions = make(map[string]ActionConfig, len(out.Actions))
	for name, a := range c.actions() {
		out.Actions[name] = c.actionDefaults(name, a)
	}
	setDefault(&out.DataDir, DefaultDataDir())
	setDefault(&out.DBPath, filepath.Join(out.DataDir, "hvagent.db"))
	setDefault(&out.MaxLoggedJobs, cfgMaxLoggedJobs)
	setDefault(&out.MaxEvents, cfgMaxEvents)
	setDefault(&out.MaxQueued, cfgMaxQueued)
	setDefault(&out.MaxMetadataKeys, DefaultMaxMetadataKeys)
	setDefault(&out.MaxMetadataKeyLen, DefaultMaxMetadataKeyLen)
	setDefault(&out.MaxMetadataValueLen, DefaultMaxMetadataValueLen)
	setDefault(&out.MaxMetadataBytes, DefaultMaxMetadataBytes)
	setDefault(&out.Durability, cfgDefaultDurability)
	setDefault(&out.InfoLimit, cfgInfoLimit)
	setDefault(&out.StreamLimit, cfgStreamLimit)
	setDefault(&out.HostJobLimit, cfgHostJobLimit)
	if out.Now == nil {
		out.Now = time.Now
	}
	if reflect.ValueOf(out.Logger).IsZero() {
		out.Logger = zerolog.Nop()
	}
	return out
}

// actionDefaults returns a deep copy of action name's config with defaults.
func (c *Config) actionDefaults(name string, a ActionConfig) ActionConfig {
	if a.Stages != nil {
		stages := make([]StageConfig, len(a.Stages))
		for i, st := range a.Stages {
			st.Args = cloneMap(st.Args)
			stages[i] = st
		}
		a.Stages = stages
	}
	if BaseAction(name) != ActionFetchImage {
		setDefault(&a.Timeout.Duration, cfgActionTimeout)
	}
	if base := BaseAction(name); base != name {
		setDefault(&a.OnInterrupt, c.actions()[base].OnInterrupt)
	}
	setDefault(&a.OnInterrupt, DefaultOnInterrupt(name))
	if a.Retry != nil {
		r := *a.Retry
		setDefault(&r.Attempts, cfgRetryAttempts)
		setDefault(&r.Backoff.Duration, cfgRetryBackoff)
		a.Retry = &r
	}
	return a
}

// services and actions return c's maps, nil for a nil c.
func (c *Config) services() map[string]ServiceConfig {
	if c == nil {
		return nil
	}
	return c.Services
}

func (c *Config) actions() map[string]ActionConfig {
	if c == nil {
		return nil
	}
	return c.Actions
}

// setDefault sets *p to def when *p is the zero value.
func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// cloneMap copies m; nil becomes an empty map.
func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return maps.Clone(m)
}
