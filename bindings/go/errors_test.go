package dengine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"dengine.dev/dengine"
)

func TestErrorsMatchSentinelsAndCarryDetails(t *testing.T) {
	timeout := &dengine.Error{Code: dengine.CodeTimeout, Op: "Propose", Message: "the deadline passed"}
	if !errors.Is(timeout, dengine.ErrTimeout) || !errors.Is(timeout, context.DeadlineExceeded) ||
		errors.Is(timeout, dengine.ErrNotLeader) {
		t.Fatalf("a timeout matches the wrong sentinels: %v", timeout)
	}
	if got := timeout.Error(); got != "dengine: Propose: timeout: the deadline passed" {
		t.Fatalf("message %q", got)
	}

	wrapped := fmt.Errorf("writing: %w", &dengine.NotLeaderError{LeaderID: 2, LeaderAddress: "127.0.0.1:7002",
		Err: &dengine.Error{Code: dengine.CodeNotLeader, Op: "Propose"}})
	var notLeader *dengine.NotLeaderError
	var e *dengine.Error
	if !errors.Is(wrapped, dengine.ErrNotLeader) || !errors.As(wrapped, &notLeader) || !errors.As(wrapped, &e) {
		t.Fatalf("a wrapped not-leader error does not unwrap: %v", wrapped)
	}
	if notLeader.LeaderID != 2 || e.Code != dengine.CodeNotLeader || errors.Is(wrapped, context.DeadlineExceeded) {
		t.Fatalf("not-leader details: %+v, %+v", notLeader, e)
	}
	if got := dengine.CodeNotLeader.Name(); got != "DENGINE_ERR_NOT_LEADER" {
		t.Errorf("CodeNotLeader.Name() = %q", got)
	}
	if got := dengine.CodeNotLeader.String(); got != "not leader" {
		t.Fatalf("code name %q", got)
	}
	expired := &dengine.Error{Code: dengine.CodeSessionExpired, Op: "Put"}
	if !errors.Is(expired, dengine.ErrSessionExpired) || dengine.CodeSessionExpired.String() != "session expired" {
		t.Fatalf("an expired session does not map to its sentinel: %v", expired)
	}
	for _, c := range []struct {
		code     dengine.Code
		sentinel error
		name     string
		text     string
	}{
		{dengine.CodeCompacted, dengine.ErrCompacted, "DENGINE_ERR_COMPACTED", "revision compacted"},
		{dengine.CodeWatchOverflow, dengine.ErrWatchOverflow, "DENGINE_ERR_WATCH_OVERFLOW", "watch overflow"},
		{dengine.CodeCancelled, dengine.ErrCancelled, "DENGINE_ERR_CANCELLED", "cancelled"},
		{dengine.CodePermissionDenied, dengine.ErrPermissionDenied, "DENGINE_ERR_PERMISSION_DENIED", "permission denied"},
	} {
		if got := c.code.Name(); got != c.name {
			t.Errorf("Code(%d).Name() = %q, want %q", int(c.code), got, c.name)
		}
		if got := c.code.String(); got != c.text {
			t.Errorf("Code(%d).String() = %q, want %q", int(c.code), got, c.text)
		}
		err := fmt.Errorf("watching: %w", &dengine.Error{Code: c.code, Op: "Watch"})
		if !errors.Is(err, c.sentinel) || errors.Is(err, dengine.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s does not map to its sentinel alone: %v", c.name, err)
		}
	}
	if dengine.CodePermissionDenied != -16 {
		t.Errorf("CodePermissionDenied %d, want -16", dengine.CodePermissionDenied)
	}
	if dengine.CodeCompacted != -13 || dengine.CodeWatchOverflow != -14 || dengine.CodeCancelled != -15 {
		t.Errorf("codes %d, %d, %d; want -13, -14, -15",
			dengine.CodeCompacted, dengine.CodeWatchOverflow, dengine.CodeCancelled)
	}
	if dengine.Version() == "" {
		t.Fatal("no library version")
	}
}
