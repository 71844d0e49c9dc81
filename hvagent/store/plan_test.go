package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// stmtLog records each distinct statement the store sends to SQLite, with
// the arguments of its first use.
type stmtLog struct {
	mu    sync.Mutex
	args  map[string][]driver.NamedValue
	order []string
}

func (l *stmtLog) add(query string, args []driver.NamedValue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.args[query]; ok {
		return
	}
	if l.args == nil {
		l.args = map[string][]driver.NamedValue{}
	}
	l.args[query] = append([]driver.NamedValue(nil), args...)
	l.order = append(l.order, query)
}

// statements returns the recorded statements in the order first seen.
func (l *stmtLog) statements() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.order...)
}

// recordingConnector opens mattn connections whose statements go to log.
type recordingConnector struct {
	dsn     string
	pragmas []string // run when a connection opens, unrecorded
	log     *stmtLog
}

func (c recordingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite3.SQLiteDriver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	for _, p := range c.pragmas {
		if _, err := conn.(*sqlite3.SQLiteConn).Exec(p, nil); err != nil {
			return nil, errors.Join(err, conn.Close())
		}
	}
	return recordingConn{SQLiteConn: conn.(*sqlite3.SQLiteConn), log: c.log}, nil
}

func (c recordingConnector) Driver() driver.Driver { return &sqlite3.SQLiteDriver{} }

// recordingConn is a mattn connection that records what it runs.
type recordingConn struct {
	*sqlite3.SQLiteConn
	log *stmtLog
}

func (c recordingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.log.add(q, args)
	return c.SQLiteConn.QueryContext(ctx, q, args)
}

func (c recordingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.log.add(q, args)
	return c.SQLiteConn.ExecContext(ctx, q, args)
}

func (c recordingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	s, err := c.SQLiteConn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return recordingStmt{SQLiteStmt: s.(*sqlite3.SQLiteStmt), query: q, log: c.log}, nil
}

// recordingStmt is a prepared statement that records its query, with the
// arguments of its first run.
type recordingStmt struct {
	*sqlite3.SQLiteStmt
	query string
	log   *stmtLog
}

func (s recordingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.log.add(s.query, args)
	return s.SQLiteStmt.QueryContext(ctx, args)
}

func (s recordingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.log.add(s.query, args)
	return s.SQLiteStmt.ExecContext(ctx, args)
}

// planExemption allows a statement the listed plan steps, for a reason.
type planExemption struct {
	steps []string
	why   string
}

// planExempt are the statements allowed a scan or a temporary B-tree, by
// their normalized text, with why its cost does not grow with the log.
var planExempt = map[string]planExemption{
	normalizeSQL(jobSelect + ` ORDER BY j.seq DESC LIMIT ?`): {
		steps: []string{"SCAN j"},
		why:   "the unfiltered job list walks the table newest first and stops at the limit",
	},
	normalizeSQL(`SELECT queue FROM jobs INDEXED BY jobs_queue_live WHERE status = 'Queued'
		GROUP BY queue ORDER BY MIN(seq)`): {
		steps: []string{"SCAN jobs USING COVERING INDEX jobs_queue_live", "USE TEMP B-TREE FOR ORDER BY"},
		why: "walks the index of live jobs only, whose number is bounded by max_queued per queue, not by " +
			"the log, and sorts one row per queue (start-up and a resume)",
	},
	normalizeSQL(`SELECT queue, SUM(status = 'Queued'), SUM(status = 'Running'),
		MIN(CASE WHEN status = 'Queued' THEN queued_at END)
		FROM jobs WHERE status IN ('Queued', 'Running') GROUP BY queue ORDER BY queue`): {
		steps: []string{"USE TEMP B-TREE FOR GROUP BY"},
		why:   "groups only the Queued and Running jobs, found through jobs_status_seq, not the log",
	},
}

// boundedTables do not grow with use: hypervisor metadata is capped by its
// limits, migrations and sqlite_sequence hold a row per migration or table,
// queue_pauses at most a row per action name.
var boundedTables = map[string]bool{"hypervisor_metadata": true, "migrations": true, "sqlite_sequence": true,
	"queue_pauses": true}

