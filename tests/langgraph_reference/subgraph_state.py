"""LangGraph's subgraph state APIs (get_state(subgraphs=True), a subgraph
namespace read through the parent, `parents` metadata, a run or an update
given a subgraph's checkpoint, Command.PARENT), for
tests/graph_subgraph_state.rs (see README)."""
import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt


class S(TypedDict, total=False):
    draft: str
    log: Annotated[list, operator.add]


def approve(s):
    ok = interrupt({"approve": s["draft"]})
    return {"draft": f"{s['draft']} ({ok})", "log": ["approved"]}


def review_graph(saver):
    sub = StateGraph(S)
    sub.add_node("approve", approve)
    sub.add_node("polish", lambda s: {"draft": s["draft"] + "!", "log": ["polished"]})
    sub.add_edge(START, "approve")
    sub.add_edge("approve", "polish")
    return sub.compile(checkpointer=saver)


def parent_graph(saver):
    p = StateGraph(S)
    p.add_node("write", lambda s: {"draft": "hello", "log": ["written"]})
    p.add_node("review", review_graph(saver))
    p.add_edge(START, "write")
    p.add_edge("write", "review")
    return p.compile(checkpointer=saver)


def cfg(ns=None, cid=None, thread="t"):
    c = {"thread_id": thread}
    if ns is not None:
        c["checkpoint_ns"] = ns
    if cid is not None:
        c["checkpoint_id"] = cid
    return {"configurable": c}


def short(ns):
    return "|".join(p.split(":")[0] + (":<id>" if ":" in p else "") for p in ns.split("|"))


def counts(saver, thread="t"):
    out = {}
    for t in saver.list(cfg(thread=thread)):
        k = short(t.config["configurable"]["checkpoint_ns"])
        out[k] = out.get(k, 0) + 1
    return out


print("== get_state(subgraphs=True) while the subgraph waits")
saver = InMemorySaver()
app = parent_graph(saver)
app.invoke({}, cfg())
s = app.get_state(cfg(), subgraphs=True)
inside = s.tasks[0].state
print("parent next", s.next, "task state is", type(inside).__name__)
print("inside values", inside.values, "next", inside.next, "interrupts", [i.value for i in inside.interrupts])
print("inside metadata step/source", inside.metadata["step"], inside.metadata["source"],
      "parents == {'': parent checkpoint}", inside.metadata["parents"] == {"": s.config["configurable"]["checkpoint_id"]})
print("inside tasks", [(t.name, t.state) for t in inside.tasks])
print("without subgraphs, task.state is", type(app.get_state(cfg()).tasks[0].state).__name__)

print("== a subgraph namespace read through the parent")
ns = app.get_state(cfg()).tasks[0].state["configurable"]["checkpoint_ns"]
st = app.get_state(cfg(ns))
print("get_state", st.values, st.next)
print("history", [(h.metadata["step"], h.metadata["source"], h.values, h.next) for h in app.get_state_history(cfg(ns))])

print("== parents metadata, after the resume")
parent_id = s.config["configurable"]["checkpoint_id"]
app.invoke(Command(resume="yes"), cfg())
for t in saver.list(cfg()):
    n = t.config["configurable"]["checkpoint_ns"]
    print(short(n), t.metadata["step"], "parents", "{'': <waiting parent checkpoint>}" if t.metadata["parents"] == {"": parent_id} else t.metadata["parents"])

print("== nested: outer -> inner (the parent graph) -> review")
saver = InMemorySaver()
o = StateGraph(S)
o.add_node("inner", parent_graph(saver))
o.add_edge(START, "inner")
outer = o.compile(checkpointer=saver)
outer.invoke({}, cfg())
ids = {}  # the newest checkpoint of each namespace (list is newest first)
for t in saver.list(cfg()):
    ids.setdefault(t.config["configurable"]["checkpoint_ns"], t.config["configurable"]["checkpoint_id"])
for t in saver.list(cfg()):
    n = t.config["configurable"]["checkpoint_ns"]
    named = {short(k): ("latest of " + (short(k) or "root")) if v == ids[k] else v for k, v in t.metadata["parents"].items()}
    print(short(n), t.metadata["step"], "parents", named)
s = outer.get_state(cfg(), subgraphs=True)
mid = s.tasks[0].state
deep = mid.tasks[0].state
print("outer next", s.next, "| inner next", mid.next, "| review next", deep.next, deep.values)

