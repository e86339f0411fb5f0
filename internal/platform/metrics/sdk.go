package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// sdkCollector keeps the series the Temporal SDK reports. The SDK names
// a metric with different tag sets in different places (a poller's
// counters carry poller_type, a task's do not), which Prometheus's
// checked vectors refuse: the series are kept here and collected
// unchecked, one family per name with one help text.
type sdkCollector struct {
	mu     sync.RWMutex
	series map[string]prometheus.Collector // by kind, name and labels
}

func newSDKCollector() *sdkCollector {
	return &sdkCollector{series: map[string]prometheus.Collector{}}
}

// Describe sends nothing: the collector is unchecked.
func (c *sdkCollector) Describe(chan<- *prometheus.Desc) {}

func (c *sdkCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range c.series {
		s.Collect(ch)
	}
}

// get returns the series for key, made by mk the first time.
func (c *sdkCollector) get(key string, mk func() prometheus.Collector) prometheus.Collector {
	c.mu.RLock()
	s, ok := c.series[key]
	c.mu.RUnlock()
	if ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok = c.series[key]; !ok {
		s = mk()
		c.series[key] = s
	}
	return s
}

// sdkHandler is client.MetricsHandler with a fixed set of tags.
type sdkHandler struct {
	c      *sdkCollector
	labels prometheus.Labels
	key    string // the labels, sorted, as part of a series key
}

func (h *sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	labels := prometheus.Labels{}
	maps.Copy(labels, h.labels)
	for k, v := range tags {
		labels[promName(k)] = v
	}
	var key strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		key.WriteString(k + "=" + labels[k] + "\x00")
	}
	return &sdkHandler{c: h.c, labels: labels, key: key.String()}
}

func help(name string) string { return "Temporal SDK metric " + name + "." }

func (h *sdkHandler) Counter(name string) client.MetricsCounter {
	name = promName(name)
	s := h.c.get("c\x00"+name+"\x00"+h.key, func() prometheus.Collector {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help(name), ConstLabels: h.labels})
	}).(prometheus.Counter)
	return counter{s}
}

func (h *sdkHandler) Gauge(name string) client.MetricsGauge {
	name = promName(name)
	s := h.c.get("g\x00"+name+"\x00"+h.key, func() prometheus.Collector {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help(name), ConstLabels: h.labels})
	}).(prometheus.Gauge)
	return gauge{s}
}

func (h *sdkHandler) Timer(name string) client.MetricsTimer {
	name = promName(name)
	s := h.c.get("t\x00"+name+"\x00"+h.key, func() prometheus.Collector {
		return prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: name, Help: help(name) + " In seconds", ConstLabels: h.labels,
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		})
	}).(prometheus.Histogram)
	return timer{s}
}

type counter struct{ c prometheus.Counter }

func (c counter) Inc(d int64) {
	if d > 0 {
		c.c.Add(float64(d))
	}
}

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ h prometheus.Histogram }

func (t timer) Record(d time.Duration) { t.h.Observe(d.Seconds()) }

// promName makes a metric or label name Prometheus accepts.
func promName(s string) string {
	b := []byte(s)
	for i, ch := range b {
		ok := ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || i > 0 && ch >= '0' && ch <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
