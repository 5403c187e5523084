"""LangGraph's snapshots after a stopped step and with pending Command
writes, for tests/graph_langgraph_parity.rs (see README)."""
import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]
    x: int


def show(label, s):
    print("  ", label, "values", s.values, "next", list(s.next),
          "interrupts", [i.value for i in s.interrupts],
          "tasks", [(t.name, t.error is not None, bool(t.interrupts), t.result) for t in s.tasks])


def worker(s):
    return {"log": ["worker"]}


def asker(s):
    answer = interrupt("go?")
    return {"log": [f"asker:{answer}"]}


def failer(s):
    raise ValueError("boom")


def graph(*nodes):
    g = StateGraph(S)
    for name, f in nodes:
        g.add_node(name, f)
        g.add_edge(START, name)
    return g.compile(checkpointer=InMemorySaver())


cfg = {"configurable": {"thread_id": "t"}}
print("3a. worker + asker (interrupt) in one step")
app = graph(("worker", worker), ("asker", asker))
app.invoke({}, cfg)
show("get_state", app.get_state(cfg))
h = list(app.get_state_history(cfg))
show("history[0]", h[0])
show("get_state(config of latest)", app.get_state(h[0].config))

print("3b. worker + failer (error) in one step")
app = graph(("worker", worker), ("failer", failer))
try:
    app.invoke({}, cfg)
except ValueError as e:
    print("   error", e)
show("get_state", app.get_state(cfg))


def w1(s):
    return {"x": 1}


def w2(s):
    return {"x": 2}


print("3c. two finished tasks write one last-value channel, a third fails")
app = graph(("w1", w1), ("w2", w2), ("failer", failer))
try:
    app.invoke({}, cfg)
except ValueError as e:
    print("   error", e)
try:
    show("get_state", app.get_state(cfg))
except Exception as e:
    print("   get_state raises", type(e).__name__, str(e).splitlines()[0])

print("4. a Command's update saved against the interrupted checkpoint")
app = graph(("asker", asker))
app.invoke({}, cfg)
stopped = app.get_state(cfg).config
app.invoke(Command(resume="yes", update={"x": 5}), cfg)
show("snapshot of the stopped checkpoint", app.get_state(stopped))
for s in app.get_state_history(cfg):
    show(f"history {s.metadata['step']} {s.metadata['source']}", s)
