package rest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// TestReplyList requires replyList to send what reply sends for the same
// list, byte for byte: a list reply encoded item by item is the same
// reply.
func TestReplyList(t *testing.T) {
	t.Parallel()
	many := make([]*hvagent.Guest, 3000) // larger than listChunk
	for i := range many {
		many[i] = &hvagent.Guest{ID: strconv.Itoa(i), Name: "g<" + strconv.Itoa(i) + ">&", State: "running",
			Disks: []hvagent.Disk{{Size: 1024}}, Metadata: map[string]string{"b": "2", "a": "\u2028"}}
	}
	checkReplyList(t, map[string][]*hvagent.Guest{"Empty": {}, "Nil": nil, "One": many[:1], "Many": many,
		"Nil item": {many[0], nil, many[1]}})
}

// checkReplyList checks that replyList sends each of lists exactly as
// reply does with encoding/json over the whole list: status, header and
// body.
func checkReplyList[T any](t *testing.T, lists map[string][]T) {
	for name, list := range lists {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := httptest.NewRecorder()
			require.NoError(t, (&exchange{w: want}).reply(http.StatusOK, nonNilList(list)))
			got := httptest.NewRecorder()
			require.NoError(t, replyList(&exchange{w: got}, http.StatusOK, list))
			require.Equal(t, want.Code, got.Code)
			require.Equal(t, want.Header(), got.Header())
			require.Equal(t, want.Body.String(), got.Body.String())
		})
	}
}

// TestReplyListJobs is TestReplyList for jobs: those wirejson.AppendJob
// writes (with a result, escapes, every time set) and those it leaves to
// encoding/json (progress, a result that is not compact), mixed.
func TestReplyListJobs(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 3, 40, 0, 123456789, time.UTC)
	jobs := make([]*hvagent.Job, 2500) // larger than listChunk
	for i := range jobs {
		j := &hvagent.Job{ID: strconv.Itoa(i), GuestID: "g", GuestName: "web<" + strconv.Itoa(i) + ">",
			Action: hvagent.ActionStart, QueuedAt: at, UpdatedAt: at.Add(time.Duration(i)), Status: hvagent.JobComplete,
			Message: "done & \u2028", Attempt: 1, FinishedAt: at, Result: json.RawMessage(`{"id":"g","cpu":1}`)}
		switch i % 3 {
		case 1:
			j.Progress = &hvagent.Progress{Done: int64(i), Total: 2500}
		case 2:
			j.Result = json.RawMessage(`{"id": "g"}`)
		}
		jobs[i] = j
	}
	checkReplyList(t, map[string][]*hvagent.Job{"Empty": {}, "Nil": nil, "One": jobs[:1], "Many": jobs})
}

// BenchmarkReplyJobs compares a page of 1,000 jobs (GET /jobs?limit=1000)
// sent by replyList, one job at a time through wirejson.AppendJob, with
// reply, encoding/json over the whole list.
func BenchmarkReplyJobs(b *testing.B) {
	at := time.Date(2026, 12, 1, 3, 40, 0, 123456789, time.UTC)
	jobs := make([]*hvagent.Job, 1000)
	for i := range jobs {
		jobs[i] = &hvagent.Job{ID: "6f1c2b1e-8d3a-4c55-9a51-" + strconv.Itoa(100000000000+i),
			GuestID: "0b8a2c4e-1f2d-4e6b-8c9a-7d5e3f1a2b3c", Action: hvagent.ActionStart, QueuedAt: at,
			StartedAt: at, UpdatedAt: at, Status: hvagent.JobComplete, Stage: "1/1 Sim.Start", StageStartedAt: at,
			Attempt: 1, RequestedBy: "local", FinishedAt: at,
			Result: json.RawMessage(`{"id":"0b8a2c4e-1f2d-4e6b-8c9a-7d5e3f1a2b3c","state":"running","memory":256,"cpu":1}`)}
	}
	for _, side := range []struct {
		name  string
		reply func(x *exchange) error
	}{
		{"replyList", func(x *exchange) error { return replyList(x, http.StatusOK, jobs) }},
		{"reply", func(x *exchange) error { return x.reply(http.StatusOK, jobs) }},
	} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				if err := side.reply(&exchange{w: w}); err != nil || w.code != http.StatusOK || w.n == 0 {
					b.Fatalf("status %d, %d bytes, error %v", w.code, w.n, err)
				}
				w.n = 0
			}
		})
	}
}

// discardWriter is a ResponseWriter that counts the body's bytes and
// keeps none.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) { w.code = code }

func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
