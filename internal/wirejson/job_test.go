package wirejson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// TestJobCodec_KnowsEveryField: AppendJob and ParseJob write and read
// every field of Job; a field added to Job must be added to them.
func TestJobCodec_KnowsEveryField(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[hvagent.Job]()
	var fields []string
	for i := range typ.NumField() {
		fields = append(fields, typ.Field(i).Name)
	}
	require.Equal(t, fields, JobFields)
}

// checkJobCodec checks AppendJob and ParseJob against encoding/json on j:
// when AppendJob takes j it gives json.Marshal's bytes; when ParseJob
// takes those bytes it gives json.Unmarshal's Job. It returns whether
// each took its part.
func checkJobCodec(t *testing.T, j *hvagent.Job) (encoded, parsed bool) {
	t.Helper()
	want, err := json.Marshal(j)
	got, ok := AppendJob([]byte("prefix"), j)
	if ok {
		require.NoError(t, err, "AppendJob took a job json.Marshal refuses")
		require.Equal(t, "prefix"+string(want), string(got))
	}
	if err != nil {
		return ok, false
	}
	return ok, checkParseJob(t, want)
}

// checkParseJob checks that ParseJob, when it takes data, gives the Job
// json.Unmarshal gives.
func checkParseJob(t *testing.T, data []byte) bool {
	t.Helper()
	var got hvagent.Job
	if !ParseJob(data, &got) {
		require.Equal(t, hvagent.Job{}, got, "a declined parse leaves the job alone")
		return false
	}
	var want hvagent.Job
	require.NoError(t, json.Unmarshal(data, &want), "ParseJob took what json.Unmarshal refuses: %s", data)
	require.Equal(t, want, got, "%s", data)
	return true
}

func TestJobCodec(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 16, 33, 30, 410141889, time.UTC)
	full := &hvagent.Job{ID: "5e2f6d7a-8b9c-4d0e-a1f2-3b4c5d6e7f80", GuestID: "0b0e7c1c-4a38-4c1e-9d53-5a4f7d1e2b3c",
		GuestName: "web1", Action: "start", QueuedAt: now, StartedAt: now.Add(time.Second), UpdatedAt: now,
		Status: hvagent.JobError, Message: "sub-agent said no", Error: hvagent.ESUBAGENT, Stage: "start",
		StageStartedAt: now, Position: 3, Attempt: 2, RequestedBy: "ci", IdempotencyKey: "k1", FinishedAt: now,
		Result: json.RawMessage(`{"id":"x","disks":[{"size":1024}],"name":"a \"b\" \\ c"}`)}
	with := func(f func(j *hvagent.Job)) *hvagent.Job {
		j := *full
		f(&j)
		return &j
	}
	for _, tc := range []struct {
		name            string
		job             *hvagent.Job
		encoded, parsed bool
	}{
		{"zero", &hvagent.Job{}, true, true},
		{"full", full, true, true},
		{"negative position", with(func(j *hvagent.Job) { j.Position = -1 }), true, true},
		{"zoned time", with(func(j *hvagent.Job) { j.QueuedAt = now.In(time.FixedZone("x", -7*3600-30*60)) }), true, true},
		{"null result", with(func(j *hvagent.Job) { j.Result = json.RawMessage("null") }), true, true},
		{"unicode", with(func(j *hvagent.Job) { j.Message = "déjà vu — ✓" }), true, true},
		{"escaped", with(func(j *hvagent.Job) { j.Message = "a\"b\\c\nd\te\rf\bg\fh\x00i\x1fj" }), true, true},
		{"html", with(func(j *hvagent.Job) { j.Message = "<a href='x'>&</a>" }), true, true},
		{"invalid utf-8", with(func(j *hvagent.Job) { j.Message = "bad \xff byte" }), true, true},
		{"line separators", with(func(j *hvagent.Job) { j.Stage = "a\u2028b\u2029c" }), true, true},
		{"progress", with(func(j *hvagent.Job) { j.Progress = &hvagent.Progress{Done: 1, Total: 2} }), false, false},
		{"spaced result", with(func(j *hvagent.Job) { j.Result = json.RawMessage(`{ "id": 1 }`) }), false, true},
		{"html result", with(func(j *hvagent.Job) { j.Result = json.RawMessage(`{"id":"<x>"}`) }), false, true},
		{"year 10000", with(func(j *hvagent.Job) { j.FinishedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), false, false},
	} {
		encoded, parsed := checkJobCodec(t, tc.job)
		require.Equal(t, tc.encoded, encoded, "%s: taken by AppendJob", tc.name)
		require.Equal(t, tc.parsed, parsed, "%s: taken by ParseJob", tc.name)
	}
}

// TestParseJob_Declines: ParseJob leaves every other form to
// encoding/json, and never takes what it refuses.
func TestParseJob_Declines(t *testing.T) {
	t.Parallel()
	const z = `"0001-01-01T00:00:00Z"`
	base := `"GuestID":"g","Action":"a","QueuedAt":` + z + `,"StartedAt":` + z + `,"UpdatedAt":` + z +
		`,"Status":"Queued","Message":"","Stage":"","StageStartedAt":` + z + `,"Attempt":1,"FinishedAt":` + z
	require.True(t, checkParseJob(t, []byte(` {"ID":"i",`+base+"}\n")), "the canonical form")
	for _, data := range []string{
		`{"id":"i",` + base + `}`,            // a key in another case
		`{"ID": "i",` + base + `}`,           // whitespace
		`{"GuestID":"g","ID":"i"}`,           // another order
		`{"ID":"i",` + base + `,"Extra":1}`,  // an unknown key
		`{"ID":"i",` + base + `}x`,           // trailing data
		`{"ID":"i",` + base,                  // truncated
		`{"ID":"i",` + base + `,"Result":}`,  // no result
		`{"ID":"i",` + base + `,"Result":{}`, // a result without the closing brace
		`{"ID":"i",` + base + `,"Result":{"a":}}`,
		`{"ID":null,` + base + `}`,
		`{"ID":1,` + base + `}`,
		`null`,
		``,
	} {
		require.False(t, checkParseJob(t, []byte(data)), data)
	}
	for _, attempt := range []string{"01", "-", "1.5", "1e2", "99999999999999999999", `"1"`} {
		data := strings.Replace(`{"ID":"i",`+base+`}`, `"Attempt":1`, `"Attempt":`+attempt, 1)
		require.False(t, checkParseJob(t, []byte(data)), data)
	}
}

