package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the integrity check reads the database
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// chaosEnv selects the long chaos run (make chaos) when set to "full".
const chaosEnv = "HVAGENT_CHAOS"

// chaosScale is the size of a chaos run.
type chaosScale struct {
	jobs    int // requests submitted over all rounds
	guests  int // guests created before the first round
	rounds  int
	kills   int // SIGKILLs per round
	clients int // concurrent REST clients
}

// chaosScaleFor returns the long run's scale when HVAGENT_CHAOS=full, else
// the short run's that make test runs.
func chaosScaleFor(t *testing.T) chaosScale {
	t.Helper()
	switch v := os.Getenv(chaosEnv); v {
	case "full":
		return chaosScale{jobs: 1000, guests: 50, rounds: 3, kills: 4, clients: 16}
	case "":
		return chaosScale{jobs: 100, guests: 10, rounds: 1, kills: 2, clients: 8}
	default:
		require.FailNow(t, "bad "+chaosEnv, "%s=%q: want \"full\" or unset", chaosEnv, v)
		return chaosScale{}
	}
}

// TestChaos_KillUnderLoad submits mixed async jobs over REST from
// concurrent clients while hvagentd is SIGKILLed at random moments and
// restarted, with the simulated hypervisor as its own process (20 ms a
// call). Afterwards every accepted job has ended and none is lost, jobs of
// on_interrupt "fail" actions ran at most once, the database is intact, and
// every Idempotency-Key answered before a kill answers the same job after.
func TestChaos_KillUnderLoad(t *testing.T) {
	t.Parallel()
	scale := chaosScaleFor(t)
	dir := tempDir(t)
	execLog := filepath.Join(dir, "sim-exec.jsonl")
	_, simAddr := startListening(t, binary(t, "hvagentd"), "subagent", "sim", "--listen", "127.0.0.1:0",
		"--latency", "20ms", "--exec-log", execLog)
	h := &chaosHarness{t: t, dir: dir, config: simURLConfig(t, dir, simAddr), keys: map[string]string{}}
	h.restart()
	h.createGuests(scale.guests)

	start := time.Now()
	kills := 0
	perRound := (scale.jobs - scale.guests) / scale.rounds
	for round := range scale.rounds {
		kills += h.round(round, perRound, scale)
	}
	jobs := h.waitAll() // on the daemon restarted after the last kill
	goneGuest := h.retryKeys(jobs)
	h.kill() // the database is checked as a crash leaves it
	elapsed := time.Since(start)

	h.checkLog(jobs, readExecLog(t, execLog))
	checkIntegrity(t, filepath.Join(dir, "hvagent.db"))
	requeued, interrupted := 0, 0
	for _, j := range jobs {
		if j.Attempt > 1 {
			requeued++
		}
		if strings.Contains(j.Message, "interrupted by agent restart") {
			interrupted++
		}
	}
	t.Logf("chaos: %d requests (%d refused while down), %d accepted (%d with Idempotency-Key, %d of them on a deleted guest), "+
		"%d outcomes unknown, %d jobs in the log (%d requeued, %d failed as interrupted), %d kills over %d rounds, %s",
		h.sent.Load(), h.refused.Load(), len(h.accepted), len(h.keys), goneGuest, h.unknown.Load(), len(jobs), requeued,
		interrupted, kills, scale.rounds, elapsed.Round(time.Millisecond))
}

// chaosHarness runs hvagentd on one data dir across kills.
type chaosHarness struct {
	t      *testing.T
	dir    string
	config string
	proc   *proc
	client atomic.Pointer[rest.Client]

	sent    atomic.Int64
	unknown atomic.Int64 // requests whose connection died before an answer
	refused atomic.Int64 // connections refused while hvagentd restarted

	mu       sync.Mutex
	accepted []chaosJob          // every 202
	keys     map[string]string   // Idempotency-Key → the job ID its 202 carried
	pool     []string            // guests that requests pick from
	keyed    map[string]chaosReq // Idempotency-Key → its request, for the retry
}

// chaosJob is an accepted request.
type chaosJob struct {
	id, action, guest string
}

// chaosReq is one request of the mix.
type chaosReq struct {
	action, guest string
	req           hvagent.Request
}

// restart starts hvagentd on the data dir (the previous one is dead).
func (h *chaosHarness) restart() {
	p, addr := startDaemonProc(h.t, h.dir, "--config", h.config, "--max-logged-jobs", "100000")
	h.proc = p
	c := rest.NewClient(addr)
	h.t.Cleanup(c.CloseIdleConnections)
	if old := h.client.Swap(c); old != nil {
		old.CloseIdleConnections()
	}
}

// kill SIGKILLs hvagentd.
func (h *chaosHarness) kill() {
	require.Equal(h.t, -1, h.proc.signal(h.t, syscall.SIGKILL))
}

