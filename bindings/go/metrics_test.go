package dengine_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"dengine.dev/dengine"
)

// metricsNode starts a one-node cluster of the built-in KV machine serving
// clients at the returned address, and waits until it leads.
func metricsNode(t *testing.T) (*dengine.Node, string) {
	address := freeAddress(t)
	c := newCluster(t, 1, func(cfg *dengine.Config) {
		cfg.StateMachine = nil
		cfg.ClientAddress = address
	})
	return c.nodes[c.leader()], address
}

// metricsOf takes a snapshot of n's metrics, failing t if it cannot.
func metricsOf(t *testing.T, n *dengine.Node) *dengine.Metrics {
	t.Helper()
	ms, err := n.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestMetricsMoveAsWritesApply(t *testing.T) {
	n, _ := metricsNode(t)
	ctx := ctxFor(t)
	before, ok := metricsOf(t, n).Value("dengine_commit_index")
	if !ok {
		t.Fatal("no dengine_commit_index")
	}
	for i := range 10 {
		if err := n.Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	ms := metricsOf(t, n)

	if v, ok := ms.Value("dengine_is_leader"); !ok || v != 1 {
		t.Fatalf("dengine_is_leader: %v, %v", v, ok)
	}
	if v, ok := ms.Value("dengine_commit_index"); !ok || v < before+10 {
		t.Fatalf("dengine_commit_index %v after 10 writes from %v", v, before)
	}
	commit, _ := ms.Find("dengine_commit_index", "")
	if commit.Type != dengine.MetricGauge || commit.Help == "" || commit.LabelName != "" || commit.Buckets != nil {
		t.Fatalf("dengine_commit_index: %+v", commit)
	}
	proposals, ok := ms.Find("dengine_proposals_total", "ok")
	if !ok || proposals.Type != dengine.MetricCounter || proposals.LabelName != "status" || proposals.Value < 10 {
		t.Fatalf("dengine_proposals_total{status=\"ok\"}: %+v, %v", proposals, ok)
	}
	if v, ok := ms.Value("dengine_proposals_total", "ok"); !ok || v != proposals.Value {
		t.Fatalf("Value of dengine_proposals_total ok: %v, %v", v, ok)
	}

	fsync, ok := ms.Find("dengine_fsync_latency_seconds", "")
	if !ok || fsync.Type != dengine.MetricHistogram || fsync.Count < 1 || fsync.Value <= 0 {
		t.Fatalf("dengine_fsync_latency_seconds: %+v, %v", fsync, ok)
	}
	last := fsync.Buckets[len(fsync.Buckets)-1]
	if !math.IsInf(last.UpperBound, 1) || last.Count != fsync.Count {
		t.Fatalf("the last fsync bucket %+v of count %d", last, fsync.Count)
	}
	for i := 1; i < len(fsync.Buckets); i++ {
		if b, prev := fsync.Buckets[i], fsync.Buckets[i-1]; b.Count < prev.Count || b.UpperBound <= prev.UpperBound {
			t.Fatalf("fsync buckets not cumulative and ascending: %+v", fsync.Buckets)
		}
	}
}

func TestEveryMetricIsWellFormed(t *testing.T) {
	n, _ := metricsNode(t)
	all := metricsOf(t, n).All()
	if len(all) <= 30 {
		t.Fatalf("only %d samples", len(all))
	}
	for _, m := range all {
		if !strings.HasPrefix(m.Name, "dengine_") || m.Help == "" || (m.LabelName == "") != (m.LabelValue == "") {
			t.Errorf("sample %+v", m)
		}
		switch m.Type {
		case dengine.MetricHistogram:
			if len(m.Buckets) == 0 || m.Buckets[len(m.Buckets)-1].Count != m.Count {
				t.Errorf("histogram %s: count %d, buckets %+v", m.Name, m.Count, m.Buckets)
			}
		case dengine.MetricCounter, dengine.MetricGauge:
			if m.Count != 0 || m.Buckets != nil {
				t.Errorf("%s %s has histogram fields: %+v", m.Type, m.Name, m)
			}
		default:
			t.Errorf("%s: type %v", m.Name, m.Type)
		}
	}
}

func TestAnAbsentMetricIsNotFound(t *testing.T) {
	n, _ := metricsNode(t)
	ms := metricsOf(t, n)
	if _, ok := ms.Value("dengine_no_such_metric"); ok {
		t.Error("found dengine_no_such_metric")
	}
	if _, ok := ms.Find("dengine_proposals_total", "nope"); ok {
		t.Error(`found dengine_proposals_total{status="nope"}`)
	}
	// A labelled metric has no unlabelled sample, and none has two labels.
	if _, ok := ms.Value("dengine_proposals_total"); ok {
		t.Error("found dengine_proposals_total without a label")
	}
	if _, ok := ms.Value("dengine_proposals_total", "ok", "ok"); ok {
		t.Error("found dengine_proposals_total with two label values")
	}
}

func TestMetricsTextReachesNodeAndClientCallers(t *testing.T) {
	n, address := metricsNode(t)
	text := metricsOf(t, n).Text()
	for _, want := range []string{"# TYPE dengine_commit_index gauge\n", `dengine_fsync_latency_seconds_bucket{le="+Inf"}`} {
		if !strings.Contains(text, want) {
			t.Errorf("the node's text has no %q:\n%s", want, text)
		}
	}

	client := openClient(t, address)
	text, err := client.Metrics(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "\ndengine_node_id 1\n") {
		t.Errorf("the client's text has no dengine_node_id 1:\n%s", text)
	}
	client.Close()
	if _, err := client.Metrics(ctxFor(t)); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Errorf("metrics through a closed client: %v", err)
	}
}

func TestMetricsOfAStoppedAndAClosedNode(t *testing.T) {
	n, _ := metricsNode(t)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if v, ok := metricsOf(t, n).Value("dengine_node_id"); !ok || v != 1 {
		t.Fatalf("dengine_node_id of a stopped node: %v, %v", v, ok)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Metrics(); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("metrics of a closed node: %v", err)
	}
}
