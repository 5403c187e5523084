#!/usr/bin/env python3
"""Side by side: this crate's saver benchmark and LangGraph's, interleaved.

Usage (normally through `cargo bench --bench saver -- --compare-langgraph`,
which passes --ours and the workload flags):

    compare_langgraph.py --ours PATH/TO/saver-bench [--rounds 3] [--saver sqlite|postgres]
        [--threads T --steps S --state-kb K] [--out DIR] [-- EXTRA OURS FLAGS]

Each round runs LangGraph's `lg_saver_bench.py` (SqliteSaver,
synchronous=FULL, `--durability sync`), LangGraph's `graph_fanout`
(`lg_graph_fanout.py`, beside this file) and the crate's benchmark
(`--sync full --writers 16`), alternating which goes first (ABBA), so
neither always runs on the fresher machine. With `--saver postgres` both
run against the server `$PG_URL` names (the harness's `pg.sh start`,
fsync on): LangGraph's `PostgresSaver` (`--groups saver,raw,graph
--durability sync`, each group in a fresh database) and the crate's
`PostgresSaver` (`--saver postgres --writers 16`, a fresh schema per
group); graph_fanout is not run. Per process it records the
load average before the run and its peak RSS (`ru_maxrss` of `wait4`).
At the end it prints, from the medians of the rounds, the ratio table:
ours / LangGraph for rates (> 1: ours faster), LangGraph / ours for bytes
and RSS (> 1: ours smaller). Every JSON line is kept under --out.

Needs the harness of `../shared/bench/langgraph/` (found from `$LG_BENCH`,
or next to the crate), run by the python of its venv (`$LG_VENV`, made by
its setup.sh). Standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (label, ours scenario, LangGraph scenario, what): the ratio table's rows.
# what: "rate" (ops/s or supersteps/s, higher is better), "us" (median
# latency), "bytes" (db_bytes after the scenario, smaller is better).
ROWS = [
    ("put_chain", "put_chain", "put_chain", "rate"),
    ("put_writes", "put_writes", "put_writes", "rate"),
    ("get_latest", "get_latest", "get_latest", "rate"),
    ("get_by_id", "get_by_id", "get_by_id", "rate"),
    ("list_full", "list_full", "list_full", "rate"),
    ("list_before_limit", "list_before_limit", "list_before_limit", "rate"),
    ("list_filter_thread", "list_filter_thread", "list_filter_thread", "rate"),
    ("list_filter_global", "list_filter_global", "list_filter_global", "rate"),
    ("delete_thread", "delete_thread", "delete_thread", "rate"),
    ("put_concurrent (16 writers) vs LG put_chain", "put_concurrent", "put_chain", "rate"),
    ("raw_commit (fsync ceiling) vs LG put_chain", "raw_commit", "put_chain", "rate"),
    ("graph_loop (supersteps/s)", "graph_loop", "graph_loop", "rate"),
    ("graph_loop_concurrent vs LG graph_loop", "graph_loop_concurrent", "graph_loop", "rate"),
    ("graph_fanout (supersteps/s)", "graph_fanout", "graph_fanout", "rate"),
    ("DB bytes after put_chain", "put_chain", "put_chain", "bytes"),
]

# Issue 11's targets for PostgreSQL (put_concurrent and graph_loop_concurrent
# against LangGraph's single-caller put_chain and graph_loop).
PG_TARGETS = {
    "put_chain": 1.3, "get_latest": 5, "get_by_id": 5, "list_full": 5, "list_before_limit": 5,
    "list_filter_global": 5, "delete_thread": 2,
    "put_concurrent (16 writers) vs LG put_chain": 6, "graph_loop (supersteps/s)": 2.5,
    "graph_loop_concurrent vs LG graph_loop": 8, "peak RSS": 2,
}

TARGETS = {
    "put_chain": 1.4, "put_writes": 1.5, "get_latest": 3, "get_by_id": 3,
    "list_full": 3, "list_before_limit": 3, "list_filter_global": 30, "delete_thread": 5,
    "put_concurrent (16 writers) vs LG put_chain": 6, "graph_loop (supersteps/s)": 3,
    "graph_loop_concurrent vs LG graph_loop": 10, "graph_fanout (supersteps/s)": 3,
    "DB bytes after put_chain": 8, "peak RSS": 2,
}


def find_harness() -> Path:
    env = os.environ.get("LG_BENCH")
    candidates = [Path(env)] if env else []
    for up in (HERE.parent.parent, HERE.parent.parent.parent, HERE.parent):
        candidates.append(up / "shared" / "bench" / "langgraph")
    for c in candidates:
        if (c / "lg_saver_bench.py").is_file():
            return c
    sys.exit("compare_langgraph: LangGraph's harness not found; set LG_BENCH to the "
             "directory of lg_saver_bench.py (shared/bench/langgraph)")


def popen_run(cmd, out_path: Path):
    """Runs cmd, appends its JSON lines to out_path; returns (records by scenario,
    the child's own peak RSS in bytes from wait4, the 1-minute load before it)."""
    load = float(Path("/proc/loadavg").read_text().split()[0])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, "a") as out:
        out.write(text)
    if proc.returncode:
        sys.exit(f"compare_langgraph: {' '.join(map(str, cmd))} failed ({proc.returncode})")
    recs = {}
    for line in text.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            recs[rec.get("scenario")] = rec
    return recs, usage.ru_maxrss * 1024, load


