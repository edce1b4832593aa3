"""The disk's raw sync cost today: 200 times a 300-byte pwrite and an
fdatasync, into a preallocated file (so no sync has to persist a size
change, as in dengine-bench-storage's BM_RawFdatasync). Prints one JSON
object, latencies in microseconds.

Usage: python3 fdatasync.py DIR
"""
import json
import os
import statistics
import sys
import time

ROUNDS = 200
RECORD = b"x" * 300


def main() -> None:
    path = os.path.join(sys.argv[1], "fdatasync-probe")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.posix_fallocate(fd, 0, ROUNDS * len(RECORD))
        os.fsync(fd)
        samples = []
        for i in range(ROUNDS):
            begin = time.perf_counter_ns()
            os.pwrite(fd, RECORD, i * len(RECORD))
            os.fdatasync(fd)
            samples.append((time.perf_counter_ns() - begin) / 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()
    print(json.dumps({
        "rounds": ROUNDS,
        "bytes": len(RECORD),
        "p50_us": statistics.median(samples),
        "p99_us": samples[int(0.99 * ROUNDS) - 1],
    }))


if __name__ == "__main__":
    main()
