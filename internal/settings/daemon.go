package settings

import (
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// ListenOff is the Listen value that turns the TCP listener off.
const ListenOff = "off"

// Defaults filled in by WithDefaults.
const (
	defaultListen          = "127.0.0.1:8080"
	defaultSocketName      = "hvagent.sock"
	defaultLogLevel        = "info"
	defaultLogFormat       = "json"
	defaultShutdownTimeout = 30 * time.Second

	defaultMaxConnections          = 1024
	defaultMaxConnectionsPerClient = 64
	defaultMaxStreams              = rest.DefaultMaxStreams
	defaultMaxEventClients         = rest.DefaultMaxEventClients
)

// Accepted values of the enumerated daemon keys.
var (
	logLevels  = []string{"debug", "info", "warn", "warning", "error"}
	logFormats = []string{"json", "console"}
)

// Daemon is hvagentd's own settings: where it serves the REST API, who may
// call it, how it logs and how long it may take to stop. Each is also a
// flag and an HVAGENT_* environment variable of hvagentd.
type Daemon struct {
	// Listen is the TCP address (host:port) of the REST API; default
	// 127.0.0.1:8080; "off" turns TCP off. An address that is not loopback
	// needs TokensFile or ClientCA (see CheckExposure).
	Listen string `json:"listen,omitempty"`
	// Socket is the unix socket of the REST API (mode 0660); default
	// <data_dir>/hvagent.sock.
	Socket string `json:"socket,omitempty"`
	// SocketGroup is the group (name or id) given the unix socket; default
	// the daemon's group.
	SocketGroup string `json:"socket_group,omitempty"`
	// AdminListen is the TCP address of the admin listener (pprof,
	// metrics); default off.
	AdminListen string `json:"admin_listen,omitempty"`
	// TokensFile is a JSON list of API tokens that TCP clients must
	// present; default none.
	TokensFile string `json:"tokens_file,omitempty"`
	// TLSCert and TLSKey (PEM files) enable TLS on the TCP listeners; set
	// both or neither. Default no TLS.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	// ClientCA (PEM) makes TCP clients present a certificate it signed;
	// needs TLSCert. Default none.
	ClientCA string `json:"client_ca,omitempty"`
	// LogLevel is debug, info, warn (or warning, as the original accepted)
	// or error; default info.
	LogLevel string `json:"log_level,omitempty"`
	// LogFormat is json or console; default json.
	LogFormat string `json:"log_format,omitempty"`
	// ShutdownTimeout bounds a graceful stop; default 30s. Must not be
	// negative.
	ShutdownTimeout hvagent.Duration `json:"shutdown_timeout,omitempty"`
	// MaxConnections caps the connections open at once on all the
	// listeners together; a connection beyond it is closed at once.
	// Default (and 0) 1024; must not be negative.
	MaxConnections int `json:"max_connections,omitempty"`
	// MaxConnectionsPerClient caps the connections open at once from one
	// client IP address on the TCP listeners. Default (and 0) 64; must
	// not be negative.
	MaxConnectionsPerClient int `json:"max_connections_per_client,omitempty"`
	// MaxStreams caps the stream requests (snapshot downloads, console
	// logs and sessions) served at once on all the listeners together; one
	// beyond is answered 503 unavailable with Retry-After. Default (and 0)
	// 64; must not be negative.
	MaxStreams int `json:"max_streams,omitempty"`
	// MaxEventClients caps the GET /events requests (event streams and
	// long polls) served at once on all the listeners together, as
	// MaxStreams does. Default (and 0) 256; must not be negative.
	MaxEventClients int `json:"max_event_clients,omitempty"`
	// RequestRate is how many requests per second each caller (token
	// name, else client IP address; the unix socket is one caller) may
	// make on average; beyond it a request is answered 429 busy with
	// Retry-After. Default 0: no rate limit. Must not be negative.
	RequestRate float64 `json:"request_rate,omitempty"`
	// RequestBurst is how many requests a caller may make at once above
	// RequestRate; default RequestRate rounded up. Needs RequestRate.
	RequestBurst int `json:"request_burst,omitempty"`
}

// withDefaults returns d with every unset field given its default; dataDir
// is the effective data dir.
func (d Daemon) withDefaults(dataDir string) Daemon {
	setDefault(&d.Listen, defaultListen)
	setDefault(&d.Socket, filepath.Join(dataDir, defaultSocketName))
	setDefault(&d.LogLevel, defaultLogLevel)
	setDefault(&d.LogFormat, defaultLogFormat)
	setDefault(&d.ShutdownTimeout.Duration, defaultShutdownTimeout)
	setDefault(&d.MaxConnections, defaultMaxConnections)
	setDefault(&d.MaxConnectionsPerClient, defaultMaxConnectionsPerClient)
	setDefault(&d.MaxStreams, defaultMaxStreams)
	setDefault(&d.MaxEventClients, defaultMaxEventClients)
	if d.RequestRate > 0 {
		setDefault(&d.RequestBurst, int(math.Ceil(d.RequestRate)))
	}
	return d
}

// LogLevels returns the accepted values of log_level.
func LogLevels() []string { return slices.Clone(logLevels) }

// LogFormats returns the accepted values of log_format.
func LogFormats() []string { return slices.Clone(logFormats) }

// problems checks the daemon's keys.
func (d *Daemon) problems() []string {
	var p []string
	p = appendEnum(p, "log_level", d.LogLevel, logLevels)
	p = appendEnum(p, "log_format", d.LogFormat, logFormats)
	if d.ShutdownTimeout.Duration < 0 {
		p = append(p, fmt.Sprintf("shutdown_timeout must not be negative, got %v", d.ShutdownTimeout.Duration))
	}
	if d.MaxConnections < 0 {
		p = append(p, fmt.Sprintf("max_connections must not be negative, got %d", d.MaxConnections))
	}
	if d.MaxConnectionsPerClient < 0 {
		p = append(p, fmt.Sprintf("max_connections_per_client must not be negative, got %d", d.MaxConnectionsPerClient))
	}
	p = append(p, d.limitProblems()...)
	if (d.TLSCert == "") != (d.TLSKey == "") {
		p = append(p, "tls_cert and tls_key must be set together")
	}
	if d.ClientCA != "" && d.TLSCert == "" {
		p = append(p, "client_ca needs TLS: set tls_cert and tls_key (--tls-cert, --tls-key) too")
	}
	for _, l := range d.listeners() {
		if err := CheckAddr(l.addr); err != nil {
			p = append(p, fmt.Sprintf("%s %q: %v", l.key, l.addr, err))
		}
	}
	return p
}

// CheckAddr checks a TCP listener's address: host:port, with a port number
// (0 to 65535, 0 picking a free one) or a service name.
func CheckAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return fmt.Errorf("want host:port such as 127.0.0.1:8080: %w", err)
	}
	return nil
}

