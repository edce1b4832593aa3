package dengine

// LiveHandles is the number of cgo handles C may still call back with.
func LiveHandles() int64 { return liveHandles.Load() }
