"""Waits until every URL answers HTTP 200 (a node that knows its leader),
while every process given with --pid is still alive.

Usage: python3 wait_ready.py --timeout S [--pid PID ...] URL ...
Exit status 0 when all are ready, 1 on time-out (the URLs not ready and
their last answers on stderr), 2 when a process exited first.
"""
import argparse
import os
import sys
import time
import urllib.error
import urllib.request


def answer(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            body = response.read(200).decode(errors="replace").strip()
            return response.status == 200, f"{response.status} {body}"
    except urllib.error.HTTPError as e:
        return False, f"{e.code} {e.read(200).decode(errors='replace').strip()}"
    except OSError as e:
        return False, str(e)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited but not been reaped yet by the shell.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--pid", type=int, action="append", default=[])
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    last = {}
    while True:
        for pid in args.pid:
            if not alive(pid):
                print(f"process {pid} exited", file=sys.stderr)
                return 2
        waiting = []
        for url in args.urls:
            ok, last[url] = answer(url)
            if not ok:
                waiting.append(url)
        if not waiting:
            return 0
        if time.monotonic() >= deadline:
            for url in waiting:
                print(f"not ready after {args.timeout:g} s: {url}: {last[url]}",
                      file=sys.stderr)
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
