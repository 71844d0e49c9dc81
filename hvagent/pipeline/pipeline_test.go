package pipeline_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func add(n int) pipeline.Stage[int] {
	return pipeline.Stage[int]{Service: "calc", Method: "Calc.Add", Run: func(_ context.Context, in int) (int, error) {
		return in + n, nil
	}}
}

func TestRun_OK(t *testing.T) {
	t.Parallel()
	var before, after []int
	out, err := pipeline.Run(context.Background(), []pipeline.Stage[int]{add(1), add(10), add(100)}, 0, pipeline.Hooks[int]{
		Before: func(_ context.Context, i int, _ pipeline.Stage[int], in int) error {
			before = append(before, in)
			return nil
		},
		After: func(_ context.Context, i int, _ pipeline.Stage[int], out int) error {
			after = append(after, out)
			return nil
		},
	})
	require.NoError(t, err)
	require.Equal(t, 111, out)
	require.Equal(t, []int{0, 1, 11}, before)
	require.Equal(t, []int{1, 11, 111}, after)
}

func TestRun_Empty(t *testing.T) {
	t.Parallel()
	out, err := pipeline.Run(context.Background(), nil, 7, pipeline.Hooks[int]{})
	require.NoError(t, err)
	require.Equal(t, 7, out)
}

func TestRun_ErrStageStops(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	ran := 0
	failing := pipeline.Stage[int]{Service: "svc", Method: "Svc.Fail", Run: func(context.Context, int) (int, error) { return 0, boom }}
	counting := pipeline.Stage[int]{Service: "svc", Method: "Svc.Count", Run: func(_ context.Context, in int) (int, error) { ran++; return in, nil }}
	_, err := pipeline.Run(context.Background(), []pipeline.Stage[int]{add(1), failing, counting}, 0, pipeline.Hooks[int]{})
	var se *pipeline.StageError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 2, se.Index)
	require.Equal(t, 3, se.Total)
	require.Equal(t, "svc", se.Service)
	require.Equal(t, "Svc.Fail", se.Method)
	require.Equal(t, "2/3 Svc.Fail", se.Label())
	require.ErrorIs(t, err, boom)
	require.Equal(t, "stage 2/3 Svc.Fail (svc): boom", err.Error())
	require.Zero(t, ran)
}

func TestRun_ErrValidate(t *testing.T) {
	t.Parallel()
	_, err := pipeline.Run(context.Background(), []pipeline.Stage[int]{add(1), add(-5)}, 0, pipeline.Hooks[int]{
		Validate: func(_, out int) error {
			if out < 0 {
				return errors.New("negative")
			}
			return nil
		},
	})
	var se *pipeline.StageError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 2, se.Index)
	require.EqualError(t, se.Err, "negative")
}

func TestRun_CancelAbandonsStage(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	hang := pipeline.Stage[int]{Service: "svc", Method: "Svc.Hang", Run: func(context.Context, int) (int, error) {
		close(started)
		<-release // ignores ctx on purpose
		return 1, nil
	}}
	next := false
	after := pipeline.Stage[int]{Service: "svc", Method: "Svc.Next", Run: func(context.Context, int) (int, error) { next = true; return 2, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := pipeline.Run(ctx, []pipeline.Stage[int]{hang, after}, 0, pipeline.Hooks[int]{})
	close(release)
	var se *pipeline.StageError
	require.ErrorAs(t, err, &se)
	require.True(t, se.InFlight)
	require.Equal(t, 1, se.Index)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, next)
	time.Sleep(10 * time.Millisecond) // let the abandoned stage return before goleak looks
}

func TestRun_CancelledBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := pipeline.Run(ctx, []pipeline.Stage[int]{add(1)}, 0, pipeline.Hooks[int]{})
	var se *pipeline.StageError
	require.ErrorAs(t, err, &se)
	require.False(t, se.InFlight)
}

func TestRun_GraceLetsStageReturn(t *testing.T) {
	t.Parallel()
	var returned atomic.Bool
	slow := pipeline.Stage[int]{Service: "svc", Method: "Svc.Slow", Run: func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // cleans up after its cancel
		returned.Store(true)
		return 0, errors.New("interrupted")
	}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := pipeline.Run(ctx, []pipeline.Stage[int]{slow}, 0, pipeline.Hooks[int]{Grace: time.Minute})
	var se *pipeline.StageError
	require.ErrorAs(t, err, &se)
	require.False(t, se.InFlight, "ctx was done before the stage started")
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithCancel(context.Background())
	started := make(chan struct{})
	slowStarted := slow
	slowStarted.Run = func(ctx context.Context, in int) (int, error) {
		close(started)
		return slow.Run(ctx, in)
	}
	go func() { <-started; cancel() }()
	_, err = pipeline.Run(ctx, []pipeline.Stage[int]{slowStarted}, 0, pipeline.Hooks[int]{Grace: time.Minute})
	require.ErrorAs(t, err, &se)
	require.True(t, se.InFlight)
	require.ErrorIs(t, err, context.Canceled, "the stage's own error is replaced by ctx's")
	require.True(t, returned.Load(), "Run returned before the stage did, within its grace")
}

func TestRun_GraceThenAbandons(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	returned := make(chan struct{})
	hang := pipeline.Stage[int]{Service: "svc", Method: "Svc.Hang", Run: func(context.Context, int) (int, error) {
		defer close(returned)
		<-release // ignores ctx on purpose
		return 1, nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := pipeline.Run(ctx, []pipeline.Stage[int]{hang}, 0, pipeline.Hooks[int]{Grace: 20 * time.Millisecond})
	var se *pipeline.StageError
	require.ErrorAs(t, err, &se)
	require.True(t, se.InFlight)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case <-returned:
		t.Fatal("the stage returned although it was never released")
	default:
	}
	close(release)
	<-returned
}

// TestRun_Inline: an inline stage is never abandoned: Run returns when it
// does, with ctx's error when ctx ended meanwhile.
func TestRun_Inline(t *testing.T) {
	t.Parallel()
	out, err := pipeline.Run(context.Background(), []pipeline.Stage[int]{add(1), add(10)}, 0, pipeline.Hooks[int]{Inline: true})
	require.NoError(t, err)
	require.Equal(t, 11, out)

	ctx, cancel := context.WithCancel(context.Background())
	var returned atomic.Bool
	slow := pipeline.Stage[int]{Service: "svc", Method: "Svc.Slow", Run: func(context.Context, int) (int, error) {
		cancel()
		time.Sleep(20 * time.Millisecond) // ignores ctx on purpose
		returned.Store(true)
		return 1, nil
	}}
	_, err = pipeline.Run(ctx, []pipeline.Stage[int]{slow, add(1)}, 0, pipeline.Hooks[int]{Inline: true, Grace: time.Millisecond})
	require.True(t, returned.Load())
	var se *pipeline.StageError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 1, se.Index)
	require.True(t, se.InFlight)
	require.ErrorIs(t, err, context.Canceled)
}
