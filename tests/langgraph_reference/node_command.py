"""LangGraph's behaviour when a node returns a Command (update, goto, goto a
Send), for tests/graph_langgraph_parity.rs (see README)."""
import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, Send


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def a(s):
    return Command(update={"log": ["a"]}, goto=["c", Send("d", {"log": ["to-d"]})])


def logger(name):
    def f(s):
        return {"log": [f"{name} saw {len(s.get('log', []))}"]}
    return f


g = StateGraph(S)
g.add_node("a", a)
for n in "bcd":
    g.add_node(n, logger(n))
g.add_edge(START, "a")
g.add_edge("a", "b")  # a static edge still fires beside the goto
app = g.compile(checkpointer=InMemorySaver())
cfg = {"configurable": {"thread_id": "t"}}
print("outcome", app.invoke({"log": []}, cfg))
for s in app.get_state_history(cfg):
    print("  ", s.metadata["step"], s.metadata["source"], list(s.next), s.values)
step1 = [t for t in app.checkpointer.list(cfg) if t.metadata["step"] == 0][0]
print("a's writes", [(w[1], w[2]) for w in step1.pending_writes if w[1] != "__start__"])
