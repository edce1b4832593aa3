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
// first may still be applied. (A [Client]'s Status, membership and Snapshot
// calls are bounded by the client's timeout instead.) Errors match the
// sentinels with errors.Is ([ErrNotLeader], [ErrTimeout], ...) and carry
// details for errors.As ([*Error], [*NotLeaderError]); [Error.Message] is
// dengine's own, as "function: why" or a plain reason. dengine's log lines
// go to log/slog (see [SetLogger]).
//
// The binding is a thin layer over the C API: a node's requests are its
// async calls (dengine_node_propose_opts_async, ...), completed through a
// callback, so a cancelled context leaves no goroutine waiting in C; a
// client's are dengine_client_propose_opts and _read_opts, bounded by the
// context's deadline. Both take their errors from the reply. The KV helpers
// encode their command or query with the built-in machine's codec
// (dengine_kv_encode_*), propose or read it, and decode the reply, the same
// on a [Node] and through a [Client].
package dengine