// TestDB_QueryPlans runs a workload that reaches every SQL statement of the
// package (checked against the SQL text in its source), then asks SQLite
// for the plan of each statement it recorded and fails on a scan of a
// growing table or a temporary B-tree, and on a read of a queue that is
// not answered through a queue index (see queueProblems): each filter and
// page of the API must be answered from an index.
func TestDB_QueryPlans(t *testing.T) {
	t.Parallel()
	log := &stmtLog{}
	path := filepath.Join(t.TempDir(), "hvagent.db")
	db, err := Open(path, Options{Now: func() time.Time { return testNow }, openPool: func(dsn string, pragmas []string) (*sql.DB, error) {
		return sql.OpenDB(recordingConnector{dsn: dsn, pragmas: pragmas, log: log}), nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	planWorkload(t, &testBundle{db: db, path: path})

	stmts := log.statements()
	requireAllSQLRun(t, stmts)

	plain, err := sql.Open("sqlite3", readerDSN(path))
	require.NoError(t, err)
	defer func() { require.NoError(t, plain.Close()) }()
	var bad []string
	used := map[string]bool{}
	for _, q := range stmts {
		if !explainable(q) {
			continue
		}
		plan := explain(t, plain, q, log.args[q])
		t.Logf("%s\n    %s", normalizeSQL(q), strings.Join(plan, "\n    "))
		problems := append(planProblems(plan), queueProblems(q, plan)...)
		if ex, ok := planExempt[normalizeSQL(q)]; ok {
			used[normalizeSQL(q)] = true
			problems = slices.DeleteFunc(problems, func(p string) bool { return slices.Contains(ex.steps, p) })
		}
		if len(problems) > 0 {
			bad = append(bad, fmt.Sprintf("%s\n  %s\n  plan:\n    %s", strings.Join(problems, "; "),
				normalizeSQL(q), strings.Join(plan, "\n    ")))
		}
	}
	require.Empty(t, bad, "statements not answered from an index:\n%s", strings.Join(bad, "\n\n"))
	for q := range planExempt {
		require.True(t, used[q], "exemption for a statement never run: %s", q)
	}
}

// explainable reports whether q is one statement with a query plan: not a
// transaction or savepoint command, DDL, pragma, or a migration script.
func explainable(q string) bool {
	q = strings.TrimSpace(q)
	for _, p := range []string{"--", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "CREATE", "ALTER", "DROP"} {
		if strings.HasPrefix(strings.ToUpper(q), p) {
			return false
		}
	}
	return true
}

// explain returns the detail column of q's query plan, indented by depth.
func explain(t *testing.T, db *sql.DB, q string, args []driver.NamedValue) []string {
	t.Helper()
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, vals...)
	require.NoError(t, err, "explain %s", q)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return plan
}

// scanRE matches a plan step that reads a whole table or index.
var scanRE = regexp.MustCompile(`^SCAN (\S+)`)

// valuesRE matches the scan of a statement's own VALUES rows (a
// multi-row INSERT): bounded by the statement's text.
var valuesRE = regexp.MustCompile(`^SCAN \d+-ROW VALUES CLAUSE$`)

// planProblems returns the steps of plan whose cost grows with a table:
// a temporary B-tree, or a scan of a table that is not bounded.
func planProblems(plan []string) []string {
	var problems []string
	for _, d := range plan {
		if strings.Contains(d, "TEMP B-TREE") {
			problems = append(problems, d)
			continue
		}
		m := scanRE.FindStringSubmatch(d)
		if m == nil || m[1] == "CONSTANT" || strings.Contains(d, "VIRTUAL TABLE") || boundedTables[m[1]] || valuesRE.MatchString(d) {
			continue
		}
		problems = append(problems, d)
	}
	return problems
}

// queueTermRE matches a term that compares a job's queue (queue = ?,
// p.queue = j.queue).
var queueTermRE = regexp.MustCompile(`\bqueue = `)

// queueIndexRE matches a plan step that reads jobs through one of the
// indexes of a queue's live jobs.
var queueIndexRE = regexp.MustCompile(`INDEX (jobs_queue_live|jobs_running_queue)\b`)

// queueProblems reports a statement with more queue terms than plan steps
// through a queue index: a per-queue read that SQLite answers through
// another index (the status index, say) is a SEARCH, which planProblems
// lets pass, yet it walks every queue's jobs.
func queueProblems(q string, plan []string) []string {
	terms := len(queueTermRE.FindAllString(normalizeSQL(q), -1))
	steps := 0
	for _, d := range plan {
		if queueIndexRE.MatchString(d) {
			steps++
		}
	}
	if steps >= terms {
		return nil
	}
	return []string{fmt.Sprintf("%d queue terms, %d steps through a queue index", terms, steps)}
}

// normalizeSQL collapses runs of white space to one space.
func normalizeSQL(q string) string { return strings.Join(strings.Fields(q), " ") }

// sqlWord marks a string literal of the package's source as SQL.
var sqlWord = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|WHERE)\b`)

// requireAllSQLRun requires every SQL string literal of the package's
// non-test sources to be part of a recorded statement, so that a new
// query cannot escape TestDB_QueryPlans.
func requireAllSQLRun(t *testing.T, stmts []string) {
	t.Helper()
	var all strings.Builder
	for _, q := range stmts {
		all.WriteString(normalizeSQL(q))
		all.WriteString("\n")
	}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var missing []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			if sqlWord.MatchString(s) && !strings.Contains(all.String(), normalizeSQL(s)) {
				missing = append(missing, fmt.Sprintf("%s: %s", fset.Position(lit.Pos()), normalizeSQL(s)))
			}
			return true
		})
	}
	require.Empty(t, missing, "SQL the plan workload never ran; extend planWorkload:\n%s", strings.Join(missing, "\n"))
}

// planWorkload calls every method of the store, down each path that
// issues its own statements, and every combination of job filters.
func planWorkload(t *testing.T, b *testBundle) {
	t.Helper()
	ctx := context.Background()
	db := b.db
	b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "one", Metadata: map[string]string{"k": "v"}})
	b.createGuest(t, &hvagent.Guest{ID: "g2"})
	keyed := b.enqueue(t, newJob("g1", &jobOpts{Key: ptr("key")}))
	_, err := db.Enqueue(ctx, newJob("g1", &jobOpts{Key: ptr("key")}))
	require.NoError(t, err)
	n := newJob("g2", nil)
	n.RequireGuest, n.MaxQueued = true, 10
	b.enqueue(t, n)

	b.run(t, "g1", at(1)) // create g1
	c := b.claim(t, "g1", at(2))
	require.Equal(t, keyed.ID, c.ID)
	_, err = db.Advance(ctx, hvagent.JobUpdate{ID: c.ID, At: at(3), Stage: ptr("boot"),
		Progress: &hvagent.Progress{Done: 1, Total: 2}, Guest: &hvagent.Guest{ID: "g1", State: "running"}})
	require.NoError(t, err)
	_, err = db.Requeue(ctx, c.ID, "retry", at(4))
	require.NoError(t, err)
	c = b.claim(t, "g1", at(5))
	_, _, err = db.Finish(ctx, hvagent.JobEnd{ID: c.ID, At: at(6), Status: hvagent.JobError, Message: "boom",
		Guest: &hvagent.Guest{ID: "g1", State: "stopped"}})
	require.NoError(t, err)

	queued := b.enqueue(t, newJob("g1", nil))
	_, err = db.CancelQueued(ctx, queued.ID, "no", at(7))
	require.NoError(t, err)
	b.enqueue(t, newJob("g2", nil))
	c = b.claim(t, "g2", at(8)) // create g2
	_, _, err = db.Finish(ctx, hvagent.JobEnd{ID: c.ID, At: at(9), Status: hvagent.JobComplete})
	require.NoError(t, err)
	c = b.claim(t, "g2", at(10))
	_, _, err = db.Finish(ctx, hvagent.JobEnd{ID: c.ID, At: at(11), Status: hvagent.JobComplete, DeleteGuest: true})
	require.NoError(t, err)

	planReads(t, db, c.ID)
	require.NoError(t, db.Prune(ctx, 1, 2, at(100)))
}

// planReads calls the store's reads, with every combination of job
// filters, and its guest and metadata writes.
func planReads(t *testing.T, db *DB, jobID string) {
	t.Helper()
	ctx := context.Background()
	for _, status := range []hvagent.JobStatus{hvagent.JobComplete, hvagent.JobQueued} {
		for mask := range 1 << 5 {
			f := hvagent.JobFilter{Limit: 10}
			for i, set := range []func(){
				func() { f.GuestID = "g1" }, func() { f.GuestName = "one" }, func() { f.Action = "start" },
				func() { f.Status = status }, func() { f.Before = jobID },
			} {
				if mask&(1<<i) != 0 {
					set()
				}
			}
			_, err := db.Jobs(ctx, f)
			require.NoError(t, err, "filter %+v", f)
		}
	}
	_, err := db.Job(ctx, jobID)
	require.NoError(t, err)
	_, err = db.RunningJobs(ctx)
	require.NoError(t, err)
	_, err = db.QueuedQueues(ctx)
	require.NoError(t, err)
	_, err = db.QueueStats(ctx)
	require.NoError(t, err)
	_, err = db.Events(ctx, 1, 10)
	require.NoError(t, err)
	_, err = db.FirstEventID(ctx)
	require.NoError(t, err)
	_, err = db.LastEventID(ctx)
	require.NoError(t, err)

	_, err = db.Guest(ctx, "g1")
	require.NoError(t, err)
	_, err = db.Guests(ctx, hvagent.GuestFilter{After: "a", Limit: 10})
	require.NoError(t, err)
	_, err = db.Guests(ctx, hvagent.GuestFilter{Name: "one"})
	require.NoError(t, err)
	_, err = db.GuestByName(ctx, "one")
	require.NoError(t, err)
	_, err = db.RenameGuest(ctx, "g1", "uno", at(20))
	require.NoError(t, err)
	_, err = db.SetGuestState(ctx, "g1", "paused", at(21))
	require.NoError(t, err)
	_, err = db.PatchGuestMetadata(ctx, "g1", map[string]string{"k": "", "k2": "v"}, benchLimits)
	require.NoError(t, err)
	// A patch whose guest's metadata is written between its read and its
	// write reads the sizes again in the write.
	b := &testBundle{db: db}
	p := b.readPatch(t, "g1", map[string]string{"k2": "w"})
	_, err = db.PatchGuestMetadata(ctx, "g1", map[string]string{"k3": "v"}, benchLimits)
	require.NoError(t, err)
	require.NoError(t, b.commitPatch(p, benchLimits))
	_, err = db.Metadata(ctx)
	require.NoError(t, err)
	_, err = db.PatchMetadata(ctx, map[string]string{"a": "1", "b": ""}, benchLimits)
	require.NoError(t, err)
	require.NoError(t, db.PauseQueue(ctx, "start", at(22)))
	_, err = db.PausedActions(ctx)
	require.NoError(t, err)
	require.NoError(t, db.ResumeQueue(ctx, "start"))
	require.NoError(t, db.ResumeQueue(ctx, "*"))
}

// TestJobFilterWhere_LeadIndex checks, for every combination of job
// filters, that SQLite reads the index of the column jobFilterWhere leads
// with, in seq order.
func TestJobFilterWhere_LeadIndex(t *testing.T) {
	t.Parallel()
	b := setup(t)
	index := map[string]string{"guest_id": "jobs_guest_seq", "guest_name": "jobs_guest_name_seq",
		"action": "jobs_action_seq", "status": "jobs_status_seq"}
	for _, status := range []hvagent.JobStatus{hvagent.JobError, hvagent.JobRunning} {
		for mask := 1; mask < 1<<4; mask++ {
			var f hvagent.JobFilter
			for i, set := range []func(){
				func() { f.GuestID = "g1" }, func() { f.GuestName = "one" },
				func() { f.Action = "start" }, func() { f.Status = status },
			} {
				if mask&(1<<i) != 0 {
					set()
				}
			}
			where, args := jobFilterWhere(f)
			lead := ""
			for _, w := range where {
				if !strings.HasPrefix(w, "+") {
					require.Empty(t, lead, "one lead column in %v", where)
					lead = strings.TrimSuffix(strings.TrimPrefix(w, "j."), " = ?")
				}
			}
			q := jobSelect + "WHERE " + strings.Join(where, " AND ") + " ORDER BY j.seq DESC LIMIT 10"
			plan := explain(t, b.db.read, q, namedValues(args))
			require.Contains(t, plan[0], "USING INDEX "+index[lead]+" ", "filter %+v: %v", f, plan)
			require.Empty(t, planProblems(plan), "filter %+v", f)
		}
	}
}

// namedValues turns query arguments into the driver's form.
func namedValues(args []any) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}
