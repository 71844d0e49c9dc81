package hvagent_test

import (
	"net/http/httptest"
	"testing"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/servicetest"
)

// Both implementations of hvagent.Service pass the same conformance suite.
var (
	_ hvagent.Service = (*hvagent.Agent)(nil)
	_ hvagent.Service = (*rest.Client)(nil)
)

func TestService_Agent(t *testing.T) {
	t.Parallel()
	servicetest.Run(t, func(t *testing.T) (hvagent.Service, *agenttest.Env) {
		env := agenttest.New(t, agenttest.Opts{})
		return env.Agent, env
	})
}

func TestService_Client(t *testing.T) {
	t.Parallel()
	servicetest.Run(t, func(t *testing.T) (hvagent.Service, *agenttest.Env) {
		env := agenttest.New(t, agenttest.Opts{})
		srv := httptest.NewServer(rest.NewHandler(env.Agent, rest.HandlerOptions{Logger: agenttest.Logger(t)}))
		c := rest.NewClient(srv.URL)
		t.Cleanup(func() {
			c.CloseIdleConnections()
			srv.Close()
		})
		return c, env
	})
}
