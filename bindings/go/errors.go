package dengine

/*
#include <dengine.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
)

// Code is a dengine status code (DENGINE_ERR_* in dengine.h).
type Code int

// The status codes of the C API.
const (
	CodeInvalidArgument  Code = C.DENGINE_ERR_INVALID_ARGUMENT
	CodeNotLeader        Code = C.DENGINE_ERR_NOT_LEADER
	CodeTimeout          Code = C.DENGINE_ERR_TIMEOUT
	CodeShuttingDown     Code = C.DENGINE_ERR_SHUTTING_DOWN
	CodeCorruption       Code = C.DENGINE_ERR_CORRUPTION
	CodeIO               Code = C.DENGINE_ERR_IO
	CodeNotFound         Code = C.DENGINE_ERR_NOT_FOUND
	CodeUnsupported      Code = C.DENGINE_ERR_UNSUPPORTED
	CodeBusy             Code = C.DENGINE_ERR_BUSY
	CodeStateMachine     Code = C.DENGINE_ERR_STATE_MACHINE
	CodeInternal         Code = C.DENGINE_ERR_INTERNAL
	CodeSessionExpired   Code = C.DENGINE_ERR_SESSION_EXPIRED
	CodeCompacted        Code = C.DENGINE_ERR_COMPACTED
	CodeWatchOverflow    Code = C.DENGINE_ERR_WATCH_OVERFLOW
	CodeCancelled        Code = C.DENGINE_ERR_CANCELLED
	CodePermissionDenied Code = C.DENGINE_ERR_PERMISSION_DENIED
)

// String names the code as dengine_strerror does ("not leader").
func (c Code) String() string { return C.GoString(C.dengine_strerror(C.int(c))) }

// Name is the code's C name, as dengine_err_name gives it
// ("DENGINE_ERR_NOT_LEADER").
func (c Code) Name() string { return C.GoString(C.dengine_err_name(C.int(c))) }

// Sentinels, one per code: errors.Is(err, ErrNotLeader) holds for every
// error dengine returns with that code.
var (
	ErrInvalidArgument = errors.New("dengine: invalid argument")
	ErrNotLeader       = errors.New("dengine: not leader")
	ErrTimeout         = errors.New("dengine: timeout")
	ErrShuttingDown    = errors.New("dengine: shutting down")
	ErrCorruption      = errors.New("dengine: corruption")
	ErrIO              = errors.New("dengine: I/O error")
	ErrNotFound        = errors.New("dengine: not found")
	ErrUnsupported     = errors.New("dengine: unsupported")
	ErrBusy            = errors.New("dengine: busy")
	ErrStateMachine    = errors.New("dengine: state machine error")
	ErrInternal        = errors.New("dengine: internal error")
	// A session write's client id is unknown to the cluster (its session
	// expired, or was never opened): it was not applied; if it was a retry,
	// an earlier attempt may have been.
	ErrSessionExpired = errors.New("dengine: session expired")
	// A watch's start revision is older than the history the node keeps
	// (the message names the oldest revision it has).
	ErrCompacted = errors.New("dengine: revision compacted")
	// A watch fell too far behind and was ended; resume it from the
	// revision it reached.
	ErrWatchOverflow = errors.New("dengine: watch overflow")
	// The call (a watch) was cancelled.
	ErrCancelled = errors.New("dengine: cancelled")
	// The client's TLS certificate does not allow the operation (an admin
	// call by an identity the server's TLSAdminIdentities do not name);
	// nothing was done.
	ErrPermissionDenied = errors.New("dengine: permission denied")
)

var sentinels = map[Code]error{
	CodeInvalidArgument:  ErrInvalidArgument,
	CodeNotLeader:        ErrNotLeader,
	CodeTimeout:          ErrTimeout,
	CodeShuttingDown:     ErrShuttingDown,
	CodeCorruption:       ErrCorruption,
	CodeIO:               ErrIO,
	CodeNotFound:         ErrNotFound,
	CodeUnsupported:      ErrUnsupported,
	CodeBusy:             ErrBusy,
	CodeStateMachine:     ErrStateMachine,
	CodeInternal:         ErrInternal,
	CodeSessionExpired:   ErrSessionExpired,
	CodeCompacted:        ErrCompacted,
	CodeWatchOverflow:    ErrWatchOverflow,
	CodeCancelled:        ErrCancelled,
	CodePermissionDenied: ErrPermissionDenied,
}

// Error is a failed dengine call: its code, the operation, and dengine's
// message. It unwraps to the code's sentinel, and a timeout also matches
// context.DeadlineExceeded.
type Error struct {
	Code    Code
	Op      string // e.g. "propose"
	Message string // dengine's explanation; may be empty
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("dengine: %s: %s", e.Op, e.Code)
	}
	return fmt.Sprintf("dengine: %s: %s: %s", e.Op, e.Code, e.Message)
}

// Unwrap returns the sentinel of e.Code (nil for an unknown code).
func (e *Error) Unwrap() error { return sentinels[e.Code] }

// Is reports a timeout as context.DeadlineExceeded too, so a deadline
// reached inside dengine and one reached in Go read the same.
func (e *Error) Is(target error) bool {
	return e.Code == CodeTimeout && target == context.DeadlineExceeded
}

// NotLeaderError is an ErrNotLeader with the leader this node knows of.
type NotLeaderError struct {
	LeaderID      uint64 // 0: no leader known
	LeaderAddress string // "host:port"; "" when unknown
	Err           *Error
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == 0 {
		return e.Err.Error() + " (no leader known)"
	}
	return fmt.Sprintf("%s (leader: node %d at %s)", e.Err.Error(), e.LeaderID,
		e.LeaderAddress)
}

// Unwrap returns the underlying *Error (which unwraps to ErrNotLeader).
func (e *NotLeaderError) Unwrap() error { return e.Err }

// newError builds the error of a failed call; nil for DENGINE_OK.
func newError(op string, code C.int, message string) error {
	if code == C.DENGINE_OK {
		return nil
	}
	return &Error{Code: Code(code), Op: op, Message: message}
}

// codeOf turns an error a state machine returned into the status its C
// callback returns: the code of a dengine *Error, else a state machine error.
func codeOf(err error) C.int {
	if err == nil {
		return C.DENGINE_OK
	}
	var e *Error
	if errors.As(err, &e) && e.Code < 0 {
		return C.int(e.Code)
	}
	for code, sentinel := range sentinels {
		if errors.Is(err, sentinel) {
			return C.int(code)
		}
	}
	return C.DENGINE_ERR_STATE_MACHINE
}
