// Package suite connects package testkit to the conformance suite runner,
// which package dengine implements with cgo, without adding it to
// dengine's API.
package suite

// Builder is testkit.Builder with the machine typed as any (a
// dengine.StateMachine): this package cannot import dengine, which imports
// it.
type Builder struct {
	Open       func(dir string) (any, error)
	Close      func(machine any)
	Command    func(n uint64) []byte
	StateQuery []byte
}

// Run runs the conformance suite (or, with performance, the performance
// run) in dir and returns its report. Package dengine sets it at init.
var Run func(b Builder, dir string, performance bool) (report string, err error)