// FuzzJobCodec checks AppendJob and ParseJob against encoding/json on
// jobs made of the fuzzer's strings, numbers and times.
func FuzzJobCodec(f *testing.F) {
	f.Add("start", "msg", "web1", 1, int64(1764520410410141889), 0, `{"id":"x"}`)
	f.Add("a\"b", "<&>", "\xff\u2028", -3, int64(-62135596800000000000/1e9), 3600, ``)
	f.Add("", "", "", 0, int64(0), -86399, `null`)
	f.Fuzz(func(t *testing.T, action, msg, name string, attempt int, nanos int64, zone int, result string) {
		tm := time.Unix(0, nanos).In(time.FixedZone("z", zone))
		j := &hvagent.Job{ID: "i", Action: action, Message: msg, GuestName: name, Attempt: attempt, Position: attempt,
			QueuedAt: tm, FinishedAt: tm.Add(time.Hour), Result: json.RawMessage(result)}
		checkJobCodec(t, j)
	})
}

// FuzzParseJob: whatever ParseJob takes, json.Unmarshal takes too, and
// gives the same Job.
func FuzzParseJob(f *testing.F) {
	j, _ := json.Marshal(&hvagent.Job{ID: "i", Status: hvagent.JobComplete, Attempt: 1, Result: json.RawMessage(`[1]`)})
	f.Add(j)
	f.Add([]byte(`{"ID":"i"}`))
	f.Fuzz(func(t *testing.T, data []byte) { checkParseJob(t, data) })
}

// TestPlainRaw: plainRaw takes a Result only when json.Marshal copies it
// unchanged, and takes the compact forms it meets.
func TestPlainRaw(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		``: true, `null`: true, `{"a":[1,2,"x y"]}`: true, `"\"<"`: false, `"a\\<"`: false,
		`{"a": 1}`: false, "{\"a\":1}\n": false, `"a&b"`: false, `"<"`: false, `">"`: false,
		"\"a\u2028\"": false, "\"a\u2029\"": false, "\"a\u2027\"": true, "\"\xe2\x80\"": true,
		`{"a":1`: false, `"\q"`: false, `"a\"b c"`: true, `["\\", " "]`: false, `["\\"," "]`: true,
	} {
		require.Equal(t, want, plainRaw(json.RawMessage(raw)), "%q", raw)
		checkPlainRaw(t, []byte(raw))
	}
}

// checkPlainRaw checks that what plainRaw takes, json.Marshal copies.
func checkPlainRaw(t *testing.T, raw []byte) {
	t.Helper()
	if !plainRaw(raw) || len(raw) == 0 {
		return
	}
	b, err := json.Marshal(json.RawMessage(raw))
	require.NoError(t, err)
	require.Equal(t, string(raw), string(b))
}

// FuzzPlainRaw: whatever plainRaw takes, json.Marshal copies unchanged.
func FuzzPlainRaw(f *testing.F) {
	f.Add([]byte(`{"guest":{"id":"g","state":"running"}}`))
	f.Add([]byte("\"\u2028\""))
	f.Fuzz(func(t *testing.T, raw []byte) { checkPlainRaw(t, raw) })
}

// BenchmarkParseJob measures decoding a finished guest job as the REST
// client reads one (a result holding the guest), with ParseJob, side by
// side with its reference json.Unmarshal in the same round. Reported:
// direct-ns, unmarshal-ns and ratio (unmarshal time / direct time).
func BenchmarkParseJob(b *testing.B) {
	now := time.Date(2026, 11, 30, 16, 33, 30, 410141889, time.UTC)
	data, ok := AppendJob(nil, &hvagent.Job{ID: "5e2f6d7a-8b9c-4d0e-a1f2-3b4c5d6e7f80",
		GuestID: "0b0e7c1c-4a38-4c1e-9d53-5a4f7d1e2b3c", GuestName: "web1", Action: "start", QueuedAt: now,
		StartedAt: now, UpdatedAt: now, Status: hvagent.JobComplete, Stage: "1/1 Sim.Start", StageStartedAt: now,
		Attempt: 1, RequestedBy: "ci", FinishedAt: now,
		Result: json.RawMessage(`{"id":"0b0e7c1c-4a38-4c1e-9d53-5a4f7d1e2b3c","name":"web1","disks":[{"bus":"virtio",` +
			`"device":"vda","size":1024,"volume":"","image":"","source":"sim://disk-0"}],"state":"running","memory":256,"cpu":1}`)})
	require.True(b, ok)
	benchkit.SideBySide(b, "unmarshal", func() error {
		var d hvagent.Job
		if !ParseJob(data, &d) {
			return errors.New("ParseJob declined AppendJob's form")
		}
		return nil
	}, func() error {
		var u hvagent.Job
		return json.Unmarshal(data, &u)
	})
}
