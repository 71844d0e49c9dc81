package hvagent

import (
	"context"
	"slices"
	"strings"
	"time"
)

// queueWorker tracks the one worker goroutine of a queue, which is in
// Agent.queues while it runs. The queue itself lives in the Store; the
// worker claims jobs from it until it is empty. Its fields are guarded by
// Agent.mu.
type queueWorker struct {
	again bool // a job was enqueued while it was running
	// held counts the Do calls enqueueing on its queue (holdWorker): the
	// worker does not exit while one may still hand it a claim.
	held int
	// handed is a job claimed in its enqueue's commit, for the worker to
	// run next (see releaseWorker): at most one, as the claim holds the
	// queue until it ends.
	handed *Claim
	wake   chan struct{} // a held Do released the worker
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
	w := a.addWorker(queue)
	w.again = true
	go a.work(queue, w)
}

// holdWorker registers queue's worker, if it has none yet, and holds it
// for a Do that is about to enqueue a job: until releaseWorker, the worker
// does not exit, so a job claimed in its enqueue's commit always has a
// worker to run it. fresh reports that the worker was registered here and
// waits for releaseWorker to start it. It returns nil when the agent is
// stopping or queue is a host queue (whose jobs take a slot of hostSem
// each before they are claimed).
func (a *Agent) holdWorker(queue string) (w *queueWorker, fresh bool) {
	if strings.HasPrefix(queue, hostQueuePrefix) {
		return nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.live() {
		return nil, false
	}
	if w = a.queues[queue]; w == nil {
		w, fresh = a.addWorker(queue), true
	}
	w.held++
	return w, fresh
}

// releaseWorker ends holdWorker's hold once the enqueue returned: it hands
// the worker c, the job claimed in the enqueue's commit, or tells it that a
// job was queued (queued), and starts it when it is fresh. The claim can
// come while the worker still runs: the job before may have ended, with
// nothing to claim after it, in the same commit or one before.
func (a *Agent) releaseWorker(queue string, w *queueWorker, fresh bool, c *Claim, queued bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w.held--
	switch {
	case c != nil:
		w.handed = c
	case queued:
		w.again = true
	}
	if fresh {
		go a.work(queue, w)
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// addWorker registers a worker for queue, which has none, and counts it in
// workers; a.mu is held.
func (a *Agent) addWorker(queue string) *queueWorker {
	w := &queueWorker{wake: make(chan struct{}, 1)}
	a.queues[queue] = w
	a.workers.Add(1)
	return w
}

// work claims and runs the jobs of queue one at a time until it is empty or
// the agent stops, beginning with a job handed to it (one claimed when it
// was queued).
func (a *Agent) work(queue string, w *queueWorker) {
	defer a.workers.Done()
	host := strings.HasPrefix(queue, hostQueuePrefix)
	first, more := a.idle(queue, w)
	for more {
		if host {
			a.hostSem <- struct{}{}
		}
		ran, looked, err := a.runNext(queue, host, first)
		first = nil
		if host {
			<-a.hostSem
		}
		if ran && !looked { // the last end did not read the queue: claim
			continue
		}
		if err != nil && a.accepting() == nil {
			a.log.Error().Err(err).Str("queue", queue).Msg("claim job")
			a.pause()
			continue
		}
		first, more = a.idle(queue, w)
	}
}

// idle tells a worker whose queue had nothing to start (its claim found
// none, or its last job's end looked and found none) what to do next: run
// the claim handed to it, or claim again (true) when a job was queued or
// resumed since; while a Do holds it, it waits for that Do. Otherwise the
// worker is removed from the queues and exits (false). No job queued since
// goes unseen: each Do on a guest queue holds its worker and hands it the
// job's claim or flags it (again), as a resume or a cancel does (kick).
func (a *Agent) idle(queue string, w *queueWorker) (*Claim, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if c := w.handed; c != nil {
			w.handed = nil
			return c, true
		}
		if w.again && a.live() {
			w.again = false
			return nil, true
		}
		if w.held == 0 {
			delete(a.queues, queue)
			return nil, false
		}
		a.mu.Unlock()
		<-w.wake
		a.mu.Lock()
	}
}

// runNext claims the oldest queued job of queue (unless it was given one
// claimed already) and runs it, then each job that the end of the one
// before claimed in the same commit (see Agent.end). It reports whether
// it ran one, and whether the last end looked for a next job and found
// none that could start. A host queue's jobs are claimed one by one: its
// worker takes a slot of hostSem for each.
func (a *Agent) runNext(queue string, host bool, claimed *Claim) (ran, looked bool, err error) {
	c := claimed
	if c == nil {
		if c, err = a.claim(queue); err != nil || c == nil {
			return false, false, err
		}
	}
	next := queue
	if host {
		next = ""
	}
	for c != nil {
		c, looked = a.runJob(c, next)
	}
	return true, looked, nil
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
	c, err := a.store.Claim(ctx, queue, a.now(), o)
	if ErrorCode(err) == ECONFLICT { // a job claimed at its enqueue holds the queue: it is handed to this worker
		return nil, nil
	}
	return c, err
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
