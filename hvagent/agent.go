package hvagent

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
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

	mu         sync.Mutex
	state      agentState
	queues     map[string]*queueWorker            // by queue key
	limits     map[string]*guestLimits            // info/stream throttles by guest ID
	running    map[string]context.CancelCauseFunc // by job ID
	cancelSoon map[string]bool                    // canceled by CancelJob before runJob registered them
	waiters    map[string][]chan struct{}         // by job ID
	paused     map[string]bool                    // paused actions; "*" = all
	bell       *eventBell
	observer   Observer
	// firstStages maps each action to its first stage's label, set by Claim.
	firstStages map[string]string
	hostSem     chan struct{}
	workCtx     context.Context // parent of job contexts; cancelled at the Stop deadline
	cancel      context.CancelCauseFunc
	workers     sync.WaitGroup
	bg          sync.WaitGroup
	stopOnce    sync.Once
	stopped     chan struct{}
}

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
		running:    map[string]context.CancelCauseFunc{},
		cancelSoon: map[string]bool{},
		waiters:    map[string][]chan struct{}{},
		hostSem:    make(chan struct{}, c.HostJobLimit),
		stopped:    make(chan struct{}),
	}
	a.firstStages = firstStageLabels(c.Actions)
	a.observer = c.Observer
	if a.observer == nil {
		a.observer = nopObserver{}
	}
	return a, nil
}

// validateRuntime checks what Config.Validate cannot: stream actions have
// exactly one stage and builtin services have a handler.
func validateRuntime(c *Config) error {
	for name, act := range c.Actions {
		if k, _ := KindOf(name); k == Stream && len(act.Stages) != 1 {
			return Errorf(EINVALID, "config: stream action %s must have exactly one stage, has %d", name, len(act.Stages))
		}
	}
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
// pipelines are abandoned as by Stop's deadline.
func (a *Agent) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.state != stateNew {
		a.mu.Unlock()
		return Errorf(ECONFLICT, "agent already started")
	}
	a.workCtx, a.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	a.state = stateStarting
	a.mu.Unlock()

	// Recovery runs before the agent accepts work, so no worker can claim a
	// job of a queue whose interrupted head is not requeued yet.
	if err := a.recover(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	if a.state != stateStarting {
		a.mu.Unlock()
		return Errorf(EUNAVAILABLE, "agent stopped while starting")
	}
	a.state = stateStarted
	a.mu.Unlock()
	queues, err := a.store.QueuedQueues(ctx)
	if err != nil {
		return err
	}
	for _, q := range queues {
		a.kick(q)
	}
	a.bg.Add(2)
	go a.pruneLoop()
	go func() {
		defer a.bg.Done()
		select {
		case <-ctx.Done():
			a.cancel(errShutdown)
		case <-a.stopped:
		}
	}()
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
			return err
		}
	}
	if len(jobs) > 0 {
		a.log.Info().Int("jobs", len(jobs)).Msg("recovered interrupted jobs")
	}
	return nil
}

// interrupt applies j's on_interrupt policy: requeue it, or end it as Error.
func (a *Agent) interrupt(ctx context.Context, j *Job, message string) error {
	if a.onInterrupt(j.Action) == Requeue {
		_, err := a.store.Requeue(ctx, j.ID, message, a.now())
		return err
	}
	_, _, err := a.store.Finish(ctx, JobEnd{ID: j.ID, At: a.now(), Status: JobError, Message: message})
	if err == nil {
		a.notify(j.ID)
	}
	return err
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
// message "interrupted by agent shutdown". Stop is idempotent.
func (a *Agent) Stop(ctx context.Context) error {
	a.mu.Lock()
	if a.state != stateStarted && a.state != stateStarting {
		a.mu.Unlock()
		return nil
	}
	a.state = stateStopping
	a.mu.Unlock()

	done := make(chan struct{})
	go func() { a.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		a.cancel(errShutdown)
		<-done
	}
	a.stopOnce.Do(func() { close(a.stopped) })
	a.cancel(errShutdown)
	a.bg.Wait()
	a.mu.Lock()
	a.state = stateStopped
	a.mu.Unlock()
	return nil
}

// Close stops the agent if needed (with no grace period) and releases its
// sub-agent connections. It does not close the Store, which the caller owns.
func (a *Agent) Close() error {
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
	switch a.state {
	case stateStarted:
		return nil
	case stateNew:
		return Errorf(EUNAVAILABLE, "agent is not started")
	case stateStarting:
		return Errorf(EUNAVAILABLE, "agent is starting")
	default:
		return Errorf(EUNAVAILABLE, "agent is stopping")
	}
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
		case <-a.stopped:
			return
		}
	}
}

func (a *Agent) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.store.Prune(ctx, a.cfg.MaxLoggedJobs, a.cfg.MaxEvents, a.now()); err != nil {
		a.log.Error().Err(err).Msg("prune job log")
	}
}
