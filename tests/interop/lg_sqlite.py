"""LangGraph's own SqliteSaver (langgraph-checkpoint-sqlite 3.1.2) on the
files the Rust tests import and export (tests/langgraph_sqlite_python.rs).

    lg_sqlite.py FILE run THREAD           runs the graph to its interrupt
    lg_sqlite.py FILE read THREAD          prints every checkpoint of THREAD
    lg_sqlite.py FILE resume THREAD ANSWER resumes THREAD, prints its values

Every mode prints JSON. An Interrupt prints as {"value", "id"} and a Send
as {"node", "arg"}, the graph runtime's forms the Rust side reads them in;
another value JSON cannot hold prints as {"__msgpack__": "<hex of its
msgpack>"}; channel versions print as their integer part, which is what
both sides compare by.
"""
import json
import operator
import sqlite3
import sys
from typing import Annotated, TypedDict

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Interrupt, Send, interrupt

SERDE = JsonPlusSerializer()


class State(TypedDict):
    count: int
    log: Annotated[list, operator.add]


class Inner(TypedDict):
    count: int
    log: Annotated[list, operator.add]


def step(state):
    return {"count": state["count"] + 1, "log": [f"step {state['count'] + 1}"]}


def again(state):
    return "step" if state["count"] < 3 else "review"


def ask(state):
    answer = interrupt({"question": "approve?", "count": state["count"]})
    return {"log": [f"answer {answer}"]}


def graph(saver):
    # The interrupt is in a subgraph, so the thread has checkpoints in a
    # child namespace too.
    inner = StateGraph(Inner)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    inner.add_edge("ask", END)
    outer = StateGraph(State)
    outer.add_node("step", step)
    outer.add_node("review", inner.compile())
    outer.add_edge(START, "step")
    outer.add_conditional_edges("step", again, ["step", "review"])
    outer.add_edge("review", END)
    return outer.compile(checkpointer=saver)


def plain(value):
    """A value as JSON, with what JSON cannot hold as its msgpack hex."""
    def default(obj):
        if isinstance(obj, Interrupt):
            return {"value": obj.value, "id": obj.id}
        if isinstance(obj, Send):
            return {"node": obj.node, "arg": obj.arg}
        kind, blob = SERDE.dumps_typed(obj)
        return {"__msgpack__": blob.hex()}
    return json.loads(json.dumps(value, default=default))


def versions(vs):
    return {k: int(str(v).split(".")[0]) for k, v in vs.items()}


def entry(t):
    cfg = t.config["configurable"]
    parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    return {
        "ns": cfg["checkpoint_ns"],
        "id": cfg["checkpoint_id"],
        "parent": parent,
        "values": plain(t.checkpoint["channel_values"]),
        "versions": versions(t.checkpoint["channel_versions"]),
        "metadata": plain(t.metadata),
        "writes": sorted(plain([list(w) for w in t.pending_writes]), key=json.dumps),
    }


def listing(saver, thread):
    """Every checkpoint of THREAD (all namespaces), newest first; each one
    also read back with get_tuple, which must agree with list."""
    out = []
    # list holds the saver's lock while it iterates: read it all first.
    for t in list(saver.list({"configurable": {"thread_id": thread}})):
        again_ = saver.get_tuple(t.config)
        if again_ is None or entry(again_) != entry(t):
            raise SystemExit(f"get_tuple disagrees with list on {t.config}")
        out.append(entry(t))
    return out


def main():
    path, mode, thread = sys.argv[1:4]
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    config = {"configurable": {"thread_id": thread}}
    if mode == "run":
        result = graph(saver).invoke({"count": 0, "log": []}, config)
        print(json.dumps(plain(result)))
    elif mode == "read":
        print(json.dumps(listing(saver, thread)))
    elif mode == "resume":
        result = graph(saver).invoke(Command(resume=sys.argv[4]), config)
        print(json.dumps(plain(result)))
    else:
        raise SystemExit(f"unknown mode {mode}")
    conn.close()


main()
