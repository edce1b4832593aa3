package dengine

import (
	"context"
	"time"
)

// The KV operations of the built-in KV machine, written once for Node and
// Client: encode (kvcodec.go), propose or read, decode. A node runs them
// only with the built-in machine (Config.StateMachine nil; ErrUnsupported
// otherwise). Writes go to the leader (elsewhere: a *NotLeaderError); keys
// are non-empty. They honour ctx like Propose: its deadline bounds the call
// inside dengine, and when ctx ends first the error is ctx.Err() and a
// write may still be applied.

// kvStore is where KV operations run: a node's built-in machine (kvNode)
// or a client's cluster.
type kvStore interface {
	propose(ctx context.Context, op string, command []byte) (reply, error)
	read(ctx context.Context, op string, query []byte, c Consistency) (reply, error)
}

// Put sets key to value.
func (n *Node) Put(ctx context.Context, key, value []byte) error {
	return kvPut(ctx, kvNode{n}, "Put", key, value, 0)
}

// PutTTL sets key to value until ttl (> 0, whole milliseconds) after the
// leader's clock at proposal. Expiry is decided by the replicated log, so
// every replica expires the key at the same point.
func (n *Node) PutTTL(ctx context.Context, key, value []byte, ttl time.Duration) error {
	return kvPutTTL(ctx, kvNode{n}, key, value, ttl)
}

// Delete removes key and reports whether it existed.
func (n *Node) Delete(ctx context.Context, key []byte) (existed bool, err error) {
	return kvDelete(ctx, kvNode{n}, key)
}

// CompareAndSwap sets key to value if it holds expected (expected nil: if
// it is absent) and reports whether it did.
func (n *Node) CompareAndSwap(ctx context.Context, key, expected, value []byte) (swapped bool, err error) {
	return kvCompareAndSwap(ctx, kvNode{n}, key, expected, value)
}

// Get returns key's value, or ErrNotFound.
func (n *Node) Get(ctx context.Context, key []byte, c Consistency) ([]byte, error) {
	value, _, err := kvGet(ctx, kvNode{n}, "Get", key, c)
	return value, err
}

// GetWithRevision is Get and the revision its answer reflects: the last
// entry applied in the view it read, so a watch with StartRevision
// revision+1 sees every change after the value returned. With ErrNotFound
// the revision is set too (the key was absent there); with other errors it
// is 0.
func (n *Node) GetWithRevision(ctx context.Context, key []byte, c Consistency) (value []byte, revision uint64, err error) {
	return kvGet(ctx, kvNode{n}, "GetWithRevision", key, c)
}

// GetMulti reads several keys from one consistent view, in order; an
// absent key's Item has Found false.
func (n *Node) GetMulti(ctx context.Context, keys [][]byte, c Consistency) ([]Item, error) {
	return kvGetMulti(ctx, kvNode{n}, keys, c)
}

// ScanPrefix returns up to limit (>= 1) keys starting with prefix, in byte
// order, and whether more matched.
func (n *Node) ScanPrefix(ctx context.Context, prefix []byte, limit int, c Consistency) ([]Item, bool, error) {
	return kvScanPrefix(ctx, kvNode{n}, prefix, limit, c)
}

// kvNode runs KV operations on a node; dengine refuses them
// (ErrUnsupported) on a node running an application machine, which would
// otherwise apply the encoded commands as its own.
type kvNode struct{ n *Node }

func (k kvNode) propose(ctx context.Context, op string, command []byte) (reply, error) {
	return k.n.propose(ctx, op, command, true)
}

func (k kvNode) read(ctx context.Context, op string, query []byte, c Consistency) (reply, error) {
	return k.n.read(ctx, op, query, c, true)
}

// kvClient runs KV operations through a client, the same way.
type kvClient struct{ c *Client }

func (k kvClient) propose(ctx context.Context, op string, command []byte) (reply, error) {
	return k.c.propose(ctx, op, command, true)
}

func (k kvClient) read(ctx context.Context, op string, query []byte, c Consistency) (reply, error) {
	return k.c.read(ctx, op, query, c, true)
}

func kvPut(ctx context.Context, s kvStore, op string, key, value []byte, ttlMillis uint64) error {
	command, err := encodePut(op, key, value, ttlMillis)
	if err != nil {
		return err
	}
	_, _, err = kvWrite(ctx, s, op, command)
	return err
}

func kvPutTTL(ctx context.Context, s kvStore, key, value []byte, ttl time.Duration) error {
	// The codec reads a TTL of 0 as "none": PutTTL asks for one.
	if ttl <= 0 {
		return &Error{Code: CodeInvalidArgument, Op: "PutTTL", Message: "the ttl must be positive"}
	}
	return kvPut(ctx, s, "PutTTL", key, value, uint64((ttl+time.Millisecond-1)/time.Millisecond))
}

func kvDelete(ctx context.Context, s kvStore, key []byte) (bool, error) {
	command, err := encodeDelete("Delete", key)
	if err != nil {
		return false, err
	}
	_, existed, err := kvWrite(ctx, s, "Delete", command)
	return existed, err
}

func kvCompareAndSwap(ctx context.Context, s kvStore, key, expected, value []byte) (bool, error) {
	command, err := encodeCAS("CompareAndSwap", key, expected, value)
	if err != nil {
		return false, err
	}
	swapped, _, err := kvWrite(ctx, s, "CompareAndSwap", command)
	return swapped, err
}

// kvGet reads key: its value and the revision of the read (0 through a
// client, which does not report it).
func kvGet(ctx context.Context, s kvStore, op string, key []byte, c Consistency) ([]byte, uint64, error) {
	query, err := encodeGet(op, key)
	if err != nil {
		return nil, 0, err
	}
	items, _, revision, err := kvRead(ctx, s, op, query, c)
	if err != nil {
		return nil, 0, err
	}
	if len(items) != 1 || !items[0].Found {
		return nil, revision, &Error{Code: CodeNotFound, Op: op, Message: "no such key"}
	}
	return items[0].Value, revision, nil
}

func kvGetMulti(ctx context.Context, s kvStore, keys [][]byte, c Consistency) ([]Item, error) {
	query, err := encodeGetMulti("GetMulti", keys)
	if err != nil {
		return nil, err
	}
	items, _, _, err := kvRead(ctx, s, "GetMulti", query, c)
	return items, err
}

func kvScanPrefix(ctx context.Context, s kvStore, prefix []byte, limit int, c Consistency) ([]Item, bool, error) {
	query, err := encodeScanPrefix("ScanPrefix", prefix, limit)
	if err != nil {
		return nil, false, err
	}
	items, more, _, err := kvRead(ctx, s, "ScanPrefix", query, c)
	return items, more, err
}

// kvWrite proposes an encoded command and decodes what it did.
func kvWrite(ctx context.Context, s kvStore, op string, command []byte) (applied, existed bool, err error) {
	r, err := s.propose(ctx, op, command)
	if err != nil {
		return false, false, err
	}
	return decodeWrite(op, r.data)
}

// kvRead reads an encoded query and decodes its answer: the items, for a
// scan whether more keys matched, and the revision the answer reflects (a
// node's reply index; 0 through a client).
func kvRead(ctx context.Context, s kvStore, op string, query []byte, c Consistency) (items []Item, more bool, revision uint64, err error) {
	r, err := s.read(ctx, op, query, c)
	if err != nil {
		return nil, false, 0, err
	}
	items, more, err = decodeRead(op, query, r.data)
	if err != nil {
		return nil, false, 0, err
	}
	return items, more, r.index, nil
}
