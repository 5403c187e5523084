"""The id a subgraph's interrupt has in the parent (issue 17), for
tests/graph_subgraphs.rs (see README): the parent's state, its stream's
`__interrupt__` events and its pending writes hold the interrupt with the
id it has inside the subgraph, and a resume by that id answers it."""
from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt
from langgraph._internal._constants import NULL_TASK_ID
from xxhash import xxh3_128_hexdigest


class S(TypedDict, total=False):
    draft: str


def ask(s):
    ok = interrupt({"approve": s["draft"]})
    return {"draft": f"{s['draft']} ({ok})"}


def build():
    sub = StateGraph(S)
    sub.add_node("ask", ask)
    sub.add_edge(START, "ask")
    parent = StateGraph(S)
    parent.add_node("write", lambda s: {"draft": "hello"})
    parent.add_node("review", sub.compile())
    parent.add_edge(START, "write")
    parent.add_edge("write", "review")
    saver = InMemorySaver()
    return parent.compile(checkpointer=saver), saver


def pending(saver, thread, ns):
    cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
    tup = saver.get_tuple(cfg)
    return [(task_id == NULL_TASK_ID and "<null>" or "<task>", ch,
             [(i.id, i.value) for i in v] if ch == "__interrupt__" else v)
            for task_id, ch, v in tup.pending_writes]


for subgraphs in (False, True):
    app, saver = build()
    cfg = {"configurable": {"thread_id": "t"}}
    events = [e for e in app.stream({}, cfg, stream_mode="updates", subgraphs=subgraphs)
              if "__interrupt__" in (e[1] if subgraphs else e)]
    print(f"stream subgraphs={subgraphs}:",
          [(e[0], [(i.id, i.value) for i in e[1]["__interrupt__"]]) if subgraphs
           else [(i.id, i.value) for i in e["__interrupt__"]] for e in events])

state = app.get_state(cfg)
parent_ids = [(i.id, i.value) for i in state.interrupts]
print("parent get_state().interrupts:", parent_ids)
print("parent task interrupts:", [(t.name, [(i.id, i.value) for i in t.interrupts]) for t in state.tasks])
sub_ns = [t.config["configurable"]["checkpoint_ns"]
          for t in saver.list({"configurable": {"thread_id": "t"}})
          if t.config["configurable"]["checkpoint_ns"]][0]
review_task = [t for t in state.tasks if t.name == "review"][0]
print("subgraph ns == review:<review task id>:", sub_ns == f"review:{review_task.id}")
sub_state = app.get_state({"configurable": {"thread_id": "t", "checkpoint_ns": sub_ns}})
ask_task = sub_state.tasks[0]
print("subgraph task:", ask_task.name)
print("subgraph get_state().interrupts:", [(i.id, i.value) for i in sub_state.interrupts])
print("id == xxh3_128(sub_ns + '|ask:' + ask task id):",
      parent_ids[0][0] == xxh3_128_hexdigest(f"{sub_ns}|ask:{ask_task.id}".encode()))
print("id == xxh3_128('review:' + review task id):",
      parent_ids[0][0] == xxh3_128_hexdigest(f"review:{review_task.id}".encode()))
print("parent checkpoint pending writes:", pending(saver, "t", ""))
print("subgraph checkpoint pending writes:", pending(saver, "t", sub_ns))

iid = parent_ids[0][0]
print("resume by id:", app.invoke(Command(resume={iid: "yes"}), cfg))

# The same thread's resume by the map of all the parent's interrupts.
app, saver = build()
app.invoke({}, cfg)
ids = {i.id: "ok" for i in app.get_state(cfg).interrupts}
print("resume by map of all:", app.invoke(Command(resume=ids), cfg))
