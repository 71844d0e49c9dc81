package hvagent_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// probe is a test sub-agent that echoes guests and records, per guest, the
// order in which jobs ran and whether two ever overlapped.
type probe struct {
	mu       sync.Mutex
	delay    time.Duration
	active   map[string]int
	overlaps int
	maxConc  int
	conc     int
	order    map[string][]string // guest → job IDs in call order
}

func newProbe(t *testing.T, delay time.Duration) (*probe, string) {
	p := &probe{delay: delay, active: map[string]int{}, order: map[string][]string{}}
	s := subagent.NewServer()
	subagent.Handle(s, "Probe.Step", p.step)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *probe) step(ctx context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	job, _ := subagent.CallInfo(ctx)
	id := req.Guest.ID
	p.mu.Lock()
	p.active[id]++
	if p.active[id] > 1 {
		p.overlaps++
	}
	p.conc++
	p.maxConc = max(p.maxConc, p.conc)
	p.order[id] = append(p.order[id], job)
	p.mu.Unlock()
	select {
	case <-time.After(p.delay):
	case <-ctx.Done():
	}
	p.mu.Lock()
	p.active[id]--
	p.conc--
	p.mu.Unlock()
	g := *req.Guest
	g.State = hvagent.StateRunning
	return &subagent.GuestResponse{Guest: &g}, nil
}

// probeConfig wires create and every guest lifecycle action to the probe.
func probeConfig(url string) *hvagent.Config {
	actions := map[string]hvagent.ActionConfig{}
	for _, a := range []string{hvagent.ActionCreate, hvagent.ActionReboot, hvagent.ActionStart, hvagent.ActionDelete} {
		actions[a] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{{Service: "probe", Method: "Probe.Step"}}}
	}
	return &hvagent.Config{Services: map[string]hvagent.ServiceConfig{"probe": {URL: url}}, Actions: actions}
}
