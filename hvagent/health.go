package hvagent

import (
	"context"
	"slices"
)

// Version is the agent's version, set at build time with
// -ldflags "-X github.com/hvagent/hvagent/hvagent.Version=v1.2.3".
var Version = "dev"

// allActions is the PauseQueue argument naming every action.
const allActions = "*"

// Health reports whether the agent is serving and what drives it.
func (a *Agent) Health(context.Context) (*Health, error) {
	h := &Health{Version: Version, Builtins: []string{}, Paused: []string{}}
	a.mu.Lock()
	switch a.state {
	case stateStarted:
		h.Status = "ok"
	case stateNew, stateStarting:
		h.Status = "starting"
	default:
		h.Status = "stopping"
	}
	for action := range a.paused {
		h.Paused = append(h.Paused, action)
	}
	a.mu.Unlock()
	for _, s := range a.cfg.Services {
		if s.Builtin != "" && !slices.Contains(h.Builtins, s.Builtin) {
			h.Builtins = append(h.Builtins, s.Builtin)
		}
	}
	slices.Sort(h.Builtins)
	slices.Sort(h.Paused)
	h.Simulated = slices.Contains(h.Builtins, "sim")
	return h, nil
}

// PauseQueue stops workers from starting jobs of action ("" or "*" = all
// actions). A paused job at the head of a queue holds the queue: jobs stay
// queued in order until ResumeQueue. It returns once no claim made before
// the pause can still start such a job. Errors: EINVALID (unknown action).
func (a *Agent) PauseQueue(_ context.Context, action string) error {
	key, err := pauseKey(action)
	if err != nil {
		return err
	}
	a.claimMu.Lock() // wait for claims made with the old paused set
	defer a.claimMu.Unlock()
	a.mu.Lock()
	a.paused[key] = true
	a.mu.Unlock()
	return nil
}

// ResumeQueue undoes PauseQueue for action ("" or "*" resumes everything)
// and restarts the queues that hold jobs. Errors: EINVALID.
func (a *Agent) ResumeQueue(ctx context.Context, action string) error {
	key, err := pauseKey(action)
	if err != nil {
		return err
	}
	a.mu.Lock()
	if key == allActions {
		clear(a.paused)
	} else {
		delete(a.paused, key)
	}
	a.mu.Unlock()
	queues, err := a.store.QueuedQueues(ctx)
	if err != nil {
		return err
	}
	for _, q := range queues {
		a.kick(q)
	}
	return nil
}

func pauseKey(action string) (string, error) {
	if action == "" || action == allActions {
		return allActions, nil
	}
	if _, ok := KindOf(action); !ok {
		return "", Errorf(EINVALID, "unknown action %q", action)
	}
	return action, nil
}

// claimPaused returns the action names a worker must not start: each
// paused action with its container variant, or "*" when all are paused.
func (a *Agent) claimPaused() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.paused) == 0 {
		return nil
	}
	names := make([]string, 0, 2*len(a.paused))
	for n := range a.paused {
		names = append(names, n)
		if BaseAction(n) == n && n != allActions {
			if _, plain := plainActions[n]; !plain {
				names = append(names, ContainerAction(n))
			}
		}
	}
	return names
}
