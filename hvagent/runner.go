package hvagent

import (
	"context"
	"slices"
	"strings"
	"time"
)

// queueWorker tracks the one worker goroutine of a queue, which is in
// Agent.queues while it runs. The queue itself lives in the Store; the
// worker claims jobs from it until it is empty.
type queueWorker struct {
	again bool // a job was enqueued while it was running
}

// guestLimits are the per-guest throttles of info and stream actions.
type guestLimits struct {
	info   chan struct{}
	stream chan struct{}
}

// hostQueuePrefix starts the queue keys of host-level (image) jobs.
const hostQueuePrefix = "image:"

// imageQueue returns the serial queue of image id of type typ.
func imageQueue(typ, id string) string { return hostQueuePrefix + typ + ":" + id }

// kick makes sure a worker runs for queue.
func (a *Agent) kick(queue string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.live() {
		return
	}
	if w := a.queues[queue]; w != nil {
		w.again = true
		return
	}
	go a.work(queue, a.addWorker(queue), nil)
}

// reserveWorker registers queue's worker and returns it, for the caller to
// start (go work) once it has enqueued a job, whatever the enqueue's
// outcome; nil when a worker runs already, the agent is stopping, or queue
// is a host queue (whose jobs take a slot of hostSem each before they are
// claimed).
func (a *Agent) reserveWorker(queue string) *queueWorker {
	if strings.HasPrefix(queue, hostQueuePrefix) {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.live() || a.queues[queue] != nil {
		return nil
	}
	return a.addWorker(queue)
}

// addWorker registers a worker for queue, which has none, and counts it in
// workers; a.mu is held.
func (a *Agent) addWorker(queue string) *queueWorker {
	w := &queueWorker{}
	a.queues[queue] = w
	a.workers.Add(1)
	return w
}

// work claims and runs the jobs of queue one at a time until it is empty or
// the agent stops, beginning with first when it is set (a job claimed when
// it was queued).
func (a *Agent) work(queue string, w *queueWorker, first *Claim) {
	defer a.workers.Done()
	host := strings.HasPrefix(queue, hostQueuePrefix)
	for {
		if host {
			a.hostSem <- struct{}{}
		}
		ran, err := a.runNext(queue, host, first)
		first = nil
		if host {
			<-a.hostSem
		}
		if ran {
			continue
		}
		if err != nil && a.accepting() == nil {
			a.log.Error().Err(err).Str("queue", queue).Msg("claim job")
			a.pause()
			continue
		}
		a.mu.Lock()
		if w.again && a.live() {
			w.again = false
			a.mu.Unlock()
			continue
		}
		delete(a.queues, queue)
		a.mu.Unlock()
		return
	}
}

// runNext claims the oldest queued job of queue (unless it was given one
// claimed already) and runs it, then each job that the end of the one
// before claimed in the same commit (see Agent.end). It reports whether
// it ran one. A host queue's jobs are claimed one by one: its worker takes
// a slot of hostSem for each.
func (a *Agent) runNext(queue string, host bool, claimed *Claim) (bool, error) {
	c := claimed
	if c == nil {
		var err error
		if c, err = a.claim(queue); err != nil || c == nil {
			return false, err
		}
	}
	next := queue
	if host {
		next = ""
	}
	for c != nil {
		c = a.runJob(c, next)
	}
	return true, nil
}

// claim claims the oldest queued job of queue that may start now; nil
// when there is none.
func (a *Agent) claim(queue string) (*Claim, error) {
	a.claimMu.RLock()
	defer a.claimMu.RUnlock()
	o, ok := a.claimOptions()
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.store.Claim(ctx, queue, a.now(), o)
}

// claimOptions returns the options of a claim made now, and false when no
// job may start: the agent is not accepting work, or every action is
// paused.
func (a *Agent) claimOptions() (ClaimOptions, bool) {
	if a.accepting() != nil {
		return ClaimOptions{}, false
	}
	paused := a.claimPaused()
	if slices.Contains(paused, allActions) {
		return ClaimOptions{}, false
	}
	return ClaimOptions{Paused: paused, FirstStage: a.firstStages}, true
}

// pause waits a little after a store failure so a broken disk does not spin.
func (a *Agent) pause() {
	select {
	case <-time.After(time.Second):
	case <-a.workCtx.Done():
	}
}

// limitsFor returns the throttles of a guest ("agent" for host actions).
func (a *Agent) limitsFor(guest string) *guestLimits {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.limits[guest]
	if l == nil {
		l = &guestLimits{info: make(chan struct{}, a.cfg.InfoLimit), stream: make(chan struct{}, a.cfg.StreamLimit)}
		a.limits[guest] = l
	}
	return l
}

// acquire takes a slot of sem, or fails when ctx ends first.
func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return WrapError(ETIMEOUT, ctx.Err(), "too many concurrent requests for this guest: %v", ctx.Err())
	}
}
