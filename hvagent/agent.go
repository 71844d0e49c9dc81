package hvagent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/internal/logtext"
)

// Agent runs actions: info actions synchronously, async actions as durable
// jobs queued one at a time per guest, stream actions as byte streams.
//
// Its lifecycle is New → Start → Stop → Close.
type Agent struct {
	cfg      *Config
	store    Store
	log      zerolog.Logger
	now      func() time.Time
	services *serviceSet

	// claimMu orders claims against pauses: a claim holds it for reading
	// from reading the paused actions to its commit, PauseQueue for
	// writing, so no claim made with the old paused set ends after
	// PauseQueue returns.
	claimMu sync.RWMutex
	// pauseMu orders PauseQueue and ResumeQueue: each writes the store,
	// then paused, and the two must agree.
	pauseMu sync.Mutex

	mu         sync.Mutex
	state      agentState
	queues     map[string]*queueWorker    // the running workers, by queue key
	limits     map[string]*guestLimits    // info/stream throttles by guest ID
	running    map[string]runningJob      // by job ID
	cancelSoon map[string]bool            // canceled by CancelJob before runJob registered them
	waiters    map[string][]chan struct{} // by job ID
	paused     map[string]bool            // paused actions; "*" = all
	bell       *eventBell
	observer   Observer
	stages     *stageSet // stages of running jobs, and abandoned ones
	// firstStages maps each action to its first stage's label, set by Claim.
	firstStages map[string]string
	hostSem     chan struct{}
	host        HostResources   // what one guest may have
	workCtx     context.Context // parent of job contexts; cancelled at the Stop deadline
	cancel      context.CancelCauseFunc
	workers     sync.WaitGroup // queue workers, added only while stateStarted
	bg          sync.WaitGroup // background loops, added only while stateStarting
	starting    chan struct{}  // closed when the Start in progress returns
	quit        chan struct{}  // closed once the workers are done: background loops end
	stopped     chan struct{}  // closed when Stop has finished
}

// agentState is where an Agent is in its life. Transitions, under mu:
//
//	New → Starting                    Start
//	Starting → Started                Start succeeded
//	Starting → New                    Start failed: nothing runs, Start may be called again
//	Starting, Started → Stopping      Stop
//	Stopping → Stopped                Stop finished (workers and background loops are done)
//	New → Stopped                     Close of an agent that never started
//
// Stopped is final: a stopped agent is not started again.
type agentState int

const (
	stateNew      agentState = iota
	stateStarting            // recovering interrupted jobs; not accepting work yet
	stateStarted
	stateStopping
	stateStopped
)

var (
	// errShutdown is the cause of job contexts cancelled by Stop.
	errShutdown = errors.New("interrupted by agent shutdown")
	// errUserCancel is the cause of job contexts cancelled by CancelJob.
	errUserCancel = errors.New("canceled")
)

