"""LangGraph's RetryPolicy on a node, for tests/graph_retry.rs (see README)."""
import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import RetryPolicy


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def run(fail_times, max_attempts, retry_on=lambda e: True):
    calls = []

    def flaky(s):
        calls.append(1)
        if len(calls) <= fail_times:
            raise ConnectionError(f"attempt {len(calls)} failed")
        return {"log": [f"ok after {len(calls)}"]}

    g = StateGraph(S)
    g.add_node("flaky", flaky, retry_policy=RetryPolicy(
        max_attempts=max_attempts, initial_interval=0.0, jitter=False, retry_on=retry_on))
    g.add_edge(START, "flaky")
    app = g.compile(checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "t"}}
    try:
        out = app.invoke({}, cfg)
    except ConnectionError as e:
        out = f"raises {e}"
    s = app.get_state(cfg)
    print(f"   fail {fail_times}, max_attempts {max_attempts}: calls {len(calls)}, outcome {out},",
          "next", list(s.next), "errors", [t.error and str(t.error) for t in s.tasks])


print("retry")
run(2, 3)
run(5, 3)
run(5, 3, retry_on=lambda e: False)