// createGuests creates n guests before the rounds, with no kill.
func (h *chaosHarness) createGuests(n int) {
	for range n {
		res, err := h.client.Load().Do(context.Background(), hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
		require.NoError(h.t, err)
		h.sent.Add(1)
		h.accept(chaosReq{action: hvagent.ActionCreate}, res)
	}
}

// round submits n requests from scale.clients clients, each pausing up
// to 30 ms between requests, and SIGKILLs hvagentd scale.kills times at
// random moments meanwhile and while the jobs run, restarting it after
// each. It returns the number of kills.
func (h *chaosHarness) round(round, n int, scale chaosScale) int {
	var next atomic.Int64
	var wg sync.WaitGroup
	for c := range scale.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(round), uint64(c)))
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				h.submit(rng, fmt.Sprintf("r%d-%d", round, i))
				time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			}
		}()
	}
	for k := range scale.kills {
		window := 700
		if k == 0 {
			window = 300 // the first kill meets the submissions
		}
		time.Sleep(time.Duration(50+rand.IntN(window)) * time.Millisecond)
		h.kill()
		h.restart()
	}
	wg.Wait()
	return scale.kills
}

// submit sends one request of the mix, again while hvagentd refuses
// connections (it is restarting); a request with an Idempotency-Key whose
// connection died is sent again until answered.
func (h *chaosHarness) submit(rng *rand.Rand, tag string) {
	r := h.pick(rng, tag)
	for {
		h.sent.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := h.client.Load().Do(ctx, r.action, r.guest, r.req)
		cancel()
		if err == nil {
			h.accept(r, res)
			return
		}
		if answered(err) {
			return // refused (a deleted guest, a full queue…): not accepted
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			h.refused.Add(1) // hvagentd is down: nothing was sent
			time.Sleep(20 * time.Millisecond)
			continue
		}
		h.unknown.Add(1)
		if r.req.IdempotencyKey == "" {
			return
		}
		time.Sleep(50 * time.Millisecond) // hvagentd is restarting
	}
}

// answered reports whether err is hvagentd's answer rather than a lost
// connection: the client wraps transport failures around their cause.
func answered(err error) bool {
	var he *hvagent.Error
	return errors.As(err, &he) && he.Err == nil
}

// pick draws the next request: mostly guest actions on a known guest,
// some creates and deletes, a quarter with an Idempotency-Key.
func (h *chaosHarness) pick(rng *rand.Rand, tag string) chaosReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := chaosReq{}
	if len(h.pool) > 0 {
		r.guest = h.pool[rng.IntN(len(h.pool))]
	}
	switch p := rng.IntN(100); {
	case p < 4 || r.guest == "":
		r.action, r.guest = hvagent.ActionCreate, ""
		r.req.Guest = &hvagent.Guest{Memory: 128}
	case p < 7:
		r.action = hvagent.ActionDelete
	case p < 32:
		r.action = hvagent.ActionStart
	case p < 47:
		r.action = hvagent.ActionShutdown
	case p < 62:
		r.action = hvagent.ActionReboot
	case p < 67:
		r.action = hvagent.ActionPoweroff
	case p < 72:
		r.action = hvagent.ActionSuspend
	case p < 77:
		r.action = hvagent.ActionResume
	default:
		r.action = hvagent.ActionCreateSnapshot
		r.req.Snapshot = "s-" + tag
	}
	if rng.IntN(4) == 0 {
		r.req.IdempotencyKey = "chaos-" + tag
		if h.keyed == nil {
			h.keyed = map[string]chaosReq{}
		}
		h.keyed[r.req.IdempotencyKey] = r
	}
	return r
}

// accept records a 202: the job, its key, and the guest pool's change. It
// runs on the clients' goroutines, so it reports with Errorf.
func (h *chaosHarness) accept(r chaosReq, res *hvagent.Result) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if res.Job == nil {
		h.t.Errorf("%s %s: accepted without a job", r.action, r.guest)
		return
	}
	guest := r.guest
	switch r.action {
	case hvagent.ActionCreate:
		guest = res.Job.GuestID
		h.pool = append(h.pool, guest)
	case hvagent.ActionDelete:
		for i, g := range h.pool {
			if g == guest {
				h.pool = append(h.pool[:i], h.pool[i+1:]...)
				break
			}
		}
	}
	h.accepted = append(h.accepted, chaosJob{id: res.Job.ID, action: r.action, guest: guest})
	if k := r.req.IdempotencyKey; k != "" {
		if first, ok := h.keys[k]; ok && first != res.Job.ID {
			h.t.Errorf("Idempotency-Key %s answered two jobs: %s, then %s", k, first, res.Job.ID)
		}
		h.keys[k] = res.Job.ID
	}
}

