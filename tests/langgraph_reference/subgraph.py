"""LangGraph's subgraph runs (namespaces, histories per namespace, an
interrupt inside), for tests/graph_subgraphs.rs (see README)."""
import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt


class S(TypedDict, total=False):
    draft: str
    log: Annotated[list, operator.add]


def approve(s):
    ok = interrupt({"approve": s["draft"]})
    return {"draft": f"{s['draft']} ({ok})", "log": ["approved"]}


sub = StateGraph(S)
sub.add_node("approve", approve)
sub.add_node("polish", lambda s: {"draft": s["draft"] + "!", "log": ["polished"]})
sub.add_edge(START, "approve")
sub.add_edge("approve", "polish")
saver = InMemorySaver()
review = sub.compile(checkpointer=saver)

parent = StateGraph(S)
parent.add_node("write", lambda s: {"draft": "hello", "log": ["written"]})
parent.add_node("review", review)
parent.add_edge(START, "write")
parent.add_edge("write", "review")
app = parent.compile(checkpointer=saver)
cfg = {"configurable": {"thread_id": "t"}}


def namespaces():
    return sorted({t.config["configurable"]["checkpoint_ns"] for t in saver.list(cfg)})


def history(ns):
    c = {"configurable": {"thread_id": "t", "checkpoint_ns": ns}}
    return [(t.metadata["step"], t.metadata["source"], t.checkpoint["channel_values"].get("draft"))
            for t in saver.list(c)]


out = app.invoke({}, cfg)
print("first run: interrupts", [i.value for i in out["__interrupt__"]], "values",
      {k: v for k, v in out.items() if k != "__interrupt__"})
s = app.get_state(cfg)
print("parent next", list(s.next), "values", s.values)
print("namespaces", [ns.split(":")[0] + (":<task id>" if ":" in ns else "") for ns in namespaces()])
sub_ns = [ns for ns in namespaces() if ns][0]
print("sub history", history(sub_ns))
out = app.invoke(Command(resume="yes"), cfg)
print("after resume", out)
print("parent history", [(st.metadata["step"], st.metadata["source"], list(st.next))
                         for st in app.get_state_history(cfg)])
print("sub history", history(sub_ns))


print("== a subgraph past its recursion limit (limit 3: pre -> inner: spin forever)")


class Count(TypedDict):
    n: Annotated[int, operator.add]


spinner = StateGraph(Count)
spinner.add_node("spin", lambda s: {"n": 1})
spinner.add_edge(START, "spin")
spinner.add_edge("spin", "spin")
looping = StateGraph(Count)
looping.add_node("pre", lambda s: {"n": 100})
looping.add_node("inner", spinner.compile())
looping.add_edge(START, "pre")
looping.add_edge("pre", "inner")
saver = InMemorySaver()
app = looping.compile(checkpointer=saver)
cfg = {"configurable": {"thread_id": "t"}, "recursion_limit": 3}
try:
    app.invoke({"n": 0}, cfg)
except GraphRecursionError as e:
    print("error", type(e).__name__, str(e).splitlines()[0])
print("parent history", [(st.metadata["step"], st.metadata["source"], list(st.next), st.values)
                         for st in app.get_state_history(cfg)])
print("parent pending writes", [(c, str(v)[:40]) for _, c, v in saver.get_tuple(cfg).pending_writes])
sub_ns = [ns for ns in namespaces() if ns][0]
print("sub history", [(t.metadata["step"], t.metadata["source"], t.checkpoint["channel_values"].get("n"))
                      for t in saver.list({"configurable": {"thread_id": "t", "checkpoint_ns": sub_ns}})])
