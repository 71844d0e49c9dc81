package sim_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// listImages makes n calls of Sim.ListImages.
func listImages(t *testing.T, b *testBundle, n int) {
	t.Helper()
	for range n {
		_, err := call[subagent.ImageResponse](t, b, "Sim.ListImages", &subagent.ImageRequest{})
		require.NoError(t, err)
	}
}

func TestDriver_LogSize(t *testing.T) {
	t.Parallel()

	t.Run("KeepsTheNewest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{LogSize: 3})
		for i := range 7 {
			g := &subagent.Guest{ID: fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i)}
			_, err := guestCall(t, b, "Sim.Start", g)
			require.NoError(t, err)
		}
		var got []string
		for _, c := range b.driver.Log() {
			got = append(got, c.GuestID[len(c.GuestID)-1:])
		}
		require.Equal(t, []string{"4", "5", "6"}, got, "oldest first")
	})

	t.Run("Default", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{})
		listImages(t, b, 20)
		require.Len(t, b.driver.Log(), 20)
		require.Equal(t, 10000, sim.DefaultLogSize)
	})
}

func TestDriver_ExecLog(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		var out strings.Builder
		b := setup(t, sim.Options{LogSize: 1, ExecLog: &out})
		ctx := subagent.WithCall(t.Context(), "job-7", 3)
		_, err := callCtx[subagent.GuestResponse](ctx, b, "Sim.Start", &subagent.GuestRequest{Guest: &subagent.Guest{ID: guestID}})
		require.NoError(t, err)
		listImages(t, b, 1)
		require.NoError(t, b.driver.ExecLogErr())

		var lines []sim.Call
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var c sim.Call
			require.NoError(t, json.Unmarshal(sc.Bytes(), &c), sc.Text())
			lines = append(lines, c)
		}
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		require.Equal(t, []sim.Call{
			{JobID: "job-7", Attempt: 3, Method: "Sim.Start", GuestID: guestID, At: t0},
			{Method: "Sim.ListImages", At: t0},
		}, lines, "the file is not bounded by LogSize")
		require.Contains(t, out.String(), `"job_id":"job-7","attempt":3,"method":"Sim.Start"`)
	})

	t.Run("ErrWrite", func(t *testing.T) {
		t.Parallel()
		w := &failingWriter{after: 1}
		b := setup(t, sim.Options{ExecLog: w})
		listImages(t, b, 3)
		require.EqualError(t, b.driver.ExecLogErr(), "write execution log: disk full")
		require.Equal(t, 2, w.calls, "no writes after the failed one")
		require.Len(t, b.driver.Log(), 3, "the calls themselves succeed")
	})
}

// failingWriter fails every write after the first after.
type failingWriter struct {
	after int
	calls int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.calls > w.after {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}
