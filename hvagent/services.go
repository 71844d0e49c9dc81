package hvagent

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// serviceSet holds one sub-agent client per configured service.
type serviceSet struct {
	clients   map[string]*subagent.Client
	inprocess []*subagent.InProcess
}

// newServiceSet builds the clients of c's services: TCP ports and URLs over
// HTTP, unix sockets, and builtins through an in-memory connection.
func newServiceSet(c *Config) (*serviceSet, error) {
	set := &serviceSet{clients: map[string]*subagent.Client{}}
	builtin := map[string]*http.Client{}
	for name, s := range c.Services {
		url, err := c.ServiceURL(name)
		if err != nil {
			return nil, err
		}
		cc := subagent.ClientConfig{URL: url, Timeout: s.Timeout.Duration, MaxPending: int(s.MaxPending)}
		switch {
		case s.Builtin != "":
			hc := builtin[s.Builtin]
			if hc == nil {
				p := subagent.NewInProcess(c.Builtins[s.Builtin])
				set.inprocess = append(set.inprocess, p)
				hc = p.HTTPClient()
				builtin[s.Builtin] = hc
			}
			cc.HTTPClient = hc
		case s.Socket != "":
			cc.HTTPClient = unixClient(s.Socket)
		}
		set.clients[name] = subagent.NewClient(cc)
	}
	return set, nil
}

// unixClient returns an HTTP client that dials the unix socket path.
func unixClient(path string) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

func (s *serviceSet) client(name string) *subagent.Client { return s.clients[name] }

func (s *serviceSet) close() {
	for _, p := range s.inprocess {
		_ = p.Close()
	}
}