def value(rec, what):
    if rec is None:
        return None
    if what == "bytes":
        return rec.get("db_bytes")
    if what == "us":
        return rec.get("median_us")
    return rec.get("supersteps_per_sec", rec.get("ops_per_sec"))


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2f} M"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True, help="the crate's saver benchmark binary")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--saver", default="sqlite", choices=["sqlite", "postgres"],
                    help="postgres: both savers on the server $PG_URL names")
    ap.add_argument("--threads", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--state-kb", type=int, default=1)
    ap.add_argument("--out", default=None, help="directory for the JSON lines (default: a temp dir)")
    ap.add_argument("extra", nargs="*", help="more flags for the crate's benchmark")
    args = ap.parse_args()

    harness = find_harness()
    out_dir = Path(args.out) if args.out else Path(
        os.environ.get("TMPDIR", "/tmp")) / f"compare-langgraph-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    work = ["--threads", str(args.threads), "--steps", str(args.steps),
            "--state-kb", str(args.state_kb)]
    postgres = args.saver == "postgres"
    if postgres and not os.environ.get("PG_URL"):
        sys.exit("compare_langgraph: --saver postgres needs PG_URL (PG_URL=$(pg.sh url))")
    groups = "saver,raw,graph" if postgres else "saver,graph"
    lg_cmd = [sys.executable, str(harness / "lg_saver_bench.py"), "--saver", args.saver,
              "--groups", groups, "--durability", "sync", *work]
    fan_cmd = None if postgres else [sys.executable, str(HERE / "lg_graph_fanout.py"),
                                     "--durability", "sync"]
    ours_cmd = [args.ours, "--saver", args.saver, "--sync", "full", "--writers", "16", *work,
                *args.extra]
    targets = PG_TARGETS if postgres else TARGETS
    rows = ROWS
    if postgres:
        # No fan-out graph there; the commit ceiling is LangGraph's raw insert.
        rows = [r for r in ROWS if r[1] not in ("graph_fanout", "raw_commit")]
        rows.insert(-1, ("LG raw_insert_full (commit ceiling) vs LG put_chain",
                         "lg:raw_insert_full", "put_chain", "rate"))

    runs = {"ours": [], "langgraph": []}
    loads = []
    for r in range(args.rounds):
        order = ["langgraph", "ours"] if r % 2 == 0 else ["ours", "langgraph"]
        for who in order:
            if who == "ours":
                recs, rss, load = popen_run(ours_cmd, out_dir / "ours.jsonl")
            else:
                recs, rss, load = popen_run(lg_cmd, out_dir / "langgraph.jsonl")
                if fan_cmd:
                    fan, fan_rss, _ = popen_run(fan_cmd, out_dir / "langgraph.jsonl")
                    recs.update({k: v for k, v in fan.items() if k != "meta"})
                    rss = max(rss, fan_rss)
            recs["peak_rss"] = {"rss": rss}
            runs[who].append(recs)
            loads.append(load)
            print(f"round {r + 1}/{args.rounds}: {who} done (load {load})", file=sys.stderr)

    def med(who, scen, what):
        if scen.startswith("lg:"):  # a LangGraph figure in the "ours" column
            who, scen = "langgraph", scen[3:]
        vals = [value(rec.get(scen), what) for rec in runs[who]]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    print(f"\nSide by side, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
          f"{args.saver}, {args.rounds} rounds, ABBA, medians; workload {' '.join(work)}; "
          f"load average (1 min) {min(loads):.2f}-{max(loads):.2f}; nproc {os.cpu_count()}\n")
    print("| scenario | LangGraph | ours | ratio | target |")
    print("|---|---:|---:|---:|---:|")
    for label, ours_s, lg_s, what in rows:
        o, g = med("ours", ours_s, what), med("langgraph", lg_s, what)
        if o is None or g is None or not o or not g:
            ratio = "-"
        else:
            ratio = f"{(g / o if what == 'bytes' else o / g):.2f}x"
        t = targets.get(label)
        print(f"| {label} | {fmt(g)} | {fmt(o)} | {ratio} | {f'>= {t}x' if t else '-'} |")
    o = statistics.median(r["peak_rss"]["rss"] for r in runs["ours"])
    g = statistics.median(r["peak_rss"]["rss"] for r in runs["langgraph"])
    print(f"| peak RSS (bytes, per process) | {fmt(g)} | {fmt(o)} | {g / o:.2f}x | >= 2x |")
    print(f"\nrates are ops/s (graph: supersteps/s); ratio = ours / LangGraph for rates, "
          f"LangGraph / ours for bytes. JSON lines: {out_dir}")


if __name__ == "__main__":
    main()
