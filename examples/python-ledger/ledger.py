"""A replicated bank ledger: a Python state machine on a 3-node dengine
cluster, one node per process. See README.md.

    python ledger.py node 1            # run node 1 (likewise 2 and 3)
    python ledger.py deposit alice 100
    python ledger.py transfer alice bob 30
    python ledger.py balance alice
    python ledger.py accounts
    python ledger.py demo              # all of it, with a leader crash
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dengine

HERE = Path(__file__).resolve().parent
PEERS = {1: "127.0.0.1:7101", 2: "127.0.0.1:7102", 3: "127.0.0.1:7103"}
CLIENTS = {1: "127.0.0.1:8101", 2: "127.0.0.1:8102", 3: "127.0.0.1:8103"}

# Result statuses of a command, as the proposer sees them.
OK, INSUFFICIENT_FUNDS, BAD_COMMAND = 0, 1, 2


class Ledger(dengine.StateMachine):
    """Accounts and balances in SQLite.

    Commands are JSON: {"op": "deposit" | "withdraw", "account", "amount"}
    and {"op": "transfer", "from", "to", "amount"}; the result is the new
    balances as JSON. Every chunk of entries is one SQLite transaction that
    also records last_applied, so a crash never loses or repeats an entry.
    Reads are JSON too: {"op": "balance", "account"} or {"op": "accounts"}.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: apply runs on the apply thread, read on
        # others; the lock keeps them one at a time on this connection.
        self.db = sqlite3.connect(directory / "ledger.db", check_same_thread=False)
        self.lock = threading.Lock()
        with self.db:
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS accounts"
                " (name TEXT PRIMARY KEY, balance INTEGER NOT NULL)"
            )
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (last_applied INTEGER)")
            if self.db.execute("SELECT count(*) FROM meta").fetchone()[0] == 0:
                self.db.execute("INSERT INTO meta VALUES (0)")

    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        results: list[dengine.ApplyResult] = []
        with self.lock, self.db:  # one transaction: all entries or none
            applied = self._last_applied()
            for entry in entries:
                if entry.index <= applied:  # re-delivered after a crash
                    results.append(None)
                    continue
                if entry.kind == dengine.EntryKind.NORMAL:
                    results.append(self._execute(entry.data))
                else:
                    results.append(None)  # a no-op or membership entry
            self.db.execute("UPDATE meta SET last_applied = ?", (entries[-1].index,))
        return results

    def _execute(self, data: bytes) -> tuple[int, bytes]:
        try:
            command = json.loads(data)
            op, amount = command["op"], int(command["amount"])
            if amount <= 0:
                raise ValueError("amount must be positive")
        except (ValueError, KeyError, TypeError) as e:
            return BAD_COMMAND, f"bad command: {e}".encode()
        changes = {
            "deposit": [(command.get("account"), amount)],
            "withdraw": [(command.get("account"), -amount)],
            "transfer": [(command.get("from"), -amount), (command.get("to"), amount)],
        }.get(op)
        if changes is None or any(not isinstance(a, str) for a, _ in changes):
            return BAD_COMMAND, b"bad command: unknown op or account"
        balances = {a: self._balance(a) + delta for a, delta in changes}
        if any(b < 0 for b in balances.values()):
            return INSUFFICIENT_FUNDS, b"insufficient funds"
        self.db.executemany(
            "INSERT INTO accounts VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET balance = excluded.balance",
            balances.items(),
        )
        return OK, json.dumps(balances).encode()

    def _balance(self, account: str) -> int:
        row = self.db.execute(
            "SELECT balance FROM accounts WHERE name = ?", (account,)
        ).fetchone()
        return row[0] if row else 0

    def _last_applied(self) -> int:
        return self.db.execute("SELECT last_applied FROM meta").fetchone()[0]

    def read(self, query: bytes) -> bytes:
        request = json.loads(query)
        with self.lock:
            if request["op"] == "balance":
                return json.dumps(self._balance(request["account"])).encode()
            rows = self.db.execute("SELECT name, balance FROM accounts ORDER BY name")
            return json.dumps(dict(rows.fetchall())).encode()

    def last_applied(self) -> int:
        with self.lock:
            return self._last_applied()

    def snapshot(self, dir: str, last_index: int) -> None:
        # A consistent copy of the database (no apply runs meanwhile).
        with self.lock:
            copy = sqlite3.connect(os.path.join(dir, "ledger.db"))
            self.db.backup(copy)
            copy.close()

    def restore(self, dir: str, meta: dengine.SnapshotMeta) -> None:
        # SQLite's backup replaces the whole database in one transaction:
        # a crash leaves the old ledger or the new one.
        source = sqlite3.connect(os.path.join(dir, "ledger.db"))
        with self.lock:
            source.backup(self.db)
        source.close()

    def stop(self) -> None:
        with self.lock:
            self.db.close()