print("== a run given a subgraph checkpoint's config")
for label, inp in [("continue", None), ("resume", Command(resume="again"))]:
    saver = InMemorySaver()
    app = parent_graph(saver)
    app.invoke({}, cfg())
    ns = app.get_state(cfg()).tasks[0].state["configurable"]["checkpoint_ns"]
    first = list(saver.list(cfg(ns)))[-1].config["configurable"]["checkpoint_id"]
    print(label, "before", counts(saver))
    out = app.invoke(inp, cfg(ns, first))
    print("  ->", {k: v for k, v in out.items() if k != "__interrupt__"},
          "interrupts", [i.value for i in out.get("__interrupt__", [])])
    print("  after", counts(saver))

print("== update_state of a subgraph checkpoint")
saver = InMemorySaver()
app = parent_graph(saver)
app.invoke({}, cfg())
app.invoke(Command(resume="yes"), cfg())
ns = [t.config["configurable"]["checkpoint_ns"] for t in saver.list(cfg()) if t.config["configurable"]["checkpoint_ns"]][0]
hist = list(saver.list(cfg(ns)))
target = hist[2]
print("target step", target.metadata["step"])
new = app.update_state(cfg(ns, target.config["configurable"]["checkpoint_id"]), {"draft": "edited"})
t = saver.get_tuple(new)
print("new", short(new["configurable"]["checkpoint_ns"]), t.metadata["step"], t.metadata["source"],
      "parents kept", t.metadata["parents"] == target.metadata["parents"],
      "parent is target", t.parent_config["configurable"]["checkpoint_id"] == target.config["configurable"]["checkpoint_id"],
      "draft", t.checkpoint["channel_values"]["draft"])
print("counts", counts(saver), "parent values", app.get_state(cfg()).values)

print("== Command.PARENT")


def check(s):
    return Command(graph=Command.PARENT, update={"draft": "bad", "log": ["checked"]}, goto="fix")


saver = InMemorySaver()
sub = StateGraph(S)
sub.add_node("prep", lambda s: {"log": ["prepped"]})
sub.add_node("check", check)
sub.add_node("after", lambda s: {"log": ["after"]})
sub.add_edge(START, "prep")
sub.add_edge("prep", "check")
sub.add_edge("check", "after")
p = StateGraph(S)
p.add_node("write", lambda s: {"draft": "hello", "log": ["written"]})
p.add_node("review", sub.compile(checkpointer=saver))
p.add_node("fix", lambda s: {"log": ["fixed " + s["draft"]]})
p.add_node("publish", lambda s: {"log": ["published"]})
p.add_edge(START, "write")
p.add_edge("write", "review")
p.add_edge("review", "publish")
app = p.compile(checkpointer=saver)
print("out", app.invoke({}, cfg()))
print("parent history", [(h.metadata["step"], list(h.next)) for h in app.get_state_history(cfg())])
ns = [t.config["configurable"]["checkpoint_ns"] for t in saver.list(cfg()) if t.config["configurable"]["checkpoint_ns"]][0]
print("sub history", [(t.metadata["step"], t.checkpoint["channel_values"].get("log"), len(t.pending_writes))
                      for t in saver.list(cfg(ns))])

print("== Command.PARENT in a root graph")


class T(TypedDict, total=False):
    x: int


g = StateGraph(T)
g.add_node("a", lambda s: Command(graph=Command.PARENT, update={"x": 1}))
g.add_edge(START, "a")
try:
    g.compile(checkpointer=InMemorySaver()).invoke({}, cfg(thread="r"))
except Exception as e:
    print("raised", type(e).__name__)

print("== update_state of the waiting subgraph, then the parent's resume")
saver = InMemorySaver()
app = parent_graph(saver)
app.invoke({}, cfg())
ns = app.get_state(cfg()).tasks[0].state["configurable"]["checkpoint_ns"]
app.update_state(cfg(ns), {"draft": "edited"})
inside = app.get_state(cfg(ns))
print("inside after the update", inside.values, inside.next, inside.metadata["source"], inside.metadata["step"])
out = app.invoke(Command(resume="yes"), cfg())
print("after the resume", out)
print("counts", counts(saver))

print("== update_state of a namespace that names no subgraph")
saver = InMemorySaver()
app = parent_graph(saver)
app.invoke({}, cfg())
for ns in ["nope:1", "write:1", "review:1|nope:2"]:
    try:
        app.update_state(cfg(ns), {"draft": "x"})
        print(ns, "updated")
    except ValueError as e:
        print(ns, "ValueError:", e)
print("a read of it is empty:", app.get_state(cfg("nope:1")).values, list(app.get_state_history(cfg("nope:1"))))
print("counts", counts(saver))
