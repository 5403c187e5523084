"""The subgraph graph of tests/postgres_python_subgraphs.rs in Python
LangGraph, on a PostgreSQL thread shared with this crate's runtime.

The graph: START -> prep -> sub -> finish -> END, where `sub` is a
compiled subgraph `a -> b` sharing the parent's keys (`items`, appended
to; `n`, last value). In the `ask` graph `b` asks `interrupt("b?")` first
and appends `b:<answer>`; in the `plain` graph it appends `b`.

    pg_subgraphs.py URL GRAPH run THREAD      invoke({"items": [], "n": 0})
    pg_subgraphs.py URL GRAPH resume THREAD   invoke(Command(resume="ok"))
    pg_subgraphs.py URL GRAPH read THREAD     reads THREAD, changes nothing

Each prints one JSON object: `calls` (node calls of this process),
`state` (get_state), `state_subgraphs` (get_state(subgraphs=True)),
`history` (get_state_history of the parent), `sub_history` (for each
subgraph namespace, sorted: get_state_history through the parent with
that checkpoint_ns) and `tuples` (list + get_tuple of every checkpoint of
every namespace, sorted by namespace then id: ns, id, parent, values,
metadata, pending writes).
"""
import json
import operator
import sys
from typing import Annotated, TypedDict

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, StateSnapshot, interrupt
from psycopg import Connection
from psycopg.rows import dict_row

from lg_readings import CALLS, configurable, hit, plain, tuples

class State(TypedDict, total=False):
    items: Annotated[list, operator.add]
    n: int


def prep(state):
    hit("prep")
    return {"items": ["prep"], "n": state.get("n", 0) + 1}


def a(state):
    hit("a")
    return {"items": ["a"], "n": state["n"] + 1}


def b_plain(state):
    hit("b")
    return {"items": ["b"], "n": state["n"] + 1}


def b_ask(state):
    hit("b")
    answer = interrupt("b?")
    return {"items": [f"b:{answer}"], "n": state["n"] + 1}


def finish(state):
    hit("finish")
    return {"items": ["finish"], "n": state["n"] + 1}


def graph(saver, ask):
    sub = StateGraph(State)
    sub.add_node("a", a)
    sub.add_node("b", b_ask if ask else b_plain)
    sub.add_edge(START, "a")
    sub.add_edge("a", "b")
    sub.add_edge("b", END)
    g = StateGraph(State)
    g.add_node("prep", prep)
    g.add_node("sub", sub.compile())
    g.add_node("finish", finish)
    g.add_edge(START, "prep")
    g.add_edge("prep", "sub")
    g.add_edge("sub", "finish")
    g.add_edge("finish", END)
    return g.compile(checkpointer=saver)


def task(t):
    """A task: id, name, interrupts, and the subgraph's namespace (from
    its config) or its snapshot (with subgraphs=True)."""
    out = {"id": t.id, "name": t.name, "interrupts": [plain(i) for i in t.interrupts]}
    if isinstance(t.state, StateSnapshot):
        out["subgraph"] = snapshot(t.state)
    else:
        out["ns"] = configurable(t.state, "checkpoint_ns")
    return out


def snapshot(s):
    return {
        "ns": configurable(s.config, "checkpoint_ns"),
        "id": configurable(s.config, "checkpoint_id"),
        "parent": configurable(s.parent_config, "checkpoint_id"),
        "values": plain(s.values),
        "next": list(s.next),
        "metadata": plain(s.metadata),
        "interrupts": [plain(i) for i in s.interrupts],
        "tasks": [task(t) for t in s.tasks],
    }


def main():
    url, which, mode, thread = sys.argv[1:5]
    with Connection.connect(url, autocommit=True, prepare_threshold=0,
                            row_factory=dict_row) as conn:
        saver = PostgresSaver(conn)
        saver.setup()
        app = graph(saver, which == "ask")
        config = {"configurable": {"thread_id": thread}}
        if mode == "run":
            app.invoke({"items": [], "n": 0}, config)
        elif mode == "resume":
            app.invoke(Command(resume="ok"), config)
        all_tuples = tuples(saver, thread)
        sub_history = {}
        for ns in sorted({t["ns"] for t in all_tuples if t["ns"]}):
            sub_config = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
            sub_history[ns] = [snapshot(s) for s in app.get_state_history(sub_config)]
        print(json.dumps({
            "calls": CALLS,
            "state": snapshot(app.get_state(config)),
            "state_subgraphs": snapshot(app.get_state(config, subgraphs=True)),
            "history": [snapshot(s) for s in app.get_state_history(config)],
            "sub_history": sub_history,
            "tuples": all_tuples,
        }))


main()