// New validates cfg and returns an Agent that is not started yet. cfg.Store
// is required. Errors are EINVALID.
func New(cfg *Config) (*Agent, error) {
	if cfg == nil {
		return nil, Errorf(EINVALID, "config is required")
	}
	if cfg.Store == nil {
		return nil, Errorf(EINVALID, "config: a store is required")
	}
	c := cfg.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := validateRuntime(c); err != nil {
		return nil, err
	}
	services, err := newServiceSet(c)
	if err != nil {
		return nil, err
	}
	bell := newEventBell()
	a := &Agent{
		cfg:        c,
		store:      ringingStore{Store: c.Store, bell: bell},
		bell:       bell,
		paused:     map[string]bool{},
		log:        c.Logger,
		now:        c.Now,
		services:   services,
		queues:     map[string]*queueWorker{},
		limits:     map[string]*guestLimits{},
		running:    map[string]runningJob{},
		cancelSoon: map[string]bool{},
		waiters:    map[string][]chan struct{}{},
		hostSem:    make(chan struct{}, c.HostJobLimit),
		stages:     newStageSet(),
		quit:       make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	a.host = c.Host.withDetected()
	a.firstStages = firstStageLabels(c.Actions)
	a.observer = c.Observer
	if a.observer == nil {
		a.observer = nopObserver{}
	}
	return a, nil
}

// validateRuntime checks what Config.Validate cannot: builtin services
// have a handler.
func validateRuntime(c *Config) error {
	for name, s := range c.Services {
		if s.Builtin != "" && c.Builtins[s.Builtin] == nil {
			return Errorf(EINVALID, "config: service %s uses builtin %q, which this program does not provide", name, s.Builtin)
		}
	}
	return nil
}

// Config returns the agent's effective configuration (defaults applied).
func (a *Agent) Config() *Config { return a.cfg }

// Start recovers jobs interrupted by a crash or shutdown (each by its
// action's on_interrupt policy), resumes queued jobs in FIFO order and
// starts background work. Cancelling ctx later is a hard stop: running
// pipelines are abandoned as by Stop's deadline. A Start that fails leaves
// the agent as it was before (nothing runs) and may be retried. Errors:
// ECONFLICT (already started, or stopped), EUNAVAILABLE (Stop was called
// meanwhile), and the store's.
func (a *Agent) Start(ctx context.Context) error {
	a.mu.Lock()
	switch a.state {
	case stateNew:
	case stateStopping, stateStopped:
		a.mu.Unlock()
		return Errorf(ECONFLICT, "agent is stopped; a stopped agent cannot start again")
	default:
		a.mu.Unlock()
		return Errorf(ECONFLICT, "agent already started")
	}
	workCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	a.workCtx, a.cancel = workCtx, cancel
	a.state = stateStarting
	starting := make(chan struct{})
	a.starting = starting
	a.mu.Unlock()
	defer close(starting)

	err := a.start(ctx, workCtx, cancel)
	if err == nil {
		return nil
	}
	cancel(err)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != stateStarting { // Stop came meanwhile and finishes the stop
		return WrapError(EUNAVAILABLE, err, "agent stopped while starting")
	}
	a.state = stateNew
	return err
}

// start recovers, registers the background loops and publishes the agent
// as started, then wakes the queues. Recovery ends early when Stop's
// deadline passes (workCtx is cancelled).
func (a *Agent) start(ctx, workCtx context.Context, cancel context.CancelCauseFunc) error {
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(workCtx, stop)()
	if err := a.loadPaused(rctx); err != nil {
		return err
	}
	// Recovery runs before the agent accepts work, so no worker can claim a
	// job of a queue whose interrupted head is not requeued yet.
	if err := a.recover(rctx); err != nil {
		return err
	}
	queues, err := a.store.QueuedQueues(rctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	if a.state != stateStarting {
		a.mu.Unlock()
		return Errorf(EUNAVAILABLE, "agent stopped while starting")
	}
	// Registered before the agent is published as started: Stop waits for
	// them only after this Start has returned.
	a.bg.Add(2)
	go a.pruneLoop()
	go func() {
		defer a.bg.Done()
		select {
		case <-ctx.Done():
			cancel(errShutdown)
		case <-a.quit:
		}
	}()
	a.state = stateStarted
	a.mu.Unlock()
	for _, q := range queues {
		a.kick(q)
	}
	return nil
}

// recover ends or requeues every job left Running by a previous process.
func (a *Agent) recover(ctx context.Context) error {
	jobs, err := a.store.RunningJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := a.interrupt(ctx, j, "interrupted by agent restart"); err != nil {
			return fmt.Errorf("recover job %s: %w", j.ID, err)
		}
	}
	if len(jobs) > 0 {
		a.log.Info().Int("jobs", len(jobs)).Msg("recovered interrupted jobs")
	}
	return nil
}

// interrupt applies j's on_interrupt policy: requeue it, or end it as Error
// with code unavailable (the agent was not there to finish it).
// Each is logged: a requeue at info, an end as logEnd logs it.
func (a *Agent) interrupt(ctx context.Context, j *Job, message string) error {
	log := &jobLog{base: a.log, job: j}
	if a.onInterrupt(j.Action) == Requeue {
		if _, err := a.store.Requeue(ctx, j.ID, message, a.now()); err != nil {
			return err
		}
		log.Info().Int("attempt", j.Attempt).Str("reason", message).Msg("job requeued")
		return nil
	}
	e := JobEnd{ID: j.ID, At: a.now(), Status: JobError, Code: EUNAVAILABLE, Message: message}
	if _, _, err := a.store.Finish(ctx, e); err != nil {
		return err
	}
	logEnd(log, j, e, nil)
	a.observer.JobFinished(j.Action, e.Status)
	a.notify(j.ID)
	return nil
}

func (a *Agent) onInterrupt(action string) string {
	if act, ok := a.cfg.Actions[action]; ok && act.OnInterrupt != "" {
		return act.OnInterrupt
	}
	if act, ok := a.cfg.Actions[BaseAction(action)]; ok && act.OnInterrupt != "" {
		return act.OnInterrupt
	}
	return DefaultOnInterrupt(action)
}

// Stop stops taking work: new calls get EUNAVAILABLE, workers claim no new
// job and queued jobs stay queued. Running pipelines may finish until ctx
// is done; then they are abandoned and recorded as after a crash, with the
// message "interrupted by agent shutdown". Stages that ignored their
// cancellation (see RunningStage.Abandoned) get up to 2 s more to return;
// those still running then are logged and left behind. A Start in progress gives up
// first. Stop is idempotent, and every call, concurrent ones too, returns
// only once the agent has stopped; a later call's ctx may cut the grace
// period short. It returns nil.
func (a *Agent) Stop(ctx context.Context) error {
	a.mu.Lock()
	state, cancel, starting := a.state, a.cancel, a.starting
	if state == stateStarting || state == stateStarted {
		a.state = stateStopping
	}
	a.mu.Unlock()
	switch state {
	case stateNew, stateStopped:
		return nil
	case stateStopping:
		await(ctx, a.stopped, cancel)
		return nil
	}
	// Once Start has returned nothing registers new work: kick and Start
	// add to the wait groups only before the state left Starting/Started.
	await(ctx, starting, cancel)
	waiting := a.logWaiting(ctx)
	workers := make(chan struct{})
	go func() { a.workers.Wait(); close(workers) }()
	finished := await(ctx, workers, cancel)
	waiting(finished && a.workCtx.Err() == nil) // a later Stop's deadline may have cut the wait short
	a.waitAbandoned(abandonedWait)
	close(a.quit)
	cancel(errShutdown)
	a.bg.Wait()
	a.mu.Lock()
	a.state = stateStopped
	a.mu.Unlock()
	close(a.stopped)
	return nil
}

// await waits for done. When ctx ends first it cancels the agent's work
// (the hard stop), still waits and returns false.
func await(ctx context.Context, done <-chan struct{}, cancel context.CancelCauseFunc) bool {
	select {
	case <-done:
		return true
	case <-ctx.Done():
		cancel(errShutdown)
		<-done
		return false
	}
}

// logWaiting logs, when jobs are running, that Stop waits for them and for
// how long at most (ctx's deadline), or that it abandons them when ctx is
// done already; the function it returns logs how the wait ended: finished
// tells whether the jobs ended before the deadline.
func (a *Agent) logWaiting(ctx context.Context) func(finished bool) {
	a.mu.Lock()
	n := len(a.running)
	a.mu.Unlock()
	if n == 0 {
		return func(bool) {}
	}
	jobs := fmt.Sprintf("%d running jobs", n)
	if n == 1 {
		jobs = "1 running job"
	}
	if ctx.Err() != nil {
		a.log.Warn().Int("jobs", n).
			Msg("stopping without a grace period: " + jobs + " abandoned; the next start recovers them by their on_interrupt policy")
		return func(bool) {}
	}
	limit := "with no deadline"
	if dl, ok := ctx.Deadline(); ok {
		left, unit := time.Until(dl), time.Millisecond
		if left >= time.Second {
			unit = time.Second
		}
		limit = "up to " + max(left, 0).Round(unit).String()
	}
	a.log.Info().Int("jobs", n).Msg("stopping: waiting for " + jobs + ", " + limit)
	start := time.Now()
	return func(finished bool) {
		took := logtext.Duration(time.Since(start))
		if finished {
			a.log.Info().Int("jobs", n).Str("took", took).Msg("stopping: running jobs finished")
			return
		}
		a.log.Warn().Int("jobs", n).Str("took", took).
			Msg("stopping: deadline reached; running jobs abandoned, the next start recovers them by their on_interrupt policy")
	}
}

// Close stops the agent if needed (with no grace period) and releases its
// sub-agent connections; the agent cannot start afterwards. It does not
// close the Store, which the caller owns.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.state == stateNew { // never started: nothing to stop, and no Start after Close
		a.state = stateStopped
		close(a.quit)
		close(a.stopped)
	}
	a.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := a.Stop(ctx)
	a.services.close()
	return err
}

