package hvagent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/internal/strictjson"
)

// Config configures an Agent: it holds only what the library reads. Its JSON
// form is the library's part of a config file: the original mistify-agent
// keys (services, actions, dbpath) plus hvagent's extensions. Fields tagged
// `json:"-"` are set by code only. A program's own settings (hvagentd's
// listeners, TLS, tokens, logging) are not here: hvagentd's config file
// embeds Config next to them in one JSON object.
//
// LoadConfig and ParseConfig decode a file strictly, WithDefaults fills the
// defaults named in each field's doc and Validate checks the result.
type Config struct {
	// Services are the sub-agents, by name.
	Services map[string]ServiceConfig `json:"services"`
	// Actions are the pipelines, by action name.
	Actions map[string]ActionConfig `json:"actions"`
	// DBPath is the SQLite file; default <DataDir>/hvagent.db.
	DBPath string `json:"dbpath,omitempty"`
	// DataDir holds the database, sockets, images and guest disks; default
	// /var/lib/hvagent as root, else $XDG_STATE_HOME/hvagent, else
	// ~/.local/state/hvagent.
	DataDir string `json:"data_dir,omitempty"`
	// AllowedPaths are host directories (besides <DataDir>/images) from which
	// boot files and file:// image sources may be read.
	AllowedPaths []string `json:"allowed_paths,omitempty"`
	// QEMUAccel is the accelerator of the built-in QEMU driver: "tcg"
	// (default) or "kvm", which the driver uses only once a probe guest
	// proved it works (otherwise the agent's drivers fail to start).
	QEMUAccel string `json:"qemu_accel,omitempty"`

	// MaxLoggedJobs is how many finished jobs are kept; default 1000.
	// The Max* values must not be negative.
	MaxLoggedJobs int `json:"max_logged_jobs,omitempty"`
	// MaxEvents is how many events are kept; default 100000.
	MaxEvents int `json:"max_events,omitempty"`
	// MaxQueued is how many jobs one queue may hold; default 1000.
	MaxQueued int `json:"max_queued,omitempty"`
	// MaxMetadataKeys, MaxMetadataKeyLen, MaxMetadataValueLen and
	// MaxMetadataBytes bound one guest's metadata: its number of keys
	// (default 256), the bytes of one key (default 256) and of one value
	// (default 4096), and the bytes of all its keys and values (default
	// 16 KiB): the DefaultMaxMetadata* constants. A create or PATCH with a
	// longer key or value is refused as invalid, one whose result is over
	// a total as too_large. They keep the work of a metadata write, and the
	// size of a GET, bounded.
	MaxMetadataKeys     int `json:"max_metadata_keys,omitempty"`
	MaxMetadataKeyLen   int `json:"max_metadata_key_len,omitempty"`
	MaxMetadataValueLen int `json:"max_metadata_value_len,omitempty"`
	MaxMetadataBytes    int `json:"max_metadata_bytes,omitempty"`
	// Durability is "full" (default; SQLite synchronous=FULL) or "normal".
	Durability string `json:"durability,omitempty"`

	// Store is the durable state; required by New.
	Store Store `json:"-"`
	// Builtins are in-process sub-agents by builtin name ("sim", "qemu",
	// "storage"), reached by services that set Builtin.
	Builtins map[string]http.Handler `json:"-"`
	// Logger receives the agent's logs; default zerolog.Nop().
	Logger zerolog.Logger `json:"-"`
	// Observer receives measurements (see package hvagent/metrics); default
	// none.
	Observer Observer `json:"-"`
	// Now returns the current time; default time.Now.
	Now func() time.Time `json:"-"`
	// InfoLimit and StreamLimit bound concurrent info and stream actions per
	// guest; defaults 100 and 5.
	InfoLimit   int `json:"-"`
	StreamLimit int `json:"-"`
	// HostJobLimit bounds concurrent host-level jobs (images); default 4.
	HostJobLimit int `json:"-"`
	// Host is what the host can give one guest (CPUs, memory): a create
	// asking for more is refused. Zero fields are detected by New.
	Host HostResources `json:"-"`
}