def run_node(node_id: int, data: Path) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with dengine.Node(
        Ledger(data / f"ledger{node_id}"),
        id=node_id,
        data_dir=data / f"node{node_id}",
        peer_address=PEERS[node_id],
        client_address=CLIENTS[node_id],
        peers=[
            {"id": i, "address": PEERS[i], "client_address": CLIENTS[i]}
            for i in PEERS
            if i != node_id
        ],
        initial_voters=list(PEERS),  # used only on the very first start
        snapshot_entries=1000,
    ):
        print(f"node {node_id} running; Ctrl-C stops it", flush=True)
        stop.wait()


def client() -> dengine.Client:
    return dengine.Client(list(CLIENTS.values()), timeout=10)


def propose(command: dict) -> str:
    with client() as c:
        result = c.propose(json.dumps(command))
    return (
        result.data.decode()
        if result.status == OK
        else f"refused: {result.data.decode()}"
    )


def query(request: dict) -> str:
    with client() as c:
        return c.read(json.dumps(request), consistency="linearizable").decode()


def demo(data: Path) -> None:
    """Starts three node processes, moves money, kills the leader with
    SIGKILL, moves more money, restarts it and shows every balance."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    nodes = {}

    def start(i: int) -> None:
        nodes[i] = subprocess.Popen(
            [sys.executable, __file__, "--data", str(data), "node", str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        nodes[i].stdout.readline()  # "node i running"

    def retry(fn: Callable[[dict], str], command: dict) -> str:
        for _ in range(50):
            try:
                return fn(command)
            except (dengine.NotLeaderError, dengine.TimeoutError, dengine.IOError):
                time.sleep(0.2)  # an election is under way
        return fn(command)

    for i in PEERS:
        start(i)
    try:
        print(
            "deposit alice 100:",
            retry(propose, {"op": "deposit", "account": "alice", "amount": 100}),
        )
        print(
            "transfer alice bob 30:",
            propose({"op": "transfer", "from": "alice", "to": "bob", "amount": 30}),
        )
        print(
            "transfer bob carol 50:",
            propose({"op": "transfer", "from": "bob", "to": "carol", "amount": 50}),
        )
        with client() as c:
            leader = c.status().leader_id
        print(f"killing the leader, node {leader} (SIGKILL)")
        nodes[leader].kill()
        nodes[leader].wait()
        print(
            "transfer bob carol 10:",
            retry(
                propose, {"op": "transfer", "from": "bob", "to": "carol", "amount": 10}
            ),
        )
        print(f"restarting node {leader}")
        start(leader)
        print("accounts:", query({"op": "accounts"}))
    finally:
        for process in nodes.values():
            process.terminate()
        for process in nodes.values():
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        help="where nodes keep their state (default: ./data beside this file;"
        " for demo, a new temporary directory)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("node").add_argument("id", type=int, choices=list(PEERS))
    for op in ("deposit", "withdraw"):
        p = sub.add_parser(op)
        p.add_argument("account")
        p.add_argument("amount", type=int)
    p = sub.add_parser("transfer")
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("amount", type=int)
    sub.add_parser("balance").add_argument("account")
    sub.add_parser("accounts")
    sub.add_parser("demo")
    args = parser.parse_args()
    if args.data is None and args.command != "demo":
        args.data = HERE / "data"

    if args.command == "node":
        run_node(args.id, args.data)
    elif args.command in ("deposit", "withdraw"):
        print(
            propose(
                {"op": args.command, "account": args.account, "amount": args.amount}
            )
        )
    elif args.command == "transfer":
        print(
            propose(
                {
                    "op": "transfer",
                    "from": args.source,
                    "to": args.target,
                    "amount": args.amount,
                }
            )
        )
    elif args.command == "balance":
        print(query({"op": "balance", "account": args.account}))
    elif args.command == "accounts":
        print(query({"op": "accounts"}))
    else:
        demo(args.data or Path(tempfile.mkdtemp(prefix="ledger-")))


if __name__ == "__main__":
    main()
