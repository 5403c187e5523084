"""What LangGraph does on the mistakes that returned Ok silently here, for
tests/graph_mistakes.rs (see README)."""
import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def asker(s):
    return {"log": [f"asker:{interrupt('go?')}"]}


def graph(saver):
    g = StateGraph(S)
    g.add_node("asker", asker)
    g.add_edge(START, "asker")
    return g.compile(checkpointer=saver)


def attempt(label, f):
    try:
        print("  ", label, "->", f())
    except Exception as e:  # noqa: BLE001 - printing what LangGraph raises
        print("  ", label, "-> raises", type(e).__name__, str(e).splitlines()[0])


saver = InMemorySaver()
app = graph(saver)
cfg = {"configurable": {"thread_id": "done"}}
g2 = StateGraph(S)
g2.add_node("w", lambda s: {"log": ["w"]})
g2.add_edge(START, "w")
done = g2.compile(checkpointer=saver)
done.invoke({}, cfg)
print("a. resume of a thread that is not waiting (finished)")
attempt("invoke(Command(resume='x'))", lambda: done.invoke(Command(resume="x"), cfg))
print("   pending writes left:", [(w[0][:8], w[1], w[2]) for w in saver.get_tuple(cfg).pending_writes])
print("   history sources:", [(s.metadata["step"], s.metadata["source"]) for s in done.get_state_history(cfg)])
cfg_new = {"configurable": {"thread_id": "new"}}
attempt("resume of a thread with no checkpoint", lambda: app.invoke(Command(resume="x"), cfg_new))

print("b. new input on a thread waiting for a human")
cfg = {"configurable": {"thread_id": "waiting"}}
app.invoke({}, cfg)
attempt("invoke({'log': ['new']})", lambda: app.invoke({"log": ["new"]}, cfg))
st = app.get_state(cfg)
print("   next", list(st.next), "interrupts", [i.value for i in st.interrupts])

print("c. an interrupt in a graph without a saver")
attempt("invoke({})", lambda: graph(None).invoke({}))
