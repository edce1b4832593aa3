// Package closedloop runs dengine-bench's workloads against another system:
// a number of clients, each with exactly one request outstanding, sending
// the next as soon as the last returns, for a fixed time. Keys, values,
// the preload and the result's JSON are those of tools/bench/dengine-bench,
// so the three systems of tools/bench/compare are loaded alike and their
// results read alike.
package closedloop

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// valuePool is how many distinct values the puts draw from, as in
// dengine-bench: enough that no store gains from repeats within a batch,
// few enough to stay in the cache.
const valuePool = 64

// preloadClients is how many clients put every key once before a read
// workload, as in dengine-bench.
const preloadClients = 32

// KeyValues makes the keys and values of a workload: keys are zero-padded
// decimal numbers below Keys, values random bytes.
type KeyValues struct {
	KeySize   int
	ValueSize int
	Keys      int
	values    [][]byte
}

// NewKeyValues checks the sizes and draws the values, the same for every run.
func NewKeyValues(keySize, valueSize, keys int) (*KeyValues, error) {
	if keys < 1 || valueSize < 1 {
		return nil, fmt.Errorf("need at least one key and one value byte")
	}
	if digits := len(strconv.Itoa(keys - 1)); digits > keySize {
		return nil, fmt.Errorf("key size %d is too small for %d keys (needs %d bytes)",
			keySize, keys, digits)
	}
	rng := rand.New(rand.NewPCG(42, 42))
	values := make([][]byte, valuePool)
	for i := range values {
		values[i] = make([]byte, valueSize)
		for j := range values[i] {
			values[i][j] = byte(rng.UintN(256))
		}
	}
	return &KeyValues{KeySize: keySize, ValueSize: valueSize, Keys: keys, values: values}, nil
}

// Key is the i-th key.
func (kv *KeyValues) Key(i int) string {
	digits := strconv.Itoa(i)
	return strings.Repeat("0", kv.KeySize-len(digits)) + digits
}

// RandomKey is a key drawn uniformly.
func (kv *KeyValues) RandomKey(rng *rand.Rand) string {
	return kv.Key(rng.IntN(kv.Keys))
}

// RandomValue is one of the pool's values; callers must not change it.
func (kv *KeyValues) RandomValue(rng *rand.Rand) []byte {
	return kv.values[rng.IntN(len(kv.values))]
}

// Preload puts every key once, from preloadClients clients; put is called
// with a client number and a key number and must be safe to call from
// several goroutines at once (one per client).
func Preload(kv *KeyValues, put func(client, key int, value []byte) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, preloadClients)
	for c := range preloadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for {
				i := int(next.Add(1) - 1)
				if i >= kv.Keys {
					return
				}
				if err := put(c, i, kv.RandomValue(rng)); err != nil {
					errs[c] = fmt.Errorf("preload of key %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Latency is in microseconds, like dengine-bench's "latency_us".
type Latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Result has the fields of dengine-bench --json that tools/bench/compare
// reads, and the system's name.
type Result struct {
	System     string  `json:"system"`
	Workload   string  `json:"workload"`
	Clients    int     `json:"clients"`
	KeySize    int     `json:"key_size"`
	ValueSize  int     `json:"value_size"`
	Keys       int     `json:"keys"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput_ops_per_s"`
	LatencyUs  Latency `json:"latency_us"`
}

// Describe names what the result measured.
func (r *Result) Describe(system, workload string, kv *KeyValues) {
	r.System, r.Workload = system, workload
	r.KeySize, r.ValueSize, r.Keys = kv.KeySize, kv.ValueSize, kv.Keys
}

// client is one client's share of a run. Latencies of successful ops are
// kept whole and sorted at the end: at most a few million per run.
type client struct {
	samples    []time.Duration
	errors     int
	firstError error
}

// Run keeps clients ops outstanding until duration has passed: client c
// calls op(c, rng) again as soon as the last call returned. A failed op
// counts as an error and the client goes on with the next. Seconds run
// from the start to the return of the last op.
func Run(clients int, duration time.Duration, op func(c int, rng *rand.Rand) error) Result {
	states := make([]client, clients)
	var wg sync.WaitGroup
	var finishedMu sync.Mutex
	started := time.Now()
	deadline := started.Add(duration)
	finished := started
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &states[c]
			st.samples = make([]time.Duration, 0, 1<<14)
			rng := rand.New(rand.NewPCG(0x9e3779b97f4a7c15*uint64(c+1), 1))
			for {
				begin := time.Now()
				if !begin.Before(deadline) {
					break
				}
				if err := op(c, rng); err != nil {
					if st.errors++; st.firstError == nil {
						st.firstError = err
					}
					continue
				}
				st.samples = append(st.samples, time.Since(begin))
			}
			finishedMu.Lock()
			if now := time.Now(); now.After(finished) {
				finished = now
			}
			finishedMu.Unlock()
		}()
	}
	wg.Wait()

	r := Result{Clients: clients, Seconds: finished.Sub(started).Seconds()}
	var all []time.Duration
	for i := range states {
		all = append(all, states[i].samples...)
		r.Errors += states[i].errors
		if r.FirstError == "" && states[i].firstError != nil {
			r.FirstError = states[i].firstError.Error()
		}
	}
	r.OK = len(all)
	if r.Seconds > 0 {
		r.Throughput = float64(r.OK) / r.Seconds
	}
	r.LatencyUs = latencyOf(all)
	return r
}

// latencyOf takes nearest-rank percentiles of the samples.
func latencyOf(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	rank := func(q float64) float64 {
		i := int(q*float64(len(samples))+0.999999) - 1
		i = max(0, min(i, len(samples)-1))
		return micros(samples[i])
	}
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Latency{
		P50:  rank(0.50),
		P99:  rank(0.99),
		P999: rank(0.999),
		Max:  micros(samples[len(samples)-1]),
		Mean: micros(sum) / float64(len(samples)),
	}
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// Print writes the results as one JSON array on standard output.
func Print(results []Result) error {
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	return out.Encode(results)
}

// Workload is one entry of a driver's -workloads flag: "write:1" or
// "read:100".
type Workload struct {
	Name    string // "write" or "read-linearizable", dengine-bench's names
	Clients int
}

// ParseWorkloads reads a comma-separated list of name:clients.
func ParseWorkloads(list string) ([]Workload, error) {
	var out []Workload
	for _, item := range strings.Split(list, ",") {
		name, count, ok := strings.Cut(item, ":")
		clients, err := strconv.Atoi(count)
		if !ok || err != nil || clients < 1 {
			return nil, fmt.Errorf("workload %q: want write:N or read:N", item)
		}
		switch name {
		case "write":
		case "read":
			name = "read-linearizable"
		default:
			return nil, fmt.Errorf("workload %q: want write:N or read:N", item)
		}
		out = append(out, Workload{Name: name, Clients: clients})
	}
	return out, nil
}
