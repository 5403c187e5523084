"""LangGraph's streams (several modes, custom, messages, debug, subgraphs)
and node cache, for tests/graph_stream_modes.rs and
tests/graph_node_cache.rs (see README)."""
import json
import operator
from typing import Annotated, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.cache.memory import InMemoryCache
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import CachePolicy, Command, interrupt


class S(TypedDict):
    log: Annotated[list, operator.add]


def a(s):
    w = get_stream_writer()
    w({"progress": 1})
    w({"progress": 2})
    return {"log": ["a"]}


def b(s):
    return {"log": ["b"]}


def two_nodes():
    g = StateGraph(S)
    g.add_node("a", a)
    g.add_node("b", b)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    return g.compile(checkpointer=InMemorySaver())


def thread(t):
    return {"configurable": {"thread_id": t}}


print("# several modes: (mode, chunk)")
for ev in two_nodes().stream({"log": []}, thread("1"), stream_mode=["updates", "custom"]):
    print(repr(ev))

print("# debug: (type, step, name or next)")
for ev in two_nodes().stream({"log": []}, thread("2"), stream_mode="debug"):
    p = ev["payload"]
    print(ev["type"], ev["step"], p.get("name", p.get("next")), json.dumps(
        {k: v for k, v in p.items() if k in ("input", "triggers", "result", "error", "interrupts", "values", "metadata")}))


def chat(s):
    m = GenericFakeChatModel(messages=iter([AIMessage(content="hello big world")]))
    return {"log": [m.invoke("hi").content]}


print("# messages: chunk content and metadata")
g = StateGraph(S)
g.add_node("chat", chat)
g.add_edge(START, "chat")
for chunk, meta in g.compile().stream({"log": []}, thread("3"), stream_mode="messages"):
    print(repr(chunk.content), {k: v for k, v in meta.items() if k.startswith("langgraph") or k == "checkpoint_ns"})


def sa(s):
    get_stream_writer()({"inner": True})
    return {"log": ["sa"]}


sg = StateGraph(S)
sg.add_node("sa", sa)
sg.add_edge(START, "sa")
p = StateGraph(S)
p.add_node("sub", sg.compile())
p.add_node("b", b)
p.add_edge(START, "sub")
p.add_edge("sub", "b")
papp = p.compile(checkpointer=InMemorySaver())
print("# subgraph, subgraphs=False")
for ev in papp.stream({"log": []}, thread("4"), stream_mode=["updates", "custom"]):
    print(repr(ev))
print("# subgraph, subgraphs=True: (namespace, mode, chunk)")
for ev in papp.stream({"log": []}, thread("5"), stream_mode=["updates", "custom"], subgraphs=True):
    print(repr(ev))

print("# cache: a second thread with the same input")
calls = []


def slow(s):
    calls.append(1)
    return {"log": ["slow"]}


cg = StateGraph(S)
cg.add_node("slow", slow, cache_policy=CachePolicy())
cg.add_edge(START, "slow")
capp = cg.compile(checkpointer=InMemorySaver(), cache=InMemoryCache())
for t in ["6", "7"]:
    for ev in capp.stream({"log": ["x"]}, thread(t), stream_mode=["updates", "tasks"]):
        print(t, repr(ev))
print("calls", len(calls))

print("# a subgraph's interrupt, subgraphs=True (updates), then the resume")


def ask(s):
    return {"log": [interrupt("q?")]}


qg = StateGraph(S)
qg.add_node("ask", ask)
qg.add_edge(START, "ask")
qp = StateGraph(S)
qp.add_node("inner", qg.compile())
qp.add_edge(START, "inner")
qapp = qp.compile(checkpointer=InMemorySaver())
for ev in qapp.stream({"log": []}, thread("8"), stream_mode="updates", subgraphs=True):
    ns, chunk = ev
    print([n.split(":")[0] for n in ns], {k: [(i.value, i.id[:8]) for i in v] for k, v in chunk.items()})
for ev in qapp.stream(Command(resume="yes"), thread("8"), stream_mode="updates", subgraphs=True):
    print([n.split(":")[0] for n in ev[0]], ev[1])
print("# the same without subgraphs: only the parent's interrupt")
for ev in qapp.stream({"log": []}, thread("9"), stream_mode="updates"):
    print({k: [i.value for i in v] for k, v in ev.items()})

print("# cache: clear_cache(['a']), clear_cache(['nope']), clear_cache()")
counts = {"a": 0, "b": 0}


def counted(name):
    def f(s):
        counts[name] += 1
        return {"log": [name]}
    return f


kg = StateGraph(S)
kg.add_node("a", counted("a"), cache_policy=CachePolicy())
kg.add_node("b", counted("b"), cache_policy=CachePolicy())
kg.add_edge(START, "a")
kg.add_edge(START, "b")
kapp = kg.compile(checkpointer=InMemorySaver(), cache=InMemoryCache())


def cached_run(t):
    updates = list(kapp.stream({"log": []}, thread(t), stream_mode="updates"))
    hits = sorted(k for u in updates for k, v in u.items() if k != "__metadata__" and u.get("__metadata__", {}).get("cached"))
    print(t, "calls", dict(counts), "served from cache", hits)


cached_run("k1")
cached_run("k2")
kapp.clear_cache(["a"])
cached_run("k3")
kapp.clear_cache(["nope"])
cached_run("k4")
kapp.clear_cache()
cached_run("k5")
try:
    kg.compile().clear_cache()
except ValueError as e:
    print("without a cache:", e)
