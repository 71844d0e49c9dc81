// Package metrics exports an Agent's measurements as Prometheus metrics.
//
//	m := metrics.New()
//	cfg.Observer = m
//	agent, err := hvagent.New(cfg)
//	…
//	registry.MustRegister(m.Collector(agent))
//
// It is its own package so that the root package, and the REST client with
// it, import no metrics library.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hvagent/hvagent/hvagent"
)

// scrapeTimeout bounds the job log read of one scrape.
const scrapeTimeout = 5 * time.Second

// Metrics is an hvagent.Observer that keeps sub-agent call durations and
// errors and finished jobs as Prometheus metrics.
type Metrics struct {
	stage     *prometheus.HistogramVec
	subErrors *prometheus.CounterVec
	finished  *prometheus.CounterVec
}

var _ hvagent.Observer = (*Metrics)(nil)

// New returns empty metrics; set them as the agent's Config.Observer.
func New() *Metrics {
	return &Metrics{
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
	}
}

// StageCalled implements hvagent.Observer.
func (m *Metrics) StageCalled(service, method string, took time.Duration, failure string) {
	m.stage.WithLabelValues(service, method).Observe(took.Seconds())
	if failure != "" {
		m.subErrors.WithLabelValues(service, method, failure).Inc()
	}
}

// JobFinished implements hvagent.Observer.
func (m *Metrics) JobFinished(action string, status hvagent.JobStatus) {
	m.finished.WithLabelValues(action, string(status)).Inc()
}

// QueueSource reports the queues and running stages of an agent;
// *hvagent.Agent is one.
type QueueSource interface {
	QueueStats(ctx context.Context) ([]hvagent.QueueStat, error)
	RunningStages() []hvagent.RunningStage
}

// Collector returns every metric: the observed ones plus, read from queues
// at each scrape, queue depth, running jobs and the oldest queued job's age
// per queue, the oldest running stage's age and the abandoned stages that
// still run. Register it on a registry.
func (m *Metrics) Collector(queues QueueSource) prometheus.Collector {
	return &collector{m: m, queues: queues, now: time.Now,
		depth:      prometheus.NewDesc("hvagent_queue_depth", "Queued jobs per queue (guest ID or image key).", []string{"queue"}, nil),
		running:    prometheus.NewDesc("hvagent_queue_running", "Running jobs per queue (0 or 1).", []string{"queue"}, nil),
		oldest:     prometheus.NewDesc("hvagent_queue_oldest_seconds", "Age of the oldest queued job per queue.", []string{"queue"}, nil),
		scrapeFail: prometheus.NewDesc("hvagent_queue_scrape_error", "1 when the job log could not be read for this scrape.", nil, nil),
		oldestStage: prometheus.NewDesc("hvagent_oldest_running_stage_seconds",
			"Age of the oldest pipeline stage in progress of a running job; 0 when none runs.", nil, nil),
		abandoned: prometheus.NewDesc("hvagent_abandoned_stages",
			"Stages whose jobs ended without them (they ignored their cancellation) and that still run.", nil, nil),
	}
}

// collector is the prometheus.Collector of Metrics.Collector.
type collector struct {
	m                                  *Metrics
	queues                             QueueSource
	now                                func() time.Time
	depth, running, oldest, scrapeFail *prometheus.Desc
	oldestStage, abandoned             *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	c.m.stage.Describe(ch)
	c.m.subErrors.Describe(ch)
	c.m.finished.Describe(ch)
	ch <- c.depth
	ch <- c.running
	ch <- c.oldest
	ch <- c.scrapeFail
	ch <- c.oldestStage
	ch <- c.abandoned
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.m.stage.Collect(ch)
	c.m.subErrors.Collect(ch)
	c.m.finished.Collect(ch)
	c.collectStages(ch)
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	stats, err := c.queues.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.scrapeFail, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeFail, prometheus.GaugeValue, 0)
	now := c.now()
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Queued), s.Queue)
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(s.Running), s.Queue)
		age := 0.0
		if !s.OldestQueuedAt.IsZero() {
			age = now.Sub(s.OldestQueuedAt).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, s.Queue)
	}
}

// collectStages reports the oldest running stage's age and the abandoned
// stages, which need no read of the job log.
func (c *collector) collectStages(ch chan<- prometheus.Metric) {
	age, abandoned := 0.0, 0
	now := c.now()
	for _, s := range c.queues.RunningStages() {
		if s.Abandoned {
			abandoned++
			continue
		}
		age = max(age, now.Sub(s.StartedAt).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.oldestStage, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.abandoned, prometheus.GaugeValue, float64(abandoned))
}
