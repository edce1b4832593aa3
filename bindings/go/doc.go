// Package dengine embeds a dengine Raft node in a Go program and plugs a Go
// state machine into it.
//
// dengine replicates commands (opaque bytes) with Raft, keeps its log
// durable and applies committed commands, in log order, to a [StateMachine].
// [StartNode] runs one cluster member in this process; [Node.Propose] and
// [Node.Read] go through the machine, and the KV helpers ([Node.Put],
// [Node.Get], ...) through the built-in key-value machine when
// [Config.StateMachine] is nil. [OpenClient] talks to a standalone cluster
// (dengined) over TCP.
//
// The package wraps libdengine's C API (include/dengine.h) with cgo and
// finds it with pkg-config: build with PKG_CONFIG_PATH pointing at the
// directory holding dengine.pc, and run with libdengine.so on the loader's
// path. docs/state-machine-guide.md ("Go") explains the state machine
// contract.
//
// Calls that take a [context.Context] pass its deadline to dengine and
// return ctx.Err() as soon as it is cancelled; a write whose context ends
// first may still be applied. Errors match the sentinels with errors.Is
// ([ErrNotLeader], [ErrTimeout], ...) and carry details for errors.As
// ([*Error], [*NotLeaderError]). dengine's log lines go to log/slog (see
// [SetLogger]).
package dengine
