#!/usr/bin/env python3
"""LangGraph's side of the `graph_fanout` scenario of `benches/saver.rs`.

Run it with the python of the shared LangGraph harness's venv
(`../shared/bench/langgraph/setup.sh` prints it; `$LG_VENV/bin/python`):

    lg_graph_fanout.py [--threads 20] [--cycles 25] [--durability sync] [--out F]

The graph: START fans out to five parallel nodes `w0`..`w4` (each appends
one 200-byte message), which join in `plan` (`add_edge([w0..w4], "plan")`);
`plan` counts the cycle and fans out to the five again, or ends after
`--cycles` cycles: 2 supersteps a cycle, 50 with the default 25. State:
`messages` (a list, `operator.add`) and `cycles` (an int, written by
`plan` only). One `invoke` per thread, one thread after another, on a
`SqliteSaver` over a fresh file (WAL, LangGraph's default
synchronous=FULL). Only `invoke` is timed. Prints one JSON line as
`lg_saver_bench.py` does: `scenario` = `graph_fanout`, `supersteps_per_sec`
(supersteps over the time inside `invoke`), `median_us`, `db_bytes`
(file + WAL).
"""
import argparse
import json
import operator
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from typing import Annotated, TypedDict

WORKERS = [f"w{i}" for i in range(5)]
MSG_BYTES = 200


class FanState(TypedDict):
    messages: Annotated[list[str], operator.add]
    cycles: int


def build(cycles: int, checkpointer):
    from langgraph.graph import END, START, StateGraph

    def worker(name: str):
        def node(state: FanState) -> dict:
            msg = f"{name} cycle {state['cycles']} "
            return {"messages": [(msg + "x" * MSG_BYTES)[:MSG_BYTES]]}
        return node

    def plan(state: FanState) -> dict:
        return {"cycles": state["cycles"] + 1}

    g = StateGraph(FanState)
    for w in WORKERS:
        g.add_node(w, worker(w))
        g.add_edge(START, w)
    g.add_node("plan", plan)
    g.add_edge(WORKERS, "plan")
    g.add_conditional_edges(
        "plan", lambda s: END if s["cycles"] >= cycles else WORKERS, [*WORKERS, END])
    return g.compile(checkpointer=checkpointer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=20)
    ap.add_argument("--cycles", type=int, default=25, help="fan-out/join cycles (2 supersteps each)")
    ap.add_argument("--durability", default="sync", choices=["sync", "async", "exit"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from langgraph.checkpoint.sqlite import SqliteSaver

    tmp = tempfile.mkdtemp(prefix="lg-fanout-")
    try:
        path = os.path.join(tmp, "fanout.db")
        conn = sqlite3.connect(path, check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        graph = build(args.cycles, saver)
        lat = []
        for t in range(args.threads):
            cfg = {"configurable": {"thread_id": f"fanout-{t:05}"},
                   "recursion_limit": 2 * args.cycles + 10}
            t0 = time.perf_counter_ns()
            res = graph.invoke({"messages": [], "cycles": 0}, cfg, durability=args.durability)
            lat.append(time.perf_counter_ns() - t0)
            assert res["cycles"] == args.cycles, res["cycles"]
            assert len(res["messages"]) == 5 * args.cycles
        supersteps = 2 * args.cycles * args.threads
        busy = sum(lat)
        size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
        (ncp,) = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
        conn.close()
        rec = {"scenario": "graph_fanout", "ops": len(lat),
               "ops_per_sec": round(len(lat) / (busy / 1e9), 1),
               "median_us": round(statistics.median(lat) / 1e3, 1),
               "supersteps": supersteps,
               "supersteps_per_sec": round(supersteps / (busy / 1e9), 1),
               "durability": args.durability, "checkpoints_written": ncp,
               "db_bytes": size, "saver": "sqlite"}
        line = json.dumps(rec)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
