package dengine_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"dengine.dev/dengine"
)

// logRecorder collects log lines as slog's text handler writes them.
type logRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *logRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func (r *logRecorder) contains(s string) bool { return strings.Contains(r.String(), s) }

// captureLogs routes dengine's logs to a recorder until the test ends.
func captureLogs(t testing.TB) *logRecorder {
	r := &logRecorder{}
	dengine.SetLogger(slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelInfo})))
	t.Cleanup(func() { dengine.SetLogger(nil) })
	return r
}

func TestLogsGoToSlog(t *testing.T) {
	logs := captureLogs(t)
	c := newCluster(t, 1, nil)
	c.stop(c.leader())
	for _, want := range []string{"level=INFO", `msg="node 1 stopped"`, "component=dengine"} {
		if !logs.contains(want) {
			t.Fatalf("the logs lack %s:\n%s", want, logs)
		}
	}
}