// retryKeys sends every keyed request again after the kills: each answers
// the job its first 202 carried, also when the guest was deleted since. It
// returns how many retries met a deleted guest.
func (h *chaosHarness) retryKeys(jobs map[string]*hvagent.Job) (goneGuest int) {
	c := h.client.Load()
	deleted := map[string]bool{}
	for _, j := range jobs {
		if j.Action == hvagent.ActionDelete && j.Status == hvagent.JobComplete {
			deleted[j.GuestID] = true
		}
	}
	for key, r := range h.keyed {
		want, ok := h.keys[key]
		if !ok {
			continue // never answered with a job: refused
		}
		guest := r.guest
		if j, ok := jobs[want]; ok && guest == "" {
			guest = j.GuestID // a create's replay reports the guest it created
		}
		res, err := c.Do(context.Background(), r.action, r.guest, r.req)
		require.NoError(h.t, err, "retry of Idempotency-Key %s (%s on %s): the guest's jobs: %s", key, r.action, guest, guestJobs(jobs, guest))
		require.Equal(h.t, want, res.Job.ID, "Idempotency-Key %s after the kills", key)
		if deleted[guest] {
			goneGuest++
		}
	}
	return goneGuest
}

// guestJobs describes the jobs of guest, for a failure message.
func guestJobs(jobs map[string]*hvagent.Job, guest string) string {
	var b strings.Builder
	for _, j := range jobs {
		if j.GuestID == guest {
			fmt.Fprintf(&b, "\n  %s %s %s attempt %d queued %s: %s", j.ID, j.Action, j.Status, j.Attempt, j.QueuedAt.Format(time.StampMilli), j.Message)
		}
	}
	return b.String()
}

// waitAll waits until every job in the log has ended and returns them all,
// by ID. Every accepted job must be among them.
func (h *chaosHarness) waitAll() map[string]*hvagent.Job {
	c := h.client.Load()
	for _, j := range h.accepted {
		job := waitJob(h.t, c, j.id)
		require.True(h.t, job.Status.Final(), "%s %s: %s", j.action, j.id, job.Status)
	}
	jobs := map[string]*hvagent.Job{}
	f := hvagent.JobFilter{}
	for {
		page, err := c.Jobs(context.Background(), f)
		require.NoError(h.t, err)
		for _, j := range page {
			if !j.Status.Final() {
				j = waitJob(h.t, c, j.ID)
			}
			jobs[j.ID] = j
		}
		if len(page) < 1000 {
			return jobs
		}
		f.Before = page[len(page)-1].ID
	}
}

// checkLog checks the job log against the accepted jobs and the sim's
// execution log.
func (h *chaosHarness) checkLog(jobs map[string]*hvagent.Job, calls []sim.Call) {
	t := h.t
	for _, a := range h.accepted {
		j, ok := jobs[a.id]
		require.True(t, ok, "accepted job %s (%s) is not in the job log", a.id, a.action)
		require.Equal(t, a.action, j.Action, a.id)
		require.True(t, j.Status.Final(), "%s: %s", a.id, j.Status)
	}
	keyOwners := map[string][]string{}
	for _, j := range jobs {
		if j.IdempotencyKey != "" {
			keyOwners[j.IdempotencyKey] = append(keyOwners[j.IdempotencyKey], j.ID)
		}
	}
	for k, ids := range keyOwners {
		require.Len(t, ids, 1, "Idempotency-Key %s has several jobs", k)
	}
	ran := map[string][]sim.Call{}
	type stageRun struct {
		job, method string
		attempt     int
	}
	seen := map[stageRun]bool{}
	for _, c := range calls {
		if c.JobID == "" {
			continue
		}
		ran[c.JobID] = append(ran[c.JobID], c)
		k := stageRun{c.JobID, c.Method, c.Attempt}
		require.False(t, seen[k], "job %s attempt %d called %s twice", c.JobID, c.Attempt, c.Method)
		seen[k] = true
	}
	for id, cs := range ran {
		j, ok := jobs[id]
		require.True(t, ok, "the sim ran %s for job %s, which is not in the job log", cs[0].Method, id)
		if hvagent.DefaultOnInterrupt(j.Action) == hvagent.Fail {
			require.Len(t, cs, 1, "job %s (%s, on_interrupt fail) ran its stage more than once: %+v", id, j.Action, cs)
		}
	}
	for id, j := range jobs {
		if j.Status == hvagent.JobComplete {
			require.True(t, ranAttempt(ran[id], j.Attempt), "complete job %s (%s) attempt %d never reached the sim", id, j.Action, j.Attempt)
		}
	}
}

// ranAttempt reports whether calls hold one of the given attempt.
func ranAttempt(calls []sim.Call, attempt int) bool {
	for _, c := range calls {
		if c.Attempt == attempt {
			return true
		}
	}
	return false
}

// readExecLog reads the sim's execution log file.
func readExecLog(t *testing.T, path string) []sim.Call {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var calls []sim.Call
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var c sim.Call
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c), "%s line %d", path, n)
		calls = append(calls, c)
	}
	require.NoError(t, sc.Err())
	return calls
}

// checkIntegrity runs SQLite's integrity check on the database at path.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var res string
	require.NoError(t, db.QueryRow("PRAGMA integrity_check").Scan(&res))
	require.Equal(t, "ok", res)
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM jobs").Scan(&n))
	require.NotZero(t, n, "jobs in "+strconv.Quote(path))
}
