// Package dengine embeds a dengine Raft node in a Go program and plugs a Go
// state machine into it.
//
// dengine replicates commands (opaque bytes) with Raft, keeps its log
// durable and applies committed commands, in log order, to a [StateMachine].
// [StartNode] runs one cluster member in this process; [Node.Propose] and
// [Node.Read] go through the machine, and the KV helpers ([Node.Put],
// [Node.Get], ...) through the built-in key-value machine when
// [Config.StateMachine] is nil. [OpenClient] talks to a standalone cluster
// (dengined) over TCP, [OpenTLSClient] over TLS, and [Client.Watch] watches
// it.
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
// calls also return once ctx ends, but inside dengine they are bounded by
// the client's timeout, not by ctx's deadline.) Errors match the
// sentinels with errors.Is ([ErrNotLeader], [ErrTimeout], ...) and carry
// details for errors.As ([*Error], [*NotLeaderError]); [Error.Message] is
// dengine's own, as "function: why" or a plain reason. dengine's log lines
// go to log/slog (see [SetLogger]).
//
// The binding is a thin layer over the C API: a node's requests are its
// async calls (dengine_node_propose_opts_async, ...), completed through a
// callback, so a cancelled context leaves no goroutine waiting in C; a
// client's are dengine_client_propose_opts and _read_opts, bounded by the
// context's deadline, and its Status, membership and Snapshot calls are the
// client's async calls (dengine_client_status_async, ...), completed the
// same way. All take their errors from the reply. The calls with no reply
// form (config setters, starting and stopping a node, the KV codec) go
// through small C wrappers that copy dengine_last_error() before they
// return, within the same cgo call, so no goroutine is locked to its OS
// thread. The KV helpers encode their command or query with the built-in
// machine's codec (dengine_kv_encode_*), propose or read it, and decode the
// reply, the same on a [Node] and through a [Client].
//
// # Watches
//
// [Node.Watch] delivers the changes a node applies as [Event] values on a
// channel, in revision order with no gap and no duplicate: the built-in KV
// machine's puts, deletes and expiries ([WatchKV], by key or prefix), what
// an application machine publishes through [Result.Events] ([WatchTopic]),
// and membership changes and new leaders ([WatchCluster]). An event's
// revision is the log index of the entry that made it, the same on every
// node. A watch starts now or at a past revision the node still keeps
// ([Node.WatchRange]; older is [ErrCompacted]); [Node.GetWithRevision]
// tells where to start so that nothing after a read is missed:
//
//	_, rev, err := node.GetWithRevision(ctx, []byte("jobs/1"), dengine.ReadDefault)
//	if err != nil && !errors.Is(err, dengine.ErrNotFound) {
//		return err
//	}
//	w, err := node.Watch(ctx, dengine.WatchOptions{
//		Stream: dengine.WatchKV, Key: []byte("jobs/"), Prefix: true, StartRevision: rev + 1})
//	if err != nil {
//		return err
//	}
//	defer w.Close()
//	for e := range w.Events() {
//		fmt.Println(e.Revision, e.Type, string(e.Key), string(e.Value))
//	}
//	if errors.Is(w.Err(), dengine.ErrWatchOverflow) {
//		// Resume: a watch from w.NextRevision() misses nothing.
//	}
//
// dengine runs the callbacks of all of a node's watches on one thread that
// must never wait, so the binding copies each event into the Watcher's
// buffered channel without blocking: a consumer that lets the channel fill
// up ends its watch with [ErrWatchOverflow] rather than stall the others,
// and [Watcher.NextRevision] says where to resume. Cancelling the watch's
// context or [Watcher.Close] ends it; closing the node ends every watch
// with [ErrShuttingDown].
//
// [Client.Watch] is the same watch through the client protocol, served by
// any node of a standalone cluster, with the same [WatchOptions] and
// [Watcher]. It outlives its server: when its connection is lost or the
// node stops, it reconnects to the next endpoint and resumes from the last
// revision it received, so the channel still has every event once, in
// order. Each client watch has a thread of its own in dengine, so it waits
// for room in a full channel instead of ending (the server ends it with
// [ErrWatchOverflow] if it falls too far behind). Its start blocks until a
// server answers, but returns ctx.Err() as soon as ctx ends; closing the
// client ends its watches with [ErrShuttingDown].
//
// # TLS
//
// [Config.TLSCertFile], [Config.TLSKeyFile] and [Config.TLSCAFile] turn on
// mutual TLS between nodes and TLS for the node's clients
// (docs/operations.md, "TLS"); [Config.TLSRequireClientCert] makes clients
// present a certificate, and then only [Config.TLSAdminIdentities] may run
// membership changes, leadership transfers and snapshots (others get
// [ErrPermissionDenied]). [Node.ReloadTLS] rotates the certificates.
// A client names its CA, and its own certificate if it has one, in a
// [ClientTLS]:
//
//	client, err := dengine.OpenTLSClient(endpoints, 10*time.Second, &dengine.ClientTLS{
//		CAFile: "ca.crt", CertFile: "ops.crt", KeyFile: "ops.key"})
package dengine
