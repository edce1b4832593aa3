package dengine

/*
#include <stdlib.h>
#include "lasterror.h"
*/
import "C"

import (
	"context"
	"math"
	"slices"
	"unsafe"
)

// MetricType is what kind of number a [Metric] is.
type MetricType int

const (
	MetricCounter   MetricType = C.DENGINE_METRIC_COUNTER   // only grows while the node runs
	MetricGauge     MetricType = C.DENGINE_METRIC_GAUGE     // a value now
	MetricHistogram MetricType = C.DENGINE_METRIC_HISTOGRAM // a distribution: count, sum, buckets
)

// String is the type's Prometheus name: "counter", "gauge" or "histogram".
func (t MetricType) String() string {
	switch t {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return "unknown"
}

// Bucket is one bucket of a histogram: Count observations were at most
// UpperBound. Counts are cumulative, as Prometheus counts them.
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// Metric is one sample of a node's metrics: a metric, or one label value of
// a labelled metric (dengine_peer_match_index of peer "2", ...).
type Metric struct {
	Name       string // e.g. "dengine_commit_index"
	Help       string // one line saying what it is
	Type       MetricType
	LabelName  string // "peer", "status", "listener", or "" without a label
	LabelValue string // e.g. "2" for peer 2; "" without a label
	// Value is a counter's or gauge's value, or the sum of a histogram's
	// observations (in seconds for the *_seconds metrics).
	Value float64
	// Count and Buckets are a histogram's (0 and nil otherwise): how many
	// observations, and the buckets in ascending order, the last one's
	// UpperBound +Inf and its Count equal to Count.
	Count   uint64
	Buckets []Bucket
}

// Metrics is a snapshot of what a node counts, copied out of dengine when
// it was taken: read it from any goroutine. docs/operations.md ("Metrics
// and health") lists every metric; names and labels follow Prometheus
// conventions.
type Metrics struct {
	samples []Metric
	text    string
}

// Metrics takes a snapshot of the node's metrics: its role, term and
// indexes, replication per peer (on the leader), proposals by status,
// fsync, commit, apply and snapshot timings, elections, traffic, clients
// and watches. It does not wait for the node's loop, and works on a
// stopped node too (the values as of the stop).
func (n *Node) Metrics() (*Metrics, error) {
	p, err := n.enter("Metrics")
	if err != nil {
		return nil, err
	}
	defer n.leave()
	var snapshot *C.dengine_metrics
	if err := call("Metrics", func(m **C.char) C.int { return C.godengine_node_metrics(p, &snapshot, m) }); err != nil {
		return nil, err
	}
	defer C.dengine_metrics_free(snapshot)
	var text *C.char
	if err := call("Metrics", func(m **C.char) C.int { return C.godengine_metrics_text(snapshot, &text, m) }); err != nil {
		return nil, err
	}
	defer C.dengine_free(unsafe.Pointer(text))
	count := int(C.dengine_metrics_count(snapshot))
	out := &Metrics{samples: make([]Metric, 0, count), text: C.GoString(text)}
	for i := range count {
		out.samples = append(out.samples, metricOf(C.dengine_metrics_at(snapshot, C.size_t(i))))
	}
	return out, nil
}

// metricOf copies a C sample (its snapshot's caller frees it).
func metricOf(m *C.dengine_metric) Metric {
	out := Metric{
		Name:       C.GoString(m.name),
		Help:       C.GoString(m.help),
		Type:       MetricType(m._type),
		LabelName:  C.GoString(m.label_name),
		LabelValue: C.GoString(m.label_value),
		Value:      float64(m.value),
	}
	if out.Type != MetricHistogram {
		return out
	}
	out.Count = uint64(m.count)
	bounds := unsafe.Slice(m.upper_bounds, int(m.bucket_count))
	counts := unsafe.Slice(m.bucket_counts, int(m.bucket_count))
	out.Buckets = make([]Bucket, 0, len(bounds)+1)
	for i := range bounds {
		out.Buckets = append(out.Buckets, Bucket{UpperBound: float64(bounds[i]), Count: uint64(counts[i])})
	}
	// The C API leaves out the +Inf bucket: its count is the total.
	out.Buckets = append(out.Buckets, Bucket{UpperBound: math.Inf(1), Count: out.Count})
	return out
}

// All is every sample, in the snapshot's order (a new slice each call).
func (ms *Metrics) All() []Metric { return slices.Clone(ms.samples) }

// Find is the sample of metric name with label value labelValue ("": the
// sample of an unlabelled metric), and whether there is one.
func (ms *Metrics) Find(name, labelValue string) (Metric, bool) {
	for _, m := range ms.samples {
		if m.Name == name && m.LabelValue == labelValue {
			return m, true
		}
	}
	return Metric{}, false
}

// Value is the Value of the sample Find gives for name and labelValue
// (none: an unlabelled metric's; a sample has at most one label, so more
// than one finds nothing), and whether there is one:
//
//	commit, _ := ms.Value("dengine_commit_index")
//	ok, _ := ms.Value("dengine_proposals_total", "ok")
func (ms *Metrics) Value(name string, labelValue ...string) (float64, bool) {
	if len(labelValue) > 1 {
		return 0, false
	}
	label := ""
	if len(labelValue) == 1 {
		label = labelValue[0]
	}
	m, found := ms.Find(name, label)
	return m.Value, found
}

// Text is the snapshot in the Prometheus text exposition format (version
// 0.0.4), as dengined serves it at /metrics.
func (ms *Metrics) Text() string { return ms.text }

// Metrics is the answering server's metrics in the Prometheus text format
// ([Metrics.Text] on that node): with one endpoint that server's, with
// several the leader's once found. Inside dengine the call is bounded by
// the client's timeout.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	var out string
	err := c.do(ctx, "Metrics", func(client *C.dengine_client) error {
		var text *C.char
		if err := call("Metrics", func(m **C.char) C.int { return C.godengine_client_metrics(client, &text, m) }); err != nil {
			return err
		}
		defer C.dengine_free(unsafe.Pointer(text))
		out = C.GoString(text)
		return nil
	})
	if err != nil {
		return "", err
	}
	return out, nil
}