// ServiceConfig is one sub-agent. Exactly one of Port, URL, Socket and
// Builtin locates it.
type ServiceConfig struct {
	// Port is a TCP port (1-65535) on 127.0.0.1, the original's only option.
	Port uint `json:"port,omitempty"`
	// Path is the RPC path, starting with "/"; default /_mistify_RPC_.
	// It is appended to URL too.
	Path string `json:"path,omitempty"`
	// URL is an http or https base URL.
	URL string `json:"url,omitempty"`
	// Socket is the path of a unix socket the sub-agent serves HTTP on.
	Socket string `json:"socket,omitempty"`
	// Builtin names an in-process driver: "sim", "qemu" or "storage".
	Builtin string `json:"builtin,omitempty"`
	// MaxPending bounds concurrent calls to the service; 0 = no limit.
	MaxPending uint `json:"max_pending,omitempty"`
	// Timeout bounds one call; default 60s. Must not be negative.
	Timeout Duration `json:"timeout,omitempty"`
}

// ActionConfig is one action's pipeline and policies.
type ActionConfig struct {
	// Stages run in order; an empty pipeline succeeds at once.
	Stages []StageConfig `json:"stages"`
	// Timeout bounds the whole pipeline; default 10m. A stream's is the
	// idle limit of its data instead, at most and by default 60s. An image
	// fetch has none by default: it runs as long as its data flows (the
	// storage driver cuts a download idle for 60s) and each of its calls
	// within its service's timeout.
	Timeout Duration `json:"timeout,omitempty"`
	// Retry retries stage calls that fail to connect.
	Retry *RetryConfig `json:"retry,omitempty"`
	// OnInterrupt is Requeue or Fail: what recovery does with a job of this
	// action found running. Default: the base action's configured policy for
	// a container action, else DefaultOnInterrupt(name).
	OnInterrupt string `json:"on_interrupt,omitempty"`
}

// StageConfig is one stage: a Service.Method call on a named service.
type StageConfig struct {
	// Service names an entry of Config.Services.
	Service string `json:"service"`
	// Method is the sub-agent method, "Service.Method" (e.g. Libvirt.Reboot).
	Method string `json:"method"`
	// Args reach the sub-agent in the args of every request of this stage.
	Args map[string]string `json:"args,omitempty"`
}

// RetryConfig retries connection errors with exponential backoff.
type RetryConfig struct {
	// Attempts is the total number of tries (at least 1); default 3.
	Attempts int `json:"attempts,omitempty"`
	// Backoff is the first wait, doubled each time; default 1s.
	Backoff Duration `json:"backoff,omitempty"`
}

// Duration is a time.Duration that reads and writes Go duration strings
// ("1m30s") in JSON.
type Duration struct{ time.Duration }

// CheckJSON reports what is wrong with data as a duration in a config
// file, nil when UnmarshalJSON accepts it. The strict config decoder calls
// it, so that a bad duration is named with its key.
func (Duration) CheckJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) != nil {
		return fmt.Errorf(`expected a duration string such as "1m30s", got %s`, strictjson.Describe(data))
	}
	if _, err := time.ParseDuration(s); err != nil {
		return fmt.Errorf(`invalid duration %s: expected a Go duration such as "1m30s"`, strictjson.Describe(data))
	}
	return nil
}

// MarshalJSON writes d as a Go duration string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a Go duration string such as "1m30s"; null leaves d
// unchanged. Anything else, a JSON number included, is EINVALID.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(EINVALID, `duration: expected a string such as "1m30s", got %s`, truncate(string(b)))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return WrapError(EINVALID, err, `duration %q: expected a Go duration such as "1m30s"`, truncate(s))
	}
	d.Duration = v
	return nil
}
