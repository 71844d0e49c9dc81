package hvagent

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Accepted values of the enumerated config keys.
var (
	cfgBuiltins    = []string{"sim", "qemu", "storage"}
	cfgDurability  = []string{"full", "normal"}
	cfgQEMUAccel   = []string{"tcg", "kvm"}
	cfgOnInterrupt = []string{Requeue, Fail}
)

// Validate reports every problem of c in one EINVALID error, its messages
// sorted and joined by "; " (its Err joins one error per problem). Zero values mean "default", so c may be
// validated before or after WithDefaults. Validate does not check what only
// the running agent knows (whether the program provides each builtin).
func (c *Config) Validate() error {
	if c == nil {
		return Errorf(EINVALID, "config: no config")
	}
	var problems []string
	for name, s := range c.Services {
		problems = append(problems, s.problems(name)...)
	}
	for name, a := range c.Actions {
		problems = append(problems, a.problems(name, c.Services)...)
	}
	problems = append(problems, c.topProblems()...)
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return problemsError("config", slices.Compact(problems))
}

// topProblems checks the top-level keys.
func (c *Config) topProblems() []string {
	var p []string
	p = appendEnum(p, "durability", c.Durability, cfgDurability)
	p = appendEnum(p, "qemu_accel", c.QEMUAccel, cfgQEMUAccel)
	for _, n := range []struct {
		key string
		v   int
	}{
		{"max_logged_jobs", c.MaxLoggedJobs}, {"max_events", c.MaxEvents}, {"max_queued", c.MaxQueued},
		{"max_metadata_keys", c.MaxMetadataKeys}, {"max_metadata_key_len", c.MaxMetadataKeyLen},
		{"max_metadata_value_len", c.MaxMetadataValueLen}, {"max_metadata_bytes", c.MaxMetadataBytes},
		{"InfoLimit", c.InfoLimit}, {"StreamLimit", c.StreamLimit}, {"HostJobLimit", c.HostJobLimit},
	} {
		p = appendNegative(p, n.key, n.v)
	}
	return p
}

// problems checks service name.
func (s ServiceConfig) problems(name string) []string {
	var p []string
	if name == "" {
		p = append(p, "service name cannot be empty")
	}
	var set []string
	for _, l := range []struct {
		key string
		on  bool
	}{{"port", s.Port != 0}, {"url", s.URL != ""}, {"socket", s.Socket != ""}, {"builtin", s.Builtin != ""}} {
		if l.on {
			set = append(set, l.key)
		}
	}
	switch {
	case len(set) == 0:
		p = append(p, fmt.Sprintf("service %s has no port, url, socket or builtin", name))
	case len(set) > 1:
		p = append(p, fmt.Sprintf("service %s has more than one of port, url, socket and builtin (%s)",
			name, strings.Join(set, ", ")))
	}
	if s.Port > 65535 {
		p = append(p, fmt.Sprintf("service %s: port %d is out of range 1-65535", name, s.Port))
	}
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, fmt.Sprintf("service %s: url %q is not an http or https URL", name, s.URL))
		}
	}
	if s.Builtin != "" && !slices.Contains(cfgBuiltins, s.Builtin) {
		p = append(p, fmt.Sprintf("service %s: builtin %q is not one of %s", name, s.Builtin, strings.Join(cfgBuiltins, ", ")))
	}
	if s.Path != "" && !strings.HasPrefix(s.Path, "/") {
		p = append(p, fmt.Sprintf("service %s: path %q must start with \"/\"", name, s.Path))
	}
	return appendNegative(p, "service "+name+": timeout", s.Timeout.Duration)
}

// problems checks action name; services are the configured services.
func (a ActionConfig) problems(name string, services map[string]ServiceConfig) []string {
	var p []string
	switch k, ok := KindOf(name); {
	case !ok:
		p = append(p, fmt.Sprintf("action %s is not a valid action", name))
	case k == Stream && len(a.Stages) != 1:
		p = append(p, fmt.Sprintf("stream action %s must have exactly one stage, has %d", name, len(a.Stages)))
	}
	for i, st := range a.Stages {
		switch _, ok := services[st.Service]; {
		case st.Service == "":
			p = append(p, fmt.Sprintf("%s: service cannot be empty (stage %d)", name, i+1))
		case !ok:
			p = append(p, fmt.Sprintf("%s unable to find service %s", name, st.Service))
		}
		switch {
		case st.Method == "":
			p = append(p, fmt.Sprintf("%s: method cannot be empty (stage %d)", name, i+1))
		case !validMethod(st.Method):
			p = append(p, fmt.Sprintf("%s: method %q is not of the form Service.Method (stage %d)", name, st.Method, i+1))
		}
	}
	prefix := "action " + name + ": "
	p = appendNegative(p, prefix+"timeout", a.Timeout.Duration)
	p = appendEnum(p, prefix+"on_interrupt", a.OnInterrupt, cfgOnInterrupt)
	if a.Retry != nil {
		if a.Retry.Attempts < 0 {
			p = append(p, fmt.Sprintf("%sretry attempts must be at least 1, got %d", prefix, a.Retry.Attempts))
		}
		p = appendNegative(p, prefix+"retry backoff", a.Retry.Backoff.Duration)
	}
	return p
}

// validMethod reports whether m has the "Service.Method" form that
// mistify sub-agents (gorilla/rpc) require: exactly one dot between two
// non-empty names, no spaces.
func validMethod(m string) bool {
	svc, meth, ok := strings.Cut(m, ".")
	return ok && svc != "" && meth != "" && !strings.Contains(meth, ".") &&
		strings.IndexFunc(m, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// appendEnum adds a problem when v is set and not one of allowed.
func appendEnum(p []string, key, v string, allowed []string) []string {
	if v == "" || slices.Contains(allowed, v) {
		return p
	}
	return append(p, fmt.Sprintf("%s %q is not one of %s", key, v, strings.Join(allowed, ", ")))
}

// appendNegative adds a problem when v is negative.
func appendNegative[T int | time.Duration](p []string, key string, v T) []string {
	if v >= 0 {
		return p
	}
	return append(p, fmt.Sprintf("%s must not be negative, got %v", key, v))
}
