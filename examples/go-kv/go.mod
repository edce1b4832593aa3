module dengine.dev/examples/go-kv

go 1.23

require dengine.dev/dengine v0.0.0

// The binding from this repository; outside it, point this at your copy.
replace dengine.dev/dengine => ../../bindings/go
