"""The graph of tests/postgres_python_resume.rs in Python LangGraph, on a
PostgreSQL thread shared with this crate's runtime.

The graph: START -> count (loops while n < 3) -> a Send to `work` for
items 0, 1, 2 -> review (asks `interrupt("approve?")`) -> END.

    pg_resume.py URL run THREAD      invoke({"n": 0}) until the interrupt
    pg_resume.py URL resume THREAD   invoke(Command(resume="ok"))
    pg_resume.py URL read THREAD     reads THREAD, changes nothing

Each prints one JSON object: `calls` (node calls of this process),
`state` (get_state: values, next, interrupts, tasks), `history` (for
every checkpoint, newest first: its get_state next and task ids) and
`tuples` (list + get_tuple of every checkpoint, lg_readings.tuples).
"""
import json
import operator
import sys
from typing import Annotated, TypedDict

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt
from psycopg import Connection
from psycopg.rows import dict_row

from lg_readings import CALLS, hit, plain, tuples

class State(TypedDict, total=False):
    n: int
    results: Annotated[list, operator.add]
    verdict: str
    item: int


def count(state):
    hit("count")
    return {"n": state.get("n", 0) + 1}


def route(state):
    if state["n"] < 3:
        return "count"
    return [Send("work", {"item": i}) for i in range(3)]


def work(state):
    hit("work")
    return {"results": [state["item"]]}


def review(state):
    hit("review")
    return {"verdict": interrupt("approve?")}


def graph(saver):
    g = StateGraph(State)
    g.add_node("count", count)
    g.add_node("work", work)
    g.add_node("review", review)
    g.add_edge(START, "count")
    g.add_conditional_edges("count", route, ["count", "work"])
    g.add_edge("work", "review")
    g.add_edge("review", END)
    return g.compile(checkpointer=saver)


def snapshot(s):
    return {
        "values": plain(s.values),
        "next": list(s.next),
        "interrupts": [plain(i) for i in s.interrupts],
        "tasks": [[t.id, t.name] for t in s.tasks],
    }


def main():
    url, mode, thread = sys.argv[1:4]
    with Connection.connect(url, autocommit=True, prepare_threshold=0,
                            row_factory=dict_row) as conn:
        saver = PostgresSaver(conn)
        saver.setup()
        app = graph(saver)
        config = {"configurable": {"thread_id": thread}}
        if mode == "run":
            app.invoke({"n": 0}, config)
        elif mode == "resume":
            app.invoke(Command(resume="ok"), config)
        history = [
            {"id": s.config["configurable"]["checkpoint_id"], **snapshot(s)}
            for s in app.get_state_history(config)
        ]
        print(json.dumps({
            "calls": CALLS,
            "state": snapshot(app.get_state(config)),
            "history": history,
            "tuples": tuples(saver, thread),
        }))


main()
