package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hvagent/hvagent/hvagent/rest"
)

// Descriptions of the request limits' metrics.
var (
	streamsDesc = prometheus.NewDesc("hvagent_http_streams",
		"Stream requests (snapshot downloads, console logs and sessions) being served.", nil, nil)
	eventClientsDesc = prometheus.NewDesc("hvagent_http_event_clients",
		"GET /events requests (event streams and long polls) being served.", nil, nil)
	limitMaxDesc = prometheus.NewDesc("hvagent_http_limit",
		"The most requests of a kind served at once (max_streams, max_event_clients).", []string{"limit"}, nil)
	refusedDesc = prometheus.NewDesc("hvagent_http_refused_total",
		"Requests refused by a limit since start: streams and event_clients (503), request_rate (429).", []string{"limit"}, nil)
)

// limitsCollector exports the counts of the REST handlers' shared limits.
type limitsCollector struct{ limits *rest.Limits }

// Describe implements prometheus.Collector.
func (c limitsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- streamsDesc
	ch <- eventClientsDesc
	ch <- limitMaxDesc
	ch <- refusedDesc
}

// Collect implements prometheus.Collector.
func (c limitsCollector) Collect(ch chan<- prometheus.Metric) {
	st, o := c.limits.Stats(), c.limits.Options()
	ch <- prometheus.MustNewConstMetric(streamsDesc, prometheus.GaugeValue, float64(st.Streams))
	ch <- prometheus.MustNewConstMetric(eventClientsDesc, prometheus.GaugeValue, float64(st.EventClients))
	ch <- prometheus.MustNewConstMetric(limitMaxDesc, prometheus.GaugeValue, float64(o.MaxStreams), "max_streams")
	ch <- prometheus.MustNewConstMetric(limitMaxDesc, prometheus.GaugeValue, float64(o.MaxEventClients), "max_event_clients")
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(st.RefusedStreams), "streams")
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(st.RefusedEventClients), "event_clients")
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(st.RefusedRate), "request_rate")
}
