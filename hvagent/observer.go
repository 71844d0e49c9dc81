package hvagent

import (
	"context"
	"time"
)

// Observer receives the agent's measurements as they happen. Package
// hvagent/metrics implements it for Prometheus; the root package itself
// depends on no metrics library. Its methods must be quick and safe for
// concurrent use.
type Observer interface {
	// StageCalled reports one sub-agent call of a pipeline stage: how long
	// it took and, when it failed, the kind of failure ("transport",
	// "http", "method", "null_result", "decode"; "" on success).
	StageCalled(service, method string, took time.Duration, failure string)
	// JobFinished reports a job that reached a final status.
	JobFinished(action string, status JobStatus)
}

// nopObserver is the default Observer.
type nopObserver struct{}

func (nopObserver) StageCalled(string, string, time.Duration, string) {}
func (nopObserver) JobFinished(string, JobStatus)                     {}

// QueueStats returns, for each queue holding queued or running jobs, how
// many of each and when its oldest queued job was queued, ordered by queue.
func (a *Agent) QueueStats(ctx context.Context) ([]QueueStat, error) {
	return a.store.QueueStats(ctx)
}
