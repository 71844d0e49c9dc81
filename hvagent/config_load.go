package hvagent

import (
	"bytes"
	"encoding/json"
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
	"unicode"

	"github.com/rs/zerolog"
)

// Defaults filled in by Config.WithDefaults.
const (
	cfgRootDataDir        = "/var/lib/hvagent"
	cfgDefaultListen      = "127.0.0.1:8080"
	cfgDefaultRPCPath     = "/_mistify_RPC_"
	cfgDefaultLogLevel    = "info"
	cfgDefaultLogFormat   = "json"
	cfgDefaultDurability  = "full"
	cfgShutdownTimeout    = 30 * time.Second
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

// parseConfig checks data against Config's JSON schema, then decodes it.
// where prefixes every error message.
func parseConfig(data []byte, where string) (*Config, error) {
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := lineColumn(data, syn)
			return nil, WrapError(EINVALID, err, "%s: invalid JSON at line %d, column %d: %v", where, line, col, err)
		}
		return nil, WrapError(EINVALID, err, "%s: invalid JSON: %v", where, err)
	}
	problems, err := checkSchema(data)
	if err != nil {
		return nil, WrapError(EINVALID, err, "%s: %v", where, err)
	}
	if len(problems) > 0 {
		return nil, problemsError(where, problems)
	}
	cfg := &Config{}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, WrapError(EINVALID, err, "%s: %v", where, err)
	}
	// Empty omitempty values become nil, so that a config marshals and
	// parses back to the same value.
	if len(cfg.AllowedPaths) == 0 {
		cfg.AllowedPaths = nil
	}
	for _, a := range cfg.Actions {
		for i := range a.Stages {
			if len(a.Stages[i].Args) == 0 {
				a.Stages[i].Args = nil
			}
		}
	}
	return cfg, nil
}

// lineColumn returns the 1-based line and column of the byte that syn's
// Offset (bytes read, including the offending one) points at, or of the end
// of data for an unexpected end of input.
func lineColumn(data []byte, syn *json.SyntaxError) (line, col int) {
	pos := int(syn.Offset) - 1
	// encoding/json reports a truncated document only by this message.
	if syn.Error() == "unexpected end of JSON input" || pos < 0 || pos > len(data) {
		pos = len(data)
	}
	before := data[:pos]
	line = 1 + strings.Count(string(before), "\n")
	col = pos - strings.LastIndexByte(string(before), '\n')
	return line, col
}

// problemsError joins problem messages into one EINVALID error.
func problemsError(where string, problems []string) *Error {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return &Error{Code: EINVALID, Message: where + ": " + strings.Join(problems, "; "), Err: errors.Join(errs...)}
}

// schemaChecker walks a syntactically valid JSON document token by token
// against a Go type and records unknown keys, duplicate keys and type
// mismatches, in document order.
type schemaChecker struct {
	dec      *json.Decoder
	problems []string
}

// checkSchema returns data's problems against Config; the error is for a
// document that cannot be read at all.
func checkSchema(data []byte) ([]string, error) {
	c := &schemaChecker{dec: json.NewDecoder(bytes.NewReader(data))}
	c.dec.UseNumber()
	tok, err := c.dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return []string{"expected a JSON object at top level, got " + describeToken(tok)}, nil
	}
	if err := c.object("", reflect.TypeFor[Config]()); err != nil {
		return nil, err
	}
	return c.problems, nil
}

func (c *schemaChecker) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// value reads one value and checks it against t.
func (c *schemaChecker) value(t reflect.Type, path string) error {
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	return c.check(tok, t, path)
}