// limitProblems checks the request limits.
func (d *Daemon) limitProblems() []string {
	var p []string
	for _, l := range []struct {
		key string
		v   int
	}{{"max_streams", d.MaxStreams}, {"max_event_clients", d.MaxEventClients}, {"request_burst", d.RequestBurst}} {
		if l.v < 0 {
			p = append(p, fmt.Sprintf("%s must not be negative, got %d", l.key, l.v))
		}
	}
	if d.RequestRate < 0 || math.IsNaN(d.RequestRate) || math.IsInf(d.RequestRate, 0) {
		p = append(p, fmt.Sprintf("request_rate must be a number of requests per second, 0 or more, got %v", d.RequestRate))
	}
	if d.RequestBurst > 0 && d.RequestRate == 0 {
		p = append(p, "request_burst needs request_rate (--request-rate): a burst above no rate limit means nothing")
	}
	return p
}

// Limits returns the request limits of the REST handlers.
func (d *Daemon) Limits() rest.LimitOptions {
	return rest.LimitOptions{
		MaxStreams: d.MaxStreams, MaxEventClients: d.MaxEventClients,
		RequestRate: d.RequestRate, RequestBurst: d.RequestBurst,
	}
}

// listener is a TCP listener setting.
type listener struct{ key, addr string }

// listeners are the TCP listeners that d turns on.
func (d *Daemon) listeners() []listener {
	var ls []listener
	if d.Listen != "" && d.Listen != ListenOff {
		ls = append(ls, listener{"listen", d.Listen})
	}
	if d.AdminListen != "" {
		ls = append(ls, listener{"admin_listen", d.AdminListen})
	}
	return ls
}

// Guarded reports whether TCP clients must authenticate: a tokens file or
// client certificates are configured.
func (d *Daemon) Guarded() bool { return d.TokensFile != "" || d.ClientCA != "" }

// CheckExposure refuses TCP listeners that anyone on the network could
// reach without authentication: unless d is Guarded, every TCP listener
// must be on a loopback address. It checks the addresses as written; a
// name other than localhost is refused, since it could resolve elsewhere.
// Errors are EINVALID.
func (d *Daemon) CheckExposure() error {
	if d.Guarded() {
		return nil
	}
	for _, l := range d.listeners() {
		host, _, err := net.SplitHostPort(l.addr)
		if err != nil {
			return hvagent.Errorf(hvagent.EINVALID, "config: %s %q: want host:port such as 127.0.0.1:8080: %v", l.key, l.addr, err)
		}
		if !loopbackHost(host) {
			err := InsecureError(l.key, l.addr)
			return hvagent.WrapError(hvagent.EINVALID, err, "config: %v", err)
		}
	}
	return nil
}

// InsecureError is the error of listener key on address addr, which is not
// loopback while clients need not authenticate.
func InsecureError(key, addr string) error {
	return fmt.Errorf("%s %s is not a loopback address: refusing to serve the API there without authentication; "+
		"set tokens_file (--tokens-file) or client_ca (--client-ca), or listen on 127.0.0.1", key, addr)
}

// loopbackHost reports whether host is "localhost" or a loopback IP.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// appendEnum adds a problem when v is set and not one of allowed.
func appendEnum(p []string, key, v string, allowed []string) []string {
	if v == "" || slices.Contains(allowed, v) {
		return p
	}
	return append(p, fmt.Sprintf("%s %q is not one of %s", key, v, strings.Join(allowed, ", ")))
}

// problemsError returns nil without problems, else one EINVALID error with
// the problems sorted, de-duplicated and joined by "; ".
func problemsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	problems = slices.Compact(problems)
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return &hvagent.Error{Code: hvagent.EINVALID, Message: "config: " + strings.Join(problems, "; "), Err: errors.Join(errs...)}
}

// setDefault sets *p to def when *p is the zero value.
func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
