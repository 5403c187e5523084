"""LangGraph's per-call options on the config (`recursion_limit`) and as
invoke arguments (`durability`), and a subgraph inheriting the config's
limit, for tests/graph_call_config.rs (see README)."""
from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import START, StateGraph


class S(TypedDict, total=False):
    n: int


def spin_graph(saver):
    g = StateGraph(S)
    g.add_node("spin", lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(START, "spin")
    g.add_edge("spin", "spin")
    return g.compile(checkpointer=saver)


print("== recursion_limit on the config")
saver = InMemorySaver()
app = spin_graph(saver)
cfg = {"configurable": {"thread_id": "t"}, "recursion_limit": 2}
try:
    app.invoke({}, cfg)
except GraphRecursionError as e:
    print("raised GraphRecursionError")
last = app.get_state({"configurable": {"thread_id": "t"}})
print("last step", last.metadata["step"], "n", last.values["n"], "metadata keys", sorted(last.metadata))

print("== recursion_limit 0")
try:
    spin_graph(InMemorySaver()).invoke({}, {"configurable": {"thread_id": "z"}, "recursion_limit": 0})
except ValueError as e:
    print("raised ValueError:", e)

print("== durability='exit': only the last checkpoint is stored")
g = StateGraph(S)
g.add_node("a", lambda s: {"n": 1})
g.add_node("b", lambda s: {"n": 2})
g.add_edge(START, "a")
g.add_edge("a", "b")
saver = InMemorySaver()
app = g.compile(checkpointer=saver)
app.invoke({}, {"configurable": {"thread_id": "d"}}, durability="exit")
print("steps stored", [t.metadata["step"] for t in saver.list({"configurable": {"thread_id": "d"}})])

print("== a subgraph inherits the config's recursion_limit")
saver = InMemorySaver()
p = StateGraph(S)
p.add_node("inner", spin_graph(saver))
p.add_edge(START, "inner")
app = p.compile(checkpointer=saver)
try:
    app.invoke({}, {"configurable": {"thread_id": "s"}, "recursion_limit": 2})
except GraphRecursionError:
    print("raised GraphRecursionError")
for t in saver.list({"configurable": {"thread_id": "s"}}):
    ns = t.config["configurable"]["checkpoint_ns"]
    print(repr(ns.split(":")[0]), t.metadata["step"])