// check checks the value starting with tok against t. null is accepted
// everywhere and leaves the Go value unset, as encoding/json does.
func (c *schemaChecker) check(tok json.Token, t reflect.Type, path string) error {
	if tok == nil {
		return nil
	}
	if t == reflect.TypeFor[Duration]() {
		return c.duration(tok, path)
	}
	var want string
	switch t.Kind() {
	case reflect.Pointer:
		return c.check(tok, t.Elem(), path)
	case reflect.Struct, reflect.Map:
		if tok == json.Delim('{') {
			return c.object(path, t)
		}
		want = "an object"
	case reflect.Slice:
		if tok == json.Delim('[') {
			return c.array(path, t.Elem())
		}
		want = "an array"
	case reflect.String:
		if _, ok := tok.(string); ok {
			return nil
		}
		want = "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err == nil {
				return nil
			}
		}
		want = "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err == nil {
				return nil
			}
		}
		want = "a non-negative integer"
	case reflect.Bool:
		if _, ok := tok.(bool); ok {
			return nil
		}
		want = "true or false"
	default:
		want = "no value (unsupported field type " + t.String() + ")"
	}
	c.addf("%s: expected %s, got %s", path, want, describeToken(tok))
	return c.skip(tok)
}

// duration checks a Duration value: a Go duration string.
func (c *schemaChecker) duration(tok json.Token, path string) error {
	s, ok := tok.(string)
	if !ok {
		c.addf(`%s: expected a duration string such as "1m30s", got %s`, path, describeToken(tok))
		return c.skip(tok)
	}
	if _, err := time.ParseDuration(s); err != nil {
		c.addf(`%s: invalid duration %s: expected a Go duration such as "1m30s"`, path, describeToken(tok))
	}
	return nil
}

// object checks the members of an object whose '{' has been read, against
// struct t (keys are its exact JSON names) or map t.
func (c *schemaChecker) object(path string, t reflect.Type) error {
	seen := map[string]bool{}
	for c.dec.More() {
		tok, err := c.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if seen[key] {
			c.addf("duplicate key %q %s", key, describePath(path))
		}
		seen[key] = true
		elem, ok := memberType(t, key)
		if !ok {
			c.addf("unknown key %q %s", key, describePath(path))
			if err := c.skipValue(); err != nil {
				return err
			}
			continue
		}
		if err := c.value(elem, joinPath(path, key)); err != nil {
			return err
		}
	}
	_, err := c.dec.Token() // '}'
	return err
}

// array checks the elements of an array whose '[' has been read.
func (c *schemaChecker) array(path string, elem reflect.Type) error {
	for i := 0; c.dec.More(); i++ {
		if err := c.value(elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	_, err := c.dec.Token() // ']'
	return err
}

// skipValue reads and ignores one value.
func (c *schemaChecker) skipValue() error {
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	return c.skip(tok)
}

// skip ignores the rest of the value that starts with tok.
func (c *schemaChecker) skip(tok json.Token) error {
	depth := 0
	for {
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = c.dec.Token(); err != nil {
			return err
		}
	}
}

// memberType returns the type of key's value in struct or map t, and false
// for a key that a struct does not have. Struct keys match exactly (no case
// folding, unlike encoding/json), so "Port" is an unknown key.
func memberType(t reflect.Type, key string) (reflect.Type, bool) {
	if t.Kind() == reflect.Map {
		return t.Elem(), true
	}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if f.IsExported() && name != "-" && name == key {
			return f.Type, true
		}
	}
	return nil, false
}

// joinPath appends key to a dotted path, quoting keys that are not plain
// identifiers: services.libvirt, services["my svc"].
func joinPath(path, key string) string {
	plain := key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	}) < 0
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

// describePath says where a key is: "at top level" or "in services.x".
func describePath(path string) string {
	if path == "" {
		return "at top level"
	}
	return "in " + path
}

// describeToken names a JSON token for an error message.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "string " + strconv.Quote(truncate(v))
	case json.Number:
		return truncate(string(v))
	case bool:
		return strconv.FormatBool(v)
	}
	return "null"
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
	setDefault(&out.Socket, filepath.Join(out.DataDir, "hvagent.sock"))
	setDefault(&out.Listen, cfgDefaultListen)
	setDefault(&out.LogLevel, cfgDefaultLogLevel)
	setDefault(&out.LogFormat, cfgDefaultLogFormat)
	setDefault(&out.ShutdownTimeout.Duration, cfgShutdownTimeout)
	setDefault(&out.MaxLoggedJobs, cfgMaxLoggedJobs)
	setDefault(&out.MaxEvents, cfgMaxEvents)
	setDefault(&out.MaxQueued, cfgMaxQueued)
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
	setDefault(&a.Timeout.Duration, cfgActionTimeout)
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
