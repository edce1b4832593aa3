"""Prints run.sh's table (markdown) and writes everything as one JSON file.

Usage: python3 table.py --out FILE --fdatasync WHEN=FILE ... --seconds S
           [--note TEXT ...] [--name KEY=NAME ...] --result KEY=FILE ...

Each --result file holds what dengine-bench --json prints (one object) or
what etcd-bench and hraft-bench print (an array of such objects); KEY says
whose it is, and --name how the table calls it. The first KEY given is the
one the ratios are to. A KEY with a name but no readable result shows as
"did not run".
"""
import argparse
import datetime
import json
import sys

WORKLOADS = [("write", 1), ("write", 100), ("read-linearizable", 100)]


def load(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else [data]


def duration(us):
    if us is None:
        return "-"
    return f"{us:,.0f} µs" if us < 1000 else f"{us / 1000:,.1f} ms"


def ratio(value, base):
    if value is None or not base:
        return "-"
    r = value / base
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def label(workload, clients):
    what = "write" if workload == "write" else "linearizable read"
    return f"{what}, {clients} client{'s' if clients > 1 else ''}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--fdatasync", action="append", default=[])
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--note", action="append", default=[])
    parser.add_argument("--name", action="append", default=[])
    parser.add_argument("--result", action="append", default=[])
    args = parser.parse_args()

    names, runs = {}, {}
    for item in args.name:
        key, name = item.split("=", 1)
        names[key] = name
    for item in args.result:
        key, path = item.split("=", 1)
        names.setdefault(key, key)
        for r in load(path):
            runs[(key, r["workload"], r["clients"])] = r
    systems = list(names)
    base_key = systems[0]
    syncs = {}
    for item in args.fdatasync:
        when, path = item.split("=", 1)
        syncs[when] = (load(path) or [{}])[0]

    rows = []
    for workload, clients in WORKLOADS:
        base = runs.get((base_key, workload, clients))
        for key in systems:
            r = runs.get((key, workload, clients))
            row = {"system": key, "name": names[key], "workload": workload,
                   "clients": clients, "ran": r is not None}
            if r is not None:
                lat = r["latency_us"]
                row.update(ops_per_s=r["throughput_ops_per_s"],
                           p50_us=lat["p50"], p99_us=lat["p99"],
                           p999_us=lat["p999"], max_us=lat["max"],
                           ok=r["ok"], errors=r["errors"],
                           first_error=r.get("first_error", ""),
                           seconds=r["seconds"])
                if base is not None:
                    b = base["latency_us"]
                    row.update(
                        ops_ratio=r["throughput_ops_per_s"]
                        / max(base["throughput_ops_per_s"], 1e-9),
                        p50_ratio=lat["p50"] / max(b["p50"], 1e-9),
                        p99_ratio=lat["p99"] / max(b["p99"], 1e-9))
            rows.append(row)

    measured = {when: s for when, s in syncs.items() if s}
    if measured:
        s = next(iter(measured.values()))
        print(f"fdatasync today ({s['rounds']} × {s['bytes']}-byte pwrite + "
              f"fdatasync in the run's temporary directory): " + "; ".join(
                  f"{when} p50 {duration(s['p50_us'])}, p99 {duration(s['p99_us'])}"
                  for when, s in measured.items()))
    for note in args.note:
        print(note)
    print()
    print(f"| workload | system | ops/s | p50 | p99 | ops/s ÷ {base_key} | "
          f"p50 ÷ {base_key} | p99 ÷ {base_key} | failed |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        first = row["system"] == base_key
        what = label(row["workload"], row["clients"]) if first else ""
        if not row["ran"]:
            print(f"| {what} | {row['name']} | did not run | | | | | | |")
            continue
        base = runs.get((base_key, row["workload"], row["clients"]))
        b = base["latency_us"] if base else {}
        print(f"| {what} | {row['name']} | {row['ops_per_s']:,.0f} | "
              f"{duration(row['p50_us'])} | {duration(row['p99_us'])} | "
              f"{ratio(row['ops_per_s'], base and base['throughput_ops_per_s'])} | "
              f"{ratio(row['p50_us'], b.get('p50'))} | "
              f"{ratio(row['p99_us'], b.get('p99'))} | {row['errors']} |")
    for row in rows:
        if row.get("errors"):
            print(f"\nfirst failure of {row['name']}, "
                  f"{label(row['workload'], row['clients'])}: {row['first_error']}")

    summary = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "seconds_per_workload": args.seconds,
        "fdatasync": syncs,
        "notes": args.note,
        "systems": names,
        "ratios_to": base_key,
        "results": rows,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    return 0 if all(row["ran"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
