"""LangGraph's Mermaid text for the graph of tests/graph_run_options.rs's
to_mermaid test (see README)."""
import operator
from typing import Annotated, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def route(s) -> Literal["b", "__end__"]:
    return "b"


def c(s) -> Command[Literal["a"]]:
    return Command(goto="a")


g = StateGraph(S)
g.add_node("a", lambda s: {})
g.add_node("b", lambda s: {})
g.add_node("c", c)
g.add_node("d", lambda s: {})
g.add_edge(START, "a")
g.add_conditional_edges("a", route, ["b", END])
g.add_edge("b", "c")
g.add_edge(["b", "c"], "d")
g.add_edge("d", END)
print(g.compile().get_graph().draw_mermaid(), end="")
