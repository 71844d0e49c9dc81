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
// queued in order until ResumeQueue. The pause is recorded in the store:
// it holds across restarts of the agent. It returns once no claim made
// before the pause can still start such a job. Errors: EINVALID (unknown
// action).
func (a *Agent) PauseQueue(ctx context.Context, action string) error {
	key, err := pauseKey(action)
	if err != nil {
		return err
	}
	a.pauseMu.Lock()
	defer a.pauseMu.Unlock()
	if err := a.store.PauseQueue(ctx, key, a.now()); err != nil {
		return err
	}
	a.claimMu.Lock() // wait for claims made with the old paused set
	defer a.claimMu.Unlock()
	a.mu.Lock()
	a.paused[key] = true
	a.mu.Unlock()
	a.log.Info().Str("action", key).Msg("queue paused")
	return nil
}

// ResumeQueue undoes PauseQueue for action ("" or "*" resumes everything)
// and restarts the queues that hold jobs. Errors: EINVALID; ECONFLICT for
// one action while every action is paused (resume all, then pause the
// others).
func (a *Agent) ResumeQueue(ctx context.Context, action string) error {
	key, err := pauseKey(action)
	if err != nil {
		return err
	}
	a.pauseMu.Lock()
	defer a.pauseMu.Unlock()
	a.mu.Lock()
	all := a.paused[allActions]
	a.mu.Unlock()
	if all && key != allActions {
		return Errorf(ECONFLICT, "every action is paused: resume them all, then pause the others, to resume only %s", key)
	}
	if err := a.store.ResumeQueue(ctx, key); err != nil {
		return err
	}
	a.mu.Lock()
	if key == allActions {
		clear(a.paused)
	} else {
		delete(a.paused, key)
	}
	a.mu.Unlock()
	a.log.Info().Str("action", key).Msg("queue resumed")
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

// loadPaused takes the pauses recorded by an earlier agent on the store.
func (a *Agent) loadPaused(ctx context.Context) error {
	actions, err := a.store.PausedActions(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	clear(a.paused)
	for _, action := range actions {
		a.paused[action] = true
	}
	a.mu.Unlock()
	if len(actions) > 0 {
		a.log.Info().Strs("actions", actions).Msg("queues paused before this start stay paused")
	}
	return nil
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
