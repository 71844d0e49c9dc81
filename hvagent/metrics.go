package hvagent

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// agentMetrics are the agent's Prometheus metrics; queue gauges are read
// from the store at each scrape.
type agentMetrics struct {
	agent      *Agent
	stage      *prometheus.HistogramVec
	subErrors  *prometheus.CounterVec
	finished   *prometheus.CounterVec
	depth      *prometheus.Desc
	running    *prometheus.Desc
	oldest     *prometheus.Desc
	scrapeFail *prometheus.Desc
}

func newAgentMetrics(a *Agent) *agentMetrics {
	return &agentMetrics{
		agent: a,
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hvagent_stage_duration_seconds",
			Help:    "Duration of sub-agent calls (pipeline stages), by service and method.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"service", "method"}),
		subErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hvagent_subagent_errors_total",
			Help: "Failed sub-agent calls, by service, method and kind (transport, http, method, null_result, decode).",
		}, []string{"service", "method", "kind"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hvagent_jobs_finished_total",
			Help: "Jobs that reached a final status since start, by action and status.",
		}, []string{"action", "status"}),
		depth:      prometheus.NewDesc("hvagent_queue_depth", "Queued jobs per queue (guest ID or image key).", []string{"queue"}, nil),
		running:    prometheus.NewDesc("hvagent_queue_running", "Running jobs per queue (0 or 1).", []string{"queue"}, nil),
		oldest:     prometheus.NewDesc("hvagent_queue_oldest_seconds", "Age of the oldest queued job per queue.", []string{"queue"}, nil),
		scrapeFail: prometheus.NewDesc("hvagent_queue_scrape_error", "1 when the job log could not be read for this scrape.", nil, nil),
	}
}

// Collector returns the agent's Prometheus metrics: queue depth and oldest
// queued age per queue, running jobs, finished jobs by action and status,
// sub-agent call durations and errors. Register it on a registry.
func (a *Agent) Collector() prometheus.Collector { return a.metrics }

// Describe implements prometheus.Collector.
func (m *agentMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.stage.Describe(ch)
	m.subErrors.Describe(ch)
	m.finished.Describe(ch)
	ch <- m.depth
	ch <- m.running
	ch <- m.oldest
	ch <- m.scrapeFail
}

// Collect implements prometheus.Collector.
func (m *agentMetrics) Collect(ch chan<- prometheus.Metric) {
	m.stage.Collect(ch)
	m.subErrors.Collect(ch)
	m.finished.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := m.agent.store.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(m.scrapeFail, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.scrapeFail, prometheus.GaugeValue, 0)
	now := m.agent.now()
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(m.depth, prometheus.GaugeValue, float64(s.Queued), s.Queue)
		ch <- prometheus.MustNewConstMetric(m.running, prometheus.GaugeValue, float64(s.Running), s.Queue)
		age := 0.0
		if !s.OldestQueuedAt.IsZero() {
			age = now.Sub(s.OldestQueuedAt).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, age, s.Queue)
	}
}

// observeCall records one sub-agent call's duration and failure.
func (m *agentMetrics) observeCall(st StageConfig, took time.Duration, err error) {
	m.stage.WithLabelValues(st.Service, st.Method).Observe(took.Seconds())
	var ce *subagent.CallError
	if errors.As(err, &ce) {
		m.subErrors.WithLabelValues(st.Service, st.Method, ce.Kind.String()).Inc()
	}
}