// accepting returns EUNAVAILABLE unless the agent is started and not stopping.
func (a *Agent) accepting() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.live():
		return nil
	case a.state == stateNew:
		return Errorf(EUNAVAILABLE, "agent is not started")
	case a.state == stateStarting:
		return Errorf(EUNAVAILABLE, "agent is starting")
	default:
		return Errorf(EUNAVAILABLE, "agent is stopping")
	}
}

// live reports, with mu held, whether the agent takes work: it is started
// and no hard stop (Stop's deadline, Start's ctx) has cancelled its work.
func (a *Agent) live() bool {
	return a.state == stateStarted && a.workCtx.Err() == nil
}

// pruneLoop applies retention every 30 seconds until Stop.
func (a *Agent) pruneLoop() {
	defer a.bg.Done()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		a.prune()
		select {
		case <-t.C:
		case <-a.quit:
			return
		}
	}
}

// prune applies retention once. The store prunes in short batches, so a
// large backlog (a retention lowered since the last run) is worked off
// while other writes go on, and Stop cancels it between two batches; what
// a timeout leaves is pruned by the next run.
func (a *Agent) prune() {
	const budget = 30 * time.Second
	ctx, cancel := context.WithTimeout(a.workCtx, budget)
	defer cancel()
	err := a.store.Prune(ctx, a.cfg.MaxLoggedJobs, a.cfg.MaxEvents, a.now())
	switch {
	case err == nil, a.workCtx.Err() != nil: // done, or cut short by a stop
	case errors.Is(err, context.DeadlineExceeded):
		a.log.Info().Str("budget", budget.String()).
			Msg("prune job log: a backlog is left for the next run (a lowered retention is worked off in paced batches)")
	default:
		a.log.Error().Err(err).Msg("prune job log")
	}
}
