"""LangGraph's behaviour for tests/graph_langgraph_parity.rs (see README)."""
import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph


def history(app, cfg):
    for s in app.get_state_history(cfg):
        print("  ", s.metadata["step"], s.metadata["source"], list(s.next), s.values)


def add(a, b):
    return a + b


print("1. reducer defaults")


class S1(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]
    total: Annotated[int, add]


def reader(s):
    print("   node a sees", dict(s))
    return {"x": s["x"] + 1}


g = StateGraph(S1)
g.add_node("a", reader)
g.add_edge(START, "a")
g.add_edge("a", END)
app = g.compile(checkpointer=InMemorySaver())
cfg = {"configurable": {"thread_id": "t"}}
print("   outcome", app.invoke({"x": 1}, cfg))
history(app, cfg)
print("   stored", app.checkpointer.get_tuple(cfg).checkpoint["channel_values"])


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def chain(names, **compile_kw):
    def mk(name):
        def f(s, config):
            return {"log": [f"{name}@{config['metadata']['langgraph_step']}"]}
        return f

    g = StateGraph(S)
    for n in names:
        g.add_node(n, mk(n))
    g.add_edge(START, names[0])
    for x, y in zip(names, names[1:]):
        g.add_edge(x, y)
    g.add_edge(names[-1], END)
    return g.compile(checkpointer=InMemorySaver(), **compile_kw)


print("2. fork step numbers (a -> b -> c, replay the checkpoint before b)")
app = chain("abc")
app.invoke({"log": []}, cfg)
target = [s for s in app.get_state_history(cfg) if s.next == ("b",)][0]
print("   outcome", app.invoke(None, target.config))
history(app, cfg)

print("5. a -> ... -> h, interrupt_before c; then resume with limit 2")
app = chain("abcdefgh", interrupt_before=["c"])
print("   outcome", app.invoke({"log": []}, cfg))
try:
    app.invoke(None, {**cfg, "recursion_limit": 2})
except GraphRecursionError:
    print("   error GraphRecursionError")
history(app, cfg)
print("5c. recursion limit 2, no interrupt")
app = chain("abcdefgh")
try:
    app.invoke({"log": []}, {**cfg, "recursion_limit": 2})
except GraphRecursionError:
    print("   error GraphRecursionError")
history(app, cfg)
print("5d. a -> b -> c at limit 3 (nothing left after step 3), and a -> b at limit 3")
for names in ["abc", "ab"]:
    app = chain(names)
    try:
        print("   outcome", app.invoke({"log": []}, {**cfg, "recursion_limit": 3}))
    except GraphRecursionError:
        print("   error GraphRecursionError")
    history(app, cfg)


class Count(TypedDict):
    n: Annotated[int, operator.add]


print("5e. inc -> check -> (inc while n < 4) at limit 4")
g = StateGraph(Count)
g.add_node("inc", lambda s: {"n": 1})
g.add_node("check", lambda s: {})
g.add_edge(START, "inc")
g.add_edge("inc", "check")
g.add_conditional_edges("check", lambda s: END if s["n"] >= 4 else "inc", ["inc", END])
app = g.compile(checkpointer=InMemorySaver())
try:
    app.invoke({"n": 0}, {**cfg, "recursion_limit": 4})
except GraphRecursionError:
    print("   error GraphRecursionError")
history(app, cfg)
