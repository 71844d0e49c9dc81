package hvagent

import (
	"net/http"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// serviceSet holds one sub-agent client per configured service.
type serviceSet struct {
	clients   map[string]*subagent.Client
	inprocess map[string]*subagent.InProcess // by builtin name
}

// newServiceSet builds the clients of c's services: TCP ports and URLs over
// HTTP, unix sockets, and builtins through an in-memory connection.
func newServiceSet(c *Config) (*serviceSet, error) {
	set := &serviceSet{clients: map[string]*subagent.Client{}, inprocess: map[string]*subagent.InProcess{}}
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
				set.inprocess[s.Builtin] = p
				hc = p.HTTPClient()
				builtin[s.Builtin] = hc
			}
			cc.HTTPClient = hc
		case s.Socket != "":
			cc.Socket = s.Socket
		}
		set.clients[name] = subagent.NewClient(cc)
	}
	return set, nil
}

func (s *serviceSet) client(name string) *subagent.Client { return s.clients[name] }

// abandoned returns, by builtin name, how many calls of in-process drivers
// still run although their caller gave up on them.
func (s *serviceSet) abandoned() map[string]int {
	n := map[string]int{}
	for name, p := range s.inprocess {
		if k := p.Abandoned(); k > 0 {
			n[name] = k
		}
	}
	return n
}

func (s *serviceSet) close() {
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
	for _, p := range s.inprocess {
		_ = p.Close()
	}
}
